package output_test

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/kprune/kprune/demo"
	"github.com/kprune/kprune/onnx"
	"github.com/kprune/kprune/output"
	"github.com/kprune/kprune/prune"
)

// TestWriteIsAllOrNothing: a report that cannot be encoded (a NaN), or a cancellation during
// the write, leaves no model, no report and no temporary file; a good write leaves all three.
func TestWriteIsAllOrNothing(t *testing.T) {
	m, err := onnx.Decode(demo.Model)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	paths := []string{filepath.Join(dir, "p.onnx"), filepath.Join(dir, "p.json"), filepath.Join(dir, "p.html")}
	run := func(rep *prune.Report) output.Run {
		return output.Run{Models: []output.Model{{Path: paths[0], Model: m}}, ReportPath: paths[1], HTMLPath: paths[2], Report: rep}
	}
	bad := &prune.Report{Method: "kprune", SelfCheck: &prune.SelfCheck{MeanKL: math.Inf(1)}}
	if err := output.WriteRun(context.Background(), run(bad)); err == nil {
		t.Fatal("a report with +Inf was written")
	}
	checkEmpty(t, dir)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := output.WriteRun(ctx, run(&prune.Report{Method: "kprune"})); err == nil {
		t.Fatal("a cancelled write succeeded")
	}
	checkEmpty(t, dir)
	if err := output.WriteRun(context.Background(), run(&prune.Report{Method: "kprune"})); err != nil {
		t.Fatal(err)
	}
	for _, p := range paths {
		if _, err := os.Stat(p); err != nil {
			t.Fatal(err)
		}
	}
}

// checkEmpty fails when dir holds any file.
func checkEmpty(t *testing.T, dir string) {
	t.Helper()
	es, _ := os.ReadDir(dir)
	for _, e := range es {
		t.Errorf("left behind: %s", e.Name())
	}
}

// TestCheck: a missing folder, an existing file without force and a folder in place of a file
// are refused; force allows an existing file.
func TestCheck(t *testing.T) {
	dir := t.TempDir()
	existing := filepath.Join(dir, "x.onnx")
	if err := os.WriteFile(existing, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name  string
		force bool
		path  string
		ok    bool
	}{
		{"new file", false, filepath.Join(dir, "new.onnx"), true},
		{"missing folder", false, filepath.Join(dir, "no", "new.onnx"), false},
		{"existing file", false, existing, false},
		{"existing file, forced", true, existing, true},
		{"folder", true, dir, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, err := output.Check(c.force, c.path); (err == nil) != c.ok {
				t.Fatalf("Check(%v, %s): error %v, want ok=%v", c.force, c.path, err, c.ok)
			}
		})
	}
}
