package autodiff

import (
	"bytes"
	"context"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/kprune/kprune/graph/infer"
	"github.com/kprune/kprune/onnx"
	ort "github.com/kprune/kprune/runtime"
	"google.golang.org/protobuf/proto"
)

// tin is a graph input of a test case.
type tin struct {
	name  string
	decl  []onnx.Dim // declared shape (may be symbolic)
	shape []int64    // run-time shape
	wrt   bool       // differentiate with respect to it
	pos   bool       // values in [0.5, 2) instead of N(0,1)
	ints  []int64    // int64 input values (for integer inputs)
}

// gcase is a small forward graph whose output y gets a random-weighted sum as the loss.
type gcase struct {
	name   string
	elem   onnx.TensorProto_DataType
	opset  int64
	inputs []tin
	inits  []*onnx.TensorProto
	nodes  []*onnx.NodeProto
	out    string
	// outShape is y's run-time shape (for the random loss weights).
	outShape []int64
	tol      float64
	// rdecl is the declared shape of the loss weights r (default: outShape).
	rdecl []onnx.Dim
	// zeroOK lists wrt inputs whose gradient is expected to be zero.
	zeroOK map[string]bool
}

func dims(d ...any) []onnx.Dim {
	out := make([]onnx.Dim, len(d))
	for k, v := range d {
		switch x := v.(type) {
		case int:
			out[k] = onnx.Dim{Value: int64(x)}
		case string:
			out[k] = onnx.Dim{Param: x}
		}
	}
	return out
}

func sh(d ...int64) []int64 { return d }

// model builds the case's model with an output "loss" of shape [1] = sum(y * r), r an input.
func (c gcase) model() *onnx.ModelProto {
	g := &onnx.GraphProto{Name: proto.String(c.name)}
	for _, in := range c.inputs {
		elem := c.elem
		if in.ints != nil {
			elem = onnx.TensorProto_INT64
		}
		g.Input = append(g.Input, onnx.NewValueInfo(in.name, elem, in.decl))
	}
	rdecl := c.rdecl
	if rdecl == nil {
		rdecl = dimsOf(c.outShape)
	}
	g.Input = append(g.Input, onnx.NewValueInfo("r", c.elem, rdecl))
	g.Initializer = c.inits
	g.Node = append([]*onnx.NodeProto{}, c.nodes...)
	g.Node = append(g.Node,
		onnx.NewNode("Mul", "loss_mul", []string{c.out, "r"}, []string{"loss_prod"}),
		onnx.NewNode("ReduceSum", "loss_sum", []string{"loss_prod"}, []string{"loss_all"}),
		onnx.NewNode("Reshape", "loss_reshape", []string{"loss_all", "loss_shape"}, []string{"loss"}))
	g.Initializer = append(append([]*onnx.TensorProto{}, g.Initializer...), onnx.NewInt64Tensor("loss_shape", []int64{1}, []int64{1}))
	g.Output = []*onnx.ValueInfoProto{onnx.NewValueInfo("loss", c.elem, []onnx.Dim{{Value: 1}}), onnx.NewValueInfo(c.out, c.elem, nil)}
	return &onnx.ModelProto{IrVersion: proto.Int64(8), Graph: g, OpsetImport: []*onnx.OperatorSetIdProto{{Version: proto.Int64(c.opset)}}}
}

func tensorOf(elem onnx.TensorProto_DataType, shape []int64, v []float64) *ort.Tensor {
	if elem == onnx.TensorProto_DOUBLE {
		return ort.F64Tensor(shape, append([]float64{}, v...))
	}
	f := make([]float32, len(v))
	for k, x := range v {
		f[k] = float32(x)
	}
	return ort.F32Tensor(shape, f)
}

func values(t *ort.Tensor) []float64 {
	if t.F64 != nil {
		return t.F64
	}
	out := make([]float64, len(t.F32))
	for k, x := range t.F32 {
		out[k] = float64(x)
	}
	return out
}

func randVals(rng *rand.Rand, n int64, pos bool) []float64 {
	v := make([]float64, n)
	for k := range v {
		if pos {
			v[k] = 0.5 + 1.5*rng.Float64()
		} else {
			v[k] = rng.NormFloat64()
		}
	}
	return v
}

// relErr is the norm-wise relative error ||a-b|| / max(||b||, floor).
func relErr(a, b []float64, floor float64) float64 {
	var num, den float64
	for k := range a {
		num += (a[k] - b[k]) * (a[k] - b[k])
		den += b[k] * b[k]
	}
	return math.Sqrt(num) / math.Max(math.Sqrt(den), floor)
}

