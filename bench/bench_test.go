package bench_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/kprune/kprune/bench"
	"github.com/kprune/kprune/demo"
	"github.com/kprune/kprune/graph"
	"github.com/kprune/kprune/onnx"
	ort "github.com/kprune/kprune/runtime"
)

// TestJSONKeys pins the keys of `kprune bench --json` (a documented interface).
func TestJSONKeys(t *testing.T) {
	r := bench.Result{Baseline: &bench.Model{}, Speedup: 1, SpeedupMean: 1}
	r.Model.FLOPs, r.Model.FLOPsError, r.Model.Hidden, r.Model.HeadDim = 1, "x", 1, 1
	r.Model.OptimizedNodes, r.Model.FusionError, r.Model.IntegerParams = 1, "x", 1
	r.Model.IntegerKernels = map[string]int{"MatMulInteger": 1}
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(b, &top); err != nil {
		t.Fatal(err)
	}
	var model map[string]json.RawMessage
	if err := json.Unmarshal(top["model"], &model); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		obj  map[string]json.RawMessage
		want string
	}{
		{"result", top, "baseline batch model runs seq speedup speedup_mean threads token_ids_below warmup"},
		{"model", model, "float_weight_matmuls flops flops_error fused_ops fused_total fusion_error head_dim hidden int8_params integer_kernels latency nodes optimized_nodes params path throughput"},
	}
	for _, c := range cases {
		keys := make([]string, 0, len(c.obj))
		for k := range c.obj {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		if got := strings.Join(keys, " "); got != c.want {
			t.Errorf("%s keys\n%s\nwant\n%s", c.name, got, c.want)
		}
	}
}

// TestAddInputs checks the synthetic inputs by role: ids below the vocabulary, a full mask, zero
// token types, positions; an input already fed is left alone.
func TestAddInputs(t *testing.T) {
	enc := &graph.Encoder{InputIDs: "ids", AttentionMask: "m", TokenTypeIDs: "tt", PositionIDs: "pos"}
	inputs := []ort.IOInfo{{Name: "ids", Elem: onnx.TensorProto_INT64}, {Name: "m", Elem: onnx.TensorProto_INT64},
		{Name: "tt", Elem: onnx.TensorProto_INT64}, {Name: "pos", Elem: onnx.TensorProto_INT32}, {Name: "given", Elem: onnx.TensorProto_INT64}}
	given := ort.I64Tensor([]int64{1}, []int64{7})
	feed := map[string]*ort.Tensor{"given": given}
	if err := bench.AddInputs(feed, inputs, "m.onnx", enc, 2, 3, 10); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name  string
		check func(v int64, i int) bool
	}{
		{"ids", func(v int64, _ int) bool { return v >= 1 && v < 10 }},
		{"m", func(v int64, _ int) bool { return v == 1 }},
		{"tt", func(v int64, _ int) bool { return v == 0 }},
		{"pos", func(v int64, i int) bool { return v == int64(i%3) }},
	}
	for _, c := range cases {
		x := feed[c.name]
		if x == nil || len(x.I64) != 6 {
			t.Fatalf("%s: %+v", c.name, x)
		}
		for i, v := range x.I64 {
			if !c.check(v, i) {
				t.Errorf("%s[%d] = %d", c.name, i, v)
			}
		}
	}
	if feed["given"] != given {
		t.Error("an input already fed was replaced")
	}
	bad := []ort.IOInfo{{Name: "x", Elem: onnx.TensorProto_INT64, Shape: []int64{4, 3}}}
	if err := bench.AddInputs(map[string]*ort.Tensor{}, bad, "m.onnx", nil, 2, 3, 10); err == nil || !strings.Contains(err.Error(), "fixed shape") {
		t.Errorf("fixed shape [4 3] for batch 2: %v", err)
	}
}

// TestRunDemo benchmarks the demo model against itself.
func TestRunDemo(t *testing.T) {
	p := filepath.Join(t.TempDir(), "model.onnx")
	if err := os.WriteFile(p, demo.Model, 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := bench.Run(context.Background(), p, p, bench.Options{Batch: 4, Seq: 16, Threads: 1, Warmup: 1, Runs: 3})
	if err != nil {
		t.Fatal(err)
	}
	if r.Baseline == nil || r.Model.Latency.Runs != 3 || r.TokenIDsBelow != 12010 || len(r.Model.Layers) != 2 || r.Model.FLOPs <= 0 || r.Speedup <= 0 {
		t.Fatalf("result %+v", r)
	}
	if _, err := bench.Run(context.Background(), p, "", bench.Options{Batch: 1, Seq: 4096, Runs: 1}); err == nil {
		t.Fatal("a sequence longer than the position table was measured")
	} else if se, ok := err.(*bench.SeqLenError); !ok || se.Max != 512 {
		t.Fatalf("want a SeqLenError at 512 tokens, got %v", err)
	}
}
