package infer

import (
	"fmt"

	"github.com/kprune/kprune/onnx"
)

// unaryRule: the output has the input's shape and element type (booleans for IsNaN and IsInf);
// integer values are folded where the op allows (Neg, Abs, Not, Sign...).
func unaryRule(_ *state, n *onnx.NodeProto, ins []Info) ([]Info, error) {
	x := arg(ins, 0)
	if n.GetOpType() == "Identity" {
		return []Info{x}, nil
	}
	if v, ok := foldUnary(n.GetOpType(), x); ok {
		return []Info{v}, nil
	}
	out := x
	out.Value, out.Parts, out.Float = nil, nil, nil
	if op := n.GetOpType(); op == "IsNaN" || op == "IsInf" {
		out.Elem = onnx.TensorProto_BOOL
	}
	return []Info{out}, nil
}

// dropoutRule: the input's shape, and a boolean mask of the same shape.
func dropoutRule(_ *state, _ *onnx.NodeProto, ins []Info) ([]Info, error) {
	out := arg(ins, 0)
	out.Value, out.Parts, out.Float = nil, nil, nil
	mask := out
	mask.Elem = onnx.TensorProto_BOOL
	return []Info{out, mask}, nil
}

func castRule(_ *state, n *onnx.NodeProto, ins []Info) ([]Info, error) {
	to := onnx.TensorProto_DataType(onnx.AttrIntOr(n, "to", 0))
	return []Info{cast(arg(ins, 0), to)}, nil
}

func castLikeRule(_ *state, _ *onnx.NodeProto, ins []Info) ([]Info, error) {
	return []Info{cast(arg(ins, 0), arg(ins, 1).Elem)}, nil
}

// biasGeluRule (com.microsoft): Gelu(x + bias), broadcast like Add.
func biasGeluRule(st *state, n *onnx.NodeProto, ins []Info) ([]Info, error) {
	return st.broadcastOp(n, ins[:min(2, len(ins))], arg(ins, 0).Elem)
}

// arithRule: numpy broadcasting of the inputs, the first input's element type, integer values
// folded element by element (symbolically where an operand is a symbol).
func arithRule(st *state, n *onnx.NodeProto, ins []Info) ([]Info, error) {
	return st.foldedBroadcast(n, ins, arg(ins, 0).Elem)
}

// compareRule: like arithRule with a boolean result.
func compareRule(st *state, n *onnx.NodeProto, ins []Info) ([]Info, error) {
	return st.foldedBroadcast(n, ins, onnx.TensorProto_BOOL)
}

// foldedBroadcast is broadcastOp with integer values folded by foldBinary.
func (st *state) foldedBroadcast(n *onnx.NodeProto, ins []Info, elem onnx.TensorProto_DataType) ([]Info, error) {
	outs, err := st.broadcastOp(n, ins, elem)
	if err != nil {
		return outs, err
	}
	if v, ok := foldBinary(n.GetOpType(), ins, outs[0]); ok {
		return []Info{v}, nil
	}
	return outs, nil
}

// whereRule: the three inputs broadcast, the values' element type, integer values picked by
// known conditions.
func whereRule(st *state, n *onnx.NodeProto, ins []Info) ([]Info, error) {
	outs, err := st.broadcastOp(n, ins, arg(ins, 1).Elem)
	if err != nil {
		return outs, err
	}
	if v, ok := foldWhere(ins, outs[0]); ok {
		return []Info{v}, nil
	}
	return outs, nil
}

// cast converts an Info to another element type, keeping values where that is exact.
func cast(x Info, to onnx.TensorProto_DataType) Info {
	out := x
	out.Elem = to
	switch {
	case isIntLike(to) && isIntLike(x.Elem):
		if to == onnx.TensorProto_BOOL && x.Value != nil {
			v := make([]int64, len(x.Value))
			for k, e := range x.Value {
				if e != 0 {
					v[k] = 1
				}
			}
			out.Value = v
			out.Parts = partsOf(out)
		}
		out.Float = nil
	case isIntLike(to) && x.Float != nil && x.Rank >= 0 && len(x.Float) <= maxFold:
		v := make([]int64, len(x.Float))
		for k, f := range x.Float {
			v[k] = int64(f)
		}
		out.Value, out.Float = v, nil
		out.Parts = partsOf(out)
	case IsFloat(to) && x.Value != nil && len(x.Value) <= maxFloatConst:
		f := make([]float64, len(x.Value))
		for k, e := range x.Value {
			f[k] = float64(e)
		}
		out.Float, out.Value, out.Parts = f, nil, nil
	case IsFloat(to) && IsFloat(x.Elem):
		out.Value, out.Parts = nil, nil
	default:
		out.Value, out.Parts, out.Float = nil, nil, nil
	}
	return out
}

