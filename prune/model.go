package prune

import (
	"fmt"

	"github.com/kprune/kprune/graph"
	"github.com/kprune/kprune/graph/autodiff"
	"github.com/kprune/kprune/graph/fused"
	"github.com/kprune/kprune/onnx"
)

// LoadModel reads an ONNX model and puts it in the form pruning works on (see Standardize). It
// returns the onnxruntime operators that were turned back into standard ONNX (op type -> count;
// empty for plain exports).
func LoadModel(path string) (*onnx.ModelProto, map[string]int, error) {
	m, err := onnx.Load(path)
	if err != nil {
		return nil, nil, err
	}
	s, unfused, err := Standardize(m)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	return s, unfused, nil
}

// Standardize returns m as standard ONNX: a graph optimised by onnxruntime (com.microsoft
// Attention, SkipLayerNormalization, BiasGelu... as `optimum-cli export onnx --optimize` writes
// them) is unfused into the plain operators discovery understands (package graph/fused), and any
// other model comes back as it is. m is not modified. A quantized model is refused (graph.ErrQuantized). The error wraps graph.ErrFused (and
// fused.ErrUnsupportedFused) when a fused operator cannot be turned back.
func Standardize(m *onnx.ModelProto) (*onnx.ModelProto, map[string]int, error) {
	if err := graph.CheckQuantized(m); err != nil {
		return nil, nil, err
	}
	s, rep, err := fused.Unfuse(m)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %w", graph.ErrFused, err)
	}
	if len(rep.Unfused) == 0 {
		return m, nil, nil
	}
	return s, rep.Unfused, nil
}

// LossDescription says in one line which of the model's outputs the predictive (distillation)
// loss is taken on and how, for reports.
func LossDescription(enc *graph.Encoder, temperature float64, pooling string) string {
	out := func(i int) string {
		if i < len(enc.Outputs) {
			return fmt.Sprintf("%q", enc.Outputs[i])
		}
		return "?"
	}
	switch enc.Head {
	case graph.HeadClassification:
		return fmt.Sprintf("KL divergence of the teacher's and student's softmax(logits/%g) on output %s", temperature, out(0))
	case graph.HeadSpan:
		return fmt.Sprintf("KL divergence of softmax(logits/%g) over non-padding positions, mean of start %s and end %s", temperature, out(0), out(1))
	case graph.HeadToken:
		return fmt.Sprintf("KL divergence of softmax(logits/%g) per non-padding token on output %s", temperature, out(0))
	case graph.HeadRegression:
		return fmt.Sprintf("mean squared error to the teacher's values on output %s", out(0))
	case graph.HeadEmbedding:
		return fmt.Sprintf("squared L2 distance to the teacher's sentence embedding on output %s (2 - 2 cos for normalised embeddings) [ours]", out(0))
	case graph.HeadNone:
		base, normalize, _ := autodiff.ParsePooling(pooling)
		how := "mean-pooled"
		if base == autodiff.PoolCLS {
			how = "first-token (CLS)"
		}
		if normalize {
			return fmt.Sprintf("squared L2 distance of the L2-normalised %s hidden states of output %s to the teacher's (2 - 2 cos) [ours]", how, out(0))
		}
		return fmt.Sprintf("squared L2 distance of the %s hidden states of output %s to the teacher's [ours]", how, out(0))
	}
	return string(enc.Head)
}
