package eval

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/kprune/kprune/data"
	"github.com/kprune/kprune/graph"
	"github.com/kprune/kprune/onnx"
	"github.com/kprune/kprune/prune"
)

// ReadOptionsFor returns base adjusted to read the labels a model with head kind head is scored
// on: class labels (or names) for classification, scores for regression and for sentence
// embeddings (similarity of pairs), and no label column for span and token heads (compared with
// a teacher only). It is the one label choice of Evaluate and package compare.
func ReadOptionsFor(head graph.HeadKind, base data.ReadOptions) data.ReadOptions {
	switch {
	case head == graph.HeadClassification:
	case head == graph.HeadRegression || head.Embeds():
		base.Labels = data.LabelScore
	default:
		base.LabelColumn, base.Labels = data.NoColumn, data.LabelNone
	}
	return base
}

// Headline names the metric that sums up a model with head kind head on data whose labels are of
// kind labels: "accuracy" for classification with class labels, "spearman" for regression (and
// embeddings of pairs) with scores, and "agreement" (with the unpruned model) otherwise.
func Headline(head graph.HeadKind, labels data.LabelKind) string {
	switch {
	case labels == data.LabelClass && head == graph.HeadClassification:
		return "accuracy"
	case labels == data.LabelScore && (head == graph.HeadRegression || head.Embeds()):
		return "spearman"
	}
	return "agreement"
}

// Value returns the value of the headline metric (see Headline) in m.
func Value(m Metrics, metric string) (float64, error) {
	switch {
	case metric == "accuracy" && m.Accuracy != nil:
		return *m.Accuracy, nil
	case metric == "spearman" && m.Spearman != nil:
		return *m.Spearman, nil
	}
	return 0, fmt.Errorf("internal error: no %q metric", metric)
}

// Result is the evaluation of a model on a data set (what `kprune eval --json` prints).
type Result struct {
	Model    string   `json:"model"`
	Data     string   `json:"data"`
	Examples int      `json:"examples"`
	Head     string   `json:"head_kind"`
	Accuracy *float64 `json:"accuracy,omitempty"`
	F1       *float64 `json:"f1,omitempty"`
	Matthews *float64 `json:"matthews,omitempty"`
	Pearson  *float64 `json:"pearson,omitempty"`
	Spearman *float64 `json:"spearman,omitempty"`
	// Agreement with the teacher: top-1 match rate (cosine for embedding models).
	Agreement *float64 `json:"agreement,omitempty"`
	MeanKL    *float64 `json:"mean_kl,omitempty"`
	MaxAbs    *float64 `json:"max_abs_diff,omitempty"`
	// Unlabelled says the data had no labels: only the agreement with the teacher was measured.
	Unlabelled bool `json:"unlabelled,omitempty"`
}

// Data is a data file to evaluate on.
type Data struct {
	// Path names the file; it is read unless Raw holds its bytes.
	Path string
	Raw  []byte
	// Read says how to read it (format, header, columns); the label choice is made by head
	// kind (ReadOptionsFor).
	Read data.ReadOptions
}

// Options configure Evaluate.
type Options struct {
	// Tokenizer tokenizes text records (nil for token-id data).
	Tokenizer *data.Tokenizer
	// MaxLen is the maximum sequence length in tokens; Batch the batch size.
	MaxLen, Batch int
	// Threads is onnxruntime's intra-op thread count (0 = default); Pooling is how the hidden
	// states of a model without a head are pooled ("" or "mean", "cls").
	Threads int
	Pooling string
}

// ErrNotPairs is returned for an embedding model whose data are not sentence pairs with
// similarity scores (and no teacher to compare with).
var ErrNotPairs = errors.New("an embedding model is evaluated on sentence pairs with similarity scores")

