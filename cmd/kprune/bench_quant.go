package main

import (
	"fmt"
	"sort"
	"strings"

	"github.com/kprune/kprune/onnx"
)

// integerOps are the operators through which onnxruntime runs quantized graphs: the integer
// kernels it fuses quantized patterns into (DynamicQuantizeMatMul, MatMulIntegerToFloat,
// QLinearMatMul, QGemm, QAttention...), the unfused ones (MatMulInteger) and the quantize and
// dequantize steps around them.
var integerOps = map[string]bool{
	"MatMulInteger": true, "DynamicQuantizeMatMul": true, "MatMulIntegerToFloat": true, "QLinearMatMul": true,
	"QGemm": true, "QAttention": true, "QEmbedLayerNormalization": true, "QLinearAdd": true, "QLinearMul": true,
	"QLinearSoftmax": true, "QLinearConv": true, "ConvInteger": true, "DynamicQuantizeLinear": true,
	"QuantizeLinear": true, "DequantizeLinear": true, "MatMulNBits": true, "GatherBlockQuantized": true,
}

// floatMatMuls are float matrix products: those with a constant weight are projections left in float.
var floatMatMuls = map[string]bool{"MatMul": true, "Gemm": true, "FusedMatMul": true, "FusedGemm": true}

// integerKernels counts, in onnxruntime's optimised graph om, the integer-kernel nodes by op type
// and the float matrix products that still have a constant weight.
func integerKernels(om *onnx.ModelProto) (map[string]int, int) {
	g := om.GetGraph()
	inits := map[string]bool{}
	for _, t := range g.GetInitializer() {
		inits[t.GetName()] = true
	}
	kernels := map[string]int{}
	floatWeighted := 0
	for _, n := range g.GetNode() {
		op := n.GetOpType()
		switch {
		case integerOps[op]:
			kernels[op]++
		case floatMatMuls[op] && len(n.GetInput()) > 1 && inits[n.GetInput()[1]]:
			floatWeighted++
		}
	}
	return kernels, floatWeighted
}

// integerParams counts the elements of the model's 8-bit integer initializers (quantized weights).
func integerParams(m *onnx.ModelProto) int64 {
	var n int64
	for _, t := range m.GetGraph().GetInitializer() {
		switch onnx.TensorProto_DataType(t.GetDataType()) {
		case onnx.TensorProto_INT8, onnx.TensorProto_UINT8:
			n += onnx.NumElements(t.GetDims())
		}
	}
	return n
}

// integerString lists the integer kernels onnxruntime runs: "DynamicQuantizeMatMul 20,
// MatMulIntegerToFloat 18; float MatMuls with weights 1", or "none".
func integerString(bm *benchModel) string {
	if bm.FusionError != "" {
		return "n/a"
	}
	if len(bm.IntegerKernels) == 0 {
		return "none"
	}
	names := make([]string, 0, len(bm.IntegerKernels))
	for n := range bm.IntegerKernels {
		names = append(names, n)
	}
	sort.Strings(names)
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = fmt.Sprintf("%s %d", n, bm.IntegerKernels[n])
	}
	s := strings.Join(parts, ", ")
	if bm.FloatWeightMatMuls > 0 {
		s += fmt.Sprintf("; %d float MatMul/Gemm with weights", bm.FloatWeightMatMuls)
	}
	return s
}

// paramsString is the parameter count, with the 8-bit ones of a quantized model.
func paramsString(bm *benchModel) string {
	if bm.IntegerParams == 0 {
		return fmt.Sprintf("%d", bm.Params)
	}
	return fmt.Sprintf("%d float + %d int8", bm.Params, bm.IntegerParams)
}

// integerNotes says when a quantized model does not run on onnxruntime's fused integer kernels
// (MatMulInteger left unfused), and names the fusions of the float baseline that integer kernels
// make unnecessary (their bias and activation are part of the integer kernel).
func integerNotes(bm *benchModel) []string {
	var notes []string
	if k := bm.IntegerKernels["MatMulInteger"]; k > 0 {
		notes = append(notes, fmt.Sprintf("%s: onnxruntime runs %d MatMulInteger node(s) unfused (the quantized pattern was not fused into DynamicQuantizeMatMul/MatMulIntegerToFloat)", bm.Path, k))
	}
	return notes
}

// absorbedByIntegerKernels are fusions of a float graph that a quantized graph does not need:
// the integer MatMul kernels take the bias (BiasGelu becomes Gelu) and replace FusedGemm.
var absorbedByIntegerKernels = map[string]bool{"BiasGelu": true, "FusedGemm": true, "FastGelu": true}
