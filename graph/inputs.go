package graph

import (
	"sort"

	"github.com/kprune/kprune/graph/infer"
	"github.com/kprune/kprune/onnx"
)

// This file names the model's inputs by their role in the embeddings.

// findInputs names the model inputs by their role in the embeddings.
func (d *disc) findInputs(enc *Encoder, x0 string) {
	type emb struct {
		input string
		rows  int64
	}
	var embs []emb
	VisitTensors([]string{x0}, nil, func(t string) ([]string, bool) {
		p := d.ix.Producer(t)
		if p == nil {
			return nil, false
		}
		if p.GetOpType() == "Gather" {
			if tab := d.ix.Initializer(p.GetInput()[0]); tab != nil && len(tab.GetDims()) == 2 && infer.IsFloat(onnx.TensorProto_DataType(tab.GetDataType())) {
				idx := d.skipTransparent(p.GetInput()[1])
				if d.ix.IsInput(idx) {
					embs = append(embs, emb{idx, tab.GetDims()[0]})
				}
				return nil, false
			}
		}
		return d.ix.nonConstantInputs(p), false
	})
	sort.SliceStable(embs, func(i, j int) bool { return embs[i].rows > embs[j].rows })
	claimed := map[string]bool{x0: true}
	if len(embs) > 0 {
		enc.InputIDs = embs[0].input
		claimed[embs[0].input] = true
	}
	for i := len(embs) - 1; i >= 1; i-- {
		if embs[i].rows <= 16 && !claimed[embs[i].input] {
			enc.TokenTypeIDs = embs[i].input
			claimed[embs[i].input] = true
			break
		}
	}
	for _, e := range embs[min(1, len(embs)):] {
		if !claimed[e.input] && enc.PositionIDs == "" {
			enc.PositionIDs = e.input // a larger table than token types: positions
		}
		claimed[e.input] = true
	}
	var rest, unused []string
	for _, v := range d.ix.Inputs() {
		if claimed[v.GetName()] {
			continue
		}
		if len(d.ix.Consumers(v.GetName())) > 0 {
			rest = append(rest, v.GetName())
		} else {
			unused = append(unused, v.GetName())
		}
	}
	switch len(rest) {
	case 0:
		// Every attention sublayer was removed: the mask input is still declared (callers keep
		// feeding it) but nothing reads it.
		if len(unused) == 1 {
			enc.AttentionMask = unused[0]
		}
	case 1:
		enc.AttentionMask = rest[0]
	default:
		for _, r := range rest {
			if d.reaches(r, "Softmax") {
				enc.AttentionMask = r
				break
			}
		}
	}
}
