package infer

import (
	"fmt"
	"math"

	"github.com/kprune/kprune/onnx"
)

// node infers the outputs of one node from its inputs' infos.
func (st *state) node(n *onnx.NodeProto, ins []Info) ([]Info, error) {
	in := func(k int) Info {
		if k < len(ins) {
			return ins[k]
		}
		return Info{Rank: -1}
	}
	if d := n.GetDomain(); d != "" && d != "ai.onnx" && d != "com.microsoft" {
		return nil, nil
	}
	x := in(0)
	switch n.GetOpType() {
	case "Identity", "Neg", "Exp", "Log", "Sqrt", "Erf", "Tanh", "Relu", "Sigmoid", "Abs", "Reciprocal",
		"Floor", "Ceil", "Round", "Sign", "Sin", "Cos", "Softplus", "Elu", "LeakyRelu", "HardSigmoid",
		"Softmax", "LogSoftmax", "Gelu", "FastGelu", "QuickGelu", "Clip", "CumSum", "Trilu", "Not",
		"IsNaN", "IsInf", "Selu", "Mish", "HardSwish", "Celu", "PRelu":
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
	case "Dropout":
		out := x
		out.Value, out.Parts, out.Float = nil, nil, nil
		mask := out
		mask.Elem = onnx.TensorProto_BOOL
		return []Info{out, mask}, nil
	case "Cast":
		to := onnx.TensorProto_DataType(onnx.AttrIntOr(n, "to", 0))
		return []Info{cast(x, to)}, nil
	case "CastLike":
		return []Info{cast(x, in(1).Elem)}, nil
	case "BiasGelu":
		return st.broadcastOp(n, ins[:min(2, len(ins))], x.Elem)
	case "Add", "Sub", "Mul", "Div", "Pow", "Mod", "Max", "Min", "Sum", "Mean", "BitShift":
		outs, err := st.broadcastOp(n, ins, x.Elem)
		if err != nil {
			return nil, err
		}
		if v, ok := foldBinary(n.GetOpType(), ins, outs[0]); ok {
			return []Info{v}, nil
		}
		return outs, nil
	case "Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual", "And", "Or", "Xor":
		outs, err := st.broadcastOp(n, ins, onnx.TensorProto_BOOL)
		if err != nil {
			return nil, err
		}
		if v, ok := foldBinary(n.GetOpType(), ins, outs[0]); ok {
			return []Info{v}, nil
		}
		return outs, nil
	case "Where":
		outs, err := st.broadcastOp(n, ins, in(1).Elem)
		if err != nil {
			return nil, err
		}
		if v, ok := foldWhere(ins, outs[0]); ok {
			return []Info{v}, nil
		}
		return outs, nil
	case "Constant":
		return []Info{constantInfo(n)}, nil
	case "Shape":
		if x.Rank < 0 {
			return []Info{FromDims(onnx.TensorProto_INT64, []SymInt{{Sym: st.fresh()}})}, nil
		}
		start, end := onnx.AttrIntOr(n, "start", 0), onnx.AttrIntOr(n, "end", int64(x.Rank))
		s, e := clampRange(start, end, int64(x.Rank))
		return []Info{withParts(onnx.TensorProto_INT64, x.DimList()[s:e], false)}, nil
	case "Size":
		out := withParts(onnx.TensorProto_INT64, []SymInt{{}}, true)
		if nel := x.NumElements(); nel >= 0 {
			out = withParts(onnx.TensorProto_INT64, []SymInt{{Known: true, V: nel}}, true)
		}
		return []Info{out}, nil
	case "ConstantOfShape":
		elem, fill := onnx.TensorProto_FLOAT, 0.0
		var fillInt int64
		if a := onnx.FindAttr(n, "value"); a != nil && a.T != nil {
			elem = onnx.TensorProto_DataType(a.T.GetDataType())
			if isIntLike(elem) {
				if v, err := onnx.Int64s(a.T); err == nil && len(v) == 1 {
					fillInt = v[0]
				}
			} else if v, err := onnx.Float64s(a.T); err == nil && len(v) == 1 {
				fill = v[0]
			}
		}
		if x.Parts == nil {
			r := -1
			if x.Rank == 1 && x.Dims[0] >= 0 {
				r = int(x.Dims[0])
			}
			if r < 0 {
				return []Info{Unknown(elem)}, nil
			}
			return []Info{FromDims(elem, make([]SymInt, r))}, nil
		}
		out := FromDims(elem, x.Parts)
		if nel := out.NumElements(); nel >= 0 && nel <= maxFold && isIntLike(elem) {
			v := make([]int64, nel)
			for k := range v {
				v[k] = fillInt
			}
			out.Value = v
			out.Parts = partsOf(out)
		} else if nel >= 0 && nel <= maxFloatConst && IsFloat(elem) {
			out.Float = make([]float64, nel)
			for k := range out.Float {
				out.Float[k] = fill
			}
		}
		return []Info{out}, nil
	case "Range":
		return []Info{rangeInfo(ins)}, nil
	case "Gather":
		return st.gather(n, ins)
	case "GatherElements":
		out := in(1)
		out.Elem = x.Elem
		out.Value, out.Parts, out.Float = nil, nil, nil
		return []Info{out}, nil
	case "Concat":
		return st.concat(n, ins)
	case "Reshape":
		return st.reshape(n, ins)
	case "Flatten":
		if x.Rank < 0 {
			return []Info{FromDims(x.Elem, []SymInt{{}, {}})}, nil
		}
		axis, err := normAxis(onnx.AttrIntOr(n, "axis", 1), x.Rank+1)
		if err != nil {
			return nil, err
		}
		d := x.DimList()
		return []Info{FromDims(x.Elem, []SymInt{product(d[:axis]), product(d[axis:])})}, nil
	case "Transpose":
		if x.Rank < 0 {
			return []Info{Unknown(x.Elem)}, nil
		}
		perm := onnx.AttrIntsOr(n, "perm", nil)
		if perm == nil {
			for k := x.Rank - 1; k >= 0; k-- {
				perm = append(perm, int64(k))
			}
		}
		if len(perm) != x.Rank {
			return nil, fmt.Errorf("perm %v has %d entries for an input of rank %d", perm, len(perm), x.Rank)
		}
		d := x.DimList()
		out := make([]SymInt, len(perm))
		for k, p := range perm {
			if p < 0 || int(p) >= x.Rank {
				return nil, fmt.Errorf("perm %v is out of range for rank %d", perm, x.Rank)
			}
			out[k] = d[p]
		}
		return []Info{FromDims(x.Elem, out)}, nil
	case "Squeeze", "Unsqueeze":
		return st.squeeze(n, ins)
	case "Slice":
		return st.slice(n, ins)
	case "Split":
		return st.split(n, ins)
	case "Expand":
		if in(1).Parts == nil || x.Rank < 0 {
			r := -1
			if in(1).Rank == 1 && in(1).Dims[0] >= 0 && x.Rank >= 0 {
				r = max(int(in(1).Dims[0]), x.Rank)
			}
			if r < 0 {
				return []Info{Unknown(x.Elem)}, nil
			}
			return []Info{FromDims(x.Elem, make([]SymInt, r))}, nil
		}
		d, err := broadcastDims(st, x.DimList(), in(1).Parts)
		if err != nil {
			return nil, err
		}
		return []Info{FromDims(x.Elem, d)}, nil
	case "Tile":
		if x.Rank < 0 {
			return []Info{Unknown(x.Elem)}, nil
		}
		d := x.DimList()
		rep := in(1).Parts
		out := make([]SymInt, len(d))
		for k := range d {
			switch {
			case k < len(rep) && rep[k].Is(1):
				out[k] = d[k]
			case k < len(rep) && rep[k].Known && d[k].Known:
				out[k] = SymInt{Known: true, V: d[k].V * rep[k].V}
			}
		}
		return []Info{FromDims(x.Elem, out)}, nil
	case "MatMul":
		return st.matmul(n, ins)
	case "Gemm":
		a, b := in(0), in(1)
		if a.Rank != 2 || b.Rank != 2 {
			return []Info{FromDims(x.Elem, []SymInt{{}, {}})}, nil
		}
		m := a.Dim(0)
		if onnx.AttrIntOr(n, "transA", 0) != 0 {
			m = a.Dim(1)
		}
		nn := b.Dim(1)
		if onnx.AttrIntOr(n, "transB", 0) != 0 {
			nn = b.Dim(0)
		}
		return []Info{FromDims(x.Elem, []SymInt{m, nn})}, nil
	case "ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL2", "ReduceL1",
		"ReduceSumSquare", "ReduceLogSumExp":
		return st.reduce(n, ins)
	case "ArgMax", "ArgMin":
		if x.Rank < 0 {
			return []Info{Unknown(onnx.TensorProto_INT64)}, nil
		}
		axis, err := normAxis(onnx.AttrIntOr(n, "axis", 0), x.Rank)
		if err != nil {
			return nil, err
		}
		d := x.DimList()
		if onnx.AttrIntOr(n, "keepdims", 1) != 0 {
			d[axis] = SymInt{Known: true, V: 1}
		} else {
			d = append(d[:axis], d[axis+1:]...)
		}
		return []Info{FromDims(onnx.TensorProto_INT64, d)}, nil
	case "LayerNormalization", "SkipLayerNormalization", "SimplifiedLayerNormalization":
		out := x
		out.Value, out.Parts, out.Float = nil, nil, nil
		outs := []Info{out}
		if n.GetOpType() == "LayerNormalization" && x.Rank >= 0 {
			axis, err := normAxis(onnx.AttrIntOr(n, "axis", -1), x.Rank)
			if err != nil {
				return nil, err
			}
			d := x.DimList()
			for k := axis; k < len(d); k++ {
				d[k] = SymInt{Known: true, V: 1}
			}
			stash := onnx.TensorProto_FLOAT
			if onnx.AttrIntOr(n, "stash_type", 1) != 1 {
				stash = x.Elem
			}
			stat := FromDims(stash, d)
			outs = append(outs, stat, stat)
		}
		return outs, nil
	case "Pad":
		return st.pad(n, ins)
	case "NonZero":
		return []Info{FromDims(onnx.TensorProto_INT64, []SymInt{{Known: x.Rank >= 0, V: int64(max(x.Rank, 0))}, {}})}, nil
	case "Compress":
		if onnx.FindAttr(n, "axis") == nil || x.Rank < 0 {
			return []Info{FromDims(x.Elem, []SymInt{{}})}, nil
		}
		axis, err := normAxis(onnx.AttrIntOr(n, "axis", 0), x.Rank)
		if err != nil {
			return nil, err
		}
		d := x.DimList()
		d[axis] = SymInt{}
		return []Info{FromDims(x.Elem, d)}, nil
	case "ScatterND", "ScatterElements", "Scatter":
		out := x
		out.Value, out.Parts, out.Float = nil, nil, nil
		return []Info{out}, nil
	case "OneHot":
		return []Info{Unknown(in(2).Elem)}, nil
	case "TopK":
		if x.Rank < 0 {
			return []Info{Unknown(x.Elem), Unknown(onnx.TensorProto_INT64)}, nil
		}
		axis, err := normAxis(onnx.AttrIntOr(n, "axis", -1), x.Rank)
		if err != nil {
			return nil, err
		}
		d := x.DimList()
		d[axis] = SymInt{}
		if k := in(1).Value; len(k) == 1 {
			d[axis] = SymInt{Known: true, V: k[0]}
		}
		return []Info{FromDims(x.Elem, d), FromDims(onnx.TensorProto_INT64, d)}, nil
	}
	outs := make([]Info, len(n.GetOutput()))
	for k := range outs {
		outs[k] = Info{Rank: -1}
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

func constantInfo(n *onnx.NodeProto) Info {
	for _, a := range n.GetAttribute() {
		switch a.GetName() {
		case "value":
			if a.T != nil {
				return tensorInfo(a.T)
			}
		case "value_int":
			return withValue(onnx.TensorProto_INT64, nil, []int64{a.GetI()})
		case "value_ints":
			return withValue(onnx.TensorProto_INT64, []int64{int64(len(a.GetInts()))}, append([]int64{}, a.GetInts()...))
		case "value_float":
			in := FromDims(onnx.TensorProto_FLOAT, nil)
			in.Float = []float64{float64(a.GetF())}
			return in
		case "value_floats":
			in := FromDims(onnx.TensorProto_FLOAT, []SymInt{{Known: true, V: int64(len(a.GetFloats()))}})
			if len(a.GetFloats()) <= maxFloatConst {
				for _, f := range a.GetFloats() {
					in.Float = append(in.Float, float64(f))
				}
			}
			return in
		}
	}
	return Info{Rank: -1}
}

// normAxis maps a possibly negative axis into [0, rank).
func normAxis(a int64, rank int) (int, error) {
	if a < 0 {
		a += int64(rank)
	}
	if a < 0 || a >= int64(rank) {
		return 0, fmt.Errorf("axis %d is out of range for rank %d", a, rank)
	}
	return int(a), nil
}

func clampRange(start, end, n int64) (int64, int64) {
	if start < 0 {
		start += n
	}
	if end < 0 {
		end += n
	}
	start = max(0, min(start, n))
	end = max(start, min(end, n))
	return start, end
}

// product multiplies dimensions; it stays symbolic for a single unknown factor times ones.
func product(d []SymInt) SymInt {
	p := int64(1)
	var sym SymInt
	nsym := 0
	for _, x := range d {
		if x.Known {
			p *= x.V
		} else {
			nsym++
			sym = x
		}
	}
	switch {
	case nsym == 0:
		return SymInt{Known: true, V: p}
	case nsym == 1 && p == 1:
		return sym
	case p == 0:
		return SymInt{Known: true, V: 0}
	}
	return SymInt{}
}

// broadcastDims applies numpy broadcasting to two dimension lists.
func broadcastDims(st *state, a, b []SymInt) ([]SymInt, error) {
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
				if x.V != y.V {
					return nil, fmt.Errorf("cannot broadcast dimension %d against %d", x.V, y.V)
				}
				out[k] = x
			case x.Known:
				out[k] = x
			case y.Known:
				out[k] = y
			case x.Same(y):
				out[k] = x
			default:
				out[k] = SymInt{Sym: st.fresh()}
			}
		}
	}
	return out, nil
}

