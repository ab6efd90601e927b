package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"

	"github.com/kprune/kprune/data"
	"github.com/kprune/kprune/eval"
	"github.com/kprune/kprune/onnx"
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
	fs.StringVar(&df.tokenizer, "tokenizer", "", "the model's tokenizer.json or vocab.txt (default: next to the model)")
	fs.StringVar(&df.columns, "columns", "", "text columns `a,b` by header name or 0-based index")
	fs.StringVar(&df.label, "label", "", "label or score column by name or index (default: label/score or the last column)")
	fs.StringVar(&df.format, "format", "", formatUsage)
	fs.StringVar(&df.header, "header", "auto", headerUsage)
	fs.StringVar(&df.pooling, "pooling", "mean", "for embedding models that output hidden states only: pool them by `mean` or cls (the first token)")
	fs.IntVar(&df.maxLen, "max-len", 128, "maximum sequence length")
	fs.IntVar(&df.batch, "batch", 64, "batch size")
	setUsage(fs, stderr, "kprune eval --model M.onnx --data FILE [--teacher ORIG.onnx] [--json] [flags]",
		"Evaluates a model on labelled data (accuracy, F1, Matthews; Pearson and Spearman for scores).\nWith --teacher it also measures the agreement with the original model; unlabelled data needs --teacher.")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	df.maxLenGiven = given(fs, "max-len")
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
	r, err := evaluate(ctx, *modelPath, *teacherPath, tok, *dataPath, *df, *threads)
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(r)
	}
	r.WriteText(stdout)
	return nil
}

// evaluate loads the model (and the teacher, "" for none) and evaluates it on a data file.
func evaluate(ctx context.Context, modelPath, teacherPath string, tok *data.Tokenizer, dataPath string, df dataFlags, threads int) (*eval.Result, error) {
	m, err := onnx.Load(modelPath)
	if err != nil {
		return nil, err
	}
	var teacher *onnx.ModelProto
	if teacherPath != "" {
		if teacher, err = onnx.Load(teacherPath); err != nil {
			return nil, err
		}
	}
	return evaluateModels(ctx, modelPath, m, teacher, tok, dataPath, nil, df, threads)
}

// evaluateModels fits --max-len to the models' position tables and evaluates m (eval.Evaluate).
func evaluateModels(ctx context.Context, name string, m, teacher *onnx.ModelProto, tok *data.Tokenizer, dataPath string, rawData []byte, df dataFlags, threads int) (*eval.Result, error) {
	for _, x := range []struct {
		name string
		m    *onnx.ModelProto
	}{{name, m}, {"the teacher", teacher}} {
		if x.m == nil {
			continue
		}
		sm, enc, _, _, err := prune.Structure(x.m)
		if err != nil {
			if x.m == teacher {
				return nil, fmt.Errorf("teacher: %w", err)
			}
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		if x.m == m {
			if err := prune.CheckTokenizer(tok, sm, enc); err != nil {
				return nil, fmt.Errorf("tokenizer does not fit %s: %w", name, err)
			}
		}
		if err := df.fitMaxLen(x.name, sm, enc); err != nil {
			return nil, err
		}
	}
	return eval.Evaluate(ctx, name, m, teacher, eval.Data{Path: dataPath, Raw: rawData, Read: df.readOptions(true)},
		eval.Options{Tokenizer: tok, MaxLen: df.maxLen, Batch: df.batch, Threads: threads, Pooling: df.pooling})
}
