package testmodel

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/kprune/kprune/onnx"
)

// scalarInputs counts the op nodes that take a scalar float constant close to v.
func (ix *index) scalarInputs(op string, v float64) int {
	n := 0
	for _, node := range ix.nodes(op) {
		for _, in := range node.GetInput() {
			if x, ok := ix.scalar(in); ok && (x == v || (!math.IsInf(v, 0) && math.Abs(x-v) <= 1e-6*math.Abs(v))) {
				n++
				break
			}
		}
	}
	return n
}

// weightsVia counts the op nodes whose input k is an initializer reached through one node of
// kind via (an Identity, Transpose or Cast), and those whose input k is an initializer.
func (ix *index) weightsVia(op string, k int, via string) (through, direct int) {
	for _, n := range ix.nodes(op) {
		if len(n.GetInput()) <= k {
			continue
		}
		in := n.GetInput()[k]
		if ix.inits[in] != nil {
			direct++
		} else if p := ix.producer[in]; p != nil && p.GetOpType() == via && ix.inits[p.GetInput()[0]] != nil {
			through++
		}
	}
	return through, direct
}

// opsWithout counts the op nodes without the attribute attr.
func (ix *index) opsWithout(op, attr string) int {
	n := 0
	for _, node := range ix.nodes(op) {
		if onnx.FindAttr(node, attr) == nil {
			n++
		}
	}
	return n
}

// outputShapes gives the declared graph outputs as "name shape".
func outputShapes(m *onnx.ModelProto) []string {
	var s []string
	for _, v := range m.GetGraph().GetOutput() {
		_, shape, _ := onnx.ValueInfoShape(v)
		s = append(s, v.GetName()+" "+onnx.FormatShape(shape))
	}
	return s
}

func inputNames(m *onnx.ModelProto) []string {
	var s []string
	for _, v := range m.GetGraph().GetInput() {
		s = append(s, v.GetName())
	}
	return s
}

// TestPresetStructure checks that each preset (and each structural option alone) contains the op
// pattern it claims. The presets have the default sizes: 2 layers of 2 heads of 8, hidden 16.
func TestPresetStructure(t *testing.T) {
	cases := presetCases()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg
			if p, err := Preset(tc.name); err == nil {
				cfg = p
			} else if !strings.HasPrefix(tc.name, "option:") {
				t.Fatal(err)
			}
			cfg.Seed = 1
			m := mustBuild(t, cfg)
			tc.check(t, m, newIndex(m))
		})
	}
	for _, name := range PresetNames() {
		if !slices.ContainsFunc(cases, func(c presetCase) bool {
			return c.name == name
		}) {
			t.Errorf("preset %s has no structure check", name)
		}
	}
}

// presetCase is a preset (or, named "option:...", a configuration) and the structure its
// graph must have.
type presetCase struct {
	name  string
	cfg   Config
	check presetCheck
}

// presetCases lists the structure checks, one per preset and a few options.
func presetCases() []presetCase {
	return []presetCase{
		{"legacy-bert", Config{}, allChecks(checkLegacy(1), checkScaleMul)},
		{"sdpa", Config{}, allChecks(checkLegacy(0), checkSplitScale, checkNaNGuard, checkSDPA)},
		{"dynamo", Config{}, allChecks(checkSplitScale, checkNaNGuard, checkDynamo)},
		{"optimum", Config{}, checkOptimum},
		{"identity", Config{}, checkIdentity},
		{"distilbert", Config{}, allChecks(checkTokenFree, checkDistilbert)},
		{"roberta", Config{}, allChecks(checkTokenFree, checkRobertaPos, checkRoberta)},
		{"xlmr", Config{}, allChecks(checkTokenFree, checkRobertaPos)},
		{"electra", Config{}, checkElectra},
		{"qa", Config{}, checkQA},
		{"regression", Config{}, checkRegression},
		{"sentence-pooled", Config{}, checkSentencePooled},
		{"mpnet", Config{}, allChecks(checkTokenFree, checkRobertaPos, checkMPNet)},
		{"option:via-transpose", Config{WeightVia: ViaTranspose, Gemm: true}, checkViaTranspose},
		{"option:via-cast", Config{WeightVia: ViaCast}, checkViaCast},
		{"option:epsilon-decomposed", Config{Epsilon: 1e-5}, checkEpsilonDecomposed},
		{"option:epsilon-op", Config{Epsilon: 1e-7, Opset: 17}, checkEpsilonOp},
		{"option:ln-decomposed-opset18", Config{LayerNorm: LNDecomposed, Opset: 18}, checkLNDecomposedOpset18},
		{"option:expand", Config{MaskExpand: ExpandShape}, checkExpand},
	}
}

