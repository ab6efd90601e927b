package graph

import (
	"fmt"

	"github.com/kprune/kprune/onnx"
)

// This file recognises an attention sublayer: the output projection back to the probabilities
// and values, the query, key and value head paths, the scores MatMul behind the Softmax and its
// guards, and the head count (attention_terms.go and reshape.go hold the score terms and the
// Reshapes that follow their input's shape).

// walkHeadPath walks back from a per-head tensor (Q, K or V heads) to its projection, through
// Transpose, Reshape, scalar scaling and transparent ops, collecting the Reshapes.
func (d *disc) walkHeadPath(t string, sub *sublayer) (linear, error) {
	for range 32 {
		p := d.ix.Producer(t)
		if p == nil {
			return linear{}, fmt.Errorf("expected the attention input path to lead to a projection, found %s", d.describe(t))
		}
		switch op := p.GetOpType(); {
		case op == "Transpose" || isTransparent(p):
			t = p.GetInput()[0]
		case op == "Reshape":
			out := p.GetOutput()[0]
			if d.adaptiveReshape(p) {
				// Follows its input's own shape: nothing to rewrite.
			} else if d.si.Of(out).Rank == 4 {
				sub.headReshapes = append(sub.headReshapes, p)
			} else {
				sub.widthReshapes = append(sub.widthReshapes, p)
			}
			t = p.GetInput()[0]
		case (op == "Mul" || op == "Div") && len(p.GetInput()) == 2:
			a, b := p.GetInput()[0], p.GetInput()[1]
			switch {
			case d.isScalarFactor(b):
				t = a
			case op == "Mul" && d.isScalarFactor(a):
				t = b
			default:
				if lin, err := d.parseLinear(t); err == nil {
					return lin, nil
				}
				return linear{}, unsupported(p, "expected a scaling by a constant scalar at %s node %q", op, p.GetName())
			}
		default:
			return d.parseLinear(t)
		}
	}
	return linear{}, fmt.Errorf("attention input path too long at %q", t)
}

func (d *disc) isScalarConst(t string) bool {
	c := d.ix.Constant(t)
	return c != nil && onnx.NumElements(c.GetDims()) == 1
}

// isScalarFactor tells whether t is a scalar computed from constants and tensor shapes only,
// such as the 1/sqrt(sqrt(head_dim)) that torch's scaled_dot_product_attention export computes
// from Shape(query). Pruning heads does not change it.
func (d *disc) isScalarFactor(t string) bool {
	if d.isScalarConst(t) {
		return true
	}
	if ti := d.si.Of(t); ti.Rank < 0 || (ti.Rank > 0 && !(ti.Rank == 1 && ti.Dims[0] == 1)) {
		return false
	}
	seen := map[string]bool{}
	failed := VisitTensors([]string{t}, seen, func(x string) ([]string, bool) {
		if d.ix.IsConstant(x) {
			return nil, false
		}
		p := d.ix.Producer(x)
		if p == nil || len(seen) > 64 {
			return nil, true
		}
		if p.GetOpType() == "Shape" || p.GetOpType() == "Size" {
			return nil, false
		}
		return p.GetInput(), false
	})
	return !failed
}

