package infer

import (
	"fmt"
	"strings"
	"testing"

	"github.com/kprune/kprune/internal/testutil"
	"github.com/kprune/kprune/onnx"
	"google.golang.org/protobuf/proto"
)

var seqNo int

func nd(op string, inputs []string, out string, attrs ...*onnx.AttributeProto) *onnx.NodeProto {
	seqNo++
	return onnx.NewNode(op, fmt.Sprintf("%s_%d", op, seqNo), inputs, []string{out}, attrs...)
}

func ndN(op string, inputs, outs []string, attrs ...*onnx.AttributeProto) *onnx.NodeProto {
	seqNo++
	return onnx.NewNode(op, fmt.Sprintf("%s_%d", op, seqNo), inputs, outs, attrs...)
}

func i64(name string, v ...int64) *onnx.TensorProto {
	return onnx.NewInt64Tensor(name, []int64{int64(len(v))}, v)
}

func i64s(name string, v int64) *onnx.TensorProto { return onnx.NewInt64Tensor(name, nil, []int64{v}) }

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

const f32 = onnx.TensorProto_FLOAT

// graphOf builds a graph with float inputs of the given shapes.
func graphOf(inputs map[string][]onnx.Dim, inits []*onnx.TensorProto, nodes ...*onnx.NodeProto) *onnx.GraphProto {
	g := &onnx.GraphProto{Name: proto.String("g"), Initializer: inits, Node: nodes}
	for _, name := range []string{"x", "y", "z", "ids"} {
		if d, ok := inputs[name]; ok {
			elem := f32
			if name == "ids" {
				elem = onnx.TensorProto_INT64
			}
			g.Input = append(g.Input, onnx.NewValueInfo(name, elem, d))
		}
	}
	return g
}

