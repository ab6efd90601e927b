package quantize_test

import (
	"bytes"
	"context"
	"errors"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kprune/kprune/data"
	"github.com/kprune/kprune/graph"
	"github.com/kprune/kprune/internal/testmodel"
	"github.com/kprune/kprune/onnx"
	"github.com/kprune/kprune/quantize"
	ort "github.com/kprune/kprune/runtime"
)

// run runs m on inputs and returns its outputs by name.
func run(t *testing.T, m *onnx.ModelProto, in map[string]*ort.Tensor) map[string]*ort.Tensor {
	t.Helper()
	s, err := ort.NewSession(m, ort.Options{IntraOpThreads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	feed := map[string]*ort.Tensor{}
	for _, i := range s.Inputs() {
		feed[i.Name] = in[i.Name]
	}
	res, err := s.Run(context.Background(), feed)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*ort.Tensor{}
	for _, r := range res {
		out[r.Name] = r
	}
	return out
}

// closeness returns the largest absolute difference between two runs' outputs relative to the
// largest absolute float output.
func closeness(t *testing.T, want, got map[string]*ort.Tensor) float64 {
	t.Helper()
	var diff, scale float64
	for name, w := range want {
		g := got[name]
		if g == nil || len(g.F32) != len(w.F32) {
			t.Fatalf("output %q missing or of another size", name)
		}
		for i := range w.F32 {
			diff = max(diff, math.Abs(float64(w.F32[i]-g.F32[i])))
			scale = max(scale, math.Abs(float64(w.F32[i])))
		}
	}
	return diff / max(scale, 1e-6)
}

func build(t *testing.T, cfg testmodel.Config) *onnx.ModelProto {
	t.Helper()
	m, err := testmodel.Build(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// batchesFor makes calibration batches for a model built from cfg.
func batchesFor(cfg testmodel.Config, n, size, seq int) []data.Batch {
	var out []data.Batch
	for i := range n {
		in := testmodel.Inputs(cfg, size, seq, uint64(100+i))
		b := data.Batch{Size: size, SeqLen: seq, InputIDs: in[testmodel.InputIDs].I64, AttentionMask: in[testmodel.AttentionMask].I64}
		if tt := in[testmodel.TokenTypeIDs]; tt != nil {
			b.TokenTypeIDs = tt.I64
		}
		out = append(out, b)
	}
	return out
}

var variants = []struct {
	name string
	cfg  testmodel.Config
}{
	{"classification", testmodel.Config{Seed: 1}},
	{"classification-gemm-encoder", testmodel.Config{Gemm: true, Seed: 2}},
	{"regression-opset17", testmodel.Config{Head: graph.HeadRegression, Opset: 17, Seed: 3}},
	{"span", testmodel.Config{Head: graph.HeadSpan, Seed: 4}},
	{"token", testmodel.Config{Head: graph.HeadToken, NumLabels: 3, Seed: 5}},
	{"hidden-states", testmodel.Config{Head: graph.HeadNone, Seed: 6}},
	{"pruned-widths", testmodel.Config{Hidden: 16, HeadsPerLayer: []int{2, 1}, FFNPerLayer: []int{32, 0}, Seed: 7}},
	{"transposed-weights-opset18", testmodel.Config{WeightVia: testmodel.ViaTranspose, Opset: 18, Seed: 8}},
	{"electra-projection", testmodel.Config{EmbedSize: 8, Classifier: testmodel.ClassifierElectra, Seed: 9}},
}

// TestQuantizedOutputs runs float and quantized models (dynamic per tensor and per channel, static
// per tensor and per channel) through onnxruntime and checks that the outputs stay close, that
// the head's final projection stays float, that the result is deterministic, and that the
// dequantized view has the float model's encoder.
func TestQuantizedOutputs(t *testing.T) {
	ctx := context.Background()
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			m := build(t, v.cfg)
			in := testmodel.Inputs(v.cfg, 4, 12, 1)
			want := run(t, m, in)
			encF, err := graph.Discover(m)
			if err != nil {
				t.Fatal(err)
			}
			// The calibration set holds the test batch, so that no test activation falls outside
			// its calibrated range (what is measured is the rounding, not the clipping).
			calib := append(batchesFor(v.cfg, 2, 4, 12), data.Batch{Size: 4, SeqLen: 12, InputIDs: in[testmodel.InputIDs].I64,
				AttentionMask: in[testmodel.AttentionMask].I64, TokenTypeIDs: in[testmodel.TokenTypeIDs].I64})
			for _, tc := range []struct {
				mode quantize.Mode
				opts quantize.Options
			}{
				{quantize.ModeDynamic, quantize.Options{}},
				{quantize.ModeDynamic, quantize.Options{PerChannel: true, Embeddings: true}},
				{quantize.ModeStatic, quantize.Options{}},
				{quantize.ModeStatic, quantize.Options{PerChannel: true}},
			} {
				quant := func() (*onnx.ModelProto, *quantize.Report) {
					var q *onnx.ModelProto
					var rep *quantize.Report
					var err error
					if tc.mode == quantize.ModeDynamic {
						q, rep, err = quantize.Dynamic(m, tc.opts)
					} else {
						q, rep, err = quantize.Static(ctx, m, calib, tc.opts)
					}
					if err != nil {
						t.Fatalf("%s %+v: %v", tc.mode, tc.opts, err)
					}
					return q, rep
				}
				q, rep := quant()
				label := string(tc.mode)
				if tc.opts.PerChannel {
					label += " per-channel"
				}
				got := run(t, q, in)
				if c := closeness(t, want, got); c > 0.08 {
					t.Errorf("%s: outputs differ from float by %.3f of their range", label, c)
				}
				q2, _ := quant()
				b1, _ := onnx.Encode(q)
				b2, _ := onnx.Encode(q2)
				if !bytes.Equal(b1, b2) {
					t.Errorf("%s: two runs gave different bytes", label)
				}
				// Every projection of the encoder is quantized; the head's last one is not.
				wantQ := 0
				for _, l := range encF.Layers {
					if l.MHA != nil {
						wantQ += 4
					}
					if l.FFN != nil {
						wantQ += 2
					}
				}
				if len(rep.Quantized) < wantQ {
					t.Errorf("%s: %d projections quantized, want at least the encoder's %d", label, len(rep.Quantized), wantQ)
				}
				headKept := false
				for _, k := range rep.KeptFloat {
					headKept = headKept || strings.Contains(k.Reason, "head's final projection")
				}
				if headKept == encF.Head.Embeds() {
					t.Errorf("%s: head %s: final projection kept float = %t (%+v)", label, encF.Head, headKept, rep.KeptFloat)
				}
				// The dequantized view has the same encoder and computes nearly the same function.
				dq, err := quantize.Dequantize(q)
				if err != nil {
					t.Fatalf("%s: dequantize: %v", label, err)
				}
				encQ, err := graph.Discover(dq)
				if err != nil {
					t.Fatalf("%s: discover the dequantized model: %v", label, err)
				}
				if encQ.Head != encF.Head || len(encQ.Layers) != len(encF.Layers) || encQ.Hidden != encF.Hidden {
					t.Errorf("%s: dequantized encoder %s/%d layers/%d, want %s/%d/%d", label, encQ.Head, len(encQ.Layers), encQ.Hidden, encF.Head, len(encF.Layers), encF.Hidden)
				}
				if c := closeness(t, want, run(t, dq, in)); c > 0.08 {
					t.Errorf("%s: dequantized outputs differ from float by %.3f of their range", label, c)
				}
			}
		})
	}
}

// TestGoldenBehaviour runs onnxruntime's quantize_dynamic outputs (golden) and kprune's on the
// same inputs: the outputs are identical, and both dequantize to graphs whose encoder is found.
func TestGoldenBehaviour(t *testing.T) {
	for _, c := range goldenCases(t) {
		t.Run(c.Golden, func(t *testing.T) {
			in := mustLoad(t, filepath.Join("testdata", c.Model))
			ref := mustLoad(t, filepath.Join("testdata", c.Golden))
			got, _, err := quantize.Dynamic(in, c.options())
			if err != nil {
				t.Fatal(err)
			}
			cfg := goldenInputs[strings.TrimSuffix(c.Model, ".gz")]
			feed := testmodel.Inputs(cfg, 3, 8, 2)
			a, b := run(t, ref, feed), run(t, got, feed)
			// The same graph, but onnxruntime's file carries onnx's inferred shapes (value_info),
			// with which onnxruntime fuses some Add + LayerNormalization into
			// SkipLayerNormalization, which rounds differently.
			if d := closeness(t, a, b); d > 1e-5 {
				t.Errorf("outputs differ from onnxruntime's quantized model by %g of their range", d)
			}
			if d := closeness(t, run(t, in, feed), b); d > 0.1 {
				t.Errorf("outputs differ from the float model by %.3f of their range", d)
			}
			for _, m := range []*onnx.ModelProto{ref, got} {
				dq, err := quantize.Dequantize(m)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := graph.Discover(dq); err != nil {
					t.Errorf("%s: %v", m.GetProducerName(), err)
				}
			}
		})
	}
}

func TestRefusals(t *testing.T) {
	ctx := context.Background()
	cfg := testmodel.Config{Seed: 1, MaxPos: 16, Vocab: 50}
	m := build(t, cfg)
	q, _, err := quantize.Dynamic(m, quantize.Options{})
	if err != nil {
		t.Fatal(err)
	}
	noMatMul := &onnx.ModelProto{IrVersion: m.IrVersion, OpsetImport: m.OpsetImport, Graph: &onnx.GraphProto{
		Node:   []*onnx.NodeProto{onnx.NewNode("Relu", "r", []string{"x"}, []string{"y"})},
		Input:  []*onnx.ValueInfoProto{onnx.NewValueInfo("x", onnx.TensorProto_FLOAT, []onnx.Dim{{Value: 2}})},
		Output: []*onnx.ValueInfoProto{onnx.NewValueInfo("y", onnx.TensorProto_FLOAT, []onnx.Dim{{Value: 2}})},
	}}
	old := onnx.Clone(m)
	for _, o := range old.OpsetImport {
		if o.GetDomain() == "" {
			v := int64(10)
			o.Version = &v
		}
	}
	tooLong := batchesFor(cfg, 1, 2, 20)
	badIDs := batchesFor(cfg, 1, 2, 8)
	badIDs[0].InputIDs[3] = 50
	for _, tc := range []struct {
		name   string
		run    func() error
		target error
		msg    string
	}{
		{"already quantized", func() error { _, _, err := quantize.Dynamic(q, quantize.Options{}); return err }, quantize.ErrAlreadyQuantized, "DynamicQuantizeLinear"},
		{"already quantized static", func() error { _, _, err := quantize.Static(ctx, q, badIDs, quantize.Options{}); return err }, quantize.ErrAlreadyQuantized, "quantize the float model"},
		{"no matmul", func() error { _, _, err := quantize.Dynamic(noMatMul, quantize.Options{}); return err }, quantize.ErrNoMatMul, "no MatMul or Gemm"},
		{"opset 10", func() error { _, _, err := quantize.Dynamic(old, quantize.Options{}); return err }, quantize.ErrUnsupported, "opset 11"},
		{"no calibration", func() error { _, _, err := quantize.Static(ctx, m, nil, quantize.Options{}); return err }, quantize.ErrCalibration, "no calibration batches"},
		{"too long", func() error { _, _, err := quantize.Static(ctx, m, tooLong, quantize.Options{}); return err }, quantize.ErrCalibration, "at most 16 positions"},
		{"token ids", func() error { _, _, err := quantize.Static(ctx, m, badIDs, quantize.Options{}); return err }, quantize.ErrCalibration, "vocabulary of 50 rows"},
		{"unknown exclude", func() error {
			_, _, err := quantize.Dynamic(m, quantize.Options{Exclude: []string{"nope"}})
			return err
		}, nil, "nope"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.run()
			if err == nil {
				t.Fatal("no error")
			}
			if tc.target != nil && !errors.Is(err, tc.target) {
				t.Errorf("error %q does not wrap %q", err, tc.target)
			}
			if !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("error %q does not say %q", err, tc.msg)
			}
		})
	}
}

