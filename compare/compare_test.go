package compare_test

import (
	"context"
	"encoding/csv"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kprune/kprune/compare"
	"github.com/kprune/kprune/data"
	"github.com/kprune/kprune/demo"
	"github.com/kprune/kprune/prune"
)

// TestPlot: failed runs are left out, one series per method in first-seen order, the unpruned
// value as the reference line.
func TestPlot(t *testing.T) {
	res := &compare.Result{Metric: "accuracy", Eval: "/d/dev.tsv", Unpruned: compare.Row{Value: 0.8}, Rows: []compare.Row{
		{Method: "kwon", AchievedFLOPs: 0.4, Value: 0.7}, {Method: "kprune", AchievedFLOPs: 0.4, Value: 0.75},
		{Method: "kwon", AchievedFLOPs: 0.6, Value: 0.6}, {Method: "magnitude", Error: "boom"}}}
	p := compare.Plot(res)
	if p.Title != "accuracy on dev.tsv vs FLOPs reduction" || p.Reference == nil || p.Reference.Y != 0.8 {
		t.Fatalf("plot %+v", p)
	}
	want := []struct {
		name   string
		points int
	}{{"Kwon et al.", 2}, {"K-prune", 1}}
	if len(p.Series) != len(want) {
		t.Fatalf("%d series, want %d", len(p.Series), len(want))
	}
	for i, w := range want {
		if p.Series[i].Name != w.name || len(p.Series[i].Points) != w.points {
			t.Errorf("series %d: %s with %d points, want %s with %d", i, p.Series[i].Name, len(p.Series[i].Points), w.name, w.points)
		}
	}
	if res.Failed() != 1 {
		t.Errorf("Failed() = %d", res.Failed())
	}
}

// TestModelPath pins the file names of saved models.
func TestModelPath(t *testing.T) {
	cases := []struct {
		method string
		r      float64
		want   string
	}{{"kprune", 0.5, "kprune-50.onnx"}, {"kwon", 0.05, "kwon-05.onnx"}, {"magnitude", 0.755, "magnitude-76.onnx"}}
	for _, c := range cases {
		if got := compare.ModelPath("d", c.method, c.r); got != filepath.Join("d", c.want) {
			t.Errorf("ModelPath(%s, %v) = %s, want d/%s", c.method, c.r, got, c.want)
		}
	}
}

// TestSweepDemo runs magnitude pruning at two reductions on the demo model without latency and
// writes the three files.
func TestSweepDemo(t *testing.T) {
	ctx := context.Background()
	m, err := demo.LoadModel()
	if err != nil {
		t.Fatal(err)
	}
	tok, err := demo.Tokenizer()
	if err != nil {
		t.Fatal(err)
	}
	_, enc, _, _, err := prune.Structure(m)
	if err != nil {
		t.Fatal(err)
	}
	_, encs, err := prune.ReadEncoded(tok, "calib.tsv", demo.CalibTSV, data.ReadOptions{}, demo.MaxLen)
	if err != nil {
		t.Fatal(err)
	}
	cs, err := prune.BuildCalibration(tok, encs, prune.CalibOptions{Samples: 32})
	if err != nil {
		t.Fatal(err)
	}
	dev := filepath.Join(t.TempDir(), "dev.tsv")
	lines := strings.SplitAfter(string(demo.DevTSV), "\n")
	if err := os.WriteFile(dev, []byte(strings.Join(lines[:101], "")), 0o644); err != nil {
		t.Fatal(err)
	}
	ev, err := compare.LoadEvalSet(ctx, m, enc, tok, dev, data.ReadOptions{}, demo.MaxLen, 1)
	if err != nil {
		t.Fatal(err)
	}
	method, _ := prune.NewMethod("magnitude")
	done := 0
	sw := &compare.Sweep{Model: m, Encoder: enc, Calibration: prune.Calibration{Batches: cs.Batches}, Methods: []prune.Method{method},
		Reductions: []float64{0.3, 0.6}, Eval: ev, Threads: 1, Observe: compare.Observer{Done: func(*compare.Row) { done++ }}}
	res, err := sw.Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if done != 2 || len(res.Rows) != 2 || res.Metric != "accuracy" || res.Examples != 100 || res.Failed() != 0 {
		t.Fatalf("%d events, result %+v", done, res)
	}
	for _, r := range res.Rows {
		if r.AchievedFLOPs < r.RequestedReduction || r.Value <= 0 || r.Params >= res.Unpruned.Params {
			t.Errorf("row %+v", r)
		}
	}
	files := compare.FilesIn(t.TempDir())
	if err := compare.Write(ctx, files, res); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(files.CSV)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil || len(recs) != 4 || strings.Join(recs[0], ",") != strings.Join(compare.CSVHeader, ",") {
		t.Fatalf("compare.csv: %v %v", recs, err)
	}
}
