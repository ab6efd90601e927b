package fused_test

import (
	"math/rand/v2"
	"testing"

	"github.com/kprune/kprune/graph/fused"
	"github.com/kprune/kprune/onnx"
	ort "github.com/kprune/kprune/runtime"
	"google.golang.org/protobuf/proto"
)

const (
	batch  = 3
	seq    = 5
	hidden = 8
	nHeads = 2
)

var f32 = onnx.TensorProto_FLOAT

// opCase is one hand-built graph with com.microsoft nodes and the inputs to run it on.
type opCase struct {
	name  string
	opset int64
	// build adds the graph to g and returns its inputs.
	build func(g *net, rng *rand.Rand) map[string]*ort.Tensor
	// unfused are the op types the report must list.
	unfused map[string]int
	// reference, when set, turns the fused model into the one onnxruntime runs as the reference
	// (for forms its CPU kernels do not run).
	reference func(m *onnx.ModelProto) *onnx.ModelProto
}

// attention builds x [batch, seq, hidden] -> Attention -> y with packed weights, the given extra
// inputs (bias name or "", mask or "") and attributes.
func attention(g *net, rng *rand.Rand, withBias bool, mask string, vWidth int64, attrs ...*onnx.AttributeProto) map[string]*ort.Tensor {
	x := g.in("x", f32, "batch", "seq", hidden)
	cols := 2*hidden + vWidth
	w := g.weight("qkv_weight", 0.5, hidden, cols)
	bias := ""
	if withBias {
		bias = g.weight("qkv_bias", 0.5, cols)
	}
	ins := []string{x, w, bias}
	if mask != "" {
		ins = append(ins, mask)
	}
	attrs = append(attrs, onnx.AttrInt("num_heads", nHeads))
	g.ms("Attention", "Attention_0", ins, []string{"y"}, attrs...)
	g.out("y", f32)
	return map[string]*ort.Tensor{"x": floats(rng, 1, batch, seq, hidden)}
}

