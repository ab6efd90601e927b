package prune

import (
	"fmt"

	"github.com/kprune/kprune/graph"
	"github.com/kprune/kprune/onnx"
	"github.com/kprune/kprune/quantize"
)

// Structure returns the standard float form of m that discovery reads, its encoder, the
// onnxruntime operators that were unfused, and whether m is quantized. A quantized model
// (onnxruntime's quantize_dynamic or kprune quantize output, QDQ) is read through its float view
// (quantize.Dequantize): it can be evaluated, compared and measured like a float one. Pruning
// still refuses it (Standardize, LoadModel): prune the float model, then quantize.
func Structure(m *onnx.ModelProto) (std *onnx.ModelProto, enc *graph.Encoder, unfused map[string]int, quantized bool, err error) {
	view := m
	if graph.CheckQuantized(m) != nil {
		quantized = true
		if view, err = quantize.Dequantize(m); err != nil {
			return nil, nil, nil, true, fmt.Errorf("%w: %w", graph.ErrQuantized, err)
		}
	}
	std, unfused, err = Standardize(view)
	if err != nil {
		return nil, nil, nil, quantized, err
	}
	if enc, err = graph.Discover(std); err != nil {
		return nil, nil, nil, quantized, err
	}
	return std, enc, unfused, quantized, nil
}
