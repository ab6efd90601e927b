package graph

import (
	"fmt"
	"sort"
	"strings"

	"github.com/kprune/kprune/onnx"
)

// This file recognises the output head on the last hidden state: a task head (classification,
// regression, token, span), a pooled sentence embedding, or none.

// headOps are the ops an output head may use on top of the last hidden state.
var headOps = map[string]bool{
	"MatMul": true, "Gemm": true, "Add": true, "Sub": true, "Mul": true, "Div": true, "Pow": true, "Tanh": true,
	"Erf": true, "Relu": true, "Gelu": true, "Sigmoid": true, "Sqrt": true, "Identity": true, "Dropout": true,
	"Gather": true, "Slice": true, "Squeeze": true, "Unsqueeze": true, "Reshape": true, "Split": true,
	"Cast": true, "Flatten": true, "Shape": true, "Concat": true, "Constant": true, "ReduceMean": true,
	"ReduceSum": true, "Expand": true, "Clip": true, "Max": true, "Min": true, "ReduceL2": true,
	"Neg": true, "Transpose": true, "Softmax": false, "LogSoftmax": true,
	// Pooling and normalisation as embedding exports spell them (masked mean with Where, max
	// pooling, norms), and the comparisons that build their masks.
	"Where": true, "Equal": true, "Not": true, "Greater": true, "Less": true, "GreaterOrEqual": true,
	"LessOrEqual": true, "And": true, "Or": true, "IsNaN": true, "Reciprocal": true, "ReduceMax": true,
	"ReduceMin": true, "Abs": true, "Exp": true, "Log": true, "ConstantOfShape": true, "Range": true,
	"Size": true, "Tile": true, "Sum": true, "Mean": true, "LayerNormalization": true,
}

// rankOf returns the rank of t from inference or the graph's value infos, -1 when unknown.
func (d *disc) rankOf(t string) int {
	if r := d.si.Of(t).Rank; r >= 0 {
		return r
	}
	if v := d.ix.ValueInfo(t); v != nil {
		if _, s, ok := onnx.ValueInfoShape(v); ok {
			return len(s)
		}
	}
	return -1
}