var opCases = []opCase{
	{name: "Attention/no mask", opset: 17, unfused: map[string]int{"Attention": 1},
		build: func(g *net, rng *rand.Rand) map[string]*ort.Tensor {
			return attention(g, rng, true, "", hidden)
		}},
	{name: "Attention/2-D mask", opset: 17, unfused: map[string]int{"Attention": 1},
		build: func(g *net, rng *rand.Rand) map[string]*ort.Tensor {
			g.in("mask", onnx.TensorProto_INT64, "batch", "seq")
			in := attention(g, rng, true, g.toInt32("mask"), hidden)
			in["mask"] = paddingMask(seq, 5, 2, 3)
			return in
		}},
	{name: "Attention/2-D mask opset 12, filter -3.4e38", opset: 12, unfused: map[string]int{"Attention": 1},
		build: func(g *net, rng *rand.Rand) map[string]*ort.Tensor {
			g.in("mask", onnx.TensorProto_INT64, "batch", "seq")
			in := attention(g, rng, true, g.toInt32("mask"), hidden, onnx.AttrFloat("mask_filter_value", -3.4028235e38))
			in["mask"] = paddingMask(seq, 1, 5, 4)
			return in
		}},
	{name: "Attention/1-D lengths from ReduceSum (optimum)", opset: 18, unfused: map[string]int{"Attention": 1},
		build: func(g *net, rng *rand.Rand) map[string]*ort.Tensor {
			g.in("mask", onnx.TensorProto_INT64, "batch", "seq")
			m32 := g.toInt32("mask")
			g.inits = append(g.inits, onnx.NewInt64Tensor("axes", []int64{1}, []int64{1}))
			g.node("ReduceSum", []string{m32, "axes"}, []string{"lengths"}, onnx.AttrInt("keepdims", 0))
			in := attention(g, rng, true, "lengths", hidden)
			in["mask"] = paddingMask(seq, 3, 5, 1)
			return in
		}},
	{name: "Attention/1-D lengths of unknown size", opset: 17, unfused: map[string]int{"Attention": 1},
		build: func(g *net, rng *rand.Rand) map[string]*ort.Tensor {
			g.in("lengths", onnx.TensorProto_INT64, "n")
			in := attention(g, rng, true, g.toInt32("lengths"), hidden)
			in["lengths"] = ints([]int64{batch}, 2, 5, 4)
			return in
		}},
	{name: "Attention/1-D end and start positions (left padding)", opset: 17, unfused: map[string]int{"Attention": 1},
		build: func(g *net, rng *rand.Rand) map[string]*ort.Tensor {
			g.in("positions", onnx.TensorProto_INT64, "two_batch")
			in := attention(g, rng, true, g.toInt32("positions"), hidden)
			in["positions"] = ints([]int64{2 * batch}, 5, 5, 4, 2, 0, 1)
			return in
		}},
	{name: "Attention/3-D mask", opset: 13, unfused: map[string]int{"Attention": 1},
		build: func(g *net, rng *rand.Rand) map[string]*ort.Tensor {
			g.in("mask3", onnx.TensorProto_INT64, "batch", "seq", "seq")
			in := attention(g, rng, true, g.toInt32("mask3"), hidden)
			v := make([]int64, batch*seq*seq)
			for i := range v {
				if rng.IntN(3) > 0 || i%seq == 0 {
					v[i] = 1
				}
			}
			in["mask3"] = ints([]int64{batch, seq, seq}, v...)
			return in
		}},
	{name: "Attention/scale attribute, mask", opset: 17, unfused: map[string]int{"Attention": 1},
		build: func(g *net, rng *rand.Rand) map[string]*ort.Tensor {
			g.in("mask", onnx.TensorProto_INT64, "batch", "seq")
			in := attention(g, rng, true, g.toInt32("mask"), hidden, onnx.AttrFloat("scale", 0.3))
			in["mask"] = paddingMask(seq, 4, 4, 5)
			return in
		}},
	// onnxruntime 1.30's CPU Attention crashes without a bias: the reference gets a zero bias.
	{name: "Attention/no bias", opset: 17, unfused: map[string]int{"Attention": 1}, reference: zeroAttentionBias,
		build: func(g *net, rng *rand.Rand) map[string]*ort.Tensor {
			g.in("mask", onnx.TensorProto_INT64, "batch", "seq")
			in := attention(g, rng, false, g.toInt32("mask"), hidden)
			in["mask"] = paddingMask(seq, 4, 2, 5)
			return in
		}},
	{name: "Attention/qkv_hidden_sizes with narrower values", opset: 17, unfused: map[string]int{"Attention": 1},
		build: func(g *net, rng *rand.Rand) map[string]*ort.Tensor {
			return attention(g, rng, true, "", 4, onnx.AttrInts("qkv_hidden_sizes", hidden, hidden, 4))
		}},
	{name: "SkipLayerNormalization/bias", opset: 17, unfused: map[string]int{"SkipLayerNormalization": 1},
		build: func(g *net, rng *rand.Rand) map[string]*ort.Tensor { return skipLN(g, rng, true, true, false) }},
	{name: "SkipLayerNormalization/no bias, opset 14 (decomposed)", opset: 14, unfused: map[string]int{"SkipLayerNormalization": 1},
		build: func(g *net, rng *rand.Rand) map[string]*ort.Tensor { return skipLN(g, rng, false, true, false) }},
	{name: "SkipLayerNormalization/bias, sum output read", opset: 17, unfused: map[string]int{"SkipLayerNormalization": 1},
		build: func(g *net, rng *rand.Rand) map[string]*ort.Tensor { return skipLN(g, rng, true, true, true) }},
	{name: "SkipLayerNormalization/no beta, sum output read, opset 11", opset: 11, unfused: map[string]int{"SkipLayerNormalization": 1},
		build: func(g *net, rng *rand.Rand) map[string]*ort.Tensor { return skipLN(g, rng, true, false, true) }},
	{name: "SkipSimplifiedLayerNormalization/bias", opset: 17, unfused: map[string]int{"SkipSimplifiedLayerNormalization": 1},
		build: func(g *net, rng *rand.Rand) map[string]*ort.Tensor {
			x := g.in("x", f32, "batch", "seq", hidden)
			skip := g.in("skip", f32, "batch", "seq", hidden)
			g.ms("SkipSimplifiedLayerNormalization", "SkipSimplifiedLayerNorm", []string{x, skip, g.weight("gamma", 1, hidden), g.weight("bias", 1, hidden)},
				[]string{"y", "", "", "sum"}, onnx.AttrFloat("epsilon", 1e-6))
			g.out("y", f32)
			g.out("sum", f32)
			return map[string]*ort.Tensor{"x": floats(rng, 2, batch, seq, hidden), "skip": floats(rng, 2, batch, seq, hidden)}
		}},
	{name: "EmbedLayerNormalization/segments, mask, mask_index read", opset: 17, unfused: map[string]int{"EmbedLayerNormalization": 1},
		build: func(g *net, rng *rand.Rand) map[string]*ort.Tensor {
			g.in("ids", onnx.TensorProto_INT64, "batch", "seq")
			g.in("types", onnx.TensorProto_INT64, "batch", "seq")
			g.in("mask", onnx.TensorProto_INT64, "batch", "seq")
			g.ms("EmbedLayerNormalization", "EmbedLayerNorm", []string{g.toInt32("ids"), g.toInt32("types"),
				g.weight("word", 1, 30, hidden), g.weight("pos", 1, 16, hidden), g.weight("seg", 1, 2, hidden),
				g.weight("gamma", 1, hidden), g.weight("beta", 1, hidden), g.toInt32("mask")},
				[]string{"y", "mask_index"}, onnx.AttrFloat("epsilon", 1e-5))
			g.out("y", f32)
			g.out("mask_index", onnx.TensorProto_INT32)
			return map[string]*ort.Tensor{"ids": randIDs(rng, 30), "types": randIDs(rng, 2), "mask": paddingMask(seq, 5, 3, 1)}
		}},
	{name: "EmbedLayerNormalization/no segments, position_ids, sum read, no mask, opset 14", opset: 14, unfused: map[string]int{"EmbedLayerNormalization": 1},
		build: func(g *net, rng *rand.Rand) map[string]*ort.Tensor {
			g.in("ids", onnx.TensorProto_INT64, "batch", "seq")
			g.in("pos_ids", onnx.TensorProto_INT64, "batch", "seq")
			g.ms("EmbedLayerNormalization", "EmbedLayerNorm", []string{g.toInt32("ids"), "",
				g.weight("word", 1, 30, hidden), g.weight("pos", 1, 16, hidden), "",
				g.weight("gamma", 1, hidden), g.weight("beta", 1, hidden), "", g.toInt32("pos_ids")},
				[]string{"y", "mask_index", "sum"})
			g.out("y", f32)
			g.out("mask_index", onnx.TensorProto_INT32)
			g.out("sum", f32)
			return map[string]*ort.Tensor{"ids": randIDs(rng, 30), "pos_ids": randIDs(rng, 16)}
		}},
	{name: "EmbedLayerNormalization/default positions", opset: 18, unfused: map[string]int{"EmbedLayerNormalization": 1},
		build: func(g *net, rng *rand.Rand) map[string]*ort.Tensor {
			g.in("ids", onnx.TensorProto_INT64, "batch", "seq")
			g.in("types", onnx.TensorProto_INT64, "batch", "seq")
			g.ms("EmbedLayerNormalization", "EmbedLayerNorm", []string{g.toInt32("ids"), g.toInt32("types"),
				g.weight("word", 1, 30, hidden), g.weight("pos", 1, 16, hidden), g.weight("seg", 1, 2, hidden),
				g.weight("gamma", 1, hidden), g.weight("beta", 1, hidden)},
				[]string{"y", "unused_mask_index"})
			g.out("y", f32)
			return map[string]*ort.Tensor{"ids": randIDs(rng, 30), "types": randIDs(rng, 2)}
		}},
	{name: "LayerNormalization of onnxruntime below opset 17", opset: 14, unfused: map[string]int{"LayerNormalization": 1},
		build: func(g *net, rng *rand.Rand) map[string]*ort.Tensor {
			x := g.in("x", f32, "batch", "seq", hidden)
			g.node("LayerNormalization", []string{x, g.weight("gamma", 1, hidden), g.weight("beta", 1, hidden)}, []string{"y"}, onnx.AttrFloat("epsilon", 1e-12))
			g.out("y", f32)
			return map[string]*ort.Tensor{"x": floats(rng, 3, batch, seq, hidden)}
		}},
	{name: "SimplifiedLayerNormalization of onnxruntime", opset: 17, unfused: map[string]int{"SimplifiedLayerNormalization": 1},
		build: func(g *net, rng *rand.Rand) map[string]*ort.Tensor {
			x := g.in("x", f32, "batch", "seq", hidden)
			g.node("SimplifiedLayerNormalization", []string{x, g.weight("gamma", 1, hidden)}, []string{"y"}, onnx.AttrInt("axis", 2))
			g.out("y", f32)
			return map[string]*ort.Tensor{"x": floats(rng, 3, batch, seq, hidden)}
		}},
	{name: "BiasGelu", opset: 17, unfused: map[string]int{"BiasGelu": 1},
		build: func(g *net, rng *rand.Rand) map[string]*ort.Tensor {
			return unary(g, rng, "BiasGelu", g.weight("bias", 1, hidden))
		}},
	{name: "Gelu", opset: 17, unfused: map[string]int{"Gelu": 1},
		build: func(g *net, rng *rand.Rand) map[string]*ort.Tensor { return unary(g, rng, "Gelu") }},
	{name: "FastGelu/bias", opset: 17, unfused: map[string]int{"FastGelu": 1},
		build: func(g *net, rng *rand.Rand) map[string]*ort.Tensor {
			return unary(g, rng, "FastGelu", g.weight("bias", 1, hidden))
		}},
	{name: "FastGelu/no bias", opset: 13, unfused: map[string]int{"FastGelu": 1},
		build: func(g *net, rng *rand.Rand) map[string]*ort.Tensor { return unary(g, rng, "FastGelu") }},
	{name: "QuickGelu", opset: 17, unfused: map[string]int{"QuickGelu": 1},
		build: func(g *net, rng *rand.Rand) map[string]*ort.Tensor { return unary(g, rng, "QuickGelu") }},
	// onnxruntime has no CPU kernel for BiasAdd: the reference is the spec's X + bias + skip as Sum.
	{name: "BiasAdd", opset: 17, unfused: map[string]int{"BiasAdd": 1}, reference: biasAddAsSum,
		build: func(g *net, rng *rand.Rand) map[string]*ort.Tensor {
			x := g.in("x", f32, "batch", "seq", hidden)
			skip := g.in("skip", f32, "batch", "seq", hidden)
			g.ms("BiasAdd", "BiasAdd", []string{x, g.weight("bias", 1, hidden), skip}, []string{"y"})
			g.out("y", f32)
			return map[string]*ort.Tensor{"x": floats(rng, 2, batch, seq, hidden), "skip": floats(rng, 2, batch, seq, hidden)}
		}},
	{name: "FusedMatMul/weight, transB, alpha", opset: 17, unfused: map[string]int{"FusedMatMul": 1},
		build: func(g *net, rng *rand.Rand) map[string]*ort.Tensor {
			x := g.in("x", f32, "batch", "seq", hidden)
			g.ms("FusedMatMul", "FusedMatMul", []string{x, g.weight("w", 1, 6, hidden)}, []string{"y"},
				onnx.AttrInt("transB", 1), onnx.AttrFloat("alpha", 0.125))
			g.out("y", f32)
			return map[string]*ort.Tensor{"x": floats(rng, 1, batch, seq, hidden)}
		}},
	{name: "FusedMatMul/batched, transA and transB", opset: 17, unfused: map[string]int{"FusedMatMul": 1},
		build: func(g *net, rng *rand.Rand) map[string]*ort.Tensor {
			a := g.in("a", f32, "batch", 2, hidden, seq)
			bb := g.in("b", f32, "batch", 2, 6, hidden)
			g.ms("FusedMatMul", "FusedMatMul", []string{a, bb}, []string{"y"},
				onnx.AttrInt("transA", 1), onnx.AttrInt("transB", 1), onnx.AttrFloat("alpha", -1.5))
			g.out("y", f32)
			return map[string]*ort.Tensor{"a": floats(rng, 1, batch, 2, hidden, seq), "b": floats(rng, 1, batch, 2, 6, hidden)}
		}},
	{name: "FusedMatMul/batched, Q·K^T of attention heads", opset: 13, unfused: map[string]int{"FusedMatMul": 1},
		build: func(g *net, rng *rand.Rand) map[string]*ort.Tensor {
			q := g.in("q", f32, "batch", nHeads, "seq", 4)
			k := g.in("k", f32, "batch", nHeads, "seq", 4)
			g.ms("FusedMatMul", "FusedMatMul", []string{q, k}, []string{"y"}, onnx.AttrInt("transB", 1), onnx.AttrFloat("alpha", 0.5))
			g.out("y", f32)
			return map[string]*ort.Tensor{"q": floats(rng, 1, batch, nHeads, seq, 4), "k": floats(rng, 1, batch, nHeads, seq, 4)}
		}},
}