// parseMHA recognises y = Attention(x) @ W_O + b_O.
func (d *disc) parseMHA(x, y string) (*sublayer, error) {
	sub := &sublayer{kind: KindMHA, x: x, y: y}
	ctx, err := d.outputProjection(sub, "output projection")
	if err != nil {
		return nil, err
	}
	o := sub.outLin
	// Back from the context to the MatMul of probabilities and values.
	t := ctx
	var av *onnx.NodeProto
	for range 16 {
		p := d.ix.Producer(t)
		if p == nil {
			return nil, fmt.Errorf("expected the attention context before the output projection %q, found %s", o.Node, d.describe(t))
		}
		op := p.GetOpType()
		if op == "MatMul" && !d.ix.IsConstant(p.GetInput()[1]) {
			av = p
			break
		}
		switch {
		case op == "Reshape" || op == "Flatten":
			if !d.adaptiveReshape(p) {
				sub.widthReshapes = append(sub.widthReshapes, p)
			}
		case op == "Transpose" || isTransparent(p):
		default:
			return nil, fmt.Errorf("expected the attention context (MatMul of attention probabilities and values, then Transpose and Reshape) feeding the output projection %q, found %s", o.Node, d.describe(t))
		}
		t = p.GetInput()[0]
	}
	if av == nil {
		return nil, fmt.Errorf("no attention MatMul found before the output projection %q", o.Node)
	}
	probs := d.skipGuards(av.GetInput()[0])
	sm := d.ix.Producer(probs)
	if sm == nil || sm.GetOpType() != "Softmax" {
		return nil, fmt.Errorf("expected Softmax probabilities as the first input of the attention MatMul %q, found %s", av.GetName(), d.describe(probs))
	}
	v, err := d.walkHeadPath(av.GetInput()[1], sub)
	if err != nil {
		return nil, fmt.Errorf("value path of MatMul %q: %w", av.GetName(), err)
	}
	qk, err := d.findScoresMatMul(sm)
	if err != nil {
		return nil, err
	}
	nHeadBefore := len(sub.headReshapes)
	q, err := d.walkHeadPath(qk.GetInput()[0], sub)
	if err != nil {
		return nil, fmt.Errorf("query path of MatMul %q: %w", qk.GetName(), err)
	}
	qHead := sub.headReshapes[nHeadBefore:]
	k, err := d.walkHeadPath(qk.GetInput()[1], sub)
	if err != nil {
		return nil, fmt.Errorf("key path of MatMul %q: %w", qk.GetName(), err)
	}
	for _, lin := range []struct {
		name string
		l    linear
	}{{"query", q}, {"key", k}, {"value", v}} {
		if lin.l.Input != x {
			return nil, fmt.Errorf("the %s projection %q reads %q; expected the sublayer's residual input %q", lin.name, lin.l.Node, lin.l.Input, x)
		}
	}
	if len(sub.headReshapes) == 0 {
		return nil, fmt.Errorf("no Reshape splitting the heads ([batch, seq, heads, head_dim]) found on the query, key and value paths of MatMul %q", qk.GetName())
	}
	heads, hd, err := d.headCount(q.Out, qHead, sub.headReshapes)
	if err == nil {
		sub.scoreTerms, err = d.scoreTerms(sm, qk, heads)
	}
	if err != nil {
		return nil, err
	}
	w := heads * hd
	if q.Out != w || k.Out != w || v.Out != w || o.In != w {
		return nil, fmt.Errorf("projection widths Q %d, K %d, V %d, O input %d do not match %d heads of width %d", q.Out, k.Out, v.Out, o.In, heads, hd)
	}
	sub.inLins = []linear{q, k, v}
	sub.width, sub.unit = w, hd
	sub.mha = &MHA{Q: q.Linear, K: k.Linear, V: v.Linear, O: o.Linear, Heads: heads, HeadDim: hd, Context: ctx, Input: x}
	return sub, nil
}

// skipGuards follows transparent ops and guards back from the attention probabilities to the
// Softmax: Where(cond, c, p) or Where(cond, p, c) with c a constant, as torch's
// scaled_dot_product_attention export writes Where(IsNaN(p), 0, p) and masked exports zero
// fully masked rows. A guard is elementwise over heads, so pruning heads leaves it valid.
func (d *disc) skipGuards(t string) string {
	for range 16 {
		t = d.skipTransparent(t)
		p := d.ix.Producer(t)
		if p == nil || !isDefaultDomain(p) || p.GetOpType() != "Where" || len(p.GetInput()) != 3 {
			return t
		}
		a, b := p.GetInput()[1], p.GetInput()[2]
		switch {
		case d.ix.IsConstant(a) && !d.ix.IsConstant(b):
			t = b
		case d.ix.IsConstant(b) && !d.ix.IsConstant(a):
			t = a
		default:
			return t
		}
	}
	return t
}