func TestShapes(t *testing.T) {
	x := map[string][]onnx.Dim{"x": dims("batch", "seq", 8)}
	cases := []struct {
		name  string
		g     *onnx.GraphProto
		out   string
		want  string // Info.String()
		value string // fmt of Value or Parts ("" to skip)
	}{
		{"matmul", graphOf(x, []*onnx.TensorProto{onnx.NewFloatTensor("w", []int64{8, 4}, make([]float32, 32))},
			nd("MatMul", []string{"x", "w"}, "o")), "o", "FLOAT[batch,seq,4]", ""},
		{"broadcast add", graphOf(map[string][]onnx.Dim{"x": dims("batch", "seq", 8), "y": dims(1, "seq", 1)}, nil,
			nd("Add", []string{"x", "y"}, "o")), "o", "FLOAT[batch,seq,8]", ""},
		{"shape gather unsqueeze concat reshape (torch 1.13 heads)", graphOf(x, []*onnx.TensorProto{i64s("zero", 0), i64s("one", 1), i64("hd", 2, 4), i64("ax", 0)},
			nd("Shape", []string{"x"}, "s"), nd("Gather", []string{"s", "zero"}, "b", onnx.AttrInt("axis", 0)),
			nd("Gather", []string{"s", "one"}, "q", onnx.AttrInt("axis", 0)), nd("Unsqueeze", []string{"b", "ax"}, "b1"),
			nd("Unsqueeze", []string{"q", "ax"}, "q1"), nd("Concat", []string{"b1", "q1", "hd"}, "tgt", onnx.AttrInt("axis", 0)),
			nd("Reshape", []string{"x", "tgt"}, "o")), "o", "FLOAT[batch,seq,2,4]", ""},
		{"reshape zeros and -1", graphOf(x, []*onnx.TensorProto{i64("tgt", 0, 0, -1, 2)},
			nd("Reshape", []string{"x", "tgt"}, "o")), "o", "FLOAT[batch,seq,4,2]", ""},
		{"reshape -1 absorbs a symbol", graphOf(x, []*onnx.TensorProto{i64("tgt", -1, 8)},
			nd("Reshape", []string{"x", "tgt"}, "o")), "o", "FLOAT[?1,8]", ""},
		{"reshape -1 equals a symbol", graphOf(x, []*onnx.TensorProto{i64s("zero", 0), i64("ax", 0), i64("rest", -1, 8)},
			nd("Shape", []string{"x"}, "s"), nd("Gather", []string{"s", "zero"}, "b", onnx.AttrInt("axis", 0)),
			nd("Unsqueeze", []string{"b", "ax"}, "b1"), nd("Concat", []string{"b1", "rest"}, "tgt", onnx.AttrInt("axis", 0)),
			nd("Reshape", []string{"x", "tgt"}, "o")), "o", "FLOAT[batch,seq,8]", ""},
		{"range over a symbolic length (position ids)", graphOf(x, []*onnx.TensorProto{i64s("one", 1), i64s("zero", 0)},
			nd("Shape", []string{"x"}, "s"), nd("Gather", []string{"s", "one"}, "n", onnx.AttrInt("axis", 0)),
			nd("Range", []string{"zero", "n", "one"}, "o")), "o", "INT64[seq]", ""},
		{"range folded", graphOf(nil, []*onnx.TensorProto{i64s("a", 2), i64s("b", 9), i64s("c", 3)},
			nd("Range", []string{"a", "b", "c"}, "o")), "o", "INT64[3]", "[2 5 8]"},
		{"constant of shape from a shape", graphOf(x, nil, nd("Shape", []string{"x"}, "s"),
			nd("ConstantOfShape", []string{"s"}, "o", onnx.AttrTensor("value", i64("", 1)))), "o", "INT64[batch,seq,8]", ""},
		{"HF expand shape: Where(Equal(shape, -1), ones, shape)", graphOf(x, []*onnx.TensorProto{i64("m1", -1), i64("one3", 1, 1, 1)},
			nd("Shape", []string{"x"}, "s"), nd("Equal", []string{"s", "m1"}, "eq"), nd("Where", []string{"eq", "one3", "s"}, "sh"),
			nd("Expand", []string{"x", "sh"}, "o")), "o", "FLOAT[batch,seq,8]", ""},
		{"equal folds a symbol against a negative constant", graphOf(x, []*onnx.TensorProto{i64("m1", -1)},
			nd("Shape", []string{"x"}, "s"), nd("Equal", []string{"s", "m1"}, "o")), "o", "BOOL[3]", "[0 0 0]"},
		{"slice of a shape", graphOf(x, []*onnx.TensorProto{i64("st", 1), i64("en", 3)},
			nd("Shape", []string{"x"}, "s"), nd("Slice", []string{"s", "st", "en"}, "o")), "o", "INT64[2]", "[seq 8]"},
		{"shape with start (opset 15)", graphOf(x, nil, nd("Shape", []string{"x"}, "o", onnx.AttrInt("start", -1))), "o", "INT64[1]", "[8]"},
		{"slice static", graphOf(x, []*onnx.TensorProto{i64("st", 1, -3), i64("en", 100, -1), i64("ax", 1, 2)},
			nd("Slice", []string{"x", "st", "en", "ax"}, "o")), "o", "FLOAT[batch,?1,2]", ""},
		{"slice whole symbolic axis", graphOf(x, []*onnx.TensorProto{i64("st", 0), i64("en", 1<<62), i64("ax", 1)},
			nd("Slice", []string{"x", "st", "en", "ax"}, "o")), "o", "FLOAT[batch,seq,8]", ""},
		{"slice of position ids to a symbolic length (HF)", graphOf(x, []*onnx.TensorProto{onnx.NewInt64Tensor("pos", []int64{1, 64}, make([]int64, 64)),
			i64s("one", 1), i64("zero", 0), i64("ax", 1)},
			nd("Shape", []string{"x"}, "s"), nd("Gather", []string{"s", "one"}, "n", onnx.AttrInt("axis", 0)), nd("Unsqueeze", []string{"n", "zero"}, "n1"),
			nd("Slice", []string{"pos", "zero", "n1", "ax"}, "o")), "o", "INT64[1,seq]", ""},
		{"transpose", graphOf(x, nil, nd("Transpose", []string{"x"}, "o", onnx.AttrInts("perm", 2, 0, 1))), "o", "FLOAT[8,batch,seq]", ""},
		{"squeeze unsqueeze attrs (opset 11)", graphOf(x, nil, nd("Unsqueeze", []string{"x"}, "u", onnx.AttrInts("axes", 0, 3)),
			nd("Squeeze", []string{"u"}, "o", onnx.AttrInts("axes", 0))), "o", "FLOAT[batch,seq,1,8]", ""},
		{"squeeze without axes", graphOf(map[string][]onnx.Dim{"x": dims(1, 3, 1)}, nil, nd("Squeeze", []string{"x"}, "o")), "o", "FLOAT[3]", ""},
		{"reduce mean axes attribute", graphOf(x, nil, nd("ReduceMean", []string{"x"}, "o", onnx.AttrInts("axes", -1))), "o", "FLOAT[batch,seq,1]", ""},
		{"reduce sum axes input no keepdims", graphOf(x, []*onnx.TensorProto{i64("ax", 0, 2)},
			nd("ReduceSum", []string{"x", "ax"}, "o", onnx.AttrInt("keepdims", 0))), "o", "FLOAT[seq]", ""},
		{"reduce all", graphOf(x, nil, nd("ReduceSum", []string{"x"}, "o", onnx.AttrInt("keepdims", 0))), "o", "FLOAT[]", ""},
		{"gather embedding", graphOf(map[string][]onnx.Dim{"ids": dims("batch", "seq")},
			[]*onnx.TensorProto{onnx.NewFloatTensor("emb", []int64{10, 4}, make([]float32, 40))},
			nd("Gather", []string{"emb", "ids"}, "o")), "o", "FLOAT[batch,seq,4]", ""},
		{"gather scalar index (CLS)", graphOf(x, []*onnx.TensorProto{i64s("zero", 0)},
			nd("Gather", []string{"x", "zero"}, "o", onnx.AttrInt("axis", 1))), "o", "FLOAT[batch,8]", ""},
		{"gemm transB", graphOf(map[string][]onnx.Dim{"x": dims("batch", 8)}, []*onnx.TensorProto{onnx.NewFloatTensor("w", []int64{3, 8}, make([]float32, 24))},
			nd("Gemm", []string{"x", "w"}, "o", onnx.AttrInt("transB", 1))), "o", "FLOAT[batch,3]", ""},
		{"split input sizes", graphOf(x, []*onnx.TensorProto{i64("sp", 3, 5)},
			ndN("Split", []string{"x", "sp"}, []string{"o", "o2"}, onnx.AttrInt("axis", -1))), "o2", "FLOAT[batch,seq,5]", ""},
		{"split equal", graphOf(x, nil, ndN("Split", []string{"x"}, []string{"o", "o2"}, onnx.AttrInt("axis", 2))), "o", "FLOAT[batch,seq,4]", ""},
		{"concat symbolic axis", graphOf(map[string][]onnx.Dim{"x": dims("batch", "seq", 8), "y": dims("batch", 2, 8)}, nil,
			nd("Concat", []string{"x", "y"}, "o", onnx.AttrInt("axis", 1))), "o", "FLOAT[batch,?1,8]", ""},
		{"concat known", graphOf(map[string][]onnx.Dim{"x": dims("batch", 3, 8), "y": dims("batch", 2, 8)}, nil,
			nd("Concat", []string{"x", "y"}, "o", onnx.AttrInt("axis", 1))), "o", "FLOAT[batch,5,8]", ""},
		{"cast keeps the shape", graphOf(map[string][]onnx.Dim{"ids": dims("batch", "seq")}, nil,
			nd("Cast", []string{"ids"}, "o", onnx.AttrInt("to", int64(f32)))), "o", "FLOAT[batch,seq]", ""},
		{"layer normalization stats", graphOf(x, []*onnx.TensorProto{onnx.NewFloatTensor("g", []int64{8}, make([]float32, 8))},
			ndN("LayerNormalization", []string{"x", "g"}, []string{"y1", "o"})), "o", "FLOAT[batch,seq,1]", ""},
		{"constant value_ints", graphOf(nil, nil, nd("Constant", nil, "o", onnx.AttrInts("value_ints", 4, 5))), "o", "INT64[2]", "[4 5]"},
		{"flatten", graphOf(map[string][]onnx.Dim{"x": dims(2, 3, 4)}, nil, nd("Flatten", []string{"x"}, "o", onnx.AttrInt("axis", 2))), "o", "FLOAT[6,4]", ""},
		{"pad", graphOf(x, []*onnx.TensorProto{i64("p", 0, 1, 0, 0, 2, 0)}, nd("Pad", []string{"x", "p"}, "o")), "o", "FLOAT[batch,?1,8]", ""},
		{"expand", graphOf(map[string][]onnx.Dim{"x": dims(3, 1)}, []*onnx.TensorProto{i64("s", 2, 1, 4)}, nd("Expand", []string{"x", "s"}, "o")), "o", "FLOAT[2,3,4]", ""},
		{"unknown operator", graphOf(x, nil, nd("Einsum", []string{"x"}, "o")), "o", "[rank?]", ""},
		{"value_info fills an unknown", func() *onnx.GraphProto {
			g := graphOf(x, nil, nd("Einsum", []string{"x"}, "o"))
			g.ValueInfo = []*onnx.ValueInfoProto{onnx.NewValueInfo("o", f32, dims("batch", 3))}
			return g
		}(), "o", "FLOAT[batch,3]", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { checkShapes(t, c.g, c.out, c.want, c.value) })
	}
}

