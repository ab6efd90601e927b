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
