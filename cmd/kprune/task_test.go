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
	b, err := os.ReadFile(filepath.Join(dir, "p.json"))
	if err != nil {
		t.Fatal(err)
	}
	var rep struct {
		Setting string `json:"setting"`
		Task    *struct {
			Metric           string
			Examples         int
			Original, Pruned float64
		} `json:"task"`
	}
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Task == nil || rep.Task.Metric != "accuracy" || rep.Task.Examples != 872 || math.Abs(rep.Task.Original-demo.DevAccuracy) > 1e-4 || rep.Task.Pruned <= 0.5 {
		t.Fatalf("task metric %+v, want accuracy on 872 examples, original %.4f", rep.Task, demo.DevAccuracy)
	}
	if rep.Setting != "default" || !strings.Contains(stdout, "task metric      accuracy 0.8073 -> ") || !strings.Contains(stdout, "setting          default") {
		t.Fatalf("setting %q; summary:\n%s", rep.Setting, stdout)
	}
}