// Evaluate computes the task metrics of model m (named name in errors and the result) on a data
// file, and with a teacher (nil for none) their agreement: accuracy, F1 and Matthews for
// classification; Pearson and Spearman for regression; for sentence embeddings, Pearson and
// Spearman of the cosine similarity of each pair against its gold score. Unlabelled data need a
// teacher.
func Evaluate(ctx context.Context, name string, m, teacher *onnx.ModelProto, d Data, opts Options) (*Result, error) {
	// Structure checks read the standard form; onnxruntime runs the models as they are.
	sm, enc, _, _, err := prune.Structure(m)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if err := prune.CheckTokenizer(opts.Tokenizer, sm, enc); err != nil {
		return nil, fmt.Errorf("tokenizer does not fit %s: %w", name, err)
	}
	res := &Result{Model: name, Data: d.Path, Head: string(enc.Head)}
	if enc.Head.Embeds() {
		err := evalEmbeddings(ctx, res, m, teacher, d, opts)
		if !errors.Is(err, ErrNotPairs) || teacher == nil {
			return res, err
		}
		// Single sequences: only agreement with the teacher (mean cosine of the embeddings).
		d.Read.LabelColumn, d.Read.Labels = data.NoColumn, data.LabelNone
	} else {
		d.Read = ReadOptionsFor(enc.Head, d.Read)
	}
	ds, encs, err := prune.ReadEncoded(opts.Tokenizer, d.Path, d.Raw, d.Read, opts.MaxLen)
	if err != nil {
		return nil, err
	}
	if ds.Labels == data.LabelNone && teacher == nil {
		return nil, fmt.Errorf("%s has no labels (no label or score column; name it with --label): nothing to evaluate; give --teacher ORIGINAL.onnx to measure the agreement with the original model instead", d.Path)
	}
	batches, err := prune.InOrder(opts.Tokenizer, encs, opts.Batch)
	if err != nil {
		return nil, err
	}
	res.Examples = len(encs)
	res.Unlabelled = ds.Labels == data.LabelNone
	popts := PredictOptions{Threads: opts.Threads, Pooling: opts.Pooling}
	p, err := PredictWith(ctx, m, batches, popts)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if labels, scores := targets(ds); labels != nil || scores != nil {
		mt, err := Score(p, labels, scores)
		if err != nil {
			return nil, err
		}
		res.Accuracy, res.F1, res.Matthews, res.Pearson, res.Spearman = mt.Accuracy, mt.F1, mt.Matthews, mt.Pearson, mt.Spearman
	}
	if teacher != nil {
		tp, err := PredictWith(ctx, teacher, batches, popts)
		if err != nil {
			return nil, fmt.Errorf("teacher: %w", err)
		}
		sc, err := Compare(tp, p)
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

// targets returns the class labels or the scores of a dataset (nil, nil without labels).
func targets(ds *data.Dataset) ([]int, []float64) {
	switch ds.Labels {
	case data.LabelClass:
		return ds.ClassLabels(), nil
	case data.LabelScore:
		return nil, ds.Scores()
	}
	return nil, nil
}

// evalEmbeddings scores a sentence-embedding model on sentence pairs with similarity scores: the
// cosine of the pooled embeddings of each pair, correlated with the scores (STS-B style).
func evalEmbeddings(ctx context.Context, res *Result, m, teacher *onnx.ModelProto, d Data, opts Options) error {
	var ds *data.Dataset
	var err error
	if d.Raw != nil {
		ds, err = data.ReadDatasetFrom(bytes.NewReader(d.Raw), d.Path, ReadOptionsFor(graph.HeadEmbedding, d.Read))
	} else {
		ds, err = data.ReadDataset(d.Path, ReadOptionsFor(graph.HeadEmbedding, d.Read))
	}
	if err != nil {
		return err
	}
	if len(ds.TextColumns) != 2 || ds.Labels != data.LabelScore {
		return fmt.Errorf("%s: %w (two text columns and a score column), or on any data against the original model with --teacher", d.Path, ErrNotPairs)
	}
	tok := opts.Tokenizer
	if tok == nil {
		return fmt.Errorf("%s: an embedding model is evaluated on sentence pairs of text; pass --tokenizer (tokenizer.json or vocab.txt)", d.Path)
	}
	var left, right []data.Encoding
	for i := range ds.Records {
		r := &ds.Records[i]
		a, err := tok.Encode(r.Text[0], opts.MaxLen)
		if err != nil {
			return fmt.Errorf("%s:%d: %w", d.Path, r.Line, err)
		}
		b, err := tok.Encode(r.Text[1], opts.MaxLen)
		if err != nil {
			return fmt.Errorf("%s:%d: %w", d.Path, r.Line, err)
		}
		left, right = append(left, a), append(right, b)
	}
	res.Examples = len(left)
	s, p, err := pairCosines(ctx, m, left, right, opts)
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
		_, tp, err := pairCosines(ctx, teacher, left, right, opts)
		if err != nil {
			return err
		}
		sc, err := Compare(tp, p)
		if err != nil {
			return err
		}
		res.Agreement, res.MaxAbs = &sc.Cosine, &sc.MaxAbs
	}
	return nil
}

// pairCosines embeds the left and right sentences of pairs with model and returns the cosine
// similarity of each pair, and the predictions on the left sentences.
func pairCosines(ctx context.Context, model *onnx.ModelProto, left, right []data.Encoding, opts Options) ([]float64, *Predictions, error) {
	var preds [2]*Predictions
	for k, encs := range [][]data.Encoding{left, right} {
		batches, err := prune.InOrder(opts.Tokenizer, encs, opts.Batch)
		if err != nil {
			return nil, nil, err
		}
		if preds[k], err = PredictWith(ctx, model, batches, PredictOptions{Threads: opts.Threads, Pooling: opts.Pooling}); err != nil {
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

// SelfCheck runs teacher and student on held-out batches and compares their predictions.
func SelfCheck(ctx context.Context, teacher, student *onnx.ModelProto, holdout []data.Batch, opts PredictOptions) (*prune.SelfCheck, error) {
	tp, err := PredictWith(ctx, teacher, holdout, opts)
	if err != nil {
		return nil, fmt.Errorf("teacher: %w", err)
	}
	sp, err := PredictWith(ctx, student, holdout, opts)
	if err != nil {
		return nil, fmt.Errorf("pruned model: %w", err)
	}
	sc, err := Compare(tp, sp)
	if err != nil {
		return nil, err
	}
	return &sc, nil
}

// Unsampled returns up to n row indices below rows that are not in used (the calibration
// sample), in file order: the held-out rows of a self-check without a separate file.
func Unsampled(rows int, used []int, n int) []int {
	seen := make([]bool, rows)
	for _, i := range used {
		if i >= 0 && i < rows {
			seen[i] = true
		}
	}
	var order []int
	for i := 0; i < rows && len(order) < n; i++ {
		if !seen[i] {
			order = append(order, i)
		}
	}
	return order
}

// HeldOut batches (64 sequences a batch) up to n encodings that the calibration sample did not
// use (see Unsampled); nil when there are none.
func HeldOut(tok *data.Tokenizer, encs []data.Encoding, used []int, n int) ([]data.Batch, error) {
	order := Unsampled(len(encs), used, n)
	if len(order) == 0 {
		return nil, nil
	}
	return data.MakeBatches(encs, order, 64, prune.Padding(tok))
}

// Targets reads the labels (or scores) of rows order of a data file, without tokenizing it; nil
// when the file has none, does not have rows rows, or cannot be read (a metric is then left out).
func Targets(path string, read data.ReadOptions, rows int, order []int) ([]int, []float64) {
	ds, err := data.ReadDataset(path, read)
	if err != nil || ds.Len() != rows {
		return nil, nil
	}
	labels, scores := targets(ds)
	switch {
	case labels != nil:
		out := make([]int, len(order))
		for i, r := range order {
			out[i] = labels[r]
		}
		return out, nil
	case scores != nil:
		out := make([]float64, len(order))
		for i, r := range order {
			out[i] = scores[r]
		}
		return nil, out
	}
	return nil, nil
}
