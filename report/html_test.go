package report

import (
	"bytes"
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/kprune/kprune/prune"
)

// sampleReport is a hand-built report of a 4-layer encoder (hidden 256, 4 heads of 64, FFN 1024)
// whose FLOPs totals follow the cost model, so that the per-layer breakdown can be inferred.
func sampleReport(t *testing.T) *prune.Report {
	t.Helper()
	before := lus(4, 1024, 4, 1024, 4, 1024, 4, 1024)
	after := lus(3, 700, 0, 410, 2, 0, 1, 96)
	r := &prune.Report{
		Method: "kprune", InputModel: "models/bert/model.onnx", OutputModel: "out/pruned.onnx",
		InputBytes: 17_543_680, OutputBytes: 8_400_000,
		RequestedReduction: 0.5, SeqLen: 60.5,
		Head: "embedding", HeadOutputs: []string{"sentence_embedding", "token_embeddings"},
		Loss:         "squared L2 distance to the teacher's sentence embedding",
		Unfused:      map[string]int{"SkipLayerNormalization": 8, "Attention": 4},
		ParamsBefore: 4_385_920, ParamsAfter: 2_101_234,
		Layers: after, LayersBefore: before, RemovedSublayers: []int{2, 5},
		Calibration:    prune.CalibStats{Sequences: 1234, Tokens: 74657, AvgLen: 60.5, Batches: 39, Seed: 7, Source: "train <b>&amp; sample"},
		Options:        prune.Options{Reduction: 0.5, Lambda: 2.5e-4, Mu: 64, Temperature: 2, Runtime: prune.Runtime{Threads: 2}},
		TeacherSeconds: 3.25, TotalSeconds: 47.75, ORTSeconds: 31.5, PeakRSSBytes: 612_000_000,
		Versions:  prune.Versions{Kprune: "0.1.0-test", Go: "go1.26", ONNXRuntime: "1.30.0"},
		SelfCheck: &prune.SelfCheck{Loaded: true, Examples: 512, Agreement: 0.917375, MeanKL: 0.0123, MaxAbs: 1.5},
	}
	for s := 0; s < 8; s++ {
		l := s / 2
		it := prune.Iteration{Sublayer: s, Layer: l, Kind: "mha", Units: 4, Kept: after[l].Heads,
			PredMass: 0.01234 * float64(s+1), RepMass: 98765.4, Lambda: 2.5e-4, MeasureSeconds: 1.5, SearchSeconds: 0.01, TuneSeconds: 0.25, ORTSeconds: 1.25}
		if s%2 == 1 {
			it.Kind, it.Units, it.Kept = "ffn", 1024, after[l].FFN
		}
		it.Removed = it.Kept == 0
		r.Iterations = append(r.Iterations, it)
	}
	c := prune.Cost{Hidden: 256, HeadDim: 64, SeqLen: r.SeqLen}
	hb, nb := units(before)
	ha, na := units(after)
	r.FLOPsBefore, r.FLOPsAfter = c.Config(hb, nb), c.Config(ha, na)
	r.AchievedReduction = 1 - r.FLOPsAfter/r.FLOPsBefore
	return r
}

func f64(v float64) *float64 { return &v }

func sampleExtra() Extra {
	return Extra{
		Latency: []Latency{
			{Model: "model.onnx", Batch: 32, Seq: 128, Threads: 1, Runs: 20, Mean: 25 * time.Millisecond, P50: 24500 * time.Microsecond, P90: 27 * time.Millisecond},
			{Model: "pruned.onnx", Batch: 32, Seq: 128, Threads: 1, Runs: 20, Mean: 12500 * time.Microsecond, P50: 13100 * time.Microsecond, P90: 14 * time.Millisecond, Speedup: 1.87},
		},
		Metrics: []Metric{{Name: "SST-2 dev accuracy", Original: f64(0.9243), Pruned: f64(0.9015)}, {Name: "pruned-only F1", Pruned: f64(0.5)}},
		Plots: []Plot{{Title: "SST-2", Series: []Series{{Name: "K-prune", Points: []Point{{0.3, 0.92}, {0.6, 0.9}}}},
			Reference: &Line{Label: "unpruned", Y: 0.9243}}},
	}
}

func render(t *testing.T, r *prune.Report, e Extra) string {
	t.Helper()
	var b bytes.Buffer
	if err := HTML(&b, r, e); err != nil {
		t.Fatalf("HTML: %v", err)
	}
	return b.String()
}

