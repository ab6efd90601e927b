package autodiff

import (
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/kprune/kprune/graph"
	"github.com/kprune/kprune/internal/testmodel"
	"github.com/kprune/kprune/onnx"
	ort "github.com/kprune/kprune/runtime"
)

// kindCfg is a small float64 test model of each head kind.
func kindCfg(h graph.HeadKind, seed uint64) testmodel.Config {
	c := testmodel.Config{Layers: 2, Heads: 2, HeadDim: 4, FFN: 12, Head: h, Seed: seed, DType: onnx.TensorProto_DOUBLE, Opset: 17}
	switch h {
	case graph.HeadClassification:
		c.NumLabels = 3
	case graph.HeadRegression:
		c.NumLabels = 1
	case graph.HeadToken:
		c.NumLabels = 3
	case graph.HeadEmbedding:
		c.Head, c.Pooling = graph.HeadNone, true
	}
	return c
}

func buildDiscover(t testing.TB, cfg testmodel.Config) (*onnx.ModelProto, *graph.Encoder) {
	t.Helper()
	m, err := testmodel.Build(cfg)
	if err != nil {
		t.Fatalf("testmodel: %v", err)
	}
	enc, err := graph.Discover(m)
	if err != nil {
		t.Fatalf("discover: %v", err)
	}
	return m, enc
}

// teacherTargets runs the teacher and turns its outputs into the loss targets with the Go
// helpers, keyed by the loss's target input names.
func teacherTargets(t testing.TB, teacher *onnx.ModelProto, enc *graph.Encoder, l Loss, in map[string]*ort.Tensor, pooling string) map[string]*ort.Tensor {
	t.Helper()
	// The loss takes the first len(l.Targets) head outputs; others (token embeddings next to a
	// pooled embedding) are not distilled.
	outs := run(t, session(t, teacher, enc.Outputs[:len(l.Targets)]...), in)
	mask := in[enc.AttentionMask].I64
	res := map[string]*ort.Tensor{}
	for k, o := range outs {
		v := values(o)
		elem := o.Elem
		var tv []float64
		var err error
		switch l.Kind {
		case graph.HeadClassification:
			tv, err = SoftmaxTargets(v, int(o.Shape[0]), int(o.Shape[1]), l.Temperature)
		case graph.HeadToken:
			tv, err = SoftmaxTargets(v, int(o.Shape[0]*o.Shape[1]), int(o.Shape[2]), l.Temperature)
		case graph.HeadSpan:
			tv, err = MaskedSoftmaxTargets(v, mask, int(o.Shape[0]), int(o.Shape[1]), l.Temperature)
		case graph.HeadRegression, graph.HeadEmbedding:
			tv = v
		case graph.HeadNone:
			tv, err = Pool(v, mask, int(o.Shape[0]), int(o.Shape[1]), int(o.Shape[2]), pooling)
			o = &ort.Tensor{Shape: []int64{o.Shape[0], o.Shape[2]}}
		}
		if err != nil {
			t.Fatal(err)
		}
		res[l.Targets[k]] = tensorOf(elem, append([]int64{}, o.Shape...), tv)
	}
	return res
}