// nLayers is the number of layers of the presets.
const nLayers = DefaultLayers

var (
	rsqrt8   = 1 / math.Sqrt(8)
	finfoMin = -math.MaxFloat32
)

// presetCheck checks the structure of model m (indexed by ix).
type presetCheck func(t *testing.T, m *onnx.ModelProto, ix *index)

// wantCount reports got things described by what when it is not n.
func wantCount(t *testing.T, what string, got, n int) {
	t.Helper()
	if got != n {
		t.Errorf("%d %s, want %d", got, what, n)
	}
}

// checkLegacy checks the legacy exporter's parameter aliases, mask and LayerNorm; whereMin is
// the number of Where(mask, 0, finfo.min) nodes.
func checkLegacy(whereMin int) presetCheck {
	return func(t *testing.T, m *onnx.ModelProto, ix *index) {
		nodes := m.GetGraph().GetNode()
		k := 0
		for k < len(nodes) && nodes[k].GetOpType() == "Identity" {
			if ix.inits[nodes[k].GetInput()[0]] == nil {
				t.Errorf("Identity %s does not alias an initializer", nodes[k].GetName())
			}
			k++
		}
		wantCount(t, "Identity nodes in allChecks", ix.ops["Identity"], k)
		viaAdd, _ := ix.weightsVia("Add", 0, "Identity") // linear biases
		viaMul, _ := ix.weightsVia("Mul", 1, "Identity") // LayerNorm scales
		viaAdd1, _ := ix.weightsVia("Add", 1, "Identity")
		wantCount(t, "linear biases through Identity", viaAdd, 6*nLayers)
		wantCount(t, "LayerNorm scales through Identity (not the embedding LayerNorm's)", viaMul, 2*nLayers)
		wantCount(t, "LayerNorm shifts through Identity", viaAdd1, 2*nLayers)
		if _, direct := ix.weightsVia("MatMul", 1, "Identity"); direct != 6*nLayers {
			t.Errorf("%d MatMul weights are direct initializers, want %d", direct, 6*nLayers)
		}
		wantCount(t, "Where(mask, 0, finfo.min)", ix.scalarInputs("Where", finfoMin), whereMin)
		wantCount(t, "Expand", ix.ops["Expand"], 1)
		wantCount(t, "Constant", min(ix.ops["Constant"], 1), 1)
		wantCount(t, "decomposed LayerNorm ReduceMeans", ix.ops["ReduceMean"], 2*(1+2*nLayers))
	}
}

// checkScaleMul checks that each layer scales its attention scores by one Mul by 1/sqrt(d_h).
func checkScaleMul(t *testing.T, m *onnx.ModelProto, ix *index) {
	wantCount(t, "Mul(scores, 1/sqrt(d_h))", ix.scalarInputs("Mul", rsqrt8), nLayers)
	wantCount(t, "Div(scores, sqrt(d_h))", ix.scalarInputs("Div", math.Sqrt(8)), 0)
}

// checkSplitScale checks that the scaling is split into Mul(Q or K^T, d_h^-1/4) before the
// scores' MatMul, twice per layer.
func checkSplitScale(t *testing.T, m *onnx.ModelProto, ix *index) {
	n := 0
	for _, mul := range ix.nodes("Mul") {
		if _, ok := ix.scalar(mul.GetInput()[1]); !ok {
			continue
		}
		if x, _ := ix.scalar(mul.GetInput()[1]); math.Abs(x-math.Pow(8, -0.25)) < 1e-6 && ix.consumers[mul.GetOutput()[0]][0].GetOpType() == "MatMul" {
			n++
		}
	}
	wantCount(t, "Mul(Q or K^T, d_h^-1/4) feeding a MatMul", n, 2*nLayers)
}

// checkNaNGuard checks that an IsNaN guards each layer's Softmax.
func checkNaNGuard(t *testing.T, m *onnx.ModelProto, ix *index) {
	wantCount(t, "IsNaN", ix.ops["IsNaN"], nLayers)
	for _, n := range ix.nodes("IsNaN") {
		if p := ix.producer[n.GetInput()[0]]; p == nil || p.GetOpType() != "Softmax" {
			t.Errorf("IsNaN %s does not guard a Softmax", n.GetName())
		}
	}
}

