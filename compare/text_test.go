package compare

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/kprune/kprune/prune"
)

// TestWriteText pins the text of a sweep and of models side by side (what kprune compare,
// quantize and prune --quantize print).
func TestWriteText(t *testing.T) {
	f := func(v float64) *float64 { return &v }
	var b bytes.Buffer
	cr := &Result{Metric: "accuracy", Unpruned: Row{Method: "unpruned", Value: 0.8, Agreement: 1, Params: 1000},
		Rows:    []Row{{Method: "kprune", RequestedReduction: 0.5, AchievedFLOPs: 0.499, Value: 0.78, Agreement: 0.95, Params: 600, SpeedUp: 1.7, PruneSeconds: 3.2}, {Method: "kwon", RequestedReduction: 0.5, Error: "boom", PruneSeconds: 0.1}},
		Latency: Latency{Batch: 32, Seq: 64, Runs: 10}}
	cr.WriteText(&b)
	figs := []prune.ModelFigures{{Name: "float", Bytes: 4000000, Metrics: &prune.Metrics{Accuracy: f(0.8)}, Latency: []prune.ModelLatency{{Batch: 32, Seq: 64, Threads: 1, P50: 10 * time.Millisecond, Speedup: 1}}},
		{Name: "int8", Bytes: 1000000, Metrics: &prune.Metrics{Accuracy: f(0.79)}, Agreement: &prune.SelfCheck{Agreement: 0.98}, Latency: []prune.ModelLatency{{Batch: 32, Seq: 64, Threads: 1, P50: 5 * time.Millisecond, Speedup: 2}}}}
	WriteSideBySide(&b, figs, "dev.tsv")
	if got, want := b.String(), "    method  requested  achieved  accuracy  agreement  params  speed-up  seconds\n  unpruned          -     0.00%    0.8000    100.00%    1000     1.00x        -\n    kprune        50%    49.90%    0.7800     95.00%     600     1.70x      3.2\n      kwon        50%    failed                                             0.1\nspeed-up: onnxruntime p50 latency of the original over the pruned model at batch 32 x 64 tokens, 10 interleaved runs\n                                       float   int8    \nsize on disk MB                        4.0     1.0     \naccuracy                               0.8000  0.7900  \nagreement with float                   -       98.00%  \nlatency p50 ms (32 x 64, 1 thread(s))  10.00   5.00    \nspeed-up                               1.00x   2.00x   \n(metric and agreement on dev.tsv)\n"; got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

// TestParseLists checks the method and reduction lists of kprune compare.
func TestParseLists(t *testing.T) {
	if m, err := ParseMethods(" kprune, magnitude,kprune,"); err != nil || len(m) != 2 || m[0] != "kprune" || m[1] != "magnitude" {
		t.Errorf("ParseMethods: %v %v", m, err)
	}
	if _, err := ParseMethods("nope"); err == nil {
		t.Error("ParseMethods accepted an unknown method")
	}
	if r, err := ParseReductions("0.4, 0.5"); err != nil || len(r) != 2 || r[1] != 0.5 {
		t.Errorf("ParseReductions: %v %v", r, err)
	}
	for _, s := range []string{"", "x", "1.5"} {
		if _, err := ParseReductions(s); err == nil {
			t.Errorf("ParseReductions(%q) accepted", s)
		}
	}
}

// TestModelPaths lists the saved models of a sweep in run order.
func TestModelPaths(t *testing.T) {
	got := ModelPaths("d", []string{"kprune", "kwon"}, []float64{0.4, 0.55})
	want := []string{"d/kprune-40.onnx", "d/kprune-55.onnx", "d/kwon-40.onnx", "d/kwon-55.onnx"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("got %v, want %v", got, want)
	}
}