// broadcastDims applies numpy broadcasting to two dimension lists. Known sizes that cannot
// broadcast give an error, and an unknown dimension in the result.
//
// Two unknown sizes that are not provably equal give a new symbol, except under assumeValid
// (Partial): there a graph-input dimension (see fromInput) broadcast against a size inference
// cannot relate to it is taken to be that dimension (the first one of two such), since in a valid
// graph the other is 1 or the same (wrong only when the input dimension is itself 1 at run time).
// Shapes, which gradient code relies on, does not assume that.
func broadcastDims(st *state, a, b []SymInt) ([]SymInt, error) {
	var err error
	r := max(len(a), len(b))
	out := make([]SymInt, r)
	for k := 0; k < r; k++ {
		ia, ib := k-(r-len(a)), k-(r-len(b))
		switch {
		case ia < 0:
			out[k] = b[ib]
		case ib < 0:
			out[k] = a[ia]
		default:
			x, y := a[ia], b[ib]
			switch {
			case x.Is(1):
				out[k] = y
			case y.Is(1):
				out[k] = x
			case x.Known && y.Known:
				out[k] = x
				if x.V != y.V && err == nil {
					err = fmt.Errorf("cannot broadcast dimension %d against %d", x.V, y.V)
					out[k] = SymInt{Sym: st.fresh()}
				}
			case x.Known:
				out[k] = x
			case y.Known:
				out[k] = y
			case x.Same(y):
				out[k] = x
			case st.assumeValid && st.fromInput(x):
				out[k] = x
			case st.assumeValid && st.fromInput(y):
				out[k] = y
			default:
				out[k] = SymInt{Sym: st.fresh()}
			}
		}
	}
	return out, err
}

// broadcastOp is the output of an elementwise op over broadcast inputs, of element type elem.
func (st *state) broadcastOp(n *onnx.NodeProto, ins []Info, elem onnx.TensorProto_DataType) ([]Info, error) {
	var dims []SymInt
	var err error
	for k, in := range ins {
		if in.Rank < 0 {
			return []Info{Unknown(elem)}, err
		}
		if k == 0 {
			dims = in.DimList()
			continue
		}
		d, e := broadcastDims(st, dims, in.DimList())
		if e != nil && err == nil {
			err = fmt.Errorf("inputs %v: %w", n.GetInput(), e)
		}
		dims = d
	}
	if dims == nil && len(ins) == 0 {
		return []Info{Unknown(elem)}, nil
	}
	return []Info{FromDims(elem, dims)}, err
}

// foldUnary folds unary integer ops on known or symbolic values.
func foldUnary(op string, x Info) (Info, bool) {
	if x.Parts != nil && op == "Identity" {
		return x, true
	}
	if x.Value == nil {
		if op != "Neg" || x.Parts == nil {
			return Info{}, false
		}
		// A shape with symbolic elements: negate the known ones.
		res := make([]SymInt, len(x.Parts))
		for k, p := range x.Parts {
			if p.Known {
				res[k] = SymInt{Known: true, V: -p.V}
			}
		}
		out := x
		out.Float = nil
		return setElems(out, res), true
	}
	v := make([]int64, len(x.Value))
	for k, e := range x.Value {
		switch op {
		case "Neg":
			v[k] = -e
		case "Abs":
			v[k] = max(e, -e)
		case "Not":
			if e == 0 {
				v[k] = 1
			}
		case "Identity", "Floor", "Ceil", "Round":
			v[k] = e
		case "Sign":
			switch {
			case e > 0:
				v[k] = 1
			case e < 0:
				v[k] = -1
			}
		default:
			return Info{}, false
		}
	}
	out := withValue(x.Elem, x.Dims, v)
	return out, true
}

// broadcastIndex maps a flat index of the output to a flat index of an input under broadcasting.
func broadcastIndex(flat int64, out []int64, in []int64) int64 {
	idx, stride := int64(0), int64(1)
	for k := len(out) - 1; k >= 0; k-- {
		c := flat % out[k]
		flat /= out[k]
		ik := k - (len(out) - len(in))
		if ik < 0 {
			continue
		}
		if in[ik] != 1 {
			idx += c * stride
		}
		stride *= in[ik]
	}
	return idx
}

