package fused

import (
	"fmt"

	"github.com/kprune/kprune/onnx"
)

// defaultEpsilon is the epsilon onnxruntime's SkipLayerNormalization, SkipSimplifiedLayerNormalization
// and EmbedLayerNormalization use when the attribute is absent.
const defaultEpsilon = 1e-12

// SkipLayerNormalization inputs and outputs.
const (
	sknInput = iota
	sknSkip
	sknGamma
	sknBeta
	sknBias
)

// unfuseSkipLayerNorm replaces SkipLayerNormalization(input, skip, gamma, beta?, bias?) by what a
// torch export of a BERT sublayer's end looks like: the dense layer's bias Add (when bias is
// given), the residual Add of skip, then a LayerNorm over the last axis (see layerNorm). The
// residual sum is written under the fourth output's name (input_skip_bias_sum) when the graph
// reads it; the training outputs mean and inv_std_var are refused when read.
func unfuseSkipLayerNorm(b *builder, n *onnx.NodeProto) error {
	sum, gamma, err := skipSum(b, sknBias)
	if err != nil {
		return err
	}
	eps := b.attrFloat("epsilon", defaultEpsilon)
	if err := finite("epsilon", eps); err != nil {
		return err
	}
	b.layerNorm(sum, gamma, b.input(sknBeta), eps, b.output(0))
	return nil
}

// SkipSimplifiedLayerNormalization puts its bias at index 3 (it has no beta).
const skipSimplifiedBias = 3

// unfuseSkipSimplifiedLayerNorm replaces SkipSimplifiedLayerNormalization(input, skip, gamma,
// bias?) by the bias and residual Adds, then the decomposed RMS normalisation (see rmsNorm).
func unfuseSkipSimplifiedLayerNorm(b *builder, n *onnx.NodeProto) error {
	sum, gamma, err := skipSum(b, skipSimplifiedBias)
	if err != nil {
		return err
	}
	eps := b.attrFloat("epsilon", defaultEpsilon)
	if err := finite("epsilon", eps); err != nil {
		return err
	}
	b.rmsNorm(sum, gamma, eps, b.output(0))
	return nil
}

// skipSum emits input (+ bias at input biasAt) + skip, named after output 3 when that is read, and
// returns it with the gamma input. It refuses reads of the mean and inv_std_var outputs.
func skipSum(b *builder, biasAt int) (sum, gamma string, err error) {
	x, err := b.need(sknInput, "input")
	if err != nil {
		return "", "", err
	}
	skip, err := b.need(sknSkip, "skip")
	if err != nil {
		return "", "", err
	}
	if gamma, err = b.need(sknGamma, "gamma"); err != nil {
		return "", "", err
	}
	if err := b.refuseOutputs(map[int]string{1: "mean", 2: "inv_std_var"}); err != nil {
		return "", "", err
	}
	h := x
	if bias := b.input(biasAt); bias != "" {
		h = b.op("Add", "dense/Add", []string{x, bias})
	}
	return b.opTo("Add", "residual/Add", b.output(3), []string{h, skip}), gamma, nil
}

// layerNorm emits a LayerNorm of x over its last axis into out ("" for a new tensor): one
// LayerNormalization op from opset 17, else the decomposition torch exports
// (ReduceMean, Sub, Pow 2, ReduceMean, Add eps, Sqrt, Div, Mul gamma, Add beta). beta may be "".
func (b *builder) layerNorm(x, gamma, beta string, eps float32, out string) string {
	if b.u.opset >= 17 {
		ins := []string{x, gamma}
		if beta != "" {
			ins = append(ins, beta)
		}
		return b.opTo("LayerNormalization", "LayerNorm/LayerNormalization", out, ins,
			onnx.AttrInt("axis", -1), onnx.AttrFloat("epsilon", eps))
	}
	mean := b.reduce("ReduceMean", "LayerNorm/ReduceMean", "", x, true, -1)
	d := b.op("Sub", "LayerNorm/Sub", []string{x, mean})
	sq := b.op("Pow", "LayerNorm/Pow", []string{d, b.scalar("LayerNorm/two", 2)})
	v := b.reduce("ReduceMean", "LayerNorm/ReduceMean_1", "", sq, true, -1)
	v = b.op("Add", "LayerNorm/Add", []string{v, b.scalar("LayerNorm/epsilon", eps)})
	sd := b.op("Sqrt", "LayerNorm/Sqrt", []string{v})
	y := b.op("Div", "LayerNorm/Div", []string{d, sd})
	if beta == "" {
		return b.opTo("Mul", "LayerNorm/Mul", out, []string{y, gamma})
	}
	y = b.op("Mul", "LayerNorm/Mul", []string{y, gamma})
	return b.opTo("Add", "LayerNorm/Add_1", out, []string{y, beta})
}

// rmsNorm emits x / sqrt(mean(x²) + eps) * gamma over the last axis into out, decomposed as T5 and
// LLaMA exports write it.
func (b *builder) rmsNorm(x, gamma string, eps float32, out string) string {
	sq := b.op("Pow", "RMSNorm/Pow", []string{x, b.scalar("RMSNorm/two", 2)})
	v := b.reduce("ReduceMean", "RMSNorm/ReduceMean", "", sq, true, -1)
	v = b.op("Add", "RMSNorm/Add", []string{v, b.scalar("RMSNorm/epsilon", eps)})
	sd := b.op("Sqrt", "RMSNorm/Sqrt", []string{v})
	y := b.op("Div", "RMSNorm/Div", []string{x, sd})
	return b.opTo("Mul", "RMSNorm/Mul", out, []string{y, gamma})
}

// unfuseLayerNorm replaces onnxruntime's default-domain LayerNormalization in a model below opset
// 17 (where standard ONNX has none) by the decomposition torch exports (see layerNorm). Only
// normalisation over the last axis is supported, and the Mean and InvStdDev outputs must be unread.
func unfuseLayerNorm(b *builder, n *onnx.NodeProto) error {
	x, scale, eps, err := lastAxisNorm(b, map[int]string{1: "Mean", 2: "InvStdDev"})
	if err != nil {
		return err
	}
	b.layerNorm(x, scale, b.input(2), eps, b.output(0))
	return nil
}

// unfuseSimplifiedLayerNorm replaces onnxruntime's default-domain SimplifiedLayerNormalization
// (RMS normalisation) by its decomposition (see rmsNorm).
func unfuseSimplifiedLayerNorm(b *builder, n *onnx.NodeProto) error {
	x, scale, eps, err := lastAxisNorm(b, map[int]string{1: "inv_std_var"})
	if err != nil {
		return err
	}
	b.rmsNorm(x, scale, eps, b.output(0))
	return nil
}

// lastAxisNorm reads the input, scale and epsilon (default 1e-5) of a default-domain
// normalisation node, refusing other axes than the last one and reads of the training outputs.
func lastAxisNorm(b *builder, training map[int]string) (x, scale string, eps float32, err error) {
	if x, err = b.need(0, "X"); err != nil {
		return
	}
	if scale, err = b.need(1, "scale"); err != nil {
		return
	}
	if err = b.refuseOutputs(training); err != nil {
		return
	}
	if axis := b.attrInt("axis", -1); axis != -1 {
		if i, ok := b.info(x); !ok || int64(i.Rank)-1 != axis {
			err = fmt.Errorf("attribute axis=%d is not the last axis of the input: %w", axis, ErrUnsupportedFused)
			return
		}
	}
	eps = b.attrFloat("epsilon", 1e-5)
	err = finite("epsilon", eps)
	return
}
