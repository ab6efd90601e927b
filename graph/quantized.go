package graph

import (
	"fmt"

	"github.com/kprune/kprune/onnx"
)

// CheckQuantized returns an error wrapping ErrQuantized when m holds a quantized operator (any
// domain: MatMulInteger, QuantizeLinear/DequantizeLinear, QLinear*, onnxruntime's
// DynamicQuantizeMatMul, QAttention, MatMulNBits...), naming the first such node. Callers run it
// before anything else reads the graph, so a quantized model is named as such rather than as an
// unknown or fused operator. Weight-only quantization spelled with standard operators (int8
// initializers converted in the graph) is found by Discover.
func CheckQuantized(m *onnx.ModelProto) error {
	for _, n := range m.GetGraph().GetNode() {
		if quantOps[n.GetOpType()] {
			return fmt.Errorf("%w: node %q is %s: prune the float model, then quantize the pruned one (kprune quantize, or onnxruntime's quantize_dynamic)", ErrQuantized, n.GetName(), n.GetOpType())
		}
	}
	return nil
}
