package graph_test

import (
	"strings"
	"testing"

	"github.com/kprune/kprune/graph"
	"github.com/kprune/kprune/graph/fused"
	"github.com/kprune/kprune/internal/testmodel"
	"github.com/kprune/kprune/internal/testutil"
	"github.com/kprune/kprune/onnx"
	ort "github.com/kprune/kprune/runtime"
)

// exportInputs returns random inputs for the model inputs discovery named (token_type_ids only
// when the model has them), with token ids below the vocabulary of the word-embedding table.
func exportInputs(t testing.TB, m *onnx.ModelProto, enc *graph.Encoder, batch, seq int, seed uint64) map[string]*ort.Tensor {
	t.Helper()
	ix := graph.NewIndex(m.GetGraph())
	vocab := 0
	for _, n := range ix.Consumers(enc.InputIDs) {
		if n.GetOpType() == "Gather" {
			if w := ix.Initializer(n.GetInput()[0]); w != nil && len(w.GetDims()) == 2 {
				vocab = int(w.GetDims()[0])
			}
		}
	}
	if vocab == 0 {
		t.Fatalf("no word-embedding Gather reads %q", enc.InputIDs)
	}
	in := testmodel.Inputs(testmodel.Config{Vocab: vocab, TypeVocab: 2}, batch, seq, seed)
	out := map[string]*ort.Tensor{enc.InputIDs: in[testmodel.InputIDs]}
	if enc.AttentionMask != "" {
		out[enc.AttentionMask] = in[testmodel.AttentionMask]
	}
	if enc.TokenTypeIDs != "" {
		out[enc.TokenTypeIDs] = in[testmodel.TokenTypeIDs]
	}
	return out
}

