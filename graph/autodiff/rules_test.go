package autodiff

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/kprune/kprune/onnx"
)

var nodeSeq int

// nd builds a node with one output and a unique name.
func nd(op string, inputs []string, out string, attrs ...*onnx.AttributeProto) *onnx.NodeProto {
	nodeSeq++
	return onnx.NewNode(op, fmt.Sprintf("%s_%d", op, nodeSeq), inputs, []string{out}, attrs...)
}

func ndN(op string, inputs, outs []string, attrs ...*onnx.AttributeProto) *onnx.NodeProto {
	nodeSeq++
	return onnx.NewNode(op, fmt.Sprintf("%s_%d", op, nodeSeq), inputs, outs, attrs...)
}

func i64(name string, v ...int64) *onnx.TensorProto {
	return onnx.NewInt64Tensor(name, []int64{int64(len(v))}, v)
}

func i64s(name string, v int64) *onnx.TensorProto { return onnx.NewInt64Tensor(name, nil, []int64{v}) }

func fconst(elem onnx.TensorProto_DataType, name string, dims []int64, v ...float64) *onnx.TensorProto {
	if elem == onnx.TensorProto_DOUBLE {
		return onnx.NewDoubleTensor(name, dims, v)
	}
	f := make([]float32, len(v))
	for k, x := range v {
		f[k] = float32(x)
	}
	return onnx.NewFloatTensor(name, dims, f)
}

const (
	f32 = onnx.TensorProto_FLOAT
	f64 = onnx.TensorProto_DOUBLE
)

// unary is a case of one elementwise op on x [2,3,4] (float64 unless elem says otherwise).
func unary(op string, elem onnx.TensorProto_DataType, opset int64, pos bool, attrs ...*onnx.AttributeProto) gcase {
	return gcase{name: op, elem: elem, opset: opset,
		inputs:   []tin{{name: "x", decl: dims(2, 3, 4), shape: sh(2, 3, 4), wrt: true, pos: pos}},
		nodes:    []*onnx.NodeProto{nd(op, []string{"x"}, "y", attrs...)},
		out:      "y",
		outShape: sh(2, 3, 4)}
}

func TestRuleGradients(t *testing.T) {
	x234 := tin{name: "x", decl: dims(2, 3, 4), shape: sh(2, 3, 4), wrt: true}
	cases := slices.Concat(unaryRuleCases(x234), binaryRuleCases(x234), reductionRuleCases(x234), matmulRuleCases(), shapeRuleCases(x234))
	for _, c := range cases {
		name := c.name
		if len(c.nodes) == 1 && c.name == c.nodes[0].GetOpType() {
			name = fmt.Sprintf("%s %v", c.name, c.elem)
			for _, a := range c.nodes[0].GetAttribute() {
				name += fmt.Sprintf(" %s=%v%s", a.GetName(), a.GetI(), a.GetS())
			}
		}
		t.Run(name, c.check)
	}
}

