package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// TestBucketChangesOnlyTime proves that grouping calibration batches by length, on by default
// with the default setting, changes nothing but time there: pruned with and without --bucket,
// the demo model keeps the same units in every layer and the two pruned models agree on every
// SST-2 dev sentence with logits equal up to float32 rounding of re-ordered sums (the tuned
// weights are solved from Gram matrices summed in another order). With --faithful the
// reference's squared batch gradient depends on which sequences share a batch, so there
// --bucket is an opt-in speed-up and off by default.
func TestBucketChangesOnlyTime(t *testing.T) {
	if testing.Short() {
		t.Skip("prunes the demo model twice")
	}
	dir, model, vocab, calib, dev := demoFiles(t)
	type rep struct {
		Layers      []struct{ Heads, FFN int }
		Setting     string
		Calibration struct {
			Tokens       int `json:"tokens"`
			PaddedTokens int `json:"padded_tokens"`
		}
	}
	var reps [2]rep
	for i, bucket := range []string{"--bucket=true", "--bucket=false"} {
		out := filepath.Join(dir, []string{"on", "off"}[i]+".onnx")
		if code, _, errOut := runCLI("prune", "--model", model, "--tokenizer", vocab, "--calib", calib, "--out", out, "--threads", "1", "--flops-reduction", "0.6", "--samples", "800", bucket); code != 0 {
			t.Fatalf("prune %s: exit %d: %s", bucket, code, errOut)
		}
		b, err := os.ReadFile(filepath.Join(dir, []string{"on", "off"}[i]+".json"))
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, &reps[i]); err != nil {
			t.Fatal(err)
		}
	}
	if reps[0].Setting != "default" || reps[0].Calibration.Tokens != reps[1].Calibration.Tokens {
		t.Fatalf("runs differ in setting or calibration: %+v vs %+v", reps[0], reps[1])
	}
	if reps[0].Calibration.PaddedTokens >= reps[1].Calibration.PaddedTokens {
		t.Fatalf("bucketing did not reduce padding: %d vs %d padded tokens", reps[0].Calibration.PaddedTokens, reps[1].Calibration.PaddedTokens)
	}
	if !reflect.DeepEqual(reps[0].Layers, reps[1].Layers) {
		t.Fatalf("kept units differ: with --bucket %+v, without %+v", reps[0].Layers, reps[1].Layers)
	}
	code, js, errOut := runCLI("eval", "--model", filepath.Join(dir, "on.onnx"), "--teacher", filepath.Join(dir, "off.onnx"), "--tokenizer", vocab, "--data", dev, "--json", "--threads", "1")
	if code != 0 {
		t.Fatalf("eval: exit %d: %s", code, errOut)
	}
	var ev struct {
		Agreement *float64 `json:"agreement"`
		MaxAbs    *float64 `json:"max_abs_diff"`
	}
	if err := json.Unmarshal([]byte(js), &ev); err != nil {
		t.Fatal(err)
	}
	if ev.Agreement == nil || ev.MaxAbs == nil || *ev.Agreement != 1 || *ev.MaxAbs > 1e-3 {
		t.Fatalf("with and without --bucket the pruned models differ: %s", js)
	}
	t.Logf("padded tokens %d with --bucket, %d without; logits within %.2g", reps[0].Calibration.PaddedTokens, reps[1].Calibration.PaddedTokens, *ev.MaxAbs)
}
