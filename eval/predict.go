// Package eval measures models on data: their predictions on batches (Predict), the agreement of
// a pruned model with its original (Compare, SelfCheck), task metrics against gold labels or
// scores (Score), and the evaluation of a model on a labelled data file for every head kind
// (Evaluate), with one choice of labels and headline metric by head kind (ReadOptionsFor,
// Headline) that the CLI's eval and compare share.
//
// It is not for pruning (package prune) nor for latency (package bench).
package eval

import (
	"context"
	"fmt"
	"math"
	"runtime/debug"

	"github.com/kprune/kprune/data"
	"github.com/kprune/kprune/graph"
	"github.com/kprune/kprune/graph/autodiff"
	"github.com/kprune/kprune/onnx"
	"github.com/kprune/kprune/prune"
	ort "github.com/kprune/kprune/runtime"
)

// Predictions are a model's outputs on a data set, one row per example in batch order.
type Predictions struct {
	Head graph.HeadKind
	// Width is the row width of Values: labels for classification, 1 for regression, hidden for
	// embeddings (mean-pooled over non-padding tokens), 2*seq positions argmax for span (start,
	// end), and for token heads the per-token argmax of each non-padding token (flattened).
	Width  int
	Values []float32
	// Rows is the number of examples.
	Rows int
}

// Predict runs m over batches and collects its head outputs. threads is onnxruntime's intra-op
// thread count (0 = default).
func Predict(ctx context.Context, m *onnx.ModelProto, batches []data.Batch, threads int) (*Predictions, error) {
	return PredictWith(ctx, m, batches, PredictOptions{Threads: threads})
}

// PredictOptions configure PredictWith.
type PredictOptions struct {
	// Threads is onnxruntime's intra-op thread count (0 = default).
	Threads int
	// LowMemory runs onnxruntime without its memory arena (see prune.Runtime.LowMemory).
	LowMemory bool
	// Pooling is how the hidden states of a model without a head are pooled into embeddings
	// (see prune.Options.Pooling; "" is mean).
	Pooling string
}

// PredictWith is Predict with options.
func PredictWith(ctx context.Context, m *onnx.ModelProto, batches []data.Batch, opts PredictOptions) (*Predictions, error) {
	// The structure is read from the standard form (the float view of a quantized model);
	// onnxruntime runs m itself (fused, quantized or not).
	sm, enc, _, _, err := prune.Structure(m)
	if err != nil {
		return nil, err
	}
	if err := prune.CheckBatches(batches, enc.VocabRows(sm)); err != nil {
		return nil, err
	}
	// Shared weights: onnxruntime reads m's weights in place instead of holding a second copy.
	sess, err := ort.NewSession(m, ort.Options{IntraOpThreads: opts.Threads, Outputs: enc.Outputs, SharedWeights: true, NoArena: opts.LowMemory})
	if err != nil {
		return nil, err
	}
	defer sess.Close()
	if opts.LowMemory {
		// The serialised model handed to onnxruntime is garbage now: give it back to the OS.
		debug.FreeOSMemory()
	}
	p := &Predictions{Head: enc.Head}
	for i := range batches {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		b := &batches[i]
		out, err := run(ctx, sess, prune.BatchInputs(enc, b))
		if err != nil {
			return nil, fmt.Errorf("batch %d: %w", i, err)
		}
		if err := p.add(enc, out, b, opts.Pooling); err != nil {
			return nil, fmt.Errorf("batch %d: %w", i, err)
		}
	}
	return p, nil
}

// run feeds the inputs the session takes and returns its outputs by name.
func run(ctx context.Context, s *ort.Session, inputs map[string]*ort.Tensor) (map[string]*ort.Tensor, error) {
	for _, in := range s.Inputs() {
		if _, ok := inputs[in.Name]; !ok {
			return nil, fmt.Errorf("internal error: no value for session input %q", in.Name)
		}
	}
	out, err := s.Run(ctx, inputs)
	if err != nil {
		return nil, err
	}
	return ort.ByName(out), nil
}

