package graph_test

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/kprune/kprune/graph"
	"github.com/kprune/kprune/internal/testmodel"
	"github.com/kprune/kprune/internal/testutil"
	"github.com/kprune/kprune/onnx"
	ort "github.com/kprune/kprune/runtime"
)

// The shared models, relative to the shared folder, and where the demo model lives.
const (
	tiny14  = "models/tiny-bert-sst2/model.onnx"
	tiny17  = "models/tiny-bert-sst2/model-opset17.onnx"
	tinyORT = "models/tiny-bert-sst2/model-ort-optimized.onnx"
	l4op14  = "models/bert-l4-sst2/model.onnx"
	l4op17  = "models/bert-l4-sst2/model-opset17.onnx"
	demo    = "demo"
)

var modelCache sync.Map // path -> *onnx.ModelProto

// loadModel loads a shared model (or the demo model) once per test binary; models are treated
// as immutable so they can be shared between tests.
func loadModel(t testing.TB, rel string) *onnx.ModelProto {
	t.Helper()
	var p string
	if rel == demo {
		p = testutil.RepoRoot() + "/demo/model.onnx"
	} else {
		p = testutil.Shared(t, rel)
	}
	if m, ok := modelCache.Load(p); ok {
		return m.(*onnx.ModelProto)
	}
	m, err := onnx.Load(p)
	if err != nil {
		t.Fatalf("loading %s: %v", p, err)
	}
	modelCache.Store(p, m)
	return m
}

func discover(t testing.TB, m *onnx.ModelProto) *graph.Encoder {
	t.Helper()
	enc, err := graph.Discover(m)
	if err != nil {
		t.Fatalf("Discover: %v", err)
	}
	return enc
}

// run executes m with onnxruntime (one thread) and returns the requested tensors by name (the
// graph outputs when outputs is empty). Intermediate tensors are exposed with graph.AddOutputs,
// which types them (runtime's Options.Outputs would declare them float).
func run(t testing.TB, m *onnx.ModelProto, in map[string]*ort.Tensor, outputs ...string) map[string]*ort.Tensor {
	t.Helper()
	if len(outputs) > 0 {
		m = graph.AddOutputs(m, outputs...)
	}
	s, err := ort.NewSession(m, ort.Options{IntraOpThreads: 1, Outputs: outputs})
	if err != nil {
		t.Fatalf("session: %v", err)
	}
	defer s.Close()
	res, err := s.Run(context.Background(), in)
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	out := map[string]*ort.Tensor{}
	for i, info := range s.Outputs() {
		out[info.Name] = res[i]
	}
	return out
}

func values(x *ort.Tensor) []float64 {
	if x.F64 != nil {
		return x.F64
	}
	v := make([]float64, len(x.F32))
	for i, f := range x.F32 {
		v[i] = float64(f)
	}
	return v
}

// relErr is max|got-want| / max|want|: the error relative to the tensor's scale.
func relErr(got, want *ort.Tensor) float64 {
	a, b := values(got), values(want)
	if len(a) != len(b) || fmt.Sprint(got.Shape) != fmt.Sprint(want.Shape) {
		return math.Inf(1)
	}
	var d, s float64
	for i := range a {
		d = max(d, math.Abs(a[i]-b[i]))
		s = max(s, math.Abs(b[i]))
	}
	if s == 0 {
		return d
	}
	return d / s
}

// assertClose checks every tensor of want against got within rtol relative error.
func assertClose(t testing.TB, what string, got, want map[string]*ort.Tensor, rtol float64) {
	t.Helper()
	if len(want) == 0 {
		t.Fatalf("%s: nothing to compare", what)
	}
	for name, w := range want {
		g, ok := got[name]
		if !ok {
			t.Errorf("%s: output %q missing", what, name)
			continue
		}
		if e := relErr(g, w); e > rtol || math.IsNaN(e) {
			t.Errorf("%s: output %q differs: relative error %.3g > %.0g (shapes %v, %v)", what, name, e, rtol, g.Shape, w.Shape)
		}
	}
}

func encode(t testing.TB, m *onnx.ModelProto) []byte {
	t.Helper()
	b, err := onnx.Encode(m)
	if err != nil {
		t.Fatalf("encode: %v", err)
	}
	return b
}

// unchanged fails when m no longer encodes to before.
func unchanged(t testing.TB, what string, m *onnx.ModelProto, before []byte) {
	t.Helper()
	if !bytes.Equal(encode(t, m), before) {
		t.Errorf("%s modified its input model", what)
	}
}

// sharedInputs returns inputs for a shared (or demo) model: the word-embedding table size from
// the model, padding in every row but the first.
func sharedInputs(t testing.TB, m *onnx.ModelProto, enc *graph.Encoder, batch, seq int, seed uint64) map[string]*ort.Tensor {
	t.Helper()
	vocab := 0
	for _, init := range m.GetGraph().GetInitializer() {
		if d := init.GetDims(); len(d) == 2 && int(d[0]) > vocab && d[1] == int64(enc.Hidden) {
			vocab = int(d[0])
		}
	}
	in := testmodel.Inputs(testmodel.Config{Vocab: vocab, TypeVocab: 2}, batch, seq, seed)
	out := map[string]*ort.Tensor{
		enc.InputIDs:      in[testmodel.InputIDs],
		enc.AttentionMask: in[testmodel.AttentionMask],
	}
	if enc.TokenTypeIDs != "" {
		out[enc.TokenTypeIDs] = in[testmodel.TokenTypeIDs]
	}
	return out
}

// withMasks returns a copy of in plus the given mask tensors.
func withMasks(in map[string]*ort.Tensor, masks map[string]*ort.Tensor) map[string]*ort.Tensor {
	out := map[string]*ort.Tensor{}
	for k, v := range in {
		out[k] = v
	}
	for k, v := range masks {
		out[k] = v
	}
	return out
}

