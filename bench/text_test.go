package bench

import (
	"bytes"
	"testing"
	"time"

	"github.com/kprune/kprune/prune"
	ort "github.com/kprune/kprune/runtime"
)

// TestWriteText pins the text of a bench result with a baseline (what kprune bench prints).
func TestWriteText(t *testing.T) {
	var b bytes.Buffer
	lat := ort.LatencyStats{Runs: 20, Mean: 12 * time.Millisecond, P50: 11500 * time.Microsecond, P90: 13 * time.Millisecond}
	br := &Result{Batch: 2, Seq: 16, Runs: 20, Warmup: 5, TokenIDsBelow: 100,
		Model:    Model{Path: "/x/p.onnx", Params: 1000, FLOPs: 2e9, Layers: []prune.LayerUnits{{Heads: 1, FFN: 10}}, Latency: lat, Throughput: 166.7, Nodes: 50, OptimizedNodes: 30, Fused: map[string]int{"Attention": 1}},
		Baseline: &Model{Path: "/x/o.onnx", Params: 2000, FLOPsError: "no encoder", Latency: lat, Throughput: 150, Nodes: 60, FusionError: "x", Fused: map[string]int{"Attention": 2, "BiasGelu": 1}},
		Speedup:  1.5, SpeedupMean: 1.4}
	br.WriteText(&b)
	if got, want := b.String(), "kprune bench: batch 2 x seq 16, onnxruntime's default threads, 5 warm-up + 20 timed runs, interleaved, token ids < 100\n\n                                      model               baseline  \nfile                                  p.onnx              o.onnx    \nparameters                            1000                2000      \nencoder GFLOPs per sequence (seq 16)  2.000               n/a       \nheads / FFN neurons                   1 / 10 in 1 layers  n/a       \nlatency mean ms                       12.00               12.00     \nlatency p50 ms                        11.50               11.50     \nlatency p90 ms                        13.00               13.00     \nthroughput seq/s                      166.7               150.0     \nnodes (after ORT opt.)                50 (30)             60 (n/a)  \nfused ops (ORT)                       Attention 1         n/a       \ninteger kernels (ORT)                 none                n/a       \n\nspeed-up (baseline / model latency): 1.50x at p50, 1.40x at mean\nnote: /x/o.onnx: no FLOPs: no encoder\nnote: /x/o.onnx: fusion check failed: x\n"; got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}
