package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kprune/kprune/eval"
	"github.com/kprune/kprune/onnx"
	"github.com/kprune/kprune/pipeline"
	"github.com/kprune/kprune/prune"
	"github.com/kprune/kprune/quantize"
)

// quickBench are bench flags that keep the latency measurement short in tests.
var quickBench = []string{"--bench-threads", "1", "--bench-runs", "2", "--bench-warmup", "0", "--bench-batch", "4", "--bench-seq", "16"}

func readQuantizeRun(t *testing.T, path string) *pipeline.Quantization {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var r pipeline.Quantization
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	return &r
}

// TestQuantizeCommand quantizes the demo model dynamically and statically, per tensor and per
// channel, and checks the int8 model against the float one (accuracy on SST-2 dev, agreement)
// and the report.
func TestQuantizeCommand(t *testing.T) {
	dir, model, _, calib, dev := demoFiles(t)
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"dynamic", []string{"--eval", dev}},
		{"dynamic-per-channel", []string{"--eval", dev, "--per-channel"}},
		{"static", []string{"--mode", "static", "--calib", calib, "--eval", dev, "--samples", "64"}},
		{"static-per-channel-no-eval", []string{"--mode", "static", "--calib", calib, "--samples", "64", "--per-channel"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(dir, tc.name+".onnx")
			args := append([]string{"quantize", "--model", model, "--out", out, "--max-len", "64"}, tc.args...)
			code, stdout, errOut := runCLI(append(args, quickBench...)...)
			if code != 0 {
				t.Fatalf("code %d: %s", code, errOut)
			}
			if !strings.Contains(stdout, "quantized ") || !strings.Contains(stdout, "latency p50") {
				t.Errorf("no summary: %s", stdout)
			}
			r := readQuantizeRun(t, filepath.Join(dir, tc.name+".json"))
			q := r.Quantization
			if q == nil || len(q.Quantized) == 0 || q.Head != "classification" {
				t.Fatalf("quantization report %+v", q)
			}
			if (q.Mode == quantize.ModeStatic) != (q.Calibration != nil) {
				t.Errorf("mode %s with calibration %+v", q.Mode, q.Calibration)
			}
			if len(r.Models) != 2 || r.Models[1].Agreement == nil || r.Models[0].Metrics == nil {
				t.Fatalf("models %+v", r.Models)
			}
			if ag := r.Models[1].Agreement.Agreement; ag < 0.9 {
				t.Errorf("agreement with the float model %.3f", ag)
			}
			fa, qa := *r.Models[0].Metrics.Accuracy, *r.Models[1].Metrics.Accuracy
			if qa < fa-0.05 {
				t.Errorf("accuracy %.4f, float %.4f", qa, fa)
			}
			if r.Models[1].Bytes >= r.Models[0].Bytes || len(r.Models[1].Latency) != 1 {
				t.Errorf("int8 %d bytes vs float %d, latency %+v", r.Models[1].Bytes, r.Models[0].Bytes, r.Models[1].Latency)
			}
			qm, err := onnx.Load(out)
			if err != nil {
				t.Fatal(err)
			}
			if !quantize.IsQuantized(qm) {
				t.Error("the output is not quantized")
			}
		})
	}
	// Same input, same bytes.
	a, b := filepath.Join(dir, "det-a.onnx"), filepath.Join(dir, "det-b.onnx")
	for _, o := range []string{a, b} {
		if code, _, errOut := runCLI("quantize", "--model", model, "--out", o, "--mode", "static", "--calib", calib, "--samples", "32", "--no-bench", "--max-len", "64"); code != 0 {
			t.Fatalf("code %d: %s", code, errOut)
		}
	}
	ba, _ := os.ReadFile(a)
	bb, _ := os.ReadFile(b)
	if !bytes.Equal(ba, bb) {
		t.Error("two runs wrote different models")
	}
}