// unaryRuleCases are the pointwise operators (Clip, Max and Min included) and the
// softmaxes.
func unaryRuleCases(x234 tin) []gcase {
	return []gcase{
		unary("Sqrt", f64, 17, true),
		unary("Tanh", f64, 17, false),
		unary("Relu", f64, 17, false),
		{name: "clip (clamp)", elem: f64, opset: 17, inputs: []tin{x234}, inits: []*onnx.TensorProto{fconst(f64, "lo", nil, -0.3), fconst(f64, "hi", nil, 0.4)},
			nodes: []*onnx.NodeProto{nd("Clip", []string{"x", "lo", "hi"}, "y")}, out: "y", outShape: sh(2, 3, 4)},
		{name: "clip min only", elem: f64, opset: 17, inputs: []tin{x234}, inits: []*onnx.TensorProto{fconst(f64, "lo", nil, 0.1)},
			nodes: []*onnx.NodeProto{nd("Clip", []string{"x", "lo"}, "y")}, out: "y", outShape: sh(2, 3, 4)},
		{name: "max broadcast", elem: f64, opset: 17,
			inputs: []tin{x234, {name: "m", decl: dims(4), shape: sh(4), wrt: true}},
			nodes:  []*onnx.NodeProto{nd("Max", []string{"x", "m"}, "y")}, out: "y", outShape: sh(2, 3, 4)},
		{name: "min with constant", elem: f64, opset: 17, inputs: []tin{x234}, inits: []*onnx.TensorProto{fconst(f64, "c", nil, 0.2)},
			nodes: []*onnx.NodeProto{nd("Min", []string{"x", "c"}, "y")}, out: "y", outShape: sh(2, 3, 4)},
		unary("Sigmoid", f64, 17, false),
		unary("Neg", f64, 17, false),
		unary("Exp", f64, 17, false),
		unary("Log", f64, 17, true),
		unary("Reciprocal", f64, 17, true),
		unary("Identity", f64, 17, false),
		unary("Erf", f32, 17, false), // onnxruntime has no double Erf
		{name: "erf of x/sqrt2 (GELU form)", elem: f32, opset: 14, inputs: []tin{x234}, inits: []*onnx.TensorProto{fconst(f32, "r2", nil, 1.4142135)},
			nodes: []*onnx.NodeProto{nd("Div", []string{"x", "r2"}, "u"), nd("Erf", []string{"u"}, "e"), nd("Mul", []string{"x", "e"}, "y")},
			out:   "y", outShape: sh(2, 3, 4)},
		{name: "erf of 0.5*x", elem: f32, opset: 14, inputs: []tin{x234}, inits: []*onnx.TensorProto{fconst(f32, "h", nil, 0.5)},
			nodes: []*onnx.NodeProto{nd("Mul", []string{"h", "x"}, "u"), nd("Erf", []string{"u"}, "y")},
			out:   "y", outShape: sh(2, 3, 4)},
		unary("Gelu", f32, 20, false),
		unary("Gelu", f32, 20, false, onnx.AttrString("approximate", "tanh")),
		unary("Softmax", f64, 17, false),
		unary("Softmax", f64, 17, false, onnx.AttrInt("axis", 1)),
		unary("LogSoftmax", f64, 17, false),
		unary("LogSoftmax", f64, 13, false, onnx.AttrInt("axis", 0)),
		{name: "softmax opset 11 (coerced to 2-D)", elem: f64, opset: 11, inputs: []tin{x234},
			nodes: []*onnx.NodeProto{nd("Softmax", []string{"x"}, "y", onnx.AttrInt("axis", 1))}, out: "y", outShape: sh(2, 3, 4)},
		{name: "logsoftmax opset 11 default axis", elem: f64, opset: 11, inputs: []tin{x234},
			nodes: []*onnx.NodeProto{nd("LogSoftmax", []string{"x"}, "y")}, out: "y", outShape: sh(2, 3, 4)},
	}
}

