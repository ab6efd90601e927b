package testmodel

import (
	"math"

	"github.com/kprune/kprune/onnx"
)

// attention builds LN(x + O(MHA(x))) with the given number of heads; mask gives the additive
// mask a layer adds to its scores.
func (b *builder) attention(x string, mask func() string, heads int) string {
	c := b.cfg
	if heads == 0 {
		return b.removedSublayer(x, false)
	}
	inner := heads * c.HeadDim
	dims := &layerDims{}
	xin := b.linearIn(x, c.Hidden)
	split := func(proj string, perm ...int64) string {
		r := b.node("Reshape", []string{proj, b.headShape(x, heads, dims)}, b.reshapeAttrs()...)
		return b.node("Transpose", []string{r}, onnx.AttrInts("perm", perm...))
	}
	q := split(b.linear(xin, c.Hidden, inner), 0, 2, 1, 3)
	var k string
	if c.KeyTranspose == KeyReshape {
		k = b.keyReshape(split(b.linear(xin, c.Hidden, inner), 0, 2, 1, 3))
	} else {
		k = split(b.linear(xin, c.Hidden, inner), 0, 2, 3, 1)
	}
	scores := b.scores(q, k)
	if b.relBias != "" {
		scores = b.node("Add", []string{scores, b.relBias})
	}
	scores = b.node("Add", []string{scores, mask()})
	probs := b.node("Softmax", []string{scores}, onnx.AttrInt("axis", -1))
	if c.NaNGuard {
		probs = b.node("Where", []string{b.node("IsNaN", []string{probs}), b.constF(0), probs})
	}
	v := split(b.linear(xin, c.Hidden, inner), 0, 2, 1, 3)
	ctx := b.node("MatMul", []string{probs, v})
	ctx = b.node("Transpose", []string{ctx}, onnx.AttrInts("perm", 0, 2, 1, 3))
	ctx = b.node("Reshape", []string{ctx, b.mergeShape(x, heads, dims)}, b.reshapeAttrs()...)
	o := b.linear(b.linearIn(ctx, inner), inner, c.Hidden)
	sum := b.node("Add", b.residualAdd(x, o))
	return b.layerNorm(sum, "")
}

// keyReshape transposes the keys k [B,H,T,d_h] to [B,H,d_h,T] as the dynamo exporter does:
// Reshape to [-1, T, d_h], Transpose [0,2,1], Reshape to [B, H, d_h, T], the shapes sliced from
// Shape(k).
func (b *builder) keyReshape(k string) string {
	shape := b.node("Shape", []string{k})
	slice := func(from, to int64) string {
		return b.node("Slice", []string{shape, b.constI([]int64{1}, from), b.constI([]int64{1}, to)})
	}
	d, t, bh := slice(-1, math.MaxInt64), slice(-2, -1), slice(math.MinInt64, -2)
	r := b.node("Reshape", []string{k, b.node("Concat", []string{b.constI([]int64{1}, -1), t, d}, onnx.AttrInt("axis", 0))})
	r = b.node("Transpose", []string{r}, onnx.AttrInts("perm", 0, 2, 1))
	return b.node("Reshape", []string{r, b.node("Concat", []string{bh, d, t}, onnx.AttrInt("axis", 0))})
}

// scores computes the scaled scores Q K^T / sqrt(d_h) of q [B,H,T,d_h] and the transposed keys
// k [B,H,d_h,T], spelled as Config.Scaling says.
func (b *builder) scores(q, k string) string {
	d := float64(b.cfg.HeadDim)
	switch b.cfg.Scaling {
	case ScaleMul:
		s := b.node("MatMul", []string{q, k})
		return b.node("Mul", []string{s, b.constF(1 / math.Sqrt(d))})
	case ScaleSplit:
		q = b.node("Mul", []string{q, b.constF(math.Pow(d, -0.25))})
		k = b.node("Mul", []string{k, b.constF(math.Pow(d, -0.25))})
		return b.node("MatMul", []string{q, k})
	case ScaleShapeSqrt:
		last := b.node("Slice", []string{b.node("Shape", []string{q}), b.constI([]int64{1}, -1), b.constI([]int64{1}, math.MaxInt64)})
		root := b.node("Sqrt", []string{b.cast(last, b.dt)})
		scale := b.cast(b.node("Div", []string{b.constF(1), root}), b.dt)
		q = b.node("Mul", []string{q, b.node("Sqrt", []string{scale})})
		k = b.node("Mul", []string{k, b.node("Sqrt", []string{scale})})
		return b.node("MatMul", []string{q, k})
	default:
		s := b.node("MatMul", []string{q, k})
		return b.node("Div", []string{s, b.constF(math.Sqrt(d))})
	}
}

