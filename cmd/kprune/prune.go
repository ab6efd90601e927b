package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/kprune/kprune/data"
	"github.com/kprune/kprune/eval"
	"github.com/kprune/kprune/onnx"
	"github.com/kprune/kprune/output"
	"github.com/kprune/kprune/prune"
	"github.com/kprune/kprune/report"
)

// pruneJob is everything a pruning run needs, gathered and validated before the long work.
type pruneJob struct {
	modelPath, outPath, reportPath string
	model                          *onnx.ModelProto
	unfused                        map[string]int
	calib                          *data.CalibSet
	holdout                        []data.Batch
	opts                           prune.Options
	seed                           uint64
	calibSource                    string
	force                          bool
	// strict makes quality warnings an error (exit 1) once the outputs are written.
	strict bool
	// method is the pruning method; targets holds the calibration labels or scores it needs.
	method  string
	targets prune.Calibration
	// quant is set by --quantize (see quantize.go).
	quant *quantFlags
}

// pruneFlags are the flags of `kprune prune` that pruneJob.load reads.
type pruneFlags struct {
	df                                  dataFlags
	calibPath, evalPath                 string
	samples, tokens                     int
	noReplace, bucket, lowMemoryDefault bool
}

func cmdPrune(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("prune", stderr)
	var pf pruneFlags
	df := &pf.df
	job := &pruneJob{}
	fs.StringVar(&job.modelPath, "model", "", "input ONNX `MODEL` (never modified)")
	fs.StringVar(&job.outPath, "out", "", "output ONNX `FILE` for the pruned model")
	fs.StringVar(&pf.calibPath, "calib", "", "calibration data `FILE` (.tsv with header, .csv, .jsonl); labels are needed only by --method kwon")
	fs.StringVar(&job.method, "method", "kprune", "pruning `METHOD`: kprune, kwon (Kwon et al. 2022; needs labels in --calib) or magnitude")
	fs.StringVar(&job.reportPath, "report", "", "write the JSON run report to `FILE` (default: OUT with .json)")
	fs.StringVar(&pf.evalPath, "eval", "", "held-out data `FILE` for the self-check (default: up to 512 calibration-file rows not sampled)")
	reduction := fs.Float64("flops-reduction", 0.5, "fraction of encoder FLOPs to remove, in [0, 1)")
	fs.IntVar(&pf.samples, "samples", 0, "number of calibration sequences (default: int(100000 / average length), as the reference)")
	fs.IntVar(&pf.tokens, "tokens", 0, "calibration token budget instead of --samples")
	fs.BoolVar(&pf.noReplace, "no-replacement", false, "sample calibration sequences without replacement")
	fs.BoolVar(&pf.bucket, "bucket", false, "[ours] batch calibration sequences of similar length together (less padding, faster; the reference batches in draw order)")
	fs.Uint64Var(&job.seed, "seed", 0, "sampling seed")
	fs.StringVar(&df.tokenizer, "tokenizer", "", "the model's tokenizer.json or vocab.txt (default: next to the model)")
	fs.StringVar(&df.columns, "columns", "", "text columns `a,b` by header name or 0-based index (default: GLUE conventions)")
	fs.StringVar(&df.label, "label", "", "label column of --calib for --method kwon, by name or index (default: label/score or the last column)")
	fs.StringVar(&df.format, "format", "", formatUsage)
	fs.StringVar(&df.header, "header", "auto", headerUsage)
	fs.IntVar(&df.maxLen, "max-len", 128, "maximum sequence length in tokens")
	fs.IntVar(&df.batch, "batch", 32, "calibration batch size (sequences)")
	opts := &job.opts
	registerOptions(fs, opts)
	fs.BoolVar(&job.force, "force", false, "overwrite OUT and the report if they exist")
	fs.BoolVar(&job.strict, "strict", false, fmt.Sprintf("exit with an error (after writing the outputs) when the run has quality warnings: fewer than %d distinct calibration sequences, no self-check, or self-check agreement below %.0f%%", prune.MinDistinctSequences, 100*prune.MinAgreement))
	var qf quantFlags
	qf.register(fs, true)
	setUsage(fs, stderr, "kprune prune --model IN.onnx --out OUT.onnx --calib FILE [--quantize dynamic|static] [flags]")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	df.maxLenGiven = given(fs, "max-len")
	pf.lowMemoryDefault = !given(fs, "low-memory")
	if fs.NArg() > 0 {
		return usageError{fmt.Sprintf("unexpected arguments %q", fs.Args())}
	}
	if job.modelPath == "" || job.outPath == "" || pf.calibPath == "" {
		return usageError{"--model, --out and --calib are required"}
	}
	opts.Reduction = *reduction
	job.calibSource = pf.calibPath
	if err := prune.CheckMethod(job.method); err != nil {
		return usageError{"--method: " + err.Error()}
	}
	if err := opts.Validate(); err != nil {
		return optionUsageError(err)
	}
	if job.reportPath == "" {
		job.reportPath = trimExt(job.outPath) + ".json"
	}
	if err := job.checkPaths(stderr); err != nil {
		return err
	}
	if err := job.setupQuantize(&qf, pf.evalPath, *df, stderr); err != nil {
		return err
	}
	if pf.samples < 0 || pf.tokens < 0 || (pf.samples > 0 && pf.tokens > 0) {
		return usageError{"give at most one of --samples and --tokens, positive"}
	}
	if err := df.check(); err != nil {
		return err
	}
	if err := job.load(&pf, stderr); err != nil {
		return err
	}
	return job.run(ctx, stdout, stderr)
}

