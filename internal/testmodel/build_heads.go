package testmodel

import (
	"math"

	"github.com/kprune/kprune/graph"
	"github.com/kprune/kprune/onnx"
)

// head builds the output head on the final hidden state x and declares the graph outputs.
func (b *builder) head(x string) {
	c := b.cfg
	g := b.g
	h := int64(c.Hidden)
	batch, seq := onnx.Dim{Param: "batch"}, onnx.Dim{Param: "seq"}
	gemm := func(in, w, bias string) []string { return []string{in, w, bias} }
	gemmAttrs := []*onnx.AttributeProto{onnx.AttrFloat("alpha", 1), onnx.AttrFloat("beta", 1), onnx.AttrInt("transB", 1)}
	switch c.Head {
	case graph.HeadNone:
		if c.Pooling {
			b.pooling(x)
			return
		}
		g.Output = append(g.Output, onnx.NewValueInfo(OutputLastState, b.dt, []onnx.Dim{batch, seq, {Value: h}}))
	case graph.HeadClassification, graph.HeadRegression:
		cls := b.node("Gather", []string{x, b.constI(nil, 0)}, onnx.AttrInt("axis", 1))
		scale := 1 / math.Sqrt(float64(h))
		pw := b.weight("Gemm", int(h), int(h), scale, true)
		pb := b.alias(b.param("Gemm", []int64{h}, 0.05, 0, false))
		p := b.node("Gemm", gemm(cls, pw, pb), gemmAttrs...)
		switch c.Classifier {
		case ClassifierElectra:
			p = b.headGelu(p)
		case ClassifierDistil:
			p = b.node("Relu", []string{p})
		default:
			p = b.node("Tanh", []string{p})
		}
		nl := int64(c.NumLabels)
		cw := b.weight("Gemm", int(h), int(nl), 1.5*scale, true)
		cb := b.alias(b.param("Gemm", []int64{nl}, 0.05, 0, false))
		b.nodeTo(OutputLogits, "Gemm", gemm(p, cw, cb), gemmAttrs...)
		g.Output = append(g.Output, onnx.NewValueInfo(OutputLogits, b.dt, []onnx.Dim{batch, {Value: nl}}))
	case graph.HeadToken:
		nl := int64(c.NumLabels)
		w := b.weight("MatMul", int(h), int(nl), 1/math.Sqrt(float64(h)), false)
		bias := b.alias(b.param("Add", []int64{nl}, 0.05, 0, false))
		y := b.node("MatMul", []string{x, w})
		b.nodeTo(OutputLogits, "Add", b.biasAdd(bias, y))
		g.Output = append(g.Output, onnx.NewValueInfo(OutputLogits, b.dt, []onnx.Dim{batch, seq, {Value: nl}}))
	case graph.HeadSpan:
		w := b.weight("MatMul", int(h), 2, 1/math.Sqrt(float64(h)), false)
		bias := b.alias(b.param("Add", []int64{2}, 0.05, 0, false))
		y := b.node("MatMul", []string{x, w})
		y = b.node("Add", b.biasAdd(bias, y))
		parts := b.nodeN("Split", []string{y, b.constI([]int64{2}, 1, 1)}, 2, onnx.AttrInt("axis", -1))
		for i, name := range []string{OutputStart, OutputEnd} {
			b.nodeTo(name, "Squeeze", []string{parts[i], b.constI([]int64{1}, -1)})
			g.Output = append(g.Output, onnx.NewValueInfo(name, b.dt, []onnx.Dim{batch, seq}))
		}
	}
}

// pooling builds the sentence-transformers outputs on the token embeddings x (already named
// token_embeddings) as their legacy export spells them: mean pooling
// ReduceSum(x * m, 1) / Clip(ReduceSum(m, 1), 1e-9) with m = Cast(Unsqueeze(attention_mask, -1)),
// then Normalize: e / Expand(Clip(ReduceL2(e, -1), 1e-12), Shape(e)).
func (b *builder) pooling(x string) {
	c := b.cfg
	axis1 := func() string { return b.constI([]int64{1}, 1) }
	m := b.cast(b.node("Unsqueeze", []string{AttentionMask, b.constI([]int64{1}, -1)}), b.dt)
	sum := b.cast(b.node("Mul", []string{x, m}), b.dt)
	sum = b.node("ReduceSum", []string{sum, axis1()}, onnx.AttrInt("keepdims", 0))
	count := b.node("ReduceSum", []string{b.cast(m, b.dt), axis1()}, onnx.AttrInt("keepdims", 0))
	count = b.node("Clip", []string{count, b.constF(1e-9), ""})
	e := b.cast(b.node("Div", []string{sum, count}), b.dt)
	e = b.node("Concat", []string{e}, onnx.AttrInt("axis", -1))
	var norm string
	if c.Opset >= 18 {
		norm = b.node("ReduceL2", []string{e, b.constI([]int64{1}, -1)}, onnx.AttrInt("keepdims", 1))
	} else {
		norm = b.node("ReduceL2", []string{e}, onnx.AttrInts("axes", -1), onnx.AttrInt("keepdims", 1))
	}
	norm = b.node("Clip", []string{norm, b.constF(1e-12), ""})
	norm = b.node("Expand", []string{norm, b.node("Shape", []string{e})})
	b.nodeTo(OutputSentence, "Div", []string{e, norm})
	batch, seq := onnx.Dim{Param: "batch"}, onnx.Dim{Param: "seq"}
	h := onnx.Dim{Value: int64(c.Hidden)}
	b.g.Output = append(b.g.Output,
		onnx.NewValueInfo(OutputTokenEmb, b.dt, []onnx.Dim{batch, seq, h}),
		onnx.NewValueInfo(OutputSentence, b.dt, []onnx.Dim{batch, h}))
}
