package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/kprune/kprune/compare"
	"github.com/kprune/kprune/pipeline"
	"github.com/kprune/kprune/prune"
	"github.com/kprune/kprune/report"
)

// pruneJob is a pruning run (pipeline.Prune) with the CLI's outputs.
type pruneJob struct {
	pipeline.Prune
	outPath, reportPath string
	force               bool
	// strict makes quality warnings an error (exit 1) once the outputs are written.
	strict bool
	// quant is set by --quantize (see quantize.go).
	quant *quantFlags
}

func cmdPrune(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("prune", stderr)
	var df dataFlags
	j := &pruneJob{}
	c := &j.Calib
	fs.StringVar(&j.ModelPath, "model", "", "input ONNX `MODEL` (never modified)")
	fs.StringVar(&j.outPath, "out", "", "output ONNX `FILE` for the pruned model")
	fs.StringVar(&j.CalibPath, "calib", "", "calibration data `FILE` (.tsv with header, .csv, .jsonl); labels are needed only by --method kwon")
	fs.StringVar(&j.Method, "method", "kprune", "pruning `METHOD`: kprune, kwon (Kwon et al. 2022; needs labels in --calib) or magnitude")
	fs.StringVar(&j.reportPath, "report", "", "write the JSON run report to `FILE` (default: OUT with .json)")
	fs.StringVar(&j.EvalPath, "eval", "", "held-out data `FILE` for the self-check (default: up to 512 calibration-file rows not sampled)")
	fs.IntVar(&c.Samples, "samples", 0, "number of calibration sequences (default: int(100000 / average length), as the reference)")
	fs.IntVar(&c.Tokens, "tokens", 0, "calibration token budget instead of --samples")
	fs.BoolVar(&c.NoReplacement, "no-replacement", false, "sample calibration sequences without replacement")
	fs.BoolVar(&c.Bucket, "bucket", false, "[ours] batch calibration sequences of similar length together (less padding, faster; the reference batches in draw order). Default: on when the setting's knowledge does not depend on batch composition (the default setting), off with --faithful")
	fs.Uint64Var(&c.Seed, "seed", 0, "sampling seed")
	df.register(fs, "label column of --calib for --method kwon, by name or index (default: label/score or the last column)", 32, "calibration batch size (sequences)")
	finishOptions := registerOptions(fs, &j.Options)
	fs.BoolVar(&j.force, "force", false, "overwrite OUT and the report if they exist")
	fs.BoolVar(&j.strict, "strict", false, fmt.Sprintf("exit with an error (after writing the outputs) when the run has quality warnings: fewer than %d distinct calibration sequences; with labelled --eval data, a task metric down by more than %.2f; otherwise no self-check, or self-check agreement below %.0f%%", prune.MinDistinctSequences, prune.MaxTaskDrop, 100*prune.MinAgreement))
	var qf quantFlags
	qf.register(fs, true)
	setUsage(fs, stderr, "kprune prune --model IN.onnx --out OUT.onnx --calib FILE [--quantize dynamic|static] [flags]")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	finishOptions()
	c.Bucket = c.Bucket || !given(fs, "bucket") && pipeline.DefaultBucket(j.Method, &j.Options)
	j.ExplicitFisher = given(fs, "fisher")
	j.AutoLowMemory = !given(fs, "low-memory")
	if fs.NArg() > 0 {
		return usageError{fmt.Sprintf("unexpected arguments %q", fs.Args())}
	}
	if j.ModelPath == "" || j.outPath == "" || j.CalibPath == "" {
		return usageError{"--model, --out and --calib are required"}
	}
	if err := prune.CheckMethod(j.Method); err != nil {
		return usageError{"--method: " + err.Error()}
	}
	if err := j.Options.Validate(); err != nil {
		return optionUsageError(err)
	}
	if j.reportPath == "" {
		j.reportPath = trimExt(j.outPath) + ".json"
	}
	if err := j.checkPaths(stderr); err != nil {
		return err
	}
	if err := j.setupQuantize(&qf, stderr); err != nil {
		return err
	}
	if c.Samples < 0 || c.Tokens < 0 || (c.Samples > 0 && c.Tokens > 0) {
		return usageError{"give at most one of --samples and --tokens, positive"}
	}
	if err := df.check(); err != nil {
		return err
	}
	j.Data, c.Batch, j.Versions = df.data(), df.batch, versions()
	if err := j.Load(); err != nil {
		return err
	}
	if st, err := os.Stat(j.ModelPath); err == nil && j.LowMemorySwitch {
		fmt.Fprintf(stderr, "%s is %d MB: pruning with --low-memory (pass --low-memory=false for the faster, larger-memory mode)\n", j.ModelPath, st.Size()>>20)
	}
	return j.run(ctx, stdout, stderr)
}