// binaryRuleCases are the broadcasting arithmetic operators, Where and Cast.
func binaryRuleCases(x234 tin) []gcase {
	return []gcase{
		{name: "add broadcast", elem: f64, opset: 17,
			inputs: []tin{x234, {name: "b", decl: dims(3, 1), shape: sh(3, 1), wrt: true}},
			nodes:  []*onnx.NodeProto{nd("Add", []string{"x", "b"}, "y")}, out: "y", outShape: sh(2, 3, 4)},
		{name: "add run-time broadcast (batch 1)", elem: f64, opset: 17,
			inputs: []tin{{name: "x", decl: dims("b", "s", 4), shape: sh(2, 3, 4), wrt: true}, {name: "p", decl: dims("c", "s", 4), shape: sh(1, 3, 4), wrt: true}},
			nodes:  []*onnx.NodeProto{nd("Add", []string{"x", "p"}, "y")}, out: "y", outShape: sh(2, 3, 4)},
		{name: "add run-time broadcast (no broadcast)", elem: f64, opset: 17,
			inputs: []tin{{name: "x", decl: dims("b", "s", 4), shape: sh(2, 3, 4), wrt: true}, {name: "p", decl: dims("c", "s", 4), shape: sh(2, 3, 4), wrt: true}},
			nodes:  []*onnx.NodeProto{nd("Add", []string{"x", "p"}, "y")}, out: "y", outShape: sh(2, 3, 4)},
		{name: "sub broadcast scalar", elem: f64, opset: 17,
			inputs: []tin{x234, {name: "b1", decl: dims(1), shape: sh(1), wrt: true}},
			nodes:  []*onnx.NodeProto{nd("Squeeze", []string{"b1"}, "b"), nd("Sub", []string{"b", "x"}, "y")}, out: "y", outShape: sh(2, 3, 4)},
		{name: "mul broadcast", elem: f64, opset: 17,
			inputs: []tin{x234, {name: "m", decl: dims(4), shape: sh(4), wrt: true}},
			nodes:  []*onnx.NodeProto{nd("Mul", []string{"x", "m"}, "y")}, out: "y", outShape: sh(2, 3, 4)},
		{name: "div broadcast", elem: f64, opset: 17,
			inputs: []tin{x234, {name: "d", decl: dims(2, 1, 4), shape: sh(2, 1, 4), wrt: true, pos: true}},
			nodes:  []*onnx.NodeProto{nd("Div", []string{"x", "d"}, "y")}, out: "y", outShape: sh(2, 3, 4)},
		{name: "multi-consumer x*x + x/2", elem: f64, opset: 17,
			inputs: []tin{x234}, inits: []*onnx.TensorProto{fconst(f64, "two", nil, 2)},
			nodes: []*onnx.NodeProto{nd("Mul", []string{"x", "x"}, "sq"), nd("Div", []string{"x", "two"}, "h"),
				nd("Add", []string{"sq", "h"}, "y")}, out: "y", outShape: sh(2, 3, 4)},
		{name: "sum variadic broadcast", elem: f64, opset: 17,
			inputs: []tin{x234, {name: "v", decl: dims(4), shape: sh(4), wrt: true}},
			nodes:  []*onnx.NodeProto{nd("Sum", []string{"x", "v", "x"}, "y")}, out: "y", outShape: sh(2, 3, 4)},
		{name: "pow 2", elem: f64, opset: 17, inputs: []tin{x234}, inits: []*onnx.TensorProto{fconst(f64, "e", nil, 2)},
			nodes: []*onnx.NodeProto{nd("Pow", []string{"x", "e"}, "y")}, out: "y", outShape: sh(2, 3, 4)},
		{name: "pow 3", elem: f64, opset: 17, inputs: []tin{x234}, inits: []*onnx.TensorProto{fconst(f64, "e", nil, 3)},
			nodes: []*onnx.NodeProto{nd("Pow", []string{"x", "e"}, "y")}, out: "y", outShape: sh(2, 3, 4)},
		{name: "pow 0.5 (Constant node)", elem: f64, opset: 17,
			inputs: []tin{{name: "x", decl: dims(2, 3, 4), shape: sh(2, 3, 4), wrt: true, pos: true}},
			nodes: []*onnx.NodeProto{nd("Constant", nil, "e", onnx.AttrTensor("value", fconst(f64, "", nil, 0.5))),
				nd("Pow", []string{"x", "e"}, "y")}, out: "y", outShape: sh(2, 3, 4)},
		{name: "pow tensor exponent", elem: f64, opset: 17,
			inputs: []tin{{name: "x", decl: dims(2, 3, 4), shape: sh(2, 3, 4), wrt: true, pos: true}, {name: "e", decl: dims(4), shape: sh(4)}},
			nodes:  []*onnx.NodeProto{nd("Pow", []string{"x", "e"}, "y")}, out: "y", outShape: sh(2, 3, 4)},
		{name: "where constant condition", elem: f64, opset: 17,
			inputs: []tin{x234, {name: "o", decl: dims(4), shape: sh(4), wrt: true}},
			inits:  []*onnx.TensorProto{{Name: strp("c"), Dims: []int64{3, 1}, DataType: i32p(int32(onnx.TensorProto_BOOL)), Int32Data: []int32{1, 0, 1}}},
			nodes:  []*onnx.NodeProto{nd("Where", []string{"c", "x", "o"}, "y")}, out: "y", outShape: sh(2, 3, 4)},
		{name: "cast float to double and back", elem: f32, opset: 17, inputs: []tin{{name: "x", decl: dims(2, 3, 4), shape: sh(2, 3, 4), wrt: true}},
			nodes: []*onnx.NodeProto{nd("Cast", []string{"x"}, "xd", onnx.AttrInt("to", int64(f64))), nd("Mul", []string{"xd", "xd"}, "sq"),
				nd("Cast", []string{"sq"}, "y", onnx.AttrInt("to", int64(f32)))}, out: "y", outShape: sh(2, 3, 4)},
	}
}

