package fused

import (
	"fmt"

	"github.com/kprune/kprune/onnx"
	"google.golang.org/protobuf/proto"
)

// EmbedLayerNormalization inputs and outputs.
const (
	embIDs = iota
	embSegmentIDs
	embWord
	embPosition
	embSegment
	embGamma
	embBeta
	embMask
	embPositionIDs
)

// unfuseEmbedLayerNorm replaces EmbedLayerNormalization by what a torch export of BERT's
// embeddings looks like: Gather of the word, segment (token type) and position tables (positions
// 0..seq-1 from Range when position_ids is absent), their sum (written under the embedding_sum
// output's name when read), and a LayerNorm. The mask_index output, when read, is the number of
// ones in each row of the mask (zeros without a mask), as int32, as onnxruntime computes it.
func unfuseEmbedLayerNorm(b *builder, n *onnx.NodeProto) error {
	ids, err := b.need(embIDs, "input_ids")
	if err != nil {
		return err
	}
	word, err := b.need(embWord, "word_embedding")
	if err != nil {
		return err
	}
	pos, err := b.need(embPosition, "position_embedding")
	if err != nil {
		return err
	}
	gamma, err := b.need(embGamma, "gamma")
	if err != nil {
		return err
	}
	segIDs, segTable := b.input(embSegmentIDs), b.input(embSegment)
	if (segIDs == "") != (segTable == "") {
		return fmt.Errorf("segment_ids and segment_embedding must be given together: %w", ErrMalformedFused)
	}
	eps := b.attrFloat("epsilon", defaultEpsilon)
	if err := finite("epsilon", eps); err != nil {
		return err
	}

	sum := b.op("Gather", "word_embeddings/Gather", []string{word, ids}, onnx.AttrInt("axis", 0))
	if segIDs != "" {
		seg := b.op("Gather", "token_type_embeddings/Gather", []string{segTable, segIDs}, onnx.AttrInt("axis", 0))
		sum = b.op("Add", "Add", []string{sum, seg})
	}
	posIDs := b.input(embPositionIDs)
	if posIDs == "" {
		seq := b.dim("seq_len", ids, 1)
		r := b.op("Range", "position_ids/Range", []string{b.int64Scalar("position_ids/start", 0), seq, b.int64Scalar("position_ids/delta", 1)})
		posIDs = b.unsqueeze("position_ids/Unsqueeze", r, 0)
	}
	pe := b.op("Gather", "position_embeddings/Gather", []string{pos, posIDs}, onnx.AttrInt("axis", 0))
	sum = b.opTo("Add", "Add_1", b.output(2), []string{sum, pe})
	b.layerNorm(sum, gamma, b.input(embBeta), eps, b.output(0))

	if out := b.output(1); out != "" {
		b.maskIndex(b.input(embMask), ids, out)
	}
	return nil
}

// maskIndex writes into out the int32 count of ones in each row of mask [batch, seq], or zeros
// [batch] (from the batch size of ids) without a mask.
func (b *builder) maskIndex(mask, ids, out string) {
	if mask == "" {
		shape := b.op("Shape", "mask_index/Shape", []string{ids})
		batch := b.op("Slice", "mask_index/Slice", []string{shape, b.ints("mask_index/start", 0), b.ints("mask_index/end", 1)})
		zero := &onnx.TensorProto{Dims: []int64{1}, DataType: proto.Int32(int32(onnx.TensorProto_INT32)), Int32Data: []int32{0}}
		b.opTo("ConstantOfShape", "mask_index/ConstantOfShape", out, []string{batch}, onnx.AttrTensor("value", zero))
		return
	}
	ones := b.op("Equal", "mask_index/Equal", []string{mask, b.int32Scalar("mask_index/one", 1)})
	count := b.cast("mask_index/Cast", ones, onnx.TensorProto_INT32)
	b.reduce("ReduceSum", "mask_index/ReduceSum", out, count, false, 1)
}
