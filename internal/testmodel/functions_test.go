package testmodel

import (
	"bytes"
	"fmt"
	"math"
	"slices"
	"testing"

	"github.com/kprune/kprune/graph"
	"github.com/kprune/kprune/onnx"
	ort "github.com/kprune/kprune/runtime"
)

// funcBase is the encoder the tests of function-changing options start from.
var funcBase = Config{Layers: 2, Heads: 2, HeadDim: 8, FFN: 16, Seed: 5}

// operand returns the 2-D matrix an op sees as its weight input name: dims and row-major values,
// undoing a Transpose between the initializer and the op.
func (ix *index) operand(t *testing.T, name string) ([]int64, []float64) {
	t.Helper()
	w, transposed := ix.param(name)
	if w == nil {
		t.Fatalf("%s is not a parameter", name)
	}
	dims, v := w.GetDims(), floats(w)
	if !transposed || len(dims) != 2 {
		return dims, v
	}
	r, c := int(dims[0]), int(dims[1])
	tv := make([]float64, len(v))
	for i := range r {
		for j := range c {
			tv[j*r+i] = v[i*c+j]
		}
	}
	return []int64{dims[1], dims[0]}, tv
}

// dense computes y = x W + b for x [n], W [n, m] (transB false) or W [m, n] (transB true).
func dense(x []float64, wDims []int64, w, bias []float64, transB bool) []float64 {
	n, m := int(wDims[0]), int(wDims[1])
	if transB {
		n, m = m, n
	}
	y := append([]float64(nil), bias...)
	for j := range m {
		for k := range n {
			if transB {
				y[j] += x[k] * w[j*n+k]
			} else {
				y[j] += x[k] * w[k*m+j]
			}
		}
	}
	return y
}

func geluErf(x float64) float64 { return 0.5 * x * (1 + math.Erf(x/math.Sqrt2)) }

// lastHidden runs the HeadNone model of cfg (same encoder weights) and returns its output.
func lastHidden(t *testing.T, cfg Config, in map[string]*ort.Tensor) []float64 {
	t.Helper()
	cfg.Head, cfg.NumLabels, cfg.Classifier, cfg.Pooling = graph.HeadNone, 0, "", false
	_, out := run(t, cfg, in)
	return values(out[0])
}

