package quantize_test

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/kprune/kprune/graph"
	"github.com/kprune/kprune/internal/testmodel"
	"github.com/kprune/kprune/onnx"
	"github.com/kprune/kprune/quantize"
)

var update = flag.Bool("update", false, "rewrite the tiny input models of testdata (then run scripts/quantize_reference.py golden)")

// goldenInputs are the tiny float models onnxruntime's quantize_dynamic was run on to make the
// golden files of testdata (scripts/quantize_reference.py golden).
var goldenInputs = map[string]testmodel.Config{
	// MatMul + Add everywhere, span head.
	"tiny-span.onnx": {Layers: 1, Hidden: 8, HeadDim: 4, FFN: 16, Vocab: 24, MaxPos: 8, Head: graph.HeadSpan, Opset: 17, Seed: 7},
	// Gemm pooler and classifier, two layers of different widths (as after pruning).
	"tiny-cls.onnx": {Layers: 2, Hidden: 8, HeadDim: 4, HeadsPerLayer: []int{2, 1}, FFNPerLayer: []int{16, 6}, Vocab: 24, MaxPos: 8, Opset: 17, Seed: 8},
}

// TestGoldenInputs checks (and with -update writes) the tiny input models of testdata.
func TestGoldenInputs(t *testing.T) {
	names := make([]string, 0, len(goldenInputs))
	for n := range goldenInputs {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		m, err := testmodel.Build(goldenInputs[name])
		if err != nil {
			t.Fatal(err)
		}
		b, err := onnx.Encode(m)
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join("testdata", name+".gz")
		if *update {
			var buf bytes.Buffer
			zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
			zw.Write(b)
			if err := zw.Close(); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if _, err := os.Stat(path); err != nil {
			t.Fatalf("%s missing: run go test ./quantize -run TestGoldenInputs -update", path)
		}
	}
}

// goldenCase is one entry of testdata/golden.json.
type goldenCase struct {
	Model  string `json:"model"`
	Golden string `json:"golden"`
	Kprune struct {
		Embeddings  bool `json:"embeddings"`
		Head        bool `json:"head"`
		PerChannel  bool `json:"per_channel"`
		ReduceRange bool `json:"reduce_range"`
	} `json:"kprune"`
}

func goldenCases(t *testing.T) []goldenCase {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "golden.json"))
	if err != nil {
		t.Fatal(err)
	}
	var meta struct {
		ONNXRuntime string       `json:"onnxruntime"`
		Cases       []goldenCase `json:"cases"`
	}
	if err := json.Unmarshal(b, &meta); err != nil {
		t.Fatal(err)
	}
	if len(meta.Cases) == 0 {
		t.Fatal("golden.json lists no cases")
	}
	return meta.Cases
}

func (c goldenCase) options() quantize.Options {
	return quantize.Options{Embeddings: c.Kprune.Embeddings, Head: c.Kprune.Head, PerChannel: c.Kprune.PerChannel, ReduceRange: c.Kprune.ReduceRange}
}

