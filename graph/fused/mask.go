package fused

import (
	"fmt"
	"math"

	"github.com/kprune/kprune/graph/infer"
	"github.com/kprune/kprune/onnx"
)

// attentionMask returns the additive mask that Attention's mask_index input stands for, shaped to
// broadcast over the scores [batch, heads, seq, seq]: 0 where a key is attended, filter where it
// is masked, as onnxruntime's CPU kernel builds it. x is the Attention input, which gives the
// batch size and sequence length. The mask is built once per mask tensor and filter value and
// shared by every Attention reading it, like the extended mask of a torch export.
//
// The forms of mask_index, told apart by rank:
//   - [batch, seq] raw mask (1 attended, 0 masked): Unsqueeze twice, Cast, (1 - mask) * filter;
//   - [batch] end positions (keys at and after the end are masked: right padding), or [2*batch]
//     end then start positions (keys before the start are masked too): compared with
//     Range(seq) to give the raw mask first;
//   - [batch, seq, seq] 3-D mask: Unsqueeze once, then as the raw mask.
//
// Masks of rank 4 (Megatron) or of unknown rank are refused.
func (b *builder) attentionMask(mask string, filter float32, x string) (string, error) {
	key := fmt.Sprintf("%s|%08x", mask, math.Float32bits(filter))
	if t, ok := b.u.masks[key]; ok {
		return t, nil
	}
	mi, ok := b.info(mask)
	if !ok {
		return "", fmt.Errorf("cannot tell the form of mask_index %q: its rank is not known statically (declare its shape in the graph's value_info): %w", mask, ErrUnsupportedFused)
	}
	var keep string // [batch, 1, 1, seq] or [batch, 1, seq, seq], 1 where attended
	switch mi.Rank {
	case 1:
		xi, _ := b.info(x)
		var pad string
		if sameBatch(mi, xi) {
			pad = b.endPositionMask(mask, x)
		} else {
			pad = b.startEndPositionMask(mask, x)
		}
		keep = b.unsqueeze("mask/Unsqueeze_1", b.unsqueeze("mask/Unsqueeze", pad, 1), 2)
	case 2:
		keep = b.unsqueeze("mask/Unsqueeze_1", b.unsqueeze("mask/Unsqueeze", mask, 1), 2)
	case 3:
		keep = b.unsqueeze("mask/Unsqueeze", mask, 1)
	default:
		return "", fmt.Errorf("mask_index %q has rank %d; only 1-D (lengths), 2-D and 3-D masks are supported: %w", mask, mi.Rank, ErrUnsupportedFused)
	}
	f := b.cast("mask/Cast", keep, onnx.TensorProto_FLOAT)
	inv := b.op("Sub", "mask/Sub", []string{b.scalar("mask/one", 1), f})
	add := b.op("Mul", "mask/Mul", []string{inv, b.scalar("mask/filter", filter)})
	b.u.masks[key] = add
	return add, nil
}

// sameBatch tells whether a 1-D mask_index has one entry per row of the input x (end positions
// only), as opposed to two (end and start positions), when the shapes say so.
func sameBatch(mask, x infer.Info) bool {
	if mask.Rank != 1 || x.Rank < 1 {
		return false
	}
	if mask.Dims[0] > 0 && x.Dims[0] > 0 {
		return mask.Dims[0] == x.Dims[0]
	}
	return infer.SameDim(mask, 0, x, 0)
}

// positions emits Range(0, seq) for the sequence length of x, unsqueezed to [1, seq].
func (b *builder) positions(x string) string {
	seq := b.dim("mask/seq_len", x, 1)
	r := b.op("Range", "mask/Range", []string{b.int64Scalar("mask/start", 0), seq, b.int64Scalar("mask/delta", 1)})
	return b.unsqueeze("mask/positions", r, 0)
}

// endPositionMask turns end positions [batch] into a raw mask [batch, seq]: key j is attended
// when j < end.
func (b *builder) endPositionMask(mask, x string) string {
	end := b.unsqueeze("mask/end", b.cast("mask/end_int64", mask, onnx.TensorProto_INT64), 1)
	return b.op("Less", "mask/Less", []string{b.positions(x), end})
}

// startEndPositionMask turns mask_index [batch] (end positions) or [2*batch] (end positions, then
// start positions) into a raw mask [batch, seq]: key j is attended when start <= j < end, with
// start 0 when absent. Which of the two forms it is is decided at run time: the start positions are
// read from the mask padded with batch zeros.
func (b *builder) startEndPositionMask(mask, x string) string {
	batch := b.unsqueeze("mask/batch", b.dim("mask/batch_size", x, 0), 0)
	idx := b.cast("mask/index_int64", mask, onnx.TensorProto_INT64)
	zeros := b.op("ConstantOfShape", "mask/zeros", []string{batch}, onnx.AttrTensor("value", onnx.NewInt64Tensor("", []int64{1}, []int64{0})))
	padded := b.op("Concat", "mask/padded", []string{idx, zeros}, onnx.AttrInt("axis", 0))
	end := b.op("Slice", "mask/end_slice", []string{padded, b.ints("mask/zero", 0), batch})
	twice := b.op("Add", "mask/two_batch", []string{batch, batch})
	start := b.op("Slice", "mask/start_slice", []string{padded, batch, twice})
	pos := b.positions(x)
	before := b.op("Less", "mask/before_end", []string{pos, b.unsqueeze("mask/end", end, 1)})
	early := b.op("Less", "mask/before_start", []string{pos, b.unsqueeze("mask/start", start, 1)})
	after := b.op("Not", "mask/after_start", []string{early})
	return b.op("And", "mask/And", []string{before, after})
}