// voidElements never have closing tags in HTML.
var voidElements = map[string]bool{"meta": true, "br": true, "hr": true, "img": true, "link": true, "input": true, "wbr": true}

var tagRe = regexp.MustCompile(`<(/?)([a-zA-Z][a-zA-Z0-9]*)([^>]*)>`)

// checkBalanced checks that every element (outside void ones and self-closing SVG ones) is
// closed in the order it was opened.
func checkBalanced(t *testing.T, doc string) {
	t.Helper()
	var stack []string
	for _, m := range tagRe.FindAllStringSubmatch(doc, -1) {
		closing, name, rest := m[1] == "/", strings.ToLower(m[2]), m[3]
		switch {
		case voidElements[name] || strings.HasSuffix(rest, "/"):
		case closing:
			if len(stack) == 0 || stack[len(stack)-1] != name {
				t.Fatalf("closing </%s> does not match the open elements %v", name, stack)
			}
			stack = stack[:len(stack)-1]
		default:
			stack = append(stack, name)
		}
	}
	if len(stack) != 0 {
		t.Fatalf("unclosed elements at the end: %v", stack)
	}
}

func TestHTMLContainsReportFigures(t *testing.T) {
	r := sampleReport(t)
	doc := render(t, r, sampleExtra())
	if !strings.HasPrefix(doc, "<!DOCTYPE html>") || !strings.HasSuffix(doc, "</html>\n") {
		t.Fatalf("not a complete HTML document: starts %q", doc[:40])
	}
	checkBalanced(t, doc)
	want := []string{
		"<title>kprune report: pruned.onnx</title>",
		"50.00%",                 // requested
		pct(r.AchievedReduction), // achieved
		"4,385,920", "2,101,234", // parameters
		"52.1% fewer", // 1 - 2101234/4385920
		"91.74%",      // agreement
		"1,234 sequences", "74,657 tokens", "39 batches",
		"total 47.8 s", "teacher pass 3.25 s", "onnxruntime 31.5 s", "612.0 MB",
		"train &lt;b&gt;&amp;amp; sample", // escaped, not interpreted
		"sublayer 2</span>: multi-head attention of layer 1",
		"sublayer 5</span>: feed-forward of layer 2",
		"3 / 4", "410 / 1024", "96 / 1024", "6 / 16", // kept units per layer and total
		"hidden size 256, head size 64", // inferred dimensions
		"SST-2 dev accuracy", "0.9243", "0.9015", "-0.0228",
		"24.50", "13.10", "1.87×", "1280.0", // latency: p50s, speed-up, 32 / 25 ms
		"0.09872", "9.877e+04", "0.00025", // iteration masses and lambda
		"0.1.0-test",
		"embedding (outputs sentence_embedding, token_embeddings)", "squared L2 distance to the teacher&#39;s sentence embedding",
		"read as standard ONNX: Attention ×4, SkipLayerNormalization ×8",
	}
	for _, s := range want {
		if !strings.Contains(doc, s) {
			t.Errorf("the page lacks %q", s)
		}
	}
	// Bars: one kept bar per layer with kept units, one original bar per layer, per chart.
	if n := strings.Count(doc, `class="kept"`); n != 6 {
		t.Errorf("%d kept bars, want 6 (two zero-width layers draw none)", n)
	}
	if n := strings.Count(doc, `class="original"`); n != 8 {
		t.Errorf("%d original bars, want 8", n)
	}
	// The FLOPs breakdown totals agree with the report.
	if !strings.Contains(doc, "<td>Total</td><td>"+flops(4*4*prune.Cost{Hidden: 256, HeadDim: 64, SeqLen: 60.5}.Head())+"</td>") {
		t.Error("the FLOPs breakdown has no total row with the original attention FLOPs")
	}
}

func TestHTMLSelfContained(t *testing.T) {
	doc := render(t, sampleReport(t), sampleExtra())
	for _, bad := range []string{"http://", "https://", "<script", "src=", "url(", "@import", "<link", "<img", "//fonts"} {
		if strings.Contains(strings.ToLower(doc), bad) {
			t.Errorf("the page contains %q: it must not reference anything outside itself", bad)
		}
	}
	if !strings.Contains(doc, "<style>") || strings.Count(doc, "<svg") != 3 {
		t.Errorf("want inline CSS and 3 inline SVGs (two bar charts, one plot), got %d SVGs", strings.Count(doc, "<svg"))
	}
}