// reductionRuleCases are the reductions and LayerNormalization.
func reductionRuleCases(x234 tin) []gcase {
	return []gcase{
		{name: "reducel2 keepdims", elem: f64, opset: 17, inputs: []tin{x234},
			nodes: []*onnx.NodeProto{nd("ReduceL2", []string{"x"}, "y", onnx.AttrInts("axes", -1))}, out: "y", outShape: sh(2, 3, 1)},
		{name: "reducel2 no keepdims opset 18", elem: f64, opset: 18, inputs: []tin{x234}, inits: []*onnx.TensorProto{i64("ax", 1)},
			nodes: []*onnx.NodeProto{nd("ReduceL2", []string{"x", "ax"}, "y", onnx.AttrInt("keepdims", 0))}, out: "y", outShape: sh(2, 4)},
		{name: "reducemax keepdims (max pooling)", elem: f64, opset: 17, inputs: []tin{x234},
			nodes: []*onnx.NodeProto{nd("ReduceMax", []string{"x"}, "y", onnx.AttrInts("axes", 1))}, out: "y", outShape: sh(2, 1, 4)},
		{name: "reducemin no keepdims opset 18", elem: f64, opset: 18, inputs: []tin{x234}, inits: []*onnx.TensorProto{i64("ax", -1)},
			nodes: []*onnx.NodeProto{nd("ReduceMin", []string{"x", "ax"}, "y", onnx.AttrInt("keepdims", 0))}, out: "y", outShape: sh(2, 3)},
		{name: "reducemean keepdims opset 17", elem: f64, opset: 17, inputs: []tin{x234},
			nodes: []*onnx.NodeProto{nd("ReduceMean", []string{"x"}, "y", onnx.AttrInts("axes", -1))}, out: "y", outShape: sh(2, 3, 1)},
		{name: "reducemean no keepdims opset 18", elem: f64, opset: 18, inputs: []tin{x234}, inits: []*onnx.TensorProto{i64("ax", 0, 2)},
			nodes: []*onnx.NodeProto{nd("ReduceMean", []string{"x", "ax"}, "y", onnx.AttrInt("keepdims", 0))}, out: "y", outShape: sh(3)},
		{name: "reducemean symbolic dims", elem: f64, opset: 17,
			inputs: []tin{{name: "x", decl: dims("b", "s", 4), shape: sh(2, 3, 4), wrt: true}},
			nodes:  []*onnx.NodeProto{nd("ReduceMean", []string{"x"}, "y", onnx.AttrInts("axes", 0, 1))}, out: "y", outShape: sh(1, 1, 4)},
		{name: "reducesum opset 13 axes input", elem: f64, opset: 13, inputs: []tin{x234}, inits: []*onnx.TensorProto{i64("ax", 1)},
			nodes: []*onnx.NodeProto{nd("ReduceSum", []string{"x", "ax"}, "y", onnx.AttrInt("keepdims", 0))}, out: "y", outShape: sh(2, 4)},
		{name: "reducesum opset 11 all axes", elem: f64, opset: 11, inputs: []tin{x234},
			nodes: []*onnx.NodeProto{nd("ReduceSum", []string{"x"}, "y")}, out: "y", outShape: sh(1, 1, 1)},
		{name: "layernormalization", elem: f64, opset: 17,
			inputs: []tin{x234, {name: "g", decl: dims(4), shape: sh(4), wrt: true}, {name: "bb", decl: dims(4), shape: sh(4), wrt: true}},
			nodes:  []*onnx.NodeProto{nd("LayerNormalization", []string{"x", "g", "bb"}, "y", onnx.AttrFloat("epsilon", 1e-5))}, out: "y", outShape: sh(2, 3, 4)},
		{name: "layernormalization axis 1 no bias", elem: f64, opset: 17,
			inputs: []tin{x234, {name: "g", decl: dims(3, 4), shape: sh(3, 4), wrt: true}},
			nodes:  []*onnx.NodeProto{nd("LayerNormalization", []string{"x", "g"}, "y", onnx.AttrInt("axis", 1))}, out: "y", outShape: sh(2, 3, 4)},
	}
}

