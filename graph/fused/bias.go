package fused

import "github.com/kprune/kprune/onnx"

// unfuseBiasAdd replaces BiasAdd(X, bias, skip) = X + bias + skip by two Adds, the bias first as
// a dense layer's.
func unfuseBiasAdd(b *builder, n *onnx.NodeProto) error {
	x, err := b.need(0, "X")
	if err != nil {
		return err
	}
	bias, err := b.need(1, "bias")
	if err != nil {
		return err
	}
	skip, err := b.need(2, "skip")
	if err != nil {
		return err
	}
	h := b.op("Add", "dense/Add", []string{x, bias})
	b.opTo("Add", "residual/Add", b.output(0), []string{h, skip})
	return nil
}
