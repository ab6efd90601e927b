package graph_test

import (
	"testing"

	"github.com/kprune/kprune/graph"
	demoassets "github.com/kprune/kprune/internal/demo"
	"github.com/kprune/kprune/onnx"
)

// TestSingleNeuronFFN: an FFN pruned to one neuron has a one-element b_1, which must still be
// recognised as a bias (not as an activation constant) by later rewrites and by Discover.
func TestSingleNeuronFFN(t *testing.T) {
	m, err := onnx.Decode(demoassets.Model)
	if err != nil {
		t.Fatal(err)
	}
	enc, err := graph.Discover(m)
	if err != nil {
		t.Fatal(err)
	}
	plan := graph.Plan{Heads: make([][]int, 2), Neurons: [][]int{nil, {7}}}
	pm, penc, err := graph.Prune(m, enc, plan, graph.PruneOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := graph.ReplaceOutputWeight(pm, penc, 3, make([]float32, 1*enc.Hidden), nil); err != nil {
		t.Fatalf("replace after pruning to one neuron: %v", err)
	}
	again, err := graph.Discover(pm)
	if err != nil {
		t.Fatalf("discover after pruning to one neuron: %v", err)
	}
	if again.Layers[1].FFN == nil || again.Layers[1].FFN.Width != 1 || again.Layers[1].FFN.W1.Bias == "" {
		t.Fatalf("rediscovered FFN: %+v", again.Layers[1].FFN)
	}
}

// TestNoAttentionLeft: a model whose every attention sublayer was removed still declares the
// attention mask input, and Discover still names it so that callers feed it.
func TestNoAttentionLeft(t *testing.T) {
	m, err := onnx.Decode(demoassets.Model)
	if err != nil {
		t.Fatal(err)
	}
	enc, err := graph.Discover(m)
	if err != nil {
		t.Fatal(err)
	}
	pm, _, err := graph.Prune(m, enc, graph.Plan{Heads: [][]int{{}, {}}, Neurons: make([][]int, 2)}, graph.PruneOptions{})
	if err != nil {
		t.Fatal(err)
	}
	again, err := graph.Discover(pm)
	if err != nil {
		t.Fatal(err)
	}
	if again.AttentionMask != enc.AttentionMask {
		t.Fatalf("attention mask input %q, want %q", again.AttentionMask, enc.AttentionMask)
	}
}
