package graph

import (
	"github.com/kprune/kprune/graph/infer"
	"github.com/kprune/kprune/onnx"
)

// Params counts a model's floating-point parameters (initializer elements) by part of the encoder.
type Params struct {
	// Embeddings: the tables and the LayerNorm before the first layer.
	Embeddings int64 `json:"embeddings"`
	// Attention: Q, K, V, O weights and biases and the LayerNorm of every present attention sublayer.
	Attention int64 `json:"attention"`
	// FFN: W_1, W_2, their biases and the LayerNorm of every present feed-forward sublayer.
	FFN int64 `json:"ffn"`
	// Head: everything on top of the last hidden state (pooler, classifier...).
	Head int64 `json:"head"`
	// Other: the rest, e.g. the LayerNorms and kept biases of removed sublayers.
	Other int64 `json:"other"`
}

// Total is the sum of all parts.
func (p Params) Total() int64 { return p.Embeddings + p.Attention + p.FFN + p.Head + p.Other }

// CountParams splits m's floating-point parameters between the parts of enc (see Params).
func CountParams(m *onnx.ModelProto, enc *Encoder) Params {
	var p Params
	ix := NewIndex(m.GetGraph())
	part := map[string]*int64{}
	for _, l := range enc.Layers {
		if a := l.MHA; a != nil {
			for _, n := range []string{a.Q.Weight, a.Q.Bias, a.K.Weight, a.K.Bias, a.V.Weight, a.V.Bias, a.O.Weight, a.O.Bias, a.LN.Scale, a.LN.Bias} {
				part[n] = &p.Attention
			}
		}
		if f := l.FFN; f != nil {
			for _, n := range []string{f.W1.Weight, f.W1.Bias, f.W2.Weight, f.W2.Bias, f.LN.Scale, f.LN.Bias} {
				part[n] = &p.FFN
			}
		}
	}
	// Embeddings: initializers the first sublayer's input is computed from.
	if len(enc.Layers) > 0 {
		stopAt := map[string]bool{}
		walkBack(ix, enc.SublayerInput(0), stopAt, func(t string) {
			if _, ok := part[t]; !ok {
				part[t] = &p.Embeddings
			}
		})
		// Head: initializers read downstream of the last hidden state.
		down := map[string]bool{enc.SublayerOutput(enc.NumSublayers() - 1): true}
		for _, n := range ix.Topo() {
			reads := false
			for _, in := range nodeInputs(n) {
				reads = reads || down[in]
			}
			if !reads {
				continue
			}
			for _, o := range n.GetOutput() {
				down[o] = true
			}
			for _, in := range nodeInputs(n) {
				if _, ok := part[in]; !ok && ix.Initializer(in) != nil {
					part[in] = &p.Head
				}
			}
		}
	}
	for _, t := range m.GetGraph().GetInitializer() {
		if !infer.IsFloat(onnx.TensorProto_DataType(t.GetDataType())) {
			continue
		}
		n := onnx.NumElements(t.GetDims())
		if dst, ok := part[t.GetName()]; ok {
			*dst += n
		} else {
			p.Other += n
		}
	}
	return p
}

// walkBack calls fn for every initializer t depends on.
func walkBack(ix *Index, t string, seen map[string]bool, fn func(string)) {
	VisitTensors([]string{t}, seen, func(x string) ([]string, bool) {
		if ix.Initializer(x) != nil {
			fn(x)
			return nil, false
		}
		if p := ix.Producer(x); p != nil {
			return nodeInputs(p), false
		}
		return nil, false
	})
}
