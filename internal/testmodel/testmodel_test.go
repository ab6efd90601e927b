package testmodel

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/kprune/kprune/graph"
	"github.com/kprune/kprune/onnx"
	ort "github.com/kprune/kprune/runtime"
)

// run builds cfg, runs it on inputs with onnxruntime and returns the outputs as float64.
func run(t *testing.T, cfg Config, in map[string]*ort.Tensor) (*onnx.ModelProto, []*ort.Tensor) {
	t.Helper()
	m, err := Build(cfg)
	if err != nil {
		t.Fatalf("Build(%+v): %v", cfg, err)
	}
	return m, runModel(t, m, in)
}

func runModel(t *testing.T, m *onnx.ModelProto, in map[string]*ort.Tensor) []*ort.Tensor {
	t.Helper()
	s, err := newSession(m)
	if err != nil {
		t.Fatalf("session: %v", err)
	}
	defer s.Close()
	out, err := s.Run(context.Background(), in)
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	return out
}

func values(t *ort.Tensor) []float64 {
	if t.F64 != nil {
		return t.F64
	}
	v := make([]float64, len(t.F32))
	for i, x := range t.F32 {
		v[i] = float64(x)
	}
	return v
}

func maxDiff(a, b []float64) float64 {
	d := 0.0
	if len(a) != len(b) {
		return math.Inf(1)
	}
	for i := range a {
		d = max(d, math.Abs(a[i]-b[i]))
	}
	return d
}

// wantShape gives the expected output shapes of a normalised cfg.
func wantShape(c Config, batch, seq int) map[string][]int64 {
	b, s := int64(batch), int64(seq)
	switch c.Head {
	case graph.HeadSpan:
		return map[string][]int64{OutputStart: {b, s}, OutputEnd: {b, s}}
	case graph.HeadToken:
		return map[string][]int64{OutputLogits: {b, s, int64(c.NumLabels)}}
	case graph.HeadNone:
		return map[string][]int64{OutputLastState: {b, s, int64(c.Hidden)}}
	default:
		return map[string][]int64{OutputLogits: {b, int64(c.NumLabels)}}
	}
}

func modelCases() []Config {
	dbl := onnx.TensorProto_DOUBLE
	return []Config{
		{},
		{Layers: 1, Heads: 1, HeadDim: 8, FFN: 16},
		{Layers: 2, Heads: 2, HeadDim: 32, FFN: 512, Opset: 17},
		{Layers: 4, Heads: 4, HeadDim: 8, FFN: 16, Gemm: true, Reshape: ReshapeConcat},
		{Layers: 1, Heads: 12, HeadDim: 8, FFN: 1536, Reshape: ReshapeMinus1, Activation: ActGeluTanh},
		{Layers: 1, Heads: 1, HeadDim: 64, FFN: 512, Opset: 17, Gemm: true, Activation: ActRelu},
		{Layers: 2, Heads: 2, HeadDim: 8, Head: graph.HeadRegression, Reshape: ReshapeConcat},
		{Layers: 2, Heads: 2, HeadDim: 8, Head: graph.HeadSpan, Opset: 17, Gemm: true},
		{Layers: 2, Heads: 2, HeadDim: 8, Head: graph.HeadToken, NumLabels: 5, Reshape: ReshapeMinus1},
		{Layers: 2, Heads: 4, HeadDim: 8, Head: graph.HeadNone, Gemm: true, Reshape: ReshapeConcat},
		{Layers: 2, Head: graph.HeadClassification, NumLabels: 3, MaskMin: true, Opset: 18},
		{Layers: 3, HeadDim: 8, Hidden: 32, HeadsPerLayer: []int{4, 1, 2}, FFNPerLayer: []int{16, 7, 64}},
		{Layers: 3, HeadDim: 8, Hidden: 32, HeadsPerLayer: []int{3, 0, 2}, FFNPerLayer: []int{16, 24, 0}, Gemm: true, Reshape: ReshapeConcat, Opset: 17},
		{Layers: 2, HeadDim: 8, Hidden: 24, HeadsPerLayer: []int{2, 3}, FFNPerLayer: []int{0, 9}, Head: graph.HeadNone, Reshape: ReshapeMinus1},
		{Layers: 2, Heads: 2, HeadDim: 8, DType: dbl},
		{Layers: 2, Heads: 2, HeadDim: 8, DType: dbl, Opset: 17, Gemm: true, Activation: ActRelu, Head: graph.HeadSpan, Reshape: ReshapeConcat},
		{Layers: 2, Heads: 2, HeadDim: 8, DType: dbl, Head: graph.HeadToken, Reshape: ReshapeMinus1, Opset: 18},
		{Layers: 1, HeadDim: 8, Hidden: 16, HeadsPerLayer: []int{1}, DType: dbl, Head: graph.HeadNone, TypeVocab: 1, MaskMin: true},
	}
}