// goLoss computes the loss in Go from the student's head outputs and the targets.
func goLoss(l Loss, outs []*ort.Tensor, targets []*ort.Tensor, mask []int64, pooling string) float64 {
	T := l.Temperature
	kl := func(z, p []float64, m []int64) float64 {
		mx := math.Inf(-1)
		for j := range z {
			if m == nil || m[j] != 0 {
				mx = math.Max(mx, z[j]/T)
			}
		}
		s := 0.0
		for j := range z {
			if m == nil || m[j] != 0 {
				s += math.Exp(z[j]/T - mx)
			}
		}
		r := 0.0
		for j := range z {
			if p[j] > 0 {
				r += p[j] * (math.Log(p[j]) - (z[j]/T - mx - math.Log(s)))
			}
		}
		return r
	}
	switch l.Kind {
	case graph.HeadClassification, graph.HeadSpan:
		B, C := int(outs[0].Shape[0]), int(outs[0].Shape[1])
		tot := 0.0
		for k := range outs {
			z, p := values(outs[k]), values(targets[k])
			for i := 0; i < B; i++ {
				var m []int64
				if l.Kind == graph.HeadSpan {
					m = mask[i*C : (i+1)*C]
				}
				tot += kl(z[i*C:(i+1)*C], p[i*C:(i+1)*C], m)
			}
		}
		return T * T * tot / float64(B) / float64(len(outs))
	case graph.HeadToken:
		B, S, C := int(outs[0].Shape[0]), int(outs[0].Shape[1]), int(outs[0].Shape[2])
		z, p := values(outs[0]), values(targets[0])
		tot, n := 0.0, 0.0
		for i := 0; i < B*S; i++ {
			if mask[i] != 0 {
				tot += kl(z[i*C:(i+1)*C], p[i*C:(i+1)*C], nil)
				n++
			}
		}
		return T * T * tot / n
	case graph.HeadRegression:
		z, tv := values(outs[0]), values(targets[0])
		s := 0.0
		for k := range z {
			s += (z[k] - tv[k]) * (z[k] - tv[k])
		}
		return s / float64(len(z))
	case graph.HeadEmbedding:
		e, tv := values(outs[0]), values(targets[0])
		s := 0.0
		for k := range e {
			s += (e[k] - tv[k]) * (e[k] - tv[k])
		}
		return s / float64(outs[0].Shape[0])
	case graph.HeadNone:
		B, S, D := int(outs[0].Shape[0]), int(outs[0].Shape[1]), int(outs[0].Shape[2])
		e, _ := Pool(values(outs[0]), mask, B, S, D, pooling)
		tv := values(targets[0])
		s := 0.0
		for k := range e {
			s += (e[k] - tv[k]) * (e[k] - tv[k])
		}
		return s / float64(B)
	}
	return math.NaN()
}

func TestAddLossMatchesGo(t *testing.T) {
	type lcase struct {
		h       graph.HeadKind
		pooling string
	}
	cases := []lcase{{graph.HeadClassification, ""}, {graph.HeadSpan, ""}, {graph.HeadToken, ""}, {graph.HeadRegression, ""},
		{graph.HeadNone, ""}, {graph.HeadNone, PoolCLS}, {graph.HeadNone, PoolMean + NormSuffix}, {graph.HeadNone, PoolCLS + NormSuffix},
		{graph.HeadEmbedding, ""}}
	for _, c := range cases {
		h, pooling := c.h, c.pooling
		t.Run(string(h)+pooling, func(t *testing.T) {
			cfg := kindCfg(h, 1)
			m, enc := buildDiscover(t, cfg)
			tcfg := cfg
			tcfg.Seed = 2
			teacher, _ := buildDiscover(t, tcfg)
			lm, l, err := AddLoss(m, enc, LossOptions{Pooling: pooling})
			if err != nil {
				t.Fatal(err)
			}
			if l.Kind != h || len(l.Targets) == 0 || len(l.Targets) > len(enc.Outputs) {
				t.Fatalf("loss %+v for %d head outputs", l, len(enc.Outputs))
			}
			in := testmodel.Inputs(cfg, 3, 7, 5)
			feed := teacherTargets(t, teacher, enc, l, in, pooling)
			var targets []*ort.Tensor
			for _, name := range l.Targets {
				targets = append(targets, feed[name])
			}
			for k, v := range in {
				feed[k] = v
			}
			outs := run(t, session(t, lm, append([]string{l.Name}, enc.Outputs[:len(l.Targets)]...)...), feed)
			if !equalShape(outs[0].Shape, []int64{1}) {
				t.Fatalf("loss shape %v, want [1]", outs[0].Shape)
			}
			got := values(outs[0])[0]
			want := goLoss(l, outs[1:], targets, in[enc.AttentionMask].I64, pooling)
			if math.Abs(got-want) > 1e-9*math.Max(1, math.Abs(want)) || want <= 0 {
				t.Fatalf("loss %.12g, Go computes %.12g", got, want)
			}
			// The student against itself as teacher: zero loss.
			self := teacherTargets(t, m, enc, l, in, pooling)
			for k, v := range in {
				self[k] = v
			}
			if z := values(run(t, session(t, lm, l.Name), self)[0])[0]; math.Abs(z) > 1e-12 {
				t.Fatalf("loss of the student against itself is %g, want 0", z)
			}
		})
	}
}

