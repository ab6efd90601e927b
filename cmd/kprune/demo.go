package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/kprune/kprune/bench"
	"github.com/kprune/kprune/demo"
	"github.com/kprune/kprune/eval"
	"github.com/kprune/kprune/output"
	"github.com/kprune/kprune/prune"
	"github.com/kprune/kprune/report"
	ort "github.com/kprune/kprune/runtime"
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
	r, err := runDemo(ctx, opts, *samples, stderr)
	if err != nil {
		return err
	}
	rep := &r.pruned.Report
	rep.OutputModel = outModel
	if err := output.WriteRun(ctx, output.Run{Models: []output.Model{{Path: outModel, Model: r.pruned.Model}}, ReportPath: outReport, HTMLPath: outHTML,
		Report: rep, Extra: r.extra(*threads), Force: *force}); err != nil {
		return err
	}
	before, after, lat := r.before, r.after, r.lat
	report.WriteSummary(stdout, rep)
	fmt.Fprintf(stdout, "\n%-22s %10s %10s\n", "", "original", "pruned")
	fmt.Fprintf(stdout, "%-22s %10.4f %10.4f\n", "SST-2 dev accuracy", *before.Accuracy, *after.Accuracy)
	fmt.Fprintf(stdout, "%-22s %10.2f %10.2f\n", "latency ms (32x64)", ms(lat[0].P50), ms(lat[1].P50))
	fmt.Fprintf(stdout, "%-22s %10s %9.2fx\n", "speed-up (p50)", "", float64(lat[0].P50)/float64(lat[1].P50))
	fmt.Fprintf(stdout, "%-22s %10s %9.2f%%\n", "agreement", "", 100**after.Agreement)
	fmt.Fprintf(stdout, "\npruned in %.1fs; wrote %s, %s and %s\n", r.pruneTime.Seconds(), outModel, outReport, outHTML)
	report.WriteWarnings(stderr, rep.Warnings)
	return nil
}

// demoRun is a pruned demo model with its measurements.
type demoRun struct {
	pruned        *prune.Result
	before, after *eval.Result
	lat           [2]ort.LatencyStats
	pruneTime     time.Duration
}

// runDemo prunes the demo model with K-prune, evaluates it and the original on SST-2 dev (the
// report's self-check) and measures both models' latency at batch 32 x 64, interleaved.
func runDemo(ctx context.Context, opts prune.Options, samples int, stderr io.Writer) (*demoRun, error) {
	m, err := demo.LoadModel()
	if err != nil {
		return nil, err
	}
	tok, err := demo.Tokenizer()
	if err != nil {
		return nil, err
	}
	_, encs, err := prune.ReadEncoded(tok, "sst2-calib.tsv", demo.CalibTSV, (&dataFlags{}).readOptions(false), demo.MaxLen)
	if err != nil {
		return nil, err
	}
	cs, err := prune.BuildCalibration(tok, encs, prune.CalibOptions{Samples: samples, Bucket: true, Source: "built-in SST-2 train sample"})
	if err != nil {
		return nil, err
	}
	r := &demoRun{}
	t0 := time.Now()
	bar := newProgressBar(stderr)
	r.pruned, err = prune.KPruneMethod{Options: opts}.Prune(ctx, m, prune.Calibration{Batches: cs.Batches}, prune.Budget{Reduction: opts.Reduction, SeqLen: opts.SeqLen}, bar.update)
	bar.done()
	if err != nil {
		return nil, err
	}
	r.pruneTime = time.Since(t0)
	rep := &r.pruned.Report
	rep.Calibration.Source = "built-in SST-2 train sample"
	rep.Versions = versions()
	rep.InputBytes = int64(len(demo.Model))
	evalDF := dataFlags{maxLen: demo.MaxLen, batch: 64}
	if r.before, err = evaluateModels(ctx, "original", m, nil, tok, "sst2-dev.tsv", demo.DevTSV, evalDF, opts.Threads); err != nil {
		return nil, err
	}
	if r.after, err = evaluateModels(ctx, "pruned", r.pruned.Model, m, tok, "sst2-dev.tsv", demo.DevTSV, evalDF, opts.Threads); err != nil {
		return nil, err
	}
	a := r.after
	rep.SelfCheck = &prune.SelfCheck{Loaded: true, Examples: a.Examples, Agreement: *a.Agreement, MeanKL: *a.MeanKL, MaxAbs: *a.MaxAbs}
	if r.lat, err = bench.MeasurePair(ctx, m, r.pruned.Model, 32, demo.MaxLen, opts.Threads, 5, 20); err != nil {
		return nil, err
	}
	rep.Warnings = rep.QualityWarnings()
	return r, nil
}

// extra is the HTML report's extra content: the accuracy before and after, and the latency.
func (r *demoRun) extra(threads int) report.Extra {
	lat := r.lat
	return report.Extra{
		Title: "kprune demo: SST-2 classifier pruned by K-prune",
		// The agreement is the report's self-check (on SST-2 dev): shown once, from there.
		Metrics: []report.Metric{{Name: "SST-2 dev accuracy", Original: r.before.Accuracy, Pruned: r.after.Accuracy}},
		Latency: []report.Latency{
			{Model: "original", Batch: 32, Seq: demo.MaxLen, Threads: threads, Runs: lat[0].Runs, Mean: lat[0].Mean, P50: lat[0].P50, P90: lat[0].P90},
			{Model: "pruned", Batch: 32, Seq: demo.MaxLen, Threads: threads, Runs: lat[1].Runs, Mean: lat[1].Mean, P50: lat[1].P50, P90: lat[1].P90, Speedup: float64(lat[0].P50) / float64(lat[1].P50)},
		},
	}
}

func ms(d time.Duration) float64 { return float64(d) / 1e6 }
