package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/kprune/kprune/compare"
	"github.com/kprune/kprune/onnx"
	"github.com/kprune/kprune/prune"
)

// compareFlags are the flags of `kprune compare`.
type compareFlags struct {
	df                                 dataFlags
	modelPath, calibPath, evalPath     string
	methodList, reductionList, outDir  string
	samples, latBatch, latSeq, latRuns int
	threads                            int
	bucket, saveModels, force          bool
	seed                               uint64
	seqLen                             float64
	methods                            []string
	reductions                         []float64
}

func cmdCompare(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cf, err := parseCompareFlags(args, stderr)
	if err != nil {
		return err
	}
	files := compare.FilesIn(cf.outDir)
	if err := os.MkdirAll(cf.outDir, 0o755); err != nil {
		return err
	}
	outputs := []string{files.CSV, files.JSON, files.SVG}
	if cf.saveModels {
		for _, method := range cf.methods {
			for _, r := range cf.reductions {
				outputs = append(outputs, compare.ModelPath(cf.outDir, method, r))
			}
		}
	}
	if err := checkOutputs(stderr, cf.force, outputs...); err != nil {
		return err
	}
	sw, err := cf.sweep(ctx)
	if err != nil {
		return err
	}
	st := sw.Result.Calibration
	fmt.Fprintf(stderr, "compare: %s, %d calibration sequences (average length %.1f), %d evaluation examples; unpruned %s %.4f\n",
		filepath.Base(cf.modelPath), st.Sequences, st.AvgLen, sw.Eval.Examples(), sw.Eval.Metric, sw.Eval.BaseValue)
	var bar *progressBar
	sw.Observe = compare.Observer{
		Start: func(string, float64) func(prune.Progress) {
			bar = newProgressBar(stderr)
			return bar.update
		},
		Pruned: func() { bar.done() },
		Done: func(row *compare.Row) {
			if row.Error != "" {
				fmt.Fprintf(stderr, "compare: %s at %.0f%% failed: %v\n", row.Method, 100*row.RequestedReduction, row.Error)
			} else {
				fmt.Fprintf(stderr, "compare: %s at %.0f%%: achieved %.2f%%, %s %.4f, %.1fs\n", row.Method, 100*row.RequestedReduction, 100*row.AchievedFLOPs, row.Metric, row.Value, row.PruneSeconds)
			}
		},
	}
	if cf.saveModels {
		sw.Save = func(ctx context.Context, method string, r float64, m *onnx.ModelProto) (string, error) {
			p := compare.ModelPath(cf.outDir, method, r)
			return p, onnx.SaveContext(ctx, p, m, onnx.SaveOptions{Overwrite: cf.force})
		}
	}
	res, err := sw.Run(ctx)
	if err != nil {
		return err
	}
	if err := compare.Write(ctx, files, res); err != nil {
		return err
	}
	res.WriteText(stdout)
	fmt.Fprintf(stdout, "wrote %s, %s and %s\n", files.CSV, files.JSON, files.SVG)
	if failed := res.Failed(); failed > 0 {
		return fmt.Errorf("%d of %d runs failed (see the error column of %s)", failed, len(res.Rows), files.CSV)
	}
	return nil
}

