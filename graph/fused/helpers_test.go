package fused_test

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/kprune/kprune/onnx"
	ort "github.com/kprune/kprune/runtime"
	"google.golang.org/protobuf/proto"
)

// tol is the largest absolute difference allowed between the fused and unfused outputs.
const tol = 1e-5

// net builds small test graphs by hand: graph inputs, initializers, default-domain and
// com.microsoft nodes.
type net struct {
	nodes   []*onnx.NodeProto
	inits   []*onnx.TensorProto
	inputs  []*onnx.ValueInfoProto
	outputs []*onnx.ValueInfoProto
	rng     *rand.Rand
}

func newNet(seed uint64) *net { return &net{rng: rand.New(rand.NewPCG(seed, 7))} }

// in declares a graph input; dims are sizes, or names for symbolic dimensions.
func (g *net) in(name string, elem onnx.TensorProto_DataType, dims ...any) string {
	shape := make([]onnx.Dim, len(dims))
	for i, d := range dims {
		switch v := d.(type) {
		case int:
			shape[i] = onnx.Dim{Value: int64(v)}
		case string:
			shape[i] = onnx.Dim{Param: v}
		}
	}
	g.inputs = append(g.inputs, onnx.NewValueInfo(name, elem, shape))
	return name
}

// out declares a graph output of unknown shape.
func (g *net) out(name string, elem onnx.TensorProto_DataType) {
	g.outputs = append(g.outputs, onnx.NewValueInfo(name, elem, nil))
}

// weight adds a random float32 initializer with values in [-scale, scale).
func (g *net) weight(name string, scale float32, dims ...int64) string {
	v := make([]float32, onnx.NumElements(dims))
	for i := range v {
		v[i] = (2*g.rng.Float32() - 1) * scale
	}
	g.inits = append(g.inits, onnx.NewFloatTensor(name, dims, v))
	return name
}

// node adds a default-domain node.
func (g *net) node(op string, ins, outs []string, attrs ...*onnx.AttributeProto) {
	g.nodes = append(g.nodes, onnx.NewNode(op, "", ins, outs, attrs...))
}

// ms adds a com.microsoft node named name.
func (g *net) ms(op, name string, ins, outs []string, attrs ...*onnx.AttributeProto) {
	n := onnx.NewNode(op, name, ins, outs, attrs...)
	n.Domain = proto.String("com.microsoft")
	g.nodes = append(g.nodes, n)
}

// toInt32 adds a Cast of an int64 graph input to int32 (the runtime package feeds no int32
// inputs, com.microsoft ops want int32 ids and masks).
func (g *net) toInt32(x string) string {
	out := x + "_int32"
	g.node("Cast", []string{x}, []string{out}, onnx.AttrInt("to", int64(onnx.TensorProto_INT32)))
	return out
}

func (g *net) model(opset int64) *onnx.ModelProto {
	return &onnx.ModelProto{
		IrVersion: proto.Int64(8),
		OpsetImport: []*onnx.OperatorSetIdProto{
			{Domain: proto.String(""), Version: proto.Int64(opset)},
			{Domain: proto.String("com.microsoft"), Version: proto.Int64(1)},
		},
		Graph: &onnx.GraphProto{Name: proto.String("test"), Node: g.nodes, Initializer: g.inits, Input: g.inputs, Output: g.outputs},
	}
}

// floats returns a random float32 tensor with values in [-scale, scale).
func floats(rng *rand.Rand, scale float32, shape ...int64) *ort.Tensor {
	v := make([]float32, onnx.NumElements(shape))
	for i := range v {
		v[i] = (2*rng.Float32() - 1) * scale
	}
	return ort.F32Tensor(shape, v)
}

// ints returns an int64 tensor with the given values.
func ints(shape []int64, v ...int64) *ort.Tensor { return ort.I64Tensor(shape, v) }

// paddingMask returns a [batch, seq] 0/1 mask with lens[b] leading ones per row.
func paddingMask(seq int, lens ...int) *ort.Tensor {
	v := make([]int64, len(lens)*seq)
	for b, l := range lens {
		for j := range l {
			v[b*seq+j] = 1
		}
	}
	return ort.I64Tensor([]int64{int64(len(lens)), int64(seq)}, v)
}

// run executes m in onnxruntime on one thread and returns its outputs by name. Unfused models run
// with graph optimisations off, so that onnxruntime computes with the standard ops it was given
// rather than fusing them again.
func run(t testing.TB, m *onnx.ModelProto, in map[string]*ort.Tensor, level ort.OptLevel) map[string]*ort.Tensor {
	t.Helper()
	s, err := ort.NewSession(m, ort.Options{IntraOpThreads: 1, OptLevel: level})
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

// maxDiff returns the largest absolute difference between two tensors of the same shape,
// failing the test when their shapes or types differ.
func maxDiff(t testing.TB, name string, got, want *ort.Tensor) float64 {
	t.Helper()
	if got.Elem != want.Elem || len(got.Shape) != len(want.Shape) || got.Len() != want.Len() {
		t.Fatalf("%s: got %s %v, want %s %v", name, got.Elem, got.Shape, want.Elem, want.Shape)
	}
	for i := range got.Shape {
		if got.Shape[i] != want.Shape[i] {
			t.Fatalf("%s: got shape %v, want %v", name, got.Shape, want.Shape)
		}
	}
	d := 0.0
	switch got.Elem {
	case onnx.TensorProto_FLOAT:
		for i := range got.F32 {
			d = max(d, math.Abs(float64(got.F32[i])-float64(want.F32[i])))
			if math.IsNaN(float64(got.F32[i])) != math.IsNaN(float64(want.F32[i])) {
				return math.Inf(1)
			}
		}
	default:
		for i := range got.I64 {
			d = max(d, math.Abs(float64(got.I64[i]-want.I64[i])))
		}
	}
	return d
}

// compare runs the fused model m and its unfused form u on in and returns the largest difference
// over all outputs, failing the test above tol.
func compare(t testing.TB, m, u *onnx.ModelProto, in map[string]*ort.Tensor) float64 {
	t.Helper()
	want := run(t, m, in, ort.OptAll)
	got := run(t, u, in, ort.OptDisabled)
	worst := 0.0
	for name, w := range want {
		g, ok := got[name]
		if !ok {
			t.Fatalf("unfused model has no output %q", name)
		}
		d := maxDiff(t, name, g, w)
		if d > tol {
			t.Errorf("output %q: max abs difference %.3g > %.0e", name, d, tol)
		}
		worst = max(worst, d)
	}
	return worst
}