// zeroAttentionBias returns a copy of m whose Attention node reads a zero bias.
func zeroAttentionBias(m *onnx.ModelProto) *onnx.ModelProto {
	m = onnx.Clone(m)
	g := m.GetGraph()
	for _, n := range g.GetNode() {
		if n.GetOpType() == "Attention" {
			var w *onnx.TensorProto
			for _, t := range g.GetInitializer() {
				if t.GetName() == n.GetInput()[1] {
					w = t
				}
			}
			cols := w.GetDims()[1]
			g.Initializer = append(g.Initializer, onnx.NewFloatTensor("zero_bias", []int64{cols}, make([]float32, cols)))
			n.Input[2] = "zero_bias"
		}
	}
	return m
}

// biasAddAsSum returns a copy of m whose BiasAdd nodes are Sum nodes of the same inputs.
func biasAddAsSum(m *onnx.ModelProto) *onnx.ModelProto {
	m = onnx.Clone(m)
	for _, n := range m.GetGraph().GetNode() {
		if n.GetOpType() == "BiasAdd" {
			n.OpType, n.Domain = proto.String("Sum"), nil
		}
	}
	return m
}

// skipLN builds SkipLayerNormalization(x, skip, gamma, beta?, bias?) -> y (and its 4th output,
// read by a Mul and a graph output, when sum is set).
func skipLN(g *net, rng *rand.Rand, bias, beta, sum bool) map[string]*ort.Tensor {
	x := g.in("x", f32, "batch", "seq", hidden)
	skip := g.in("skip", f32, "batch", "seq", hidden)
	ins := []string{x, skip, g.weight("gamma", 1, hidden), "", ""}
	if beta {
		ins[3] = g.weight("beta", 1, hidden)
	}
	if bias {
		ins[4] = g.weight("bias", 1, hidden)
	}
	outs := []string{"y"}
	if sum {
		outs = []string{"y", "", "", "sum"}
		g.node("Mul", []string{"sum", "y"}, []string{"product"})
		g.out("sum", f32)
		g.out("product", f32)
	}
	g.ms("SkipLayerNormalization", "SkipLayerNorm", ins, outs, onnx.AttrFloat("epsilon", 1e-5))
	g.out("y", f32)
	return map[string]*ort.Tensor{"x": floats(rng, 2, batch, seq, hidden), "skip": floats(rng, 2, batch, seq, hidden)}
}