func TestAddLossErrors(t *testing.T) {
	m, enc := buildDiscover(t, kindCfg(graph.HeadClassification, 1))
	bad := *enc
	bad.Head = "mystery"
	if _, _, err := AddLoss(m, &bad, LossOptions{}); err == nil || !strings.Contains(err.Error(), "mystery") {
		t.Errorf("unknown head: %v", err)
	}
	if _, _, err := AddLoss(m, enc, LossOptions{Temperature: -1}); err == nil {
		t.Errorf("negative temperature accepted")
	}
	bad = *enc
	bad.Outputs = []string{"nope"}
	if _, _, err := AddLoss(m, &bad, LossOptions{}); err == nil || !strings.Contains(err.Error(), "nope") {
		t.Errorf("missing output: %v", err)
	}
	if _, _, err := AddLoss(nil, enc, LossOptions{}); err == nil {
		t.Errorf("nil model accepted")
	}
}

func TestTargetHelpers(t *testing.T) {
	p, err := SoftmaxTargets([]float32{0, 2, 4, 4}, 2, 2, 2)
	if err != nil {
		t.Fatal(err)
	}
	e := float32(1 / (1 + math.E))
	if want := []float32{e, 1 - e, 0.5, 0.5}; math.Abs(float64(p[0]-want[0])) > 1e-6 || p[2] != 0.5 {
		t.Errorf("softmax targets %v, want %v", p, want)
	}
	q, _ := MaskedSoftmaxTargets([]float64{1, 5, 9, 0, 0, 0}, []int64{1, 1, 0, 0, 0, 0}, 2, 3, 1)
	if q[2] != 0 || math.Abs(q[0]+q[1]-1) > 1e-15 || q[3] != 0 || q[4] != 0 {
		t.Errorf("masked targets %v", q)
	}
	if _, err := SoftmaxTargets([]float64{1, 2, 3}, 2, 2, 1); err == nil {
		t.Errorf("wrong size accepted")
	}
	pool, _ := MeanPool([]float64{1, 2, 3, 4, 100, 100}, []int64{1, 1, 0}, 1, 3, 2)
	if pool[0] != 2 || pool[1] != 3 {
		t.Errorf("mean pool %v, want [2 3]", pool)
	}
	if _, err := MeanPool([]float64{1}, nil, 1, 1, 2); err == nil {
		t.Errorf("wrong size accepted")
	}
}

// TestPool: mean pooling skips padded tokens; CLS pooling takes each row's first token; unknown
// poolings are refused.
func TestPool(t *testing.T) {
	h := []float64{1, 2, 3, 4, 100, 100, 5, 6, 7, 8, 9, 10} // [2 rows, 3 tokens, 2 dims]
	mask := []int64{1, 1, 0, 1, 1, 1}
	mean, err := Pool(h, mask, 2, 3, 2, PoolMean)
	if err != nil || fmt.Sprint(mean) != "[2 3 7 8]" {
		t.Fatalf("mean %v %v, want [2 3 7 8]", mean, err)
	}
	cls, err := Pool(h, mask, 2, 3, 2, PoolCLS)
	if err != nil || fmt.Sprint(cls) != "[1 2 5 6]" {
		t.Fatalf("cls %v %v, want [1 2 5 6]", cls, err)
	}
	for _, bad := range []string{"max", "max" + NormSuffix, "mean+", "norm"} {
		if _, err := Pool(h, mask, 2, 3, 2, bad); err == nil {
			t.Fatalf("pooling %q accepted", bad)
		}
	}
	// Normalised: [2 3]/sqrt(13), [7 8]/sqrt(113); [1 2]/sqrt(5), [5 6]/sqrt(61).
	for _, tc := range []struct {
		pooling string
		want    []float64
	}{
		{PoolMean + NormSuffix, []float64{2 / math.Sqrt(13), 3 / math.Sqrt(13), 7 / math.Sqrt(113), 8 / math.Sqrt(113)}},
		{PoolCLS + NormSuffix, []float64{1 / math.Sqrt(5), 2 / math.Sqrt(5), 5 / math.Sqrt(61), 6 / math.Sqrt(61)}},
	} {
		got, err := Pool(h, mask, 2, 3, 2, tc.pooling)
		if err != nil || len(got) != 4 {
			t.Fatalf("%s: %v %v", tc.pooling, got, err)
		}
		for i := range got {
			if math.Abs(got[i]-tc.want[i]) > 1e-15 {
				t.Fatalf("%s: %v, want %v", tc.pooling, got, tc.want)
			}
		}
	}
	zero := []float32{0, 0, 3, 4}
	Normalize(zero, 2)
	if fmt.Sprint(zero) != "[0 0 0.6 0.8]" {
		t.Fatalf("Normalize of a zero row and [3 4]: %v", zero)
	}
}
