package graph_test

import (
	"testing"

	"github.com/kprune/kprune/graph"
	"github.com/kprune/kprune/internal/testmodel"
)

// TestVocabRowsAndWeights checks the model lookups of an Encoder: the vocabulary size, and a
// linear's weight in both layouts (MatMul stores [in, out], Gemm with transB=1 [out, in]).
func TestVocabRowsAndWeights(t *testing.T) {
	var want []float32
	for _, gemm := range []bool{false, true} {
		m, err := testmodel.Build(testmodel.Config{Vocab: 37, Gemm: gemm})
		if err != nil {
			t.Fatal(err)
		}
		enc, err := graph.Discover(m)
		if err != nil {
			t.Fatal(err)
		}
		if got := enc.VocabRows(m); got != 37 {
			t.Errorf("gemm %v: VocabRows = %d, want 37", gemm, got)
		}
		lin := &enc.Layers[0].FFN.W1
		view, err := lin.WeightView(m)
		if err != nil {
			t.Fatal(err)
		}
		w, err := lin.WeightInOut(m)
		if err != nil {
			t.Fatal(err)
		}
		if len(view) != lin.In*lin.Out || len(w) != len(view) {
			t.Fatalf("gemm %v: %d and %d values, want %d", gemm, len(view), len(w), lin.In*lin.Out)
		}
		if (lin.Orient == graph.InOut) == gemm {
			t.Errorf("gemm %v: orientation %v", gemm, lin.Orient)
		}
		// Both exports hold the same weights: the [in, out] copies agree.
		if want == nil {
			want = w
			continue
		}
		for i := range w {
			if w[i] != want[i] {
				t.Fatalf("gemm: WeightInOut[%d] = %v, MatMul export has %v", i, w[i], want[i])
			}
		}
	}
	noIDs := &graph.Encoder{}
	if got := noIDs.VocabRows(nil); got != 0 {
		t.Errorf("encoder without input_ids: VocabRows = %d, want 0", got)
	}
	bad := graph.Linear{Weight: "missing", In: 2, Out: 2}
	if _, err := bad.WeightView(nil); err == nil {
		t.Error("missing initializer: want an error")
	}
}
