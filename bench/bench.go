// Package bench measures what a pruned (or quantized) model costs to run: onnxruntime latency
// on synthetic batches, with two or more models timed in one interleaved run; the model's
// parameters, encoder FLOPs and structure; the operators onnxruntime fuses and the integer
// kernels it runs. Its result types are the documented JSON of `kprune bench --json`.
//
// It is not for accuracy (package eval) nor for pruning (package prune).
package bench

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/kprune/kprune/graph"
	"github.com/kprune/kprune/onnx"
	"github.com/kprune/kprune/prune"
	"github.com/kprune/kprune/report"
	ort "github.com/kprune/kprune/runtime"
)

// Model is one model's figures (the "model" and "baseline" objects of `kprune bench --json`).
type Model struct {
	Path   string `json:"path"`
	Params int64  `json:"params"`
	// FLOPs are the encoder FLOPs of the cost model at the benchmark's sequence length; absent
	// (with FLOPsError saying why) when the encoder structure was not recognised.
	FLOPs      float64            `json:"flops,omitempty"`
	FLOPsError string             `json:"flops_error,omitempty"`
	Hidden     int                `json:"hidden,omitempty"`
	HeadDim    int                `json:"head_dim,omitempty"`
	Layers     []prune.LayerUnits `json:"layers,omitempty"`
	Latency    ort.LatencyStats   `json:"latency"`
	// Throughput is in sequences per second (batch size / mean latency).
	Throughput float64 `json:"throughput"`
	// Nodes and OptimizedNodes count graph nodes before and after onnxruntime's optimiser; Fused
	// counts, by op type, the nodes of the optimised graph that fusions produced: com.microsoft
	// operators (Attention, SkipLayerNormalization, BiasGelu, FusedMatMul...) and standard operators
	// absent from the original graph (e.g. LayerNormalization fused from its decomposed form).
	Nodes          int            `json:"nodes"`
	OptimizedNodes int            `json:"optimized_nodes,omitempty"`
	Fused          map[string]int `json:"fused_ops"`
	FusedTotal     int            `json:"fused_total"`
	FusionError    string         `json:"fusion_error,omitempty"`
	// IntegerKernels counts, by op type, the integer-kernel nodes of onnxruntime's optimised
	// graph (DynamicQuantizeMatMul, MatMulIntegerToFloat, QLinearMatMul, MatMulInteger,
	// DynamicQuantizeLinear, QuantizeLinear/DequantizeLinear...): empty for a float model.
	// FloatWeightMatMuls counts the float MatMul/Gemm nodes with a constant weight left beside
	// them; IntegerParams the elements of the 8-bit integer initializers.
	IntegerKernels     map[string]int `json:"integer_kernels,omitempty"`
	FloatWeightMatMuls int            `json:"float_weight_matmuls"`
	IntegerParams      int64          `json:"int8_params,omitempty"`

	model *onnx.ModelProto
	// std is the model in standard ONNX (model itself unless onnxruntime-fused), for structure checks.
	std   *onnx.ModelProto
	enc   *graph.Encoder
	vocab int
}

// Result is what `kprune bench --json` prints.
type Result struct {
	Batch   int `json:"batch"`
	Seq     int `json:"seq"`
	Threads int `json:"threads"` // 0: onnxruntime's default
	Warmup  int `json:"warmup"`
	Runs    int `json:"runs"`
	// TokenIDsBelow is the bound of the random token ids (the smallest vocabulary found).
	TokenIDsBelow int    `json:"token_ids_below"`
	Model         Model  `json:"model"`
	Baseline      *Model `json:"baseline,omitempty"`
	// Speedup is the baseline's p50 latency over the model's, both measured in one interleaved
	// run; SpeedupMean is the same with mean latencies. Absent without a baseline.
	Speedup     float64 `json:"speedup,omitempty"`
	SpeedupMean float64 `json:"speedup_mean,omitempty"`
}

// Options configure Run.
type Options struct {
	// Batch and Seq are the shape of the synthetic batch (Seq is also the costing length of the
	// FLOPs model); Threads onnxruntime's intra-op threads (0: its default).
	Batch, Seq, Threads int
	// Warmup untimed and Runs timed runs per model.
	Warmup, Runs int
}

// SeqLenError says that the benchmark's sequence length exceeds what a model takes (the size
// of its position-embedding table).
type SeqLenError struct {
	Path     string
	Seq, Max int
}

// Error returns "PATH takes at most MAX tokens per sequence ...".
func (e *SeqLenError) Error() string {
	return fmt.Sprintf("%s takes at most %d tokens per sequence (the size of its position-embedding table)", e.Path, e.Max)
}