// matmulRuleCases are the matrix products, an attention block among them.
func matmulRuleCases() []gcase {
	return []gcase{
		{name: "matmul batched", elem: f64, opset: 17,
			inputs: []tin{{name: "a", decl: dims(2, 3, 4, 5), shape: sh(2, 3, 4, 5), wrt: true}, {name: "w", decl: dims(2, 3, 5, 2), shape: sh(2, 3, 5, 2), wrt: true}},
			nodes:  []*onnx.NodeProto{nd("MatMul", []string{"a", "w"}, "y")}, out: "y", outShape: sh(2, 3, 4, 2)},
		{name: "matmul 3-D by 2-D (weight gradient folded)", elem: f64, opset: 17,
			inputs: []tin{{name: "a", decl: dims("b", "s", 4), shape: sh(2, 3, 4), wrt: true}, {name: "w", decl: dims(4, 5), shape: sh(4, 5), wrt: true}},
			nodes:  []*onnx.NodeProto{nd("MatMul", []string{"a", "w"}, "y")}, out: "y", outShape: sh(2, 3, 5)},
		{name: "matmul broadcast batch", elem: f64, opset: 17,
			inputs: []tin{{name: "a", decl: dims(2, 1, 4, 5), shape: sh(2, 1, 4, 5), wrt: true}, {name: "w", decl: dims(3, 5, 2), shape: sh(3, 5, 2), wrt: true}},
			nodes:  []*onnx.NodeProto{nd("MatMul", []string{"a", "w"}, "y")}, out: "y", outShape: sh(2, 3, 4, 2)},
		{name: "matmul 2-D by 3-D", elem: f64, opset: 17,
			inputs: []tin{{name: "a", decl: dims(4, 5), shape: sh(4, 5), wrt: true}, {name: "w", decl: dims(3, 5, 2), shape: sh(3, 5, 2), wrt: true}},
			nodes:  []*onnx.NodeProto{nd("MatMul", []string{"a", "w"}, "y")}, out: "y", outShape: sh(3, 4, 2)},
		{name: "float32 softmax attention block", elem: f32, opset: 14,
			inputs: []tin{{name: "q", decl: dims("b", 2, "s", 3), shape: sh(2, 2, 4, 3), wrt: true}, {name: "k", decl: dims("b", 2, "s", 3), shape: sh(2, 2, 4, 3), wrt: true},
				{name: "v", decl: dims("b", 2, "s", 3), shape: sh(2, 2, 4, 3), wrt: true}, {name: "mask", decl: dims("b", 1, 1, "s"), shape: sh(2, 1, 1, 4)}},
			nodes: []*onnx.NodeProto{nd("Transpose", []string{"k"}, "kt", onnx.AttrInts("perm", 0, 1, 3, 2)), nd("MatMul", []string{"q", "kt"}, "sc"),
				nd("Add", []string{"sc", "mask"}, "scm"), nd("Softmax", []string{"scm"}, "p", onnx.AttrInt("axis", -1)), nd("MatMul", []string{"p", "v"}, "y")},
			out: "y", outShape: sh(2, 2, 4, 3)},
	}
}

