package fused

import (
	"fmt"
	"math"

	"github.com/kprune/kprune/onnx"
)

// Attention inputs and outputs, as onnxruntime's contrib-op specification numbers them.
const (
	attnInput = iota
	attnWeights
	attnBias
	attnMask
	attnPast
	attnBiasAdd // attention_bias (relative_position_bias in older versions)
	attnPastLen
)

// unfuseAttention replaces com.microsoft Attention (self-attention with packed QKV weights
// [D_in, 3D] and bias [3D]) by what a torch export of BERT's self-attention looks like: a
// MatMul+Add per projection with its own slice of the packed weights, Reshape [0,0,H,d] and
// Transpose to heads (keys straight to [b,H,d,s]), MatMul, Div by sqrt(d) (Mul by the scale
// attribute when given), Add of the additive mask, Softmax, MatMul with the values, Transpose and
// Reshape [0,0,D] back. The output projection is not part of the op and stays as it is.
//
// Causal (unidirectional), past/present, attention-bias, rotary and 4-D-mask forms are refused.
func unfuseAttention(b *builder, n *onnx.NodeProto) error {
	x, err := b.need(attnInput, "input")
	if err != nil {
		return err
	}
	if _, err := b.need(attnWeights, "weights"); err != nil {
		return err
	}
	if err := b.refuseInputs(map[int]string{attnPast: "past", attnBiasAdd: "attention_bias", attnPastLen: "past_sequence_length"}); err != nil {
		return err
	}
	if err := b.refuseOutputs(map[int]string{1: "present"}); err != nil {
		return err
	}
	for _, a := range []string{"unidirectional", "do_rotary", "past_present_share_buffer"} {
		if v := b.attrInt(a, 0); v != 0 {
			return fmt.Errorf("attribute %s=%d (a decoder form): %w", a, v, ErrUnsupportedFused)
		}
	}
	heads := b.attrInt("num_heads", 0)
	if onnx.FindAttr(n, "num_heads") == nil || heads <= 0 {
		return fmt.Errorf("attribute num_heads is missing or not positive (%d): %w", heads, ErrMalformedFused)
	}
	w, wDims, err := b.floatConstant(attnWeights, "weights")
	if err != nil {
		return err
	}
	if len(wDims) != 2 {
		return fmt.Errorf("weights have shape %v, want [input_hidden, 3*hidden]: %w", wDims, ErrMalformedFused)
	}
	sizes, err := qkvSizes(b, wDims[1], heads)
	if err != nil {
		return err
	}
	var bias []float32
	if b.input(attnBias) != "" {
		var bDims []int64
		if bias, bDims, err = b.floatConstant(attnBias, "bias"); err != nil {
			return err
		}
		if len(bDims) != 1 || bDims[0] != wDims[1] {
			return fmt.Errorf("bias has shape %v, want [%d] to match the weights %v: %w", bDims, wDims[1], wDims, ErrMalformedFused)
		}
	}
	scale := b.attrFloat("scale", 0)
	filter := b.attrFloat("mask_filter_value", -10000)
	if err := finite("scale", scale); err != nil {
		return err
	}
	if err := finite("mask_filter_value", filter); err != nil {
		return err
	}

	// Projections: query, key, value, each from its own slice of the packed weights.
	names := [3]string{"query", "key", "value"}
	var heads3 [3]string
	off := int64(0)
	for p := range 3 {
		wp := sliceCols(w, wDims[0], wDims[1], off, sizes[p])
		h := b.op("MatMul", names[p]+"/MatMul", []string{x, b.init(names[p]+".weight", onnx.NewFloatTensor("", []int64{wDims[0], sizes[p]}, wp))})
		if bias != nil {
			bp := b.init(names[p]+".bias", onnx.NewFloatTensor("", []int64{sizes[p]}, bias[off:off+sizes[p]]))
			h = b.op("Add", names[p]+"/Add", []string{h, bp})
		}
		h = b.op("Reshape", names[p]+"/Reshape", []string{h, b.ints(names[p]+"/shape", 0, 0, heads, sizes[p]/heads)})
		perm := []int64{0, 2, 1, 3}
		if p == 1 {
			perm = []int64{0, 2, 3, 1} // keys transposed for Q·K^T
		}
		heads3[p] = b.op("Transpose", names[p]+"/Transpose", []string{h}, onnx.AttrInts("perm", perm...))
		off += sizes[p]
	}

	scores := b.op("MatMul", "scores/MatMul", []string{heads3[0], heads3[1]})
	if scale == 0 {
		d := float64(sizes[0] / heads)
		scores = b.op("Div", "scores/Div", []string{scores, b.scalar("scores/sqrt_head_dim", float32(math.Sqrt(d)))})
	} else {
		scores = b.op("Mul", "scores/Mul", []string{scores, b.scalar("scores/scale", scale)})
	}
	if mask := b.input(attnMask); mask != "" {
		add, err := b.attentionMask(mask, filter, x)
		if err != nil {
			return err
		}
		scores = b.op("Add", "scores/Add", []string{scores, add})
	}
	probs := b.op("Softmax", "Softmax", []string{scores}, onnx.AttrInt("axis", 3))
	ctx := b.op("MatMul", "context/MatMul", []string{probs, heads3[2]})
	ctx = b.op("Transpose", "context/Transpose", []string{ctx}, onnx.AttrInts("perm", 0, 2, 1, 3))
	b.opTo("Reshape", "context/Reshape", b.output(0), []string{ctx, b.ints("context/shape", 0, 0, sizes[2])})
	return nil
}

// qkvSizes returns the widths of the query, key and value parts of the packed weights: the
// qkv_hidden_sizes attribute, or three equal thirds.
func qkvSizes(b *builder, total, heads int64) ([3]int64, error) {
	var s [3]int64
	if a := onnx.FindAttr(b.n, "qkv_hidden_sizes"); a != nil {
		v := a.GetInts()
		if len(v) != 3 {
			return s, fmt.Errorf("attribute qkv_hidden_sizes has %d values, want 3: %w", len(v), ErrMalformedFused)
		}
		copy(s[:], v)
	} else {
		if total%3 != 0 {
			return s, fmt.Errorf("weights have %d columns, not a multiple of 3 (query, key, value): %w", total, ErrMalformedFused)
		}
		s = [3]int64{total / 3, total / 3, total / 3}
	}
	if s[0] <= 0 || s[1] <= 0 || s[2] <= 0 || s[0]+s[1]+s[2] != total {
		return s, fmt.Errorf("query, key and value widths %v do not add up to the weights' %d columns: %w", s, total, ErrMalformedFused)
	}
	if s[0] != s[1] {
		return s, fmt.Errorf("query width %d differs from key width %d: %w", s[0], s[1], ErrMalformedFused)
	}
	for _, v := range s {
		if v%heads != 0 {
			return s, fmt.Errorf("width %d is not a multiple of num_heads=%d: %w", v, heads, ErrMalformedFused)
		}
	}
	return s, nil
}

// sliceCols returns columns [from, from+n) of the row-major rows×cols matrix w.
func sliceCols(w []float32, rows, cols, from, n int64) []float32 {
	out := make([]float32, 0, rows*n)
	for r := range rows {
		out = append(out, w[r*cols+from:r*cols+from+n]...)
	}
	return out
}