// checkShapes runs Shapes over g and checks what it says of tensor out: want as rendered by
// Info.String, and value (unless "") as fmt renders Value, or Parts when Value is nil.
func checkShapes(t *testing.T, g *onnx.GraphProto, out, want, value string) {
	t.Helper()
	info, err := Shapes(g)
	if err != nil {
		t.Fatal(err)
	}
	got := info[out]
	if got.String() != want {
		t.Errorf("%s: %s, want %s", out, got, want)
	}
	if value != "" {
		v := fmt.Sprint(got.Value)
		if got.Value == nil {
			v = fmt.Sprint(got.Parts)
		}
		if v != value {
			t.Errorf("%s: value %s, want %s", out, v, value)
		}
	}
}

func TestShapesErrors(t *testing.T) {
	x := map[string][]onnx.Dim{"x": dims(2, 3)}
	for _, c := range []struct {
		name string
		g    *onnx.GraphProto
		want string
	}{
		{"undefined input", graphOf(x, nil, nd("Relu", []string{"nope"}, "o")), `input "nope"`},
		{"cycle", graphOf(x, nil, nd("Add", []string{"x", "b"}, "a"), nd("Relu", []string{"a"}, "b")), "cycle"},
		{"incompatible broadcast", graphOf(map[string][]onnx.Dim{"x": dims(2, 3), "y": dims(2, 4)}, nil, nd("Add", []string{"x", "y"}, "o")), "cannot broadcast"},
		{"bad matmul", graphOf(map[string][]onnx.Dim{"x": dims(2, 3), "y": dims(4, 4)}, nil, nd("MatMul", []string{"x", "y"}, "o")), "inner dimensions"},
		{"bad transpose perm", graphOf(x, nil, nd("Transpose", []string{"x"}, "o", onnx.AttrInts("perm", 0, 5))), "perm"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Shapes(c.g)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want one containing %q", err, c.want)
			}
			if !strings.Contains(err.Error(), "node ") {
				t.Errorf("error %v does not name the node", err)
			}
		})
	}
}

