package testmodel

import (
	"math"

	"github.com/kprune/kprune/onnx"
)

// layerNorm normalises x over its last axis (width Hidden); out names the result ("" for a
// generated name).
func (b *builder) layerNorm(x, out string) string {
	return b.layerNormW(x, out, b.cfg.Hidden)
}

// layerNormW is layerNorm at a given width. Its parameters gamma (1 +- 0.1) and beta (+- 0.1) are
// drawn the same way in both forms.
func (b *builder) layerNormW(x, out string, width int) string {
	c := b.cfg
	h := []int64{int64(width)}
	gamma := b.alias(b.param("Mul", h, 0.1/math.Sqrt(3), 1, false))
	beta := b.alias(b.param("Add", h, 0.1/math.Sqrt(3), 0, false))
	if c.LayerNorm == LNOp || (c.LayerNorm == LNAuto && c.Opset >= 17) {
		in := []string{x, gamma, beta}
		attrs := []*onnx.AttributeProto{onnx.AttrInt("axis", -1), onnx.AttrFloat("epsilon", float32(c.Epsilon))}
		if out != "" {
			return b.nodeTo(out, "LayerNormalization", in, attrs...)
		}
		return b.node("LayerNormalization", in, attrs...)
	}
	mean := b.reduceMean(x)
	d := b.node("Sub", []string{x, mean})
	sq := b.node("Pow", []string{d, b.constF(2)})
	v := b.reduceMean(sq)
	v = b.node("Add", []string{v, b.constF(c.Epsilon)})
	s := b.node("Sqrt", []string{v})
	n := b.node("Div", []string{d, s})
	n = b.node("Mul", []string{n, gamma})
	if out != "" {
		return b.nodeTo(out, "Add", []string{n, beta})
	}
	return b.node("Add", []string{n, beta})
}

func (b *builder) reduceMean(x string) string {
	if b.cfg.Opset >= 18 {
		return b.node("ReduceMean", []string{x, b.constI([]int64{1}, -1)}, onnx.AttrInt("keepdims", 1))
	}
	return b.node("ReduceMean", []string{x}, onnx.AttrInts("axes", -1), onnx.AttrInt("keepdims", 1))
}

// activation applies the FFN activation.
func (b *builder) activation(x string) string {
	switch b.cfg.Activation {
	case ActRelu:
		return b.node("Relu", []string{x})
	case ActGeluTanh:
		return b.gelu(x, true)
	default:
		return b.gelu(x, false)
	}
}

// gelu applies GELU in its tanh approximation or its exact erf form: a Gelu node with GeluOp, the
// decomposed torch spelling otherwise.
func (b *builder) gelu(x string, tanh bool) string {
	if b.cfg.GeluOp {
		approx := "none"
		if tanh {
			approx = "tanh"
		}
		return b.node("Gelu", []string{x}, onnx.AttrString("approximate", approx))
	}
	if tanh {
		half := b.node("Mul", []string{x, b.constF(0.5)})
		cube := b.node("Pow", []string{x, b.constF(3)})
		inner := b.node("Mul", []string{cube, b.constF(0.044715)})
		inner = b.node("Add", []string{x, inner})
		inner = b.node("Mul", []string{inner, b.constF(math.Sqrt(2 / math.Pi))})
		t := b.node("Tanh", []string{inner})
		t = b.node("Add", []string{t, b.constF(1)})
		return b.node("Mul", []string{half, t})
	}
	d := b.node("Div", []string{x, b.constF(math.Sqrt2)})
	e := b.node("Erf", []string{d})
	e = b.node("Add", []string{e, b.constF(1)})
	m := b.node("Mul", []string{x, e})
	return b.node("Mul", []string{m, b.constF(0.5)})
}

// headGelu is the GELU of an ELECTRA classifier: the encoder's GELU form, or erf (tanh for
// DOUBLE, which has no Erf kernel) when the encoder uses ReLU.
func (b *builder) headGelu(x string) string {
	tanh := b.cfg.Activation == ActGeluTanh || (b.cfg.Activation == ActRelu && b.dt == onnx.TensorProto_DOUBLE)
	return b.gelu(x, tanh)
}
