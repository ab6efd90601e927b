package infer

import (
	"fmt"
	"math"

	"github.com/kprune/kprune/onnx"
)

// constantRule: the Constant node's value, with its elements when small.
func constantRule(_ *state, n *onnx.NodeProto, _ []Info) ([]Info, error) {
	return []Info{constantInfo(n)}, nil
}

// shapeRule: a 1-D INT64 tensor whose elements are the input's dimensions [start, end)
// (opset 15's attributes), known or symbolic.
func shapeRule(st *state, n *onnx.NodeProto, ins []Info) ([]Info, error) {
	x := arg(ins, 0)
	if x.Rank < 0 {
		return []Info{FromDims(onnx.TensorProto_INT64, []SymInt{{Sym: st.fresh()}})}, nil
	}
	start, end := onnx.AttrIntOr(n, "start", 0), onnx.AttrIntOr(n, "end", int64(x.Rank))
	s, e := clampRange(start, end, int64(x.Rank))
	return []Info{withParts(onnx.TensorProto_INT64, x.DimList()[s:e], false)}, nil
}

// sizeRule: an INT64 scalar, known when every dimension is.
func sizeRule(_ *state, _ *onnx.NodeProto, ins []Info) ([]Info, error) {
	out := withParts(onnx.TensorProto_INT64, []SymInt{{}}, true)
	if nel := arg(ins, 0).NumElements(); nel >= 0 {
		out = withParts(onnx.TensorProto_INT64, []SymInt{{Known: true, V: nel}}, true)
	}
	return []Info{out}, nil
}

// constantOfShapeRule: the shape is the input's elements (known or symbolic; the rank alone when
// only the input's length is known), the element type and fill those of the value attribute.
func constantOfShapeRule(_ *state, n *onnx.NodeProto, ins []Info) ([]Info, error) {
	x := arg(ins, 0)
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
}

// rangeRule: a 1-D tensor of (limit - start) / delta elements, folded when the bounds are known;
// Range(0, n, 1) with n symbolic (position ids) has n elements.
func rangeRule(_ *state, _ *onnx.NodeProto, ins []Info) ([]Info, error) {
	return []Info{rangeInfo(ins)}, nil
}

// gatherElementsRule: the indices' shape, the data's element type.
func gatherElementsRule(_ *state, _ *onnx.NodeProto, ins []Info) ([]Info, error) {
	out := arg(ins, 1)
	out.Elem = arg(ins, 0).Elem
	out.Value, out.Parts, out.Float = nil, nil, nil
	return []Info{out}, nil
}

// flattenRule: a matrix whose dimensions are the products of the input's dimensions before and
// from axis.
func flattenRule(_ *state, n *onnx.NodeProto, ins []Info) ([]Info, error) {
	x := arg(ins, 0)
	if x.Rank < 0 {
		return []Info{FromDims(x.Elem, []SymInt{{}, {}})}, nil
	}
	axis, err := normAxis(onnx.AttrIntOr(n, "axis", 1), x.Rank+1)
	if err != nil {
		return nil, err
	}
	d := x.DimList()
	return []Info{FromDims(x.Elem, []SymInt{product(d[:axis]), product(d[axis:])})}, nil
}

// transposeRule: the input's dimensions permuted (reversed without perm).
func transposeRule(_ *state, n *onnx.NodeProto, ins []Info) ([]Info, error) {
	x := arg(ins, 0)
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
}

// expandRule: the input broadcast against the target shape's elements. When only the target's
// length is known, that gives the rank, and the input's known dimensions other than 1 stay.
func expandRule(st *state, _ *onnx.NodeProto, ins []Info) ([]Info, error) {
	x, s := arg(ins, 0), arg(ins, 1)
	if s.Parts == nil || x.Rank < 0 {
		r := -1
		if s.Rank == 1 && s.Dims[0] >= 0 && x.Rank >= 0 {
			r = max(int(s.Dims[0]), x.Rank)
		}
		if r < 0 {
			return []Info{Unknown(x.Elem)}, nil
		}
		// Broadcasting against unknown sizes keeps the input's known sizes other than 1.
		d, err := broadcastDims(st, x.DimList(), make([]SymInt, r))
		return []Info{FromDims(x.Elem, d)}, err
	}
	d, err := broadcastDims(st, x.DimList(), s.Parts)
	return []Info{FromDims(x.Elem, d)}, err
}