func TestQuantizeBadInput(t *testing.T) {
	dir, model, _, calib, _ := demoFiles(t)
	quantized := filepath.Join(dir, "q.onnx")
	if code, _, errOut := runCLI("quantize", "--model", model, "--out", quantized, "--no-bench"); code != 0 {
		t.Fatalf("code %d: %s", code, errOut)
	}
	relu := filepath.Join(dir, "relu.onnx")
	m := &onnx.ModelProto{IrVersion: ptr(int64(8)), OpsetImport: []*onnx.OperatorSetIdProto{{Version: ptr(int64(17))}}, Graph: &onnx.GraphProto{
		Node:   []*onnx.NodeProto{onnx.NewNode("Relu", "r", []string{"x"}, []string{"y"})},
		Input:  []*onnx.ValueInfoProto{onnx.NewValueInfo("x", onnx.TensorProto_FLOAT, []onnx.Dim{{Value: 2}})},
		Output: []*onnx.ValueInfoProto{onnx.NewValueInfo("y", onnx.TensorProto_FLOAT, []onnx.Dim{{Value: 2}})},
	}}
	if err := onnx.Save(relu, m, onnx.SaveOptions{}); err != nil {
		t.Fatal(err)
	}
	// Token ids beyond the demo model's vocabulary: calibration that does not fit.
	ids := idsFile(t, dir, 40000, 40)
	out := filepath.Join(dir, "out.onnx")
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"static without calib", []string{"--model", model, "--out", out, "--mode", "static"}, 2, "needs --calib"},
		{"bad mode", []string{"--model", model, "--out", out, "--mode", "fast"}, 2, "dynamic or static"},
		{"out is input", []string{"--model", model, "--out", model}, 2, "input model"},
		{"exists", []string{"--model", model, "--out", quantized}, 1, "already exists"},
		{"already quantized", []string{"--model", quantized, "--out", out}, 1, "already quantized"},
		{"no matmul", []string{"--model", relu, "--out", out}, 1, "no MatMul or Gemm"},
		{"calibration does not fit", []string{"--model", model, "--out", out, "--mode", "static", "--calib", ids, "--no-bench"}, 1, "vocabulary"},
		{"bad bench threads", []string{"--model", model, "--out", out, "--bench-threads", "x"}, 2, "--bench-threads"},
		{"bad exclude", []string{"--model", model, "--out", out, "--exclude", "nope", "--no-bench"}, 1, "nope"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, errOut := runCLI(append([]string{"quantize"}, tc.args...)...)
			if code != tc.code || !strings.Contains(errOut, tc.want) {
				t.Errorf("code %d (want %d), stderr %q (want %q)", code, tc.code, errOut, tc.want)
			}
			if _, err := os.Stat(out); err == nil {
				t.Errorf("%s was written", out)
				os.Remove(out)
			}
		})
	}
	// A quantized model keeps its refusal in prune, and eval, bench and inspect read it.
	if code, _, errOut := runCLI("prune", "--model", quantized, "--out", out, "--calib", calib); code != 1 || !strings.Contains(errOut, "prune the float model, then quantize") {
		t.Errorf("prune of a quantized model: code %d, %s", code, errOut)
	}
	if code, stdout, errOut := runCLI("inspect", quantized); code != 0 || !strings.Contains(stdout, "classification") {
		t.Errorf("inspect: code %d, %s %s", code, stdout, errOut)
	}
}

func ptr[T any](v T) *T { return &v }