func TestTopoSortReorders(t *testing.T) {
	g := graphOf(map[string][]onnx.Dim{"x": dims(2)}, nil, nd("Relu", []string{"a"}, "b"), nd("Neg", []string{"x"}, "a"))
	order, err := TopoSort(g)
	if err != nil {
		t.Fatal(err)
	}
	if order[0].GetOpType() != "Neg" || order[1].GetOpType() != "Relu" {
		t.Fatalf("order %v", order)
	}
	info, err := Shapes(g)
	if err != nil || info["b"].String() != "FLOAT[2]" {
		t.Fatalf("b: %v %v", info["b"], err)
	}
}

// TestSharedModels checks every activation of the shared BERT exports gets a known rank, and
// the attention and FFN tensors static widths with the input's symbols.
func TestSharedModels(t *testing.T) {
	for _, rel := range []string{"models/tiny-bert-sst2/model.onnx", "models/tiny-bert-sst2/model-opset17.onnx"} {
		t.Run(rel, func(t *testing.T) {
			m, err := onnx.Load(testutil.Shared(t, rel))
			if err != nil {
				t.Fatal(err)
			}
			info, err := Shapes(m.GetGraph())
			if err != nil {
				t.Fatal(err)
			}
			counts := map[string]int{}
			for _, n := range m.GetGraph().GetNode() {
				for _, o := range n.GetOutput() {
					in := info[o]
					if in.Rank < 0 {
						t.Errorf("node %s (%s): output %s has unknown rank", n.GetName(), n.GetOpType(), o)
					}
					if n.GetOpType() == "Softmax" && in.String() != "FLOAT[batch,2,seq,seq]" {
						t.Errorf("attention probabilities %s: %s", o, in)
					}
					if n.GetOpType() == "MatMul" && in.Rank == 3 {
						counts[in.String()]++
					}
				}
			}
			if counts["FLOAT[batch,seq,128]"] == 0 || counts["FLOAT[batch,seq,512]"] == 0 {
				t.Errorf("projection shapes %v", counts)
			}
			if got := info["logits"].String(); got != "FLOAT[batch,2]" {
				t.Errorf("logits %s", got)
			}
		})
	}
}

func TestSliceRange(t *testing.T) {
	for _, c := range []struct{ start, end, step, dim, first, count int64 }{
		{0, 3, 1, 5, 0, 3}, {-3, 1 << 62, 1, 5, 2, 3}, {1, -1, 1, 5, 1, 3}, {4, 0, 1, 5, 4, 0},
		{0, 5, 2, 5, 0, 3}, {4, -6, -1, 5, 4, 5}, {7, 9, 1, 5, 5, 0},
	} {
		f, n := SliceRange(c.start, c.end, c.step, c.dim)
		if f != c.first || n != c.count {
			t.Errorf("SliceRange(%d,%d,%d,%d) = %d,%d want %d,%d", c.start, c.end, c.step, c.dim, f, n, c.first, c.count)
		}
	}
}

