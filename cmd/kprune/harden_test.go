package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestPruneRejectsBadOptionsUpFront: nonsense option values are usage errors naming the flag,
// found before anything is read (the model and calibration paths here do not exist).
func TestPruneRejectsBadOptionsUpFront(t *testing.T) {
	dir := t.TempDir()
	base := []string{"prune", "--model", filepath.Join(dir, "missing.onnx"), "--out", filepath.Join(dir, "out.onnx"), "--calib", filepath.Join(dir, "missing.tsv")}
	cases := [][]string{
		{"--lambda", "NaN"}, {"--mu", "NaN"}, {"--lambda", "Inf"}, {"--lambda", "-1"}, {"--mu", "-1"},
		{"--temperature", "0"}, {"--temperature", "-2"}, {"--threads", "-1"}, {"--micro-batch", "-1"},
		{"--round-to", "-1"}, {"--seq-len", "-3"}, {"--flops-reduction", "NaN"}, {"--provider", "tpu"},
	}
	for _, c := range cases {
		code, _, errOut := runCLI(append(append([]string(nil), base...), c...)...)
		if code != 2 || !strings.Contains(errOut, c[0]) || strings.Contains(errOut, "missing") {
			t.Errorf("%s %s: code %d, stderr %q; want a usage error naming %s before any file is read", c[0], c[1], code, errOut, c[0])
		}
	}
}

// TestFormatFlag: a data file whose extension says nothing is read with --format, and the
// error without it names the flag that exists.
func TestFormatFlag(t *testing.T) {
	dir, model, vocab, _, dev := demoFiles(t)
	txt := filepath.Join(dir, "dev.txt")
	copyFile(t, dev, txt)
	code, _, errOut := runCLI("eval", "--model", model, "--tokenizer", vocab, "--data", txt)
	if code == 0 || !strings.Contains(errOut, "--format") {
		t.Fatalf("eval without --format: code %d, stderr %q; want advice naming --format", code, errOut)
	}
	code, out, errOut := runCLI("eval", "--model", model, "--tokenizer", vocab, "--data", txt, "--format", "tsv", "--max-len", "64")
	if code != 0 || !strings.Contains(out, "accuracy") {
		t.Fatalf("eval --format tsv: code %d, stdout %q, stderr %q", code, out, errOut)
	}
	missing := filepath.Join(dir, "missing")
	for _, args := range [][]string{
		{"prune", "--model", missing, "--out", filepath.Join(dir, "o.onnx"), "--calib", missing},
		{"eval", "--model", missing, "--data", missing},
		{"compare", "--model", missing, "--calib", missing, "--eval", missing, "--out", dir},
		{"tokenize", "--tokenizer", missing, "--data", missing},
	} {
		cmd := args[0]
		code, _, errOut := runCLI(append(args, "--format", "xml")...)
		if code != 2 || !strings.Contains(errOut, "xml") {
			t.Errorf("%s --format xml: code %d, stderr %q; want a usage error", cmd, code, errOut)
		}
	}
}

// TestLateFailuresUpFront: an unwritable output folder, --max-len or --seq beyond the model's
// position table, and unlabelled evaluation data fail before any long work, with clear errors.
func TestLateFailuresUpFront(t *testing.T) {
	dir, model, vocab, calib, dev := demoFiles(t)
	missing := filepath.Join(dir, "missing.tsv")
	// /proc refuses new files even to root; chmod would not stop a root test run.
	code, _, errOut := runCLI("prune", "--model", model, "--out", "/proc/kprune-out.onnx", "--calib", missing)
	if code == 0 || !strings.Contains(errOut, "not writable") {
		t.Errorf("unwritable folder: code %d, stderr %q; want 'not writable' before the calibration file is read", code, errOut)
	}
	out := filepath.Join(dir, "out.onnx")
	runs := [][]string{
		{"prune", "--model", model, "--out", out, "--calib", calib, "--max-len", "600"},
		{"eval", "--model", model, "--data", dev, "--max-len", "600"},
		{"eval", "--model", model, "--data", dev, "--teacher", model, "--max-len", "513"},
		{"bench", "--model", model, "--seq", "600", "--runs", "1"},
		{"compare", "--model", model, "--calib", calib, "--eval", dev, "--out", dir, "--max-len", "600"},
	}
	for _, args := range runs {
		code, _, errOut := runCLI(args...)
		if code != 2 || !strings.Contains(errOut, "at most 512 tokens") || strings.Contains(errOut, "onnxruntime") {
			t.Errorf("%v: code %d, stderr %q; want a usage error about the 512 positions", args, code, errOut)
		}
	}
	if _, err := os.Stat(out); err == nil {
		t.Error("an output was written")
	}
	// Unlabelled data: an error without --teacher, the agreement with it.
	unl := filepath.Join(dir, "unlabelled.tsv")
	if err := os.WriteFile(unl, []byte("sentence\na fine film\na dull film\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out2, errOut := runCLI("eval", "--model", model, "--tokenizer", vocab, "--data", unl)
	if code == 0 || !strings.Contains(errOut, "no labels") || !strings.Contains(errOut, "--teacher") {
		t.Errorf("eval on unlabelled data: code %d, stdout %q, stderr %q; want an error saying there are no labels", code, out2, errOut)
	}
	code, out2, errOut = runCLI("eval", "--model", model, "--tokenizer", vocab, "--data", unl, "--teacher", model)
	if code != 0 || !strings.Contains(out2, "agreement") || !strings.Contains(out2, "no labels") {
		t.Errorf("eval on unlabelled data with --teacher: code %d, stdout %q, stderr %q", code, out2, errOut)
	}
}
