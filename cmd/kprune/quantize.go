package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/kprune/kprune/bench"
	"github.com/kprune/kprune/compare"
	"github.com/kprune/kprune/data"
	"github.com/kprune/kprune/eval"
	"github.com/kprune/kprune/onnx"
	"github.com/kprune/kprune/output"
	"github.com/kprune/kprune/prune"
	"github.com/kprune/kprune/quantize"
	"github.com/kprune/kprune/report"
)

// quantFlags are the quantization flags of `kprune quantize` and `kprune prune --quantize`.
type quantFlags struct {
	mode                                string
	perChannel, reduceRange, embeddings bool
	head, noBench                       bool
	exclude, benchThreads               string
	benchRuns, benchWarmup              int
	benchBatch, benchSeq                int
	// out is the int8 model of prune --quantize; evalPath its --eval file ("" for held-out
	// calibration rows), df its data flags and calibRows the row count of its calibration file.
	out       string
	evalPath  string
	df        dataFlags
	calibRows int
	// Parsed by check.
	benchThreadsList []int
	quantMode        quantize.Mode
	quantOpts        quantize.Options
}

// register adds the flags to fs; forPrune names the mode flag --quantize (off by default) and
// adds --quantized-out, else it is --mode (dynamic by default).
func (q *quantFlags) register(fs *flag.FlagSet, forPrune bool) {
	if forPrune {
		fs.StringVar(&q.mode, "quantize", "", "then quantize the pruned model to int8: `MODE` dynamic (activations quantized at run time) or static (QDQ, activation scales from the calibration set); writes --quantized-out and puts the original float, pruned float and pruned int8 models side by side in the reports")
		fs.StringVar(&q.out, "quantized-out", "", "with --quantize: the int8 model `FILE` (default: OUT with -int8.onnx)")
	} else {
		fs.StringVar(&q.mode, "mode", "dynamic", "`MODE`: dynamic (DynamicQuantizeLinear + MatMulInteger, as onnxruntime's quantize_dynamic) or static (QDQ with activation scales from --calib)")
	}
	fs.BoolVar(&q.perChannel, "per-channel", false, "one weight scale per output channel instead of per tensor (more accurate, slightly slower)")
	fs.BoolVar(&q.reduceRange, "reduce-range", false, "7-bit weights ([-64, 64]), for CPUs without VNNI where 8-bit products can saturate")
	fs.BoolVar(&q.embeddings, "quantize-embeddings", false, "also quantize the embedding tables to uint8 (smaller file, no speed-up), as quantize_dynamic does by default")
	fs.BoolVar(&q.head, "quantize-head", false, "also quantize the head's final projection (classifier, span or token output layer)")
	fs.StringVar(&q.exclude, "exclude", "", "comma-separated MatMul/Gemm/Gather `NODES` to leave in float")
	fs.StringVar(&q.benchThreads, "bench-threads", "1,2", "onnxruntime thread counts at which latency is measured, comma-separated (0: its default)")
	fs.IntVar(&q.benchRuns, "bench-runs", 10, "timed runs per model and thread count (models interleaved)")
	fs.IntVar(&q.benchWarmup, "bench-warmup", 3, "untimed warm-up runs per model and thread count")
	fs.IntVar(&q.benchBatch, "bench-batch", 32, "sequences per batch of the latency measurement")
	fs.IntVar(&q.benchSeq, "bench-seq", 128, "tokens per sequence of the latency measurement")
	fs.BoolVar(&q.noBench, "no-bench", false, "do not measure latency")
}

// enabled tells whether prune --quantize was given.
func (q *quantFlags) enabled() bool { return q.mode != "" }

// check validates the flags and fills the parsed values.
func (q *quantFlags) check(modeFlag string) error {
	mode, err := quantize.ParseMode(q.mode)
	if err != nil {
		return usageError{"--" + modeFlag + ": " + err.Error()}
	}
	q.quantMode = mode
	q.quantOpts = quantize.Options{PerChannel: q.perChannel, ReduceRange: q.reduceRange, Embeddings: q.embeddings, Head: q.head}
	for _, e := range strings.Split(q.exclude, ",") {
		if e = strings.TrimSpace(e); e != "" {
			q.quantOpts.Exclude = append(q.quantOpts.Exclude, e)
		}
	}
	q.benchThreadsList = nil
	if !q.noBench {
		for _, s := range strings.Split(q.benchThreads, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(s))
			if err != nil || n < 0 {
				return usageError{fmt.Sprintf("--bench-threads %q: want thread counts (0 or more) separated by commas", q.benchThreads)}
			}
			q.benchThreadsList = append(q.benchThreadsList, n)
		}
		if q.benchRuns <= 0 || q.benchWarmup < 0 || q.benchBatch <= 0 || q.benchSeq <= 0 {
			return usageError{"--bench-runs, --bench-batch and --bench-seq must be positive and --bench-warmup not negative"}
		}
	}
	return nil
}