// ffn builds LN(x + W2(act(W1(x)))); last names the result (see outName).
func (b *builder) ffn(x string, width int, last bool) string {
	c := b.cfg
	if width == 0 {
		return b.removedSublayer(x, last)
	}
	h := b.linear(b.linearIn(x, c.Hidden), c.Hidden, width)
	a := b.activation(h)
	y := b.linear(b.linearIn(a, width), width, c.Hidden)
	sum := b.node("Add", b.residualAdd(x, y))
	return b.layerNorm(sum, b.outName(last))
}

// extendedMask builds the additive attention mask as Config.Mask and Config.MaskExpand say and
// returns what gives each layer its mask: the same tensor for every layer, except MaskWhereInf,
// which makes it again in each layer. The default is
// (1 - Cast(Unsqueeze(Unsqueeze(mask, 1), 2))) * fill: [batch, 1, 1, seq].
func (b *builder) extendedMask() func() string {
	c := b.cfg
	keep := b.keepMask()
	finfoMin := -math.MaxFloat32
	if b.dt == onnx.TensorProto_DOUBLE {
		finfoMin = -math.MaxFloat64
	}
	asBool := func() string {
		if c.MaskExpand == ExpandGatherND { // already bool
			return keep
		}
		return b.cast(keep, onnx.TensorProto_BOOL)
	}
	var m string
	switch c.Mask {
	case MaskWhere:
		m = b.node("Where", []string{asBool(), b.constF(0), b.constF(finfoMin)})
	case MaskWhereInf:
		keepB := asBool()
		return func() string { return b.node("Where", []string{keepB, b.constF(0), b.constF(math.Inf(-1))}) }
	case MaskSubWhere:
		inv := b.node("Sub", []string{b.constF(1), b.cast(keep, b.dt)})
		m = b.node("Where", []string{b.cast(inv, onnx.TensorProto_BOOL), b.constF(finfoMin), inv})
	default:
		f := b.node("Cast", []string{keep}, onnx.AttrInt("to", int64(b.dt)))
		inv := b.node("Sub", []string{b.constF(1), f})
		fill := -10000.0
		if c.MaskMin {
			fill = finfoMin
		}
		m = b.node("Mul", []string{inv, b.constF(fill)})
	}
	return func() string { return m }
}

// keepMask gives attention_mask as int64 [batch,1,1,seq] (ExpandNone), int64 [batch,1,seq,seq]
// (ExpandShape) or bool [batch,1,seq,seq] (ExpandGatherND).
func (b *builder) keepMask() string {
	if b.cfg.MaskExpand == ExpandGatherND {
		return b.gatherNDMask()
	}
	u := b.node("Unsqueeze", []string{AttentionMask, b.constI([]int64{1}, 1)})
	u = b.node("Unsqueeze", []string{u, b.constI([]int64{1}, 2)})
	if b.cfg.MaskExpand != ExpandShape {
		return u
	}
	shape := b.node("Shape", []string{AttentionMask})
	batch := b.node("Unsqueeze", []string{b.node("Gather", []string{shape, b.constI(nil, 0)}, onnx.AttrInt("axis", 0)), b.constI([]int64{1}, 0)})
	seq := b.node("Unsqueeze", []string{b.node("Gather", []string{shape, b.constI(nil, 1)}, onnx.AttrInt("axis", 0)), b.constI([]int64{1}, 0)})
	target := b.node("Concat", []string{batch, b.constI([]int64{1}, 1), seq, seq}, onnx.AttrInt("axis", 0))
	return b.node("Expand", []string{u, target})
}

