package main

import (
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
