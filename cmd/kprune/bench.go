package main

import (
	"context"
	"errors"
	"fmt"
	"io"

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
	return printResult(stdout, *asJSON, res)
}