// tileRule: each dimension times its repeat count (unchanged for 1, unknown when either is).
func tileRule(_ *state, _ *onnx.NodeProto, ins []Info) ([]Info, error) {
	x := arg(ins, 0)
	if x.Rank < 0 {
		return []Info{Unknown(x.Elem)}, nil
	}
	d := x.DimList()
	rep := arg(ins, 1).Parts
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

func sign(x int64) int64 {
	if x < 0 {
		return -1
	}
	return 1
}

func (st *state) gather(n *onnx.NodeProto, ins []Info) ([]Info, error) {
	if len(ins) < 2 {
		return nil, fmt.Errorf("needs 2 inputs, has %d", len(ins))
	}
	x, idx := ins[0], ins[1]
	if x.Rank < 0 || idx.Rank < 0 {
		return []Info{Unknown(x.Elem)}, nil
	}
	if x.Rank == 0 {
		return nil, fmt.Errorf("gathering from a scalar")
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
				return []Info{res}, fmt.Errorf("index %d is out of range for %d elements", idx.Value[k], len(x.Parts))
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
						return []Info{res}, fmt.Errorf("index %d is out of range for dimension %d", i, x.Dims[axis])
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
		return nil, fmt.Errorf("no inputs to concatenate")
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
	x := arg(ins, 0)
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
		return nil, fmt.Errorf("no shape input")
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

// Axes returns the axes of a Reduce*, Squeeze or Unsqueeze node as written (possibly negative):
// its input k when given (opset 13+, Reduce* from 18), its axes attribute otherwise (nil, true
// when there is neither). ok is false when the input's values are not known at build time.
func Axes(n *onnx.NodeProto, ins []Info, k int) ([]int64, bool) {
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
	x := arg(ins, 0)
	axes, ok := Axes(n, ins, 1)
	if !ok && arg(ins, 1).NumElements() == 1 {
		// One axis of unknown value: a scalar unsqueezed or a [1] squeezed has one possible
		// result, with the same elements.
		switch {
		case n.GetOpType() == "Unsqueeze" && x.Rank == 0:
			axes, ok = []int64{0}, true
		case n.GetOpType() == "Squeeze" && x.Rank == 1 && x.Dims[0] == 1:
			axes, ok = []int64{0}, true
		}
	}
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
	if len(ins) == 2 {
		return nil, nil, nil, nil, false // input form without ends
	}
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
	x := arg(ins, 0)
	if x.Rank < 0 {
		return []Info{Unknown(x.Elem)}, nil
	}
	starts, ends, axes, steps, ok := SliceParams(n, ins, x.Rank)
	if !ok {
		if d, ok := symbolicSlice(n, ins, x); ok {
			return []Info{FromDims(x.Elem, d)}, nil
		}
		d := make([]SymInt, x.Rank)
		if axes, ok := sliceAxes(n, ins); ok {
			// Axes known: the other dimensions are unchanged.
			copy(d, x.DimList())
			for _, a := range axes {
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

// sliceAxes returns the axes a Slice node (input form) slices when its bounds are not known:
// its axes input, or without one the leading axes, as many as starts has elements.
func sliceAxes(n *onnx.NodeProto, ins []Info) ([]int64, bool) {
	if len(ins) >= 4 && n.GetInput()[3] != "" {
		return ins[3].Value, ins[3].Value != nil
	}
	if s := arg(ins, 1); s.Rank == 1 && s.Dims[0] >= 0 && len(ins) >= 3 {
		axes := make([]int64, s.Dims[0])
		for k := range axes {
			axes[k] = int64(k)
		}
		return axes, true
	}
	return nil, false
}

// symbolicSlice handles Slice nodes (input form) whose ends are only known symbolically, as in
// Slice(position_ids, 0, seq): taking [0, n) with step 1 gives n elements. (n could exceed the
// axis length in principle, but the models this serves only run when it does not.)
func symbolicSlice(n *onnx.NodeProto, ins []Info, x Info) ([]SymInt, bool) {
	if len(ins) < 3 || ins[1].Parts == nil || ins[2].Parts == nil || len(ins[1].Parts) != len(ins[2].Parts) {
		return nil, false
	}
	starts, ends := ins[1].Parts, ins[2].Parts
	var axes, steps []int64
	if len(ins) >= 4 && n.GetInput()[3] != "" {
		if axes = ins[3].Value; axes == nil {
			return nil, false
		}
	} else {
		for k := range starts {
			axes = append(axes, int64(k))
		}
	}
	if len(ins) >= 5 && n.GetInput()[4] != "" {
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

func (st *state) split(n *onnx.NodeProto, ins []Info) ([]Info, error) {
	x := arg(ins, 0)
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
	// Sizes given as an input computed from shapes may be symbolic.
	parts := arg(ins, 1).Parts
	for k := range outs {
		d := x.DimList()
		switch {
		case ok:
			d[axis] = SymInt{Known: true, V: sizes[k]}
		case len(ins) >= 2 && n.GetInput()[1] != "" && len(parts) == nout:
			d[axis] = parts[k]
		default:
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

func (st *state) pad(n *onnx.NodeProto, ins []Info) ([]Info, error) {
	x := arg(ins, 0)
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
