package autodiff

import (
	"fmt"
	"math"
	"testing"

	"github.com/kprune/kprune/graph"
	"github.com/kprune/kprune/internal/testmodel"
	"github.com/kprune/kprune/internal/testutil"
	"github.com/kprune/kprune/onnx"
	ort "github.com/kprune/kprune/runtime"
)

// scoringSetup is a student, a teacher and one batch with everything BuildScoring's graph needs.
type scoringSetup struct {
	m, teacher *onnx.ModelProto
	enc, tenc  *graph.Encoder
	sc         *Scoring
	in         map[string]*ort.Tensor // model inputs
	feed       map[string]*ort.Tensor // scoring graph inputs
	pooling    string                 // ScoringOptions.Pooling
}

func ones(elem onnx.TensorProto_DataType, shape []int64) *ort.Tensor {
	v := make([]float64, onnx.NumElements(shape))
	for k := range v {
		v[k] = 1
	}
	return tensorOf(elem, shape, v)
}

// newScoring builds the scoring graph of sublayer s and its inputs (all-ones masks).
func newScoring(t testing.TB, m, teacher *onnx.ModelProto, s int, opts ScoringOptions, in map[string]*ort.Tensor) *scoringSetup {
	t.Helper()
	enc, err := graph.Discover(m)
	if err != nil {
		t.Fatal(err)
	}
	tenc, err := graph.Discover(teacher)
	if err != nil {
		t.Fatal(err)
	}
	sc, err := BuildScoring(m, enc, s, opts)
	if err != nil {
		t.Fatalf("BuildScoring: %v", err)
	}
	st := &scoringSetup{m: m, teacher: teacher, enc: enc, tenc: tenc, sc: sc, in: in, pooling: opts.Pooling}
	feed := teacherTargets(t, teacher, tenc, sc.LossInfo, in, opts.Pooling)
	// teacherTargets keys by the loss's target names, which are the scoring graph's.
	for k, v := range in {
		feed[k] = v
	}
	hid := run(t, session(t, m, sc.Hidden), in)[0]
	feed[sc.Hidden] = hid
	elem := hid.Elem
	batch := in[enc.AttentionMask].Shape[0]
	for u, name := range sc.Masks {
		shape := []int64{int64(sc.Widths[u])}
		if opts.PerExample {
			shape = []int64{batch, 1, int64(sc.Widths[u])}
		}
		feed[name] = ones(elem, shape)
	}
	if sc.TeacherPreLN != "" {
		feed[sc.TeacherPreLN] = run(t, session(t, teacher, preLN(tenc, s)), in)[0]
	}
	st.feed = feed
	return st
}

func preLN(enc *graph.Encoder, s int) string {
	if s%2 == 0 {
		return enc.Layers[s/2].MHA.PreLN
	}
	return enc.Layers[s/2].FFN.PreLN
}

func outLinear(enc *graph.Encoder, s int) graph.Linear {
	if s%2 == 0 {
		return enc.Layers[s/2].MHA.O
	}
	return enc.Layers[s/2].FFN.W2
}

func initValues(t testing.TB, m *onnx.ModelProto, name string) []float64 {
	t.Helper()
	for _, x := range m.GetGraph().GetInitializer() {
		if x.GetName() == name {
			v, err := onnx.Float64s(x)
			if err != nil {
				t.Fatal(err)
			}
			return v
		}
	}
	t.Fatalf("no initializer %q", name)
	return nil
}

func closeTo(t testing.TB, what string, got, want []float64, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	if e := relErr(got, want, 1e-12); e > tol || math.IsNaN(e) {
		t.Errorf("%s: relative error %.3g > %g\n got %v\nwant %v", what, e, tol, short(got), short(want))
	}
}