// gatherNDMask builds the dynamo export's mask: GatherND(Cast(attention_mask, bool), idx) with
// idx [batch,1,1,seq,2] holding (batch index, key index), And-ed with an all-true
// (query index >= 0) [1,1,seq,1] tensor: bool [batch,1,seq,seq].
func (b *builder) gatherNDMask() string {
	shape := b.node("Shape", []string{AttentionMask})
	batch := b.node("Gather", []string{shape, b.constI(nil, 0)}, onnx.AttrInt("axis", 0))
	seq := b.node("Gather", []string{shape, b.constI(nil, 1)}, onnx.AttrInt("axis", 0))
	bi := b.node("Range", []string{b.constI(nil, 0), batch, b.constI(nil, 1)})
	si := b.node("Range", []string{b.constI(nil, 0), seq, b.constI(nil, 1)})
	bi = b.node("Unsqueeze", []string{bi, b.constI([]int64{3}, 1, 2, 3)}) // [b,1,1,1]
	s3 := b.node("Unsqueeze", []string{si, b.constI([]int64{2}, 0, 1)})   // [1,1,s]
	qi := b.node("Unsqueeze", []string{s3, b.constI([]int64{1}, 3)})      // [1,1,s,1]
	ki := b.node("Unsqueeze", []string{s3, b.constI([]int64{1}, 2)})      // [1,1,1,s]
	query := b.node("And", []string{b.constB(true), b.node("GreaterOrEqual", []string{qi, b.constI(nil, 0)})})
	full := b.node("Shape", []string{b.node("Max", []string{bi, ki})})
	bx := b.node("Unsqueeze", []string{b.node("Expand", []string{bi, full}), b.constI([]int64{1}, -1)})
	kx := b.node("Unsqueeze", []string{b.node("Expand", []string{ki, full}), b.constI([]int64{1}, -1)})
	idx := b.node("Concat", []string{bx, kx}, onnx.AttrInt("axis", -1))
	g := b.node("GatherND", []string{b.cast(AttentionMask, onnx.TensorProto_BOOL), idx}, onnx.AttrInt("batch_dims", 0))
	return b.node("And", []string{query, g})
}

// relativePositionBias builds MPNet's bias once: buckets of (key - query) position as
// transformers' relative_position_bucket computes them (bidirectional, RelBuckets buckets, max
// distance RelMaxDistance), a Gather from a [RelBuckets, Heads] table (std 0.5), Transpose to
// [H, seq, seq], Unsqueeze to [1, H, seq, seq] and Expand to [batch, H, seq, seq].
func (b *builder) relativePositionBias() string {
	c := b.cfg
	b.extraKey = extraRelTable
	table := b.param("Gather", []int64{RelBuckets, int64(c.Heads)}, 0.5, 0, false)
	b.extraKey = 0
	shape := b.node("Shape", []string{InputIDs})
	batch := b.node("Gather", []string{shape, b.constI(nil, 0)}, onnx.AttrInt("axis", 0))
	seq := b.node("Gather", []string{shape, b.constI(nil, 1)}, onnx.AttrInt("axis", 0))
	r := b.node("Range", []string{b.constI(nil, 0), seq, b.constI(nil, 1)})
	ctx := b.node("Unsqueeze", []string{r, b.constI([]int64{1}, 1)})
	mem := b.node("Unsqueeze", []string{r, b.constI([]int64{1}, 0)})
	n := b.node("Neg", []string{b.node("Sub", []string{mem, ctx})})
	half := int64(RelBuckets / 2)
	ret := b.node("Mul", []string{b.cast(b.node("Less", []string{n, b.constI(nil, 0)}), onnx.TensorProto_INT64), b.constI(nil, half)})
	n = b.node("Abs", []string{n})
	maxExact := half / 2
	small := b.node("Less", []string{n, b.constI(nil, maxExact)})
	f := b.node("Div", []string{b.cast(n, b.dt), b.constF(float64(maxExact))})
	f = b.node("Div", []string{b.node("Log", []string{f}), b.constF(math.Log(float64(RelMaxDistance) / float64(maxExact)))})
	f = b.node("Mul", []string{f, b.constF(float64(half - maxExact))})
	large := b.node("Add", []string{b.cast(f, onnx.TensorProto_INT64), b.constI(nil, maxExact)})
	large = b.node("Min", []string{large, b.constI(nil, half-1)})
	bucket := b.node("Add", []string{ret, b.node("Where", []string{small, n, large})})
	bias := b.node("Gather", []string{table, bucket})
	bias = b.node("Transpose", []string{bias}, onnx.AttrInts("perm", 2, 0, 1))
	bias = b.node("Unsqueeze", []string{bias, b.constI([]int64{1}, 0)})
	u := func(x string) string { return b.node("Unsqueeze", []string{x, b.constI([]int64{1}, 0)}) }
	target := b.node("Concat", []string{u(batch), b.constI([]int64{1}, 1), u(seq), u(seq)}, onnx.AttrInt("axis", 0))
	return b.node("Expand", []string{bias, target})
}
