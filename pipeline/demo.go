package pipeline

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/kprune/kprune/bench"
	"github.com/kprune/kprune/data"
	"github.com/kprune/kprune/demo"
	"github.com/kprune/kprune/eval"
	"github.com/kprune/kprune/prune"
	"github.com/kprune/kprune/report"
	ort "github.com/kprune/kprune/runtime"
)

// DemoRun is the built-in demo model pruned by Demo, with its measurements.
type DemoRun struct {
	// Pruned is the pruned model and its report.
	Pruned *prune.Result
	// Before and After are the original and the pruned model evaluated on SST-2 dev (After with
	// its agreement with the original).
	Before, After *eval.Result
	// Latency is the original's and the pruned model's at batch 32 x demo.MaxLen, interleaved.
	Latency [2]ort.LatencyStats
	// PruneTime is the time the pruning took.
	PruneTime time.Duration
}

// Demo prunes the demo model (package demo) with K-prune and opts on samples sequences of its
// built-in calibration sample (0: data.DefaultCalibSamples), reporting progress to progress,
// evaluates it and the original on SST-2 dev (the report's self-check) and measures both models'
// latency at batch 32 x 64, interleaved. versions go into the report.
func Demo(ctx context.Context, opts prune.Options, samples int, versions prune.Versions, progress func(prune.Progress), pruned func()) (*DemoRun, error) {
	m, err := demo.LoadModel()
	if err != nil {
		return nil, err
	}
	tok, err := demo.Tokenizer()
	if err != nil {
		return nil, err
	}
	_, encs, err := prune.ReadEncoded(tok, "sst2-calib.tsv", demo.CalibTSV, NoLabels(data.ReadOptions{}), demo.MaxLen)
	if err != nil {
		return nil, err
	}
	cs, err := prune.BuildCalibration(tok, encs, prune.CalibOptions{Samples: samples, Bucket: true, Source: "built-in SST-2 train sample"})
	if err != nil {
		return nil, err
	}
	r := &DemoRun{}
	t0 := time.Now()
	r.Pruned, err = prune.KPruneMethod{Options: opts}.Prune(ctx, m, prune.Calibration{Batches: cs.Batches}, prune.Budget{Reduction: opts.Reduction, SeqLen: opts.SeqLen}, progress)
	if pruned != nil {
		pruned()
	}
	if err != nil {
		return nil, err
	}
	r.PruneTime = time.Since(t0)
	rep := &r.Pruned.Report
	rep.Calibration.Source = "built-in SST-2 train sample"
	rep.Versions = versions
	rep.InputBytes = int64(len(demo.Model))
	d := Data{MaxLen: demo.MaxLen, Batch: 64, FitMaxLen: true}
	eo := eval.Options{Threads: opts.Threads}
	if r.Before, err = EvaluateModels(ctx, "original", m, nil, tok, "sst2-dev.tsv", demo.DevTSV, d, eo); err != nil {
		return nil, err
	}
	if r.After, err = EvaluateModels(ctx, "pruned", r.Pruned.Model, m, tok, "sst2-dev.tsv", demo.DevTSV, d, eo); err != nil {
		return nil, err
	}
	a := r.After
	rep.SelfCheck = &prune.SelfCheck{Loaded: true, Examples: a.Examples, Agreement: *a.Agreement, MeanKL: *a.MeanKL, MaxAbs: *a.MaxAbs}
	if r.Latency, err = bench.MeasurePair(ctx, m, r.Pruned.Model, 32, demo.MaxLen, opts.Threads, 5, 20); err != nil {
		return nil, err
	}
	rep.Warnings = rep.QualityWarnings()
	return r, nil
}

// Extra is the HTML report's extra content of a demo run with threads onnxruntime threads: the
// accuracy before and after, and the latency.
func (r *DemoRun) Extra(threads int) report.Extra {
	lat := r.Latency
	return report.Extra{
		Title: "kprune demo: SST-2 classifier pruned by K-prune",
		// The agreement is the report's self-check (on SST-2 dev): shown once, from there.
		Metrics: []report.Metric{{Name: "SST-2 dev accuracy", Original: r.Before.Accuracy, Pruned: r.After.Accuracy}},
		Latency: []report.Latency{
			{Model: "original", Batch: 32, Seq: demo.MaxLen, Threads: threads, Runs: lat[0].Runs, Mean: lat[0].Mean, P50: lat[0].P50, P90: lat[0].P90},
			{Model: "pruned", Batch: 32, Seq: demo.MaxLen, Threads: threads, Runs: lat[1].Runs, Mean: lat[1].Mean, P50: lat[1].P50, P90: lat[1].P90, Speedup: float64(lat[0].P50) / float64(lat[1].P50)},
		},
	}
}

// WriteText writes the demo's table of the original and the pruned model: SST-2 dev accuracy,
// latency, speed-up and agreement.
func (r *DemoRun) WriteText(w io.Writer) {
	ms := func(d time.Duration) float64 { return float64(d) / 1e6 }
	lat := r.Latency
	fmt.Fprintf(w, "\n%-22s %10s %10s\n", "", "original", "pruned")
	fmt.Fprintf(w, "%-22s %10.4f %10.4f\n", "SST-2 dev accuracy", *r.Before.Accuracy, *r.After.Accuracy)
	fmt.Fprintf(w, "%-22s %10.2f %10.2f\n", "latency ms (32x64)", ms(lat[0].P50), ms(lat[1].P50))
	fmt.Fprintf(w, "%-22s %10s %9.2fx\n", "speed-up (p50)", "", float64(lat[0].P50)/float64(lat[1].P50))
	fmt.Fprintf(w, "%-22s %10s %9.2f%%\n", "agreement", "", 100**r.After.Agreement)
}
