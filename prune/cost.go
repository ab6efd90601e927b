// Package prune implements K-prune (Park et al., ICLR 2024) and the baselines it is compared
// with, on ONNX encoders: the FLOPs cost model, knowledge measurement, the knowledge-preserving
// mask search (KPMS), knowledge-preserving weight tuning (KPWT), the sublayer-wise driver and its
// run report. One Method interface (method.go) runs K-prune, Kwon et al. and magnitude pruning
// with the same inputs and result; load.go reads a model, its tokenizer and calibration data.
//
// It is not for measuring pruned models: evaluation is package eval, latency package bench,
// method comparisons package compare.
//
// It does not parse protobuf or call onnxruntime directly: it asks package graph for encoder
// descriptions and rewritten graphs, graph/autodiff for gradient graphs, and package runtime to
// execute them. Small dense linear algebra (least-squares solves) uses gonum.
//
// # Errors
//
// Besides errors from the packages it calls (graph.ErrNotEncoder, graph.ErrQuantized,
// graph.ErrFused, graph.ErrUnsupportedModel, data.ErrBadData, runtime.ErrNoLibrary, wrapped so
// that errors.Is finds them), the package returns:
//
//   - ErrImpossibleBudget: the FLOPs reduction is out of range or cannot be met;
//   - *OptionError: an option has an invalid value (Option names the field).
package prune

import (
	"fmt"
	"math"

	"github.com/kprune/kprune/graph"
)

// Cost is the FLOPs model of kprune-spec section 2 for one encoder and a costing sequence length.
// Embeddings, LayerNorms, biases, activations and the task head are not counted.
type Cost struct {
	Hidden  int     // D
	HeadDim int     // d_h
	SeqLen  float64 // s, the costing sequence length (e.g. the calibration set's average)
}

// NewCost returns the cost model for enc at sequence length seqLen.
func NewCost(enc *graph.Encoder, seqLen float64) (Cost, error) {
	if seqLen <= 0 || math.IsNaN(seqLen) || math.IsInf(seqLen, 0) {
		return Cost{}, fmt.Errorf("cost model: sequence length must be positive, got %v", seqLen)
	}
	if enc.Hidden <= 0 || enc.HeadDim <= 0 {
		return Cost{}, fmt.Errorf("cost model: encoder has hidden %d and head dim %d", enc.Hidden, enc.HeadDim)
	}
	return Cost{Hidden: enc.Hidden, HeadDim: enc.HeadDim, SeqLen: seqLen}, nil
}

// Head returns the FLOPs of one attention head: 8*D*d_h*s + 4*s^2*d_h (Q, K, V and O
// projections, scores and context).
func (c Cost) Head() float64 {
	d, dh, s := float64(c.Hidden), float64(c.HeadDim), c.SeqLen
	return 8*d*dh*s + 4*s*s*dh
}

// Neuron returns the FLOPs of one FFN neuron: 4*s*D.
func (c Cost) Neuron() float64 { return 4 * c.SeqLen * float64(c.Hidden) }

// Unit returns the FLOPs of one unit of sublayer s (a head when s is even, a neuron when odd).
func (c Cost) Unit(s int) float64 {
	if s%2 == 0 {
		return c.Head()
	}
	return c.Neuron()
}

// Config returns the FLOPs of an encoder with heads[l] heads and neurons[l] neurons in layer l.
func (c Cost) Config(heads, neurons []int) float64 {
	var f float64
	for _, h := range heads {
		f += float64(h) * c.Head()
	}
	for _, n := range neurons {
		f += float64(n) * c.Neuron()
	}
	return f
}

// Units returns the per-layer head and neuron counts of enc (0 for removed sublayers).
func Units(enc *graph.Encoder) (heads, neurons []int) {
	heads = make([]int, len(enc.Layers))
	neurons = make([]int, len(enc.Layers))
	for l, layer := range enc.Layers {
		if layer.MHA != nil {
			heads[l] = layer.MHA.Heads
		}
		if layer.FFN != nil {
			neurons[l] = layer.FFN.Width
		}
	}
	return heads, neurons
}

// Encoder returns the FLOPs of enc.
func (c Cost) Encoder(enc *graph.Encoder) float64 {
	h, n := Units(enc)
	return c.Config(h, n)
}

// CheckReduction validates a requested FLOPs-reduction fraction: it must be in [0, 1). The error
// matches ErrImpossibleBudget.
func CheckReduction(r float64) error {
	if math.IsNaN(r) || r < 0 || r >= 1 {
		return impossibleBudget("FLOPs reduction must be in [0, 1) (the fraction of encoder FLOPs to remove), got %v", r)
	}
	return nil
}

// errNoUnits is returned when a model has nothing to prune: no reduction can be met.
var errNoUnits error = &budgetError{msg: "the encoder has no heads or neurons left to prune"}