// parseCompareFlags parses and checks the flags of `kprune compare`.
func parseCompareFlags(args []string, stderr io.Writer) (*compareFlags, error) {
	fs := newFlags("compare", stderr)
	cf := &compareFlags{}
	df := &cf.df
	fs.StringVar(&cf.modelPath, "model", "", "ONNX `MODEL` to prune (never modified)")
	fs.StringVar(&cf.calibPath, "calib", "", "calibration data `FILE` (the training split; kwon needs its labels)")
	fs.StringVar(&cf.evalPath, "eval", "", "labelled evaluation data `FILE` (the dev split)")
	fs.StringVar(&cf.methodList, "methods", strings.Join(prune.MethodNames, ","), "comma-separated pruning `METHODS`: "+strings.Join(prune.MethodNames, ", "))
	fs.StringVar(&cf.reductionList, "reductions", "0.4,0.5,0.6,0.7,0.8", "comma-separated FLOPs `REDUCTIONS` to run, each in [0, 1)")
	fs.IntVar(&cf.samples, "samples", 0, "number of calibration sequences, the same for every method (default: int(100000 / average length), K-prune's reference)")
	fs.BoolVar(&cf.bucket, "bucket", false, "[ours] batch calibration sequences of similar length together (less padding, faster)")
	fs.Uint64Var(&cf.seed, "seed", 0, "calibration sampling seed")
	fs.Float64Var(&cf.seqLen, "seq-len", 0, "costing sequence length of the FLOPs model (default: calibration average)")
	fs.StringVar(&cf.outDir, "out", "kprune-compare", "`FOLDER` for compare.csv, compare.json and compare.svg (created if missing)")
	fs.BoolVar(&cf.saveModels, "save-models", false, "also write every pruned model to FOLDER/METHOD-PCT.onnx")
	fs.IntVar(&cf.latBatch, "latency-batch", 32, "latency batch size")
	fs.IntVar(&cf.latSeq, "latency-seq", 128, "latency sequence length (at most --max-len)")
	fs.IntVar(&cf.latRuns, "latency-runs", 10, "timed latency runs per model, interleaved with the original (0: skip latency)")
	fs.IntVar(&cf.threads, "threads", 0, "onnxruntime intra-op threads (0: all cores)")
	fs.BoolVar(&cf.force, "force", false, "overwrite existing compare.* files in FOLDER")
	fs.StringVar(&df.tokenizer, "tokenizer", "", "the model's tokenizer.json or vocab.txt (default: next to the model)")
	fs.StringVar(&df.columns, "columns", "", "text columns `a,b` by header name or 0-based index (default: GLUE conventions)")
	fs.StringVar(&df.label, "label", "", "label or score column by name or index (default: label/score or the last column)")
	fs.StringVar(&df.format, "format", "", formatUsage+"; applies to --calib and --eval")
	fs.StringVar(&df.header, "header", "auto", headerUsage)
	fs.IntVar(&df.maxLen, "max-len", 128, "maximum sequence length in tokens")
	fs.IntVar(&df.batch, "batch", 32, "calibration batch size (sequences)")
	setUsage(fs, stderr, "kprune compare --model M.onnx --calib TRAIN --eval DEV [--methods kprune,kwon,magnitude] [--reductions 0.4,...] [flags]")
	if err := parseFlags(fs, args); err != nil {
		return nil, err
	}
	df.maxLenGiven = given(fs, "max-len")
	if fs.NArg() > 0 {
		return nil, usageError{fmt.Sprintf("unexpected arguments %q", fs.Args())}
	}
	if cf.modelPath == "" || cf.calibPath == "" || cf.evalPath == "" {
		return nil, usageError{"--model, --calib and --eval are required"}
	}
	var err error
	if cf.methods, err = compare.ParseMethods(cf.methodList); err != nil {
		return nil, usageError{"--methods: " + err.Error()}
	}
	if cf.reductions, err = compare.ParseReductions(cf.reductionList); err != nil {
		return nil, usageError{"--reductions: " + err.Error()}
	}
	opts := cf.options()
	for _, r := range cf.reductions {
		opts.Reduction = r
		if err := opts.Validate(); err != nil {
			return nil, optionUsageError(err)
		}
	}
	if err := df.check(); err != nil {
		return nil, err
	}
	if cf.samples < 0 || df.batch <= 0 || df.maxLen <= 2 || cf.latBatch <= 0 || cf.latSeq <= 0 || cf.latRuns < 0 || cf.seqLen < 0 {
		return nil, usageError{"--samples, --seq-len and --latency-runs must not be negative; --batch, --latency-batch and --latency-seq must be positive; --max-len above 2"}
	}
	return cf, nil
}

// options are the K-prune options of every run (the methods take what they share of them).
func (cf *compareFlags) options() prune.Options {
	opts := prune.DefaultOptions()
	opts.SeqLen, opts.Threads = cf.seqLen, cf.threads
	return opts
}

// sweep loads the model, the calibration set (one for every method; labels only when a method
// needs them) and the evaluation set, and returns the sweep to run.
func (cf *compareFlags) sweep(ctx context.Context) (*compare.Sweep, error) {
	df := &cf.df
	lm, err := prune.Load(cf.modelPath, df.tokenizer)
	if err != nil {
		return nil, err
	}
	m, enc, tok := lm.Model, lm.Encoder, lm.Tokenizer
	if err := df.fitMaxLen(cf.modelPath, m, enc); err != nil {
		return nil, err
	}
	if err := checkSeqLen("--latency-seq", min(cf.latSeq, df.maxLen), cf.modelPath, m, enc); err != nil {
		return nil, err
	}
	sw := &compare.Sweep{Model: m, Encoder: enc, Reductions: cf.reductions, SeqLen: cf.seqLen, Threads: cf.threads,
		Latency: compare.Latency{Batch: cf.latBatch, Seq: min(cf.latSeq, df.maxLen), Runs: cf.latRuns}}
	needLabels := false
	for _, name := range cf.methods {
		method, err := prune.MethodWith(name, cf.options())
		if err != nil {
			return nil, err
		}
		sw.Methods = append(sw.Methods, method)
		needLabels = needLabels || prune.NeedsTargets(method)
	}
	cds, cencs, err := prune.ReadEncoded(tok, cf.calibPath, nil, df.readOptions(needLabels), df.maxLen)
	if err != nil {
		return nil, err
	}
	cs, err := prune.BuildCalibration(tok, cencs, prune.CalibOptions{Samples: cf.samples, Bucket: cf.bucket, Batch: df.batch, Seed: cf.seed, Source: cf.calibPath})
	if err != nil {
		return nil, err
	}
	sw.Calibration.Batches = cs.Batches
	if needLabels {
		if sw.Calibration.Labels, sw.Calibration.Scores, err = prune.CalibrationTargets(cds, cs.Batches); err != nil {
			return nil, err
		}
	}
	if sw.Eval, err = compare.LoadEvalSet(ctx, m, enc, tok, cf.evalPath, df.readOptions(true), df.maxLen, cf.threads); err != nil {
		return nil, err
	}
	st := cs.Stats
	sw.Result = compare.Result{Model: cf.modelPath, Eval: cf.evalPath, Versions: versions(),
		Calibration: prune.CalibStats{Sequences: st.Sequences, Tokens: st.Tokens, PaddedTokens: st.PaddedTokens, AvgLen: st.AvgLen,
			Distinct: st.Distinct, Batches: len(cs.Batches), Seed: cf.seed, Source: cf.calibPath}}
	return sw, nil
}