func TestValueInfo(t *testing.T) {
	in := FromDims(f32, []SymInt{{Sym: "batch"}, {Sym: "?3"}, {Known: true, V: 8}, {}})
	v := in.ValueInfo("t")
	dims := v.GetType().GetTensorType().GetShape().GetDim()
	if len(dims) != 4 || dims[0].GetDimParam() != "batch" || dims[1].GetValue() != nil || dims[2].GetDimValue() != 8 || dims[3].GetValue() != nil {
		t.Fatalf("value info dims %v", dims)
	}
	if got := fmt.Sprint(in.Shape()); got != "[{0 batch} {0 unk_3} {8 } {0 }]" {
		t.Errorf("Shape() = %s", got)
	}
	// Read back as a graph input: the two unnamed dimensions get distinct fresh symbols.
	g := &onnx.GraphProto{Name: proto.String("g"), Input: []*onnx.ValueInfoProto{v}}
	info, err := Shapes(g)
	if err != nil {
		t.Fatal(err)
	}
	back := info["t"]
	if back.Syms[0] != "batch" || back.Syms[1] == "" || back.Syms[1] == back.Syms[3] || back.Dims[2] != 8 {
		t.Errorf("read back %s %v", back, back.Syms)
	}
	if SameDim(back, 1, back, 3) || !SameDim(back, 0, in, 0) {
		t.Errorf("SameDim wrong")
	}
}

