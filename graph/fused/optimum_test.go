package fused_test

import (
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/kprune/kprune/graph"
	"github.com/kprune/kprune/graph/fused"
	"github.com/kprune/kprune/internal/testutil"
	"github.com/kprune/kprune/onnx"
	ort "github.com/kprune/kprune/runtime"
)

// o2Model is optimum's `--optimize O2` export of a tiny BERT classifier (2 layers, hidden 64,
// 4 heads, FFN 128): com.microsoft Attention with a 1-D mask_index (ReduceSum of the attention
// mask), SkipLayerNormalization and BiasGelu.
const o2Model = "models/exports/bert-seqcls-optimum-O2/model.onnx"

// bertBatch returns random BERT inputs: rows of the given lengths, right-padded to the longest,
// with random ids and token types (the padding keeps id 0 and type 0).
func bertBatch(rng *rand.Rand, lens ...int) map[string]*ort.Tensor {
	s := 0
	for _, l := range lens {
		s = max(s, l)
	}
	n := len(lens) * s
	ids, mask, types := make([]int64, n), make([]int64, n), make([]int64, n)
	for b, l := range lens {
		for j := range l {
			ids[b*s+j] = 1 + int64(rng.IntN(999))
			mask[b*s+j] = 1
			types[b*s+j] = int64(rng.IntN(2))
		}
	}
	shape := []int64{int64(len(lens)), int64(s)}
	return map[string]*ort.Tensor{
		"input_ids": ort.I64Tensor(shape, ids), "attention_mask": ort.I64Tensor(shape, mask), "token_type_ids": ort.I64Tensor(shape, types),
	}
}

func loadO2(t *testing.T) *onnx.ModelProto {
	t.Helper()
	m, err := onnx.Load(testutil.Shared(t, o2Model))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestOptimumO2 unfuses the O2 export and checks that onnxruntime gives the same logits for the
// fused and the unfused model on padded random batches, that no com.microsoft op is left, and that
// package graph discovers the encoder in the result.
func TestOptimumO2(t *testing.T) {
	m := loadO2(t)
	before := encode(t, m)
	u, rep, err := fused.Unfuse(m)
	if err != nil {
		t.Fatalf("Unfuse: %v", err)
	}
	unchanged(t, m, before)
	checkStandard(t, u, 18)
	want := map[string]int{"Attention": 2, "SkipLayerNormalization": 4, "BiasGelu": 2}
	for op, n := range want {
		if rep.Unfused[op] != n {
			t.Errorf("report %v: want %s×%d", rep, op, n)
		}
	}
	if rep.Total() != 8 {
		t.Errorf("report %v: want 8 nodes unfused", rep)
	}
	for _, init := range u.GetGraph().GetInitializer() {
		if init.GetName() == "Attention_0_qkv_weight" || init.GetName() == "Attention_1_qkv_bias" {
			t.Errorf("packed initializer %q is still in the unfused model", init.GetName())
		}
	}
	t.Logf("report: %s", rep)

	// Compare the logits and, as they are small for random weights, every fused node's output
	// too (the hidden states after each LayerNorm): the unfused model keeps their names.
	var inner []string
	for _, n := range m.GetGraph().GetNode() {
		if n.GetDomain() == fused.Domain {
			inner = append(inner, n.GetOutput()[0])
		}
	}
	mx, ux := graph.AddOutputs(m, inner...), graph.AddOutputs(u, inner...)
	rng := rand.New(rand.NewPCG(11, 2))
	batches := [][]int{{8}, {16, 9}, {5, 3, 1}, {32, 32, 7, 20}, {12, 12}}
	worst, worstLogit := 0.0, 0.0
	for _, lens := range batches {
		in := bertBatch(rng, lens...)
		d := compare(t, mx, ux, in)
		want, got := run(t, m, in, ort.OptAll)["logits"], run(t, u, in, ort.OptDisabled)["logits"]
		dl := maxDiff(t, "logits", got, want)
		t.Logf("rows of lengths %v: max abs difference %.3g over logits and hidden states, %.3g over logits", lens, d, dl)
		worst, worstLogit = max(worst, d), max(worstLogit, dl)
	}
	t.Logf("max abs difference over %d batches: %.3g (logits %.3g)", len(batches), worst, worstLogit)

	enc, err := graph.Discover(u)
	if err != nil {
		t.Fatalf("Discover on the unfused model: %v", err)
	}
	if len(enc.Layers) != 2 {
		t.Fatalf("discovered %d layers, want 2", len(enc.Layers))
	}
	for i, l := range enc.Layers {
		if l.MHA == nil || l.MHA.Heads != 4 || l.MHA.HeadDim != 16 || l.FFN == nil || l.FFN.Width != 128 {
			t.Errorf("layer %d: discovered %+v / %+v, want 4 heads of 16 and an FFN of 128", i, l.MHA, l.FFN)
		} else if l.FFN.Activation != "gelu_erf" {
			t.Errorf("layer %d: activation %q, want gelu_erf", i, l.FFN.Activation)
		}
	}
	if enc.AttentionMask != "attention_mask" || enc.InputIDs != "input_ids" || enc.TokenTypeIDs != "token_type_ids" {
		t.Errorf("discovered inputs ids=%q types=%q mask=%q", enc.InputIDs, enc.TokenTypeIDs, enc.AttentionMask)
	}
}

// optimisedFused returns the com.microsoft ops of the graph onnxruntime saves after optimising m
// for a CPU session with every optimisation on.
func optimisedFused(t *testing.T, m *onnx.ModelProto) map[string]int {
	t.Helper()
	path := filepath.Join(t.TempDir(), "optimised.onnx")
	s, err := ort.NewSession(m, ort.Options{IntraOpThreads: 1, OptLevel: ort.OptAll, OptimizedModelPath: path})
	if err != nil {
		t.Fatalf("session: %v", err)
	}
	s.Close()
	opt, err := onnx.Load(path)
	if err != nil {
		t.Fatalf("loading the optimised model onnxruntime saved: %v", err)
	}
	return fused.Count(opt)
}

// TestOptimumO2Refuses checks that onnxruntime's session optimiser (level all, CPU) fuses the
// unfused O2 model again at least as much as it fuses the plain optimum export of the same model
// (bert-seqcls-optimum): the erf GELU after its bias Add becomes BiasGelu again, and the scaled
// Q·K^T a FusedMatMul. Attention and SkipLayerNormalization are not among the session's CPU
// fusions for either model: they come from onnxruntime's offline transformers optimizer.
func TestOptimumO2Refuses(t *testing.T) {
	u, _, err := fused.Unfuse(loadO2(t))
	if err != nil {
		t.Fatalf("Unfuse: %v", err)
	}
	got := optimisedFused(t, u)
	t.Logf("com.microsoft ops after onnxruntime optimises the unfused O2 model: %v", got)
	if got["BiasGelu"] != 2 {
		t.Errorf("BiasGelu×%d after re-optimisation, want 2", got["BiasGelu"])
	}
	if got["FusedMatMul"] != 2 {
		t.Errorf("FusedMatMul×%d (scaled Q·K^T) after re-optimisation, want 2", got["FusedMatMul"])
	}
	plain, err := onnx.Load(testutil.Shared(t, "models/exports/bert-seqcls-optimum/model.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	ref := optimisedFused(t, plain)
	t.Logf("com.microsoft ops after onnxruntime optimises the plain optimum export: %v", ref)
	for op, n := range ref {
		if got[op] < n {
			t.Errorf("%s×%d after optimising the plain export, only %d for the unfused O2 model", op, n, got[op])
		}
	}
}
