package graph

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/kprune/kprune/onnx"
)

// This file recognises a feed-forward sublayer: two projections around an elementwise activation.

// activationOps are the elementwise ops an FFN activation may be built from.
var activationOps = map[string]bool{
	"Mul": true, "Add": true, "Div": true, "Sub": true, "Pow": true, "Erf": true, "Tanh": true, "Relu": true,
	"Gelu": true, "Sigmoid": true, "Sqrt": true, "Identity": true, "Dropout": true, "Cast": true, "Neg": true,
	"Exp": true, "Clip": true, "LeakyRelu": true, "Softplus": true, "Max": true, "Min": true, "HardSigmoid": true,
}

// parseFFN recognises y = act(x @ W_1 + b_1) @ W_2 + b_2.
func (d *disc) parseFFN(x, y string) (*sublayer, error) {
	sub := &sublayer{kind: KindFFN, x: x, y: y, unit: 1}
	act, err := d.outputProjection(sub, "second projection")
	if err != nil {
		return nil, err
	}
	w2 := sub.outLin
	// The activation: an elementwise region from one tensor h (W_1's output) to act.
	leaves := map[string]bool{}
	ops := map[string]bool{}
	VisitTensors([]string{act}, nil, func(t string) (next []string, stop bool) {
		p := d.ix.Producer(t)
		if p == nil || !isDefaultDomain(p) || !activationOps[p.GetOpType()] || d.isLinearAdd(p) {
			leaves[t] = true
			return nil, false
		}
		ops[p.GetOpType()] = true
		if p.GetOpType() == "Gelu" && onnx.FindAttr(p, "approximate") != nil && string(onnx.FindAttr(p, "approximate").GetS()) == "tanh" {
			ops["Tanh"] = true
		}
		for i, in := range p.GetInput() {
			if in == "" || (p.GetOpType() == "Dropout" && i > 0) {
				continue
			}
			if c := d.ix.Constant(in); c != nil {
				if onnx.NumElements(c.GetDims()) != 1 {
					err = unsupported(p, "the activation's %s node %q uses the constant %q of shape %v; expected scalars only (a per-neuron constant cannot be pruned)", p.GetOpType(), p.GetName(), in, c.GetDims())
					return nil, true
				}
				continue
			}
			next = append(next, in)
		}
		return next, false
	})
	if err != nil {
		return nil, err
	}
	if len(leaves) != 1 {
		names := slices.Sorted(maps.Keys(leaves))
		return nil, fmt.Errorf("expected an activation of one tensor (the first projection's output) feeding the second projection %q; it reads %d tensors: %s", w2.Node, len(names), strings.Join(quoteAll(names), ", "))
	}
	var h string
	for t := range leaves {
		h = t
	}
	var actName string
	switch {
	case ops["Gelu"] && ops["Tanh"]:
		actName = "gelu_tanh"
	case ops["Gelu"]:
		actName = "gelu"
	case ops["Erf"]:
		actName = "gelu_erf"
	case ops["Tanh"]:
		actName = "gelu_tanh"
	case ops["Relu"]:
		actName = "relu"
	case ops["Sigmoid"]:
		actName = "silu"
	default:
		return nil, fmt.Errorf("expected an activation (GELU, ReLU) between the projections feeding %q; found %s", w2.Node, d.describe(act))
	}
	// From h back through Reshapes to W_1.
	t := h
	for range 8 {
		p := d.ix.Producer(t)
		if p == nil || (p.GetOpType() != "Reshape" && !isTransparent(p)) {
			break
		}
		if p.GetOpType() == "Reshape" && !d.adaptiveReshape(p) {
			sub.widthReshapes = append(sub.widthReshapes, p)
		}
		t = p.GetInput()[0]
	}
	w1, err := d.parseLinear(t)
	if err != nil {
		return nil, fmt.Errorf("first projection: %w", err)
	}
	if w1.Input != x {
		return nil, fmt.Errorf("the first projection %q reads %q; expected the sublayer's residual input %q", w1.Node, w1.Input, x)
	}
	if w2.In != w1.Out {
		return nil, fmt.Errorf("the first projection %q has %d outputs but the second %q reads %d", w1.Node, w1.Out, w2.Node, w2.In)
	}
	sub.inLins = []linear{w1}
	sub.width = w1.Out
	sub.ffn = &FFN{W1: w1.Linear, W2: w2.Linear, Width: w1.Out, Activation: actName, Act: act, Input: x}
	return sub, nil
}