// TestRules covers the rules one by one, including those ported from package graph's former
// inference (symbolic shapes, Expand targets of known length only, Split sizes from shapes...).
func TestRules(t *testing.T) {
	x := map[string][]onnx.Dim{"x": dims("batch", "seq", 8)}
	ids := map[string][]onnx.Dim{"ids": dims("batch", "seq")}
	shapeOfX := []*onnx.NodeProto{nd("Shape", []string{"x"}, "s")}
	with := func(pre []*onnx.NodeProto, n ...*onnx.NodeProto) []*onnx.NodeProto {
		return append(append([]*onnx.NodeProto{}, pre...), n...)
	}
	cases := []struct {
		name  string
		in    map[string][]onnx.Dim
		inits []*onnx.TensorProto
		nodes []*onnx.NodeProto
		out   string
		want  string // Info.String()
		value string // see checkShapes
	}{
		// Value tracking of shapes, with symbols.
		{"shape end", x, nil, []*onnx.NodeProto{nd("Shape", []string{"x"}, "o", onnx.AttrInt("end", 2))}, "o", "INT64[2]", "[batch seq]"},
		{"shape start end", x, nil, []*onnx.NodeProto{nd("Shape", []string{"x"}, "o", onnx.AttrInt("start", 1), onnx.AttrInt("end", -1))}, "o", "INT64[1]", "[seq]"},
		{"size", map[string][]onnx.Dim{"x": dims(2, 3)}, nil, []*onnx.NodeProto{nd("Size", []string{"x"}, "o")}, "o", "INT64[]", "[6]"},
		{"gather of a shape", x, []*onnx.TensorProto{i64s("one", 1)}, with(shapeOfX, nd("Gather", []string{"s", "one"}, "o")), "o", "INT64[]", "[seq]"},
		{"gather negative index", x, []*onnx.TensorProto{i64("i", -1, 0)}, with(shapeOfX, nd("Gather", []string{"s", "i"}, "o")), "o", "INT64[2]", "[8 batch]"},
		{"concat of shapes", x, []*onnx.TensorProto{i64("two", 2, -1)}, with(shapeOfX, nd("Concat", []string{"s", "two"}, "o", onnx.AttrInt("axis", 0))), "o", "INT64[5]", "[batch seq 8 2 -1]"},
		{"slice of a shape, negative step", x, []*onnx.TensorProto{i64("st", -1), i64("en", -4), i64("ax", 0), i64("sp", -1)},
			with(shapeOfX, nd("Slice", []string{"s", "st", "en", "ax", "sp"}, "o")), "o", "INT64[3]", "[8 seq batch]"},
		{"mul by one keeps a symbol", x, []*onnx.TensorProto{i64("one", 1, 1, 1)}, with(shapeOfX, nd("Mul", []string{"s", "one"}, "o")), "o", "INT64[3]", "[batch seq 8]"},
		{"arithmetic on known elements", x, []*onnx.TensorProto{i64("k", 1, 1, 2)}, with(shapeOfX, nd("Div", []string{"s", "k"}, "o")), "o", "INT64[3]", "[batch seq 4]"},
		{"neg of a symbolic shape", x, nil, with(shapeOfX, nd("Neg", []string{"s"}, "o")), "o", "INT64[3]", "[? ? -8]"},
		{"cast keeps integer values", x, nil, with(shapeOfX, nd("Cast", []string{"s"}, "o", onnx.AttrInt("to", int64(onnx.TensorProto_INT32)))), "o", "INT32[3]", "[batch seq 8]"},
		{"where picks by known conditions", x, []*onnx.TensorProto{onnx.NewInt64Tensor("c", []int64{3}, []int64{1, 0, 1}), i64("m", 7, 7, 7)},
			with(shapeOfX, nd("Cast", []string{"c"}, "cb", onnx.AttrInt("to", int64(onnx.TensorProto_BOOL))), nd("Where", []string{"cb", "m", "s"}, "o")), "o", "INT64[3]", "[7 seq 7]"},
		{"equal of a symbol with itself", x, nil, with(shapeOfX, nd("Equal", []string{"s", "s"}, "o")), "o", "BOOL[3]", "[1 1 1]"},
		{"range folded from a shape", map[string][]onnx.Dim{"x": dims(2, 5)}, []*onnx.TensorProto{i64s("zero", 0), i64s("one", 1)},
			[]*onnx.NodeProto{nd("Shape", []string{"x"}, "s"), nd("Gather", []string{"s", "one"}, "n"), nd("Range", []string{"zero", "n", "one"}, "o")}, "o", "INT64[5]", "[0 1 2 3 4]"},
		{"constant of shape, integer fill", nil, []*onnx.TensorProto{i64("s", 2, 2)},
			[]*onnx.NodeProto{nd("ConstantOfShape", []string{"s"}, "o", onnx.AttrTensor("value", i64("", 3)))}, "o", "INT64[2,2]", "[3 3 3 3]"},
		{"constant of shape, only the length known", x, nil, with(shapeOfX, nd("Relu", []string{"s"}, "r"),
			nd("ConstantOfShape", []string{"r"}, "o")), "o", "FLOAT[?1,?2,?3]", ""},
		// Reshape, Expand, Split, Squeeze, Unsqueeze.
		{"reshape with 0 and -1 from a shape", x, []*onnx.TensorProto{i64("ax", 0), i64("rest", 0, -1, 2)},
			[]*onnx.NodeProto{nd("Reshape", []string{"x", "rest"}, "o")}, "o", "FLOAT[batch,?1,2]", ""},
		{"reshape target of known length only", x, nil, with(shapeOfX, nd("Relu", []string{"s"}, "r"), nd("Reshape", []string{"x", "r"}, "o")), "o", "FLOAT[?1,?2,?3]", ""},
		{"expand target of known length only", map[string][]onnx.Dim{"x": dims(1, 8)}, nil, []*onnx.NodeProto{nd("Shape", []string{"x"}, "s0"),
			nd("Relu", []string{"s0"}, "s1"), nd("Concat", []string{"s1", "s1"}, "t", onnx.AttrInt("axis", 0)), nd("Expand", []string{"x", "t"}, "o")}, "o", "FLOAT[?1,?2,?3,8]", ""},
		{"expand to a shape", x, nil, with(shapeOfX, nd("Expand", []string{"x", "s"}, "o")), "o", "FLOAT[batch,seq,8]", ""},
		{"split sizes from a shape", x, []*onnx.TensorProto{i64("i", 1, 2)},
			with(shapeOfX, nd("Gather", []string{"s", "i"}, "sz"), ndN("Split", []string{"x", "sz"}, []string{"a", "o"}, onnx.AttrInt("axis", 0))), "o", "FLOAT[8,seq,8]", ""},
		{"split attribute", x, nil, []*onnx.NodeProto{ndN("Split", []string{"x"}, []string{"a", "o"}, onnx.AttrInt("axis", 2), onnx.AttrInts("split", 2, 6))}, "o", "FLOAT[batch,seq,6]", ""},
		{"unsqueeze axes input (opset 13)", x, []*onnx.TensorProto{i64("ax", -1, 1)}, []*onnx.NodeProto{nd("Unsqueeze", []string{"x", "ax"}, "o")}, "o", "FLOAT[batch,1,seq,8,1]", ""},
		{"squeeze axes input (opset 13)", map[string][]onnx.Dim{"x": dims("batch", 1, 8)}, []*onnx.TensorProto{i64("ax", 1)}, []*onnx.NodeProto{nd("Squeeze", []string{"x", "ax"}, "o")}, "o", "FLOAT[batch,8]", ""},
		{"unsqueeze a scalar along an unknown axis", x, []*onnx.TensorProto{i64("zero", 0), i64("one", 1)},
			with(shapeOfX, nd("Relu", []string{"s"}, "r"), nd("Slice", []string{"r", "zero", "one"}, "a"),
				nd("Gather", []string{"s", "one"}, "n", onnx.AttrInt("axis", 0)), nd("Squeeze", []string{"n"}, "n0"), nd("Unsqueeze", []string{"n0", "a"}, "o")), "o", "INT64[1]", "[seq]"},
		{"squeeze a [1] along an unknown axis", x, []*onnx.TensorProto{i64("zero", 0), i64("one", 1), i64("two", 2)},
			with(shapeOfX, nd("Relu", []string{"s"}, "r"), nd("Slice", []string{"r", "zero", "one"}, "a"),
				nd("Slice", []string{"s", "one", "two"}, "n1"), nd("Squeeze", []string{"n1", "a"}, "o")), "o", "INT64[]", "[seq]"},
		{"slice with unknown bounds and no axes", x, []*onnx.TensorProto{i64("zero", 0), i64("one", 1)},
			with(shapeOfX, nd("Relu", []string{"s"}, "r"), nd("Slice", []string{"r", "zero", "one"}, "st"),
				nd("Slice", []string{"x", "st", "st"}, "o")), "o", "FLOAT[?1,seq,8]", ""},
		{"tile", map[string][]onnx.Dim{"x": dims("batch", 2)}, []*onnx.TensorProto{i64("r", 1, 3)}, []*onnx.NodeProto{nd("Tile", []string{"x", "r"}, "o")}, "o", "FLOAT[batch,6]", ""},
		// Elementwise and the rest.
		{"gather elements", map[string][]onnx.Dim{"x": dims(4, 8), "ids": dims("batch", 8)}, nil, []*onnx.NodeProto{nd("GatherElements", []string{"x", "ids"}, "o")}, "o", "FLOAT[batch,8]", ""},
		{"cumsum", ids, []*onnx.TensorProto{i64s("ax", 1)}, []*onnx.NodeProto{nd("CumSum", []string{"ids", "ax"}, "o")}, "o", "INT64[batch,seq]", ""},
		{"isnan", x, nil, []*onnx.NodeProto{nd("IsNaN", []string{"x"}, "o")}, "o", "BOOL[batch,seq,8]", ""},
		{"not", x, nil, []*onnx.NodeProto{nd("IsNaN", []string{"x"}, "n"), nd("Not", []string{"n"}, "o")}, "o", "BOOL[batch,seq,8]", ""},
		{"where broadcasts and takes the values' type", map[string][]onnx.Dim{"x": dims("batch", 1, 1, "seq"), "y": dims("batch", 2, "seq", "seq")}, nil,
			[]*onnx.NodeProto{nd("IsNaN", []string{"x"}, "c"), nd("Where", []string{"c", "x", "y"}, "o")}, "o", "FLOAT[batch,2,seq,seq]", ""},
		{"gelu", x, nil, []*onnx.NodeProto{nd("Gelu", []string{"x"}, "o", onnx.AttrString("approximate", "tanh"))}, "o", "FLOAT[batch,seq,8]", ""},
		{"softsign", x, nil, []*onnx.NodeProto{nd("Softsign", []string{"x"}, "o")}, "o", "FLOAT[batch,seq,8]", ""},
		{"thresholded relu", x, nil, []*onnx.NodeProto{nd("ThresholdedRelu", []string{"x"}, "o")}, "o", "FLOAT[batch,seq,8]", ""},
		{"dropout mask", x, nil, []*onnx.NodeProto{ndN("Dropout", []string{"x"}, []string{"y", "o"})}, "o", "BOOL[batch,seq,8]", ""},
		{"layer normalization", x, []*onnx.TensorProto{onnx.NewFloatTensor("g", []int64{8}, make([]float32, 8))},
			[]*onnx.NodeProto{nd("LayerNormalization", []string{"x", "g"}, "o")}, "o", "FLOAT[batch,seq,8]", ""},
		{"reduce with an axes input (opset 18)", x, []*onnx.TensorProto{i64("ax", -1)}, []*onnx.NodeProto{nd("ReduceMean", []string{"x", "ax"}, "o")}, "o", "FLOAT[batch,seq,1]", ""},
		{"gemm with an operand of unknown rank", nil, []*onnx.TensorProto{onnx.NewFloatTensor("w", []int64{3, 8}, make([]float32, 24))},
			[]*onnx.NodeProto{nd("Einsum", nil, "a"), nd("Gemm", []string{"a", "w"}, "o", onnx.AttrInt("transB", 1))}, "o", "[?1,3]", ""},
		{"argmax", x, nil, []*onnx.NodeProto{nd("ArgMax", []string{"x"}, "o", onnx.AttrInt("axis", -1), onnx.AttrInt("keepdims", 0))}, "o", "INT64[batch,seq]", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { checkShapes(t, graphOf(c.in, c.inits, c.nodes...), c.out, c.want, c.value) })
	}
}