// registerOptions adds the K-prune option flags to fs.
func registerOptions(fs *flag.FlagSet, opts *prune.Options) {
	fs.Float64Var(&opts.Lambda, "lambda", prune.DefaultLambda, "weight of representational knowledge (>= 0)")
	fs.Float64Var(&opts.Mu, "mu", prune.DefaultMu, "multiplier of head scores (>= 0)")
	fs.Float64Var(&opts.Temperature, "temperature", prune.DefaultTemperature, "softmax temperature of the predictive loss (> 0)")
	fs.Float64Var(&opts.SeqLen, "seq-len", 0, "costing sequence length for the FLOPs model (default: calibration average)")
	fs.BoolVar(&opts.NoTuning, "no-tuning", false, "skip the least-squares weight tuning")
	fs.BoolVar(&opts.KeepBias, "keep-bias", false, "[ours] a removed sublayer computes LN(x + b) instead of LN(x)")
	fs.BoolVar(&opts.AutoLambda, "auto-lambda", false, "[ours] balance predictive and representational knowledge automatically")
	fs.BoolVar(&opts.Fisher, "fisher", false, "[ours] predictive knowledge from the cross-entropy with labels sampled from the teacher (non-zero from the first sublayer on; classification only)")
	fs.BoolVar(&opts.PerExample, "per-example", false, "[ours] predictive knowledge from per-example mask gradients")
	fs.StringVar(&opts.Pooling, "pooling", "mean", "[ours] for embedding models that output hidden states only: pool them by `mean` or cls (the first token) for the predictive loss")
	fs.IntVar(&opts.RoundTo, "round-to", 0, "[ours] keep head and neuron counts per sublayer at multiples of `N`")
	fs.IntVar(&opts.MicroBatch, "micro-batch", 0, "run the gradient pass on at most `N` sequences at a time (less memory; 0: as many as fit ~1 GB of activations, whole batches on small models). Results equal up to float32 rounding: same units kept unless scores nearly tie, tuned weights within ~1e-3 of each tensor's largest weight (not bit for bit)")
	fs.BoolVar(&opts.LowMemory, "low-memory", false, "bound memory: onnxruntime without its memory arena, the gradient pass on as many sequences at a time as fit ~128 MB of activations (unless --micro-batch), Go garbage collected per batch; ~15% slower, results as with --micro-batch (equal up to float32 rounding). Default: on for models of 256 MB and more (--low-memory=false turns it off)")
	fs.IntVar(&opts.Threads, "threads", 0, "onnxruntime intra-op threads (0: all cores)")
	fs.StringVar(&opts.Provider, "provider", "cpu", "execution provider: cpu or cuda")
}

