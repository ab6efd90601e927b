package testmodel

import (
	"encoding/binary"
	"math"
	"testing"

	"github.com/kprune/kprune/onnx"
	ort "github.com/kprune/kprune/runtime"
)

// mustBuild builds cfg or fails the test.
func mustBuild(t *testing.T, cfg Config) *onnx.ModelProto {
	t.Helper()
	m, err := Build(cfg)
	if err != nil {
		t.Fatalf("Build(%+v): %v", cfg, err)
	}
	return m
}

// mustNormalize normalises cfg or fails the test.
func mustNormalize(t *testing.T, cfg Config) Config {
	t.Helper()
	c, err := cfg.Normalize()
	if err != nil {
		t.Fatalf("Normalize(%+v): %v", cfg, err)
	}
	return c
}

// index gives the producers, consumers and initializers of a graph.
type index struct {
	g         *onnx.GraphProto
	producer  map[string]*onnx.NodeProto
	consumers map[string][]*onnx.NodeProto
	inits     map[string]*onnx.TensorProto
	ops       map[string]int
}

func newIndex(m *onnx.ModelProto) *index {
	ix := &index{g: m.GetGraph(), producer: map[string]*onnx.NodeProto{}, consumers: map[string][]*onnx.NodeProto{},
		inits: map[string]*onnx.TensorProto{}, ops: map[string]int{}}
	for _, t := range ix.g.GetInitializer() {
		ix.inits[t.GetName()] = t
	}
	for _, n := range ix.g.GetNode() {
		ix.ops[n.GetOpType()]++
		for _, o := range n.GetOutput() {
			ix.producer[o] = n
		}
		for _, in := range n.GetInput() {
			ix.consumers[in] = append(ix.consumers[in], n)
		}
	}
	return ix
}

// nodes returns the nodes of an op type in graph order.
func (ix *index) nodes(op string) []*onnx.NodeProto {
	var out []*onnx.NodeProto
	for _, n := range ix.g.GetNode() {
		if n.GetOpType() == op {
			out = append(out, n)
		}
	}
	return out
}

// param resolves a tensor that is an initializer, directly or through Identity, Cast or
// Transpose nodes of one (transposed tells whether a Transpose was passed).
func (ix *index) param(name string) (t *onnx.TensorProto, transposed bool) {
	for {
		if t := ix.inits[name]; t != nil {
			return t, transposed
		}
		p := ix.producer[name]
		if p == nil {
			return nil, false
		}
		switch p.GetOpType() {
		case "Identity", "Cast":
		case "Transpose":
			transposed = !transposed
		default:
			return nil, false
		}
		name = p.GetInput()[0]
	}
}

// scalar returns the value of a scalar or one-element float constant (initializer or Constant
// node output), and whether name is one.
func (ix *index) scalar(name string) (float64, bool) {
	t := ix.inits[name]
	if p := ix.producer[name]; t == nil && p != nil && p.GetOpType() == "Constant" {
		t = onnx.FindAttr(p, "value").GetT()
	}
	if t == nil || onnx.NumElements(t.GetDims()) != 1 {
		return 0, false
	}
	switch onnx.TensorProto_DataType(t.GetDataType()) {
	case onnx.TensorProto_FLOAT, onnx.TensorProto_DOUBLE:
		return floats(t)[0], true
	}
	return 0, false
}

// intScalar returns the value of a scalar int64 constant (initializer or Constant node output).
func (ix *index) intScalar(name string) (int64, bool) {
	t := ix.inits[name]
	if p := ix.producer[name]; t == nil && p != nil && p.GetOpType() == "Constant" {
		t = onnx.FindAttr(p, "value").GetT()
	}
	if t == nil || onnx.TensorProto_DataType(t.GetDataType()) != onnx.TensorProto_INT64 || onnx.NumElements(t.GetDims()) != 1 {
		return 0, false
	}
	v, err := onnx.Int64s(t)
	if err != nil {
		return 0, false
	}
	return v[0], true
}

// floats returns the values of a FLOAT or DOUBLE tensor as float64.
func floats(t *onnx.TensorProto) []float64 {
	if onnx.TensorProto_DataType(t.GetDataType()) == onnx.TensorProto_DOUBLE {
		v, err := onnx.Float64s(t)
		if err != nil {
			panic(err)
		}
		return v
	}
	f, err := onnx.Float32s(t)
	if err != nil {
		panic(err)
	}
	v := make([]float64, len(f))
	for i, x := range f {
		v[i] = float64(x)
	}
	return v
}

// setFloats replaces the values of a FLOAT or DOUBLE tensor stored in raw_data.
func setFloats(t *onnx.TensorProto, v []float64) {
	if onnx.TensorProto_DataType(t.GetDataType()) == onnx.TensorProto_DOUBLE {
		raw := make([]byte, 8*len(v))
		for i, x := range v {
			binary.LittleEndian.PutUint64(raw[8*i:], math.Float64bits(x))
		}
		t.RawData = raw
		return
	}
	raw := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(float32(x)))
	}
	t.RawData = raw
}

// byName returns the outputs keyed by name.
func byName(out []*ort.Tensor) map[string]*ort.Tensor {
	m := map[string]*ort.Tensor{}
	for _, o := range out {
		m[o.Name] = o
	}
	return m
}

// compareOutputs fails the test when the outputs of got differ from want's by more than tol.
func compareOutputs(t *testing.T, want, got []*ort.Tensor, tol float64) {
	t.Helper()
	if len(want) != len(got) {
		t.Fatalf("%d outputs, want %d", len(got), len(want))
	}
	gm := byName(got)
	for _, w := range want {
		g := gm[w.Name]
		if g == nil {
			t.Errorf("no output %q", w.Name)
			continue
		}
		if d := maxDiff(values(w), values(g)); d > tol {
			t.Errorf("output %q differs by %g (tolerance %g)", w.Name, d, tol)
		}
	}
}

// cloneInputs deep-copies an input map.
func cloneInputs(in map[string]*ort.Tensor) map[string]*ort.Tensor {
	out := map[string]*ort.Tensor{}
	for k, v := range in {
		out[k] = ort.I64Tensor(append([]int64(nil), v.Shape...), append([]int64(nil), v.I64...))
	}
	return out
}