// checkForward checks, with all-ones masks, the head outputs against the original model, the
// loss against Go, and the SqSums and Gram outputs against Go computations from activations the
// original models give.
func (st *scoringSetup) checkForward(t *testing.T, tol float64) map[string]*ort.Tensor {
	t.Helper()
	sc, enc := st.sc, st.enc
	outs := runFeed(t, session(t, sc.Model, sc.Outputs...), st.feed)
	got := map[string]*ort.Tensor{}
	for k, o := range sc.Outputs {
		got[o] = outs[k]
	}
	// Head outputs equal the original model's.
	orig := run(t, session(t, st.m, enc.Outputs...), st.in)
	var heads, targets []*ort.Tensor
	for k, o := range enc.Outputs {
		closeTo(t, "head output "+o, values(got[o]), values(orig[k]), tol)
		heads = append(heads, orig[k])
	}
	for _, name := range sc.Targets {
		targets = append(targets, st.feed[name])
	}
	mask := st.in[enc.AttentionMask].I64
	want := goLoss(sc.LossInfo, heads, targets, mask, st.pooling)
	closeTo(t, "loss", values(got[sc.Loss]), []float64{want}, tol)
	// SqSums and Gram from activations of the original student.
	for _, u := range sc.Sublayers {
		a := sublayerInner(enc, u)
		av := run(t, session(t, st.m, a), st.in)[0]
		W := sc.Widths[u]
		A := values(av)
		if len(A) != len(mask)*W {
			t.Fatalf("activation %q has %d values, want %d tokens x %d", a, len(A), len(mask), W)
		}
		sq := make([]float64, W)
		for tok, mk := range mask {
			if mk == 0 {
				continue
			}
			for k := 0; k < W; k++ {
				sq[k] += A[tok*W+k] * A[tok*W+k]
			}
		}
		closeTo(t, fmt.Sprintf("sqsum of sublayer %d", u), values(got[sc.SqSums[u]]), sq, tol)
		if u != sc.Sublayer || sc.GramAA == "" {
			continue
		}
		D := enc.Hidden
		x := values(st.feed[sc.Hidden])
		tp := values(st.feed[sc.TeacherPreLN])
		var bias []float64
		if bn := outLinear(enc, u).Bias; bn != "" {
			bias = initValues(t, st.m, bn)
		}
		aa := make([]float64, W*W)
		ar := make([]float64, W*D)
		for tok, mk := range mask {
			if mk == 0 {
				continue
			}
			r := make([]float64, D)
			for j := range r {
				r[j] = tp[tok*D+j] - x[tok*D+j]
				if bias != nil {
					r[j] -= bias[j]
				}
			}
			for i := 0; i < W; i++ {
				ai := A[tok*W+i]
				for j := 0; j < W; j++ {
					aa[i*W+j] += ai * A[tok*W+j]
				}
				for j := 0; j < D; j++ {
					ar[i*D+j] += ai * r[j]
				}
			}
		}
		closeTo(t, "Gram A^T A", values(got[sc.GramAA]), aa, tol)
		closeTo(t, "Gram A^T R", values(got[sc.GramAR]), ar, tol)
	}
	return got
}

// checkGradients compares every mask gradient with finite differences of the loss.
func (st *scoringSetup) checkGradients(t *testing.T, got map[string]*ort.Tensor, nEntries int, h, tol float64) {
	t.Helper()
	fs := session(t, st.sc.Model, st.sc.Loss)
	for _, u := range st.sc.Sublayers {
		fdCheck(t, fs, st.feed, st.sc.Masks[u], values(got[st.sc.Grads[u]]), nEntries, h, tol)
	}
}

func TestScoringGeneratedModels(t *testing.T) {
	type variant struct {
		head  graph.HeadKind
		s     int
		opset int
		gemm  bool
		// pruned gives per-layer head and FFN counts (a removed sublayer where 0).
		heads, ffn []int
		pooling    string
	}
	vs := []variant{
		{graph.HeadClassification, 1, 17, false, []int{2, 0}, []int{12, 5}, ""},
		{graph.HeadSpan, 0, 14, false, []int{1, 2}, []int{0, 12}, ""},
		{graph.HeadClassification, 0, 17, false, nil, nil, ""},
		{graph.HeadClassification, 1, 14, true, nil, nil, ""},
		{graph.HeadSpan, 0, 14, false, nil, nil, ""},
		{graph.HeadSpan, 3, 17, false, nil, nil, ""},
		{graph.HeadToken, 2, 17, false, nil, nil, ""},
		{graph.HeadRegression, 0, 14, false, nil, nil, ""},
		{graph.HeadNone, 1, 17, false, nil, nil, ""},
		{graph.HeadNone, 3, 18, false, nil, nil, ""},
		{graph.HeadNone, 1, 17, false, nil, nil, PoolMean + NormSuffix},
		{graph.HeadNone, 2, 17, false, nil, nil, PoolCLS + NormSuffix},
	}
	for _, v := range vs {
		t.Run(fmt.Sprintf("%s%s s=%d opset %d gemm=%v heads=%v ffn=%v", v.head, v.pooling, v.s, v.opset, v.gemm, v.heads, v.ffn), func(t *testing.T) {
			cfg := kindCfg(v.head, 1)
			cfg.Opset, cfg.Gemm = v.opset, v.gemm
			cfg.HeadsPerLayer, cfg.FFNPerLayer = v.heads, v.ffn
			cfg.Reshape = []string{testmodel.ReshapeConst, testmodel.ReshapeConcat, testmodel.ReshapeMinus1}[v.s%3]
			m, err := testmodel.Build(cfg)
			if err != nil {
				t.Fatal(err)
			}
			tcfg := cfg
			tcfg.Seed = 2
			teacher, err := testmodel.Build(tcfg)
			if err != nil {
				t.Fatal(err)
			}
			st := newScoring(t, m, teacher, v.s, ScoringOptions{Gram: true, Pooling: v.pooling}, testmodel.Inputs(cfg, 3, 6, 11))
			got := st.checkForward(t, 1e-9)
			st.checkGradients(t, got, 4, 1e-5, 1e-5)
		})
	}
}