func (st *state) broadcastOp(n *onnx.NodeProto, ins []Info, elem onnx.TensorProto_DataType) ([]Info, error) {
	var dims []SymInt
	for k, in := range ins {
		if in.Rank < 0 {
			return []Info{Unknown(elem)}, nil
		}
		if k == 0 {
			dims = in.DimList()
			continue
		}
		var err error
		if dims, err = broadcastDims(st, dims, in.DimList()); err != nil {
			return nil, fmt.Errorf("inputs %v: %w", n.GetInput(), err)
		}
	}
	if dims == nil && len(ins) == 0 {
		return []Info{Unknown(elem)}, nil
	}
	return []Info{FromDims(elem, dims)}, nil
}

// foldUnary folds unary integer ops on known or symbolic values.
func foldUnary(op string, x Info) (Info, bool) {
	if x.Parts != nil && op == "Identity" {
		return x, true
	}
	if x.Value == nil {
		return Info{}, false
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

func scalarPart(in Info) (SymInt, bool) {
	if len(in.Parts) == 1 && in.Rank <= 1 {
		return in.Parts[0], true
	}
	if len(in.Float) == 1 {
		f := in.Float[0]
		if f == math.Trunc(f) {
			return SymInt{Known: true, V: int64(f)}, true
		}
	}
	return SymInt{}, false
}

func rangeInfo(ins []Info) Info {
	if len(ins) < 3 {
		return Unknown(0)
	}
	elem := ins[0].Elem
	start, ok1 := scalarPart(ins[0])
	limit, ok2 := scalarPart(ins[1])
	delta, ok3 := scalarPart(ins[2])
	if !ok1 || !ok2 || !ok3 {
		return FromDims(elem, []SymInt{{}})
	}
	if start.Known && limit.Known && delta.Known && delta.V != 0 {
		n := max(0, (limit.V-start.V+delta.V-sign(delta.V))/delta.V)
		if isIntLike(elem) && n <= maxFold {
			v := make([]int64, n)
			for k := range v {
				v[k] = start.V + int64(k)*delta.V
			}
			return withValue(elem, []int64{n}, v)
		}
		return FromDims(elem, []SymInt{{Known: true, V: n}})
	}
	if start.Is(0) && delta.Is(1) {
		return FromDims(elem, []SymInt{limit})
	}
	return FromDims(elem, []SymInt{{}})
}

func sign(x int64) int64 {
	if x < 0 {
		return -1
	}
	return 1
}

func (st *state) gather(n *onnx.NodeProto, ins []Info) ([]Info, error) {
	if len(ins) < 2 {
		return nil, fmt.Errorf("Gather needs 2 inputs, has %d", len(ins))
	}
	x, idx := ins[0], ins[1]
	if x.Rank < 0 || idx.Rank < 0 {
		return []Info{Unknown(x.Elem)}, nil
	}
	if x.Rank == 0 {
		return nil, fmt.Errorf("Gather on a scalar")
	}
	axis, err := normAxis(onnx.AttrIntOr(n, "axis", 0), x.Rank)
	if err != nil {
		return nil, err
	}
	d := x.DimList()
	out := append(append(append([]SymInt{}, d[:axis]...), idx.DimList()...), d[axis+1:]...)
	res := FromDims(x.Elem, out)
	// Fold gathers from 1-D integer tensors (shape manipulations).
	if x.Rank == 1 && x.Parts != nil && idx.Value != nil && idx.Rank <= 1 {
		parts := make([]SymInt, len(idx.Value))
		for k, i := range idx.Value {
			if i < 0 {
				i += int64(len(x.Parts))
			}
			if i < 0 || i >= int64(len(x.Parts)) {
				return nil, fmt.Errorf("index %d is out of range for %d elements", idx.Value[k], len(x.Parts))
			}
			parts[k] = x.Parts[i]
		}
		return []Info{withParts(x.Elem, parts, idx.Rank == 0)}, nil
	}
	if x.Value != nil && idx.Value != nil && x.Static() {
		if nel := res.NumElements(); nel >= 0 && nel <= maxFold {
			outer := onnx.NumElements(x.Dims[:axis])
			inner := onnx.NumElements(x.Dims[axis+1:])
			v := make([]int64, 0, nel)
			for o := int64(0); o < outer; o++ {
				for _, i := range idx.Value {
					if i < 0 {
						i += x.Dims[axis]
					}
					if i < 0 || i >= x.Dims[axis] {
						return nil, fmt.Errorf("index %d is out of range for dimension %d", i, x.Dims[axis])
					}
					base := (o*x.Dims[axis] + i) * inner
					v = append(v, x.Value[base:base+inner]...)
				}
			}
			res.Value = v
			res.Parts = partsOf(res)
		}
	}
	return []Info{res}, nil
}

func (st *state) concat(n *onnx.NodeProto, ins []Info) ([]Info, error) {
	if len(ins) == 0 {
		return nil, fmt.Errorf("Concat without inputs")
	}
	rank := -1
	for _, in := range ins {
		if in.Rank >= 0 {
			rank = in.Rank
		}
	}
	elem := ins[0].Elem
	if rank < 0 {
		return []Info{Unknown(elem)}, nil
	}
	axis, err := normAxis(onnx.AttrIntOr(n, "axis", 0), rank)
	if err != nil {
		return nil, err
	}
	var out []SymInt
	total := SymInt{Known: true}
	var parts []SymInt
	partsOK := rank == 1
	for k, in := range ins {
		if in.Rank < 0 {
			total = SymInt{}
			partsOK = false
			continue
		}
		if in.Rank != rank {
			return nil, fmt.Errorf("input %d has rank %d, want %d", k, in.Rank, rank)
		}
		d := in.DimList()
		if out == nil {
			out = d
		} else {
			for j := range d {
				if j != axis && !out[j].Known && d[j].Known {
					out[j] = d[j]
				}
			}
		}
		switch {
		case total.Known && d[axis].Known:
			total.V += d[axis].V
		case total.Is(0):
			total = d[axis]
		default:
			total = SymInt{}
		}
		if partsOK && in.Parts != nil {
			parts = append(parts, in.Parts...)
		} else {
			partsOK = false
		}
	}
	if out == nil {
		return []Info{Unknown(elem)}, nil
	}
	out[axis] = total
	if partsOK {
		return []Info{withParts(elem, parts, false)}, nil
	}
	res := FromDims(elem, out)
	// Fold concatenations of known multi-dimensional integer tensors along axis 0 only.
	return []Info{res}, nil
}

func (st *state) reshape(n *onnx.NodeProto, ins []Info) ([]Info, error) {
	var target []SymInt
	x := ins[0]
	if len(ins) >= 2 {
		target = ins[1].Parts
		if target == nil {
			if s := ins[1]; s.Rank == 1 && s.Dims[0] >= 0 {
				return []Info{FromDims(x.Elem, make([]SymInt, s.Dims[0]))}, nil
			}
			return []Info{Unknown(x.Elem)}, nil
		}
	} else if a := onnx.FindAttr(n, "shape"); a != nil {
		for _, v := range a.GetInts() {
			target = append(target, SymInt{Known: true, V: v})
		}
	} else {
		return nil, fmt.Errorf("Reshape without a shape")
	}
	allowZero := onnx.AttrIntOr(n, "allowzero", 0) != 0
	out := make([]SymInt, len(target))
	inferAt := -1
	for k, t := range target {
		switch {
		case t.Is(0) && !allowZero:
			if x.Rank < 0 || k >= x.Rank {
				out[k] = SymInt{}
			} else {
				out[k] = x.Dim(k)
			}
		case t.Is(-1):
			if inferAt >= 0 {
				return nil, fmt.Errorf("shape %v has more than one -1", target)
			}
			inferAt = k
		case t.Known && t.V < -1:
			return nil, fmt.Errorf("shape %v has a negative entry", target)
		default:
			out[k] = t
		}
	}
	if inferAt >= 0 {
		out[inferAt] = inferDim(st, x, out, inferAt)
	}
	res := FromDims(x.Elem, out)
	if res.Static() && x.Value != nil {
		res.Value = x.Value
		res.Parts = partsOf(res)
	} else if x.Parts != nil && res.Rank <= 1 && res.Static() && res.NumElements() == int64(len(x.Parts)) {
		res.Parts = x.Parts
	}
	return []Info{res}, nil
}

// inferDim solves the -1 entry of a Reshape target symbolically: the input's dimensions
// divided by the target's other dimensions.
func inferDim(st *state, x Info, out []SymInt, at int) SymInt {
	if x.Rank < 0 {
		return SymInt{}
	}
	num := int64(1)
	syms := map[string]int{}
	for _, d := range x.DimList() {
		if d.Known {
			num *= d.V
		} else if d.Sym != "" {
			syms[d.Sym]++
		} else {
			return SymInt{}
		}
	}
	den := int64(1)
	for k, d := range out {
		if k == at {
			continue
		}
		if d.Known {
			den *= d.V
		} else if d.Sym != "" && syms[d.Sym] > 0 {
			syms[d.Sym]--
		} else {
			return SymInt{}
		}
	}
	var left []string
	for s, c := range syms {
		for ; c > 0; c-- {
			left = append(left, s)
		}
	}
	if den == 0 || num%den != 0 {
		return SymInt{}
	}
	switch {
	case len(left) == 0:
		return SymInt{Known: true, V: num / den}
	case len(left) == 1 && num == den:
		return SymInt{Sym: left[0]}
	}
	return SymInt{}
}

func axesOf(n *onnx.NodeProto, ins []Info, k int) ([]int64, bool) {
	if k < len(ins) && n.GetInput()[k] != "" {
		if ins[k].Value == nil {
			return nil, false
		}
		return ins[k].Value, true
	}
	if a := onnx.FindAttr(n, "axes"); a != nil {
		return a.GetInts(), true
	}
	return nil, true
}

func (st *state) squeeze(n *onnx.NodeProto, ins []Info) ([]Info, error) {
	x := ins[0]
	axes, ok := axesOf(n, ins, 1)
	if !ok || x.Rank < 0 {
		return []Info{Unknown(x.Elem)}, nil
	}
	d := x.DimList()
	var out []SymInt
	if n.GetOpType() == "Squeeze" {
		drop := map[int]bool{}
		if axes == nil {
			for k, e := range d {
				if e.Is(1) {
					drop[k] = true
				} else if !e.Known {
					return []Info{Unknown(x.Elem)}, nil
				}
			}
		}
		for _, a := range axes {
			k, err := normAxis(a, x.Rank)
			if err != nil {
				return nil, err
			}
			drop[k] = true
		}
		for k, e := range d {
			if !drop[k] {
				out = append(out, e)
			}
		}
	} else {
		r := x.Rank + len(axes)
		at := map[int]bool{}
		for _, a := range axes {
			k, err := normAxis(a, r)
			if err != nil {
				return nil, err
			}
			at[k] = true
		}
		j := 0
		for k := 0; k < r; k++ {
			if at[k] {
				out = append(out, SymInt{Known: true, V: 1})
			} else if j < len(d) {
				out = append(out, d[j])
				j++
			}
		}
	}
	res := FromDims(x.Elem, out)
	if x.Value != nil {
		res.Value = x.Value
	}
	if x.Parts != nil && res.Rank <= 1 {
		res.Parts = x.Parts
	} else if res.Value != nil {
		res.Parts = partsOf(res)
	}
	res.Float = x.Float
	return []Info{res}, nil
}

// sliceParams returns starts, ends, axes, steps of a Slice node (attribute or input form).
func sliceParams(n *onnx.NodeProto, ins []Info, rank int) (starts, ends, axes, steps []int64, ok bool) {
	if len(ins) >= 3 {
		if ins[1].Value == nil || ins[2].Value == nil {
			return nil, nil, nil, nil, false
		}
		starts, ends = ins[1].Value, ins[2].Value
		if len(ins) >= 4 && n.GetInput()[3] != "" {
			if ins[3].Value == nil {
				return nil, nil, nil, nil, false
			}
			axes = ins[3].Value
		}
		if len(ins) >= 5 && n.GetInput()[4] != "" {
			if ins[4].Value == nil {
				return nil, nil, nil, nil, false
			}
			steps = ins[4].Value
		}
	} else {
		starts = onnx.AttrIntsOr(n, "starts", nil)
		ends = onnx.AttrIntsOr(n, "ends", nil)
		axes = onnx.AttrIntsOr(n, "axes", nil)
	}
	if axes == nil {
		for k := range starts {
			axes = append(axes, int64(k))
		}
	}
	if steps == nil {
		steps = make([]int64, len(starts))
		for k := range steps {
			steps[k] = 1
		}
	}
	if len(ends) != len(starts) || len(axes) != len(starts) || len(steps) != len(starts) {
		return nil, nil, nil, nil, false
	}
	return starts, ends, axes, steps, true
}

// SliceParams returns the starts, ends, axes (normalised to [0, rank)) and steps of a Slice
// node given the infos of its inputs; ok is false when they are not known at build time.
func SliceParams(n *onnx.NodeProto, ins []Info, rank int) (starts, ends, axes, steps []int64, ok bool) {
	starts, ends, axes, steps, ok = sliceParams(n, ins, rank)
	if !ok {
		return
	}
	axes = append([]int64{}, axes...)
	for k, a := range axes {
		na, err := normAxis(a, rank)
		if err != nil {
			return nil, nil, nil, nil, false
		}
		axes[k] = int64(na)
	}
	return starts, ends, axes, steps, true
}

// SliceRange resolves one axis of a Slice on a dimension of known size dim: the first index,
// and the number of elements taken.
func SliceRange(start, end, step, dim int64) (first, count int64) {
	if step == 0 {
		return 0, 0
	}
	if start < 0 {
		start += dim
	}
	if end < 0 {
		end += dim
	}
	if step > 0 {
		start = max(0, min(start, dim))
		end = max(0, min(end, dim))
		if end <= start {
			return start, 0
		}
		return start, (end - start + step - 1) / step
	}
	start = max(-1, min(start, dim-1))
	end = max(-1, min(end, dim-1))
	if end >= start {
		return start, 0
	}
	return start, (start - end - step - 1) / -step
}

func (st *state) slice(n *onnx.NodeProto, ins []Info) ([]Info, error) {
	x := ins[0]
	if x.Rank < 0 {
		return []Info{Unknown(x.Elem)}, nil
	}
	starts, ends, axes, steps, ok := SliceParams(n, ins, x.Rank)
	if !ok {
		if d, ok := symbolicSlice(ins, x); ok {
			return []Info{FromDims(x.Elem, d)}, nil
		}
		d := make([]SymInt, x.Rank)
		if len(ins) >= 4 && ins[3].Value != nil {
			// Axes known: the other dimensions are unchanged.
			copy(d, x.DimList())
			for _, a := range ins[3].Value {
				if k, err := normAxis(a, x.Rank); err == nil {
					d[k] = SymInt{}
				}
			}
		}
		return []Info{FromDims(x.Elem, d)}, nil
	}
	d := x.DimList()
	type rng struct{ first, count, step int64 }
	ranges := map[int]rng{}
	for k, a := range axes {
		dim := d[a]
		switch {
		case dim.Known:
			f, c := SliceRange(starts[k], ends[k], steps[k], dim.V)
			d[a] = SymInt{Known: true, V: c}
			ranges[int(a)] = rng{f, c, steps[k]}
		case starts[k] == 0 && steps[k] == 1 && ends[k] >= math.MaxInt32:
			// the whole dimension
		default:
			d[a] = SymInt{}
		}
	}
	res := FromDims(x.Elem, d)
	if x.Rank == 1 && x.Parts != nil {
		if r, ok := ranges[0]; ok {
			parts := make([]SymInt, 0, r.count)
			for i := int64(0); i < r.count; i++ {
				parts = append(parts, x.Parts[r.first+i*r.step])
			}
			return []Info{withParts(x.Elem, parts, false)}, nil
		}
	}
	return []Info{res}, nil
}

func (st *state) split(n *onnx.NodeProto, ins []Info) ([]Info, error) {
	x := ins[0]
	nout := len(n.GetOutput())
	outs := make([]Info, nout)
	if x.Rank < 0 {
		for k := range outs {
			outs[k] = Unknown(x.Elem)
		}
		return outs, nil
	}
	axis, err := normAxis(onnx.AttrIntOr(n, "axis", 0), x.Rank)
	if err != nil {
		return nil, err
	}
	sizes, ok := SplitSizes(n, ins, x.Dim(axis))
	for k := range outs {
		d := x.DimList()
		if ok {
			d[axis] = SymInt{Known: true, V: sizes[k]}
		} else {
			d[axis] = SymInt{}
		}
		outs[k] = FromDims(x.Elem, d)
	}
	return outs, nil
}

// SplitSizes returns the size of each output of a Split node along its axis, given the infos
// of the node's inputs and the input's dimension along the axis; ok is false when not known.
func SplitSizes(n *onnx.NodeProto, ins []Info, dim SymInt) ([]int64, bool) {
	nout := len(n.GetOutput())
	if len(ins) >= 2 && n.GetInput()[1] != "" {
		if ins[1].Value == nil || len(ins[1].Value) != nout {
			return nil, false
		}
		return ins[1].Value, true
	}
	if s := onnx.AttrIntsOr(n, "split", nil); s != nil {
		if len(s) != nout {
			return nil, false
		}
		return s, true
	}
	if !dim.Known || nout == 0 {
		return nil, false
	}
	sizes := make([]int64, nout)
	chunk := (dim.V + int64(nout) - 1) / int64(nout)
	left := dim.V
	for k := range sizes {
		sizes[k] = min(chunk, left)
		left -= sizes[k]
	}
	if dim.V%int64(nout) != 0 && onnx.FindAttr(n, "num_outputs") == nil {
		return nil, false
	}
	return sizes, true
}

func (st *state) matmul(n *onnx.NodeProto, ins []Info) ([]Info, error) {
	a, b := ins[0], ins[1]
	if a.Rank < 1 || b.Rank < 1 {
		return []Info{Unknown(a.Elem)}, nil
	}
	da, db := a.DimList(), b.DimList()
	aVec, bVec := a.Rank == 1, b.Rank == 1
	if aVec {
		da = append([]SymInt{{Known: true, V: 1}}, da...)
	}
	if bVec {
		db = append(db, SymInt{Known: true, V: 1})
	}
	ka, kb := da[len(da)-1], db[len(db)-2]
	if ka.Known && kb.Known && ka.V != kb.V {
		return nil, fmt.Errorf("inner dimensions differ: %d and %d", ka.V, kb.V)
	}
	batch, err := broadcastDims(st, da[:len(da)-2], db[:len(db)-2])
	if err != nil {
		return nil, err
	}
	out := batch
	if !aVec {
		out = append(out, da[len(da)-2])
	}
	if !bVec {
		out = append(out, db[len(db)-1])
	}
	return []Info{FromDims(a.Elem, out)}, nil
}

// ReduceAxes returns the axes (normalised, sorted as given) a Reduce* node reduces, whether it
// keeps dimensions, and whether it is a no-op (empty axes with noop_with_empty_axes); ok is
// false when the axes are not known at build time.
func ReduceAxes(n *onnx.NodeProto, ins []Info, rank int) (axes []int, keep, noop, ok bool) {
	keep = onnx.AttrIntOr(n, "keepdims", 1) != 0
	raw, ok := axesOf(n, ins, 1)
	if !ok || rank < 0 {
		return nil, keep, false, false
	}
	if len(raw) == 0 {
		if onnx.AttrIntOr(n, "noop_with_empty_axes", 0) != 0 {
			return nil, keep, true, true
		}
		for k := 0; k < rank; k++ {
			axes = append(axes, k)
		}
		return axes, keep, false, true
	}
	seen := map[int]bool{}
	for _, a := range raw {
		k, err := normAxis(a, rank)
		if err != nil {
			return nil, keep, false, false
		}
		if !seen[k] {
			seen[k] = true
			axes = append(axes, k)
		}
	}
	return axes, keep, false, true
}

func (st *state) reduce(n *onnx.NodeProto, ins []Info) ([]Info, error) {
	x := ins[0]
	if x.Rank < 0 {
		return []Info{Unknown(x.Elem)}, nil
	}
	axes, keep, noop, ok := ReduceAxes(n, ins, x.Rank)
	if !ok {
		if keep {
			return []Info{FromDims(x.Elem, make([]SymInt, x.Rank))}, nil
		}
		return []Info{Unknown(x.Elem)}, nil
	}
	if noop {
		out := x
		out.Value, out.Parts, out.Float = nil, nil, nil
		return []Info{out}, nil
	}
	red := map[int]bool{}
	for _, a := range axes {
		red[a] = true
	}
	var out []SymInt
	for k, d := range x.DimList() {
		switch {
		case !red[k]:
			out = append(out, d)
		case keep:
			out = append(out, SymInt{Known: true, V: 1})
		}
	}
	return []Info{FromDims(x.Elem, out)}, nil
}

func (st *state) pad(n *onnx.NodeProto, ins []Info) ([]Info, error) {
	x := ins[0]
	if x.Rank < 0 {
		return []Info{Unknown(x.Elem)}, nil
	}
	var pads []int64
	if len(ins) >= 2 {
		pads = ins[1].Value
	} else {
		pads = onnx.AttrIntsOr(n, "pads", nil)
	}
	d := x.DimList()
	axes := make([]int, 0, x.Rank)
	if len(ins) >= 4 && n.GetInput()[3] != "" {
		if ins[3].Value == nil {
			return []Info{FromDims(x.Elem, make([]SymInt, x.Rank))}, nil
		}
		for _, a := range ins[3].Value {
			k, err := normAxis(a, x.Rank)
			if err != nil {
				return nil, err
			}
			axes = append(axes, k)
		}
	} else {
		for k := 0; k < x.Rank; k++ {
			axes = append(axes, k)
		}
	}
	if pads == nil || len(pads) != 2*len(axes) {
		return []Info{FromDims(x.Elem, make([]SymInt, x.Rank))}, nil
	}
	for j, a := range axes {
		add := pads[j] + pads[j+len(axes)]
		switch {
		case add == 0:
		case d[a].Known:
			d[a] = SymInt{Known: true, V: d[a].V + add}
		default:
			d[a] = SymInt{}
		}
	}
	return []Info{FromDims(x.Elem, d)}, nil
}

// symbolicSlice handles Slice nodes (input form) whose ends are only known symbolically, as in
// Slice(position_ids, 0, seq): taking [0, n) with step 1 gives n elements. (n could exceed the
// axis length in principle, but the models this serves only run when it does not.)
func symbolicSlice(ins []Info, x Info) ([]SymInt, bool) {
	if len(ins) < 3 || ins[1].Parts == nil || ins[2].Parts == nil || len(ins[1].Parts) != len(ins[2].Parts) {
		return nil, false
	}
	starts, ends := ins[1].Parts, ins[2].Parts
	var axes, steps []int64
	if len(ins) >= 4 && ins[3].Rank >= 0 {
		if axes = ins[3].Value; axes == nil {
			return nil, false
		}
	} else {
		for k := range starts {
			axes = append(axes, int64(k))
		}
	}
	if len(ins) >= 5 && ins[4].Rank >= 0 {
		if steps = ins[4].Value; steps == nil {
			return nil, false
		}
	}
	if len(axes) != len(starts) || (steps != nil && len(steps) != len(starts)) {
		return nil, false
	}
	d := x.DimList()
	for k, a := range axes {
		ax, err := normAxis(a, x.Rank)
		if err != nil {
			return nil, false
		}
		step := int64(1)
		if steps != nil {
			step = steps[k]
		}
		s, e := starts[k], ends[k]
		switch {
		case s.Known && e.Known && d[ax].Known:
			_, c := SliceRange(s.V, e.V, step, d[ax].V)
			d[ax] = SymInt{Known: true, V: c}
		case s.Is(0) && step == 1 && !e.Known && e.Sym != "":
			d[ax] = e
		case s.Is(0) && step == 1 && e.Known && e.V >= math.MaxInt32:
		default:
			d[ax] = SymInt{}
		}
	}
	return d, true
}