// allChecks runs every check of cs.
func allChecks(cs ...presetCheck) presetCheck {
	return func(t *testing.T, m *onnx.ModelProto, ix *index) {
		for _, c := range cs {
			c(t, m, ix)
		}
	}
}

// checkTokenFree checks that the model has no token_type_ids input.
func checkTokenFree(t *testing.T, m *onnx.ModelProto, ix *index) {
	if got := inputNames(m); !slices.Equal(got, []string{InputIDs, AttentionMask}) {
		t.Errorf("inputs %v, want input_ids and attention_mask", got)
	}
}

// checkRobertaPos checks RoBERTa's position ids, from Equal(input_ids, pad) and CumSum.
func checkRobertaPos(t *testing.T, m *onnx.ModelProto, ix *index) {
	wantCount(t, "CumSum", ix.ops["CumSum"], 1)
	eq := 0
	for _, n := range ix.consumers[InputIDs] {
		if n.GetOpType() != "Equal" {
			continue
		}
		if x, ok := ix.intScalar(n.GetInput()[1]); ok && x == PadID {
			eq++
		}
	}
	wantCount(t, "Equal(input_ids, pad)", eq, 1)
}

// checkSDPA checks the structure of the sdpa preset.
func checkSDPA(t *testing.T, m *onnx.ModelProto, ix *index) {
	wantCount(t, "Where(mask, 0, -inf)", ix.scalarInputs("Where", math.Inf(-1)), nLayers)
}

// checkDynamo checks the structure of the dynamo preset.
func checkDynamo(t *testing.T, m *onnx.ModelProto, ix *index) {
	wantCount(t, "Constant", ix.ops["Constant"], 0)
	wantCount(t, "LayerNormalization", ix.ops["LayerNormalization"], 1+2*nLayers)
	wantCount(t, "Gelu", ix.ops["Gelu"], nLayers)
	wantCount(t, "Erf", ix.ops["Erf"], 0)
	wantCount(t, "GatherND", ix.ops["GatherND"], 1)
	wantCount(t, "Where(mask, 0, finfo.min)", ix.scalarInputs("Where", finfoMin), 1)
	wantCount(t, "opset", int(onnx.Opset(m)), 20)
	perm021, perm0231 := 0, 0
	for _, n := range ix.nodes("Transpose") {
		switch fmt.Sprint(onnx.AttrIntsOr(n, "perm", nil)) {
		case "[0 2 1]":
			perm021++
		case "[0 2 3 1]":
			perm0231++
		}
	}
	wantCount(t, "key Transposes [0,2,1] between Reshapes", perm021, nLayers)
	wantCount(t, "key Transposes [0,2,3,1]", perm0231, 0)
	allowzero := 0
	for _, n := range ix.nodes("Reshape") {
		if onnx.AttrIntOr(n, "allowzero", 0) == 1 {
			allowzero++
		}
	}
	wantCount(t, "head Reshapes with allowzero=1", allowzero, 4*nLayers)
	wantCount(t, "Shape(input_ids, start, end)", ix.ops["Shape"]-ix.opsWithout("Shape", "start"), 2)
	biasLast, residualLast := 0, 0
	for _, n := range ix.nodes("Add") {
		p0, p1 := ix.producer[n.GetInput()[0]], ix.producer[n.GetInput()[1]]
		if p0 != nil && p0.GetOpType() == "MatMul" && ix.inits[n.GetInput()[1]] != nil {
			biasLast++
		}
		if p0 != nil && p0.GetOpType() == "Add" && p1 != nil && p1.GetOpType() == "LayerNormalization" {
			residualLast++
		}
	}
	wantCount(t, "Add(MatMul, bias)", biasLast, 6*nLayers)
	wantCount(t, "Add(sublayer, residual)", residualLast, 2*nLayers)
}

