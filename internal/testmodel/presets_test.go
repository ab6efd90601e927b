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
	const L = DefaultLayers
	rsqrt8 := 1 / math.Sqrt(8)
	finfoMin := -math.MaxFloat32
	type check func(t *testing.T, m *onnx.ModelProto, ix *index)
	want := func(t *testing.T, what string, got, n int) {
		t.Helper()
		if got != n {
			t.Errorf("%d %s, want %d", got, what, n)
		}
	}
	// legacy checks the legacy exporter's parameter aliases, mask and LayerNorm; whereMin is
	// the number of Where(mask, 0, finfo.min) nodes.
	legacy := func(whereMin int) check {
		return func(t *testing.T, m *onnx.ModelProto, ix *index) {
			nodes := m.GetGraph().GetNode()
			k := 0
			for k < len(nodes) && nodes[k].GetOpType() == "Identity" {
				if ix.inits[nodes[k].GetInput()[0]] == nil {
					t.Errorf("Identity %s does not alias an initializer", nodes[k].GetName())
				}
				k++
			}
			want(t, "Identity nodes in all", ix.ops["Identity"], k)
			viaAdd, _ := ix.weightsVia("Add", 0, "Identity") // linear biases
			viaMul, _ := ix.weightsVia("Mul", 1, "Identity") // LayerNorm scales
			viaAdd1, _ := ix.weightsVia("Add", 1, "Identity")
			want(t, "linear biases through Identity", viaAdd, 6*L)
			want(t, "LayerNorm scales through Identity (not the embedding LayerNorm's)", viaMul, 2*L)
			want(t, "LayerNorm shifts through Identity", viaAdd1, 2*L)
			if _, direct := ix.weightsVia("MatMul", 1, "Identity"); direct != 6*L {
				t.Errorf("%d MatMul weights are direct initializers, want %d", direct, 6*L)
			}
			want(t, "Where(mask, 0, finfo.min)", ix.scalarInputs("Where", finfoMin), whereMin)
			want(t, "Expand", ix.ops["Expand"], 1)
			want(t, "Constant", min(ix.ops["Constant"], 1), 1)
			want(t, "decomposed LayerNorm ReduceMeans", ix.ops["ReduceMean"], 2*(1+2*L))
		}
	}
	scaleMul := func(t *testing.T, m *onnx.ModelProto, ix *index) {
		want(t, "Mul(scores, 1/sqrt(d_h))", ix.scalarInputs("Mul", rsqrt8), L)
		want(t, "Div(scores, sqrt(d_h))", ix.scalarInputs("Div", math.Sqrt(8)), 0)
	}
	splitScale := func(t *testing.T, m *onnx.ModelProto, ix *index) {
		n := 0
		for _, mul := range ix.nodes("Mul") {
			if _, ok := ix.scalar(mul.GetInput()[1]); !ok {
				continue
			}
			if x, _ := ix.scalar(mul.GetInput()[1]); math.Abs(x-math.Pow(8, -0.25)) < 1e-6 && ix.consumers[mul.GetOutput()[0]][0].GetOpType() == "MatMul" {
				n++
			}
		}
		want(t, "Mul(Q or K^T, d_h^-1/4) feeding a MatMul", n, 2*L)
	}
	nanGuard := func(t *testing.T, m *onnx.ModelProto, ix *index) {
		want(t, "IsNaN", ix.ops["IsNaN"], L)
		for _, n := range ix.nodes("IsNaN") {
			if p := ix.producer[n.GetInput()[0]]; p == nil || p.GetOpType() != "Softmax" {
				t.Errorf("IsNaN %s does not guard a Softmax", n.GetName())
			}
		}
	}
	all := func(cs ...check) check {
		return func(t *testing.T, m *onnx.ModelProto, ix *index) {
			for _, c := range cs {
				c(t, m, ix)
			}
		}
	}
	tokenFree := func(t *testing.T, m *onnx.ModelProto, ix *index) {
		if got := inputNames(m); !slices.Equal(got, []string{InputIDs, AttentionMask}) {
			t.Errorf("inputs %v, want input_ids and attention_mask", got)
		}
	}
	robertaPos := func(t *testing.T, m *onnx.ModelProto, ix *index) {
		want(t, "CumSum", ix.ops["CumSum"], 1)
		eq := 0
		for _, n := range ix.consumers[InputIDs] {
			if n.GetOpType() != "Equal" {
				continue
			}
			if x, ok := ix.intScalar(n.GetInput()[1]); ok && x == PadID {
				eq++
			}
		}
		want(t, "Equal(input_ids, pad)", eq, 1)
	}
	cases := []struct {
		name  string
		cfg   Config
		check check
	}{
		{"legacy-bert", Config{}, all(legacy(1), scaleMul)},
		{"sdpa", Config{}, all(legacy(0), splitScale, nanGuard, func(t *testing.T, m *onnx.ModelProto, ix *index) {
			want(t, "Where(mask, 0, -inf)", ix.scalarInputs("Where", math.Inf(-1)), L)
		})},
		{"dynamo", Config{}, all(splitScale, nanGuard, func(t *testing.T, m *onnx.ModelProto, ix *index) {
			want(t, "Constant", ix.ops["Constant"], 0)
			want(t, "LayerNormalization", ix.ops["LayerNormalization"], 1+2*L)
			want(t, "Gelu", ix.ops["Gelu"], L)
			want(t, "Erf", ix.ops["Erf"], 0)
			want(t, "GatherND", ix.ops["GatherND"], 1)
			want(t, "Where(mask, 0, finfo.min)", ix.scalarInputs("Where", finfoMin), 1)
			want(t, "opset", int(onnx.Opset(m)), 20)
			perm021, perm0231 := 0, 0
			for _, n := range ix.nodes("Transpose") {
				switch fmt.Sprint(onnx.AttrIntsOr(n, "perm", nil)) {
				case "[0 2 1]":
					perm021++
				case "[0 2 3 1]":
					perm0231++
				}
			}
			want(t, "key Transposes [0,2,1] between Reshapes", perm021, L)
			want(t, "key Transposes [0,2,3,1]", perm0231, 0)
			allowzero := 0
			for _, n := range ix.nodes("Reshape") {
				if onnx.AttrIntOr(n, "allowzero", 0) == 1 {
					allowzero++
				}
			}
			want(t, "head Reshapes with allowzero=1", allowzero, 4*L)
			want(t, "Shape(input_ids, start, end)", ix.ops["Shape"]-ix.opsWithout("Shape", "start"), 2)
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
			want(t, "Add(MatMul, bias)", biasLast, 6*L)
			want(t, "Add(sublayer, residual)", residualLast, 2*L)
		})},
		{"optimum", Config{}, func(t *testing.T, m *onnx.ModelProto, ix *index) {
			want(t, "LayerNormalization", ix.ops["LayerNormalization"], 1+2*L)
			via1, _ := ix.weightsVia("LayerNormalization", 1, "Identity")
			want(t, "LayerNormalization scales through Identity", via1, 2*L)
			n := 0
			for _, s := range ix.nodes("Slice") {
				if p := ix.producer[s.GetInput()[0]]; p != nil && p.GetOpType() == "Shape" {
					c := ix.consumers[s.GetOutput()[0]]
					if len(c) == 1 && c[0].GetOpType() == "Cast" && ix.consumers[c[0].GetOutput()[0]][0].GetOpType() == "Sqrt" {
						n++
					}
				}
			}
			want(t, "Sqrt(Cast(Slice(Shape(Q), -1)))", n, L)
			want(t, "Sqrt", ix.ops["Sqrt"], 3*L)
			w := ix.nodes("Where")
			if len(w) != 1 || ix.producer[w[0].GetInput()[2]].GetOpType() != "Sub" {
				t.Errorf("want one Where(Cast(1-m), finfo.min, 1-m), have %d Where", len(w))
			}
			want(t, "opset", int(onnx.Opset(m)), 18)
		}},
		{"identity", Config{}, func(t *testing.T, m *onnx.ModelProto, ix *index) {
			through, direct := ix.weightsVia("MatMul", 1, "Identity")
			want(t, "MatMul weights through Identity", through, 6*L)
			want(t, "MatMul weights direct", direct, 0)
			through, _ = ix.weightsVia("Gemm", 1, "Identity")
			want(t, "head Gemm weights through Identity", through, 2)
		}},
		{"distilbert", Config{}, all(tokenFree, func(t *testing.T, m *onnx.ModelProto, ix *index) {
			want(t, "Relu", ix.ops["Relu"], 1)
			want(t, "Tanh", ix.ops["Tanh"], 0)
			tables := 0
			for _, g := range ix.nodes("Gather") {
				if ix.inits[g.GetInput()[0]] != nil {
					tables++
				}
			}
			want(t, "embedding tables (word and position, no token type)", tables, 2)
		})},
		{"roberta", Config{}, all(tokenFree, robertaPos, func(t *testing.T, m *onnx.ModelProto, ix *index) {
			want(t, "GatherElements", ix.ops["GatherElements"], 1)
			initByDims(t, m, 1, 16)
		})},
		{"xlmr", Config{}, all(tokenFree, robertaPos)},
		{"electra", Config{}, func(t *testing.T, m *onnx.ModelProto, ix *index) {
			initByDims(t, m, DefaultVocab, 8)
			if w := initByDims(t, m, 8, 16); ix.consumers[w.GetName()][0].GetOpType() != "MatMul" {
				t.Errorf("the [8, 16] projection does not feed a MatMul")
			}
			want(t, "Erf", ix.ops["Erf"], L+1)
			want(t, "Tanh", ix.ops["Tanh"], 0)
		}},
		{"qa", Config{}, func(t *testing.T, m *onnx.ModelProto, ix *index) {
			want(t, "Split", ix.ops["Split"], 1)
			if got := outputShapes(m); !slices.Equal(got, []string{"start_logits [batch,seq]", "end_logits [batch,seq]"}) {
				t.Errorf("outputs %v", got)
			}
		}},
		{"regression", Config{}, func(t *testing.T, m *onnx.ModelProto, ix *index) {
			if got := outputShapes(m); !slices.Equal(got, []string{"logits [batch,1]"}) {
				t.Errorf("outputs %v", got)
			}
		}},
		{"sentence-pooled", Config{}, func(t *testing.T, m *onnx.ModelProto, ix *index) {
			if got := outputShapes(m); !slices.Equal(got, []string{"token_embeddings [batch,seq,16]", "sentence_embedding [batch,16]"}) {
				t.Errorf("outputs %v", got)
			}
			want(t, "ReduceSum", ix.ops["ReduceSum"], 2)
			want(t, "ReduceL2", ix.ops["ReduceL2"], 1)
			want(t, "Clip", ix.ops["Clip"], 2)
			want(t, "Clip(count, 1e-9)", ix.scalarInputs("Clip", 1e-9), 1)
			want(t, "Clip(norm, 1e-12)", ix.scalarInputs("Clip", 1e-12), 1)
		}},
		{"mpnet", Config{}, all(tokenFree, robertaPos, func(t *testing.T, m *onnx.ModelProto, ix *index) {
			want(t, "Div(scores, sqrt(d_h))", ix.scalarInputs("Div", math.Sqrt(8)), L)
			want(t, "Log", ix.ops["Log"], 1)
			want(t, "Abs", ix.ops["Abs"], 1)
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
			want(t, "Adds of the one bias to the scaled scores, before the mask", n, L)
		})},
		{"option:via-transpose", Config{WeightVia: ViaTranspose, Gemm: true}, func(t *testing.T, m *onnx.ModelProto, ix *index) {
			through, direct := ix.weightsVia("Gemm", 1, "Transpose")
			want(t, "Gemm weights through Transpose", through, 6*L+2)
			want(t, "Gemm weights direct", direct, 0)
			// Stored [in, out] for a Gemm with transB=1: the FFN's first weights are [16, 32].
			n := 0
			for _, w := range m.GetGraph().GetInitializer() {
				if slices.Equal(w.GetDims(), []int64{16, DefaultFFN}) {
					n++
				}
			}
			want(t, "[16, 32] weights", n, L)
		}},
		{"option:via-cast", Config{WeightVia: ViaCast}, func(t *testing.T, m *onnx.ModelProto, ix *index) {
			through, _ := ix.weightsVia("MatMul", 1, "Cast")
			want(t, "MatMul weights through Cast", through, 6*L)
		}},
		{"option:epsilon-decomposed", Config{Epsilon: 1e-5}, func(t *testing.T, m *onnx.ModelProto, ix *index) {
			want(t, "Add(variance, 1e-5)", ix.scalarInputs("Add", float64(float32(1e-5))), 1+2*L)
		}},
		{"option:epsilon-op", Config{Epsilon: 1e-7, Opset: 17}, func(t *testing.T, m *onnx.ModelProto, ix *index) {
			for _, n := range ix.nodes("LayerNormalization") {
				if e := onnx.AttrFloatOr(n, "epsilon", 0); e != float32(1e-7) {
					t.Errorf("LayerNormalization epsilon %g, want 1e-7", e)
				}
			}
		}},
		{"option:ln-decomposed-opset18", Config{LayerNorm: LNDecomposed, Opset: 18}, func(t *testing.T, m *onnx.ModelProto, ix *index) {
			want(t, "LayerNormalization", ix.ops["LayerNormalization"], 0)
			for _, n := range ix.nodes("ReduceMean") {
				if len(n.GetInput()) != 2 {
					t.Errorf("opset 18 ReduceMean %s takes %d inputs, want axes as an input", n.GetName(), len(n.GetInput()))
				}
			}
		}},
		{"option:expand", Config{MaskExpand: ExpandShape}, func(t *testing.T, m *onnx.ModelProto, ix *index) {
			e := ix.nodes("Expand")
			if len(e) != 1 || ix.consumers[e[0].GetOutput()[0]][0].GetOpType() != "Cast" {
				t.Errorf("want the mask Expanded before its Cast")
			}
		}},
	}
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
		if !slices.ContainsFunc(cases, func(c struct {
			name  string
			cfg   Config
			check check
		}) bool {
			return c.name == name
		}) {
			t.Errorf("preset %s has no structure check", name)
		}
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
