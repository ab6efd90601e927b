package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/kprune/kprune/output"
	"github.com/kprune/kprune/pipeline"
	"github.com/kprune/kprune/prune"
	"github.com/kprune/kprune/report"
)

// cmdDemo prunes the built-in demo model (an SST-2 classifier) at 50% FLOPs on a built-in
// calibration sample of SST-2 train, evaluates it on SST-2 dev, and measures its latency.
func cmdDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("demo", stderr)
	outDir := fs.String("out", "kprune-demo", "`FOLDER` for the pruned model and its report (created if missing)")
	reduction := fs.Float64("flops-reduction", 0.5, "fraction of encoder FLOPs to remove")
	threads := fs.Int("threads", 0, "onnxruntime intra-op threads (0: all cores)")
	force := fs.Bool("force", false, "overwrite the outputs in FOLDER if they exist")
	samples := fs.Int("samples", 0, "number of calibration sequences (default: int(100000 / average length), as the reference; fewer run faster)")
	setUsage(fs, stderr, "kprune demo [--out FOLDER] [flags]",
		"Prunes the built-in demo model (an SST-2 classifier) on a built-in calibration sample, evaluates it\non SST-2 dev and measures its latency; writes model-pruned.onnx, report.json and report.html to FOLDER.")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Sprintf("unexpected arguments %q (give the folder with --out)", fs.Args())}
	}
	if *samples < 0 {
		return usageError{fmt.Sprintf("--samples %d: must not be negative", *samples)}
	}
	opts := prune.DefaultOptions()
	opts.Reduction, opts.Threads = *reduction, *threads
	if err := opts.Validate(); err != nil {
		return optionUsageError(err)
	}
	if err := os.MkdirAll(*outDir, 0o755); err != nil {
		return err
	}
	outModel := filepath.Join(*outDir, "model-pruned.onnx")
	outReport := filepath.Join(*outDir, "report.json")
	outHTML := filepath.Join(*outDir, "report.html")
	if err := checkOutputs(stderr, *force, outModel, outReport, outHTML); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "kprune demo: pruning the built-in SST-2 classifier (2 layers, hidden 128, 2 heads, FFN 512) by %.0f%% of its FLOPs\n", 100**reduction)
	bar := pipeline.NewProgressBar(stderr)
	r, err := pipeline.Demo(ctx, opts, *samples, versions(), bar.Update, bar.Done)
	if err != nil {
		return err
	}
	rep := &r.Pruned.Report
	rep.OutputModel = outModel
	if err := output.WriteRun(ctx, output.Run{Models: []output.Model{{Path: outModel, Model: r.Pruned.Model}}, ReportPath: outReport, HTMLPath: outHTML,
		Report: rep, Extra: r.Extra(*threads), Force: *force}); err != nil {
		return err
	}
	report.WriteSummary(stdout, rep)
	r.WriteText(stdout)
	fmt.Fprintf(stdout, "\npruned in %.1fs; wrote %s, %s and %s\n", r.PruneTime.Seconds(), outModel, outReport, outHTML)
	report.WriteWarnings(stderr, rep.Warnings)
	return nil
}
