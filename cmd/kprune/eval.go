package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/kprune/kprune/data"
	"github.com/kprune/kprune/graph"
	"github.com/kprune/kprune/onnx"
	"github.com/kprune/kprune/prune"
)

// evalResult is what `kprune eval --json` prints.
type evalResult struct {
	Model    string   `json:"model"`
	Data     string   `json:"data"`
	Examples int      `json:"examples"`
	Head     string   `json:"head_kind"`
	Accuracy *float64 `json:"accuracy,omitempty"`
	F1       *float64 `json:"f1,omitempty"`
	Matthews *float64 `json:"matthews,omitempty"`
	Pearson  *float64 `json:"pearson,omitempty"`
	Spearman *float64 `json:"spearman,omitempty"`
	// Agreement with --teacher: top-1 match rate (cosine for embedding models).
	Agreement *float64 `json:"agreement,omitempty"`
	MeanKL    *float64 `json:"mean_kl,omitempty"`
	MaxAbs    *float64 `json:"max_abs_diff,omitempty"`
	// Unlabelled says the data had no labels: only the agreement with the teacher was measured.
	Unlabelled bool `json:"unlabelled,omitempty"`
}

func cmdEval(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("eval", stderr)
	var df dataFlags
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
	tok, err := openTokenizer(df.tokenizer, *modelPath, *teacherPath)
	if err != nil {
		return err
	}
	r, err := evaluate(ctx, *modelPath, *teacherPath, tok, *dataPath, nil, df, *threads)
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(r)
	}
	printEval(stdout, r)
	return nil
}

func loadModelOrBytes(path string, raw []byte) (*onnx.ModelProto, error) {
	if raw != nil {
		return onnx.Decode(raw)
	}
	return onnx.Load(path)
}

// evaluate computes task metrics (and agreement with a teacher) of a model on a data file.
func evaluate(ctx context.Context, modelPath, teacherPath string, tok *data.Tokenizer, dataPath string, rawData []byte, df dataFlags, threads int) (*evalResult, error) {
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
	return evaluateModels(ctx, modelPath, m, teacher, tok, dataPath, rawData, df, threads)
}

func evaluateModels(ctx context.Context, name string, m, teacher *onnx.ModelProto, tok *data.Tokenizer, dataPath string, rawData []byte, df dataFlags, threads int) (*evalResult, error) {
	// Structure checks read the standard form; onnxruntime runs the models as they are.
	sm, enc, _, err := discover(m)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if err := checkTokenizer(tok, sm, enc); err != nil {
		return nil, fmt.Errorf("tokenizer does not fit %s: %w", name, err)
	}
	if err := df.fitMaxLen(name, sm, enc); err != nil {
		return nil, err
	}
	if teacher != nil {
		ts, tenc, _, err := discover(teacher)
		if err != nil {
			return nil, fmt.Errorf("teacher: %w", err)
		}
		if err := df.fitMaxLen("the teacher", ts, tenc); err != nil {
			return nil, err
		}
	}
	res := &evalResult{Model: name, Data: dataPath, Head: string(enc.Head)}
	if enc.Head.Embeds() {
		err := evalEmbeddings(ctx, res, m, teacher, tok, dataPath, rawData, df, threads)
		if !errors.Is(err, errNotPairs) || teacher == nil {
			return res, err
		}
		// Single sequences: only agreement with the teacher (mean cosine of the embeddings).
	}
	// Labels are read for the heads that have a metric on them; span and token heads, and
	// embeddings of single sequences, are compared with the teacher only.
	ropts := df.readOptions(enc.Head == graph.HeadClassification || enc.Head == graph.HeadRegression)
	if enc.Head == graph.HeadRegression {
		ropts.Labels = data.LabelScore
	}
	ds, encs, err := loadEncoded(tok, dataPath, rawData, ropts, df.maxLen)
	if err != nil {
		return nil, err
	}
	if ds.Labels == data.LabelNone && teacher == nil {
		return nil, fmt.Errorf("%s has no labels (no label or score column; name it with --label): nothing to evaluate; give --teacher ORIGINAL.onnx to measure the agreement with the original model instead", dataPath)
	}
	batches, err := evalBatches(tok, encs, df.batch)
	if err != nil {
		return nil, err
	}
	res.Examples = len(encs)
	res.Unlabelled = ds.Labels == data.LabelNone
	p, err := prune.PredictWith(ctx, m, batches, prune.PredictOptions{Threads: threads, Pooling: df.pooling})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	var labels []int
	var scores []float64
	switch ds.Labels {
	case data.LabelClass:
		labels = ds.ClassLabels()
	case data.LabelScore:
		scores = ds.Scores()
	}
	if labels != nil || scores != nil {
		mt, err := prune.Score(p, labels, scores)
		if err != nil {
			return nil, err
		}
		res.Accuracy, res.F1, res.Matthews, res.Pearson, res.Spearman = mt.Accuracy, mt.F1, mt.Matthews, mt.Pearson, mt.Spearman
	}
	if teacher != nil {
		tp, err := prune.PredictWith(ctx, teacher, batches, prune.PredictOptions{Threads: threads, Pooling: df.pooling})
		if err != nil {
			return nil, fmt.Errorf("teacher: %w", err)
		}
		sc, err := prune.Compare(tp, p)
		if err != nil {
			return nil, err
		}
		res.Agreement, res.MaxAbs = &sc.Agreement, &sc.MaxAbs
		if enc.Head == graph.HeadClassification {
			res.MeanKL = &sc.MeanKL
		}
	}
	return res, nil
}