// TestHeadsByHand checks each head against a computation in Go on the final hidden states of the
// same encoder (the HeadNone model with the same seed), with the head's weights read from the
// model (through Identity and Transpose nodes where the spelling puts them).
func TestHeadsByHand(t *testing.T) {
	const batch, seq = 3, 6
	for _, tc := range []struct {
		name string
		edit func(*Config)
	}{
		{"pooler", func(c *Config) {}},
		{"electra", func(c *Config) { c.Classifier = ClassifierElectra }},
		{"distilbert", func(c *Config) { c.Classifier = ClassifierDistil }},
		{"electra-aliases-transposed", func(c *Config) { c.Classifier, c.ParamAliases, c.WeightVia = ClassifierElectra, true, ViaTranspose }},
		{"regression", func(c *Config) { c.Head = graph.HeadRegression }},
		{"regression-distilbert", func(c *Config) { c.Head, c.Classifier = graph.HeadRegression, ClassifierDistil }},
		{"labels3-electra", func(c *Config) { c.NumLabels, c.Classifier = 3, ClassifierElectra }},
		{"span", func(c *Config) { c.Head = graph.HeadSpan }},
		{"span-identity", func(c *Config) { c.Head, c.WeightVia, c.ParamAliases = graph.HeadSpan, ViaIdentity, true }},
		{"token", func(c *Config) { c.Head, c.NumLabels = graph.HeadToken, 3 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := funcBase
			tc.edit(&cfg)
			c := mustNormalize(t, cfg)
			in := Inputs(cfg, batch, seq, 3)
			h := lastHidden(t, cfg, in)
			m, out := run(t, cfg, in)
			ix := newIndex(m)
			D := c.Hidden
			got := byName(out)
			switch c.Head {
			case graph.HeadClassification, graph.HeadRegression:
				gemms := ix.nodes("Gemm")
				if len(gemms) != 2 {
					t.Fatalf("%d Gemm nodes, want the head's 2", len(gemms))
				}
				w1d, w1 := ix.operand(t, gemms[0].GetInput()[1])
				_, b1 := ix.operand(t, gemms[0].GetInput()[2])
				w2d, w2 := ix.operand(t, gemms[1].GetInput()[1])
				_, b2 := ix.operand(t, gemms[1].GetInput()[2])
				act := map[string]func(float64) float64{ClassifierPooler: math.Tanh, ClassifierElectra: geluErf,
					ClassifierDistil: func(x float64) float64 { return max(x, 0) }}[c.Classifier]
				var want []float64
				for bi := range batch {
					p := dense(h[bi*seq*D:bi*seq*D+D], w1d, w1, b1, true)
					for i := range p {
						p[i] = act(p[i])
					}
					want = append(want, dense(p, w2d, w2, b2, true)...)
				}
				logits := got[OutputLogits]
				if fmt.Sprint(logits.Shape) != fmt.Sprint([]int64{batch, int64(c.NumLabels)}) {
					t.Errorf("logits shape %v, want [%d %d]", logits.Shape, batch, c.NumLabels)
				}
				if d := maxDiff(values(logits), want); d > 1e-5 {
					t.Errorf("logits differ from the hand computation by %g", d)
				}
			case graph.HeadSpan, graph.HeadToken:
				mm := ix.nodes("MatMul")
				last := mm[len(mm)-1]
				wd, w := ix.operand(t, last.GetInput()[1])
				add := ix.consumers[last.GetOutput()[0]][0]
				_, bias := ix.operand(t, add.GetInput()[0])
				var y []float64
				for r := range batch * seq {
					y = append(y, dense(h[r*D:(r+1)*D], wd, w, bias, false)...)
				}
				if c.Head == graph.HeadToken {
					if d := maxDiff(values(got[OutputLogits]), y); d > 1e-5 {
						t.Errorf("token logits differ from the hand computation by %g", d)
					}
					return
				}
				for k, name := range []string{OutputStart, OutputEnd} {
					o := got[name]
					if fmt.Sprint(o.Shape) != fmt.Sprint([]int64{batch, seq}) {
						t.Errorf("%s shape %v, want [%d %d]", name, o.Shape, batch, seq)
					}
					want := make([]float64, batch*seq)
					for r := range want {
						want[r] = y[2*r+k]
					}
					if d := maxDiff(values(o), want); d > 1e-5 {
						t.Errorf("%s differs from the hand computation by %g", name, d)
					}
				}
			}
		})
	}
}