// checkOptimum checks the structure of the optimum preset.
func checkOptimum(t *testing.T, m *onnx.ModelProto, ix *index) {
	wantCount(t, "LayerNormalization", ix.ops["LayerNormalization"], 1+2*nLayers)
	via1, _ := ix.weightsVia("LayerNormalization", 1, "Identity")
	wantCount(t, "LayerNormalization scales through Identity", via1, 2*nLayers)
	n := 0
	for _, s := range ix.nodes("Slice") {
		if p := ix.producer[s.GetInput()[0]]; p != nil && p.GetOpType() == "Shape" {
			c := ix.consumers[s.GetOutput()[0]]
			if len(c) == 1 && c[0].GetOpType() == "Cast" && ix.consumers[c[0].GetOutput()[0]][0].GetOpType() == "Sqrt" {
				n++
			}
		}
	}
	wantCount(t, "Sqrt(Cast(Slice(Shape(Q), -1)))", n, nLayers)
	wantCount(t, "Sqrt", ix.ops["Sqrt"], 3*nLayers)
	w := ix.nodes("Where")
	if len(w) != 1 || ix.producer[w[0].GetInput()[2]].GetOpType() != "Sub" {
		t.Errorf("want one Where(Cast(1-m), finfo.min, 1-m), have %d Where", len(w))
	}
	wantCount(t, "opset", int(onnx.Opset(m)), 18)
}

// checkIdentity checks the structure of the identity preset.
func checkIdentity(t *testing.T, m *onnx.ModelProto, ix *index) {
	through, direct := ix.weightsVia("MatMul", 1, "Identity")
	wantCount(t, "MatMul weights through Identity", through, 6*nLayers)
	wantCount(t, "MatMul weights direct", direct, 0)
	through, _ = ix.weightsVia("Gemm", 1, "Identity")
	wantCount(t, "head Gemm weights through Identity", through, 2)
}

// checkDistilbert checks the structure of the distilbert preset.
func checkDistilbert(t *testing.T, m *onnx.ModelProto, ix *index) {
	wantCount(t, "Relu", ix.ops["Relu"], 1)
	wantCount(t, "Tanh", ix.ops["Tanh"], 0)
	tables := 0
	for _, g := range ix.nodes("Gather") {
		if ix.inits[g.GetInput()[0]] != nil {
			tables++
		}
	}
	wantCount(t, "embedding tables (word and position, no token type)", tables, 2)
}

// checkRoberta checks the structure of the roberta preset.
func checkRoberta(t *testing.T, m *onnx.ModelProto, ix *index) {
	wantCount(t, "GatherElements", ix.ops["GatherElements"], 1)
	initByDims(t, m, 1, 16)
}

// checkElectra checks the structure of the electra preset.
func checkElectra(t *testing.T, m *onnx.ModelProto, ix *index) {
	initByDims(t, m, DefaultVocab, 8)
	if w := initByDims(t, m, 8, 16); ix.consumers[w.GetName()][0].GetOpType() != "MatMul" {
		t.Errorf("the [8, 16] projection does not feed a MatMul")
	}
	wantCount(t, "Erf", ix.ops["Erf"], nLayers+1)
	wantCount(t, "Tanh", ix.ops["Tanh"], 0)
}

// checkQA checks the structure of the qa preset.
func checkQA(t *testing.T, m *onnx.ModelProto, ix *index) {
	wantCount(t, "Split", ix.ops["Split"], 1)
	if got := outputShapes(m); !slices.Equal(got, []string{"start_logits [batch,seq]", "end_logits [batch,seq]"}) {
		t.Errorf("outputs %v", got)
	}
}

// checkRegression checks the structure of the regression preset.
func checkRegression(t *testing.T, m *onnx.ModelProto, ix *index) {
	if got := outputShapes(m); !slices.Equal(got, []string{"logits [batch,1]"}) {
		t.Errorf("outputs %v", got)
	}
}

// checkSentencePooled checks the structure of the sentence-pooled preset.
func checkSentencePooled(t *testing.T, m *onnx.ModelProto, ix *index) {
	if got := outputShapes(m); !slices.Equal(got, []string{"token_embeddings [batch,seq,16]", "sentence_embedding [batch,16]"}) {
		t.Errorf("outputs %v", got)
	}
	wantCount(t, "ReduceSum", ix.ops["ReduceSum"], 2)
	wantCount(t, "ReduceL2", ix.ops["ReduceL2"], 1)
	wantCount(t, "Clip", ix.ops["Clip"], 2)
	wantCount(t, "Clip(count, 1e-9)", ix.scalarInputs("Clip", 1e-9), 1)
	wantCount(t, "Clip(norm, 1e-12)", ix.scalarInputs("Clip", 1e-12), 1)
}

