package compare

import (
	"context"
	"fmt"

	"github.com/kprune/kprune/bench"
	"github.com/kprune/kprune/data"
	"github.com/kprune/kprune/eval"
	"github.com/kprune/kprune/onnx"
	"github.com/kprune/kprune/output"
	"github.com/kprune/kprune/prune"
)

// Model is one model of a side-by-side comparison: its label, its file ("" when not written)
// and the model.
type Model struct {
	Name, Path string
	Model      *onnx.ModelProto
}

// HeldOut are the held-out examples of a side-by-side comparison, with their labels or scores
// when known.
type HeldOut struct {
	Batches []data.Batch
	Labels  []int
	Scores  []float64
	// Source says where they come from, for people.
	Source string
}

// SideBySide measures models (original float, pruned float, int8...) the same way: size on
// disk, parameters, the task metric on the held-out examples and the agreement with the first
// model, and (unless lat is nil) their latency in one interleaved run per thread count.
// predictThreads are onnxruntime's threads for the predictions. It also returns the sequence
// length the latency was measured at (lowered to the most tokens the models take).
func SideBySide(ctx context.Context, models []Model, ho HeldOut, lat *bench.LatencyOptions, predictThreads int) ([]prune.ModelFigures, int, error) {
	figs := make([]prune.ModelFigures, len(models))
	for i, sm := range models {
		f := &figs[i]
		f.Name, f.Path = sm.Name, sm.Path
		f.Params, f.Int8Params = prune.Params(sm.Model), bench.IntegerParams(sm.Model)
		f.Bytes = output.FileBytes(sm.Path)
	}
	if len(ho.Batches) > 0 {
		preds := make([]*eval.Predictions, len(models))
		for i, sm := range models {
			p, err := eval.PredictWith(ctx, sm.Model, ho.Batches, eval.PredictOptions{Threads: predictThreads})
			if err != nil {
				return nil, 0, fmt.Errorf("%s model: %w", sm.Name, err)
			}
			preds[i] = p
			if ho.Labels != nil || ho.Scores != nil {
				if mt, err := eval.Score(p, ho.Labels, ho.Scores); err == nil {
					figs[i].Metrics = &mt
				}
			}
			if i > 0 {
				sc, err := eval.Compare(preds[0], p)
				if err != nil {
					return nil, 0, err
				}
				figs[i].Agreement = &sc
			}
		}
	}
	if lat == nil {
		return figs, 0, nil
	}
	named := make([]bench.Named, len(models))
	for i, sm := range models {
		named[i] = bench.Named{Name: sm.Name, Model: sm.Model}
	}
	l, seq, err := bench.MeasureModels(ctx, named, *lat)
	if err != nil {
		return nil, seq, err
	}
	for i := range figs {
		figs[i].Latency = l[i]
	}
	return figs, seq, nil
}
