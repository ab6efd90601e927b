package eval

import (
	"bytes"
	"testing"
)

// TestWriteText pins the text of evaluation results (what kprune eval prints).
func TestWriteText(t *testing.T) {
	f := func(v float64) *float64 { return &v }
	var b bytes.Buffer
	(&Result{Model: "m.onnx", Data: "dev.tsv", Examples: 872, Head: "classification", Accuracy: f(0.8073), F1: f(0.81), Agreement: f(0.95), MeanKL: f(0.02)}).WriteText(&b)
	(&Result{Model: "m.onnx", Data: "u.tsv", Examples: 10, Head: "span", Agreement: f(0.9), Unlabelled: true}).WriteText(&b)
	if got, want := b.String(), "model m.onnx on dev.tsv (872 examples, classification head)\n  accuracy   0.8073\n  f1         0.8100\n  agreement  0.9500\n  mean_kl    0.0200\nmodel m.onnx on u.tsv (10 examples, span head)\n  agreement  0.9000\n  (u.tsv has no labels: agreement with the teacher only)\n"; got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}
