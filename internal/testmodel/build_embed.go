package testmodel

import (
	"fmt"

	"github.com/kprune/kprune/graph"
	"github.com/kprune/kprune/onnx"
)

// Extra parameter streams (builder.extraKey) of the optional parts.
const (
	extraProjection = 0x100 // embedding projection weight, then bias
	extraRelTable   = 0x200 // relative position bias table
)

func (b *builder) build() {
	c := b.cfg
	g := b.g
	dims2 := []onnx.Dim{{Param: "batch"}, {Param: "seq"}}
	for _, n := range []string{InputIDs, AttentionMask, TokenTypeIDs} {
		if n == TokenTypeIDs && c.NoTokenTypes {
			continue
		}
		g.Input = append(g.Input, onnx.NewValueInfo(n, onnx.TensorProto_INT64, dims2))
	}
	x := b.embeddings()
	mask := b.extendedMask()
	if c.RelPosBias {
		b.relBias = b.relativePositionBias()
	}
	for l := range c.Layers {
		x = b.attention(x, mask, c.HeadsPerLayer[l])
		x = b.ffn(x, c.FFNPerLayer[l], l == c.Layers-1 && c.Head == graph.HeadNone)
	}
	b.head(x)
	if len(b.prelude) > 0 {
		g.Node = append(b.prelude, g.Node...)
	}
}

// embeddings builds LN(word[input_ids] + pos[position_ids] + type[token_type_ids]), followed by
// the projection to Hidden when EmbedSize is set.
func (b *builder) embeddings() string {
	c := b.cfg
	h := int64(c.Hidden)
	if c.EmbedSize > 0 {
		h = int64(c.EmbedSize)
	}
	word := b.param("Gather", []int64{int64(c.Vocab), h}, 1, 0, false)
	pos := b.param("Gather", []int64{int64(c.MaxPos), h}, 1, 0, false)
	typ := ""
	if c.TypeVocab > 0 {
		typ = b.param("Gather", []int64{int64(c.TypeVocab), h}, 1, 0, false)
	} else {
		b.params++ // the rank of the absent table: later parameters keep their values
	}
	var posIDs string
	switch {
	case c.RobertaPositions:
		posIDs = b.robertaPositions()
	case c.Reshape == ReshapeConcat:
		// torch 1.13: arange(seq).unsqueeze(0)
		shape := b.node("Shape", []string{InputIDs})
		seqLen := b.node("Gather", []string{shape, b.constI(nil, 1)}, onnx.AttrInt("axis", 0))
		rng := b.node("Range", []string{b.constI(nil, 0), seqLen, b.constI(nil, 1)})
		posIDs = b.node("Unsqueeze", []string{rng, b.constI([]int64{1}, 0)})
	default:
		// transformers: self.position_ids[:, :seq] on a registered [1, MaxPos] buffer.
		shape := b.node("Shape", []string{InputIDs})
		seqLen := b.node("Gather", []string{shape, b.constI(nil, 1)}, onnx.AttrInt("axis", 0))
		buf := make([]int64, c.MaxPos)
		for i := range buf {
			buf[i] = int64(i)
		}
		bufName := fmt.Sprintf("onnx::Slice_%d", b.id())
		b.g.Initializer = append(b.g.Initializer, onnx.NewInt64Tensor(bufName, []int64{1, int64(c.MaxPos)}, buf))
		end := b.node("Unsqueeze", []string{seqLen, b.constI([]int64{1}, 0)})
		posIDs = b.node("Slice", []string{bufName, b.constI([]int64{1}, 0), end, b.constI([]int64{1}, 1), b.constI([]int64{1}, 1)})
	}
	we := b.node("Gather", []string{word, InputIDs})
	pe := b.node("Gather", []string{pos, posIDs})
	sum := b.node("Add", []string{we, pe})
	switch {
	case typ == "":
	case c.NoTokenTypes:
		sum = b.node("Add", []string{sum, b.node("Gather", []string{typ, b.bufferedTypes(posIDs)})})
	default:
		te := b.node("Gather", []string{typ, TokenTypeIDs})
		sum = b.node("Add", []string{sum, te})
	}
	b.noAlias = true
	x := b.layerNormW(sum, "", int(h))
	b.noAlias = false
	if c.EmbedSize > 0 {
		b.extraKey = extraProjection
		x = b.linear(b.linearIn(x, c.EmbedSize), c.EmbedSize, c.Hidden)
		b.extraKey = 0
	}
	return x
}

// robertaPositions computes RoBERTa's position ids: m = Cast(Not(Equal(input_ids, PadID)),
// int32); Cast(CumSum(m, 1) * m, int64) + PadID.
func (b *builder) robertaPositions() string {
	eq := b.node("Equal", []string{InputIDs, b.constI(nil, PadID)})
	m := b.cast(b.node("Not", []string{eq}), onnx.TensorProto_INT32)
	cs := b.node("CumSum", []string{m, b.constI(nil, 1)})
	cs = b.cast(b.node("Mul", []string{cs, m}), onnx.TensorProto_INT64)
	return b.node("Add", []string{cs, b.constI(nil, PadID)})
}

// bufferedTypes gives the token-type ids of a model without the input as RoBERTa computes them:
// GatherElements(Expand(zeros [1, MaxPos], [batch, 1]), position_ids, axis 1), all zeros.
func (b *builder) bufferedTypes(posIDs string) string {
	bufName := fmt.Sprintf("onnx::Expand_%d", b.id())
	b.g.Initializer = append(b.g.Initializer, onnx.NewInt64Tensor(bufName, []int64{1, int64(b.cfg.MaxPos)}, make([]int64, b.cfg.MaxPos)))
	batch := b.node("Gather", []string{b.node("Shape", []string{InputIDs}), b.constI(nil, 0)}, onnx.AttrInt("axis", 0))
	shape := b.node("Concat", []string{b.node("Unsqueeze", []string{batch, b.constI([]int64{1}, 0)}), b.constI([]int64{1}, 1)}, onnx.AttrInt("axis", 0))
	e := b.node("Expand", []string{bufName, shape})
	return b.node("GatherElements", []string{e, posIDs}, onnx.AttrInt("axis", 1))
}
