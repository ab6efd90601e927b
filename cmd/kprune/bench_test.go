package main

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/kprune/kprune/bench"
	"github.com/kprune/kprune/demo"
	"github.com/kprune/kprune/onnx"
	"github.com/kprune/kprune/prune"
	ort "github.com/kprune/kprune/runtime"
)

// writeDemoModel writes the embedded demo model (2 layers, hidden 128, 2 heads of 64, FFN 512)
// to a temporary file.
func writeDemoModel(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "model.onnx")
	if err := os.WriteFile(p, demo.Model, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// benchJSON runs `kprune bench --json` with args and decodes its output.
func benchJSON(t *testing.T, args ...string) (*bench.Result, map[string]any) {
	t.Helper()
	code, out, errOut := runCLI(append([]string{"bench", "--json"}, args...)...)
	if code != 0 {
		t.Fatalf("bench failed (%d): %s", code, errOut)
	}
	var r bench.Result
	var raw map[string]any
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("bench --json printed invalid JSON: %v\n%s", err, out)
	}
	if err := json.Unmarshal([]byte(out), &raw); err != nil {
		t.Fatal(err)
	}
	return &r, raw
}

func TestBenchAgainstItself(t *testing.T) {
	model := writeDemoModel(t)
	r, raw := benchJSON(t, "--model", model, "--baseline", model, "--batch", "8", "--seq", "32", "--threads", "1", "--runs", "15", "--warmup", "2")
	sp, ok := raw["speedup"].(float64)
	if !ok {
		t.Fatalf("no speedup in the JSON output: %v", raw)
	}
	if r.Baseline == nil || r.Model.Latency.Runs != 15 || r.Baseline.Latency.Runs != 15 {
		t.Fatalf("want 15 timed runs of both models, got %+v / %+v", r.Model.Latency, r.Baseline)
	}
	// No timing assertion (the machine is shared): the speed-up must be the ratio of the reported
	// latencies, as the flag's documentation says.
	if want := float64(r.Baseline.Latency.P50) / float64(r.Model.Latency.P50); math.Abs(sp-want) > 1e-9*want {
		t.Fatalf("speed-up %v, want baseline p50 / model p50 = %v", sp, want)
	}
	if want := float64(r.Baseline.Latency.Mean) / float64(r.Model.Latency.Mean); math.Abs(r.SpeedupMean-want) > 1e-9*want {
		t.Fatalf("mean speed-up %v, want baseline mean / model mean = %v", r.SpeedupMean, want)
	}
	for _, bm := range []*bench.Model{&r.Model, r.Baseline} {
		if bm.Latency.P50 <= 0 || bm.Latency.P90 < bm.Latency.P50 || bm.Throughput <= 0 {
			t.Errorf("%s: implausible latency %+v, throughput %v", bm.Path, bm.Latency, bm.Throughput)
		}
		// 8 sequences per mean latency.
		if want := 8 / bm.Latency.Mean.Seconds(); bm.Throughput < 0.999*want || bm.Throughput > 1.001*want {
			t.Errorf("throughput %v, want batch / mean = %v", bm.Throughput, want)
		}
	}
	// Parameters and FLOPs of the demo encoder at seq 32: per head 8*128*64*32 + 4*32^2*64,
	// per neuron 4*32*128; 2 layers of 2 heads and 512 neurons.
	m, err := onnx.Decode(demo.Model)
	if err != nil {
		t.Fatal(err)
	}
	if r.Model.Params != prune.Params(m) || r.Model.Params != 2016642 {
		t.Errorf("params = %d, want 2016642", r.Model.Params)
	}
	if r.Model.FLOPsError != "" {
		t.Fatalf("FLOPs not computed: %s", r.Model.FLOPsError)
	}
	head := 8.0*128*64*32 + 4*32*32*64
	neuron := 4.0 * 32 * 128
	if want := 2 * (2*head + 512*neuron); r.Model.FLOPs != want {
		t.Errorf("FLOPs = %v, want %v", r.Model.FLOPs, want)
	}
	if r.TokenIDsBelow < 1000 {
		t.Errorf("token ids bounded by %d: the demo vocabulary was not found", r.TokenIDsBelow)
	}
	// onnxruntime's optimiser fuses the unfused export (at least its GELUs and LayerNorms).
	if r.Model.FusionError != "" || r.Model.FusedTotal == 0 || r.Model.OptimizedNodes >= r.Model.Nodes {
		t.Errorf("fusion check: error %q, fused %v, nodes %d -> %d", r.Model.FusionError, r.Model.Fused, r.Model.Nodes, r.Model.OptimizedNodes)
	}
	if r.Model.FusedTotal != r.Baseline.FusedTotal {
		t.Errorf("the same model fuses differently: %v vs %v", r.Model.Fused, r.Baseline.Fused)
	}
}