// TestPartial checks that Partial infers what it can on graphs Shapes rejects, and assumes a
// valid graph when broadcasting graph-input dimensions against unrelated unknowns.
func TestPartial(t *testing.T) {
	for _, c := range []struct {
		name string
		g    *onnx.GraphProto
		out  string
		want string // shape as rendered by Info.String
	}{
		{"undefined input", graphOf(map[string][]onnx.Dim{"x": dims(2, 3)}, nil, nd("Relu", []string{"nope"}, "r"), nd("Add", []string{"x", "r"}, "o")), "o", "FLOAT[rank?]"},
		{"incompatible broadcast keeps the rank", graphOf(map[string][]onnx.Dim{"x": dims(2, 3), "y": dims(2, 4)}, nil, nd("Add", []string{"x", "y"}, "o")), "o", "FLOAT[2,?1]"},
		{"bad matmul keeps the shape", graphOf(map[string][]onnx.Dim{"x": dims(2, 3), "y": dims(4, 5)}, nil, nd("MatMul", []string{"x", "y"}, "o")), "o", "FLOAT[2,5]"},
		{"index out of range keeps the shape", graphOf(map[string][]onnx.Dim{"x": dims(2, 3)}, []*onnx.TensorProto{i64("i", 5)},
			nd("Shape", []string{"x"}, "s"), nd("Gather", []string{"s", "i"}, "o")), "o", "INT64[1]"},
		{"too few inputs", graphOf(map[string][]onnx.Dim{"x": dims(2, 3)}, nil, nd("Sub", []string{"x"}, "o")), "o", "[rank?]"},
		{"cycle", graphOf(map[string][]onnx.Dim{"x": dims(2)}, nil, nd("Add", []string{"x", "b"}, "a"), nd("Relu", []string{"a"}, "b"), nd("Neg", []string{"x"}, "o")), "o", "FLOAT[2]"},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := Partial(c.g).Of(c.out)
			if got.String() != c.want {
				t.Errorf("%s: %s, want %s", c.out, got, c.want)
			}
		})
	}
	// A graph-input dimension broadcast against a size inference cannot relate to it: Partial
	// takes it to be the input's, Shapes proves nothing.
	g := graphOf(map[string][]onnx.Dim{"x": dims("batch", "seq", 8)}, nil, nd("Einsum", []string{"x"}, "u"), nd("Add", []string{"x", "u"}, "o"))
	g.ValueInfo = []*onnx.ValueInfoProto{onnx.NewValueInfo("u", f32, []onnx.Dim{{}, {}, {Value: 8}})}
	if got := Partial(g).Of("o").String(); got != "FLOAT[batch,seq,8]" {
		t.Errorf("Partial: o is %s", got)
	}
	info, err := Shapes(g)
	if err != nil {
		t.Fatal(err)
	}
	if got := info["o"]; got.Dim(0).Named() || got.Dim(1).Named() {
		t.Errorf("Shapes: o is %s, assuming the graph valid", got)
	}
	if got := (Map{}).Of("missing"); got.Rank != -1 {
		t.Errorf("Of(missing) = %v, want unknown rank", got)
	}
}

