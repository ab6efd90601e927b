package fused

import (
	"fmt"
	"math"

	"github.com/kprune/kprune/graph/infer"
	"github.com/kprune/kprune/onnx"
	"google.golang.org/protobuf/proto"
)

// builder is what a rule sees while it replaces one fused node: the node's inputs and outputs,
// lookups into the original graph, and the emission of new nodes and initializers, named after the
// fused node and made unique in the whole model.
type builder struct {
	u      *unfuser
	n      *onnx.NodeProto
	prefix string
	nodes  []*onnx.NodeProto
	inits  []*onnx.TensorProto
}

// input returns the name of input i of the fused node, "" when absent or empty (optional).
func (b *builder) input(i int) string {
	if i < len(b.n.GetInput()) {
		return b.n.GetInput()[i]
	}
	return ""
}

// need returns input i, or a malformed-node error naming it when it is absent.
func (b *builder) need(i int, what string) (string, error) {
	if in := b.input(i); in != "" {
		return in, nil
	}
	return "", fmt.Errorf("required input %d (%s) is missing: %w", i, what, ErrMalformedFused)
}

// output returns the name of output i when something reads it (a node or a graph output), else "".
// Output 0 is always returned, even when unused, so that the replacement has a defined result.
func (b *builder) output(i int) string {
	outs := b.n.GetOutput()
	if i >= len(outs) || outs[i] == "" {
		return ""
	}
	if i == 0 || b.u.consumed(outs[i]) {
		return outs[i]
	}
	return ""
}

// refuseOutputs fails when an output the rule cannot compute is read.
func (b *builder) refuseOutputs(names map[int]string) error {
	for i, what := range names {
		if i > 0 && b.output(i) != "" {
			return fmt.Errorf("output %d (%s) %q is used by the graph; only inference outputs can be unfused: %w", i, what, b.n.GetOutput()[i], ErrUnsupportedFused)
		}
	}
	return nil
}

// refuseInputs fails when one of the given optional inputs is present.
func (b *builder) refuseInputs(names map[int]string) error {
	for i, what := range names {
		if b.input(i) != "" {
			return fmt.Errorf("input %d (%s) is given; this form is not supported: %w", i, what, ErrUnsupportedFused)
		}
	}
	return nil
}

// attrInt returns INT attribute name, or def when absent.
func (b *builder) attrInt(name string, def int64) int64 { return onnx.AttrIntOr(b.n, name, def) }

// attrFloat returns FLOAT attribute name, or def when absent.
func (b *builder) attrFloat(name string, def float32) float32 {
	return onnx.AttrFloatOr(b.n, name, def)
}

// constant returns the value of tensor t when it is an initializer or a Constant node, else nil.
func (b *builder) constant(t string) *onnx.TensorProto { return b.u.ix.Constant(t) }

// floatConstant returns the float32 values and dims of constant input i, which must be a FLOAT
// tensor; what names it in errors.
func (b *builder) floatConstant(i int, what string) ([]float32, []int64, error) {
	name := b.input(i)
	t := b.constant(name)
	if t == nil {
		return nil, nil, fmt.Errorf("input %d (%s) %q is not a constant initializer; only constant weights can be unfused: %w", i, what, name, ErrUnsupportedFused)
	}
	if onnx.TensorProto_DataType(t.GetDataType()) != onnx.TensorProto_FLOAT {
		return nil, nil, fmt.Errorf("input %d (%s) %q is %s; only float32 weights are supported: %w", i, what, name, onnx.DataTypeName(t.GetDataType()), ErrUnsupportedFused)
	}
	v, err := onnx.Float32s(t)
	if err != nil {
		return nil, nil, fmt.Errorf("input %d (%s): %w: %w", i, what, err, ErrMalformedFused)
	}
	return v, t.GetDims(), nil
}

// info returns what is statically known about tensor t in the graph as rewritten so far.
func (b *builder) info(t string) (infer.Info, bool) { return b.u.info(t) }

