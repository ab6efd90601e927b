package graph

import "github.com/kprune/kprune/onnx"

// scoreTerm is a tensor with a head axis added to the attention scores, such as MPNet's or T5's
// relative position bias [batch or 1, H, seq, seq], computed once and added in every layer.
type scoreTerm struct {
	add   *onnx.NodeProto // the Add (or Sub) of scores and term
	input string          // the term, as the Add reads it
}

// scoreTerms walks from the Softmax input back to the scores MatMul qk and returns the addends
// that carry one value per head (rank 4, axis 1 of size heads > 1). Masks ([b, 1, 1, s] or
// [b, 1, s, s]) broadcast over heads and are not terms. An addend whose head axis is unknown is
// refused, since pruning heads could not be checked against it.
func (d *disc) scoreTerms(sm, qk *onnx.NodeProto, heads int) ([]scoreTerm, error) {
	scores := qk.GetOutput()[0]
	var terms []scoreTerm
	t := sm.GetInput()[0]
	for range 32 {
		if t == scores {
			return terms, nil
		}
		p := d.ix.Producer(t)
		if p == nil {
			break
		}
		next := ""
		for _, in := range p.GetInput() {
			if in != "" && (in == scores || d.dependsOn(in, scores)) {
				next = in
				break
			}
		}
		if next == "" {
			break
		}
		if op := p.GetOpType(); (op == "Add" || op == "Sub") && len(p.GetInput()) == 2 {
			other, _ := otherInput(p, next)
			if other != "" && !d.ix.IsConstant(other) {
				ti := d.si.Of(other)
				switch {
				case ti.Rank == 4 && ti.Dims[1] == int64(heads) && heads > 1:
					terms = append(terms, scoreTerm{add: p, input: other})
				case ti.Rank > 4:
					return nil, unsupported(p, "the attention scores of MatMul %q get %s added by %s node %q; expected a mask broadcast over heads ([batch, 1, *, seq]) or a per-head bias [*, %d, seq, seq]",
						qk.GetName(), shapeString(ti), p.GetOpType(), p.GetName(), heads)
				}
				// Anything else broadcasts over heads (a mask) or has a shape inference could not
				// work out (dynamo masks); a per-head bias of unknown shape would make the pruned
				// graph fail onnxruntime's shape checks, which Prune's callers run.
			}
		}
		t = next
	}
	return terms, nil
}

// gatherHeads makes the Add of a per-head score term read only the kept heads of it, through a
// Gather on axis 1 inserted before the Add (the term is shared by all layers; each layer gets
// its own Gather).
func (e *editor) gatherHeads(st scoreTerm, keep []int) {
	idx := make([]int64, len(keep))
	for i, k := range keep {
		idx[i] = int64(k)
	}
	in := e.fresh(st.input + "_kprune_heads")
	e.setInit(onnx.NewInt64Tensor(in, []int64{int64(len(idx))}, idx))
	out := e.fresh(st.input + "_kprune_kept")
	g := onnx.NewNode("Gather", e.fresh("kprune_gather_heads"), []string{st.input, in}, []string{out}, onnx.AttrInt("axis", 1))
	e.insertBefore(st.add, g)
	e.replaceInput(st.add, st.input, out)
}
