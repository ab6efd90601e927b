package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"text/tabwriter"

	"github.com/kprune/kprune/bench"
)

// cmdBench measures onnxruntime latency, FLOPs, parameters and graph fusion of a model, and its
// speed-up over a baseline measured in the same interleaved run.
func cmdBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("bench", stderr)
	modelPath := fs.String("model", "", "ONNX `MODEL` to measure")
	basePath := fs.String("baseline", "", "ONNX `MODEL` to compare with (e.g. the unpruned one); speed-up = baseline latency / model latency")
	batch := fs.Int("batch", 32, "sequences per batch")
	seq := fs.Int("seq", 128, "tokens per sequence (also the costing length of the FLOPs model)")
	threads := fs.Int("threads", 0, "onnxruntime intra-op threads (0: onnxruntime's default, all cores)")
	runs := fs.Int("runs", 20, "timed runs per model")
	warmup := fs.Int("warmup", 5, "untimed warm-up runs per model")
	asJSON := fs.Bool("json", false, "print the results as JSON")
	setUsage(fs, stderr, "kprune bench --model A.onnx [--baseline B.onnx] [flags]",
		"Measures onnxruntime latency on a synthetic batch (random token ids, full attention mask), FLOPs,\nparameters and the fused operators of onnxruntime's optimised graph; with --baseline, both models\nare timed in one interleaved run.")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	switch {
	case fs.NArg() > 0:
		return usageError{fmt.Sprintf("unexpected argument %q (give the model with --model)", fs.Arg(0))}
	case *modelPath == "":
		return usageError{"--model is required"}
	case *batch <= 0 || *seq <= 0:
		return usageError{fmt.Sprintf("--batch and --seq must be positive, got %d and %d", *batch, *seq)}
	case *runs <= 0 || *warmup < 0:
		return usageError{fmt.Sprintf("--runs must be positive and --warmup not negative, got %d and %d", *runs, *warmup)}
	case *threads < 0:
		return usageError{fmt.Sprintf("--threads must not be negative, got %d", *threads)}
	}
	res, err := bench.Run(ctx, *modelPath, *basePath, bench.Options{Batch: *batch, Seq: *seq, Threads: *threads, Warmup: *warmup, Runs: *runs})
	var se *bench.SeqLenError
	if errors.As(err, &se) {
		return usageError{fmt.Sprintf("--seq %d: %s", se.Seq, se.Error())}
	}
	if err != nil {
		return err
	}
	if *asJSON {
		b, err := json.MarshalIndent(res, "", "  ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(stdout, "%s\n", b)
		return err
	}
	printBench(stdout, res)
	return nil
}

// printBench writes the human-readable table.
func printBench(w io.Writer, r *bench.Result) {
	threads := "onnxruntime's default threads"
	if r.Threads > 0 {
		threads = fmt.Sprintf("%d thread(s)", r.Threads)
	}
	models := []*bench.Model{&r.Model}
	head := "\tmodel\t"
	if r.Baseline != nil {
		models = append(models, r.Baseline)
		head += "baseline\t"
	}
	mode := ""
	if len(models) > 1 {
		mode = ", interleaved"
	}
	fmt.Fprintf(w, "kprune bench: batch %d x seq %d, %s, %d warm-up + %d timed runs%s, token ids < %d\n\n", r.Batch, r.Seq, threads, r.Warmup, r.Runs, mode, r.TokenIDsBelow)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, head)
	row := func(label string, f func(bm *bench.Model) string) {
		fmt.Fprintf(tw, "%s\t", label)
		for _, bm := range models {
			fmt.Fprintf(tw, "%s\t", f(bm))
		}
		fmt.Fprintln(tw)
	}
	row("file", func(bm *bench.Model) string { return filepath.Base(bm.Path) })
	row("parameters", (*bench.Model).ParamsSummary)
	row(fmt.Sprintf("encoder GFLOPs per sequence (seq %d)", r.Seq), func(bm *bench.Model) string {
		if bm.FLOPsError != "" {
			return "n/a"
		}
		return fmt.Sprintf("%.3f", bm.FLOPs/1e9)
	})
	row("heads / FFN neurons", func(bm *bench.Model) string {
		if bm.Layers == nil {
			return "n/a"
		}
		var h, n int
		for _, l := range bm.Layers {
			h, n = h+l.Heads, n+l.FFN
		}
		return fmt.Sprintf("%d / %d in %d layers", h, n, len(bm.Layers))
	})
	row("latency mean ms", func(bm *bench.Model) string { return fmt.Sprintf("%.2f", ms(bm.Latency.Mean)) })
	row("latency p50 ms", func(bm *bench.Model) string { return fmt.Sprintf("%.2f", ms(bm.Latency.P50)) })
	row("latency p90 ms", func(bm *bench.Model) string { return fmt.Sprintf("%.2f", ms(bm.Latency.P90)) })
	row("throughput seq/s", func(bm *bench.Model) string { return fmt.Sprintf("%.1f", bm.Throughput) })
	row("nodes (after ORT opt.)", func(bm *bench.Model) string {
		if bm.FusionError != "" {
			return fmt.Sprintf("%d (n/a)", bm.Nodes)
		}
		return fmt.Sprintf("%d (%d)", bm.Nodes, bm.OptimizedNodes)
	})
	row("fused ops (ORT)", (*bench.Model).FusedSummary)
	row("integer kernels (ORT)", (*bench.Model).IntegerSummary)
	tw.Flush()
	if r.Baseline != nil {
		fmt.Fprintf(w, "\nspeed-up (baseline / model latency): %.2fx at p50, %.2fx at mean\n", r.Speedup, r.SpeedupMean)
	}
	for _, bm := range models {
		for _, n := range bm.Notes() {
			fmt.Fprintf(w, "note: %s\n", n)
		}
	}
	names, base := r.LostFusions()
	for _, n := range names {
		fmt.Fprintf(w, "note: onnxruntime fuses %d %s node(s) in the baseline but none in the model\n", base[n], n)
	}
}