// TestPoolingByHand checks the sentence-transformers outputs: token_embeddings are the encoder's
// last hidden states, and sentence_embedding is the L2-normalised masked mean of them, computed
// in Go, with unit norm.
func TestPoolingByHand(t *testing.T) {
	const batch, seq = 4, 7
	pooled, err := Preset("sentence-pooled")
	if err != nil {
		t.Fatal(err)
	}
	for _, cfg := range []Config{
		{Layers: 2, Heads: 2, HeadDim: 8, Seed: 2, Head: graph.HeadNone, Pooling: true},
		withSpelling(Config{Layers: 2, Heads: 2, HeadDim: 8, Seed: 2, Head: graph.HeadNone}, pooled),
		{Layers: 1, Heads: 2, HeadDim: 8, Seed: 2, Head: graph.HeadNone, Pooling: true, Opset: 18, DType: onnx.TensorProto_DOUBLE},
	} {
		cfg.Pooling = true
		t.Run(fmt.Sprintf("opset%d-%v-aliases=%v", cfg.Opset, cfg.DType, cfg.ParamAliases), func(t *testing.T) {
			in := Inputs(cfg, batch, seq, 4)
			h := lastHidden(t, cfg, in)
			_, out := run(t, cfg, in)
			got := byName(out)
			if names := OutputNames(cfg); !slices.Equal(names, []string{OutputTokenEmb, OutputSentence}) || len(out) != 2 {
				t.Fatalf("outputs %v (OutputNames %v), want token_embeddings and sentence_embedding", out, names)
			}
			tok, sent := got[OutputTokenEmb], got[OutputSentence]
			if d := maxDiff(values(tok), h); d > 1e-5 {
				t.Errorf("token_embeddings differ from last_hidden_state by %g", d)
			}
			D := int(tok.Shape[2])
			if fmt.Sprint(sent.Shape) != fmt.Sprint([]int64{batch, int64(D)}) {
				t.Fatalf("sentence_embedding shape %v, want [%d %d]", sent.Shape, batch, D)
			}
			mask := in[AttentionMask].I64
			s := values(sent)
			for bi := range batch {
				mean := make([]float64, D)
				n := 0.0
				for j := range seq {
					if mask[bi*seq+j] == 0 {
						continue
					}
					n++
					for k := range D {
						mean[k] += h[(bi*seq+j)*D+k]
					}
				}
				norm := 0.0
				for k := range D {
					mean[k] /= n
					norm += mean[k] * mean[k]
				}
				norm = math.Sqrt(norm)
				got2 := 0.0
				for k := range D {
					mean[k] /= norm
					got2 += s[bi*D+k] * s[bi*D+k]
				}
				if d := maxDiff(s[bi*D:(bi+1)*D], mean); d > 1e-5 {
					t.Errorf("row %d: sentence_embedding differs from the normalised masked mean by %g", bi, d)
				}
				if math.Abs(math.Sqrt(got2)-1) > 1e-5 {
					t.Errorf("row %d: sentence_embedding has norm %g, want 1", bi, math.Sqrt(got2))
				}
			}
		})
	}
}

// initByDims returns the only initializer with these dims.
func initByDims(t *testing.T, m *onnx.ModelProto, dims ...int64) *onnx.TensorProto {
	t.Helper()
	var found *onnx.TensorProto
	for _, in := range m.GetGraph().GetInitializer() {
		if slices.Equal(in.GetDims(), dims) {
			if found != nil {
				t.Fatalf("two initializers of dims %v", dims)
			}
			found = in
		}
	}
	if found == nil {
		t.Fatalf("no initializer of dims %v", dims)
	}
	return found
}

// relBucket is transformers' MPNet relative_position_bucket of rel = key - query position, with
// the float32 arithmetic torch uses.
func relBucket(rel int) int {
	n, half, ret := -rel, RelBuckets/2, 0
	if n < 0 {
		ret = half
		n = -n
	}
	exact := half / 2
	if n < exact {
		return ret + n
	}
	l := float32(math.Log(float64(float32(n) / float32(exact))))
	v := l / float32(math.Log(float64(RelMaxDistance)/float64(exact))) * float32(half-exact)
	return ret + min(exact+int(v), half-1)
}