// shapeRuleCases are the operators that move values: reshapes, transposes, slices, gathers,
// concatenations, splits and expansions.
func shapeRuleCases(x234 tin) []gcase {
	return []gcase{
		{name: "reshape transpose squeeze unsqueeze flatten", elem: f64, opset: 13, inputs: []tin{x234},
			inits: []*onnx.TensorProto{i64("s1", 2, 3, 2, 2), i64("u", 0), i64("q", 0)},
			nodes: []*onnx.NodeProto{nd("Reshape", []string{"x", "s1"}, "r1"), nd("Transpose", []string{"r1"}, "t1", onnx.AttrInts("perm", 2, 0, 3, 1)),
				nd("Unsqueeze", []string{"t1", "u"}, "u1"), nd("Squeeze", []string{"u1", "q"}, "s2"), nd("Flatten", []string{"s2"}, "y", onnx.AttrInt("axis", 2))},
			out: "y", outShape: sh(4, 6)},
		{name: "reshape from run-time shape, opset 11 squeeze", elem: f64, opset: 11,
			inputs: []tin{{name: "x", decl: dims("b", "s", 4), shape: sh(2, 3, 4), wrt: true}},
			inits:  []*onnx.TensorProto{i64("two2", 2, 2), i64s("zero", 0)},
			nodes: []*onnx.NodeProto{nd("Shape", []string{"x"}, "shp"), nd("Gather", []string{"shp", "zero"}, "bd", onnx.AttrInt("axis", 0)),
				nd("Unsqueeze", []string{"bd"}, "bd1", onnx.AttrInts("axes", 0)), nd("Constant", nil, "m1", onnx.AttrTensor("value", i64("", -1))),
				nd("Concat", []string{"bd1", "m1", "two2"}, "tgt", onnx.AttrInt("axis", 0)), nd("Reshape", []string{"x", "tgt"}, "rs"),
				nd("Transpose", []string{"rs"}, "t"), nd("Unsqueeze", []string{"t"}, "u", onnx.AttrInts("axes", 1)),
				nd("Squeeze", []string{"u"}, "y", onnx.AttrInts("axes", 1))},
			out: "y", outShape: sh(2, 2, 3, 2), rdecl: dims(2, 2, "s", "b")},
		{name: "slice static", elem: f64, opset: 17, inputs: []tin{x234}, inits: []*onnx.TensorProto{i64("st", 1, -3), i64("en", 3, 1000), i64("ax", 1, 2)},
			nodes: []*onnx.NodeProto{nd("Slice", []string{"x", "st", "en", "ax"}, "y")}, out: "y", outShape: sh(2, 2, 3)},
		{name: "slice symbolic dims", elem: f64, opset: 17,
			inputs: []tin{{name: "x", decl: dims("b", "s", 4), shape: sh(2, 5, 4), wrt: true}},
			inits:  []*onnx.TensorProto{i64("st", 1, -3), i64("en", 1<<62, -1), i64("ax", 0, 1)},
			nodes:  []*onnx.NodeProto{nd("Slice", []string{"x", "st", "en", "ax"}, "y")}, out: "y", outShape: sh(1, 2, 4)},
		{name: "slice opset 9 attributes", elem: f64, opset: 9, inputs: []tin{x234},
			nodes: []*onnx.NodeProto{nd("Slice", []string{"x"}, "y", onnx.AttrInts("starts", 1), onnx.AttrInts("ends", 3), onnx.AttrInts("axes", 2))},
			out:   "y", outShape: sh(2, 3, 2)},
		{name: "gather scalar index on a symbolic axis (CLS token)", elem: f64, opset: 14,
			inputs: []tin{{name: "x", decl: dims("b", "s", 4), shape: sh(2, 5, 4), wrt: true}}, inits: []*onnx.TensorProto{i64s("zero", 0)},
			nodes: []*onnx.NodeProto{nd("Gather", []string{"x", "zero"}, "y", onnx.AttrInt("axis", 1))}, out: "y", outShape: sh(2, 4)},
		{name: "gather negative scalar index", elem: f64, opset: 14,
			inputs: []tin{{name: "x", decl: dims("b", "s", 4), shape: sh(2, 5, 4), wrt: true}}, inits: []*onnx.TensorProto{i64s("last", -1)},
			nodes: []*onnx.NodeProto{nd("Gather", []string{"x", "last"}, "y", onnx.AttrInt("axis", 1))}, out: "y", outShape: sh(2, 4)},
		{name: "gather repeated indices (embedding)", elem: f64, opset: 16,
			inputs: []tin{{name: "x", decl: dims(5, 3), shape: sh(5, 3), wrt: true}, {name: "ids", decl: dims("b", "s"), shape: sh(2, 3), ints: []int64{1, 4, 1, 0, -1, 4}}},
			nodes:  []*onnx.NodeProto{nd("Gather", []string{"x", "ids"}, "y")}, out: "y", outShape: sh(2, 3, 3)},
		{name: "gather constant unique indices axis 1 opset 13", elem: f64, opset: 13, inputs: []tin{x234},
			inits: []*onnx.TensorProto{i64("ix", 2, 0)},
			nodes: []*onnx.NodeProto{nd("Gather", []string{"x", "ix"}, "y", onnx.AttrInt("axis", 1))}, out: "y", outShape: sh(2, 2, 4)},
		{name: "concat symbolic", elem: f64, opset: 17,
			inputs: []tin{{name: "x", decl: dims("b", "s", 4), shape: sh(2, 3, 4), wrt: true}, {name: "z", decl: dims("b", "t", 4), shape: sh(2, 2, 4), wrt: true}},
			nodes:  []*onnx.NodeProto{nd("Concat", []string{"x", "z", "x"}, "y", onnx.AttrInt("axis", 1))}, out: "y", outShape: sh(2, 8, 4)},
		{name: "concat static opset 11", elem: f64, opset: 11,
			inputs: []tin{x234, {name: "z", decl: dims(2, 3, 1), shape: sh(2, 3, 1)}},
			nodes:  []*onnx.NodeProto{nd("Concat", []string{"z", "x"}, "y", onnx.AttrInt("axis", -1))}, out: "y", outShape: sh(2, 3, 5)},
		{name: "split one output used", elem: f64, opset: 13, inputs: []tin{x234}, inits: []*onnx.TensorProto{i64("sp", 1, 3)},
			nodes: []*onnx.NodeProto{ndN("Split", []string{"x", "sp"}, []string{"s0", "s1"}, onnx.AttrInt("axis", 2)), nd("Identity", []string{"s1"}, "y")},
			out:   "y", outShape: sh(2, 3, 3)},
		{name: "split both outputs opset 11", elem: f64, opset: 11,
			inputs: []tin{x234},
			nodes: []*onnx.NodeProto{ndN("Split", []string{"x"}, []string{"s0", "s1"}, onnx.AttrInt("axis", 2)),
				nd("Mul", []string{"s0", "s1"}, "y")},
			out: "y", outShape: sh(2, 3, 2)},
		{name: "expand", elem: f64, opset: 17,
			inputs: []tin{{name: "x", decl: dims(3, 1), shape: sh(3, 1), wrt: true}}, inits: []*onnx.TensorProto{i64("es", 2, 3, 4)},
			nodes: []*onnx.NodeProto{nd("Expand", []string{"x", "es"}, "y")}, out: "y", outShape: sh(2, 3, 4)},
	}
}

