package graph

import (
	"fmt"

	"github.com/kprune/kprune/onnx"
)

// This file recognises linear projections: MatMul (+ Add) or Gemm, with their weights reached
// through Identity aliases and Transposes (constants.go holds initOf).

// linear is a Linear plus the nodes a rewrite needs.
type linear struct {
	Linear
	wUser   *onnx.NodeProto // node reading the weight initializer (the MatMul/Gemm, or a Transpose)
	bUser   *onnx.NodeProto // node reading the bias, nil without bias
	node    *onnx.NodeProto // the MatMul or Gemm
	flatten *onnx.NodeProto // Reshape/Flatten turning the 3-D input to 2-D before a Gemm, or nil
}

// weightOf returns the initializer behind a weight input: the initializer itself (orientation
// InOut unless transposed says otherwise) or an initializer through a Transpose.
func (d *disc) weightOf(t string, user *onnx.NodeProto) (name string, wUser *onnx.NodeProto, transposed bool, err error) {
	if w, u := d.initOf(t, user); w != "" {
		return w, u, false, nil
	}
	if p := d.ix.Producer(d.skipIdentity(t)); p != nil && p.GetOpType() == "Transpose" {
		if w, u := d.initOf(p.GetInput()[0], p); w != "" {
			perm := onnx.AttrIntsOr(p, "perm", []int64{1, 0})
			if len(perm) == 2 && perm[0] == 1 && perm[1] == 0 {
				return w, u, true, nil
			}
		}
	}
	if d.ix.IsConstant(t) {
		return "", nil, false, unsupported(user, "the weight of %s node %q is produced by %s; expected an initializer (re-export with constant folding and initializers)", user.GetOpType(), user.GetName(), d.describe(t))
	}
	return "", nil, false, unsupported(user, "the weight of %s node %q is %s, not a constant initializer", user.GetOpType(), user.GetName(), d.describe(t))
}

// flatInput returns the 3-D tensor behind a 2-D linear input made by a Reshape or Flatten.
func (d *disc) flatInput(t string) (string, *onnx.NodeProto) {
	p := d.ix.Producer(t)
	if p == nil || (p.GetOpType() != "Reshape" && p.GetOpType() != "Flatten") {
		return t, nil
	}
	if d.si.Of(t).Rank == 2 && d.si.Of(p.GetInput()[0]).Rank == 3 {
		return p.GetInput()[0], p
	}
	return t, nil
}

// parseLinear recognises the projection producing t: Add(MatMul(x, W), b) (either Add order),
// MatMul(x, W), or Gemm(x, W, b) (transB either way); W may be an initializer or the Transpose of
// one. A 2-D input made by reshaping a 3-D tensor is looked through.
func (d *disc) parseLinear(t string) (linear, error) {
	var lin linear
	p := d.ix.Producer(t)
	if p == nil {
		return lin, fmt.Errorf("expected a linear projection (MatMul+Add or Gemm) producing %q, found %s", t, d.describe(t))
	}
	switch p.GetOpType() {
	case "Add":
		ins := p.GetInput()
		if len(ins) != 2 {
			break
		}
		bi, mi := -1, -1
		for i := range 2 {
			if d.ix.Initializer(ins[i]) != nil || d.ix.IsConstant(ins[i]) {
				bi = i
			} else if q := d.ix.Producer(ins[i]); q != nil && q.GetOpType() == "MatMul" {
				mi = i
			}
		}
		if bi < 0 || mi < 0 || bi == mi {
			break
		}
		mm := d.ix.Producer(ins[mi])
		var err error
		lin, err = d.parseMatMul(mm)
		if err != nil {
			return lin, err
		}
		bn, bu := d.initOf(ins[bi], p)
		if bn == "" {
			return lin, unsupported(p, "the bias of Add node %q is %s; expected an initializer", p.GetName(), d.describe(ins[bi]))
		}
		b := d.ix.Initializer(bn)
		if !isVector(b.GetDims(), lin.Out) {
			return lin, unsupported(p, "the bias %q of Add node %q has shape %v; expected [%d] for MatMul node %q", ins[bi], p.GetName(), b.GetDims(), lin.Out, mm.GetName())
		}
		lin.Bias, lin.bUser, lin.Output = bn, bu, t
		return lin, nil
	case "MatMul":
		lin, err := d.parseMatMul(p)
		if err != nil {
			return lin, err
		}
		return lin, nil
	case "Gemm":
		return d.parseGemm(p)
	}
	return lin, fmt.Errorf("expected a linear projection (MatMul+Add or Gemm with a constant weight) producing %q, found %s", t, d.describe(t))
}