// TestScoringPerExample checks that per-example masks give, for each example, the gradient of
// that example run alone (scaled by 1/B since the loss is a batch mean), and that they sum to the
// shared-mask gradient.
func TestScoringPerExample(t *testing.T) {
	for _, h := range []graph.HeadKind{graph.HeadClassification, graph.HeadSpan} {
		t.Run(string(h), func(t *testing.T) {
			cfg := kindCfg(h, 1)
			m, _ := testmodel.Build(cfg)
			tcfg := cfg
			tcfg.Seed = 2
			teacher, _ := testmodel.Build(tcfg)
			const B = 3
			in := testmodel.Inputs(cfg, B, 6, 13)
			per := newScoring(t, m, teacher, 0, ScoringOptions{PerExample: true}, in)
			shared := newScoring(t, m, teacher, 0, ScoringOptions{}, in)
			pg := per.checkForward(t, 1e-9)
			sg := shared.checkForward(t, 1e-9)
			for _, u := range per.sc.Sublayers {
				W := per.sc.Widths[u]
				g := values(pg[per.sc.Grads[u]])
				if len(g) != B*W {
					t.Fatalf("per-example gradient of sublayer %d has %d values, want %d", u, len(g), B*W)
				}
				sum := make([]float64, W)
				for i := 0; i < B; i++ {
					for k := 0; k < W; k++ {
						sum[k] += g[i*W+k]
					}
				}
				closeTo(t, fmt.Sprintf("sum over examples, sublayer %d", u), sum, values(sg[shared.sc.Grads[u]]), 1e-9)
			}
			for i := 0; i < B; i++ {
				one := map[string]*ort.Tensor{}
				for k, v := range in {
					S := v.Shape[1]
					one[k] = ort.I64Tensor([]int64{1, S}, append([]int64{}, v.I64[int64(i)*S:int64(i+1)*S]...))
				}
				alone := newScoring(t, m, teacher, 0, ScoringOptions{}, one)
				ag := alone.checkForward(t, 1e-9)
				for _, u := range per.sc.Sublayers {
					W := per.sc.Widths[u]
					g := values(pg[per.sc.Grads[u]])[i*W : (i+1)*W]
					scaled := make([]float64, W)
					for k := range scaled {
						scaled[k] = g[k] * B
					}
					closeTo(t, fmt.Sprintf("example %d alone, sublayer %d", i, u), scaled, values(ag[alone.sc.Grads[u]]), 1e-8)
				}
			}
		})
	}
}

func TestScoringSharedModels(t *testing.T) {
	for _, c := range []struct {
		rel string
		ss  []int
	}{
		{"models/tiny-bert-sst2/model.onnx", []int{0, 3}},
		{"models/tiny-bert-sst2/model-opset17.onnx", []int{1}},
		{"models/bert-l4-sst2/model.onnx", []int{4}},
	} {
		t.Run(c.rel, func(t *testing.T) { scoringShared(t, c.rel, c.ss) })
	}
}

func scoringShared(t *testing.T, rel string, ss []int) {
	p := testutil.Shared(t, rel)
	m, err := onnx.Load(p)
	if err != nil {
		t.Fatal(err)
	}
	// The student is the model itself; the teacher targets are softmax(-2 z / T) of the student's
	// logits z, far from the student's own distribution, so that the KL and its gradient are
	// large enough for float32 finite differences.
	enc, err := graph.Discover(m)
	if err != nil {
		t.Fatal(err)
	}
	in := testmodel.Inputs(testmodel.Config{Vocab: 1000}, 4, 10, 3)
	for _, s := range ss {
		t.Run(fmt.Sprintf("s=%d", s), func(t *testing.T) {
			st := newScoring(t, m, m, s, ScoringOptions{Gram: true}, in)
			lo := run(t, session(t, m, enc.Outputs[0]), in)[0]
			for k := range lo.F32 {
				lo.F32[k] *= -2
			}
			pt, err := SoftmaxTargets(lo.F32, int(lo.Shape[0]), int(lo.Shape[1]), st.sc.LossInfo.Temperature)
			if err != nil {
				t.Fatal(err)
			}
			st.feed[st.sc.Targets[0]] = ort.F32Tensor(lo.Shape, pt)
			got := st.checkForward(t, 2e-5)
			st.checkGradients(t, got, 3, 0.5, 1e-2)
		})
	}
}

func TestBuildScoringErrors(t *testing.T) {
	m, enc := buildDiscover(t, kindCfg(graph.HeadClassification, 1))
	if _, err := BuildScoring(m, enc, 4, ScoringOptions{}); err == nil {
		t.Errorf("sublayer out of range accepted")
	}
	if _, err := BuildScoring(nil, enc, 0, ScoringOptions{}); err == nil {
		t.Errorf("nil model accepted")
	}
	cfg := kindCfg(graph.HeadClassification, 1)
	cfg.HeadsPerLayer = []int{2, 0}
	pm, penc := buildDiscover(t, cfg)
	if _, err := BuildScoring(pm, penc, 2, ScoringOptions{}); err == nil {
		t.Errorf("removed sublayer accepted")
	}
	// Sublayer 1 of the pruned model: masks skip the removed attention of layer 1.
	sc, err := BuildScoring(pm, penc, 1, ScoringOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(sc.Sublayers) != "[1 3]" {
		t.Errorf("masked sublayers %v, want [1 3]", sc.Sublayers)
	}
}