// parseHead recognises the output head on the last hidden state hL.
func (d *disc) parseHead(enc *Encoder, hL string) error {
	// Graph outputs downstream of hL.
	down := map[string]bool{hL: true}
	for _, n := range d.ix.Topo() {
		for _, in := range nodeInputs(n) {
			if down[in] {
				for _, o := range n.GetOutput() {
					down[o] = true
				}
				break
			}
		}
	}
	var outs []string
	for _, v := range d.ix.Graph.GetOutput() {
		if down[v.GetName()] {
			outs = append(outs, v.GetName())
		}
	}
	if len(outs) == 0 {
		return fmt.Errorf("no graph output depends on the last LayerNorm output %q: expected an output head or the last hidden state as an output", hL)
	}
	// Every node between hL and the outputs must be head material.
	var hasLinear bool
	for _, o := range outs {
		seen := map[string]bool{}
		stack := []string{o}
		for len(stack) > 0 {
			t := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			if seen[t] || t == hL || !down[t] {
				continue
			}
			seen[t] = true
			p := d.ix.Producer(t)
			if p == nil {
				continue
			}
			op := p.GetOpType()
			if !headOps[op] || (op == "MatMul" && !d.ix.IsConstant(p.GetInput()[1]) && d.ix.Producer(p.GetInput()[1]) != nil && d.ix.Producer(p.GetInput()[1]).GetOpType() != "Transpose") {
				return fmt.Errorf("output %q: expected an output head (pooler, classifier, span or token projection) on the last encoder LayerNorm output %q, found %s; the graph may have a layer the encoder pattern did not match", o, hL, d.describe(t))
			}
			if op == "MatMul" || op == "Gemm" {
				hasLinear = true
			}
			stack = append(stack, p.GetInput()...)
		}
	}
	// A sentence embedding pooled in the graph ([batch, hidden], no weights after the encoder):
	// the output users consume, even when the hidden states are an output too.
	if !hasLinear {
		for i, o := range outs {
			if d.rankOf(o) == 2 && d.skipIdentity(o) != hL {
				enc.Head = HeadEmbedding
				enc.Outputs = append([]string{o}, append(append([]string{}, outs[:i]...), outs[i+1:]...)...)
				return nil
			}
		}
	}
	// Last hidden state as an output and no output made by a projection (feature extraction,
	// possibly with a pooler output): no task head.
	projected := false
	for _, o := range outs {
		if _, err := d.parseLinear(d.unReshape(d.skipIdentity(o))); err == nil {
			projected = true
		}
	}
	for i, o := range outs {
		if !projected && d.skipIdentity(o) == hL {
			enc.Head = HeadNone
			enc.Outputs = append([]string{o}, append(append([]string{}, outs[:i]...), outs[i+1:]...)...)
			return nil
		}
	}
	if !hasLinear {
		enc.Head, enc.Outputs = HeadNone, outs
		return nil
	}
	rank := d.rankOf
	// Several outputs (logits plus hidden states or pooled features): the task head is the one
	// output a projection produces; the others are kept as they are but not distilled.
	var rest []string
	if len(outs) > 1 {
		var lins []string
		for _, o := range outs {
			if _, err := d.parseLinear(d.unReshape(d.skipIdentity(o))); err == nil {
				lins = append(lins, o)
			} else {
				rest = append(rest, o)
			}
		}
		if len(lins) == 1 {
			outs = lins
		} else {
			rest = nil
		}
	}
	switch len(outs) {
	case 1:
		o := outs[0]
		lin, err := d.parseLinear(d.unReshape(d.skipIdentity(o)))
		if err != nil {
			return fmt.Errorf("output %q: expected the head's last projection: %w", o, err)
		}
		switch rank(o) {
		case 2:
			enc.Head = HeadClassification
			if lin.Out == 1 {
				enc.Head = HeadRegression
			}
		case 3:
			enc.Head = HeadToken
		default:
			return fmt.Errorf("output %q has rank %d: expected [batch, labels] (classification, regression) or [batch, seq, labels] (token classification)", o, rank(o))
		}
		enc.Outputs, enc.NumLabels = append(outs, rest...), lin.Out
		return nil
	case 2:
		type part struct {
			out string
			idx int64
			src string
		}
		var parts []part
		for _, o := range outs {
			src, idx, err := d.spanPart(d.skipIdentity(o))
			if err != nil {
				return fmt.Errorf("output %q: %w", o, err)
			}
			if rank(o) != 2 {
				return fmt.Errorf("output %q has rank %d; expected span logits [batch, seq]", o, rank(o))
			}
			parts = append(parts, part{o, idx, src})
		}
		if parts[0].src != parts[1].src || parts[0].idx == parts[1].idx {
			return fmt.Errorf("outputs %q and %q are not the start and end logits of one [batch, seq, 2] projection", outs[0], outs[1])
		}
		lin, err := d.parseLinear(d.unReshape(parts[0].src))
		if err != nil {
			return fmt.Errorf("span logits: %w", err)
		}
		if lin.Out != 2 {
			return fmt.Errorf("span projection %q has %d outputs; expected 2 (start, end)", lin.Node, lin.Out)
		}
		sort.Slice(parts, func(i, j int) bool { return parts[i].idx < parts[j].idx })
		enc.Head, enc.Outputs = HeadSpan, []string{parts[0].out, parts[1].out}
		return nil
	}
	return fmt.Errorf("%d graph outputs (%s) depend on the last hidden state %q: expected one head output (classification, regression, token), two span logits, or the hidden state itself", len(outs), strings.Join(quoteAll(outs), ", "), hL)
}

// spanPart recognises one of the span logits: Squeeze/Reshape of Split, Slice or Gather on the
// last axis of a [batch, seq, 2] tensor; it returns that tensor and the index taken.
func (d *disc) spanPart(t string) (string, int64, error) {
	for range 8 {
		p := d.ix.Producer(t)
		if p == nil {
			break
		}
		switch p.GetOpType() {
		case "Squeeze", "Reshape", "Identity", "Contiguous":
			t = p.GetInput()[0]
			continue
		case "Split":
			for i, o := range p.GetOutput() {
				if o == t {
					return d.skipIdentity(p.GetInput()[0]), int64(i), nil
				}
			}
		case "Slice":
			s := d.si.Of(p.GetInput()[1])
			if len(s.Parts) == 1 && s.Parts[0].Known {
				return d.skipIdentity(p.GetInput()[0]), s.Parts[0].V, nil
			}
		case "Gather":
			s := d.si.Of(p.GetInput()[1])
			if len(s.Parts) == 1 && s.Parts[0].Known {
				return d.skipIdentity(p.GetInput()[0]), s.Parts[0].V, nil
			}
		}
		break
	}
	return "", 0, fmt.Errorf("expected span logits taken from a [batch, seq, 2] projection by Split, Slice or Gather, found %s", d.describe(t))
}
