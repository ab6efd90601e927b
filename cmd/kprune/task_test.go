package main

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kprune/kprune/demo"
)

// TestPruneReportsTaskMetric: with labelled --eval data the run report holds the task metric of
// the original and the pruned model, and the summary prints it; the original's is the demo
// model's known SST-2 dev accuracy.
func TestPruneReportsTaskMetric(t *testing.T) {
	dir, model, vocab, calib, dev := demoFiles(t)
	out := filepath.Join(dir, "p.onnx")
	code, stdout, errOut := runCLI("prune", "--model", model, "--tokenizer", vocab, "--calib", calib, "--eval", dev, "--samples", "200", "--out", out, "--threads", "1")
	if code != 0 {
		t.Fatalf("prune: exit %d: %s", code, errOut)
	}
	rep := readJSON[struct {
		Setting string `json:"setting"`
		Task    *struct {
			Metric           string
			Examples         int
			Original, Pruned float64
		} `json:"task"`
		Calibration struct{ Tokenizer string } `json:"calibration"`
	}](t, filepath.Join(dir, "p.json"))
	if rep.Calibration.Tokenizer != vocab || !strings.Contains(stdout, "tokenized by "+vocab) {
		t.Fatalf("report's tokenizer %q, want %s; summary:\n%s", rep.Calibration.Tokenizer, vocab, stdout)
	}
	if rep.Task == nil || rep.Task.Metric != "accuracy" || rep.Task.Examples != 872 || math.Abs(rep.Task.Original-demo.DevAccuracy) > 1e-4 || rep.Task.Pruned <= 0.5 {
		t.Fatalf("task metric %+v, want accuracy on 872 examples, original %.4f", rep.Task, demo.DevAccuracy)
	}
	if rep.Setting != "default" || !strings.Contains(stdout, "task metric      accuracy 0.8073 -> ") || !strings.Contains(stdout, "setting          default") {
		t.Fatalf("setting %q; summary:\n%s", rep.Setting, stdout)
	}
}

// TestStringLabels: a data file with string labels is scored with the model's own class order:
// from the config.json beside the model (id2label, case aside), or from --label-names; a
// config.json with the classes the other way round gives the complementary accuracy, which
// shows the order is used.
func TestStringLabels(t *testing.T) {
	dir, model, vocab, _, dev := demoFiles(t)
	b, err := os.ReadFile(dev)
	if err != nil {
		t.Fatal(err)
	}
	named := strings.NewReplacer("\t0\n", "\tnegative\n", "\t1\n", "\tpositive\n").Replace(string(b))
	namedDev := filepath.Join(dir, "dev-named.tsv")
	if err := os.WriteFile(namedDev, []byte(named), 0o644); err != nil {
		t.Fatal(err)
	}
	accuracy := func(data string, extra ...string) float64 {
		t.Helper()
		code, stdout, errOut := runCLI(append([]string{"eval", "--model", model, "--tokenizer", vocab, "--data", data, "--json", "--threads", "1"}, extra...)...)
		var r struct {
			Accuracy *float64 `json:"accuracy"`
		}
		if code != 0 || json.Unmarshal([]byte(stdout), &r) != nil || r.Accuracy == nil {
			t.Fatalf("eval %s %v: exit %d: %s %s", data, extra, code, stdout, errOut)
		}
		return *r.Accuracy
	}
	want := accuracy(dev)
	if got := accuracy(namedDev, "--label-names", "negative,positive"); got != want {
		t.Fatalf("--label-names: accuracy %g, want %g as with integer labels", got, want)
	}
	cfg := filepath.Join(dir, "config.json")
	for _, tc := range []struct {
		id2label string
		want     float64
	}{
		{`{"0": "NEGATIVE", "1": "POSITIVE"}`, want},
		{`{"0": "POSITIVE", "1": "NEGATIVE"}`, 1 - want},
	} {
		if err := os.WriteFile(cfg, []byte(`{"id2label": `+tc.id2label+`}`), 0o644); err != nil {
			t.Fatal(err)
		}
		if got := accuracy(namedDev); math.Abs(got-tc.want) > 1e-12 {
			t.Fatalf("id2label %s: accuracy %g, want %g", tc.id2label, got, tc.want)
		}
	}
}