func TestHTMLDeterministicAndMinimal(t *testing.T) {
	r, e := sampleReport(t), sampleExtra()
	if a, b := render(t, r, e), render(t, r, e); a != b {
		t.Fatal("two renderings of the same report differ")
	}
	// A bare report (no optional parts) still renders, without the optional sections.
	bare := &prune.Report{Method: "kprune", RequestedReduction: 0.3, AchievedReduction: 0.29, FLOPsBefore: 1e9, FLOPsAfter: 7.1e8,
		ParamsBefore: 10, ParamsAfter: 8, SeqLen: 32, Layers: lus(1, 3), LayersBefore: lus(2, 4)}
	doc := render(t, bare, Extra{Title: "A & B"})
	checkBalanced(t, doc)
	for _, absent := range []string{"Latency", "Iterations", "Quality", "Charts", "self-check"} {
		if strings.Contains(doc, absent) {
			t.Errorf("bare report shows a %q section", absent)
		}
	}
	for _, s := range []string{"<title>A &amp; B</title>", "No sublayer was removed", "could not be derived", "29.00%"} {
		if !strings.Contains(doc, s) {
			t.Errorf("bare report lacks %q", s)
		}
	}
}

type failWriter struct{ n int }

func (f *failWriter) Write(p []byte) (int, error) {
	if f.n -= len(p); f.n < 0 {
		return 0, errors.New("disk full")
	}
	return len(p), nil
}

func TestHTMLErrors(t *testing.T) {
	if err := HTML(&bytes.Buffer{}, nil, Extra{}); err == nil {
		t.Error("nil report accepted")
	}
	r := sampleReport(t)
	r.LayersBefore = r.LayersBefore[:3]
	if err := HTML(&bytes.Buffer{}, r, Extra{}); err == nil || !strings.Contains(err.Error(), "4 layers after pruning but 3 before") {
		t.Errorf("inconsistent layers: err = %v", err)
	}
	bad := Extra{Plots: []Plot{{Series: []Series{{Name: "empty"}}}}}
	if err := HTML(&bytes.Buffer{}, sampleReport(t), bad); err == nil || !strings.Contains(err.Error(), `"empty" has no points`) {
		t.Errorf("bad plot: err = %v", err)
	}
	if err := HTML(&failWriter{n: 5000}, sampleReport(t), sampleExtra()); err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Errorf("write error not returned: %v", err)
	}
}

func TestInferDims(t *testing.T) {
	r := sampleReport(t)
	if h, d, ok := inferDims(r); !ok || h != 256 || d != 64 {
		t.Fatalf("inferDims = %d, %d, %v; want 256, 64, true", h, d, ok)
	}
	r.FLOPsAfter *= 1.01 // no longer consistent with the cost model
	if _, _, ok := inferDims(r); ok {
		t.Fatal("inferDims accepted totals the cost model does not reproduce")
	}
	// Explicit dimensions are used as given.
	doc := render(t, r, Extra{Hidden: 256, HeadDim: 64})
	if !strings.Contains(doc, "hidden size 256, head size 64") {
		t.Fatal("explicit Hidden/HeadDim not used")
	}
}

// lus builds per-layer units from (heads, ffn) pairs.
func lus(v ...int) []prune.LayerUnits {
	var out []prune.LayerUnits
	for i := 0; i+1 < len(v); i += 2 {
		out = append(out, prune.LayerUnits{Heads: v[i], FFN: v[i+1]})
	}
	return out
}

// TestHTMLSettingAndTask: the page names the K-prune setting and shows the task metric of the
// original and the pruned model, and an embedding self-check as a cosine.
func TestHTMLSettingAndTask(t *testing.T) {
	r := sampleReport(t)
	r.Setting = "default"
	r.Task = &prune.TaskMetric{Data: "stsb-dev.csv", Examples: 1500, Metric: "spearman", Original: 0.8672, Pruned: 0.8666}
	r.SelfCheck = &prune.SelfCheck{Loaded: true, Examples: 10, Agreement: 0.93, Cosine: 0.93}
	var b strings.Builder
	if err := HTML(&b, r, Extra{}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"per example, automatic lambda", "spearman 0.8672 → 0.8666 on stsb-dev.csv (1500 examples)", "0.9300", "mean cosine with the original"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("page lacks %q", want)
		}
	}
}
