package autodiff

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"testing"

	"github.com/kprune/kprune/graph"
	"github.com/kprune/kprune/internal/testmodel"
	"github.com/kprune/kprune/internal/testutil"
	"github.com/kprune/kprune/onnx"
	ort "github.com/kprune/kprune/runtime"
)

// runFeed runs s on the entries of feed it takes as inputs.
func runFeed(t testing.TB, s *ort.Session, feed map[string]*ort.Tensor) []*ort.Tensor {
	t.Helper()
	in := map[string]*ort.Tensor{}
	for _, i := range s.Inputs() {
		v, ok := feed[i.Name]
		if !ok {
			t.Fatalf("no value for input %q", i.Name)
		}
		in[i.Name] = v
	}
	return run(t, s, in)
}

func cloneTensor(x *ort.Tensor) *ort.Tensor {
	c := *x
	c.F32 = append([]float32(nil), x.F32...)
	c.F64 = append([]float64(nil), x.F64...)
	if x.F32 == nil {
		c.F32 = nil
	}
	if x.F64 == nil {
		c.F64 = nil
	}
	return &c
}

// perturb returns x + h*d (d over all entries).
func perturb(x *ort.Tensor, d []float64, h float64) *ort.Tensor {
	c := cloneTensor(x)
	for k := range d {
		if c.F64 != nil {
			c.F64[k] += h * d[k]
		} else {
			c.F32[k] += float32(h * d[k])
		}
	}
	return c
}

// fdModel checks d loss / d wrt of model m against central finite differences: on nEntries
// random entries and on one random direction over all entries. The loss is a [1] output.
func fdModel(t *testing.T, m *onnx.ModelProto, loss string, feed map[string]*ort.Tensor, wrt []string, nEntries int, h, tol float64) {
	t.Helper()
	gm, names, err := Gradients(m, loss, wrt)
	if err != nil {
		t.Fatalf("Gradients: %v", err)
	}
	outs := []string{loss}
	for _, w := range wrt {
		outs = append(outs, names[w])
	}
	got := runFeed(t, session(t, gm, outs...), feed)
	fs := session(t, m, loss)
	base := values(runFeed(t, fs, feed)[0])[0]
	if g := values(got[0])[0]; math.Abs(g-base) > 1e-6*math.Max(1, math.Abs(base)) {
		t.Errorf("loss in the gradient graph %g, forward %g", g, base)
	}
	for i, w := range wrt {
		fdCheck(t, fs, feed, w, values(got[i+1]), nEntries, h, tol)
	}
}

// fdCheck compares gradient g of the first output of fs (a [1] loss) with respect to input w
// with central finite differences on nEntries random entries and along one random direction.
func fdCheck(t *testing.T, fs *ort.Session, feed map[string]*ort.Tensor, w string, g []float64, nEntries int, h, tol float64) {
	t.Helper()
	loss := fs.Outputs()[0].Name
	rng := rand.New(rand.NewPCG(3, uint64(len(w))))
	lossAt := func(w string, x *ort.Tensor) float64 {
		f := map[string]*ort.Tensor{}
		for k, v := range feed {
			f[k] = v
		}
		f[w] = x
		return values(runFeed(t, fs, f)[0])[0]
	}
	{
		x := feed[w]
		if len(g) != x.Len() {
			t.Fatalf("gradient of %s has %d entries, want %d", w, len(g), x.Len())
		}
		n := x.Len()
		var fd, an []float64
		// Random entries in float64; in float32 the largest ones, whose finite differences stand
		// out of the loss's rounding noise.
		entries := make([]int, nEntries)
		for e := range entries {
			entries[e] = rng.IntN(n)
		}
		if x.F32 != nil {
			order := make([]int, n)
			for k := range order {
				order[k] = k
			}
			sort.Slice(order, func(a, b int) bool { return math.Abs(g[order[a]]) > math.Abs(g[order[b]]) })
			entries = order[:min(nEntries, n)]
		}
		for _, j := range entries {
			d := make([]float64, n)
			d[j] = 1
			fd = append(fd, deriv(func(e float64) float64 { return lossAt(w, perturb(x, d, e)) }, h, x.F32 != nil))
			an = append(an, g[j])
		}
		d := make([]float64, n)
		dot := 0.0
		for k := range d {
			d[k] = rng.NormFloat64() / math.Sqrt(float64(n))
			dot += d[k] * g[k]
		}
		fdDir := deriv(func(e float64) float64 { return lossAt(w, perturb(x, d, e)) }, h, x.F32 != nil)
		t.Logf("d %s / d %s: relative error %.2g on %d entries, %.2g along a random direction", loss, w, relErr(an, fd, 1e-8), len(an), math.Abs(dot-fdDir)/math.Max(math.Abs(fdDir), 1e-8))
		if e := relErr(an, fd, 1e-8); e > tol || math.IsNaN(e) {
			t.Errorf("d %s / d %s on %d entries: relative error %.3g > %g\n got %v\nwant %v", loss, w, nEntries, e, tol, short(an), short(fd))
		}
		if e := math.Abs(dot-fdDir) / math.Max(math.Abs(fdDir), 1e-8); e > tol || math.IsNaN(e) {
			t.Errorf("d %s / d %s along a random direction: %g, finite differences %g (relative error %.3g > %g)", loss, w, dot, fdDir, e, tol)
		}
		if norm(g) == 0 {
			t.Errorf("gradient of %s is zero", w)
		}
	}
}