// TestRelPosBias checks the MPNet relative position bias: the bias tensor equals
// table[bucket(key-query), head] computed in Go; with a zero table the model computes the model
// without the bias; with the drawn table the outputs change.
func TestRelPosBias(t *testing.T) {
	for _, edit := range []func(*Config){
		func(c *Config) {},
		func(c *Config) {
			c.Scaling, c.Mask, c.NaNGuard, c.ConstInitializers = ScaleSplit, MaskWhereInf, true, true
		},
	} {
		cfg := funcBase
		cfg.MaxPos = 128 // distances up to 99 reach every bucket, the capped ones too
		edit(&cfg)
		rel := cfg
		rel.RelPosBias = true
		const batch, seq = 2, 100
		in := Inputs(cfg, batch, seq, 6)
		_, want := run(t, cfg, in)
		m := mustBuild(t, rel)
		ix := newIndex(m)
		table := initByDims(t, m, RelBuckets, int64(cfg.Heads))
		// table -> Gather -> Transpose -> Unsqueeze -> Expand: the bias.
		bias := ix.consumers[table.GetName()][0].GetOutput()[0]
		for _, op := range []string{"Transpose", "Unsqueeze", "Expand"} {
			next := ix.consumers[bias]
			if len(next) != 1 || next[0].GetOpType() != op {
				t.Fatalf("bias chain: %s consumed by %v, want one %s", bias, next, op)
			}
			bias = next[0].GetOutput()[0]
		}
		s, err := ort.NewSession(m, ort.Options{IntraOpThreads: 1, InterOpThreads: 1, Outputs: []string{OutputLogits, bias}})
		if err != nil {
			t.Fatal(err)
		}
		out, err := s.Run(t.Context(), in)
		s.Close()
		if err != nil {
			t.Fatal(err)
		}
		b := byName(out)[bias]
		H := cfg.Heads
		if fmt.Sprint(b.Shape) != fmt.Sprint([]int64{batch, int64(H), seq, seq}) {
			t.Fatalf("bias shape %v, want [%d %d %d %d]", b.Shape, batch, H, seq, seq)
		}
		tv := floats(table)
		bv := values(b)
		for bi := range batch {
			for h := range H {
				for i := range seq {
					for j := range seq {
						w := tv[relBucket(j-i)*H+h]
						if g := bv[((bi*H+h)*seq+i)*seq+j]; g != w {
							t.Fatalf("bias[%d,%d,%d,%d] = %g, want table[bucket %d][%d] = %g", bi, h, i, j, g, relBucket(j-i), h, w)
						}
					}
				}
			}
		}
		if d := maxDiff(values(byName(out)[OutputLogits]), values(want[0])); d < 1e-4 {
			t.Errorf("the relative position bias moved the logits by only %g", d)
		}
		setFloats(table, make([]float64, len(tv)))
		compareOutputs(t, want, runModel(t, m, in), 1e-5)
	}
}

// TestEmbedProjection checks the ELECTRA embedding projection: with EmbedSize = Hidden and the
// projection set to the identity the model computes the model without it; with EmbedSize < Hidden
// the embedding tables and LayerNorm have width E and a [E, Hidden] weight follows.
func TestEmbedProjection(t *testing.T) {
	for _, gemm := range []bool{false, true} {
		cfg := funcBase
		cfg.Gemm = gemm
		D := int64(mustNormalize(t, cfg).Hidden)
		in := Inputs(cfg, 3, 6, 2)
		ref, want := run(t, cfg, in)
		proj := cfg
		proj.EmbedSize = int(D)
		m := mustBuild(t, proj)
		known := map[string]bool{}
		for _, w := range ref.GetGraph().GetInitializer() {
			known[string(w.GetRawData())] = true
		}
		var fresh []*onnx.TensorProto
		for _, w := range m.GetGraph().GetInitializer() {
			if !known[string(w.GetRawData())] {
				fresh = append(fresh, w)
			}
		}
		if len(fresh) != 2 || !slices.Equal(fresh[0].GetDims(), []int64{D, D}) || !slices.Equal(fresh[1].GetDims(), []int64{D}) {
			t.Fatalf("gemm=%v: new initializers %v, want the projection's [%d %d] weight and [%d] bias", gemm, fresh, D, D, D)
		}
		eye := make([]float64, D*D)
		for i := range D {
			eye[i*D+i] = 1
		}
		setFloats(fresh[0], eye)
		setFloats(fresh[1], make([]float64, D))
		compareOutputs(t, want, runModel(t, m, in), 1e-5)

		proj.EmbedSize = 8
		m = mustBuild(t, proj)
		ix := newIndex(m)
		for _, dims := range [][]int64{{DefaultVocab, 8}, {DefaultMaxPos, 8}, {DefaultTypeVocab, 8}} {
			initByDims(t, m, dims...)
		}
		found := false
		for _, n := range append(ix.nodes("MatMul"), ix.nodes("Gemm")...) {
			if w, _ := ix.param(n.GetInput()[1]); w == nil {
				continue
			}
			if d, _ := ix.operand(t, n.GetInput()[1]); slices.Equal(d, []int64{8, D}) || (gemm && slices.Equal(d, []int64{D, 8})) {
				found = true
			}
		}
		if !found {
			t.Errorf("gemm=%v: no linear with an [8, %d] weight", gemm, D)
		}
		runModel(t, m, in)
	}
}

