package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/kprune/kprune/compare"
	"github.com/kprune/kprune/pipeline"
	"github.com/kprune/kprune/prune"
)

// compareFlags are the flags of `kprune compare`.
type compareFlags struct {
	pipeline.CompareOptions
	df                                dataFlags
	methodList, reductionList, outDir string
	saveModels, force                 bool
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
		outputs = append(outputs, compare.ModelPaths(cf.outDir, cf.Methods, cf.Reductions)...)
	}
	if err := checkOutputs(stderr, cf.force, outputs...); err != nil {
		return err
	}
	sw, err := pipeline.CompareSweep(ctx, cf.CompareOptions)
	if err != nil {
		return err
	}
	st := sw.Result.Calibration
	fmt.Fprintf(stderr, "compare: %s, %d calibration sequences (average length %.1f), %d evaluation examples; unpruned %s %.4f\n",
		filepath.Base(cf.ModelPath), st.Sequences, st.AvgLen, sw.Eval.Examples(), sw.Eval.Metric, sw.Eval.BaseValue)
	var bar *pipeline.ProgressBar
	sw.Observe = compare.Observer{
		Start: func(string, float64) func(prune.Progress) {
			bar = pipeline.NewProgressBar(stderr)
			return bar.Update
		},
		Pruned: func() { bar.Done() },
		Done: func(row *compare.Row) {
			if row.Error != "" {
				fmt.Fprintf(stderr, "compare: %s at %.0f%% failed: %v\n", row.Method, 100*row.RequestedReduction, row.Error)
			} else {
				fmt.Fprintf(stderr, "compare: %s at %.0f%%: achieved %.2f%%, %s %.4f, %.1fs\n", row.Method, 100*row.RequestedReduction, 100*row.AchievedFLOPs, row.Metric, row.Value, row.PruneSeconds)
			}
		},
	}
	if cf.saveModels {
		sw.Save = compare.SaveIn(cf.outDir, cf.force)
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
	cf.Options = prune.DefaultOptions()
	df, o, c, lat := &cf.df, &cf.Options, &cf.Calib, &cf.Latency
	fs.StringVar(&cf.ModelPath, "model", "", "ONNX `MODEL` to prune (never modified)")
	fs.StringVar(&cf.CalibPath, "calib", "", "calibration data `FILE` (the training split; kwon needs its labels)")
	fs.StringVar(&cf.EvalPath, "eval", "", "labelled evaluation data `FILE` (the dev split)")
	fs.StringVar(&cf.methodList, "methods", strings.Join(prune.MethodNames, ","), "comma-separated pruning `METHODS`: "+strings.Join(prune.MethodNames, ", "))
	fs.StringVar(&cf.reductionList, "reductions", "0.4,0.5,0.6,0.7,0.8", "comma-separated FLOPs `REDUCTIONS` to run, each in [0, 1)")
	fs.IntVar(&c.Samples, "samples", 0, "number of calibration sequences, the same for every method (default: int(100000 / average length), K-prune's reference)")
	fs.BoolVar(&c.Bucket, "bucket", false, "[ours] batch calibration sequences of similar length together (less padding, faster). Default: on for K-prune's default setting, off with --faithful")
	faithful := fs.Bool("faithful", false, "run K-prune in the paper's exact setting (the reference implementation's) instead of kprune's default (--fisher on classification heads, --per-example, --auto-lambda)")
	fs.Uint64Var(&c.Seed, "seed", 0, "calibration sampling seed")
	fs.Float64Var(&o.SeqLen, "seq-len", 0, "costing sequence length of the FLOPs model (default: calibration average)")
	fs.StringVar(&cf.outDir, "out", "kprune-compare", "`FOLDER` for compare.csv, compare.json and compare.svg (created if missing)")
	fs.BoolVar(&cf.saveModels, "save-models", false, "also write every pruned model to FOLDER/METHOD-PCT.onnx")
	fs.IntVar(&lat.Batch, "latency-batch", 32, "latency batch size")
	fs.IntVar(&lat.Seq, "latency-seq", 128, "latency sequence length (at most --max-len)")
	fs.IntVar(&lat.Runs, "latency-runs", 10, "timed latency runs per model, interleaved with the original (0: skip latency)")
	fs.IntVar(&o.Threads, "threads", 0, "onnxruntime intra-op threads (0: all cores)")
	fs.BoolVar(&cf.force, "force", false, "overwrite existing compare.* files in FOLDER")
	df.register(fs, "label or score column by name or index (default: label/score or the last column)", 32, "calibration batch size (sequences)")
	fs.Lookup("format").Usage += "; applies to --calib and --eval"
	setUsage(fs, stderr, "kprune compare --model M.onnx --calib TRAIN --eval DEV [--methods kprune,kwon,magnitude] [--reductions 0.4,...] [flags]")
	if err := parseFlags(fs, args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, usageError{fmt.Sprintf("unexpected arguments %q", fs.Args())}
	}
	if *faithful {
		_ = o.ApplyPreset(prune.PresetFaithful, nil)
	}
	c.Bucket = c.Bucket || !given(fs, "bucket") && pipeline.DefaultBucket("kprune", o)
	if cf.ModelPath == "" || cf.CalibPath == "" || cf.EvalPath == "" {
		return nil, usageError{"--model, --calib and --eval are required"}
	}
	var err error
	if cf.Methods, err = compare.ParseMethods(cf.methodList); err != nil {
		return nil, usageError{"--methods: " + err.Error()}
	}
	if cf.Reductions, err = compare.ParseReductions(cf.reductionList); err != nil {
		return nil, usageError{"--reductions: " + err.Error()}
	}
	opts := cf.Options
	for _, r := range cf.Reductions {
		opts.Reduction = r
		if err := opts.Validate(); err != nil {
			return nil, optionUsageError(err)
		}
	}
	if err := df.check(); err != nil {
		return nil, err
	}
	if c.Samples < 0 || df.batch <= 0 || df.maxLen <= 2 || lat.Batch <= 0 || lat.Seq <= 0 || lat.Runs < 0 || o.SeqLen < 0 {
		return nil, usageError{"--samples, --seq-len and --latency-runs must not be negative; --batch, --latency-batch and --latency-seq must be positive; --max-len above 2"}
	}
	cf.Data, c.Batch, cf.Versions = df.data(), df.batch, versions()
	return cf, nil
}
