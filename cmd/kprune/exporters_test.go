package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/kprune/kprune/internal/testutil"
)

// TestExportersAgree prunes the same random-weight BERT classifier as exported by the classic
// torch.onnx exporter, the SDPA path, the dynamo exporter, optimum and optimum's O2 fusions
// (../shared/models/exports, one seed for all) on the same calibration rows: every export must
// keep the same units, and its pruned model must give the legacy export's pruned outputs
// (agreement 1, largest difference within float32 rounding of a re-associated graph).
func TestExportersAgree(t *testing.T) {
	variants := []string{"legacy", "sdpa", "dynamo", "optimum", "optimum-O2"}
	dir := t.TempDir()
	ids := idsFile(t, dir, 50, 120)
	type report struct {
		Layers   []struct{ Heads, FFN int }
		Achieved float64 `json:"achieved_flops_reduction"`
	}
	var first report
	for i, v := range variants {
		model := testutil.Shared(t, "models/exports/bert-seqcls-"+v+"/model.onnx")
		out := filepath.Join(dir, v+".onnx")
		if code, _, errOut := runCLI("prune", "--model", model, "--calib", ids, "--samples", "100", "--out", out, "--threads", "1"); code != 0 {
			t.Fatalf("%s: prune exit %d: %s", v, code, errOut)
		}
		b, err := os.ReadFile(filepath.Join(dir, v+".json"))
		if err != nil {
			t.Fatal(err)
		}
		var r report
		if err := json.Unmarshal(b, &r); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			first = r
			continue
		}
		if !reflect.DeepEqual(r, first) {
			t.Fatalf("%s kept %+v, the legacy export %+v", v, r, first)
		}
		code, js, errOut := runCLI("eval", "--model", out, "--teacher", filepath.Join(dir, "legacy.onnx"), "--data", ids, "--json", "--threads", "1")
		if code != 0 {
			t.Fatalf("%s: eval exit %d: %s", v, code, errOut)
		}
		var ev struct {
			Agreement *float64 `json:"agreement"`
			MaxAbs    *float64 `json:"max_abs_diff"`
		}
		if err := json.Unmarshal([]byte(js), &ev); err != nil {
			t.Fatal(err)
		}
		if ev.Agreement == nil || ev.MaxAbs == nil || *ev.Agreement != 1 || *ev.MaxAbs > 1e-5 {
			t.Fatalf("%s: pruned outputs differ from the legacy export's: %s", v, js)
		}
	}
}
