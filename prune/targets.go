package prune

import (
	"fmt"

	"github.com/kprune/kprune/graph"
	"github.com/kprune/kprune/graph/autodiff"
	ort "github.com/kprune/kprune/runtime"
)

// teacherTargets turns the teacher's head outputs on one batch (in enc.Outputs order) into the
// loss targets the scoring graph takes (in autodiff.Loss.Targets order): softmax(z/T) for
// classification and token heads, masked softmax over positions for span heads, raw values for
// regression, and mean-pooled embeddings for models without a head.
func teacherTargets(enc *graph.Encoder, outs []*ort.Tensor, mask []int64, batch, seq int, T float64, pooling string) ([]*ort.Tensor, error) {
	if len(outs) == 0 || outs[0] == nil || outs[0].F32 == nil {
		return nil, fmt.Errorf("teacher output missing or not float32")
	}
	z := outs[0]
	switch enc.Head {
	case graph.HeadClassification:
		cols := z.Len() / batch
		p, err := autodiff.SoftmaxTargets(z.F32, batch, cols, T)
		if err != nil {
			return nil, err
		}
		return []*ort.Tensor{ort.F32Tensor([]int64{int64(batch), int64(cols)}, p)}, nil
	case graph.HeadToken:
		cols := z.Len() / (batch * seq)
		p, err := autodiff.SoftmaxTargets(z.F32, batch*seq, cols, T)
		if err != nil {
			return nil, err
		}
		return []*ort.Tensor{ort.F32Tensor([]int64{int64(batch), int64(seq), int64(cols)}, p)}, nil
	case graph.HeadSpan:
		if len(outs) < 2 || outs[1] == nil {
			return nil, fmt.Errorf("span head: end logits missing")
		}
		var res []*ort.Tensor
		for _, o := range outs[:2] {
			p, err := autodiff.MaskedSoftmaxTargets(o.F32, mask, batch, seq, T)
			if err != nil {
				return nil, err
			}
			res = append(res, ort.F32Tensor([]int64{int64(batch), int64(seq)}, p))
		}
		return res, nil
	case graph.HeadRegression:
		cols := z.Len() / batch
		return []*ort.Tensor{ort.F32Tensor([]int64{int64(batch), int64(cols)}, append([]float32(nil), z.F32...))}, nil
	case graph.HeadEmbedding:
		cols := z.Len() / batch
		return []*ort.Tensor{ort.F32Tensor([]int64{int64(batch), int64(cols)}, append([]float32(nil), z.F32...))}, nil
	case graph.HeadNone:
		dim := z.Len() / (batch * seq)
		e, err := autodiff.Pool(z.F32, mask, batch, seq, dim, pooling)
		if err != nil {
			return nil, err
		}
		return []*ort.Tensor{ort.F32Tensor([]int64{int64(batch), int64(dim)}, e)}, nil
	}
	return nil, fmt.Errorf("unsupported head kind %q", enc.Head)
}