// deriv is the central finite difference of f at 0 with step h; five-point (error O(h^4)) when
// wide is set, which float32 models need to keep rounding noise small with larger steps.
func deriv(f func(float64) float64, h float64, wide bool) float64 {
	if !wide {
		return (f(h) - f(-h)) / (2 * h)
	}
	return (-f(2*h) + 8*f(h) - 8*f(-h) + f(-2*h)) / (12 * h)
}

// studentFeed builds the inputs of a cut student at sublayer s: the model inputs, the hidden
// state entering s (computed by the full model) and teacher targets from a teacher model.
func studentFeed(t testing.TB, m, teacher *onnx.ModelProto, enc *graph.Encoder, l Loss, s int, in map[string]*ort.Tensor) map[string]*ort.Tensor {
	t.Helper()
	feed := teacherTargets(t, teacher, enc, l, in, "")
	for k, v := range in {
		feed[k] = v
	}
	h := enc.SublayerInput(s)
	feed[h] = run(t, session(t, m, h), in)[0]
	return feed
}

func TestHiddenStateGradients(t *testing.T) {
	for _, h := range []graph.HeadKind{graph.HeadClassification, graph.HeadSpan, graph.HeadToken, graph.HeadRegression, graph.HeadNone} {
		for _, s := range []int{0, 3} {
			t.Run(fmt.Sprintf("%s s=%d", h, s), func(t *testing.T) {
				cfg := kindCfg(h, 1)
				cfg.Reshape = testmodel.ReshapeConcat
				m, enc := buildDiscover(t, cfg)
				tcfg := cfg
				tcfg.Seed = 2
				teacher, _ := buildDiscover(t, tcfg)
				cut, err := graph.Cut(m, enc, s)
				if err != nil {
					t.Fatal(err)
				}
				if err := redeclareInputs(cut, m); err != nil {
					t.Fatal(err)
				}
				lm, l, err := AddLoss(cut, enc, LossOptions{})
				if err != nil {
					t.Fatal(err)
				}
				in := testmodel.Inputs(cfg, 3, 6, 9)
				feed := studentFeed(t, m, teacher, enc, l, s, in)
				fdModel(t, lm, l.Name, feed, []string{enc.SublayerInput(s)}, 10, 1e-5, 1e-5)
			})
		}
	}
}

func TestTinyModelHiddenStateGradient(t *testing.T) {
	p := testutil.Shared(t, "models/tiny-bert-sst2/model.onnx")
	m, err := onnx.Load(p)
	if err != nil {
		t.Fatal(err)
	}
	enc, err := graph.Discover(m)
	if err != nil {
		t.Fatal(err)
	}
	cut, err := graph.Cut(m, enc, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := redeclareInputs(cut, m); err != nil {
		t.Fatal(err)
	}
	lm, l, err := AddLoss(cut, enc, LossOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cfg := testmodel.Config{Vocab: 1000}
	in := testmodel.Inputs(cfg, 2, 8, 4)
	// A teacher that differs from the student: targets from the student's logits scaled.
	feed := map[string]*ort.Tensor{}
	for k, v := range in {
		feed[k] = v
	}
	lo := run(t, session(t, m, enc.Outputs[0]), in)[0]
	for k := range lo.F32 {
		lo.F32[k] = -2 * lo.F32[k]
	}
	pt, _ := SoftmaxTargets(lo.F32, int(lo.Shape[0]), int(lo.Shape[1]), l.Temperature)
	feed[l.Targets[0]] = ort.F32Tensor(lo.Shape, pt)
	h := enc.SublayerInput(1)
	feed[h] = run(t, session(t, m, h), in)[0]
	fdModel(t, lm, l.Name, feed, []string{h}, 6, 5e-2, 1e-2)
}