func TestGemmGradients(t *testing.T) {
	for _, ta := range []int64{0, 1} {
		for _, tb := range []int64{0, 1} {
			for _, c := range []struct {
				name  string
				cdims []int64
			}{{"bias [N]", sh(5)}, {"bias [M,N]", sh(3, 5)}, {"bias scalar", nil}, {"bias [M,1]", sh(3, 1)}} {
				a, w := sh(3, 4), sh(4, 5)
				if ta == 1 {
					a = sh(4, 3)
				}
				if tb == 1 {
					w = sh(5, 4)
				}
				for _, opset := range []int64{9, 17} {
					cin, cname, pre := tin{name: "c", decl: dimsOf(c.cdims), shape: c.cdims, wrt: true}, "c", []*onnx.NodeProto(nil)
					if c.cdims == nil {
						cin = tin{name: "c1", decl: dims(1), shape: sh(1), wrt: true}
						cname, pre = "c0", []*onnx.NodeProto{nd("Squeeze", []string{"c1"}, "c0")}
					}
					gc := gcase{name: fmt.Sprintf("transA=%d transB=%d %s opset %d", ta, tb, c.name, opset), elem: f64, opset: opset,
						inputs: []tin{{name: "a", decl: dimsOf(a), shape: a, wrt: true}, {name: "w", decl: dimsOf(w), shape: w, wrt: true},
							cin},
						nodes: []*onnx.NodeProto{nd("Gemm", []string{"a", "w", cname}, "y", onnx.AttrInt("transA", ta), onnx.AttrInt("transB", tb),
							onnx.AttrFloat("alpha", 0.75), onnx.AttrFloat("beta", 1.5))},
						out: "y", outShape: sh(3, 5)}
					gc.nodes = append(pre, gc.nodes...)
					t.Run(gc.name, gc.check)
				}
			}
		}
	}
}

