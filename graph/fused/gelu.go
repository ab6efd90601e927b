package fused

import (
	"math"

	"github.com/kprune/kprune/onnx"
)

// unfuseGelu replaces com.microsoft Gelu(X) by the exact erf GELU (see erfGelu).
func unfuseGelu(b *builder, n *onnx.NodeProto) error {
	x, err := b.need(0, "X")
	if err != nil {
		return err
	}
	b.erfGelu(x, b.output(0))
	return nil
}

// unfuseBiasGelu replaces BiasGelu(A, B) by the dense layer's bias Add A + B, then the exact erf
// GELU.
func unfuseBiasGelu(b *builder, n *onnx.NodeProto) error {
	x, err := b.need(0, "A")
	if err != nil {
		return err
	}
	bias, err := b.need(1, "B (bias)")
	if err != nil {
		return err
	}
	b.erfGelu(b.op("Add", "dense/Add", []string{x, bias}), b.output(0))
	return nil
}

// unfuseFastGelu replaces FastGelu(X, bias?) by the optional bias Add, then the tanh
// approximation of GELU (see tanhGelu).
func unfuseFastGelu(b *builder, n *onnx.NodeProto) error {
	x, err := b.need(0, "X")
	if err != nil {
		return err
	}
	if bias := b.input(1); bias != "" {
		x = b.op("Add", "dense/Add", []string{x, bias})
	}
	b.tanhGelu(x, b.output(0))
	return nil
}

// unfuseQuickGelu replaces QuickGelu(X) by X * Sigmoid(alpha * X), alpha from the attribute
// (default 1.702).
func unfuseQuickGelu(b *builder, n *onnx.NodeProto) error {
	x, err := b.need(0, "X")
	if err != nil {
		return err
	}
	alpha := b.attrFloat("alpha", 1.702)
	if err := finite("alpha", alpha); err != nil {
		return err
	}
	s := b.op("Sigmoid", "act/Sigmoid", []string{b.op("Mul", "act/Mul", []string{x, b.scalar("act/alpha", alpha)})})
	b.opTo("Mul", "act/Mul_1", b.output(0), []string{x, s})
	return nil
}

// erfGelu emits x * 0.5 * (1 + erf(x / sqrt(2))) in the order torch exports it:
// Div, Erf, Add 1, Mul x, Mul 0.5.
func (b *builder) erfGelu(x, out string) string {
	d := b.op("Div", "act/Div", []string{x, b.scalar("act/sqrt2", float32(math.Sqrt2))})
	e := b.op("Erf", "act/Erf", []string{d})
	a := b.op("Add", "act/Add", []string{e, b.scalar("act/one", 1)})
	m := b.op("Mul", "act/Mul", []string{x, a})
	return b.opTo("Mul", "act/Mul_1", out, []string{m, b.scalar("act/half", 0.5)})
}

// tanhGelu emits 0.5 * x * (1 + tanh(sqrt(2/π) * (x + 0.044715 * x³))), as the "gelu_new"
// activation of transformers exports it.
func (b *builder) tanhGelu(x, out string) string {
	cube := b.op("Pow", "act/Pow", []string{x, b.scalar("act/three", 3)})
	c := b.op("Mul", "act/Mul", []string{cube, b.scalar("act/coefficient", 0.044715)})
	inner := b.op("Add", "act/Add", []string{x, c})
	inner = b.op("Mul", "act/Mul_1", []string{inner, b.scalar("act/sqrt_2_over_pi", float32(math.Sqrt(2/math.Pi)))})
	t := b.op("Tanh", "act/Tanh", []string{inner})
	a := b.op("Add", "act/Add_1", []string{t, b.scalar("act/one", 1)})
	h := b.op("Mul", "act/Mul_2", []string{x, b.scalar("act/half", 0.5)})
	return b.opTo("Mul", "act/Mul_3", out, []string{h, a})
}
