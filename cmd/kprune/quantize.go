package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"path/filepath"

	"github.com/kprune/kprune/bench"
	"github.com/kprune/kprune/compare"
	"github.com/kprune/kprune/output"
	"github.com/kprune/kprune/pipeline"
	"github.com/kprune/kprune/quantize"
)

// quantFlags are the quantization flags of `kprune quantize` and `kprune prune --quantize`.
type quantFlags struct {
	mode, exclude string
	opts          quantize.Options
	bench         benchFlags
	// out is the int8 model of prune --quantize.
	out string
	// quantMode is the parsed mode (check).
	quantMode quantize.Mode
}

// benchFlags are the latency flags of a side-by-side measurement (--bench-*, --no-bench).
type benchFlags struct {
	lat     bench.LatencyOptions
	threads string
	off     bool
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
	fs.BoolVar(&q.opts.PerChannel, "per-channel", false, "one weight scale per output channel instead of per tensor (more accurate, slightly slower)")
	fs.BoolVar(&q.opts.ReduceRange, "reduce-range", false, "7-bit weights ([-64, 64]), for CPUs without VNNI where 8-bit products can saturate")
	fs.BoolVar(&q.opts.Embeddings, "quantize-embeddings", false, "also quantize the embedding tables to uint8 (smaller file, no speed-up), as quantize_dynamic does by default")
	fs.BoolVar(&q.opts.Head, "quantize-head", false, "also quantize the head's final projection (classifier, span or token output layer)")
	fs.StringVar(&q.exclude, "exclude", "", "comma-separated MatMul/Gemm/Gather `NODES` to leave in float")
	q.bench.register(fs)
}

// register adds the latency flags to fs.
func (b *benchFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&b.threads, "bench-threads", "1,2", "onnxruntime thread counts at which latency is measured, comma-separated (0: its default)")
	fs.IntVar(&b.lat.Runs, "bench-runs", 10, "timed runs per model and thread count (models interleaved)")
	fs.IntVar(&b.lat.Warmup, "bench-warmup", 3, "untimed warm-up runs per model and thread count")
	fs.IntVar(&b.lat.Batch, "bench-batch", 32, "sequences per batch of the latency measurement")
	fs.IntVar(&b.lat.Seq, "bench-seq", 128, "tokens per sequence of the latency measurement")
	fs.BoolVar(&b.off, "no-bench", false, "do not measure latency")
}

// enabled tells whether prune --quantize was given.
func (q *quantFlags) enabled() bool { return q.mode != "" }

// check validates the flags and fills the parsed values.
func (q *quantFlags) check(modeFlag string) error {
	mode, err := quantize.ParseMode(q.mode)
	if err != nil {
		return usageError{"--" + modeFlag + ": " + err.Error()}
	}
	q.quantMode, q.opts.Exclude = mode, quantize.ParseNodeList(q.exclude)
	return q.bench.check()
}

// check validates the latency flags and fills the thread counts.
func (b *benchFlags) check() error {
	if b.off {
		return nil
	}
	threads, err := bench.ParseThreads(b.threads)
	if err != nil {
		return usageError{"--bench-threads " + err.Error()}
	}
	b.lat.Threads = threads
	if b.lat.Validate() != nil {
		return usageError{"--bench-runs, --bench-batch and --bench-seq must be positive and --bench-warmup not negative"}
	}
	return nil
}

// options are the latency flags as bench.LatencyOptions; nil with --no-bench.
func (b *benchFlags) options() *bench.LatencyOptions {
	if b.off {
		return nil
	}
	lat := b.lat
	return &lat
}

// noteSeq says on w when the latency was measured at seq tokens, fewer than --bench-seq.
func (q *quantFlags) noteSeq(w io.Writer, seq int) {
	if seq > 0 && seq != q.bench.lat.Seq {
		fmt.Fprintf(w, "latency measured at %d tokens per sequence, the most the models take\n", seq)
	}
}

func cmdQuantize(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("quantize", stderr)
	var q quantFlags
	var df dataFlags
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
	df.register(fs, "label or score column of the held-out data, by name or index (default: label/score or the last column)", 32, "calibration batch size (sequences)")
	setUsage(fs, stderr, "kprune quantize --model IN.onnx --out OUT.onnx [--mode dynamic|static] [--calib FILE] [--per-channel] [--report R.json] [flags]",
		"Quantizes every MatMul and Gemm with a constant weight of a float encoder to int8 in the forms onnxruntime runs fastest on CPU: dynamic (the graph of onnxruntime's quantize_dynamic: int8 symmetric weights, uint8 activations quantized at run time, fused by onnxruntime into DynamicQuantizeMatMul/MatMulIntegerToFloat) or static QDQ (activation scales measured on --calib). Embeddings, LayerNorm, Softmax and the head's final projection stay float unless asked. With --calib or --eval, the int8 model is compared with the float one (metric, agreement); latency of both is measured interleaved.")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
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
	qr := pipeline.Quantize{ModelPath: *modelPath, OutPath: *outPath, ReportPath: *reportPath, Force: *force, Mode: q.quantMode, Options: q.opts,
		Data:    pipeline.QuantizeData{Data: df.data(), CalibPath: *calibPath, EvalPath: *evalPath, Static: q.quantMode == quantize.ModeStatic, Samples: *samples, Seed: *seed},
		Latency: q.bench.options(), Threads: *threads, Versions: versions()}
	run, seq, err := qr.Run(ctx)
	q.noteSeq(stderr, seq)
	if err != nil {
		return err
	}
	run.Quantization.WriteText(stdout)
	compare.WriteSideBySide(stdout, run.Models, run.HeldOut)
	fmt.Fprintf(stdout, "wrote %s and %s\n", *outPath, *reportPath)
	return nil
}

// checkNotInput refuses outputs that are the input model (output.NotInput) as a usage error;
// flag prefixes the path with the flag that named it.
func checkNotInput(flag, model string, outs ...string) error {
	if err := output.NotInput(model, outs...); err != nil {
		return usageError{flag + err.Error()}
	}
	return nil
}

// setupQuantize validates prune's --quantize flags and the int8 output path, before any long work.
func (j *pruneJob) setupQuantize(q *quantFlags, stderr io.Writer) error {
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
	if err := checkNotInput("", j.ModelPath, q.out); err != nil {
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
	j.quant = q
	return nil
}