func strp(s string) *string { return &s }
func i32p(v int32) *int32   { return &v }

func TestGradientErrors(t *testing.T) {
	base := func(nodes ...*onnx.NodeProto) gcase {
		return gcase{name: "err", elem: f64, opset: 17,
			inputs: []tin{{name: "x", decl: dims(2, 3), shape: sh(2, 3), wrt: true}, {name: "e", decl: dims(), shape: sh(), wrt: true}},
			nodes:  nodes, out: "y", outShape: sh(2, 3)}
	}
	for _, c := range []struct {
		name string
		c    gcase
		wrt  []string
		want string
	}{
		{"op without rule on the path", base(nd("Sin", []string{"x"}, "s"), nd("Mul", []string{"s", "e"}, "y")), []string{"x"}, "no gradient rule for operator Sin"},
		{"pow with differentiated exponent", base(nd("Pow", []string{"x", "e"}, "y")), []string{"e"}, "does not propagate through that input"},
		{"unknown wrt", base(nd("Mul", []string{"x", "e"}, "y")), []string{"nope"}, `"nope"`},
		{"unknown loss", base(nd("Mul", []string{"x", "e"}, "y")), nil, "loss tensor"},
		{"run-time broadcast at opset 11", gcase{name: "err", elem: f64, opset: 11,
			inputs: []tin{{name: "x", decl: dims("b", "s", 4), shape: sh(2, 3, 4)}, {name: "p", decl: dims("c", "s", 4), shape: sh(1, 3, 4)}},
			nodes:  []*onnx.NodeProto{nd("Add", []string{"x", "p"}, "y")}, out: "y", outShape: sh(2, 3, 4), rdecl: dims("b", "s", 4)}, []string{"p"}, "opset 13"},
	} {
		t.Run(c.name, func(t *testing.T) {
			loss := "loss"
			if c.wrt == nil {
				loss, c.wrt = "nothing", []string{"x"}
			}
			_, _, err := Gradients(c.c.model(), loss, c.wrt)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want one containing %q", err, c.want)
			}
		})
	}
	// The node name is in the error.
	c := base(nd("Sin", []string{"x"}, "s"), nd("Mul", []string{"s", "e"}, "y"))
	_, _, err := Gradients(c.model(), "loss", []string{"x"})
	if err == nil || !strings.Contains(err.Error(), c.nodes[0].GetName()) {
		t.Fatalf("error %v does not name node %s", err, c.nodes[0].GetName())
	}
}

func TestOffPathOpsAndZeroGradients(t *testing.T) {
	// A Sin on a branch that does not reach the loss is fine; a wrt that does not reach the loss
	// gets zeros; an integer path (Shape) stops gradients.
	c := gcase{name: "offpath", elem: f64, opset: 17,
		inputs: []tin{{name: "x", decl: dims(2, 3), shape: sh(2, 3), wrt: true}, {name: "u", decl: dims(3), shape: sh(3), wrt: true}},
		nodes: []*onnx.NodeProto{nd("Sin", []string{"x"}, "unused"), nd("Shape", []string{"x"}, "shp"),
			nd("Reshape", []string{"x", "shp"}, "xr"), nd("Tanh", []string{"xr"}, "y")},
		out: "y", outShape: sh(2, 3), zeroOK: map[string]bool{"u": true}}
	c.check(t)
}