func TestShapesArity(t *testing.T) {
	_, err := Shapes(graphOf(map[string][]onnx.Dim{"x": dims(2, 3)}, nil, nd("Sub", []string{"x"}, "o")))
	if err == nil || !strings.Contains(err.Error(), "expected at least 2") {
		t.Fatalf("error %v", err)
	}
}

func TestAxes(t *testing.T) {
	ax := Info{Rank: 1, Dims: []int64{1}, Syms: []string{""}, Value: []int64{-1}}
	for _, c := range []struct {
		name string
		n    *onnx.NodeProto
		ins  []Info
		want string
	}{
		{"attribute", onnx.NewNode("ReduceMean", "r", []string{"x"}, []string{"y"}, onnx.AttrInts("axes", 2)), []Info{{Rank: -1}}, "[2] true"},
		{"input", onnx.NewNode("ReduceMean", "r", []string{"x", "a"}, []string{"y"}), []Info{{Rank: -1}, ax}, "[-1] true"},
		{"input of unknown values", onnx.NewNode("Squeeze", "r", []string{"x", "a"}, []string{"y"}), []Info{{Rank: -1}, {Rank: -1}}, "[] false"},
		{"neither", onnx.NewNode("Squeeze", "r", []string{"x"}, []string{"y"}), []Info{{Rank: -1}}, "[] true"},
	} {
		a, ok := Axes(c.n, c.ins, 1)
		if got := fmt.Sprint(a, " ", ok); got != c.want {
			t.Errorf("%s: %s, want %s", c.name, got, c.want)
		}
	}
}

func TestNamed(t *testing.T) {
	for _, c := range []struct {
		s    SymInt
		want bool
	}{{SymInt{Sym: "batch"}, true}, {SymInt{Sym: "?3"}, false}, {SymInt{}, false}, {SymInt{Known: true, V: 2}, false}} {
		if c.s.Named() != c.want {
			t.Errorf("%v.Named() = %v", c.s, !c.want)
		}
	}
}