// fresh returns a new unique name derived from the fused node's name and part.
func (b *builder) fresh(part string) string { return b.u.fresh(b.prefix + "/" + part) }

// op emits a node with one new output tensor and returns that tensor's name.
func (b *builder) op(op, part string, inputs []string, attrs ...*onnx.AttributeProto) string {
	return b.opTo(op, part, "", inputs, attrs...)
}

// opTo is op writing to tensor out ("" for a new name); it returns the output name.
func (b *builder) opTo(op, part, out string, inputs []string, attrs ...*onnx.AttributeProto) string {
	name := b.fresh(part)
	if out == "" {
		out = b.u.fresh(name + "_output_0")
	}
	b.nodes = append(b.nodes, onnx.NewNode(op, name, inputs, []string{out}, attrs...))
	return out
}

// init adds initializer t under a new name derived from part and returns that name.
func (b *builder) init(part string, t *onnx.TensorProto) string {
	t.Name = proto.String(b.fresh(part))
	b.inits = append(b.inits, t)
	return t.GetName()
}

// scalar adds a 0-D float32 initializer.
func (b *builder) scalar(part string, v float32) string {
	return b.init(part, onnx.NewFloatTensor("", nil, []float32{v}))
}

// ints adds a 1-D int64 initializer.
func (b *builder) ints(part string, v ...int64) string {
	return b.init(part, onnx.NewInt64Tensor("", []int64{int64(len(v))}, v))
}

// int64Scalar adds a 0-D int64 initializer.
func (b *builder) int64Scalar(part string, v int64) string {
	return b.init(part, onnx.NewInt64Tensor("", nil, []int64{v}))
}

// int32Scalar adds a 0-D int32 initializer.
func (b *builder) int32Scalar(part string, v int32) string {
	t := &onnx.TensorProto{Name: proto.String(""), DataType: proto.Int32(int32(onnx.TensorProto_INT32)), Int32Data: []int32{v}}
	return b.init(part, t)
}

// unsqueeze emits Unsqueeze(x, axes), with axes as an input from opset 13 and an attribute before.
func (b *builder) unsqueeze(part, x string, axes ...int64) string {
	if b.u.opset >= 13 {
		return b.op("Unsqueeze", part, []string{x, b.ints(part+"_axes", axes...)})
	}
	return b.op("Unsqueeze", part, []string{x}, onnx.AttrInts("axes", axes...))
}

// reduce emits a Reduce* op over axes writing to out ("" for a new tensor), with axes as an input
// where the model's opset takes it that way (ReduceSum from 13, the others from 18).
func (b *builder) reduce(op, part, out, x string, keepdims bool, axes ...int64) string {
	keep := onnx.AttrInt("keepdims", 0)
	if keepdims {
		keep = onnx.AttrInt("keepdims", 1)
	}
	since := int64(18)
	if op == "ReduceSum" {
		since = 13
	}
	if b.u.opset >= since {
		return b.opTo(op, part, out, []string{x, b.ints(part+"_axes", axes...)}, keep)
	}
	return b.opTo(op, part, out, []string{x}, onnx.AttrInts("axes", axes...), keep)
}

// dim emits Gather(Shape(x), i): dimension i of x as a 0-D int64 tensor.
func (b *builder) dim(part, x string, i int64) string {
	shape := b.op("Shape", part+"_shape", []string{x})
	return b.op("Gather", part, []string{shape, b.int64Scalar(part+"_index", i)}, onnx.AttrInt("axis", 0))
}

// cast emits Cast(x, to).
func (b *builder) cast(part, x string, to onnx.TensorProto_DataType) string {
	return b.op("Cast", part, []string{x}, onnx.AttrInt("to", int64(to)))
}

// finite checks an attribute value that the replacement multiplies or adds.
func finite(name string, v float32) error {
	if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
		return fmt.Errorf("attribute %s is %v; only finite values can be unfused: %w", name, v, ErrUnsupportedFused)
	}
	return nil
}