// registerOptions adds the K-prune option flags to fs, with --flops-reduction, --faithful and the
// runtime flags (--micro-batch, --low-memory, --threads, --provider); their defaults are those
// of prune.DefaultOptions. Call the returned function after parsing: it applies --faithful.
func registerOptions(fs *flag.FlagSet, opts *prune.Options) (finish func()) {
	d := prune.DefaultOptions()
	faithful := fs.Bool("faithful", false, "the paper's exact K-prune setting (the reference implementation's): every [ours] option off unless given, calibration batched in draw order unless --bucket. Default: --fisher (classification heads) --per-example --auto-lambda with --bucket (chosen by measurement, docs/results/defaults.md)")
	fs.Float64Var(&opts.Reduction, "flops-reduction", 0.5, "fraction of encoder FLOPs to remove, in [0, 1)")
	fs.Float64Var(&opts.Lambda, "lambda", prune.DefaultLambda, "weight of representational knowledge (>= 0)")
	fs.Float64Var(&opts.Mu, "mu", prune.DefaultMu, "multiplier of head scores (>= 0)")
	fs.Float64Var(&opts.Temperature, "temperature", prune.DefaultTemperature, "softmax temperature of the predictive loss (> 0)")
	fs.Float64Var(&opts.SeqLen, "seq-len", 0, "costing sequence length for the FLOPs model (default: calibration average)")
	fs.BoolVar(&opts.NoTuning, "no-tuning", false, "skip the least-squares weight tuning")
	fs.BoolVar(&opts.KeepBias, "keep-bias", false, "[ours] a removed sublayer computes LN(x + b) instead of LN(x)")
	fs.BoolVar(&opts.AutoLambda, "auto-lambda", d.AutoLambda, "[ours] balance predictive and representational knowledge automatically (off with --faithful)")
	fs.BoolVar(&opts.Fisher, "fisher", d.Fisher, "[ours] predictive knowledge from the cross-entropy with labels sampled from the teacher (non-zero from the first sublayer on; classification heads only: by default on for them, off with --faithful)")
	fs.BoolVar(&opts.PerExample, "per-example", d.PerExample, "[ours] predictive knowledge from per-example mask gradients (off with --faithful)")
	fs.StringVar(&opts.Pooling, "pooling", "", "[ours] for embedding models that output hidden states only: pool them by `mean` or cls (the first token) for the predictive loss, +norm to L2-normalise first (mean+norm, cls+norm: measured no better, docs/results/defaults.md) (default: as the sentence-transformers 1_Pooling/config.json next to the model or one folder up says, else mean)")
	fs.IntVar(&opts.RoundTo, "round-to", 0, "[ours] keep head and neuron counts per sublayer at multiples of `N`")
	fs.IntVar(&opts.MicroBatch, "micro-batch", 0, "run the gradient pass on at most `N` sequences at a time (less memory; 0: as many as fit ~1 GB of activations, whole batches on small models). Results equal up to float32 rounding: same units kept unless scores nearly tie, tuned weights within ~1e-3 of each tensor's largest weight (not bit for bit)")
	fs.BoolVar(&opts.LowMemory, "low-memory", false, "bound memory: onnxruntime without its memory arena, the gradient pass on as many sequences at a time as fit ~128 MB of activations (unless --micro-batch), Go garbage collected per batch; ~15% slower, results as with --micro-batch (equal up to float32 rounding). Default: on for models of 256 MB and more (--low-memory=false turns it off)")
	fs.IntVar(&opts.Threads, "threads", 0, "onnxruntime intra-op threads (0: all cores)")
	fs.StringVar(&opts.Provider, "provider", "cpu", "execution provider: cpu or cuda")
	return func() {
		if *faithful {
			_ = opts.ApplyPreset(prune.PresetFaithful, func(o string) bool { return given(fs, optionFlags[o]) })
		}
	}
}

