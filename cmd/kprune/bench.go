package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/kprune/kprune/graph"
	"github.com/kprune/kprune/onnx"
	"github.com/kprune/kprune/prune"
	ort "github.com/kprune/kprune/runtime"
)

// benchModel is one model's figures in `kprune bench --json`.
type benchModel struct {
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

// benchResult is what `kprune bench --json` prints.
type benchResult struct {
	Batch   int `json:"batch"`
	Seq     int `json:"seq"`
	Threads int `json:"threads"` // 0: onnxruntime's default
	Warmup  int `json:"warmup"`
	Runs    int `json:"runs"`
	// TokenIDsBelow is the bound of the random token ids (the smallest vocabulary found).
	TokenIDsBelow int         `json:"token_ids_below"`
	Model         benchModel  `json:"model"`
	Baseline      *benchModel `json:"baseline,omitempty"`
	// Speedup is the baseline's p50 latency over the model's, both measured in one interleaved
	// run; SpeedupMean is the same with mean latencies. Absent without a baseline.
	Speedup     float64 `json:"speedup,omitempty"`
	SpeedupMean float64 `json:"speedup_mean,omitempty"`
}

// cmdBench measures onnxruntime latency, FLOPs, parameters and graph fusion of a model, and its
// speed-up over a baseline measured in the same interleaved run.
func cmdBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("bench", stderr)
	modelPath := fs.String("model", "", "ONNX `MODEL` to measure")
	basePath := fs.String("baseline", "", "ONNX `MODEL` to compare with (e.g. the unpruned one); speed-up = baseline latency / model latency")
	batch := fs.Int("batch", 32, "sequences per batch")
	seq := fs.Int("seq", 128, "tokens per sequence (also the costing length of the FLOPs model)")
	threads := fs.Int("threads", 0, "onnxruntime intra-op threads (0: onnxruntime's default, all cores)")
	runs := fs.Int("runs", 20, "timed runs per model")
	warmup := fs.Int("warmup", 5, "untimed warm-up runs per model")
	asJSON := fs.Bool("json", false, "print the results as JSON")
	setUsage(fs, stderr, "kprune bench --model A.onnx [--baseline B.onnx] [flags]",
		"Measures onnxruntime latency on a synthetic batch (random token ids, full attention mask), FLOPs,\nparameters and the fused operators of onnxruntime's optimised graph; with --baseline, both models\nare timed in one interleaved run.")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	switch {
	case fs.NArg() > 0:
		return usageError{fmt.Sprintf("unexpected argument %q (give the model with --model)", fs.Arg(0))}
	case *modelPath == "":
		return usageError{"--model is required"}
	case *batch <= 0 || *seq <= 0:
		return usageError{fmt.Sprintf("--batch and --seq must be positive, got %d and %d", *batch, *seq)}
	case *runs <= 0 || *warmup < 0:
		return usageError{fmt.Sprintf("--runs must be positive and --warmup not negative, got %d and %d", *runs, *warmup)}
	case *threads < 0:
		return usageError{fmt.Sprintf("--threads must not be negative, got %d", *threads)}
	}
	res, err := runBench(ctx, *modelPath, *basePath, *batch, *seq, *threads, *warmup, *runs)
	if err != nil {
		return err
	}
	if *asJSON {
		b, err := json.MarshalIndent(res, "", "  ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(stdout, "%s\n", b)
		return err
	}
	printBench(stdout, res)
	return nil
}

// runBench loads the models, measures them and returns the results.
func runBench(ctx context.Context, modelPath, basePath string, batch, seq, threads, warmup, runs int) (*benchResult, error) {
	res := &benchResult{Batch: batch, Seq: seq, Threads: threads, Warmup: warmup, Runs: runs}
	models := []*benchModel{&res.Model}
	paths := []string{modelPath}
	if basePath != "" {
		res.Baseline = &benchModel{}
		models = append(models, res.Baseline)
		paths = append(paths, basePath)
	}
	for i, p := range paths {
		bm, err := describeForBench(p, seq)
		if err != nil {
			return nil, err
		}
		if bm.enc != nil {
			if err := checkSeqLen("--seq", seq, p, bm.std, bm.enc); err != nil {
				return nil, err
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
		fused, nodes, om, err := fusedOps(bm.model, threads)
		if err != nil {
			bm.FusionError = err.Error()
			continue
		}
		bm.Fused, bm.OptimizedNodes = fused, nodes
		bm.IntegerKernels, bm.FloatWeightMatMuls = integerKernels(om)
		for _, n := range fused {
			bm.FusedTotal += n
		}
	}
	sess := make([]*ort.Session, len(models))
	for i, bm := range models {
		s, err := ort.NewSession(bm.model, ort.Options{IntraOpThreads: threads})
		if err != nil {
			return nil, fmt.Errorf("%s: %w", bm.Path, err)
		}
		defer s.Close()
		sess[i] = s
	}
	feed := map[string]*ort.Tensor{}
	for i, bm := range models {
		if err := addBenchInputs(feed, sess[i].Inputs(), bm, batch, seq, res.TokenIDsBelow); err != nil {
			return nil, err
		}
	}
	stats, err := ort.MeasureInterleaved(ctx, sess, feed, warmup, runs)
	if err != nil {
		return nil, err
	}
	for i, bm := range models {
		bm.Latency = stats[i]
		if s := stats[i].Mean.Seconds(); s > 0 {
			bm.Throughput = float64(batch) / s
		}
	}
	if b := res.Baseline; b != nil && res.Model.Latency.P50 > 0 && res.Model.Latency.Mean > 0 {
		res.Speedup = float64(b.Latency.P50) / float64(res.Model.Latency.P50)
		res.SpeedupMean = float64(b.Latency.Mean) / float64(res.Model.Latency.Mean)
	}
	return res, nil
}

// describeForBench loads a model and computes its parameters, encoder structure and FLOPs. An
// unrecognised encoder is not an error: FLOPsError says why the FLOPs are missing.
func describeForBench(path string, seq int) (*benchModel, error) {
	m, err := onnx.Load(path)
	if err != nil {
		return nil, err
	}
	bm := &benchModel{Path: path, Params: prune.Params(m), IntegerParams: integerParams(m), Nodes: len(m.GetGraph().GetNode()), model: m}
	std, enc, _, err := discover(m)
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
		bm.vocab = enc.VocabRows(m)
	}
	if bm.vocab == 0 {
		bm.vocab = embeddingRows(m)
	}
	return bm, nil
}

// embeddingRows finds the vocabulary size without the encoder structure: the row count of the
// 2-D initializer gathered by a Gather whose indices are a graph input. 0 when there is none.
func embeddingRows(m *onnx.ModelProto) int {
	g := m.GetGraph()
	inputs, inits := map[string]bool{}, map[string]*onnx.TensorProto{}
	for _, t := range g.GetInitializer() {
		inits[t.GetName()] = t
	}
	for _, v := range g.GetInput() {
		if inits[v.GetName()] == nil {
			inputs[v.GetName()] = true
		}
	}
	best := 0
	for _, n := range g.GetNode() {
		in := n.GetInput()
		if n.GetOpType() != "Gather" || len(in) != 2 || !inputs[in[1]] {
			continue
		}
		// Prefer the input that looks like token ids; else the largest table (position and
		// token-type tables are smaller than the word embeddings).
		if t := inits[in[0]]; t != nil && len(t.GetDims()) == 2 {
			rows := int(t.GetDims()[0])
			if strings.Contains(strings.ToLower(in[1]), "input_ids") {
				return rows
			}
			best = max(best, rows)
		}
	}
	return best
}

// inputRole classifies a model input as "ids", "mask", "type" or "position" (graph.Encoder's
// InputRole; an input it cannot tell is taken for token ids).
func inputRole(name string, enc *graph.Encoder) string {
	if r := enc.InputRole(name); r != "" {
		return r
	}
	return graph.RoleIDs
}

// addBenchInputs adds to feed a synthetic [batch, seq] tensor for each input not yet in it:
// random token ids below vocab (fixed seed), a full attention mask, zero token types, positions.
func addBenchInputs(feed map[string]*ort.Tensor, inputs []ort.IOInfo, bm *benchModel, batch, seq, vocab int) error {
	for _, in := range inputs {
		if _, ok := feed[in.Name]; ok {
			continue
		}
		switch in.Elem {
		case onnx.TensorProto_INT64, onnx.TensorProto_INT32, onnx.TensorProto_BOOL, onnx.TensorProto_FLOAT:
			// Fed as int64; the session converts to the declared type.
		default:
			return fmt.Errorf("%s: input %q has element type %s; bench feeds token inputs as int64, int32, bool or float", bm.Path, in.Name, in.Elem)
		}
		if in.Shape != nil {
			if len(in.Shape) != 2 {
				return fmt.Errorf("%s: input %q has rank %d; bench feeds [batch, seq] inputs", bm.Path, in.Name, len(in.Shape))
			}
			if (in.Shape[0] > 0 && in.Shape[0] != int64(batch)) || (in.Shape[1] > 0 && in.Shape[1] != int64(seq)) {
				return fmt.Errorf("%s: input %q has the fixed shape %v; run bench with --batch and --seq matching it", bm.Path, in.Name, in.Shape)
			}
		}
		v := make([]int64, batch*seq)
		switch inputRole(in.Name, bm.enc) {
		case "ids":
			rng := rand.New(rand.NewPCG(1, 2))
			for i := range v {
				v[i] = 1 + rng.Int64N(int64(max(vocab-1, 1)))
			}
		case "mask":
			for i := range v {
				v[i] = 1
			}
		case "position":
			for i := range v {
				v[i] = int64(i % seq)
			}
		}
		feed[in.Name] = ort.I64Tensor([]int64{int64(batch), int64(seq)}, v)
	}
	return nil
}

// fusedOps lets onnxruntime optimise m (all optimisations, as a latency session does), saves the
// optimised graph to a temporary file, and counts its fused nodes: those in com.microsoft domains
// and those of standard op types that m does not contain.
// It also returns the optimised graph's node count, and the optimised graph.
func fusedOps(m *onnx.ModelProto, threads int) (map[string]int, int, *onnx.ModelProto, error) {
	dir, err := os.MkdirTemp("", "kprune-bench-*")
	if err != nil {
		return nil, 0, nil, err
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "optimized.onnx")
	s, err := ort.NewSession(m, ort.Options{IntraOpThreads: threads, OptimizedModelPath: path})
	if err != nil {
		return nil, 0, nil, fmt.Errorf("onnxruntime optimisation: %w", err)
	}
	s.Close()
	om, err := onnx.Load(path)
	if err != nil {
		return nil, 0, nil, fmt.Errorf("reading onnxruntime's optimised model: %w", err)
	}
	original := map[string]bool{}
	for _, n := range m.GetGraph().GetNode() {
		original[n.GetDomain()+":"+n.GetOpType()] = true
	}
	fused := map[string]int{}
	for _, n := range om.GetGraph().GetNode() {
		switch d := n.GetDomain(); {
		case d == "com.microsoft":
			fused[n.GetOpType()]++
		case strings.HasPrefix(d, "com.microsoft."):
			fused[d+"."+n.GetOpType()]++
		case (d == "" || d == "ai.onnx") && !original[":"+n.GetOpType()] && !original["ai.onnx:"+n.GetOpType()]:
			fused[n.GetOpType()]++
		}
	}
	return fused, len(om.GetGraph().GetNode()), om, nil
}

// fusedString lists fused op counts by name: "Attention 2, SkipLayerNormalization 4".
func fusedString(bm *benchModel) string {
	if bm.FusionError != "" {
		return "n/a"
	}
	if len(bm.Fused) == 0 {
		return "none"
	}
	names := make([]string, 0, len(bm.Fused))
	for n := range bm.Fused {
		names = append(names, n)
	}
	sort.Strings(names)
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = fmt.Sprintf("%s %d", n, bm.Fused[n])
	}
	return strings.Join(parts, ", ")
}

// printBench writes the human-readable table.
func printBench(w io.Writer, r *benchResult) {
	threads := "onnxruntime's default threads"
	if r.Threads > 0 {
		threads = fmt.Sprintf("%d thread(s)", r.Threads)
	}
	models := []*benchModel{&r.Model}
	head := "\tmodel\t"
	if r.Baseline != nil {
		models = append(models, r.Baseline)
		head += "baseline\t"
	}
	mode := ""
	if len(models) > 1 {
		mode = ", interleaved"
	}
	fmt.Fprintf(w, "kprune bench: batch %d x seq %d, %s, %d warm-up + %d timed runs%s, token ids < %d\n\n", r.Batch, r.Seq, threads, r.Warmup, r.Runs, mode, r.TokenIDsBelow)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, head)
	row := func(label string, f func(bm *benchModel) string) {
		fmt.Fprintf(tw, "%s\t", label)
		for _, bm := range models {
			fmt.Fprintf(tw, "%s\t", f(bm))
		}
		fmt.Fprintln(tw)
	}
	row("file", func(bm *benchModel) string { return filepath.Base(bm.Path) })
	row("parameters", paramsString)
	row(fmt.Sprintf("encoder GFLOPs per sequence (seq %d)", r.Seq), func(bm *benchModel) string {
		if bm.FLOPsError != "" {
			return "n/a"
		}
		return fmt.Sprintf("%.3f", bm.FLOPs/1e9)
	})
	row("heads / FFN neurons", func(bm *benchModel) string {
		if bm.Layers == nil {
			return "n/a"
		}
		var h, n int
		for _, l := range bm.Layers {
			h, n = h+l.Heads, n+l.FFN
		}
		return fmt.Sprintf("%d / %d in %d layers", h, n, len(bm.Layers))
	})
	row("latency mean ms", func(bm *benchModel) string { return fmt.Sprintf("%.2f", ms(bm.Latency.Mean)) })
	row("latency p50 ms", func(bm *benchModel) string { return fmt.Sprintf("%.2f", ms(bm.Latency.P50)) })
	row("latency p90 ms", func(bm *benchModel) string { return fmt.Sprintf("%.2f", ms(bm.Latency.P90)) })
	row("throughput seq/s", func(bm *benchModel) string { return fmt.Sprintf("%.1f", bm.Throughput) })
	row("nodes (after ORT opt.)", func(bm *benchModel) string {
		if bm.FusionError != "" {
			return fmt.Sprintf("%d (n/a)", bm.Nodes)
		}
		return fmt.Sprintf("%d (%d)", bm.Nodes, bm.OptimizedNodes)
	})
	row("fused ops (ORT)", fusedString)
	row("integer kernels (ORT)", integerString)
	tw.Flush()
	if r.Baseline != nil {
		fmt.Fprintf(w, "\nspeed-up (baseline / model latency): %.2fx at p50, %.2fx at mean\n", r.Speedup, r.SpeedupMean)
	}
	for _, bm := range models {
		if bm.FLOPsError != "" {
			fmt.Fprintf(w, "note: %s: no FLOPs: %s\n", bm.Path, bm.FLOPsError)
		}
		if bm.FusionError != "" {
			fmt.Fprintf(w, "note: %s: fusion check failed: %s\n", bm.Path, bm.FusionError)
		}
		for _, n := range integerNotes(bm) {
			fmt.Fprintf(w, "note: %s\n", n)
		}
	}
	if b := r.Baseline; b != nil && r.Model.FusionError == "" && b.FusionError == "" {
		names := make([]string, 0, len(b.Fused))
		for n := range b.Fused {
			if r.Model.Fused[n] == 0 && !(len(r.Model.IntegerKernels) > 0 && absorbedByIntegerKernels[n]) {
				names = append(names, n)
			}
		}
		sort.Strings(names)
		for _, n := range names {
			fmt.Fprintf(w, "note: onnxruntime fuses %d %s node(s) in the baseline but none in the model\n", b.Fused[n], n)
		}
	}
}