// checkMPNet checks the structure of the mpnet preset.
func checkMPNet(t *testing.T, m *onnx.ModelProto, ix *index) {
	wantCount(t, "Div(scores, sqrt(d_h))", ix.scalarInputs("Div", math.Sqrt(8)), nLayers)
	wantCount(t, "Log", ix.ops["Log"], 1)
	wantCount(t, "Abs", ix.ops["Abs"], 1)
	table := initByDims(t, m, RelBuckets, DefaultHeads)
	g := ix.consumers[table.GetName()][0]
	bias := ix.consumers[ix.consumers[ix.consumers[g.GetOutput()[0]][0].GetOutput()[0]][0].GetOutput()[0]][0]
	if bias.GetOpType() != "Expand" {
		t.Fatalf("the bias table reaches %s, want Gather, Transpose, Unsqueeze, Expand", bias.GetOpType())
	}
	n := 0
	for _, add := range ix.consumers[bias.GetOutput()[0]] {
		if p := ix.producer[add.GetInput()[0]]; add.GetOpType() == "Add" && p.GetOpType() == "Div" &&
			ix.consumers[add.GetOutput()[0]][0].GetOpType() == "Add" {
			n++
		}
	}
	wantCount(t, "Adds of the one bias to the scaled scores, before the mask", n, nLayers)
}

// checkViaTranspose checks the structure of the via-transpose option.
func checkViaTranspose(t *testing.T, m *onnx.ModelProto, ix *index) {
	through, direct := ix.weightsVia("Gemm", 1, "Transpose")
	wantCount(t, "Gemm weights through Transpose", through, 6*nLayers+2)
	wantCount(t, "Gemm weights direct", direct, 0)
	// Stored [in, out] for a Gemm with transB=1: the FFN's first weights are [16, 32].
	n := 0
	for _, w := range m.GetGraph().GetInitializer() {
		if slices.Equal(w.GetDims(), []int64{16, DefaultFFN}) {
			n++
		}
	}
	wantCount(t, "[16, 32] weights", n, nLayers)
}

// checkViaCast checks the structure of the via-cast option.
func checkViaCast(t *testing.T, m *onnx.ModelProto, ix *index) {
	through, _ := ix.weightsVia("MatMul", 1, "Cast")
	wantCount(t, "MatMul weights through Cast", through, 6*nLayers)
}

// checkEpsilonDecomposed checks the structure of the epsilon-decomposed option.
func checkEpsilonDecomposed(t *testing.T, m *onnx.ModelProto, ix *index) {
	wantCount(t, "Add(variance, 1e-5)", ix.scalarInputs("Add", float64(float32(1e-5))), 1+2*nLayers)
}

// checkEpsilonOp checks the structure of the epsilon-op option.
func checkEpsilonOp(t *testing.T, m *onnx.ModelProto, ix *index) {
	for _, n := range ix.nodes("LayerNormalization") {
		if e := onnx.AttrFloatOr(n, "epsilon", 0); e != float32(1e-7) {
			t.Errorf("LayerNormalization epsilon %g, want 1e-7", e)
		}
	}
}

// checkLNDecomposedOpset18 checks the structure of the ln-decomposed-opset18 option.
func checkLNDecomposedOpset18(t *testing.T, m *onnx.ModelProto, ix *index) {
	wantCount(t, "LayerNormalization", ix.ops["LayerNormalization"], 0)
	for _, n := range ix.nodes("ReduceMean") {
		if len(n.GetInput()) != 2 {
			t.Errorf("opset 18 ReduceMean %s takes %d inputs, want axes as an input", n.GetName(), len(n.GetInput()))
		}
	}
}

// checkExpand checks the structure of the expand option.
func checkExpand(t *testing.T, m *onnx.ModelProto, ix *index) {
	e := ix.nodes("Expand")
	if len(e) != 1 || ix.consumers[e[0].GetOutput()[0]][0].GetOpType() != "Cast" {
		t.Errorf("want the mask Expanded before its Cast")
	}
}