func TestBuildRunsInORT(t *testing.T) {
	const batch, seq = 3, 7
	for i, cfg := range modelCases() {
		cfg.Seed = uint64(i)
		t.Run(fmt.Sprintf("%d", i), func(t *testing.T) {
			c, err := cfg.Normalize()
			if err != nil {
				t.Fatal(err)
			}
			m, out1 := run(t, cfg, Inputs(cfg, batch, seq, 1))
			if got := onnx.Opset(m); got != int64(c.Opset) {
				t.Errorf("opset %d, want %d", got, c.Opset)
			}
			if m.GetIrVersion() != 8 {
				t.Errorf("IR version %d, want 8", m.GetIrVersion())
			}
			out2 := runModel(t, m, Inputs(cfg, batch, seq, 2))
			want := wantShape(c, batch, seq)
			if len(out1) != len(want) {
				t.Fatalf("%d outputs, want %d", len(out1), len(want))
			}
			for k, o := range out1 {
				ws, ok := want[o.Name]
				if !ok || fmt.Sprint(o.Shape) != fmt.Sprint(ws) {
					t.Errorf("output %q has shape %v, want %v (want outputs %v)", o.Name, o.Shape, ws, want)
				}
				if o.Elem != c.DType {
					t.Errorf("output %q is %v, want %v", o.Name, o.Elem, c.DType)
				}
				v1, v2 := values(o), values(out2[k])
				spread := 0.0
				for _, x := range v1 {
					if math.IsNaN(x) || math.IsInf(x, 0) {
						t.Fatalf("output %q has non-finite value %v", o.Name, x)
					}
					spread = max(spread, math.Abs(x-v1[0]))
				}
				if spread < 1e-3 {
					t.Errorf("output %q is nearly constant within a batch (spread %g): %v", o.Name, spread, v1)
				}
				if d := maxDiff(v1, v2); d < 1e-2 {
					t.Errorf("output %q hardly changes with the inputs (max diff %g)", o.Name, d)
				}
			}
			for _, in := range m.GetGraph().GetInput() {
				_, shape, ok := onnx.ValueInfoShape(in)
				if !ok || onnx.FormatShape(shape) != "[batch,seq]" {
					t.Errorf("input %q shape %v, want [batch,seq]", in.GetName(), shape)
				}
			}
		})
	}
}