// add appends the predictions of one batch; pooling is how hidden-state outputs are pooled.
func (p *Predictions) add(enc *graph.Encoder, out map[string]*ort.Tensor, b *data.Batch, pooling string) error {
	first := out[enc.Outputs[0]]
	if first == nil || first.F32 == nil {
		return fmt.Errorf("output %q missing or not float32", enc.Outputs[0])
	}
	switch enc.Head {
	case graph.HeadClassification, graph.HeadRegression, graph.HeadEmbedding:
		w := first.Len() / b.Size
		p.Width = w
		p.Values = append(p.Values, first.F32...)
	case graph.HeadNone:
		d := enc.Hidden
		p.Width = d
		if first.Len() != b.Size*b.SeqLen*d {
			return fmt.Errorf("output %q has shape %v, want [%d %d %d]", first.Name, first.Shape, b.Size, b.SeqLen, d)
		}
		e, err := autodiff.Pool(first.F32, b.AttentionMask, b.Size, b.SeqLen, d, pooling)
		if err != nil {
			return err
		}
		p.Values = append(p.Values, e...)
	case graph.HeadSpan:
		p.Width = 2
		end := out[enc.Outputs[len(enc.Outputs)-1]]
		for r := 0; r < b.Size; r++ {
			p.Values = append(p.Values, float32(argmaxMasked(first.F32[r*b.SeqLen:(r+1)*b.SeqLen], b.AttentionMask[r*b.SeqLen:])),
				float32(argmaxMasked(end.F32[r*b.SeqLen:(r+1)*b.SeqLen], b.AttentionMask[r*b.SeqLen:])))
		}
	case graph.HeadToken:
		labels := first.Len() / (b.Size * b.SeqLen)
		p.Width = 1
		for r := 0; r < b.Size; r++ {
			for t := 0; t < b.SeqLen; t++ {
				if b.AttentionMask[r*b.SeqLen+t] == 0 {
					continue
				}
				off := (r*b.SeqLen + t) * labels
				p.Values = append(p.Values, float32(argmax(first.F32[off:off+labels])))
			}
		}
		p.Rows += b.Size
		return nil
	default:
		return fmt.Errorf("unsupported head kind %q", enc.Head)
	}
	p.Rows += b.Size
	return nil
}

func argmax(v []float32) int {
	best := 0
	for i := range v {
		if v[i] > v[best] {
			best = i
		}
	}
	return best
}

func argmaxMasked(v []float32, mask []int64) int {
	best := -1
	for i := range v {
		if mask[i] != 0 && (best < 0 || v[i] > v[best]) {
			best = i
		}
	}
	return max(best, 0)
}

// Compare measures how well student predictions agree with the teacher's: top-1 agreement and
// mean KL for classification (temperature 1), the share of equal argmax positions for span and
// token heads, the mean cosine (and agreement within 0.5 for regression) otherwise; MaxAbs is the
// largest absolute difference of raw values.
func Compare(teacher, student *Predictions) (prune.SelfCheck, error) {
	if teacher.Rows != student.Rows || len(teacher.Values) != len(student.Values) || teacher.Width != student.Width {
		return prune.SelfCheck{}, fmt.Errorf("compare: teacher has %d rows x %d, student %d rows x %d", teacher.Rows, teacher.Width, student.Rows, student.Width)
	}
	sc := prune.SelfCheck{Loaded: true, Examples: teacher.Rows}
	for i := range teacher.Values {
		sc.MaxAbs = math.Max(sc.MaxAbs, math.Abs(float64(teacher.Values[i]-student.Values[i])))
	}
	switch teacher.Head {
	case graph.HeadClassification:
		a, err := data.CompareLogits(teacher.Values, student.Values, teacher.Width, 1)
		if err != nil {
			return sc, err
		}
		sc.Agreement, sc.MeanKL = a.Top1, a.MeanKL
	case graph.HeadSpan, graph.HeadToken:
		same := 0
		for i := range teacher.Values {
			if teacher.Values[i] == student.Values[i] {
				same++
			}
		}
		sc.Agreement = float64(same) / float64(max(len(teacher.Values), 1))
	case graph.HeadRegression:
		close := 0
		for i := range teacher.Values {
			if math.Abs(float64(teacher.Values[i]-student.Values[i])) <= 0.5 {
				close++
			}
		}
		sc.Agreement = float64(close) / float64(max(len(teacher.Values), 1))
	case graph.HeadNone, graph.HeadEmbedding:
		c, err := data.MeanCosine(teacher.Values, student.Values, teacher.Width)
		if err != nil {
			return sc, err
		}
		sc.Cosine, sc.Agreement = c, c
	}
	return sc, nil
}

// Metrics are task metrics of predictions against gold labels or scores. The type lives in
// package prune, whose run report holds it (ModelFigures); this is the same type.
type Metrics = prune.Metrics

// Score computes task metrics: accuracy (and F1 and Matthews for two classes) from class labels,
// or Pearson and Spearman from scores (regression heads, or cosine similarities of pairs).
func Score(p *Predictions, labels []int, scores []float64) (Metrics, error) {
	var m Metrics
	switch {
	case labels != nil && p.Head == graph.HeadClassification:
		pred, err := data.Argmax(p.Values, p.Width)
		if err != nil {
			return m, err
		}
		acc, err := data.Accuracy(pred, labels)
		if err != nil {
			return m, err
		}
		m.Accuracy = &acc
		if p.Width == 2 {
			if f1, err := data.F1(pred, labels); err == nil {
				m.F1 = &f1
			}
			if mcc, err := data.MatthewsCorrelation(pred, labels); err == nil {
				m.Matthews = &mcc
			}
		}
	case scores != nil && p.Head == graph.HeadRegression:
		vals := make([]float64, len(p.Values))
		for i, v := range p.Values {
			vals[i] = float64(v)
		}
		pe, err := data.Pearson(vals, scores)
		if err != nil {
			return m, err
		}
		sp, err := data.Spearman(vals, scores)
		if err != nil {
			return m, err
		}
		m.Pearson, m.Spearman = &pe, &sp
	default:
		return m, fmt.Errorf("no metric for a %s head with the given labels", p.Head)
	}
	return m, nil
}