// TestBenchIntegerKernels: bench names the integer kernels onnxruntime runs a quantized model on.
func TestBenchIntegerKernels(t *testing.T) {
	dir, model, _, calib, dev := demoFiles(t)
	for _, mode := range []string{"dynamic", "static"} {
		q := filepath.Join(dir, mode+".onnx")
		if code, _, errOut := runCLI("quantize", "--model", model, "--out", q, "--mode", mode, "--calib", calib, "--samples", "32", "--no-bench", "--max-len", "64"); code != 0 {
			t.Fatalf("code %d: %s", code, errOut)
		}
		r, _ := benchJSON(t, "--model", q, "--baseline", model, "--batch", "2", "--seq", "16", "--runs", "2", "--warmup", "0", "--threads", "1")
		k := r.Model.IntegerKernels
		if k["MatMulIntegerToFloat"]+k["DynamicQuantizeMatMul"] == 0 || k["MatMulInteger"] != 0 {
			t.Errorf("%s: integer kernels %v", mode, k)
		}
		if len(r.Baseline.IntegerKernels) != 0 || r.Model.IntegerParams == 0 || r.Model.FLOPs != r.Baseline.FLOPs {
			t.Errorf("%s: baseline kernels %v, int8 params %d, FLOPs %g vs %g", mode, r.Baseline.IntegerKernels, r.Model.IntegerParams, r.Model.FLOPs, r.Baseline.FLOPs)
		}
		code, stdout, errOut := runCLI("eval", "--model", q, "--data", dev, "--teacher", model, "--max-len", "64", "--json")
		if code != 0 {
			t.Fatalf("eval of the %s model: %s", mode, errOut)
		}
		var ev eval.Result
		if err := json.Unmarshal([]byte(stdout), &ev); err != nil {
			t.Fatal(err)
		}
		if ev.Accuracy == nil || ev.Agreement == nil || *ev.Agreement < 0.9 {
			t.Errorf("eval of the %s model: %s", mode, stdout)
		}
	}
}

// TestPruneQuantize prunes and quantizes in one run: three models side by side in the reports.
func TestPruneQuantize(t *testing.T) {
	dir, model, _, calib, dev := demoFiles(t)
	out := filepath.Join(dir, "pruned.onnx")
	args := []string{"prune", "--model", model, "--out", out, "--calib", calib, "--eval", dev, "--samples", "64", "--max-len", "64", "--quantize", "static", "--per-channel"}
	code, stdout, errOut := runCLI(append(args, quickBench...)...)
	if code != 0 {
		t.Fatalf("code %d: %s", code, errOut)
	}
	for _, p := range []string{out, filepath.Join(dir, "pruned-int8.onnx"), filepath.Join(dir, "pruned.json"), filepath.Join(dir, "pruned.html")} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("missing output: %v", err)
		}
	}
	if !strings.Contains(stdout, "pruned int8") {
		t.Errorf("no side-by-side table: %s", stdout)
	}
	b, err := os.ReadFile(filepath.Join(dir, "pruned.json"))
	if err != nil {
		t.Fatal(err)
	}
	var rep prune.Report
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Quantization == nil || rep.Quantization.Mode != quantize.ModeStatic || !rep.Quantization.PerChannel || len(rep.Models) != 3 {
		t.Fatalf("quantization %+v, %d models", rep.Quantization, len(rep.Models))
	}
	for i, m := range rep.Models {
		if m.Bytes == 0 || m.Metrics == nil || m.Metrics.Accuracy == nil || len(m.Latency) != 1 || (i > 0 && m.Agreement == nil) {
			t.Errorf("model %d: %+v", i, m)
		}
	}
	if rep.Models[2].Bytes >= rep.Models[1].Bytes || rep.Models[2].Int8Params == 0 {
		t.Errorf("int8 model of %d bytes, pruned float %d", rep.Models[2].Bytes, rep.Models[1].Bytes)
	}
	page, err := os.ReadFile(filepath.Join(dir, "pruned.html"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"pruned int8", "original float", "quantization"} {
		if !strings.Contains(string(page), want) {
			t.Errorf("HTML report lacks %q", want)
		}
	}
	// The int8 output is checked up front like the others.
	code, _, errOut = runCLI("prune", "--model", model, "--out", filepath.Join(dir, "other.onnx"), "--calib", calib, "--quantize", "dynamic", "--quantized-out", filepath.Join(dir, "pruned-int8.onnx"))
	if code == 0 || !strings.Contains(errOut, "exists") {
		t.Errorf("existing --quantized-out: code %d, %s", code, errOut)
	}
	if code, _, errOut := runCLI("prune", "--model", model, "--out", filepath.Join(dir, "other.onnx"), "--calib", calib, "--quantize", "int4"); code != 2 || !strings.Contains(errOut, "--quantize") {
		t.Errorf("bad --quantize: code %d, %s", code, errOut)
	}
}