// findScoresMatMul finds the MatMul of queries and keys behind the Softmax, looking back through
// the scaling, the mask addition and transparent ops.
func (d *disc) findScoresMatMul(sm *onnx.NodeProto) (*onnx.NodeProto, error) {
	var found []*onnx.NodeProto
	seen := map[string]bool{}
	type item struct {
		t     string
		depth int
	}
	queue := []item{{sm.GetInput()[0], 0}}
	for len(queue) > 0 {
		it := queue[0]
		queue = queue[1:]
		if seen[it.t] || it.depth > 8 {
			continue
		}
		seen[it.t] = true
		p := d.ix.Producer(it.t)
		if p == nil {
			continue
		}
		switch p.GetOpType() {
		case "MatMul":
			if !d.ix.IsConstant(p.GetInput()[0]) && !d.ix.IsConstant(p.GetInput()[1]) {
				found = append(found, p)
			}
			continue
		case "Add", "Sub", "Mul", "Div", "Where", "Cast", "Identity", "Dropout", "Max", "Min", "Clip":
		default:
			continue
		}
		for _, in := range d.ix.nonConstantInputs(p) {
			queue = append(queue, item{in, it.depth + 1})
		}
	}
	if len(found) != 1 {
		return nil, fmt.Errorf("expected one MatMul of queries and keys behind Softmax node %q, found %d", sm.GetName(), len(found))
	}
	return found[0], nil
}

// headCount reads the number of heads and their width from the head-splitting Reshapes.
func (d *disc) headCount(qOut int, qHead, all []*onnx.NodeProto) (int, int, error) {
	try := func(r *onnx.NodeProto) (int, int, bool) {
		t := d.si.Of(r.GetOutput()[0])
		if t.Rank != 4 {
			return 0, 0, false
		}
		h, hd := t.Dim(2), t.Dim(3)
		if !h.Known || !hd.Known {
			// Fall back on the shape values (e.g. [b, s, H, -1] with the input width unknown).
			if s := d.si.Of(r.GetInput()[1]); len(s.Parts) == 4 {
				if s.Parts[2].Known && s.Parts[2].V > 0 {
					h = s.Parts[2]
				}
				if s.Parts[3].Known && s.Parts[3].V > 0 {
					hd = s.Parts[3]
				}
			}
		}
		switch {
		case h.Known && h.V > 0 && (!hd.Known || hd.V <= 0) && qOut%int(h.V) == 0:
			return int(h.V), qOut / int(h.V), true
		case hd.Known && hd.V > 0 && (!h.Known || h.V <= 0) && qOut%int(hd.V) == 0:
			return qOut / int(hd.V), int(hd.V), true
		case h.Known && hd.Known && h.V > 0 && hd.V > 0:
			return int(h.V), int(hd.V), true
		}
		return 0, 0, false
	}
	heads, hd := 0, 0
	for _, r := range append(append([]*onnx.NodeProto{}, qHead...), all...) {
		h, w, ok := try(r)
		if !ok {
			continue
		}
		if heads == 0 {
			heads, hd = h, w
		} else if h != heads || w != hd {
			return 0, 0, unsupported(r, "the Reshape node %q splits into %d heads of width %d, another path into %d of width %d", r.GetName(), h, w, heads, hd)
		}
	}
	if heads == 0 {
		return 0, 0, unsupported(all[0], "cannot determine the number of heads from Reshape node %q (shape %s): expected [batch, seq, heads, head_dim] with heads or head_dim constant", all[0].GetName(), partsString(d.si.Of(all[0].GetInput()[1])))
	}
	return heads, hd, nil
}