// TestPresetsRun runs every preset, in FLOAT and (but dynamo, whose Gelu kernel is float-only)
// DOUBLE, through onnxruntime: the outputs have the declared names and shapes, are finite, depend
// on the inputs, and do not change when padded tokens change.
func TestPresetsRun(t *testing.T) {
	const batch, seq = 5, 9
	type runCase struct {
		name  string
		dtype onnx.TensorProto_DataType
	}
	var cases []runCase
	for _, name := range PresetNames() {
		cases = append(cases, runCase{name, onnx.TensorProto_FLOAT})
		if name != "dynamo" {
			cases = append(cases, runCase{name, onnx.TensorProto_DOUBLE})
		}
	}
	for _, rc := range cases {
		name := rc.name
		t.Run(name+"/"+rc.dtype.String(), func(t *testing.T) {
			cfg, _ := Preset(name)
			cfg.Seed, cfg.DType = 9, rc.dtype
			c := mustNormalize(t, cfg)
			in := Inputs(cfg, batch, seq, 5)
			m, base := run(t, cfg, in)
			if got := outputShapes(m); len(got) != len(OutputNames(cfg)) {
				t.Fatalf("outputs %v, want %v", got, OutputNames(cfg))
			}
			for k, o := range base {
				if o.Name != OutputNames(cfg)[k] {
					t.Errorf("output %d is %q, want %q", k, o.Name, OutputNames(cfg)[k])
				}
				for _, x := range values(o) {
					if math.IsNaN(x) || math.IsInf(x, 0) {
						t.Fatalf("output %q has non-finite value %v", o.Name, x)
					}
				}
			}
			if d := maxDiff(values(base[0]), values(runModel(t, m, Inputs(cfg, batch, seq, 6))[0])); d < 1e-3 {
				t.Errorf("output %q hardly depends on the inputs (max diff %g)", base[0].Name, d)
			}
			mask := in[AttentionMask].I64
			changed := cloneInputs(in)
			for i, v := range mask {
				if v == 0 {
					changed[InputIDs].I64[i] = int64(2 + (i*37)%(DefaultVocab-2))
					if tt := changed[TokenTypeIDs]; tt != nil && c.TypeVocab > 1 {
						tt.I64[i] = 1
					}
				}
			}
			out := runModel(t, m, changed)
			for k, o := range base {
				a, b := values(o), values(out[k])
				perToken := len(o.Shape) >= 2 && o.Shape[1] == seq && (len(o.Shape) == 3 || o.Name != OutputLogits)
				for i := range a {
					if perToken {
						row := i / int(onnx.NumElements(o.Shape[1:]))
						pos := i / int(onnx.NumElements(o.Shape[2:])) % seq
						if mask[row*seq+pos] == 0 {
							continue
						}
					}
					if math.Abs(a[i]-b[i]) > 1e-6 {
						t.Fatalf("output %q moved by %g at %d when padded tokens changed", o.Name, math.Abs(a[i]-b[i]), i)
					}
				}
			}
		})
	}
}

// TestPresetNames checks that no tensor or node name of a preset model reveals the structure and
// that node names are unique (graph inputs and outputs keep their API names).
func TestPresetNames(t *testing.T) {
	bad := []string{"layer", "query", "key", "value", "attention", "dense", "ffn", "intermediate", "layernorm", "embed", "pool", "classifier", "bias", "weight"}
	for _, name := range PresetNames() {
		cfg, _ := Preset(name)
		m := mustBuild(t, cfg)
		api := map[string]bool{}
		for _, v := range append(m.GetGraph().GetOutput(), m.GetGraph().GetInput()...) {
			api[v.GetName()] = true
		}
		// Names derived from op types ("/LayerNormalization_123") name no role: the op type is
		// removed before the check.
		check := func(kind, s string, op string) {
			if api[s] {
				return
			}
			s = strings.ReplaceAll(s, op, "")
			for _, w := range bad {
				if strings.Contains(strings.ToLower(s), w) {
					t.Errorf("%s: %s name %q contains %q", name, kind, s, w)
				}
			}
		}
		seen := map[string]bool{}
		for _, n := range m.GetGraph().GetNode() {
			check("node", n.GetName(), n.GetOpType())
			if seen[n.GetName()] {
				t.Errorf("%s: node name %q is used twice", name, n.GetName())
			}
			seen[n.GetName()] = true
			for _, o := range n.GetOutput() {
				check("tensor", o, n.GetOpType())
			}
		}
		for _, in := range m.GetGraph().GetInitializer() {
			check("initializer", in.GetName(), "")
		}
	}
}
