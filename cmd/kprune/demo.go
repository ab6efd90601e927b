package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/kprune/kprune/data"
	"github.com/kprune/kprune/graph"
	"github.com/kprune/kprune/internal/demo"
	"github.com/kprune/kprune/onnx"
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
	m, err := onnx.Decode(demo.Model)
	if err != nil {
		return fmt.Errorf("built-in demo model: %w", err)
	}
	tok, err := data.ReadVocab(bytes.NewReader(demo.Vocab), "demo vocab.txt", data.DefaultVocabOptions())
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "kprune demo: pruning the built-in SST-2 classifier (2 layers, hidden 128, 2 heads, FFN 512) by %.0f%% of its FLOPs\n", 100**reduction)
	df := dataFlags{maxLen: demo.MaxLen, batch: 32}
	_, encs, err := loadEncoded(tok, "sst2-calib.tsv", demo.CalibTSV, df.readOptions(false), df.maxLen)
	if err != nil {
		return err
	}
	job := &pruneJob{modelPath: "built-in demo model", model: m, calibSource: "built-in SST-2 train sample", opts: opts}
	if err := job.buildCalibration(tok, encs, *samples, 0, true, true, df.batch); err != nil {
		return err
	}
	t0 := time.Now()
	bar := newProgressBar(stderr)
	res, err := prune.KPrune(ctx, m, job.calib.Batches, job.opts, bar.update)
	bar.done()
	if err != nil {
		return err
	}
	pruneTime := time.Since(t0)
	rep := &res.Report
	rep.Calibration.Source = job.calibSource
	rep.Versions = versions()
	rep.OutputModel = outModel
	rep.InputBytes = int64(len(demo.Model))

	// Accuracy on SST-2 dev, before and after, and agreement.
	evalDF := dataFlags{maxLen: demo.MaxLen, batch: 64}
	before, err := evaluateModels(ctx, "original", m, nil, tok, "sst2-dev.tsv", demo.DevTSV, evalDF, *threads)
	if err != nil {
		return err
	}
	after, err := evaluateModels(ctx, "pruned", res.Model, m, tok, "sst2-dev.tsv", demo.DevTSV, evalDF, *threads)
	if err != nil {
		return err
	}
	rep.SelfCheck = &prune.SelfCheck{Loaded: true, Examples: after.Examples, Agreement: *after.Agreement, MeanKL: *after.MeanKL, MaxAbs: *after.MaxAbs}

	// Latency, batch 32 x 64, interleaved.
	lat, err := measurePair(ctx, m, res.Model, 32, demo.MaxLen, *threads, 5, 20)
	if err != nil {
		return err
	}
	extra := report.Extra{
		Title: "kprune demo: SST-2 classifier pruned by K-prune",
		// The agreement is the report's self-check (on SST-2 dev): shown once, from there.
		Metrics: []report.Metric{{Name: "SST-2 dev accuracy", Original: before.Accuracy, Pruned: after.Accuracy}},
		Latency: []report.Latency{
			{Model: "original", Batch: 32, Seq: demo.MaxLen, Threads: *threads, Runs: lat[0].Runs, Mean: lat[0].Mean, P50: lat[0].P50, P90: lat[0].P90},
			{Model: "pruned", Batch: 32, Seq: demo.MaxLen, Threads: *threads, Runs: lat[1].Runs, Mean: lat[1].Mean, P50: lat[1].P50, P90: lat[1].P90, Speedup: float64(lat[0].P50) / float64(lat[1].P50)},
		},
	}
	rep.Warnings = rep.QualityWarnings()
	if err := writeModelAndReports(ctx, outModel, outReport, outHTML, res.Model, rep, extra, *force); err != nil {
		return err
	}
	printSummary(stdout, rep)
	fmt.Fprintf(stdout, "\n%-22s %10s %10s\n", "", "original", "pruned")
	fmt.Fprintf(stdout, "%-22s %10.4f %10.4f\n", "SST-2 dev accuracy", *before.Accuracy, *after.Accuracy)
	fmt.Fprintf(stdout, "%-22s %10.2f %10.2f\n", "latency ms (32x64)", ms(lat[0].P50), ms(lat[1].P50))
	fmt.Fprintf(stdout, "%-22s %10s %9.2fx\n", "speed-up (p50)", "", float64(lat[0].P50)/float64(lat[1].P50))
	fmt.Fprintf(stdout, "%-22s %10s %9.2f%%\n", "agreement", "", 100**after.Agreement)
	fmt.Fprintf(stdout, "\npruned in %.1fs; wrote %s, %s and %s\n", pruneTime.Seconds(), outModel, outReport, outHTML)
	printWarnings(stderr, rep.Warnings)
	return nil
}

func ms(d time.Duration) float64 { return float64(d) / 1e6 }

// measurePair measures the latency of two models on the same synthetic batch (token ids below
// both models' vocabularies, full attention mask), interleaved run by run.
func measurePair(ctx context.Context, a, b *onnx.ModelProto, batch, seq, threads, warmup, runs int) ([2]ort.LatencyStats, error) {
	var res [2]ort.LatencyStats
	vocab := 0
	for _, m := range []*onnx.ModelProto{a, b} {
		if enc, err := graph.Discover(m); err == nil {
			if v := enc.VocabRows(m); v > 0 && (vocab == 0 || v < vocab) {
				vocab = v
			}
		}
	}
	if vocab < 2 {
		vocab = 2
	}
	shape := []int64{int64(batch), int64(seq)}
	ids := make([]int64, batch*seq)
	mask := make([]int64, batch*seq)
	for i := range ids {
		ids[i] = int64(1 + (i*7919)%(vocab-1))
		mask[i] = 1
	}
	in := map[string]*ort.Tensor{"input_ids": ort.I64Tensor(shape, ids), "attention_mask": ort.I64Tensor(shape, mask), "token_type_ids": ort.I64Tensor(shape, make([]int64, batch*seq))}
	sess := make([]*ort.Session, 2)
	for k, m := range []*onnx.ModelProto{a, b} {
		s, err := ort.NewSession(m, ort.Options{IntraOpThreads: threads})
		if err != nil {
			return res, err
		}
		defer s.Close()
		sess[k] = s
	}
	lat, err := ort.MeasureInterleaved(ctx, sess, in, warmup, runs)
	if err != nil {
		return res, err
	}
	return [2]ort.LatencyStats{lat[0], lat[1]}, nil
}