func isVector(dims []int64, n int) bool {
	if onnx.NumElements(dims) != int64(n) {
		return false
	}
	for i, d := range dims {
		if i < len(dims)-1 && d != 1 {
			return false
		}
	}
	return len(dims) >= 1
}

func (d *disc) parseMatMul(mm *onnx.NodeProto) (linear, error) {
	var lin linear
	if len(mm.GetInput()) != 2 {
		return lin, fmt.Errorf("MatMul node %q has %d inputs", mm.GetName(), len(mm.GetInput()))
	}
	w, wUser, tr, err := d.weightOf(mm.GetInput()[1], mm)
	if err != nil {
		return lin, err
	}
	dims := d.ix.Initializer(w).GetDims()
	if len(dims) != 2 {
		return lin, unsupported(mm, "the weight %q of MatMul node %q has shape %v; expected a matrix", w, mm.GetName(), dims)
	}
	lin.Node, lin.Weight, lin.wUser, lin.node = mm.GetName(), w, wUser, mm
	lin.Output = mm.GetOutput()[0]
	if tr {
		lin.Orient, lin.Out, lin.In = OutIn, int(dims[0]), int(dims[1])
	} else {
		lin.Orient, lin.In, lin.Out = InOut, int(dims[0]), int(dims[1])
	}
	lin.Input, lin.flatten = d.flatInput(mm.GetInput()[0])
	return lin, nil
}

func (d *disc) parseGemm(g *onnx.NodeProto) (linear, error) {
	var lin linear
	ins := g.GetInput()
	if len(ins) < 2 {
		return lin, fmt.Errorf("gemm node %q has %d inputs", g.GetName(), len(ins))
	}
	if onnx.AttrIntOr(g, "transA", 0) != 0 {
		return lin, unsupported(g, "gemm node %q has transA=1; expected the activations as its first input untransposed", g.GetName())
	}
	if onnx.AttrFloatOr(g, "alpha", 1) != 1 || (len(ins) > 2 && ins[2] != "" && onnx.AttrFloatOr(g, "beta", 1) != 1) {
		return lin, unsupported(g, "gemm node %q has alpha or beta different from 1; expected a plain linear layer", g.GetName())
	}
	w, wUser, tr, err := d.weightOf(ins[1], g)
	if err != nil {
		return lin, err
	}
	dims := d.ix.Initializer(w).GetDims()
	if len(dims) != 2 {
		return lin, unsupported(g, "the weight %q of Gemm node %q has shape %v; expected a matrix", w, g.GetName(), dims)
	}
	transB := onnx.AttrIntOr(g, "transB", 0) != 0
	if transB != tr { // stored [out, in]
		lin.Orient, lin.Out, lin.In = OutIn, int(dims[0]), int(dims[1])
	} else {
		lin.Orient, lin.In, lin.Out = InOut, int(dims[0]), int(dims[1])
	}
	lin.Node, lin.Weight, lin.wUser, lin.node, lin.Output = g.GetName(), w, wUser, g, g.GetOutput()[0]
	if len(ins) > 2 && ins[2] != "" {
		bn, bu := d.initOf(ins[2], g)
		b := d.ix.Initializer(bn)
		if bn == "" {
			return lin, unsupported(g, "the bias of Gemm node %q is %s; expected an initializer", g.GetName(), d.describe(ins[2]))
		}
		if !isVector(b.GetDims(), lin.Out) {
			return lin, unsupported(g, "the bias %q of Gemm node %q has shape %v; expected [%d]", ins[2], g.GetName(), b.GetDims(), lin.Out)
		}
		lin.Bias, lin.bUser = bn, bu
	}
	lin.Input, lin.flatten = d.flatInput(ins[0])
	return lin, nil
}

// unReshape returns the input of a Reshape producing t (a linear's 2-D output reshaped back to
// 3-D), or t itself.
func (d *disc) unReshape(t string) string {
	if p := d.ix.Producer(t); p != nil && p.GetOpType() == "Reshape" {
		return p.GetInput()[0]
	}
	return t
}

// isLinearAdd tells whether Add node n is a projection's bias addition.
func (d *disc) isLinearAdd(n *onnx.NodeProto) bool {
	if n.GetOpType() != "Add" || len(n.GetInput()) != 2 {
		return false
	}
	for i := range 2 {
		c, _ := d.initOf(n.GetInput()[i], n)
		p := d.ix.Producer(n.GetInput()[1-i])
		// A bias of a projection to a single output (an FFN pruned to one neuron) has one
		// element: what tells it from an activation's scalar constant is the MatMul feeding it.
		if c != "" && p != nil && p.GetOpType() == "MatMul" {
			return true
		}
	}
	return false
}
