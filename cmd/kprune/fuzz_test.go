package main

import (
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/kprune/kprune/prune"
)

// FuzzPruneFlags runs `kprune prune` with arbitrary values of the numeric flags (and a model that
// does not exist, so that nothing long can start): never a panic and never success; a value the
// options reject is a usage error naming its flag, printed once; values that get past the checks
// are valid prune.Options.
func FuzzPruneFlags(f *testing.F) {
	f.Add("2.5e-4", "64", "2", "0", "0", "0", "0.5", "0")
	f.Add("NaN", "NaN", "0", "-1", "-1", "-1", "1", "-3")
	f.Add("Inf", "-Inf", "-2", "99999999999999999999", "x", "1e3", "0x1p-2", "")
	f.Add("-0", "+0", "1e-320", "3", "8", "4", "0.999999", "128")
	f.Fuzz(func(t *testing.T, lambda, mu, temperature, threads, microBatch, roundTo, reduction, seqLen string) {
		dir := t.TempDir()
		args := []string{"prune", "--model", filepath.Join(dir, "missing.onnx"), "--out", filepath.Join(dir, "out.onnx"), "--calib", filepath.Join(dir, "missing.tsv"),
			"--lambda=" + lambda, "--mu=" + mu, "--temperature=" + temperature, "--threads=" + threads, "--micro-batch=" + microBatch,
			"--round-to=" + roundTo, "--flops-reduction=" + reduction, "--seq-len=" + seqLen}
		code, _, errOut := runCLI(args...)
		switch code {
		case 2:
			if !strings.HasPrefix(errOut, "kprune prune: ") || !strings.Contains(errOut, "kprune prune -h") || strings.Contains(errOut, "usage:") {
				t.Fatalf("usage error without the one-line format: %q", errOut)
			}
		case 1:
			if !strings.Contains(errOut, "missing.onnx") {
				t.Fatalf("failed for another reason than the missing model: %q", errOut)
			}
			num := func(s string) float64 { v, _ := strconv.ParseFloat(s, 64); return v }
			whole := func(s string) int { v, _ := strconv.ParseInt(s, 0, 64); return int(v) }
			o := prune.Options{Lambda: num(lambda), Mu: num(mu), Temperature: num(temperature), Runtime: prune.Runtime{Threads: whole(threads), MicroBatch: whole(microBatch)},
				RoundTo: whole(roundTo), Reduction: num(reduction), SeqLen: num(seqLen)}
			if err := o.Validate(); err != nil {
				t.Fatalf("values got past the checks but are invalid: %v", err)
			}
		default:
			t.Fatalf("code %d, stderr %q", code, errOut)
		}
	})
}