func TestDeterminism(t *testing.T) {
	cfg := Config{Layers: 2, Heads: 2, HeadDim: 8, FFN: 16, Seed: 7, Reshape: ReshapeConcat}
	enc := func(c Config) []byte {
		m, err := Build(c)
		if err != nil {
			t.Fatal(err)
		}
		b, err := onnx.Encode(m)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	a, b := enc(cfg), enc(cfg)
	if !bytes.Equal(a, b) {
		t.Fatal("two builds of the same Config encode differently")
	}
	cfg.Seed = 8
	if bytes.Equal(a, enc(cfg)) {
		t.Fatal("different seeds give identical models")
	}
}

// TestPaddingInvariance changes input_ids and token_type_ids at padded positions: the logits of
// every row must stay the same, and must change when a real token changes.
func TestPaddingInvariance(t *testing.T) {
	for _, cfg := range []Config{
		{Layers: 2, Heads: 2, HeadDim: 8, Seed: 3},
		{Layers: 2, Heads: 2, HeadDim: 8, Seed: 3, MaskMin: true, Opset: 17, Gemm: true},
		{Layers: 2, Heads: 2, HeadDim: 8, Seed: 3, DType: onnx.TensorProto_DOUBLE, Reshape: ReshapeMinus1},
	} {
		t.Run(fmt.Sprintf("maskmin=%v,%v", cfg.MaskMin, cfg.DType), func(t *testing.T) {
			const batch, seq = 6, 9
			in := Inputs(cfg, batch, seq, 5)
			m, base := run(t, cfg, in)
			mask := in[AttentionMask].I64
			changed := Inputs(cfg, batch, seq, 5)
			padded := 0
			for i, v := range mask {
				if v == 0 {
					padded++
					changed[InputIDs].I64[i] = int64(1 + (i*37)%(DefaultVocab-1))
					changed[TokenTypeIDs].I64[i] = 1
				}
			}
			if padded == 0 || mask[seq-1] == 0 {
				t.Fatalf("inputs have %d padded positions and row 0 padded=%v; want padding only after row 0", padded, mask[seq-1] == 0)
			}
			out := runModel(t, m, changed)
			if d := maxDiff(values(base[0]), values(out[0])); d > 1e-6 {
				t.Errorf("changing padded tokens moved the logits by %g", d)
			}
			changed[InputIDs].I64[1] = 1 + (changed[InputIDs].I64[1] % (DefaultVocab - 1))
			out = runModel(t, m, changed)
			if d := maxDiff(values(base[0])[:2], values(out[0])[:2]); d < 1e-6 {
				t.Errorf("changing a real token of row 0 left its logits unchanged")
			}
		})
	}
}

// TestEquivalentForms checks that structural variants of a Config compute the same function.
func TestEquivalentForms(t *testing.T) {
	base := Config{Layers: 2, HeadDim: 8, Hidden: 24, HeadsPerLayer: []int{3, 2}, FFNPerLayer: []int{20, 12}, Seed: 11}
	type variant struct {
		name string
		edit func(*Config)
	}
	variants := []variant{
		{"opset17", func(c *Config) { c.Opset = 17 }},
		{"opset18", func(c *Config) { c.Opset = 18 }},
		{"gemm", func(c *Config) { c.Gemm = true }},
		{"concat", func(c *Config) { c.Reshape = ReshapeConcat }},
		{"minus1", func(c *Config) { c.Reshape = ReshapeMinus1 }},
		{"maskmin", func(c *Config) { c.MaskMin = true }},
		{"all", func(c *Config) { c.Opset, c.Gemm, c.Reshape = 17, true, ReshapeConcat }},
	}
	for _, head := range []graph.HeadKind{graph.HeadClassification, graph.HeadSpan, graph.HeadNone} {
		cfg := base
		cfg.Head = head
		in := Inputs(cfg, 4, 8, 9)
		_, want := run(t, cfg, in)
		for _, v := range variants {
			t.Run(string(head)+"/"+v.name, func(t *testing.T) {
				c := cfg
				v.edit(&c)
				_, got := run(t, c, in)
				for k := range want {
					if d := maxDiff(values(want[k]), values(got[k])); d > 1e-5 {
						t.Errorf("output %q differs from the base form by %g", want[k].Name, d)
					}
				}
			})
		}
	}
}

// TestNoSelfDescribingNames checks that no tensor or node name reveals the structure.
func TestNoSelfDescribingNames(t *testing.T) {
	m, err := Build(Config{Layers: 2})
	if err != nil {
		t.Fatal(err)
	}
	bad := []string{"layer", "query", "key", "value", "attention", "dense", "ffn", "intermediate", "LayerNorm", "ln", "embed", "pool", "classifier"}
	check := func(kind, name string) {
		for _, w := range bad {
			if strings.Contains(strings.ToLower(name), strings.ToLower(w)) {
				t.Errorf("%s name %q contains %q", kind, name, w)
			}
		}
	}
	seen := map[string]bool{}
	for _, n := range m.GetGraph().GetNode() {
		check("node", n.GetName())
		if seen[n.GetName()] {
			t.Errorf("node name %q is used twice", n.GetName())
		}
		seen[n.GetName()] = true
		for _, o := range n.GetOutput() {
			if o != OutputLogits {
				check("tensor", o)
			}
		}
	}
	for _, init := range m.GetGraph().GetInitializer() {
		check("initializer", init.GetName())
	}
}

func TestNormalizeErrors(t *testing.T) {
	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{Layers: -1}, "Layers"},
		{Config{Heads: -2}, "Heads"},
		{Config{Layers: 2, HeadsPerLayer: []int{1}}, "HeadsPerLayer has 1 entries"},
		{Config{Layers: 2, FFNPerLayer: []int{1, 2, 3}}, "FFNPerLayer has 3 entries"},
		{Config{Layers: 1, HeadsPerLayer: []int{-1}}, "HeadsPerLayer[0]"},
		{Config{Layers: 1, HeadsPerLayer: []int{0}}, "set Hidden"},
		{Config{Vocab: 1}, "Vocab"},
		{Config{Opset: 12}, "Opset"},
		{Config{DType: onnx.TensorProto_INT64}, "DType"},
		{Config{Head: "bogus"}, "unknown Head"},
		{Config{NumLabels: 1}, "classification"},
		{Config{Head: graph.HeadRegression, NumLabels: 2}, "regression"},
		{Config{Head: graph.HeadSpan, NumLabels: 2}, "span"},
		{Config{Reshape: "flat"}, "Reshape"},
		{Config{Activation: "swish"}, "Activation"},
		{Config{Activation: ActGeluErf, DType: onnx.TensorProto_DOUBLE}, "Erf"},
	} {
		_, err := Build(tc.cfg)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Build(%+v) error %v, want one mentioning %q", tc.cfg, err, tc.want)
		}
	}
}

func newSession(m *onnx.ModelProto) (*ort.Session, error) {
	return ort.NewSession(m, ort.Options{IntraOpThreads: 1, InterOpThreads: 1})
}
