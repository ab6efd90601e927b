package graph

import (
	"fmt"

	"github.com/kprune/kprune/graph/infer"
	"github.com/kprune/kprune/onnx"
)

// This file finds the LayerNorms discovery chains the encoder on: LayerNormalization nodes and
// torch's decomposition into ReduceMean, Sub, Pow, Sqrt, Div, Mul and Add.

// lnMatch is a LayerNorm found in the graph.
type lnMatch struct {
	LayerNorm
	node *onnx.NodeProto // the LayerNormalization node, or the first node of the decomposition
}

// lnName names a LayerNorm for messages.
func (d *disc) lnName(ln *lnMatch) string {
	return fmt.Sprintf("%q (output %q)", ln.node.GetName(), ln.Output)
}

func (d *disc) lnWidth(ln *lnMatch) int {
	if t := d.ix.Constant(ln.Scale); t != nil {
		return int(onnx.NumElements(t.GetDims()))
	}
	if t := d.si.Of(ln.Output); t.Rank > 0 && t.Dims[t.Rank-1] >= 0 {
		return int(t.Dims[t.Rank-1])
	}
	return 0
}

// findLayerNorms collects every LayerNorm in topological order.
func (d *disc) findLayerNorms() {
	for _, n := range d.ix.Topo() {
		if !isDefaultDomain(n) {
			continue
		}
		var ln *lnMatch
		switch n.GetOpType() {
		case "LayerNormalization":
			ln = d.matchLNOp(n)
		case "ReduceMean":
			ln = d.matchDecomposedLN(n)
		}
		if ln != nil && d.by[ln.Output] == nil {
			d.lns = append(d.lns, ln)
			d.by[ln.Output] = ln
		}
	}
}

func (d *disc) isLastAxis(axis int64, x string) bool {
	if axis == -1 {
		return true
	}
	r := d.si.Of(x).Rank
	return r > 0 && axis == int64(r-1)
}

func (d *disc) matchLNOp(n *onnx.NodeProto) *lnMatch {
	ins := n.GetInput()
	if len(ins) < 2 || len(n.GetOutput()) == 0 {
		return nil
	}
	if !d.isLastAxis(onnx.AttrIntOr(n, "axis", -1), ins[0]) {
		return nil
	}
	ln := &lnMatch{node: n}
	ln.Input, ln.Output, ln.Scale = ins[0], n.GetOutput()[0], ins[1]
	if len(ins) > 2 {
		ln.Bias = ins[2]
	}
	ln.Eps = onnx.AttrFloatOr(n, "epsilon", 1e-5)
	return ln
}

// reducesLastAxis tells whether a Reduce node reduces only the last axis of its input, keeping dims.
func (d *disc) reducesLastAxis(n *onnx.NodeProto) bool {
	if n.GetOpType() != "ReduceMean" || onnx.AttrIntOr(n, "keepdims", 1) == 0 || len(n.GetInput()) == 0 {
		return false
	}
	axes, ok := infer.Axes(n, d.ins(n), 1)
	return ok && len(axes) == 1 && d.isLastAxis(axes[0], n.GetInput()[0])
}

// scalarConst returns the value of a constant holding one number.
func (d *disc) scalarConst(t string) (float64, bool) {
	c := d.ix.Constant(t)
	if c == nil || onnx.NumElements(c.GetDims()) != 1 {
		return 0, false
	}
	if infer.IsFloat(onnx.TensorProto_DataType(c.GetDataType())) {
		v, err := onnx.Float64s(c)
		if err != nil {
			return 0, false
		}
		return v[0], true
	}
	v, err := onnx.Int64s(c)
	if err != nil {
		return 0, false
	}
	return float64(v[0]), true
}

// matchDecomposedLN matches torch's LayerNorm decomposition starting at its first ReduceMean:
// mean = ReduceMean(x); d = Sub(x, mean); var = ReduceMean(Pow(d, 2) or Mul(d, d));
// y = Div(d, Sqrt(Add(var, eps))) (or Mul(d, Reciprocal(Sqrt(...)))); out = Add(Mul(y, g), b).
func (d *disc) matchDecomposedLN(r1 *onnx.NodeProto) *lnMatch {
	if !d.reducesLastAxis(r1) || len(r1.GetOutput()) == 0 {
		return nil
	}
	x, mean := r1.GetInput()[0], r1.GetOutput()[0]
	var dev string
	for _, s := range d.consumerOp(mean, "Sub") {
		if len(s.GetInput()) == 2 && s.GetInput()[0] == x && s.GetInput()[1] == mean {
			dev = s.GetOutput()[0]
		}
	}
	if dev == "" {
		return nil
	}
	// The variance path, from dev.
	variance := ""
	for _, c := range d.ix.Consumers(dev) {
		sq := ""
		switch c.GetOpType() {
		case "Pow":
			if c.GetInput()[0] == dev {
				if v, ok := d.scalarConst(c.GetInput()[1]); ok && v == 2 {
					sq = c.GetOutput()[0]
				}
			}
		case "Mul":
			if len(c.GetInput()) == 2 && c.GetInput()[0] == dev && c.GetInput()[1] == dev {
				sq = c.GetOutput()[0]
			}
		}
		if sq == "" {
			continue
		}
		for _, r2 := range d.consumerOp(sq, "ReduceMean") {
			if d.reducesLastAxis(r2) {
				variance = r2.GetOutput()[0]
			}
		}
	}
	if variance == "" {
		return nil
	}
	var eps float64
	std := ""
	for _, a := range d.consumerOp(variance, "Add") {
		o, _ := otherInput(a, variance)
		if v, ok := d.scalarConst(o); ok {
			eps = v
			for _, s := range d.consumerOp(a.GetOutput()[0], "Sqrt") {
				std = s.GetOutput()[0]
			}
		}
	}
	if std == "" {
		return nil
	}
	norm := ""
	for _, c := range d.ix.Consumers(dev) {
		switch c.GetOpType() {
		case "Div":
			if c.GetInput()[0] == dev && c.GetInput()[1] == std {
				norm = c.GetOutput()[0]
			}
		case "Mul":
			o, ok := otherInput(c, dev)
			if !ok {
				continue
			}
			if p := d.ix.Producer(o); p != nil && p.GetOpType() == "Reciprocal" && p.GetInput()[0] == std {
				norm = c.GetOutput()[0]
			}
		}
	}
	if norm == "" {
		return nil
	}
	ln := &lnMatch{node: r1}
	ln.Input, ln.Eps = x, float32(eps)
	out := norm
	if muls := d.consumerOp(norm, "Mul"); len(muls) == 1 {
		if g, ok := otherInput(muls[0], norm); ok && d.ix.IsConstant(g) {
			ln.Scale = g
			out = muls[0].GetOutput()[0]
		}
	}
	if adds := d.consumerOp(out, "Add"); len(adds) == 1 {
		if b, ok := otherInput(adds[0], out); ok && d.ix.IsConstant(b) {
			ln.Bias = b
			out = adds[0].GetOutput()[0]
		}
	}
	if ln.Scale == "" {
		return nil
	}
	ln.Output = out
	return ln
}