// Run loads the model at modelPath (and the baseline at basePath, "" for none), describes them
// (Describe), counts their fused operators and integer kernels, and times them on one synthetic
// batch in an interleaved run.
func Run(ctx context.Context, modelPath, basePath string, o Options) (*Result, error) {
	res := &Result{Batch: o.Batch, Seq: o.Seq, Threads: o.Threads, Warmup: o.Warmup, Runs: o.Runs}
	models := []*Model{&res.Model}
	paths := []string{modelPath}
	if basePath != "" {
		res.Baseline = &Model{}
		models = append(models, res.Baseline)
		paths = append(paths, basePath)
	}
	for i, p := range paths {
		bm, err := Describe(p, o.Seq)
		if err != nil {
			return nil, err
		}
		if bm.enc != nil {
			if mp := graph.MaxPositions(bm.std, bm.enc); mp > 0 && o.Seq > mp {
				return nil, &SeqLenError{Path: p, Seq: o.Seq, Max: mp}
			}
		}
		*models[i] = *bm
		if bm.vocab > 0 && (res.TokenIDsBelow == 0 || bm.vocab < res.TokenIDsBelow) {
			res.TokenIDsBelow = bm.vocab
		}
	}
	if res.TokenIDsBelow == 0 {
		// No embedding table found: stay within any plausible vocabulary.
		res.TokenIDsBelow = 100
	}
	for _, bm := range models {
		bm.fusion(o.Threads)
	}
	sess := make([]*ort.Session, len(models))
	for i, bm := range models {
		s, err := ort.NewSession(bm.model, ort.Options{IntraOpThreads: o.Threads})
		if err != nil {
			return nil, fmt.Errorf("%s: %w", bm.Path, err)
		}
		defer s.Close()
		sess[i] = s
	}
	feed := map[string]*ort.Tensor{}
	for i, bm := range models {
		if err := AddInputs(feed, sess[i].Inputs(), bm.Path, bm.enc, o.Batch, o.Seq, res.TokenIDsBelow); err != nil {
			return nil, err
		}
	}
	stats, err := ort.MeasureInterleaved(ctx, sess, feed, o.Warmup, o.Runs)
	if err != nil {
		return nil, err
	}
	for i, bm := range models {
		bm.Latency = stats[i]
		if s := stats[i].Mean.Seconds(); s > 0 {
			bm.Throughput = float64(o.Batch) / s
		}
	}
	if b := res.Baseline; b != nil && res.Model.Latency.P50 > 0 && res.Model.Latency.Mean > 0 {
		res.Speedup = float64(b.Latency.P50) / float64(res.Model.Latency.P50)
		res.SpeedupMean = float64(b.Latency.Mean) / float64(res.Model.Latency.Mean)
	}
	return res, nil
}

// fusion fills the fused-operator and integer-kernel counts (FusionError when onnxruntime could
// not optimise the model).
func (bm *Model) fusion(threads int) {
	fused, nodes, om, err := FusedOps(bm.model, threads)
	if err != nil {
		bm.FusionError = err.Error()
		return
	}
	bm.Fused, bm.OptimizedNodes = fused, nodes
	bm.IntegerKernels, bm.FloatWeightMatMuls = IntegerKernels(om)
	for _, n := range fused {
		bm.FusedTotal += n
	}
}

// Describe loads a model and computes its parameters, encoder structure and FLOPs at seq
// tokens. An unrecognised encoder is not an error: FLOPsError says why the FLOPs are missing.
func Describe(path string, seq int) (*Model, error) {
	m, err := onnx.Load(path)
	if err != nil {
		return nil, err
	}
	bm := &Model{Path: path, Params: prune.Params(m), IntegerParams: IntegerParams(m), Nodes: len(m.GetGraph().GetNode()), model: m}
	std, enc, _, _, err := prune.Structure(m)
	if err != nil {
		bm.FLOPsError = "encoder structure not recognised: " + err.Error()
	} else {
		bm.enc, bm.std = enc, std
		bm.Layers = make([]prune.LayerUnits, len(enc.Layers))
		h, n := prune.Units(enc)
		for l := range h {
			bm.Layers[l] = prune.LayerUnits{Heads: h[l], FFN: n[l]}
		}
		if cost, err := prune.NewCost(enc, float64(seq)); err != nil {
			bm.FLOPsError = err.Error()
		} else {
			bm.FLOPs, bm.Hidden, bm.HeadDim = cost.Encoder(enc), cost.Hidden, cost.HeadDim
		}
	}
	bm.vocab = vocabRows(m, enc, m)
	return bm, nil
}

// ReportLatency turns the result into the latency rows of an HTML report (report.Extra): the
// baseline first, then the model with its speed-up.
func (b *Result) ReportLatency() []report.Latency {
	row := func(bm *Model) report.Latency {
		return report.Latency{Model: filepath.Base(bm.Path), Batch: b.Batch, Seq: b.Seq, Threads: b.Threads, Runs: bm.Latency.Runs,
			Mean: bm.Latency.Mean, P50: bm.Latency.P50, P90: bm.Latency.P90, Throughput: bm.Throughput}
	}
	var rows []report.Latency
	if b.Baseline != nil {
		rows = append(rows, row(b.Baseline))
	}
	m := row(&b.Model)
	m.Speedup = b.Speedup
	return append(rows, m)
}