// unary builds op(x, extra...) -> y on x [batch, seq, hidden].
func unary(g *net, rng *rand.Rand, op string, extra ...string) map[string]*ort.Tensor {
	x := g.in("x", f32, "batch", "seq", hidden)
	g.ms(op, op, append([]string{x}, extra...), []string{"y"})
	g.out("y", f32)
	return map[string]*ort.Tensor{"x": floats(rng, 4, batch, seq, hidden)}
}

// randIDs returns random ids in [0, n) of shape [batch, seq].
func randIDs(rng *rand.Rand, n int) *ort.Tensor {
	v := make([]int64, batch*seq)
	for i := range v {
		v[i] = int64(rng.IntN(n))
	}
	return ints([]int64{batch, seq}, v...)
}

// TestOpsMatchOnnxruntime unfuses one hand-built graph per op and form, and checks that the
// standard ops compute what onnxruntime's contrib kernels compute, within tol.
func TestOpsMatchOnnxruntime(t *testing.T) {
	for i, c := range opCases {
		t.Run(c.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(i), 1))
			g := newNet(uint64(i) + 100)
			in := c.build(g, rng)
			m := g.model(c.opset)
			before := encode(t, m)
			u, rep, err := fused.Unfuse(m)
			if err != nil {
				t.Fatalf("Unfuse: %v", err)
			}
			unchanged(t, m, before)
			checkStandard(t, u, c.opset)
			for op, n := range c.unfused {
				if rep.Unfused[op] != n {
					t.Errorf("report %v: want %s×%d", rep, op, n)
				}
			}
			ref := m
			if c.reference != nil {
				ref = c.reference(m)
			}
			d := compare(t, ref, u, in)
			t.Logf("max abs difference %.3g (%s)", d, rep)
		})
	}
}