func TestBenchSingleModelHuman(t *testing.T) {
	model := writeDemoModel(t)
	_, raw := benchJSON(t, "--model", model, "--batch", "2", "--seq", "16", "--threads", "1", "--runs", "2", "--warmup", "0")
	if _, ok := raw["speedup"]; ok {
		t.Error("speedup reported without a baseline")
	}
	if _, ok := raw["baseline"]; ok {
		t.Error("baseline entry without a baseline")
	}
	code, out, errOut := runCLI("bench", "--model", model, "--baseline", model, "--batch", "2", "--seq", "16", "--threads", "1", "--runs", "2", "--warmup", "0")
	if code != 0 {
		t.Fatalf("bench failed (%d): %s", code, errOut)
	}
	for _, s := range []string{"latency p50 ms", "throughput seq/s", "fused ops (ORT)", "encoder GFLOPs per sequence (seq 16)", "speed-up (baseline / model latency)", "2016642"} {
		if !strings.Contains(out, s) {
			t.Errorf("human output lacks %q:\n%s", s, out)
		}
	}
}

// TestBenchNonEncoder benches a model that is not an encoder: FLOPs are left out with a reason,
// and token ids stay below its embedding table's size (onnxruntime rejects out-of-range ids).
func TestBenchNonEncoder(t *testing.T) {
	dims := []onnx.Dim{{Param: "batch"}, {Param: "seq"}}
	emb := make([]float32, 50*4)
	g := &onnx.GraphProto{
		Name:        proto.String("embed-only"),
		Input:       []*onnx.ValueInfoProto{onnx.NewValueInfo("ids", onnx.TensorProto_INT64, dims)},
		Output:      []*onnx.ValueInfoProto{onnx.NewValueInfo("out", onnx.TensorProto_FLOAT, nil)},
		Initializer: []*onnx.TensorProto{onnx.NewFloatTensor("emb", []int64{50, 4}, emb)},
		Node:        []*onnx.NodeProto{onnx.NewNode("Gather", "gather", []string{"emb", "ids"}, []string{"out"})},
	}
	m := &onnx.ModelProto{IrVersion: proto.Int64(8), OpsetImport: []*onnx.OperatorSetIdProto{{Version: proto.Int64(14)}}, Graph: g}
	path := filepath.Join(t.TempDir(), "embed.onnx")
	if err := onnx.Save(path, m, onnx.SaveOptions{}); err != nil {
		t.Fatal(err)
	}
	r, _ := benchJSON(t, "--model", path, "--batch", "4", "--seq", "64", "--threads", "1", "--runs", "2", "--warmup", "1")
	if r.TokenIDsBelow != 50 {
		t.Errorf("token ids below %d, want the table's 50 rows", r.TokenIDsBelow)
	}
	if r.Model.FLOPs != 0 || !strings.Contains(r.Model.FLOPsError, "not recognised") {
		t.Errorf("FLOPs %v, error %q: want none, with a reason", r.Model.FLOPs, r.Model.FLOPsError)
	}
	if r.Model.Params != 200 || r.Model.Latency.Runs != 2 {
		t.Errorf("params %d, runs %d", r.Model.Params, r.Model.Latency.Runs)
	}
}

