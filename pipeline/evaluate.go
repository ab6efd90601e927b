package pipeline

import (
	"context"
	"fmt"

	"github.com/kprune/kprune/data"
	"github.com/kprune/kprune/eval"
	"github.com/kprune/kprune/onnx"
	"github.com/kprune/kprune/prune"
)

// Evaluate loads the model at modelPath (and the teacher at teacherPath, "" for none) and
// evaluates it on the data file dataPath (EvaluateModels).
func Evaluate(ctx context.Context, modelPath, teacherPath string, tok *data.Tokenizer, dataPath string, d Data, opts eval.Options) (*eval.Result, error) {
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
	if err := d.classNames(modelPath, teacherPath); err != nil {
		return nil, err
	}
	return evaluateModels(ctx, modelPath, m, teacher, []string{modelPath, teacherPath}, tok, dataPath, nil, d, opts)
}

// EvaluateModels checks the tokenizer against model m (named name), fits d.MaxLen to the
// position tables of m and teacher (nil for none), and evaluates m on the data file dataPath (or
// raw, its contents, when not nil) with eval.Evaluate. opts' Tokenizer, MaxLen and Batch come
// from tok and d.
func EvaluateModels(ctx context.Context, name string, m, teacher *onnx.ModelProto, tok *data.Tokenizer, dataPath string, raw []byte, d Data, opts eval.Options) (*eval.Result, error) {
	return evaluateModels(ctx, name, m, teacher, nil, tok, dataPath, raw, d, opts)
}

// evaluateModels is EvaluateModels; an embedding model without a head and without
// opts.Pooling is pooled as the sentence-transformers configuration next to the first of
// poolingFrom that has one says (prune.ResolvePooling).
func evaluateModels(ctx context.Context, name string, m, teacher *onnx.ModelProto, poolingFrom []string, tok *data.Tokenizer, dataPath string, raw []byte, d Data, opts eval.Options) (*eval.Result, error) {
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
			if opts.Pooling, _, err = prune.ResolvePooling(opts.Pooling, enc, poolingFrom...); err != nil {
				return nil, err
			}
		}
		if err := d.fit(x.name, sm, enc); err != nil {
			return nil, err
		}
	}
	opts.Tokenizer, opts.MaxLen, opts.Batch = tok, d.MaxLen, d.Batch
	return eval.Evaluate(ctx, name, m, teacher, eval.Data{Path: dataPath, Raw: raw, Read: d.Read}, opts)
}
