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
	outs, down := d.headOutputs(hL)
	if len(outs) == 0 {
		return fmt.Errorf("no graph output depends on the last LayerNorm output %q: expected an output head or the last hidden state as an output", hL)
	}
	hasLinear, err := d.checkHeadNodes(outs, hL, down)
	if err != nil {
		return err
	}
	if d.headWithoutTask(enc, outs, hL, hasLinear) {
		return nil
	}
	outs, rest := d.taskOutputs(outs)
	switch len(outs) {
	case 1:
		return d.parseSingleHead(enc, outs[0], rest)
	case 2:
		return d.parseSpanHead(enc, outs)
	}
	return fmt.Errorf("%d graph outputs (%s) depend on the last hidden state %q: expected one head output (classification, regression, token), two span logits, or the hidden state itself", len(outs), strings.Join(quoteAll(outs), ", "), hL)
}

// headOutputs returns the graph outputs downstream of hL, and every tensor downstream of it.
func (d *disc) headOutputs(hL string) (outs []string, down map[string]bool) {
	down = map[string]bool{hL: true}
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
	for _, v := range d.ix.Graph.GetOutput() {
		if down[v.GetName()] {
			outs = append(outs, v.GetName())
		}
	}
	return outs, down
}

// checkHeadNodes checks that every node between hL and the outputs is head material (headOps,
// and MatMuls by a weight) and reports whether there is a projection among them.
func (d *disc) checkHeadNodes(outs []string, hL string, down map[string]bool) (hasLinear bool, err error) {
	for _, o := range outs {
		VisitTensors([]string{o}, map[string]bool{hL: true}, func(t string) ([]string, bool) {
			p := d.ix.Producer(t)
			if !down[t] || p == nil {
				return nil, false
			}
			op := p.GetOpType()
			if !headOps[op] || (op == "MatMul" && !d.ix.IsConstant(p.GetInput()[1]) && d.ix.Producer(p.GetInput()[1]) != nil && d.ix.Producer(p.GetInput()[1]).GetOpType() != "Transpose") {
				err = fmt.Errorf("output %q: expected an output head (pooler, classifier, span or token projection) on the last encoder LayerNorm output %q, found %s; the graph may have a layer the encoder pattern did not match", o, hL, d.describe(t))
				return nil, true
			}
			if op == "MatMul" || op == "Gemm" {
				hasLinear = true
			}
			return p.GetInput(), false
		})
		if err != nil {
			return false, err
		}
	}
	return hasLinear, nil
}

// headWithoutTask recognises the heads that are no task head: a pooled sentence embedding, the
// last hidden state as an output (feature extraction), or no projection at all. It sets enc's
// head and outputs and reports whether it did.
func (d *disc) headWithoutTask(enc *Encoder, outs []string, hL string, hasLinear bool) bool {
	// The output at i first, then the others in order.
	first := func(i int) []string {
		return append([]string{outs[i]}, append(append([]string{}, outs[:i]...), outs[i+1:]...)...)
	}
	// A sentence embedding pooled in the graph ([batch, hidden], no weights after the encoder):
	// the output users consume, even when the hidden states are an output too.
	if !hasLinear {
		for i, o := range outs {
			if d.rankOf(o) == 2 && d.skipIdentity(o) != hL {
				enc.Head, enc.Outputs = HeadEmbedding, first(i)
				return true
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
			enc.Head, enc.Outputs = HeadNone, first(i)
			return true
		}
	}
	if !hasLinear {
		enc.Head, enc.Outputs = HeadNone, outs
		return true
	}
	return false
}

// taskOutputs picks the task head's outputs among several (logits plus hidden states or pooled
// features): the one output a projection produces, with the others (rest) kept as they are but
// not distilled. Otherwise outs is returned as it is.
func (d *disc) taskOutputs(outs []string) (task, rest []string) {
	if len(outs) <= 1 {
		return outs, nil
	}
	var lins []string
	for _, o := range outs {
		if _, err := d.parseLinear(d.unReshape(d.skipIdentity(o))); err == nil {
			lins = append(lins, o)
		} else {
			rest = append(rest, o)
		}
	}
	if len(lins) == 1 {
		return lins, rest
	}
	return outs, nil
}

// parseSingleHead recognises a head with one output o made by a projection: classification or
// regression ([batch, labels]) or token classification ([batch, seq, labels]).
func (d *disc) parseSingleHead(enc *Encoder, o string, rest []string) error {
	lin, err := d.parseLinear(d.unReshape(d.skipIdentity(o)))
	if err != nil {
		return fmt.Errorf("output %q: expected the head's last projection: %w", o, err)
	}
	switch d.rankOf(o) {
	case 2:
		enc.Head = HeadClassification
		if lin.Out == 1 {
			enc.Head = HeadRegression
		}
	case 3:
		enc.Head = HeadToken
	default:
		return fmt.Errorf("output %q has rank %d: expected [batch, labels] (classification, regression) or [batch, seq, labels] (token classification)", o, d.rankOf(o))
	}
	enc.Outputs, enc.NumLabels = append([]string{o}, rest...), lin.Out
	return nil
}

// parseSpanHead recognises span logits: two [batch, seq] outputs taken from one [batch, seq, 2]
// projection, ordered start then end.
func (d *disc) parseSpanHead(enc *Encoder, outs []string) error {
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
		if d.rankOf(o) != 2 {
			return fmt.Errorf("output %q has rank %d; expected span logits [batch, seq]", o, d.rankOf(o))
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