// mustLoad reads a model, gunzipping files ending in .gz.
func mustLoad(t *testing.T, path string) *onnx.ModelProto {
	t.Helper()
	if !strings.HasSuffix(path, ".gz") {
		m, err := onnx.Load(path)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	m, err := onnx.Decode(b)
	if err != nil {
		t.Fatal(path, err)
	}
	return m
}

// TestDynamicMatchesOnnxruntime compares kprune's dynamic quantization with onnxruntime's
// quantize_dynamic applied to the same tiny models (golden files from
// scripts/quantize_reference.py): the same nodes (op type, inputs, outputs, attributes), the same
// int8 weights and zero points, and the same scales, bit for bit.
func TestDynamicMatchesOnnxruntime(t *testing.T) {
	for _, c := range goldenCases(t) {
		t.Run(c.Golden, func(t *testing.T) {
			in := mustLoad(t, filepath.Join("testdata", c.Model))
			want := mustLoad(t, filepath.Join("testdata", c.Golden))
			got, rep, err := quantize.Dynamic(in, c.options())
			if err != nil {
				t.Fatal(err)
			}
			if len(rep.Quantized) == 0 {
				t.Fatal("nothing quantized")
			}
			if d := diffGraphs(got, want); d != "" {
				t.Errorf("kprune's graph differs from onnxruntime's quantize_dynamic:\n%s", d)
			}
		})
	}
}

// canonNode renders a node without its name: op(inputs)->outputs{attributes}.
func canonNode(n *onnx.NodeProto) string {
	var attrs []string
	for _, a := range n.GetAttribute() {
		switch a.GetType() {
		case onnx.AttributeProto_INT:
			attrs = append(attrs, fmt.Sprintf("%s=%d", a.GetName(), a.GetI()))
		case onnx.AttributeProto_FLOAT:
			attrs = append(attrs, fmt.Sprintf("%s=%g", a.GetName(), a.GetF()))
		case onnx.AttributeProto_INTS:
			attrs = append(attrs, fmt.Sprintf("%s=%v", a.GetName(), a.GetInts()))
		case onnx.AttributeProto_STRING:
			attrs = append(attrs, fmt.Sprintf("%s=%q", a.GetName(), a.GetS()))
		default:
			attrs = append(attrs, a.GetName())
		}
	}
	sort.Strings(attrs)
	return fmt.Sprintf("%s(%s)->%s{%s}", n.GetOpType(), strings.Join(n.GetInput(), ","), strings.Join(n.GetOutput(), ","), strings.Join(attrs, ","))
}

// diffGraphs compares two graphs as sets of nodes (names aside) and initializers (by name:
// type, dims and values); it returns "" when they are the same.
func diffGraphs(got, want *onnx.ModelProto) string {
	var out []string
	set := func(m *onnx.ModelProto) map[string]int {
		s := map[string]int{}
		for _, n := range m.GetGraph().GetNode() {
			s[canonNode(n)]++
		}
		return s
	}
	gs, ws := set(got), set(want)
	for k, n := range ws {
		if gs[k] != n {
			out = append(out, fmt.Sprintf("onnxruntime has %d, kprune %d: %s", n, gs[k], k))
		}
	}
	for k, n := range gs {
		if _, ok := ws[k]; !ok {
			out = append(out, fmt.Sprintf("kprune has %d, onnxruntime 0: %s", n, k))
		}
	}
	inits := func(m *onnx.ModelProto) map[string]*onnx.TensorProto {
		s := map[string]*onnx.TensorProto{}
		for _, t := range m.GetGraph().GetInitializer() {
			s[t.GetName()] = t
		}
		return s
	}
	gi, wi := inits(got), inits(want)
	for name, w := range wi {
		g := gi[name]
		if g == nil {
			out = append(out, "initializer missing from kprune's: "+name)
			continue
		}
		if d := diffTensors(g, w); d != "" {
			out = append(out, name+": "+d)
		}
	}
	for name := range gi {
		if wi[name] == nil {
			out = append(out, "initializer only in kprune's: "+name)
		}
	}
	sort.Strings(out)
	if len(out) > 40 {
		out = append(out[:40], fmt.Sprintf("... and %d more", len(out)-40))
	}
	return strings.Join(out, "\n")
}

func diffTensors(g, w *onnx.TensorProto) string {
	if g.GetDataType() != w.GetDataType() {
		return fmt.Sprintf("type %s, onnxruntime's %s", onnx.DataTypeName(g.GetDataType()), onnx.DataTypeName(w.GetDataType()))
	}
	if fmt.Sprint(g.GetDims()) != fmt.Sprint(w.GetDims()) {
		return fmt.Sprintf("dims %v, onnxruntime's %v", g.GetDims(), w.GetDims())
	}
	switch onnx.TensorProto_DataType(g.GetDataType()) {
	case onnx.TensorProto_FLOAT:
		a, err1 := onnx.Float32s(g)
		b, err2 := onnx.Float32s(w)
		if err1 != nil || err2 != nil {
			return fmt.Sprint(err1, err2)
		}
		for i := range a {
			if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
				return fmt.Sprintf("value %d is %g, onnxruntime's %g", i, a[i], b[i])
			}
		}
	case onnx.TensorProto_INT8, onnx.TensorProto_UINT8:
		a, b := int8Bytes(g), int8Bytes(w)
		if !bytes.Equal(a, b) {
			n := 0
			first := -1
			for i := range a {
				if i < len(b) && a[i] != b[i] {
					n++
					if first < 0 {
						first = i
					}
				}
			}
			return fmt.Sprintf("%d of %d values differ (first at %d)", n, len(a), first)
		}
	}
	return ""
}

// int8Bytes returns the bytes of an 8-bit integer tensor, from raw_data or int32_data.
func int8Bytes(t *onnx.TensorProto) []byte {
	if len(t.GetRawData()) > 0 || len(t.GetInt32Data()) == 0 {
		return t.GetRawData()
	}
	b := make([]byte, len(t.GetInt32Data()))
	for i, v := range t.GetInt32Data() {
		b[i] = byte(v)
	}
	return b
}

// TestReferenceFile compares kprune's dynamic quantization of a model with onnxruntime's
// quantize_dynamic output for it, made by scripts/quantize_reference.py (developer check of a
// real model; skipped unless KPRUNE_QUANT_REF="FLOAT.onnx:ORT.onnx[:per-channel]" is set). kprune
// runs with embeddings and head quantized, as quantize_dynamic's defaults do.
func TestReferenceFile(t *testing.T) {
	spec := os.Getenv("KPRUNE_QUANT_REF")
	if spec == "" {
		t.Skip("KPRUNE_QUANT_REF not set")
	}
	parts := strings.Split(spec, ":")
	if len(parts) < 2 {
		t.Fatalf("KPRUNE_QUANT_REF=%q: want FLOAT.onnx:ORT.onnx[:per-channel]", spec)
	}
	opts := quantize.Options{Embeddings: true, Head: true, PerChannel: len(parts) > 2 && parts[2] == "per-channel"}
	got, _, err := quantize.Dynamic(mustLoad(t, parts[0]), opts)
	if err != nil {
		t.Fatal(err)
	}
	if d := diffGraphs(got, mustLoad(t, parts[1])); d != "" {
		t.Errorf("kprune's graph differs from onnxruntime's:\n%s", d)
	}
}