// maskTensor builds a [W] mask of the model's element type (or [batch,1,W] repeated when
// batch > 0).
func maskTensor(vals []float64, elem onnx.TensorProto_DataType, batch int) *ort.Tensor {
	shape := []int64{int64(len(vals))}
	rep := 1
	if batch > 0 {
		shape = []int64{int64(batch), 1, int64(len(vals))}
		rep = batch
	}
	if elem == onnx.TensorProto_DOUBLE {
		d := make([]float64, 0, rep*len(vals))
		for range rep {
			d = append(d, vals...)
		}
		return ort.F64Tensor(shape, d)
	}
	f := make([]float32, 0, rep*len(vals))
	for range rep {
		for _, v := range vals {
			f = append(f, float32(v))
		}
	}
	return ort.F32Tensor(shape, f)
}

func modelElem(t testing.TB, m *onnx.ModelProto, enc *graph.Encoder) onnx.TensorProto_DataType {
	for _, init := range m.GetGraph().GetInitializer() {
		if init.GetName() == enc.Layers[0].MHA.Q.Weight {
			return onnx.TensorProto_DataType(init.GetDataType())
		}
	}
	t.Fatalf("weight not found")
	return 0
}

// randomPlan draws a 0/1 mask per head and neuron with keep probability p (never emptying a
// sublayer unless allowEmpty) and returns the plan and the masks per sublayer.
func randomPlan(enc *graph.Encoder, p float64, seed uint64, allowEmpty bool) (graph.Plan, map[int][]float64) {
	r := rand.New(rand.NewPCG(seed, 7))
	var plan graph.Plan
	masks := map[int][]float64{}
	for l, layer := range enc.Layers {
		var heads, neurons []int
		if layer.MHA != nil {
			mask := make([]float64, layer.MHA.Heads*layer.MHA.HeadDim)
			heads = []int{}
			for h := range layer.MHA.Heads {
				if r.Float64() < p {
					heads = append(heads, h)
				}
			}
			if len(heads) == 0 && !allowEmpty {
				heads = []int{r.IntN(layer.MHA.Heads)}
			}
			for _, h := range heads {
				for j := range layer.MHA.HeadDim {
					mask[h*layer.MHA.HeadDim+j] = 1
				}
			}
			masks[2*l] = mask
		}
		if layer.FFN != nil {
			mask := make([]float64, layer.FFN.Width)
			neurons = []int{}
			for n := range layer.FFN.Width {
				if r.Float64() < p {
					neurons = append(neurons, n)
					mask[n] = 1
				}
			}
			if len(neurons) == 0 && !allowEmpty {
				n := r.IntN(layer.FFN.Width)
				neurons = []int{n}
				mask[n] = 1
			}
			masks[2*l+1] = mask
		}
		plan.Heads = append(plan.Heads, heads)
		plan.Neurons = append(plan.Neurons, neurons)
	}
	return plan, masks
}

func sublayerList(masks map[int][]float64) []int {
	var s []int
	for k := range masks {
		s = append(s, k)
	}
	for i := range s {
		for j := i + 1; j < len(s); j++ {
			if s[j] < s[i] {
				s[i], s[j] = s[j], s[i]
			}
		}
	}
	return s
}

// maskInputs turns per-sublayer mask values into named mask tensors.
func maskInputs(masks map[int][]float64, elem onnx.TensorProto_DataType, batch int) map[string]*ort.Tensor {
	out := map[string]*ort.Tensor{}
	for s, v := range masks {
		out[graph.MaskName(s)] = maskTensor(v, elem, batch)
	}
	return out
}

// sameStructure compares two encoders' structure and tensor names.
func sameStructure(t testing.TB, what string, got, want *graph.Encoder) {
	t.Helper()
	if got.Hidden != want.Hidden || len(got.Layers) != len(want.Layers) || got.Head != want.Head ||
		fmt.Sprint(got.Outputs) != fmt.Sprint(want.Outputs) || got.NumLabels != want.NumLabels {
		t.Fatalf("%s: encoder differs: got hidden %d, %d layers, head %s %v %d; want %d, %d, %s %v %d", what,
			got.Hidden, len(got.Layers), got.Head, got.Outputs, got.NumLabels, want.Hidden, len(want.Layers), want.Head, want.Outputs, want.NumLabels)
	}
	for l := range want.Layers {
		g, w := got.Layers[l], want.Layers[l]
		if (g.MHA == nil) != (w.MHA == nil) || (g.FFN == nil) != (w.FFN == nil) {
			t.Fatalf("%s: layer %d: removed sublayers differ: got MHA %v FFN %v, want MHA %v FFN %v", what, l, g.MHA != nil, g.FFN != nil, w.MHA != nil, w.FFN != nil)
		}
		if g.MHAInput != w.MHAInput || g.MHAOutput != w.MHAOutput || g.FFNInput != w.FFNInput || g.FFNOutput != w.FFNOutput {
			t.Errorf("%s: layer %d: sublayer tensors differ: got %+v want %+v", what, l, g, w)
		}
		if w.MHA != nil && fmt.Sprintf("%+v", *g.MHA) != fmt.Sprintf("%+v", *w.MHA) {
			t.Errorf("%s: layer %d attention differs:\n got %+v\nwant %+v", what, l, *g.MHA, *w.MHA)
		}
		if w.FFN != nil && fmt.Sprintf("%+v", *g.FFN) != fmt.Sprintf("%+v", *w.FFN) {
			t.Errorf("%s: layer %d FFN differs:\n got %+v\nwant %+v", what, l, *g.FFN, *w.FFN)
		}
	}
}