// checkStandard fails when u still has com.microsoft nodes or imports, or a default opset other
// than want.
func checkStandard(t testing.TB, u *onnx.ModelProto, want int64) {
	t.Helper()
	if c := fused.Count(u); len(c) > 0 {
		t.Errorf("unfused model still has com.microsoft ops %v", c)
	}
	for _, o := range u.GetOpsetImport() {
		if o.GetDomain() == fused.Domain {
			t.Errorf("unfused model still imports %s", fused.Domain)
		}
	}
	if got := onnx.Opset(u); got != want {
		t.Errorf("default opset %d, want %d", got, want)
	}
	for _, n := range u.GetGraph().GetNode() {
		if op := n.GetOpType(); op == "SimplifiedLayerNormalization" || (op == "LayerNormalization" && want < 17) {
			t.Errorf("unfused model still has onnxruntime's %s at opset %d", op, want)
		}
	}
}

func encode(t testing.TB, m *onnx.ModelProto) []byte {
	t.Helper()
	b, err := onnx.Encode(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// unchanged fails when m no longer encodes to before.
func unchanged(t testing.TB, m *onnx.ModelProto, before []byte) {
	t.Helper()
	if string(encode(t, m)) != string(before) {
		t.Error("Unfuse modified its input model")
	}
}