func seqOrder(n int) []int {
	o := make([]int, n)
	for i := range o {
		o[i] = i
	}
	return o
}

// latencyOptions are the latency flags as bench.LatencyOptions; nil with --no-bench.
func (q *quantFlags) latencyOptions() *bench.LatencyOptions {
	if q.noBench {
		return nil
	}
	return &bench.LatencyOptions{Batch: q.benchBatch, Seq: q.benchSeq, Warmup: q.benchWarmup, Runs: q.benchRuns, Threads: q.benchThreadsList}
}

// sideBySide measures models side by side (compare.SideBySide) and says on stderr when the
// latency was measured at fewer tokens than --bench-seq.
func sideBySide(ctx context.Context, models []compare.Model, ho compare.HeldOut, q *quantFlags, predictThreads int, stderr io.Writer) ([]prune.ModelFigures, error) {
	figs, seq, err := compare.SideBySide(ctx, models, ho, q.latencyOptions(), predictThreads)
	if seq > 0 && seq != q.benchSeq {
		fmt.Fprintf(stderr, "latency measured at %d tokens per sequence, the most the models take\n", seq)
	}
	return figs, err
}

// quantizeRun is the JSON report of `kprune quantize`.
type quantizeRun struct {
	InputModel   string               `json:"input_model"`
	OutputModel  string               `json:"output_model"`
	Quantization *quantize.Report     `json:"quantization"`
	Models       []prune.ModelFigures `json:"models"`
	// HeldOut says which examples the metric and agreement were measured on.
	HeldOut string         `json:"held_out,omitempty"`
	Seconds float64        `json:"seconds"`
	Version prune.Versions `json:"versions"`
}

func cmdQuantize(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	t0 := time.Now()
	fs := newFlags("quantize", stderr)
	var q quantFlags
	df := &q.df
	modelPath := fs.String("model", "", "input float ONNX `MODEL` (never modified), e.g. the output of kprune prune")
	outPath := fs.String("out", "", "output int8 ONNX `FILE`")
	calibPath := fs.String("calib", "", "data `FILE` (.tsv, .csv, .jsonl): the calibration set of --mode static, and the held-out examples of the float/int8 comparison")
	evalPath := fs.String("eval", "", "held-out data `FILE` for the comparison with the float model (metric when it has labels, agreement); default: up to 512 rows of --calib not used for calibration")
	reportPath := fs.String("report", "", "JSON report `FILE` (default: OUT with .json)")
	samples := fs.Int("samples", 256, "calibration sequences drawn from --calib for --mode static (without replacement)")
	seed := fs.Uint64("seed", 0, "calibration sampling seed")
	threads := fs.Int("threads", 0, "onnxruntime intra-op threads for calibration and evaluation (0: all cores)")
	force := fs.Bool("force", false, "overwrite OUT and the report if they exist")
	q.register(fs, false)
	fs.StringVar(&df.tokenizer, "tokenizer", "", "the model's tokenizer.json or vocab.txt (default: next to the model)")
	fs.StringVar(&df.columns, "columns", "", "text columns `a,b` by header name or 0-based index (default: GLUE conventions)")
	fs.StringVar(&df.label, "label", "", "label or score column of the held-out data, by name or index (default: label/score or the last column)")
	fs.StringVar(&df.format, "format", "", formatUsage)
	fs.StringVar(&df.header, "header", "auto", headerUsage)
	fs.IntVar(&df.maxLen, "max-len", 128, "maximum sequence length in tokens")
	fs.IntVar(&df.batch, "batch", 32, "calibration batch size (sequences)")
	setUsage(fs, stderr, "kprune quantize --model IN.onnx --out OUT.onnx [--mode dynamic|static] [--calib FILE] [--per-channel] [--report R.json] [flags]",
		"Quantizes every MatMul and Gemm with a constant weight of a float encoder to int8 in the forms onnxruntime runs fastest on CPU: dynamic (the graph of onnxruntime's quantize_dynamic: int8 symmetric weights, uint8 activations quantized at run time, fused by onnxruntime into DynamicQuantizeMatMul/MatMulIntegerToFloat) or static QDQ (activation scales measured on --calib). Embeddings, LayerNorm, Softmax and the head's final projection stay float unless asked. With --calib or --eval, the int8 model is compared with the float one (metric, agreement); latency of both is measured interleaved.")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	df.maxLenGiven = given(fs, "max-len")
	switch {
	case fs.NArg() > 0:
		return usageError{fmt.Sprintf("unexpected arguments %q", fs.Args())}
	case *modelPath == "" || *outPath == "":
		return usageError{"--model and --out are required"}
	case *samples <= 0:
		return usageError{fmt.Sprintf("--samples %d: must be positive", *samples)}
	case *threads < 0:
		return usageError{fmt.Sprintf("--threads %d: must not be negative", *threads)}
	}
	if err := q.check("mode"); err != nil {
		return err
	}
	if q.quantMode == quantize.ModeStatic && *calibPath == "" {
		return usageError{"--mode static needs --calib FILE: the activation scales are measured on calibration data"}
	}
	if err := df.check(); err != nil {
		return err
	}
	if *reportPath == "" {
		*reportPath = trimExt(*outPath) + ".json"
	}
	if err := checkNotInput("", *modelPath, *outPath, *reportPath); err != nil {
		return err
	}
	if err := checkOutputs(stderr, *force, *outPath, *reportPath); err != nil {
		return err
	}
	m, err := onnx.Load(*modelPath)
	if err != nil {
		return err
	}
	if quantize.IsQuantized(m) {
		return fmt.Errorf("%s: %w: quantize the float model (kprune quantize reads float32 models only)", *modelPath, quantize.ErrAlreadyQuantized)
	}
	calib, ho, err := q.loadData(m, *modelPath, *calibPath, *evalPath, *samples, *seed)
	if err != nil {
		return err
	}
	qm, qrep, err := quantize.Quantize(ctx, m, q.quantMode, q.quantOpts, calib)
	if err != nil {
		return fmt.Errorf("%s: %w", *modelPath, err)
	}
	tx := &output.Tx{}
	done := false
	defer func() {
		if !done {
			tx.Rollback()
		}
	}()
	if err := tx.SaveModel(ctx, *outPath, qm, *force); err != nil {
		return err
	}
	figs, err := sideBySide(ctx, []compare.Model{{Name: "float", Path: *modelPath, Model: m}, {Name: "int8", Path: *outPath, Model: qm}}, ho, &q, *threads, stderr)
	if err != nil {
		return err
	}
	run := &quantizeRun{InputModel: *modelPath, OutputModel: *outPath, Quantization: qrep, Models: figs, HeldOut: ho.Source, Version: versions()}
	run.Seconds = time.Since(t0).Seconds()
	b, err := json.MarshalIndent(run, "", "  ")
	if err != nil {
		return err
	}
	if err := tx.WriteFile(ctx, *reportPath, append(b, '\n')); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	done = true
	qrep.WriteText(stdout)
	compare.WriteSideBySide(stdout, figs, ho.Source)
	fmt.Fprintf(stdout, "wrote %s and %s\n", *outPath, *reportPath)
	return nil
}

