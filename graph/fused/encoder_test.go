package fused_test

import (
	"math/rand/v2"
	"testing"

	"github.com/kprune/kprune/graph"
	"github.com/kprune/kprune/graph/fused"
	"github.com/kprune/kprune/onnx"
)

// fusedEncoder builds a 2-layer BERT encoder the way onnxruntime's transformers optimizer writes
// it: EmbedLayerNormalization (whose mask_index feeds every Attention), then per layer Attention,
// the output projection MatMul, SkipLayerNormalization with the projection's bias, MatMul,
// BiasGelu or FastGelu (gelu, with the bias), MatMul and SkipLayerNormalization; a Gemm classifier
// on the first token.
func fusedEncoder(g *net, opset int64, gelu string) *onnx.ModelProto {
	const vocab, ffn = 40, 16
	ids := g.toInt32(g.in("input_ids", onnx.TensorProto_INT64, "batch", "seq"))
	types := g.toInt32(g.in("token_type_ids", onnx.TensorProto_INT64, "batch", "seq"))
	mask := g.toInt32(g.in("attention_mask", onnx.TensorProto_INT64, "batch", "seq"))
	g.ms("EmbedLayerNormalization", "EmbedLayerNorm_0", []string{ids, types, g.weight("word", 1, vocab, hidden), g.weight("pos", 1, 16, hidden),
		g.weight("seg", 1, 2, hidden), g.weight("emb_gamma", 1, hidden), g.weight("emb_beta", 0.2, hidden), mask}, []string{"emb", "mask_index"})
	x := "emb"
	for l := range 2 {
		p := func(s string) string { return s + "_" + string(rune('0'+l)) }
		g.ms("Attention", p("Attention"), []string{x, g.weight(p("qkv_w"), 0.5, hidden, 3*hidden), g.weight(p("qkv_b"), 0.2, 3*hidden), "mask_index"},
			[]string{p("ctx")}, onnx.AttrInt("num_heads", nHeads))
		g.node("MatMul", []string{p("ctx"), g.weight(p("o_w"), 0.5, hidden, hidden)}, []string{p("o")})
		g.ms("SkipLayerNormalization", p("SkipLayerNorm_a"), []string{p("o"), x, g.weight(p("ln1_g"), 1, hidden), g.weight(p("ln1_b"), 0.2, hidden),
			g.weight(p("o_b"), 0.2, hidden)}, []string{p("h")}, onnx.AttrFloat("epsilon", 1e-12))
		g.node("MatMul", []string{p("h"), g.weight(p("w1"), 0.5, hidden, ffn)}, []string{p("f1")})
		g.ms(gelu, p(gelu), []string{p("f1"), g.weight(p("b1"), 0.2, ffn)}, []string{p("act")})
		g.node("MatMul", []string{p("act"), g.weight(p("w2"), 0.5, ffn, hidden)}, []string{p("f2")})
		g.ms("SkipLayerNormalization", p("SkipLayerNorm_b"), []string{p("f2"), p("h"), g.weight(p("ln2_g"), 1, hidden), g.weight(p("ln2_b"), 0.2, hidden),
			g.weight(p("b2"), 0.2, hidden)}, []string{p("out")}, onnx.AttrFloat("epsilon", 1e-12))
		x = p("out")
	}
	g.inits = append(g.inits, onnx.NewInt64Tensor("zero", nil, []int64{0}))
	g.node("Gather", []string{x, "zero"}, []string{"cls"}, onnx.AttrInt("axis", 1))
	g.node("Gemm", []string{"cls", g.weight("cls_w", 1, 2, hidden), g.weight("cls_b", 1, 2)}, []string{"logits"}, onnx.AttrInt("transB", 1))
	g.out("logits", f32)
	g.out(x, f32)
	return g.model(opset)
}

// TestFusedEncoder unfuses a hand-built fused BERT at opsets 14 and 17 (erf and tanh GELU), checks its outputs against
// onnxruntime on padded batches, that the mask is built once for both layers, and that package
// graph discovers the encoder in the result.
func TestFusedEncoder(t *testing.T) {
	for _, c := range []struct {
		opset      int64
		gelu, kind string
	}{{14, "BiasGelu", "gelu_erf"}, {17, "BiasGelu", "gelu_erf"}, {17, "FastGelu", "gelu_tanh"}} {
		opset := c.opset
		m := fusedEncoder(newNet(uint64(opset)), opset, c.gelu)
		u, rep, err := fused.Unfuse(m)
		if err != nil {
			t.Fatalf("opset %d: Unfuse: %v", opset, err)
		}
		checkStandard(t, u, opset)
		want := map[string]int{"EmbedLayerNormalization": 1, "Attention": 2, "SkipLayerNormalization": 4, c.gelu: 2}
		for op, n := range want {
			if rep.Unfused[op] != n {
				t.Errorf("opset %d: report %v, want %s×%d", opset, rep, op, n)
			}
		}
		ranges := 0
		for _, n := range u.GetGraph().GetNode() {
			if n.GetOpType() == "Range" {
				ranges++
			}
		}
		if ranges != 2 { // the embedding's positions and the one attention mask
			t.Errorf("opset %d: %d Range nodes, want 2 (the attention mask shared by both layers)", opset, ranges)
		}
		rng := rand.New(rand.NewPCG(uint64(opset), 3))
		worst := 0.0
		for _, lens := range [][]int{{6, 2, 4}, {3}, {1, 7}} {
			in := bertBatch(rng, lens...)
			for _, name := range []string{"input_ids"} {
				for i, v := range in[name].I64 {
					in[name].I64[i] = v % 40
				}
			}
			worst = max(worst, compare(t, m, u, in))
		}
		t.Logf("opset %d: %s; max abs difference %.3g", opset, rep, worst)

		enc, err := graph.Discover(u)
		if err != nil {
			t.Fatalf("opset %d: Discover on the unfused model: %v", opset, err)
		}
		if len(enc.Layers) != 2 {
			t.Fatalf("opset %d: discovered %d layers, want 2", opset, len(enc.Layers))
		}
		for i, l := range enc.Layers {
			if l.MHA == nil || l.MHA.Heads != nHeads || l.FFN == nil || l.FFN.Width != 16 || l.FFN.Activation != c.kind {
				t.Errorf("opset %d: layer %d discovered as %+v / %+v", opset, i, l.MHA, l.FFN)
			}
		}
		if enc.InputIDs != "input_ids" || enc.TokenTypeIDs != "token_type_ids" || enc.AttentionMask != "attention_mask" {
			t.Errorf("opset %d: discovered inputs ids=%q types=%q mask=%q", opset, enc.InputIDs, enc.TokenTypeIDs, enc.AttentionMask)
		}
	}
}

// TestAddsDefaultOpset checks that a graph made only of com.microsoft nodes gets a default-domain
// opset import for its replacement.
func TestAddsDefaultOpset(t *testing.T) {
	g := newNet(3)
	in := unary(g, rand.New(rand.NewPCG(1, 1)), "Gelu")
	m := g.model(17)
	m.OpsetImport = m.OpsetImport[1:] // com.microsoft only
	u, _, err := fused.Unfuse(m)
	if err != nil {
		t.Fatal(err)
	}
	checkStandard(t, u, 17)
	ref := g.model(17) // onnxruntime wants a default import to run the fused model too
	d := compare(t, ref, u, in)
	t.Logf("max abs difference %.3g", d)
}
