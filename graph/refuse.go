package graph

import (
	"fmt"

	"github.com/kprune/kprune/onnx"
)

// quantOps are the operators of quantized ONNX models: dynamic quantization, QOperator and QDQ
// formats, and onnxruntime's quantized contrib kernels.
var quantOps = map[string]bool{
	"MatMulInteger": true, "DynamicQuantizeLinear": true, "QuantizeLinear": true, "DequantizeLinear": true,
	"QLinearMatMul": true, "QLinearConv": true, "QLinearAdd": true, "QLinearMul": true, "ConvInteger": true,
	"DynamicQuantizeMatMul": true, "MatMulIntegerToFloat": true, "QAttention": true, "QEmbedLayerNormalization": true,
	"QGemm": true, "QLinearSoftmax": true, "QLinearGlobalAveragePool": true, "QLinearReduceMean": true,
	"DynamicQuantizeLSTM": true, "MatMulNBits": true, "MatMulBnb4": true, "GatherBlockQuantized": true,
}

// refuse checks, before the structure is matched, for models kprune knows it cannot prune, so
// that the user gets one line saying what was found instead of a message about an unrelated
// node: quantized graphs (by operator, or int8 weights rescaled in float), float16 weights,
// onnxruntime contrib operators left after unfusing, and DeBERTa's disentangled attention.
func (d *disc) refuse() error {
	for _, n := range d.ix.Topo() {
		op := n.GetOpType()
		if quantOps[op] {
			return fmt.Errorf("%w: node %q is %s: prune the float model, then quantize the pruned one (kprune quantize, or onnxruntime's quantize_dynamic)", ErrQuantized, n.GetName(), op)
		}
		if op == "MatMul" || op == "Gemm" {
			if err := d.refuseWeight(n); err != nil {
				return err
			}
		}
		if !isDefaultDomain(n) {
			if n.GetDomain() == "com.microsoft" {
				return fmt.Errorf("%w: node %q is the onnxruntime contrib operator com.microsoft.%s, which discovery reads only after it is turned back into standard ONNX (graph/fused.Unfuse or prune.Standardize; kprune's commands do it): unfuse first, or export a plain graph (torch.onnx.export, or optimum-cli export onnx without --optimize)", ErrFused, n.GetName(), op)
			}
			return unsupported(n, "node %q uses operator %s from the custom domain %q, which kprune does not understand; export the model with standard ONNX operators only", n.GetName(), op, n.GetDomain())
		}
	}
	for _, n := range d.ix.Topo() {
		if n.GetOpType() == "Softmax" && isDefaultDomain(n) {
			if k := d.scoreProducts(n); k > 1 {
				return unsupported(n, "%v: the attention Softmax %q sums %d products of projected tensors (content-to-content plus relative-position terms): this is disentangled attention (DeBERTa), which kprune does not prune", ErrUnsupportedModel, n.GetName(), k)
			}
		}
	}
	return nil
}

// refuseWeight refuses a MatMul or Gemm whose weight is float16/bfloat16 or an integer
// initializer converted and rescaled in the graph (weight-only quantization).
func (d *disc) refuseWeight(n *onnx.NodeProto) error {
	if len(n.GetInput()) < 2 {
		return nil
	}
	w := n.GetInput()[1]
	for range 8 {
		if c := d.ix.Constant(w); c != nil {
			switch onnx.TensorProto_DataType(c.GetDataType()) {
			case onnx.TensorProto_FLOAT16, onnx.TensorProto_BFLOAT16:
				return unsupported(n, "%v: the weight %q of %s node %q is %s: kprune prunes float32 models; export in float32, prune, then convert the pruned model", ErrUnsupportedModel, w, n.GetOpType(), n.GetName(), onnx.TensorProto_DataType(c.GetDataType()))
			case onnx.TensorProto_INT8, onnx.TensorProto_UINT8:
				return fmt.Errorf("%w: the weight of %s node %q is the %s initializer %q converted in the graph (weight-only quantization): prune the float model, then quantize the pruned one", ErrQuantized, n.GetOpType(), n.GetName(), onnx.TensorProto_DataType(c.GetDataType()), w)
			}
			return nil
		}
		p := d.ix.Producer(w)
		if p == nil || len(p.GetInput()) == 0 {
			return nil
		}
		switch p.GetOpType() {
		case "Cast", "Identity", "Transpose", "Reshape":
			w = p.GetInput()[0]
		case "Mul", "Sub":
			// A scale or zero point applied to converted integers: follow the non-scalar side.
			a, b := p.GetInput()[0], p.GetInput()[1]
			if d.isScalarConst(b) || (d.ix.IsConstant(b) && !d.ix.IsConstant(a)) {
				w = a
			} else {
				w = b
			}
		default:
			return nil
		}
	}
	return nil
}

// scoreProducts counts the MatMuls of two computed tensors (not weights) that reach the input of
// Softmax node sm through elementwise arithmetic, gathers and reshapes: one (queries x keys) in
// BERT-style attention, three in DeBERTa's disentangled attention.
func (d *disc) scoreProducts(sm *onnx.NodeProto) int {
	count := 0
	seen := map[string]bool{}
	VisitTensors([]string{sm.GetInput()[0]}, seen, func(t string) ([]string, bool) {
		if len(seen) > 256 {
			return nil, true
		}
		p := d.ix.Producer(t)
		if p == nil || d.ix.IsConstant(t) || d.by[t] != nil {
			return nil, false
		}
		switch p.GetOpType() {
		case "MatMul":
			if !d.ix.IsConstant(p.GetInput()[0]) && !d.ix.IsConstant(p.GetInput()[1]) {
				count++
			}
		case "Add", "Sub", "Mul", "Div", "Where", "Max", "Min":
			return p.GetInput(), false
		case "Cast", "Identity", "Dropout", "Gather", "GatherElements", "Transpose", "Reshape", "Expand", "Clip", "Squeeze", "Unsqueeze", "Tile":
			return p.GetInput()[:1], false
		}
		return nil, false
	})
	return count
}

// refuseSharedLayers refuses encoders whose layers share their weights (ALBERT's cross-layer
// parameter sharing): pruning one layer's units would prune every layer's, and giving each layer
// its own copy would multiply the model's size.
func refuseSharedLayers(enc *Encoder) error {
	seen := map[string]int{}
	for l, L := range enc.Layers {
		if L.MHA == nil && L.FFN == nil {
			continue
		}
		key := ""
		if m := L.MHA; m != nil {
			key += m.Q.Weight + "|" + m.K.Weight + "|" + m.V.Weight + "|" + m.O.Weight
		}
		if f := L.FFN; f != nil {
			key += "|" + f.W1.Weight + "|" + f.W2.Weight
		}
		if prev, ok := seen[key]; ok {
			return fmt.Errorf("%w: layers %d and %d use the same weights (cross-layer parameter sharing, as in ALBERT), which kprune does not prune", ErrUnsupportedModel, prev, l)
		}
		seen[key] = l
	}
	return nil
}