// load reads the model, the tokenizer, the calibration set (with its targets when the method
// needs them) and the held-out batches of the self-check.
func (j *pruneJob) load(pf *pruneFlags, stderr io.Writer) error {
	df := &pf.df
	lm, err := prune.Load(j.modelPath, df.tokenizer)
	if err != nil {
		return err
	}
	tok := lm.Tokenizer
	j.model, j.unfused = lm.Model, lm.Unfused
	if err := df.fitMaxLen(j.modelPath, lm.Model, lm.Encoder); err != nil {
		return err
	}
	if st, err := os.Stat(j.modelPath); err == nil && j.method == "kprune" && autoLowMemory(pf.lowMemoryDefault, st.Size()) {
		j.opts.LowMemory = true
		fmt.Fprintf(stderr, "%s is %d MB: pruning with --low-memory (pass --low-memory=false for the faster, larger-memory mode)\n", j.modelPath, st.Size()>>20)
	}
	cds, encs, err := prune.ReadEncoded(tok, pf.calibPath, nil, df.readOptions(j.method == "kwon"), df.maxLen)
	if err != nil {
		return err
	}
	if j.calib, err = prune.BuildCalibration(tok, encs, prune.CalibOptions{Samples: pf.samples, Tokens: pf.tokens, NoReplacement: pf.noReplace, Bucket: pf.bucket, Batch: df.batch, Seed: j.seed, Source: pf.calibPath}); err != nil {
		return err
	}
	if j.method == "kwon" {
		if j.targets.Labels, j.targets.Scores, err = prune.CalibrationTargets(cds, j.calib.Batches); err != nil {
			return err
		}
	}
	if pf.evalPath != "" {
		_, eencs, err := prune.ReadEncoded(tok, pf.evalPath, nil, df.readOptions(false), df.maxLen)
		if err != nil {
			return err
		}
		if j.holdout, err = prune.InOrder(tok, eencs, 64); err != nil {
			return err
		}
	} else if j.holdout, err = eval.HeldOut(tok, encs, j.calib.Indices, 512); err != nil {
		return err
	}
	if j.quant != nil {
		j.quant.calibRows = len(encs)
	}
	return nil
}

func trimExt(p string) string { return p[:len(p)-len(filepath.Ext(p))] }

// checkPaths rejects output paths that would overwrite the input or cannot be written (see
// checkOutputs), before any long work.
func (j *pruneJob) checkPaths(w io.Writer) error {
	if err := checkNotInput("--out ", j.modelPath, j.outPath); err != nil {
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

// lowMemoryModelBytes is the model size from which prune uses --low-memory unless told otherwise:
// on a generated 4-layer, 768-wide model (211 MB) the default mode peaked at 2.7 GB against 0.7 GB
// with --low-memory, for 14% more time.
const lowMemoryModelBytes = 256 << 20

// autoLowMemory reports whether prune should switch --low-memory on by itself: the flag was not
// given (notGiven) and the model file has at least lowMemoryModelBytes.
func autoLowMemory(notGiven bool, modelBytes int64) bool {
	return notGiven && modelBytes >= lowMemoryModelBytes
}

func (j *pruneJob) run(ctx context.Context, stdout, stderr io.Writer) error {
	method, err := prune.MethodWith(j.method, j.opts)
	if err != nil {
		return err
	}
	bar := newProgressBar(stderr)
	calib := j.targets
	calib.Batches = j.calib.Batches
	res, err := method.Prune(ctx, j.model, calib, prune.Budget{Reduction: j.opts.Reduction, SeqLen: j.opts.SeqLen}, bar.update)
	bar.done()
	if err != nil {
		return err
	}
	rep := &res.Report
	rep.InputModel, rep.OutputModel = j.modelPath, j.outPath
	if len(rep.Unfused) == 0 {
		rep.Unfused = j.unfused // unfused when the model was loaded
	}
	rep.Calibration.Seed, rep.Calibration.Source = j.seed, j.calibSource
	rep.Versions = versions()
	if st, err := os.Stat(j.modelPath); err == nil {
		rep.InputBytes = st.Size()
	}
	if len(j.holdout) > 0 {
		sc, err := eval.SelfCheck(ctx, j.model, res.Model, j.holdout, eval.PredictOptions{Threads: j.opts.Threads, LowMemory: j.opts.LowMemory, Pooling: j.opts.Pooling})
		if err != nil {
			return fmt.Errorf("self-check of the pruned model: %w", err)
		}
		rep.SelfCheck = sc
	}
	rep.Warnings = rep.QualityWarnings()
	if j.quant != nil {
		return j.runQuantized(ctx, res.Model, rep, stdout, stderr)
	}
	if err := output.WriteRun(ctx, output.Run{Models: []output.Model{{Path: j.outPath, Model: res.Model}}, ReportPath: j.reportPath, HTMLPath: j.htmlPath(), Report: rep, Force: j.force}); err != nil {
		return err
	}
	report.WriteSummary(stdout, rep)
	fmt.Fprintf(stdout, "wrote %s, %s and %s\n", j.outPath, j.reportPath, j.htmlPath())
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