func TestBenchBadArguments(t *testing.T) {
	model := writeDemoModel(t)
	missing := filepath.Join(t.TempDir(), "nope.onnx")
	cases := []struct {
		args []string
		code int
		want string
	}{
		{[]string{}, 2, "--model is required"},
		{[]string{"--model", model, "--runs", "0"}, 2, "--runs"},
		{[]string{"--model", model, "--batch", "-1"}, 2, "--batch"},
		{[]string{"--model", model, "extra"}, 2, "unexpected argument"},
		{[]string{"--model", missing}, 1, "nope.onnx"},
		{[]string{"--model", model, "--baseline", missing}, 1, "nope.onnx"},
	}
	for _, c := range cases {
		code, _, errOut := runCLI(append([]string{"bench"}, c.args...)...)
		if code != c.code || !strings.Contains(errOut, c.want) {
			t.Errorf("bench %v: code %d, stderr %q; want code %d mentioning %q", c.args, code, errOut, c.code, c.want)
		}
	}
}

// TestReportCommand renders a saved report with the latency of a saved bench result.
func TestReportCommand(t *testing.T) {
	dir := t.TempDir()
	rep := prune.Report{Method: "kprune", RequestedReduction: 0.5, AchievedReduction: 0.4913, SeqLen: 64, FLOPsBefore: 2e9, FLOPsAfter: 1.0174e9,
		ParamsBefore: 2016642, ParamsAfter: 1500001, Layers: []prune.LayerUnits{{Heads: 1, FFN: 300}, {Heads: 0, FFN: 200}},
		LayersBefore: []prune.LayerUnits{{Heads: 2, FFN: 512}, {Heads: 2, FFN: 512}}, RemovedSublayers: []int{2}}
	res := bench.Result{Batch: 32, Seq: 128, Threads: 1, Runs: 20,
		Model:    bench.Model{Path: "/x/pruned.onnx", Latency: latencyOf(20, 10e6), Throughput: 3200},
		Baseline: &bench.Model{Path: "/x/model.onnx", Latency: latencyOf(20, 19e6), Throughput: 1684.2}, Speedup: 1.9}
	in, benchPath, out := filepath.Join(dir, "run.json"), filepath.Join(dir, "bench.json"), filepath.Join(dir, "run.html")
	for p, v := range map[string]any{in: rep, benchPath: res} {
		b, _ := json.Marshal(v)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	code, stdout, errOut := runCLI("report", "--in", in, "--bench", benchPath)
	if code != 0 {
		t.Fatalf("report failed (%d): %s", code, errOut)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatalf("default output %s not written (%s): %v", out, stdout, err)
	}
	doc := string(b)
	for _, s := range []string{"49.13%", "2,016,642", "1,500,001", "model.onnx", "pruned.onnx", "1.90×", "3200.0", "sublayer 2"} {
		if !strings.Contains(doc, s) {
			t.Errorf("report page lacks %q", s)
		}
	}
	if strings.Contains(doc, "http") {
		t.Error("report page references a URL")
	}
	// Errors name the file.
	bad := filepath.Join(dir, "bad.json")
	os.WriteFile(bad, []byte(`{"not": "a bench"}`), 0o644)
	for _, c := range [][]string{{"--in", filepath.Join(dir, "missing.json")}, {"--force", "--in", in, "--bench", bad}, {"--in", bad, "--out", filepath.Join(dir, "x.html")}} {
		code, _, errOut := runCLI(append([]string{"report"}, c...)...)
		name := filepath.Base(c[len(c)-1])
		if c[len(c)-2] == "--out" {
			name = filepath.Base(c[1])
		}
		if code != 1 || !strings.Contains(errOut, name) {
			t.Errorf("report %v: code %d, stderr %q; want a failure naming %s", c, code, errOut, name)
		}
	}
	if code, _, _ := runCLI("report", "--in", in, "--out", in); code != 2 {
		t.Errorf("--out equal to --in: code %d, want 2", code)
	}
}

// latencyOf is a latency summary whose every statistic is ns nanoseconds.
func latencyOf(runs int, ns float64) ort.LatencyStats {
	d := time.Duration(ns)
	return ort.LatencyStats{Runs: runs, Mean: d, P50: d, P90: d, Min: d, Max: d}
}