// TestExportFixtures discovers every exporter/family fixture of ../shared/models/exports,
// compares the structure with its meta.json, and checks every rewrite against onnxruntime:
// all-ones masks change nothing, the physically pruned graph equals the masked original,
// removing sublayers equals zero masks, a cut graph reproduces the hidden states, and replacing
// an output projection equals the original when given the same weights.
func TestExportFixtures(t *testing.T) {
	for _, x := range testutil.Exports(t) {
		t.Run(x.Name, func(t *testing.T) {
			m, err := onnx.Load(x.Path)
			if err != nil {
				t.Fatal(err)
			}
			// onnxruntime-optimised exports (optimum O2) are pruned in their standard form.
			m, _, err = fused.Unfuse(m)
			if err != nil {
				t.Fatal(err)
			}
			enc, err := graph.Discover(m)
			if x.Family == "deberta-v2" {
				if err == nil || !strings.Contains(err.Error(), "DeBERTa") {
					t.Fatalf("DeBERTa: want a refusal naming DeBERTa, got %v", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Discover: %v", err)
			}
			if len(enc.Layers) != x.Layers || enc.HeadDim != x.HeadDim || enc.Hidden != x.Hidden || string(enc.Head) != x.HeadKind {
				t.Fatalf("found %d layers, head dim %d, hidden %d, head %q; meta.json says %d, %d, %d, %q",
					len(enc.Layers), enc.HeadDim, enc.Hidden, enc.Head, x.Layers, x.HeadDim, x.Hidden, x.HeadKind)
			}
			for l, L := range enc.Layers {
				if L.MHA == nil || L.FFN == nil || L.MHA.Heads != x.Heads || L.FFN.Width != x.FFN {
					t.Fatalf("layer %d: %+v; want %d heads and FFN %d", l, L, x.Heads, x.FFN)
				}
			}
			in := exportInputs(t, m, enc, 3, 12, 1)
			t.Run("masks-ones", func(t *testing.T) { checkMasksOnes(t, m, enc, in, 3) })
			t.Run("prune-vs-masks", func(t *testing.T) { checkPruneEqualsMasks(t, m, enc, in, 5) })
			t.Run("remove-sublayers", func(t *testing.T) { checkRemoveSublayers(t, m, enc, in) })
			t.Run("cut", func(t *testing.T) { checkCut(t, m, enc, in, allSublayers(enc)) })
			t.Run("replace-output-weight", func(t *testing.T) { checkReplaceOutputWeight(t, m, enc, in) })
		})
	}
}

// TestExtraOutputs: a classifier that also outputs its last hidden state keeps both outputs; the
// logits are the head output (first), the hidden state follows, and rewrites still match masks.
func TestExtraOutputs(t *testing.T) {
	m, err := testmodel.Build(testmodel.Config{NumLabels: 3})
	if err != nil {
		t.Fatal(err)
	}
	enc := discover(t, m)
	hidden := enc.SublayerOutput(enc.NumSublayers() - 1)
	both := graph.AddOutputs(m, hidden)
	e2 := discover(t, both)
	if e2.Head != graph.HeadClassification || len(e2.Outputs) != 2 || e2.Outputs[0] != enc.Outputs[0] || e2.Outputs[1] != hidden || e2.NumLabels != 3 {
		t.Fatalf("head %s, outputs %v, labels %d; want classification, [%s %s], 3", e2.Head, e2.Outputs, e2.NumLabels, enc.Outputs[0], hidden)
	}
	in := exportInputs(t, both, e2, 2, 9, 3)
	checkPruneEqualsMasks(t, both, e2, in, 4)
}

// TestGeneratedPresets runs discovery and every rewrite on the generator's presets, which spell
// the encoder the way each exporter does (Identity aliases, split or shape-computed scaling,
// Where masks with IsNaN guards, LayerNormalization and Gelu ops, constants as initializers,
// RoBERTa positions, MPNet's relative position bias, ELECTRA's projection, pooled outputs...),
// so the suite covers them without ../shared.
func TestGeneratedPresets(t *testing.T) {
	for _, name := range testmodel.PresetNames() {
		t.Run(name, func(t *testing.T) {
			cfg, err := testmodel.Preset(name)
			if err != nil {
				t.Fatal(err)
			}
			m, err := testmodel.Build(cfg)
			if err != nil {
				t.Fatal(err)
			}
			c, err := cfg.Normalize()
			if err != nil {
				t.Fatal(err)
			}
			enc := discover(t, m)
			if len(enc.Layers) != c.Layers || enc.HeadDim != c.HeadDim {
				t.Fatalf("found %d layers of head dim %d, built %d of %d", len(enc.Layers), enc.HeadDim, c.Layers, c.HeadDim)
			}
			for l, L := range enc.Layers {
				if L.MHA == nil || L.MHA.Heads != c.Heads || L.FFN == nil || L.FFN.Width != c.FFN {
					t.Fatalf("layer %d: found %+v, built %d heads and FFN %d", l, L, c.Heads, c.FFN)
				}
			}
			want := c.Head
			if c.Pooling {
				want = graph.HeadEmbedding
			}
			if enc.Head != want {
				t.Fatalf("head %q, built %q", enc.Head, want)
			}
			in := testmodel.Inputs(c, 3, 11, 2)
			t.Run("masks-ones", func(t *testing.T) { checkMasksOnes(t, m, enc, in, 3) })
			t.Run("prune-vs-masks", func(t *testing.T) { checkPruneEqualsMasks(t, m, enc, in, 6) })
			t.Run("remove-sublayers", func(t *testing.T) { checkRemoveSublayers(t, m, enc, in) })
			t.Run("cut", func(t *testing.T) { checkCut(t, m, enc, in, allSublayers(enc)) })
			t.Run("replace-output-weight", func(t *testing.T) { checkReplaceOutputWeight(t, m, enc, in) })
		})
	}
}

// TestWherePooledEmbedding: a sentence embedding pooled with Where (masked max pooling, then L2
// normalisation by a Div of ReduceL2), as some published embedding exports spell it, is the
// embedding head, and rewrites still match masks.
func TestWherePooledEmbedding(t *testing.T) {
	m, err := testmodel.Build(testmodel.Config{Head: graph.HeadNone})
	if err != nil {
		t.Fatal(err)
	}
	enc := discover(t, m)
	c := onnx.Clone(m)
	g := c.GetGraph()
	h := enc.Outputs[0]
	g.Initializer = append(g.Initializer, onnx.NewInt64Tensor("pool_axes2", []int64{1}, []int64{2}),
		onnx.NewFloatTensor("pool_neg", nil, []float32{-1e4}), onnx.NewInt64Tensor("pool_zero", nil, []int64{0}))
	g.Node = append(g.Node,
		onnx.NewNode("Equal", "pool_eq", []string{enc.AttentionMask, "pool_zero"}, []string{"pool_pad"}),
		onnx.NewNode("Unsqueeze", "pool_unsq", []string{"pool_pad", "pool_axes2"}, []string{"pool_pad3"}),
		onnx.NewNode("Where", "pool_where", []string{"pool_pad3", "pool_neg", h}, []string{"pool_masked"}),
		onnx.NewNode("ReduceMax", "pool_max", []string{"pool_masked"}, []string{"pool_vec"}, onnx.AttrInts("axes", 1), onnx.AttrInt("keepdims", 0)),
		onnx.NewNode("ReduceL2", "pool_norm", []string{"pool_vec"}, []string{"pool_l2"}, onnx.AttrInts("axes", -1), onnx.AttrInt("keepdims", 1)),
		onnx.NewNode("Div", "pool_div", []string{"pool_vec", "pool_l2"}, []string{"sentence_embedding"}))
	g.Output = append(g.Output, onnx.NewValueInfo("sentence_embedding", onnx.TensorProto_FLOAT, []onnx.Dim{{Param: "batch"}, {Value: int64(enc.Hidden)}}))
	e2 := discover(t, c)
	if e2.Head != graph.HeadEmbedding || e2.Outputs[0] != "sentence_embedding" {
		t.Fatalf("head %s, outputs %v; want embedding with sentence_embedding first", e2.Head, e2.Outputs)
	}
	in := exportInputs(t, c, e2, 2, 9, 3)
	checkPruneEqualsMasks(t, c, e2, in, 4)
}