// TestOnlyHead: a model whose only projection is the head's is refused unless Head is set.
func TestOptions(t *testing.T) {
	m := build(t, testmodel.Config{Seed: 3})
	_, all, err := quantize.Dynamic(m, quantize.Options{Head: true, Embeddings: true})
	if err != nil {
		t.Fatal(err)
	}
	_, def, err := quantize.Dynamic(m, quantize.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(all.Quantized) != len(def.Quantized)+1 {
		t.Errorf("Head quantizes %d projections, the default %d: want one more", len(all.Quantized), len(def.Quantized))
	}
	if len(all.Embeddings) == 0 || len(def.Embeddings) != 0 {
		t.Errorf("embeddings quantized: %v with Embeddings, %v without", all.Embeddings, def.Embeddings)
	}
	ex := def.Quantized[0].Node
	_, rep, err := quantize.Dynamic(m, quantize.Options{Exclude: []string{ex}})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Quantized) != len(def.Quantized)-1 || rep.Quantized[0].Node == ex {
		t.Errorf("excluding %q: %d quantized", ex, len(rep.Quantized))
	}
	if def.QuantizedWeightBytes*3 > def.FloatWeightBytes {
		t.Errorf("int8 weights take %d bytes for %d in float", def.QuantizedWeightBytes, def.FloatWeightBytes)
	}
}
