package bench

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/kprune/kprune/onnx"
	ort "github.com/kprune/kprune/runtime"
)

// FusedOps lets onnxruntime optimise m (all optimisations, as a latency session does), saves the
// optimised graph to a temporary file, and counts its fused nodes by op type: those in
// com.microsoft domains and those of standard op types that m does not contain. It also returns
// the optimised graph's node count, and the optimised graph.
func FusedOps(m *onnx.ModelProto, threads int) (map[string]int, int, *onnx.ModelProto, error) {
	dir, err := os.MkdirTemp("", "kprune-bench-*")
	if err != nil {
		return nil, 0, nil, err
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "optimized.onnx")
	s, err := ort.NewSession(m, ort.Options{IntraOpThreads: threads, OptimizedModelPath: path})
	if err != nil {
		return nil, 0, nil, fmt.Errorf("onnxruntime optimisation: %w", err)
	}
	s.Close()
	om, err := onnx.Load(path)
	if err != nil {
		return nil, 0, nil, fmt.Errorf("reading onnxruntime's optimised model: %w", err)
	}
	original := map[string]bool{}
	for _, n := range m.GetGraph().GetNode() {
		original[n.GetDomain()+":"+n.GetOpType()] = true
	}
	fused := map[string]int{}
	for _, n := range om.GetGraph().GetNode() {
		switch d := n.GetDomain(); {
		case d == "com.microsoft":
			fused[n.GetOpType()]++
		case strings.HasPrefix(d, "com.microsoft."):
			fused[d+"."+n.GetOpType()]++
		case (d == "" || d == "ai.onnx") && !original[":"+n.GetOpType()] && !original["ai.onnx:"+n.GetOpType()]:
			fused[n.GetOpType()]++
		}
	}
	return fused, len(om.GetGraph().GetNode()), om, nil
}

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

// IntegerKernels counts, in onnxruntime's optimised graph om, the integer-kernel nodes by op type
// and the float matrix products that still have a constant weight.
func IntegerKernels(om *onnx.ModelProto) (map[string]int, int) {
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

// IntegerParams counts the elements of the model's 8-bit integer initializers (quantized weights).
func IntegerParams(m *onnx.ModelProto) int64 {
	var n int64
	for _, t := range m.GetGraph().GetInitializer() {
		switch onnx.TensorProto_DataType(t.GetDataType()) {
		case onnx.TensorProto_INT8, onnx.TensorProto_UINT8:
			n += onnx.NumElements(t.GetDims())
		}
	}
	return n
}

// counts lists op counts by name: "Attention 2, SkipLayerNormalization 4".
func counts(m map[string]int) string {
	names := slices.Sorted(maps.Keys(m))
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = fmt.Sprintf("%s %d", n, m[n])
	}
	return strings.Join(parts, ", ")
}

// FusedSummary lists the fused op counts by name ("Attention 2, SkipLayerNormalization 4"),
// "none", or "n/a" when the fusion check failed.
func (bm *Model) FusedSummary() string {
	if bm.FusionError != "" {
		return "n/a"
	}
	if len(bm.Fused) == 0 {
		return "none"
	}
	return counts(bm.Fused)
}

// IntegerSummary lists the integer kernels onnxruntime runs: "DynamicQuantizeMatMul 20,
// MatMulIntegerToFloat 18; 1 float MatMul/Gemm with weights", "none", or "n/a".
func (bm *Model) IntegerSummary() string {
	if bm.FusionError != "" {
		return "n/a"
	}
	if len(bm.IntegerKernels) == 0 {
		return "none"
	}
	s := counts(bm.IntegerKernels)
	if bm.FloatWeightMatMuls > 0 {
		s += fmt.Sprintf("; %d float MatMul/Gemm with weights", bm.FloatWeightMatMuls)
	}
	return s
}

// ParamsSummary is the parameter count, with the 8-bit ones of a quantized model.
func (bm *Model) ParamsSummary() string {
	if bm.IntegerParams == 0 {
		return fmt.Sprintf("%d", bm.Params)
	}
	return fmt.Sprintf("%d float + %d int8", bm.Params, bm.IntegerParams)
}

// Notes say when the model's figures are incomplete (no FLOPs, fusion check failed) and when a
// quantized model does not run on onnxruntime's fused integer kernels (MatMulInteger left
// unfused).
func (bm *Model) Notes() []string {
	var notes []string
	if bm.FLOPsError != "" {
		notes = append(notes, fmt.Sprintf("%s: no FLOPs: %s", bm.Path, bm.FLOPsError))
	}
	if bm.FusionError != "" {
		notes = append(notes, fmt.Sprintf("%s: fusion check failed: %s", bm.Path, bm.FusionError))
	}
	if k := bm.IntegerKernels["MatMulInteger"]; k > 0 {
		notes = append(notes, fmt.Sprintf("%s: onnxruntime runs %d MatMulInteger node(s) unfused (the quantized pattern was not fused into DynamicQuantizeMatMul/MatMulIntegerToFloat)", bm.Path, k))
	}
	return notes
}

// absorbedByIntegerKernels are fusions of a float graph that a quantized graph does not need:
// the integer MatMul kernels take the bias (BiasGelu becomes Gelu) and replace FusedGemm.
var absorbedByIntegerKernels = map[string]bool{"BiasGelu": true, "FusedGemm": true, "FastGelu": true}

// LostFusions returns the op types onnxruntime fuses in the baseline but not in the model, with
// their counts in the baseline, sorted by name; fusions that integer kernels make unnecessary
// (their bias and activation are part of the kernel) are left out for a quantized model. Nil
// without a baseline or when a fusion check failed.
func (r *Result) LostFusions() (names []string, baseline map[string]int) {
	b := r.Baseline
	if b == nil || r.Model.FusionError != "" || b.FusionError != "" {
		return nil, nil
	}
	for n := range b.Fused {
		if r.Model.Fused[n] == 0 && !(len(r.Model.IntegerKernels) > 0 && absorbedByIntegerKernels[n]) {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	return names, b.Fused
}