func session(t testing.TB, m *onnx.ModelProto, outputs ...string) *ort.Session {
	t.Helper()
	m = withOutputs(t, m, outputs)
	s, err := ort.NewSession(m, ort.Options{IntraOpThreads: 1, Outputs: outputs})
	if err != nil {
		t.Fatalf("session: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func run(t testing.TB, s *ort.Session, in map[string]*ort.Tensor) []*ort.Tensor {
	t.Helper()
	out, err := s.Run(context.Background(), in)
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	return out
}

// check compares the analytic gradients of the case with central finite differences.
func (c gcase) check(t *testing.T) {
	t.Helper()
	m := c.model()
	before, _ := onnx.Encode(m)
	var wrt []string
	for _, in := range c.inputs {
		if in.wrt {
			wrt = append(wrt, in.name)
		}
	}
	gm, names, err := Gradients(m, "loss", wrt)
	if err != nil {
		t.Fatalf("Gradients: %v", err)
	}
	if after, _ := onnx.Encode(m); !bytes.Equal(before, after) {
		t.Fatalf("Gradients modified its input model")
	}
	rng := rand.New(rand.NewPCG(uint64(len(c.name)), 7))
	feed := map[string]*ort.Tensor{}
	vals := map[string][]float64{}
	for _, in := range c.inputs {
		if in.ints != nil {
			feed[in.name] = ort.I64Tensor(in.shape, in.ints)
			continue
		}
		vals[in.name] = randVals(rng, onnx.NumElements(in.shape), in.pos)
		feed[in.name] = tensorOf(c.elem, in.shape, vals[in.name])
	}
	feed["r"] = tensorOf(c.elem, c.outShape, randVals(rng, onnx.NumElements(c.outShape), false))

	outs := []string{"loss"}
	for _, w := range wrt {
		outs = append(outs, names[w])
	}
	gs := session(t, gm, outs...)
	got := run(t, gs, feed)
	fs := session(t, m, "loss")
	eps, tol := 1e-6, 1e-5
	if c.elem == onnx.TensorProto_FLOAT {
		eps, tol = 1e-2, 1e-2
	}
	if c.tol > 0 {
		tol = c.tol
	}
	lossAt := func() float64 { return values(run(t, fs, feed)[0])[0] }
	if l := lossAt(); math.Abs(l-values(got[0])[0]) > 1e-6*math.Max(1, math.Abs(l)) {
		t.Errorf("loss of the gradient graph %g differs from the forward graph's %g", values(got[0])[0], l)
	}
	for i, w := range wrt {
		var shape []int64
		for _, in := range c.inputs {
			if in.name == w {
				shape = in.shape
			}
		}
		g := values(got[i+1])
		if int64(len(g)) != onnx.NumElements(shape) || !equalShape(got[i+1].Shape, shape) {
			t.Fatalf("gradient of %s has shape %v, want %v", w, got[i+1].Shape, shape)
		}
		x := vals[w]
		fd := make([]float64, len(x))
		for j := range x {
			orig := x[j]
			h := eps * math.Max(1, math.Abs(orig))
			x[j] = orig + h
			feed[w] = tensorOf(c.elem, shape, x)
			lp := lossAt()
			x[j] = orig - h
			feed[w] = tensorOf(c.elem, shape, x)
			lm := lossAt()
			x[j] = orig
			fd[j] = (lp - lm) / (2 * h)
		}
		feed[w] = tensorOf(c.elem, shape, x)
		if norm(fd) < 1e-6 && !c.zeroOK[w] {
			t.Errorf("d loss / d %s: the finite differences are all zero; the case tests nothing", w)
		}
		if e := relErr(g, fd, 1e-3); e > tol || math.IsNaN(e) {
			t.Errorf("d loss / d %s: relative error %.3g > %g\n got %v\nwant %v", w, e, tol, short(g), short(fd))
		}
	}
}

func equalShape(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for k := range a {
		if a[k] != b[k] {
			return false
		}
	}
	return true
}

func short(v []float64) []float64 {
	if len(v) > 12 {
		return v[:12]
	}
	return v
}

func norm(v []float64) float64 {
	s := 0.0
	for _, x := range v {
		s += x * x
	}
	return math.Sqrt(s)
}

// withOutputs returns m with the named tensors added to its outputs, typed by inference (the
// runtime types tensors it adds itself as float32).
func withOutputs(t testing.TB, m *onnx.ModelProto, names []string) *onnx.ModelProto {
	t.Helper()
	have := map[string]bool{}
	for _, o := range m.GetGraph().GetOutput() {
		have[o.GetName()] = true
	}
	var add []string
	for _, n := range names {
		if !have[n] {
			add = append(add, n)
		}
	}
	if len(add) == 0 {
		return m
	}
	info, err := infer.Shapes(m.GetGraph())
	if err != nil {
		t.Fatal(err)
	}
	c := onnx.Clone(m)
	for _, n := range add {
		c.Graph.Output = append(c.Graph.Output, valueInfo(n, info[n]))
	}
	return c
}
