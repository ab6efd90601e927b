package infer

import (
	"fmt"

	"github.com/kprune/kprune/onnx"
)

// gemmRule: [M, N] from the two matrices, transposed as the attributes say (each dimension
// unknown when its matrix's rank is).
func gemmRule(_ *state, n *onnx.NodeProto, ins []Info) ([]Info, error) {
	a, b := arg(ins, 0), arg(ins, 1)
	var m, nn SymInt
	if a.Rank == 2 {
		m = a.Dim(0)
		if onnx.AttrIntOr(n, "transA", 0) != 0 {
			m = a.Dim(1)
		}
	}
	if b.Rank == 2 {
		nn = b.Dim(1)
		if onnx.AttrIntOr(n, "transB", 0) != 0 {
			nn = b.Dim(0)
		}
	}
	return []Info{FromDims(a.Elem, []SymInt{m, nn})}, nil
}

// argRule (ArgMax, ArgMin): INT64 indices, the axis kept as 1 or dropped.
func argRule(_ *state, n *onnx.NodeProto, ins []Info) ([]Info, error) {
	x := arg(ins, 0)
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
}

// layerNormRule (LayerNormalization, and com.microsoft's SkipLayerNormalization and
// SimplifiedLayerNormalization): the input's shape; LayerNormalization's optional mean and
// inverse standard deviation have the normalised axes set to 1.
func layerNormRule(_ *state, n *onnx.NodeProto, ins []Info) ([]Info, error) {
	x := arg(ins, 0)
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
}

// nonZeroRule: INT64 [rank, number of non-zero elements].
func nonZeroRule(_ *state, _ *onnx.NodeProto, ins []Info) ([]Info, error) {
	x := arg(ins, 0)
	return []Info{FromDims(onnx.TensorProto_INT64, []SymInt{{Known: x.Rank >= 0, V: int64(max(x.Rank, 0))}, {}})}, nil
}

// compressRule: the axis becomes of unknown size (1-D of unknown size without an axis).
func compressRule(_ *state, n *onnx.NodeProto, ins []Info) ([]Info, error) {
	x := arg(ins, 0)
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
}

// scatterRule (ScatterND, ScatterElements, Scatter): the data's shape and element type.
func scatterRule(_ *state, _ *onnx.NodeProto, ins []Info) ([]Info, error) {
	out := arg(ins, 0)
	out.Value, out.Parts, out.Float = nil, nil, nil
	return []Info{out}, nil
}

// oneHotRule: the values' element type, rank unknown.
func oneHotRule(_ *state, _ *onnx.NodeProto, ins []Info) ([]Info, error) {
	return []Info{Unknown(arg(ins, 2).Elem)}, nil
}

// topKRule: values and INT64 indices, the axis of size k.
func topKRule(_ *state, n *onnx.NodeProto, ins []Info) ([]Info, error) {
	x := arg(ins, 0)
	if x.Rank < 0 {
		return []Info{Unknown(x.Elem), Unknown(onnx.TensorProto_INT64)}, nil
	}
	axis, err := normAxis(onnx.AttrIntOr(n, "axis", -1), x.Rank)
	if err != nil {
		return nil, err
	}
	d := x.DimList()
	d[axis] = SymInt{}
	if k := arg(ins, 1).Value; len(k) == 1 {
		d[axis] = SymInt{Known: true, V: k[0]}
	}
	return []Info{FromDims(x.Elem, d), FromDims(onnx.TensorProto_INT64, d)}, nil
}

func (st *state) matmul(n *onnx.NodeProto, ins []Info) ([]Info, error) {
	a, b := arg(ins, 0), arg(ins, 1)
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
	batch, err := broadcastDims(st, da[:len(da)-2], db[:len(db)-2])
	if ka, kb := da[len(da)-1], db[len(db)-2]; ka.Known && kb.Known && ka.V != kb.V {
		err = fmt.Errorf("inner dimensions differ: %d and %d", ka.V, kb.V)
	}
	out := batch
	if !aVec {
		out = append(out, da[len(da)-2])
	}
	if !bVec {
		out = append(out, db[len(db)-1])
	}
	return []Info{FromDims(a.Elem, out)}, err
}

// ReduceAxes returns the axes (normalised, sorted as given) a Reduce* node reduces, whether it
// keeps dimensions, and whether it is a no-op (empty axes with noop_with_empty_axes); ok is
// false when the axes are not known at build time.
func ReduceAxes(n *onnx.NodeProto, ins []Info, rank int) (axes []int, keep, noop, ok bool) {
	keep = onnx.AttrIntOr(n, "keepdims", 1) != 0
	raw, ok := Axes(n, ins, 1)
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
	x := arg(ins, 0)
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