// loadData reads the calibration batches of --mode static and the held-out examples of the
// float/int8 comparison: --eval, else the rows of --calib not used for calibration.
func (q *quantFlags) loadData(m *onnx.ModelProto, modelPath, calibPath, evalPath string, samples int, seed uint64) ([]data.Batch, compare.HeldOut, error) {
	var ho compare.HeldOut
	if calibPath == "" && evalPath == "" {
		return nil, ho, nil
	}
	df := &q.df
	tok, err := prune.OpenTokenizer(df.tokenizer, modelPath)
	if err != nil {
		return nil, ho, err
	}
	std, enc, _, _, err := prune.Structure(m)
	if err != nil {
		return nil, ho, fmt.Errorf("%s: reading the encoder for the calibration/evaluation data: %w", modelPath, err)
	}
	if err := prune.CheckTokenizer(tok, std, enc); err != nil {
		return nil, ho, fmt.Errorf("tokenizer does not fit model %s: %w", modelPath, err)
	}
	if err := df.fitMaxLen(modelPath, std, enc); err != nil {
		return nil, ho, err
	}
	var calib []data.Batch
	var used []int
	var encs []data.Encoding
	if calibPath != "" {
		if _, encs, err = prune.ReadEncoded(tok, calibPath, nil, df.readOptions(false), df.maxLen); err != nil {
			return nil, ho, err
		}
		if q.quantMode == quantize.ModeStatic {
			cs, err := data.BuildCalibration(encs, data.CalibOptions{SampleOptions: data.SampleOptions{N: min(samples, len(encs)), Seed: seed}, BatchSize: df.batch, Padding: prune.Padding(tok)})
			if err != nil {
				return nil, ho, fmt.Errorf("%s: %w", calibPath, err)
			}
			calib, used = cs.Batches, cs.Indices
		}
	}
	src, rows := evalPath, 0
	var order []int
	if evalPath != "" {
		if _, encs, err = prune.ReadEncoded(tok, evalPath, nil, df.readOptions(false), df.maxLen); err != nil {
			return nil, ho, err
		}
		rows, order = len(encs), seqOrder(len(encs))
		ho.Source = evalPath
	} else {
		src, rows = calibPath, len(encs)
		order = eval.Unsampled(len(encs), used, 512)
		ho.Source = fmt.Sprintf("%d rows of %s not used for calibration", len(order), calibPath)
	}
	if len(order) > 0 {
		if ho.Batches, err = data.MakeBatches(encs, order, 64, prune.Padding(tok)); err != nil {
			return nil, ho, err
		}
		ho.Labels, ho.Scores = eval.Targets(src, df.readOptions(true), rows, order)
	}
	return calib, ho, nil
}