func trimExt(p string) string { return p[:len(p)-len(filepath.Ext(p))] }

// checkPaths rejects output paths that would overwrite the input or cannot be written (see
// checkOutputs), before any long work.
func (j *pruneJob) checkPaths(w io.Writer) error {
	if err := checkNotInput("--out ", j.ModelPath, j.outPath); err != nil {
		return err
	}
	return checkOutputs(w, j.force, j.outPath, j.reportPath, j.htmlPath())
}

// htmlPath is the HTML report: the JSON report's path with .html.
func (j *pruneJob) htmlPath() string { return trimExt(j.reportPath) + ".html" }

// optionFlags maps the names of prune.Options fields (prune.OptionError.Option) to their flags.
var optionFlags = map[string]string{
	"Reduction": "flops-reduction", "Lambda": "lambda", "Mu": "mu", "Temperature": "temperature", "SeqLen": "seq-len",
	"RoundTo": "round-to", "MicroBatch": "micro-batch", "Threads": "threads", "Provider": "provider", "Pooling": "pooling",
	"NoTuning": "no-tuning", "KeepBias": "keep-bias", "AutoLambda": "auto-lambda", "PerExample": "per-example", "Fisher": "fisher",
}

// optionUsageError turns an invalid prune option into a usage error that names its flag.
func optionUsageError(err error) error {
	var oe *prune.OptionError
	if errors.As(err, &oe) {
		if f, ok := optionFlags[oe.Option]; ok {
			return usageError{fmt.Sprintf("--%s %v: %s", f, oe.Value, oe.Reason)}
		}
	}
	return usageError{err.Error()}
}

// run prunes, self-checks and writes the outputs (with --quantize, the int8 model too).
func (j *pruneJob) run(ctx context.Context, stdout, stderr io.Writer) error {
	bar := pipeline.NewProgressBar(stderr)
	bar.SetETA(j.ETA())
	if j.Calib.Samples == 0 && j.Calib.Tokens == 0 {
		bar.Advice = j.SlowRunAdvice()
	}
	res, err := j.Run(ctx, bar.Update)
	bar.Done()
	if err != nil {
		return err
	}
	if err := j.Check(ctx, res, j.outPath); err != nil {
		return err
	}
	rep, out := &res.Report, pipeline.PruneOutputs{Model: j.outPath, Report: j.reportPath, HTML: j.htmlPath(), Force: j.force}
	if q := j.quant; q != nil {
		out.Quantize = &pipeline.PruneQuantize{Out: q.out, Mode: q.quantMode, Options: q.opts, Latency: q.bench.options(), Seq: func(seq int) { q.noteSeq(stderr, seq) }}
	}
	heldOut, err := j.Write(ctx, res, out)
	if err != nil {
		return err
	}
	report.WriteSummary(stdout, rep)
	if q := j.quant; q != nil {
		rep.Quantization.WriteText(stdout)
		compare.WriteSideBySide(stdout, rep.Models, heldOut)
		fmt.Fprintf(stdout, "wrote %s, %s, %s and %s\n", j.outPath, q.out, j.reportPath, j.htmlPath())
	} else {
		fmt.Fprintf(stdout, "wrote %s, %s and %s\n", j.outPath, j.reportPath, j.htmlPath())
	}
	return j.finish(stderr, rep)
}

// finish prints the run's quality warnings and, under --strict, turns them into an error.
func (j *pruneJob) finish(stderr io.Writer, rep *prune.Report) error {
	report.WriteWarnings(stderr, rep.Warnings)
	if j.strict && len(rep.Warnings) > 0 {
		return fmt.Errorf("%d quality warning(s) and --strict (the outputs were written; see the warnings in %s)", len(rep.Warnings), j.reportPath)
	}
	return nil
}

// versions are the versions of this run for its report.
func versions() prune.Versions { return prune.CurrentVersions(Version) }