// errNotPairs: an embedding model's data are not sentence pairs with similarity scores.
var errNotPairs = errors.New("an embedding model is evaluated on sentence pairs with similarity scores")

// evalEmbeddings scores a sentence-embedding model on sentence pairs with similarity scores: the
// cosine of the mean-pooled embeddings of each pair, correlated with the scores (STS-B style).
func evalEmbeddings(ctx context.Context, res *evalResult, m, teacher *onnx.ModelProto, tok *data.Tokenizer, dataPath string, rawData []byte, df dataFlags, threads int) error {
	opts := df.readOptions(true)
	opts.Labels = data.LabelScore
	ds, err := data.ReadDataset(dataPath, opts)
	if err != nil {
		return err
	}
	if len(ds.TextColumns) != 2 || ds.Labels != data.LabelScore {
		return fmt.Errorf("%s: %w (two text columns and a score column), or on any data against the original model with --teacher", dataPath, errNotPairs)
	}
	if tok == nil {
		return fmt.Errorf("%s: an embedding model is evaluated on sentence pairs of text; pass --tokenizer (tokenizer.json or vocab.txt)", dataPath)
	}
	var left, right []data.Encoding
	for i := range ds.Records {
		r := &ds.Records[i]
		a, err := tok.Encode(r.Text[0], df.maxLen)
		if err != nil {
			return fmt.Errorf("%s:%d: %w", dataPath, r.Line, err)
		}
		b, err := tok.Encode(r.Text[1], df.maxLen)
		if err != nil {
			return fmt.Errorf("%s:%d: %w", dataPath, r.Line, err)
		}
		left, right = append(left, a), append(right, b)
	}
	res.Examples = len(left)
	sims := func(model *onnx.ModelProto) ([]float64, *prune.Predictions, error) {
		var preds [2]*prune.Predictions
		for k, encs := range [][]data.Encoding{left, right} {
			batches, err := evalBatches(tok, encs, df.batch)
			if err != nil {
				return nil, nil, err
			}
			if preds[k], err = prune.PredictWith(ctx, model, batches, prune.PredictOptions{Threads: threads, Pooling: df.pooling}); err != nil {
				return nil, nil, err
			}
		}
		d := preds[0].Width
		out := make([]float64, preds[0].Rows)
		for i := range out {
			c, err := data.MeanCosine(preds[0].Values[i*d:(i+1)*d], preds[1].Values[i*d:(i+1)*d], d)
			if err != nil {
				return nil, nil, err
			}
			out[i] = c
		}
		return out, preds[0], nil
	}
	s, p, err := sims(m)
	if err != nil {
		return err
	}
	pe, err := data.Pearson(s, ds.Scores())
	if err != nil {
		return err
	}
	sp, err := data.Spearman(s, ds.Scores())
	if err != nil {
		return err
	}
	res.Pearson, res.Spearman = &pe, &sp
	if teacher != nil {
		_, tp, err := sims(teacher)
		if err != nil {
			return err
		}
		sc, err := prune.Compare(tp, p)
		if err != nil {
			return err
		}
		res.Agreement, res.MaxAbs = &sc.Cosine, &sc.MaxAbs
	}
	return nil
}

func printEval(w io.Writer, r *evalResult) {
	fmt.Fprintf(w, "model %s on %s (%d examples, %s head)\n", r.Model, r.Data, r.Examples, r.Head)
	show := func(name string, v *float64) {
		if v != nil {
			fmt.Fprintf(w, "  %-10s %.4f\n", name, *v)
		}
	}
	show("accuracy", r.Accuracy)
	show("f1", r.F1)
	show("matthews", r.Matthews)
	show("pearson", r.Pearson)
	show("spearman", r.Spearman)
	show("agreement", r.Agreement)
	show("mean_kl", r.MeanKL)
	if r.Unlabelled {
		fmt.Fprintf(w, "  (%s has no labels: agreement with the teacher only)\n", r.Data)
	}
}