// checkNotInput refuses outputs that are the input model (output.NotInput) as a usage error;
// flag prefixes the path with the flag that named it.
func checkNotInput(flag, model string, outs ...string) error {
	if err := output.NotInput(model, outs...); err != nil {
		return usageError{flag + err.Error()}
	}
	return nil
}

// runQuantized ends a `kprune prune --quantize` run: it quantizes the pruned model, measures the
// original float, pruned float and pruned int8 models side by side, and writes the pruned model,
// the int8 model and the reports all or nothing.
func (j *pruneJob) runQuantized(ctx context.Context, pruned *onnx.ModelProto, rep *prune.Report, stdout, stderr io.Writer) error {
	q := j.quant
	qm, qrep, err := quantize.Quantize(ctx, pruned, q.quantMode, q.quantOpts, j.calib.Batches)
	if err != nil {
		return fmt.Errorf("quantizing the pruned model: %w", err)
	}
	rep.Quantization = qrep
	ho := compare.HeldOut{Batches: j.holdout}
	if len(j.holdout) > 0 {
		if q.evalPath != "" {
			ho.Source = q.evalPath
			if ds, err := data.ReadDataset(q.evalPath, q.df.readOptions(false)); err == nil {
				ho.Labels, ho.Scores = eval.Targets(q.evalPath, q.df.readOptions(true), ds.Len(), seqOrder(ds.Len()))
			}
		} else {
			order := eval.Unsampled(q.calibRows, j.calib.Indices, 512)
			ho.Source = fmt.Sprintf("%d rows of %s not used for calibration", len(order), j.calibSource)
			ho.Labels, ho.Scores = eval.Targets(j.calibSource, q.df.readOptions(true), q.calibRows, order)
		}
	}
	var figs []prune.ModelFigures
	err = output.WriteRun(ctx, output.Run{
		Models:     []output.Model{{Path: j.outPath, Model: pruned}, {Path: q.out, Model: qm}},
		ReportPath: j.reportPath, HTMLPath: j.htmlPath(), Report: rep, Force: j.force,
		AfterModels: func() error {
			rep.OutputBytes = output.FileBytes(j.outPath)
			models := []compare.Model{{Name: "original float", Path: j.modelPath, Model: j.model}, {Name: "pruned float", Path: j.outPath, Model: pruned}, {Name: "pruned int8", Path: q.out, Model: qm}}
			figs, err = sideBySide(ctx, models, ho, q, j.opts.Threads, stderr)
			rep.Models = figs
			return err
		},
	})
	if err != nil {
		return err
	}
	report.WriteSummary(stdout, rep)
	qrep.WriteText(stdout)
	compare.WriteSideBySide(stdout, figs, ho.Source)
	fmt.Fprintf(stdout, "wrote %s, %s, %s and %s\n", j.outPath, q.out, j.reportPath, j.htmlPath())
	return j.finish(stderr, rep)
}

// setupQuantize validates prune's --quantize flags and the int8 output path, before any long work.
func (j *pruneJob) setupQuantize(q *quantFlags, evalPath string, df dataFlags, stderr io.Writer) error {
	if !q.enabled() {
		if q.out != "" {
			return usageError{"--quantized-out needs --quantize dynamic|static"}
		}
		return nil
	}
	if err := q.check("quantize"); err != nil {
		return err
	}
	if q.out == "" {
		q.out = trimExt(j.outPath) + "-int8.onnx"
	}
	if err := checkNotInput("", j.modelPath, q.out); err != nil {
		return err
	}
	for _, p := range []string{j.outPath, j.reportPath, j.htmlPath()} {
		if a, err1 := filepath.Abs(p); err1 == nil {
			if b, err2 := filepath.Abs(q.out); err2 == nil && a == b {
				return usageError{fmt.Sprintf("--quantized-out %s is another output of the run", q.out)}
			}
		}
	}
	if err := checkOutputs(stderr, j.force, q.out); err != nil {
		return err
	}
	q.evalPath, q.df = evalPath, df
	j.quant = q
	return nil
}
