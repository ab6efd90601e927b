package eval_test

import (
	"context"
	"math"
	"testing"

	"github.com/kprune/kprune/data"
	"github.com/kprune/kprune/demo"
	"github.com/kprune/kprune/eval"
	"github.com/kprune/kprune/graph"
	"github.com/kprune/kprune/onnx"
	"github.com/kprune/kprune/prune"
)

// demoDev returns the demo model and the first n rows of SST-2 dev, batched.
func demoDev(t *testing.T, n int) (*onnx.ModelProto, *data.Tokenizer, []data.Batch) {
	t.Helper()
	m, err := demo.LoadModel()
	if err != nil {
		t.Fatal(err)
	}
	tok, err := demo.Tokenizer()
	if err != nil {
		t.Fatal(err)
	}
	_, encs, err := prune.ReadEncoded(tok, "dev.tsv", demo.DevTSV, data.ReadOptions{}, demo.MaxLen)
	if err != nil {
		t.Fatal(err)
	}
	b, err := prune.InOrder(tok, encs[:n], 32)
	if err != nil {
		t.Fatal(err)
	}
	return m, tok, b
}

// TestPredictWithLowMemory checks that the low-memory prediction path (no onnxruntime arena)
// gives the same outputs as the default one.
func TestPredictWithLowMemory(t *testing.T) {
	m, _, dev := demoDev(t, 96)
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

// TestLabelChoice pins the one label and headline-metric choice by head kind.
func TestLabelChoice(t *testing.T) {
	cases := []struct {
		head     graph.HeadKind
		labels   data.LabelKind // what ReadOptionsFor reads
		column   string
		data     data.LabelKind // what the file turned out to hold
		headline string
	}{
		{graph.HeadClassification, data.LabelAuto, "", data.LabelClass, "accuracy"},
		{graph.HeadClassification, data.LabelAuto, "", data.LabelNone, "agreement"},
		{graph.HeadRegression, data.LabelScore, "", data.LabelScore, "spearman"},
		{graph.HeadEmbedding, data.LabelScore, "", data.LabelScore, "spearman"},
		{graph.HeadNone, data.LabelScore, "", data.LabelScore, "spearman"},
		{graph.HeadSpan, data.LabelNone, data.NoColumn, data.LabelNone, "agreement"},
		{graph.HeadToken, data.LabelNone, data.NoColumn, data.LabelNone, "agreement"},
	}
	for _, c := range cases {
		t.Run(string(c.head), func(t *testing.T) {
			ro := eval.ReadOptionsFor(c.head, data.ReadOptions{})
			if ro.Labels != c.labels || ro.LabelColumn != c.column {
				t.Errorf("ReadOptionsFor: labels %v column %q, want %v %q", ro.Labels, ro.LabelColumn, c.labels, c.column)
			}
			if h := eval.Headline(c.head, c.data); h != c.headline {
				t.Errorf("Headline: %q, want %q", h, c.headline)
			}
		})
	}
}

// TestUnsampled checks the held-out rows: file order, the used ones skipped, at most n.
func TestUnsampled(t *testing.T) {
	cases := []struct {
		rows int
		used []int
		n    int
		want []int
	}{
		{5, nil, 10, []int{0, 1, 2, 3, 4}},
		{5, []int{1, 3, 3, 9, -1}, 10, []int{0, 2, 4}},
		{5, []int{0}, 2, []int{1, 2}},
		{2, []int{0, 1}, 5, nil},
	}
	for _, c := range cases {
		got := eval.Unsampled(c.rows, c.used, c.n)
		if len(got) != len(c.want) {
			t.Errorf("Unsampled(%d, %v, %d) = %v, want %v", c.rows, c.used, c.n, got, c.want)
			continue
		}
		for i := range got {
			if got[i] != c.want[i] {
				t.Errorf("Unsampled(%d, %v, %d) = %v, want %v", c.rows, c.used, c.n, got, c.want)
				break
			}
		}
	}
}

// TestEvaluateDemo evaluates the demo model on the first rows of SST-2 dev, against itself as
// the teacher: accuracy, F1 and Matthews are set, and the agreement is 1.
func TestEvaluateDemo(t *testing.T) {
	m, tok, _ := demoDev(t, 1)
	r, err := eval.Evaluate(context.Background(), "demo", m, m, eval.Data{Path: "dev.tsv", Raw: demo.DevTSV},
		eval.Options{Tokenizer: tok, MaxLen: demo.MaxLen, Batch: 64, Threads: 2})
	if err != nil {
		t.Fatal(err)
	}
	if r.Examples != 872 || r.Accuracy == nil || r.F1 == nil || r.Matthews == nil || r.Agreement == nil || *r.Agreement != 1 {
		t.Fatalf("result %+v", r)
	}
	if math.Abs(*r.Accuracy-demo.DevAccuracy) > 1e-4 {
		t.Errorf("accuracy %v, want %v", *r.Accuracy, demo.DevAccuracy)
	}
}
