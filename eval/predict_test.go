package eval_test

import (
	"context"
	"math"
	"testing"

	"github.com/kprune/kprune/internal/demo"
	"github.com/kprune/kprune/eval"
)

// TestPredictWithLowMemory checks that the low-memory prediction path (no onnxruntime arena)
// gives the same outputs as the default one.
func TestPredictWithLowMemory(t *testing.T) {
	m := demoModel(t)
	dev, _ := demoSet(t, demo.DevTSV, 96)
	a, err := eval.Predict(context.Background(), m, dev, 2)
	if err != nil {
		t.Fatal(err)
	}
	b, err := eval.PredictWith(context.Background(), m, dev, eval.PredictOptions{Threads: 1, LowMemory: true})
	if err != nil {
		t.Fatal(err)
	}
	if a.Rows != 96 || b.Rows != a.Rows || b.Width != a.Width || len(b.Values) != len(a.Values) {
		t.Fatalf("shapes differ: %d x %d vs %d x %d", a.Rows, a.Width, b.Rows, b.Width)
	}
	for i := range a.Values {
		if math.Abs(float64(a.Values[i]-b.Values[i])) > 1e-5 {
			t.Fatalf("value %d: %g vs %g", i, a.Values[i], b.Values[i])
		}
	}
}
