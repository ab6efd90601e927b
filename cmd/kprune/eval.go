package main

import (
	"context"
	"fmt"
	"io"

	"github.com/kprune/kprune/eval"
	"github.com/kprune/kprune/pipeline"
	"github.com/kprune/kprune/prune"
)

func cmdEval(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("eval", stderr)
	df := &dataFlags{}
	modelPath := fs.String("model", "", "ONNX `MODEL` to evaluate")
	dataPath := fs.String("data", "", "evaluation data `FILE` with labels or scores")
	teacherPath := fs.String("teacher", "", "original ONNX `MODEL` to measure agreement with")
	asJSON := fs.Bool("json", false, "print JSON")
	threads := fs.Int("threads", 0, "onnxruntime intra-op threads (0: all cores)")
	df.register(fs, "label or score column by name or index (default: label/score or the last column)", 64, "batch size")
	fs.StringVar(&df.pooling, "pooling", "", "for embedding models that output hidden states only: pool them by `mean` or cls (the first token), +norm to L2-normalise (default: as the sentence-transformers 1_Pooling/config.json next to the model or the teacher, or one folder up, says, else mean)")
	setUsage(fs, stderr, "kprune eval --model M.onnx --data FILE [--teacher ORIG.onnx] [--json] [flags]",
		"Evaluates a model on labelled data (accuracy, F1, Matthews; Pearson and Spearman for scores).\nWith --teacher it also measures the agreement with the original model; unlabelled data needs --teacher.")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *modelPath == "" || *dataPath == "" {
		return usageError{"--model and --data are required"}
	}
	if *threads < 0 {
		return usageError{fmt.Sprintf("--threads %d: must not be negative", *threads)}
	}
	if err := df.check(); err != nil {
		return err
	}
	tok, err := prune.OpenTokenizer(df.tokenizer, *modelPath, *teacherPath)
	if err != nil {
		return err
	}
	r, err := pipeline.Evaluate(ctx, *modelPath, *teacherPath, tok, *dataPath, df.data(), eval.Options{Threads: *threads, Pooling: df.pooling})
	if err != nil {
		return err
	}
	return printResult(stdout, *asJSON, r)
}