// TestNoTokenTypes checks models without token_type_ids: without a type table the model computes
// the default model whose type table is zero; with a table read through the zero buffer it
// computes the default model fed token_type_ids 0.
func TestNoTokenTypes(t *testing.T) {
	for _, tc := range []struct {
		name      string
		typeVocab int
		edit      func(*Config)
	}{
		{"no-table", 0, func(c *Config) {}},
		{"buffer", 2, func(c *Config) {}},
		{"buffer-concat-positions", 1, func(c *Config) { c.Reshape = ReshapeConcat }},
		{"no-table-roberta-positions", 0, func(c *Config) { c.RobertaPositions = true }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := funcBase
			tc.edit(&cfg)
			cfg.TypeVocab = max(tc.typeVocab, 1)
			no := cfg
			no.NoTokenTypes, no.TypeVocab = true, tc.typeVocab
			m := mustBuild(t, no)
			for _, v := range m.GetGraph().GetInput() {
				if v.GetName() == TokenTypeIDs {
					t.Fatal("the model has a token_type_ids input")
				}
			}
			inNo := Inputs(no, 3, 7, 8)
			if _, ok := inNo[TokenTypeIDs]; ok || len(inNo) != 2 {
				t.Fatalf("Inputs gives %d inputs with token_type_ids=%v", len(inNo), ok)
			}
			in := cloneInputs(inNo)
			in[TokenTypeIDs] = ort.I64Tensor([]int64{3, 7}, make([]int64, 21))
			ref := mustBuild(t, cfg)
			if tc.typeVocab == 0 {
				ix := newIndex(ref)
				typ := ix.inits[ix.consumers[TokenTypeIDs][0].GetInput()[0]]
				setFloats(typ, make([]float64, len(floats(typ))))
			}
			compareOutputs(t, runModel(t, ref, in), runModel(t, m, inNo), 1e-5)
		})
	}
}

// TestRobertaPositions checks RoBERTa's position ids (padding_idx + 1 onwards for real tokens):
// the model computes the default model whose position table is shifted up by one row.
func TestRobertaPositions(t *testing.T) {
	roberta, err := Preset("roberta")
	if err != nil {
		t.Fatal(err)
	}
	for _, cfg := range []Config{
		funcBase,
		withSpelling(Config{Layers: 2, Heads: 2, HeadDim: 8, FFN: 16, Seed: 5, TypeVocab: 1}, roberta),
	} {
		rob := cfg
		rob.RobertaPositions = true
		ref := cfg
		ref.RobertaPositions, ref.NoTokenTypes = false, false
		c := mustNormalize(t, ref)
		in := Inputs(ref, 4, 9, 1)
		m := mustBuild(t, ref)
		pos := initByDims(t, m, int64(c.MaxPos), int64(c.Hidden))
		p := floats(pos)
		D := c.Hidden
		setFloats(pos, append(p[D:], make([]float64, D)...))
		inRob := cloneInputs(in)
		if rob.NoTokenTypes {
			delete(inRob, TokenTypeIDs)
		}
		_, got := run(t, rob, inRob)
		compareOutputs(t, runModel(t, m, in), got, 1e-5)
		// Without the shift the outputs differ.
		if d := maxDiff(values(runModel(t, mustBuild(t, ref), in)[0]), values(got[0])); d < 1e-4 {
			t.Errorf("RoBERTa positions moved the logits by only %g", d)
		}
	}
}

// TestSpellingDeterminism checks that every preset builds the same bytes twice and differs from
// the default spelling.
func TestSpellingDeterminism(t *testing.T) {
	def, err := onnx.Encode(mustBuild(t, Config{Seed: 4}))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range PresetNames() {
		cfg, _ := Preset(name)
		cfg.Seed = 4
		a, err := onnx.Encode(mustBuild(t, cfg))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := onnx.Encode(mustBuild(t, cfg))
		if !bytes.Equal(a, b) {
			t.Errorf("%s: two builds encode differently", name)
		}
		if bytes.Equal(a, def) {
			t.Errorf("%s: same bytes as the default spelling", name)
		}
	}
}