// elementwise evaluates f over broadcast SymInt operands; ok is false when the shapes are not
// static or too big.
func elementwise(ins []Info, out Info, f func(xs []SymInt) (SymInt, bool)) ([]SymInt, bool) {
	nel := out.NumElements()
	if nel < 0 || nel > maxFold {
		return nil, false
	}
	vals := make([][]SymInt, len(ins))
	for k, in := range ins {
		if !in.Static() {
			return nil, false
		}
		switch {
		case in.Parts != nil:
			vals[k] = in.Parts
		case in.Value != nil:
			vals[k] = make([]SymInt, len(in.Value))
			for j, v := range in.Value {
				vals[k][j] = SymInt{Known: true, V: v}
			}
		default:
			return nil, false
		}
	}
	res := make([]SymInt, nel)
	xs := make([]SymInt, len(ins))
	for i := int64(0); i < nel; i++ {
		for k, in := range ins {
			xs[k] = vals[k][broadcastIndex(i, out.Dims, in.Dims)]
		}
		r, ok := f(xs)
		if !ok {
			return nil, false
		}
		res[i] = r
	}
	return res, true
}

func foldBinary(op string, ins []Info, out Info) (Info, bool) {
	if !isIntLike(out.Elem) || len(ins) < 1 {
		return Info{}, false
	}
	for _, in := range ins {
		if !isIntLike(in.Elem) {
			return Info{}, false
		}
	}
	b2i := func(b bool) SymInt {
		if b {
			return SymInt{Known: true, V: 1}
		}
		return SymInt{Known: true, V: 0}
	}
	res, ok := elementwise(ins, out, func(xs []SymInt) (SymInt, bool) {
		a := xs[0]
		if len(xs) == 1 {
			return a, true
		}
		b := xs[1]
		// Symbolic cases: a symbol (a dimension) is non-negative.
		if !a.Known || !b.Known {
			switch op {
			case "Equal":
				if a.Same(b) {
					return b2i(true), true
				}
				if (a.Known && a.V < 0) || (b.Known && b.V < 0) {
					return b2i(false), true
				}
			case "Mul":
				if a.Is(1) {
					return b, true
				}
				if b.Is(1) {
					return a, true
				}
			case "Add", "Sub":
				if b.Is(0) {
					return a, true
				}
				if a.Is(0) && op == "Add" {
					return b, true
				}
			case "Div":
				if b.Is(1) {
					return a, true
				}
			case "Max":
				if b.Known && b.V <= 0 {
					return a, true
				}
				if a.Known && a.V <= 0 {
					return b, true
				}
			}
			return SymInt{}, true
		}
		x, y := a.V, b.V
		var r int64
		switch op {
		case "Add":
			r = x + y
		case "Sub":
			r = x - y
		case "Mul":
			r = x * y
		case "Div":
			if y == 0 {
				return SymInt{}, false
			}
			r = x / y
		case "Mod":
			if y == 0 {
				return SymInt{}, false
			}
			r = x % y
		case "Max":
			r = max(x, y)
		case "Min":
			r = min(x, y)
		case "Equal":
			return b2i(x == y), true
		case "Less":
			return b2i(x < y), true
		case "Greater":
			return b2i(x > y), true
		case "LessOrEqual":
			return b2i(x <= y), true
		case "GreaterOrEqual":
			return b2i(x >= y), true
		case "And":
			return b2i(x != 0 && y != 0), true
		case "Or":
			return b2i(x != 0 || y != 0), true
		case "Xor":
			return b2i((x != 0) != (y != 0)), true
		default:
			return SymInt{}, false
		}
		return SymInt{Known: true, V: r}, true
	})
	if !ok || (len(ins) > 2 && op != "Max" && op != "Min" && op != "Sum") {
		return Info{}, false
	}
	return setElems(out, res), true
}

// setElems stores folded elements into an Info (Parts for 0-D/1-D, Value when all known).
func setElems(out Info, res []SymInt) Info {
	all := true
	v := make([]int64, len(res))
	for k, r := range res {
		if !r.Known {
			all = false
		}
		v[k] = r.V
	}
	if all {
		out.Value = v
	}
	if out.Rank <= 1 {
		out.Parts = res
	}
	return out
}

func foldWhere(ins []Info, out Info) (Info, bool) {
	if len(ins) != 3 || !isIntLike(out.Elem) {
		return Info{}, false
	}
	res, ok := elementwise(ins, out, func(xs []SymInt) (SymInt, bool) {
		if !xs[0].Known {
			return SymInt{}, true
		}
		if xs[0].V != 0 {
			return xs[1], true
		}
		return xs[2], true
	})
	if !ok {
		return Info{}, false
	}
	return setElems(out, res), true
}
