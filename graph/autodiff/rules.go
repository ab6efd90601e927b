package autodiff

import (
	"fmt"
	"math"
	"sort"

	"github.com/kprune/kprune/graph/infer"
	"github.com/kprune/kprune/onnx"
)

// gradFunc emits the gradient of a node's inputs. gy[k] is the gradient of output k ("" when no
// gradient reaches it; at least one is set); need[k] tells which inputs want a gradient. It
// returns one tensor per input ("" where none is produced), each shaped like that input.
type gradFunc func(b *builder, n *onnx.NodeProto, gy []string, need []bool) ([]string, error)

// rule is the gradient rule of one operator type.
type rule struct {
	// diff lists the inputs gradients flow through; nil means all of them.
	diff []int
	grad gradFunc
}

func (r rule) differentiable(n *onnx.NodeProto, k int) bool {
	if r.diff == nil {
		return true
	}
	for _, d := range r.diff {
		if d == k {
			return true
		}
	}
	return false
}

var rules map[string]rule

func init() {
	first := []int{0}
	rules = map[string]rule{
		"Add":                {nil, gradAdd},
		"Sub":                {nil, gradSub},
		"Mul":                {nil, gradMul},
		"Div":                {nil, gradDiv},
		"Sum":                {nil, gradSum},
		"Pow":                {first, gradPow},
		"Sqrt":               {first, gradSqrt},
		"Erf":                {first, gradErf},
		"Tanh":               {first, gradTanh},
		"Relu":               {first, gradRelu},
		"Sigmoid":            {first, gradSigmoid},
		"Gelu":               {first, gradGelu},
		"Neg":                {first, gradNeg},
		"Exp":                {first, gradExp},
		"Log":                {first, gradLog},
		"Reciprocal":         {first, gradReciprocal},
		"Identity":           {first, gradIdentity},
		"Dropout":            {first, gradIdentity},
		"Cast":               {first, gradCast},
		"Softmax":            {first, gradSoftmax},
		"LogSoftmax":         {first, gradLogSoftmax},
		"ReduceSum":          {first, gradReduce},
		"ReduceMean":         {first, gradReduce},
		"LayerNormalization": {nil, gradLayerNorm},
		"MatMul":             {nil, gradMatMul},
		"Gemm":               {nil, gradGemm},
		"Reshape":            {first, gradReshape},
		"Squeeze":            {first, gradReshape},
		"Unsqueeze":          {first, gradReshape},
		"Flatten":            {first, gradReshape},
		"Transpose":          {first, gradTranspose},
		"Expand":             {first, gradExpand},
		"Slice":              {first, gradSlice},
		"Gather":             {first, gradGather},
		"Concat":             {nil, gradConcat},
		"Split":              {first, gradSplit},
		"Where":              {[]int{1, 2}, gradWhere},
		"Clip":               {first, gradClip},
		"ReduceL2":           {first, gradReduceL2},
		"ReduceMax":          {first, gradReduceSelect},
		"ReduceMin":          {first, gradReduceSelect},
		"Max":                {nil, gradSelect},
		"Min":                {nil, gradSelect},
	}
}

// Supported returns the operator types (default ONNX domain) that have a gradient rule, sorted.
func Supported() []string {
	out := make([]string, 0, len(rules))
	for op := range rules {
		out = append(out, op)
	}
	sort.Strings(out)
	return out
}

func lookupRule(n *onnx.NodeProto) (rule, bool) {
	if d := n.GetDomain(); d != "" && d != "ai.onnx" {
		return rule{}, false
	}
	r, ok := rules[n.GetOpType()]
	return r, ok
}

// ins returns the infos of a node's inputs.
func (b *builder) ins(n *onnx.NodeProto) []infer.Info {
	out := make([]infer.Info, len(n.GetInput()))
	for k, name := range n.GetInput() {
		if name == "" {
			out[k] = infer.Info{Rank: -1}
			continue
		}
		out[k] = b.info[name]
	}
	return out
}

func in(n *onnx.NodeProto, k int) string { return n.GetInput()[k] }

func gradAdd(b *builder, n *onnx.NodeProto, gy []string, need []bool) ([]string, error) {
	yi := b.info[n.GetOutput()[0]]
	gx := make([]string, 2)
	for k := 0; k < 2; k++ {
		if need[k] {
			gx[k] = b.unbroadcast(gy[0], yi, in(n, k))
		}
	}
	return gx, nil
}

func gradSum(b *builder, n *onnx.NodeProto, gy []string, need []bool) ([]string, error) {
	yi := b.info[n.GetOutput()[0]]
	gx := make([]string, len(need))
	for k := range need {
		if need[k] {
			gx[k] = b.unbroadcast(gy[0], yi, in(n, k))
		}
	}
	return gx, nil
}

func gradSub(b *builder, n *onnx.NodeProto, gy []string, need []bool) ([]string, error) {
	yi := b.info[n.GetOutput()[0]]
	gx := make([]string, 2)
	if need[0] {
		gx[0] = b.unbroadcast(gy[0], yi, in(n, 0))
	}
	if need[1] {
		gx[1] = b.neg(b.unbroadcast(gy[0], yi, in(n, 1)))
	}
	return gx, nil
}

func gradMul(b *builder, n *onnx.NodeProto, gy []string, need []bool) ([]string, error) {
	yi := b.info[n.GetOutput()[0]]
	gx := make([]string, 2)
	for k := 0; k < 2; k++ {
		if need[k] {
			gx[k] = b.unbroadcast(b.mul(gy[0], in(n, 1-k)), yi, in(n, k))
		}
	}
	return gx, nil
}

func gradDiv(b *builder, n *onnx.NodeProto, gy []string, need []bool) ([]string, error) {
	y := n.GetOutput()[0]
	yi := b.info[y]
	gx := make([]string, 2)
	if need[0] {
		gx[0] = b.unbroadcast(b.div(gy[0], in(n, 1)), yi, in(n, 0))
	}
	if need[1] {
		// d(a/b)/db = -y/b
		gx[1] = b.neg(b.unbroadcast(b.div(b.mul(gy[0], y), in(n, 1)), yi, in(n, 1)))
	}
	return gx, nil
}

func gradPow(b *builder, n *onnx.NodeProto, gy []string, need []bool) ([]string, error) {
	x, e := in(n, 0), in(n, 1)
	ei := b.info[e]
	elem := b.elemOf(x)
	yi := b.info[n.GetOutput()[0]]
	var d string
	if len(ei.Float) == 1 || len(ei.Value) == 1 {
		c := 0.0
		if len(ei.Float) == 1 {
			c = ei.Float[0]
		} else {
			c = float64(ei.Value[0])
		}
		switch c {
		case 0:
			return []string{b.zerosLike(x), ""}, nil
		case 1:
			return []string{b.unbroadcast(gy[0], yi, x), ""}, nil
		case 2:
			d = b.mul(x, b.constF(elem, 2))
		default:
			d = b.mul(b.op("Pow", []string{x, b.constF(elem, c-1)}), b.constF(elem, c))
		}
	} else {
		// A run-time exponent that does not depend on the differentiated tensors.
		ec := e
		if ei.Elem != elem {
			ec = b.op("Cast", []string{e}, onnx.AttrInt("to", int64(elem)))
		}
		d = b.mul(b.op("Pow", []string{x, b.sub(ec, b.constF(elem, 1))}), ec)
	}
	return []string{b.unbroadcast(b.mul(gy[0], d), yi, x), ""}, nil
}

func gradSqrt(b *builder, n *onnx.NodeProto, gy []string, need []bool) ([]string, error) {
	elem := b.elemOf(in(n, 0))
	return []string{b.div(b.mul(gy[0], b.constF(elem, 0.5)), n.GetOutput()[0])}, nil
}

func gradErf(b *builder, n *onnx.NodeProto, gy []string, need []bool) ([]string, error) {
	x := in(n, 0)
	elem := b.elemOf(x)
	// exp(-x^2); when x = y/c or y*c with a constant c (x/sqrt2 in GELU), square y instead so
	// that the backward keeps y, which GELU's backward keeps anyway, and not also x.
	src, k := x, -1.0
	if y, c, ok := b.scaledFrom(x); ok {
		src, k = y, -c*c
	}
	e := b.op("Exp", []string{b.mul(b.mul(src, src), b.constF(elem, k))})
	return []string{b.mul(gy[0], b.mul(e, b.constF(elem, 2/math.Sqrt(math.Pi))))}, nil
}

func gradTanh(b *builder, n *onnx.NodeProto, gy []string, need []bool) ([]string, error) {
	y := n.GetOutput()[0]
	elem := b.elemOf(y)
	return []string{b.mul(gy[0], b.sub(b.constF(elem, 1), b.mul(y, y)))}, nil
}

func gradSigmoid(b *builder, n *onnx.NodeProto, gy []string, need []bool) ([]string, error) {
	y := n.GetOutput()[0]
	elem := b.elemOf(y)
	return []string{b.mul(gy[0], b.mul(y, b.sub(b.constF(elem, 1), y)))}, nil
}

func gradRelu(b *builder, n *onnx.NodeProto, gy []string, need []bool) ([]string, error) {
	y := n.GetOutput()[0]
	elem := b.elemOf(y)
	zero := b.constF(elem, 0)
	return []string{b.op("Where", []string{b.op("Greater", []string{y, zero}), gy[0], zero})}, nil
}

func gradGelu(b *builder, n *onnx.NodeProto, gy []string, need []bool) ([]string, error) {
	x := in(n, 0)
	elem := b.elemOf(x)
	c := func(v float64) string { return b.constF(elem, v) }
	var d string
	switch approx := attrString(n, "approximate"); approx {
	case "", "none":
		// d/dx x*Phi(x) = Phi(x) + x*phi(x)
		cdf := b.mul(b.add(b.op("Erf", []string{b.mul(x, c(1/math.Sqrt2))}), c(1)), c(0.5))
		pdf := b.mul(b.op("Exp", []string{b.mul(b.mul(x, x), c(-0.5))}), c(1/math.Sqrt(2*math.Pi)))
		d = b.add(cdf, b.mul(x, pdf))
	case "tanh":
		k := math.Sqrt(2 / math.Pi)
		x2 := b.mul(x, x)
		u := b.mul(b.mul(x, b.add(c(1), b.mul(x2, c(0.044715)))), c(k))
		t := b.op("Tanh", []string{u})
		du := b.mul(b.add(c(1), b.mul(x2, c(3*0.044715))), c(k))
		d = b.add(b.mul(b.add(t, c(1)), c(0.5)), b.mul(b.mul(b.mul(x, c(0.5)), b.sub(c(1), b.mul(t, t))), du))
	default:
		return nil, fmt.Errorf("unknown approximate=%q", approx)
	}
	return []string{b.mul(gy[0], d)}, nil
}

func gradNeg(b *builder, n *onnx.NodeProto, gy []string, need []bool) ([]string, error) {
	return []string{b.neg(gy[0])}, nil
}

func gradExp(b *builder, n *onnx.NodeProto, gy []string, need []bool) ([]string, error) {
	return []string{b.mul(gy[0], n.GetOutput()[0])}, nil
}

func gradLog(b *builder, n *onnx.NodeProto, gy []string, need []bool) ([]string, error) {
	return []string{b.div(gy[0], in(n, 0))}, nil
}

func gradReciprocal(b *builder, n *onnx.NodeProto, gy []string, need []bool) ([]string, error) {
	y := n.GetOutput()[0]
	return []string{b.neg(b.mul(gy[0], b.mul(y, y)))}, nil
}

func gradIdentity(b *builder, n *onnx.NodeProto, gy []string, need []bool) ([]string, error) {
	if n.GetOpType() == "Dropout" && len(n.GetInput()) >= 3 && in(n, 2) != "" {
		if v := b.info[in(n, 2)].Value; len(v) != 1 || v[0] != 0 {
			return nil, fmt.Errorf("training-mode Dropout (or Dropout with a run-time training_mode) is not supported")
		}
	}
	if gy[0] == "" {
		return nil, fmt.Errorf("only the gradient of the first output is supported")
	}
	return []string{gy[0]}, nil
}

func gradCast(b *builder, n *onnx.NodeProto, gy []string, need []bool) ([]string, error) {
	x := in(n, 0)
	elem := b.elemOf(x)
	if !infer.IsFloat(elem) {
		return nil, fmt.Errorf("input %q has element type %s: only float-to-float casts carry gradients", x, elem)
	}
	if b.info[n.GetOutput()[0]].Elem == elem {
		return []string{gy[0]}, nil
	}
	return []string{b.op("Cast", []string{gy[0]}, onnx.AttrInt("to", int64(elem)))}, nil
}

// softmaxAxes returns the axes a Softmax or LogSoftmax normalises over (opset dependent).
func (b *builder) softmaxAxes(n *onnx.NodeProto) ([]int, error) {
	r := b.info[in(n, 0)].Rank
	if r < 0 {
		return nil, fmt.Errorf("rank of input %q unknown", in(n, 0))
	}
	def := int64(-1)
	if b.opset < 13 {
		def = 1
	}
	a := onnx.AttrIntOr(n, "axis", def)
	if a < 0 {
		a += int64(r)
	}
	if a < 0 || a >= int64(r) {
		return nil, fmt.Errorf("axis %d out of range for rank %d", a, r)
	}
	if b.opset >= 13 {
		return []int{int(a)}, nil
	}
	var axes []int
	for k := int(a); k < r; k++ {
		axes = append(axes, k)
	}
	return axes, nil
}

func gradSoftmax(b *builder, n *onnx.NodeProto, gy []string, need []bool) ([]string, error) {
	axes, err := b.softmaxAxes(n)
	if err != nil {
		return nil, err
	}
	y := n.GetOutput()[0]
	gyy := b.mul(gy[0], y)
	s := b.reduceSum(gyy, axes, true)
	// y*(gy - s) = gy*y - y*s
	return []string{b.sub(gyy, b.mul(y, s))}, nil
}

func gradLogSoftmax(b *builder, n *onnx.NodeProto, gy []string, need []bool) ([]string, error) {
	axes, err := b.softmaxAxes(n)
	if err != nil {
		return nil, err
	}
	y := n.GetOutput()[0]
	s := b.reduceSum(gy[0], axes, true)
	return []string{b.sub(gy[0], b.mul(b.op("Exp", []string{y}), s))}, nil
}

// reduction returns the axes a Reduce node reduces over its input's rank, whether it keeps
// them, and whether it reduces nothing; an error when they are not known when the graph is built.
func reduction(b *builder, n *onnx.NodeProto) (axes []int, keep, noop bool, err error) {
	x := in(n, 0)
	xi := b.info[x]
	if xi.Rank < 0 {
		return nil, false, false, fmt.Errorf("rank of input %q unknown", x)
	}
	axes, keep, noop, ok := infer.ReduceAxes(n, b.ins(n), xi.Rank)
	if !ok {
		return nil, false, false, fmt.Errorf("reduction axes are not known when the graph is built")
	}
	return axes, keep, noop, nil
}

func gradReduce(b *builder, n *onnx.NodeProto, gy []string, need []bool) ([]string, error) {
	x := in(n, 0)
	xi := b.info[x]
	axes, keep, noop, err := reduction(b, n)
	if err != nil {
		return nil, err
	}
	if noop {
		return []string{gy[0]}, nil
	}
	g := gy[0]
	if !keep {
		g = b.unsqueeze(g, sortedInts(axes))
	}
	if n.GetOpType() == "ReduceMean" {
		cnt := int64(1)
		static := true
		for _, a := range axes {
			if xi.Dims[a] < 0 {
				static = false
				break
			}
			cnt *= xi.Dims[a]
		}
		elem := b.elemOf(x)
		if static {
			g = b.mul(g, b.constF(elem, 1/float64(cnt)))
		} else {
			ratio := b.op("Div", []string{b.op("Size", []string{x}), b.op("Size", []string{n.GetOutput()[0]})})
			g = b.div(g, b.op("Cast", []string{ratio}, onnx.AttrInt("to", int64(elem))))
		}
	}
	r := b.op("Expand", []string{g, b.shapeOf(x)})
	return []string{r}, nil
}

// gradReduceL2 differentiates y = sqrt(sum x^2) over the reduced axes: dx = dy * x / y, with y
// kept away from zero (a zero vector has no direction; sentence-transformers clamps the norm
// after this anyway).
func gradReduceL2(b *builder, n *onnx.NodeProto, gy []string, need []bool) ([]string, error) {
	x, y := in(n, 0), n.GetOutput()[0]
	axes, keep, noop, err := reduction(b, n)
	if err != nil {
		return nil, err
	}
	g := gy[0]
	if !noop && !keep {
		g, y = b.unsqueeze(g, sortedInts(axes)), b.unsqueeze(y, sortedInts(axes))
	}
	if noop {
		// ReduceL2 over no axes is |x|.
		y = b.op("Abs", []string{x})
	}
	safe := b.op("Max", []string{y, b.constF(b.elemOf(x), 1e-30)})
	return []string{b.mul(g, b.div(x, safe))}, nil
}

// gradReduceSelect differentiates ReduceMax and ReduceMin (max pooling): the gradient goes to
// the elements equal to the result (to each of them on ties, as a subgradient).
func gradReduceSelect(b *builder, n *onnx.NodeProto, gy []string, need []bool) ([]string, error) {
	x, y := in(n, 0), n.GetOutput()[0]
	axes, keep, noop, err := reduction(b, n)
	if err != nil {
		return nil, err
	}
	if noop {
		return []string{gy[0]}, nil
	}
	g := gy[0]
	if !keep {
		g, y = b.unsqueeze(g, sortedInts(axes)), b.unsqueeze(y, sortedInts(axes))
	}
	zero := b.constF(b.elemOf(x), 0)
	hit := b.op("Equal", []string{x, y})
	return []string{b.op("Where", []string{hit, b.op("Expand", []string{g, b.shapeOf(x)}), zero})}, nil
}

func gradLayerNorm(b *builder, n *onnx.NodeProto, gy []string, need []bool) ([]string, error) {
	if gy[0] == "" || (len(gy) > 1 && gy[1] != "") || (len(gy) > 2 && gy[2] != "") {
		return nil, fmt.Errorf("only the gradient of output Y is supported, not of Mean or InvStdDev")
	}
	x, scale := in(n, 0), in(n, 1)
	xi := b.info[x]
	if xi.Rank < 0 {
		return nil, fmt.Errorf("rank of input %q unknown", x)
	}
	a := onnx.AttrIntOr(n, "axis", -1)
	if a < 0 {
		a += int64(xi.Rank)
	}
	if a < 0 || a >= int64(xi.Rank) {
		return nil, fmt.Errorf("axis %d out of range for rank %d", a, xi.Rank)
	}
	var axes []int
	for k := int(a); k < xi.Rank; k++ {
		axes = append(axes, k)
	}
	elem := b.elemOf(x)
	eps := float64(onnx.AttrFloatOr(n, "epsilon", 1e-5))
	yi := b.info[n.GetOutput()[0]]
	mean := b.reduceMean(x, axes, true)
	d := b.sub(x, mean)
	v := b.reduceMean(b.mul(d, d), axes, true)
	rstd := b.op("Reciprocal", []string{b.op("Sqrt", []string{b.add(v, b.constF(elem, eps))})})
	xhat := b.mul(d, rstd)
	gx := make([]string, len(n.GetInput()))
	g := gy[0]
	if need[0] {
		gh := b.mul(g, scale)
		m1 := b.reduceMean(gh, axes, true)
		m2 := b.reduceMean(b.mul(gh, xhat), axes, true)
		gx[0] = b.mul(rstd, b.sub(b.sub(gh, m1), b.mul(xhat, m2)))
	}
	if need[1] {
		gx[1] = b.unbroadcast(b.mul(g, xhat), yi, scale)
	}
	if len(need) > 2 && need[2] {
		gx[2] = b.unbroadcast(g, yi, in(n, 2))
	}
	return gx, nil
}

// swapLast transposes the last two axes of t (rank r).
func (b *builder) swapLast(t string, r int) string {
	perm := make([]int64, r)
	for k := range perm {
		perm[k] = int64(k)
	}
	perm[r-1], perm[r-2] = perm[r-2], perm[r-1]
	return b.op("Transpose", []string{t}, onnx.AttrInts("perm", perm...))
}

// gemm2 emits op(a) @ op(b) * alpha for 2-D a and b.
func (b *builder) gemm2(x, y string, ta, tb bool, alpha float64) string {
	elem := b.elemOf(x)
	if b.opset >= 11 {
		attrs := []*onnx.AttributeProto{}
		if ta {
			attrs = append(attrs, onnx.AttrInt("transA", 1))
		}
		if tb {
			attrs = append(attrs, onnx.AttrInt("transB", 1))
		}
		if alpha != 1 {
			attrs = append(attrs, onnx.AttrFloat("alpha", float32(alpha)))
		}
		return b.op("Gemm", []string{x, y}, attrs...)
	}
	if ta {
		x = b.swapLast(x, 2)
	}
	if tb {
		y = b.swapLast(y, 2)
	}
	r := b.op("MatMul", []string{x, y})
	if alpha != 1 {
		r = b.mul(r, b.constF(elem, alpha))
	}
	return r
}

func gradMatMul(b *builder, n *onnx.NodeProto, gy []string, need []bool) ([]string, error) {
	a, w := in(n, 0), in(n, 1)
	ai, wi := b.info[a], b.info[w]
	yi := b.info[n.GetOutput()[0]]
	if ai.Rank < 2 || wi.Rank < 2 || yi.Rank < 2 {
		return nil, fmt.Errorf("operands of rank %d and %d: the MatMul gradient rule needs known ranks of at least 2", ai.Rank, wi.Rank)
	}
	g := gy[0]
	batch := yi.DimList()[:yi.Rank-2]
	gx := make([]string, 2)
	if need[0] {
		da := b.op("MatMul", []string{g, b.swapLast(w, wi.Rank)})
		b.info[da] = infer.FromDims(ai.Elem, append(append([]infer.SymInt{}, batch...), yi.Dim(-2), ai.Dim(-1)))
		gx[0] = b.unbroadcast(da, b.info[da], a)
	}
	if need[1] {
		if wi.Rank == 2 && ai.Rank > 2 {
			// Fold the batch axes into the rows: dW = A2^T @ G2 without a per-batch [K,N] tensor.
			a2 := b.op("Reshape", []string{a, b.concatDims([]string{b.constI(-1), b.dimOf(a, ai.Rank-1)})})
			g2 := b.op("Reshape", []string{g, b.concatDims([]string{b.constI(-1), b.dimOf(n.GetOutput()[0], yi.Rank-1)})})
			gx[1] = b.gemm2(a2, g2, true, false, 1)
		} else {
			dw := b.op("MatMul", []string{b.swapLast(a, ai.Rank), g})
			b.info[dw] = infer.FromDims(wi.Elem, append(append([]infer.SymInt{}, batch...), wi.Dim(-2), wi.Dim(-1)))
			gx[1] = b.unbroadcast(dw, b.info[dw], w)
		}
	}
	return gx, nil
}

// concatDims concatenates 1-element int64 tensors into a shape, folding constants.
func (b *builder) concatDims(parts []string) string {
	vals := make([]int64, 0, len(parts))
	for _, p := range parts {
		v := b.info[p].Value
		if len(v) != 1 {
			return b.op("Concat", parts, onnx.AttrInt("axis", 0))
		}
		vals = append(vals, v[0])
	}
	return b.constI(vals...)
}

func gradGemm(b *builder, n *onnx.NodeProto, gy []string, need []bool) ([]string, error) {
	a, w := in(n, 0), in(n, 1)
	if b.info[a].Rank != 2 || b.info[w].Rank != 2 {
		return nil, fmt.Errorf("the Gemm operands must be 2-D with known rank")
	}
	alpha := float64(onnx.AttrFloatOr(n, "alpha", 1))
	beta := float64(onnx.AttrFloatOr(n, "beta", 1))
	ta := onnx.AttrIntOr(n, "transA", 0) != 0
	tb := onnx.AttrIntOr(n, "transB", 0) != 0
	g := gy[0]
	gx := make([]string, len(n.GetInput()))
	if need[0] {
		if !ta {
			gx[0] = b.gemm2(g, w, false, !tb, alpha)
		} else {
			gx[0] = b.gemm2(w, g, tb, true, alpha)
		}
	}
	if need[1] {
		if !tb {
			gx[1] = b.gemm2(a, g, !ta, false, alpha)
		} else {
			gx[1] = b.gemm2(g, a, true, ta, alpha)
		}
	}
	if len(need) > 2 && need[2] {
		c := b.unbroadcast(g, b.info[n.GetOutput()[0]], in(n, 2))
		if beta != 1 {
			c = b.mul(c, b.constF(b.elemOf(a), beta))
		}
		gx[2] = c
	}
	return gx, nil
}

func gradReshape(b *builder, n *onnx.NodeProto, gy []string, need []bool) ([]string, error) {
	return []string{b.reshapeLike(gy[0], in(n, 0))}, nil
}

func gradTranspose(b *builder, n *onnx.NodeProto, gy []string, need []bool) ([]string, error) {
	r := b.info[in(n, 0)].Rank
	perm := onnx.AttrIntsOr(n, "perm", nil)
	if perm == nil {
		if r < 0 {
			return nil, fmt.Errorf("rank of input unknown and no perm")
		}
		for k := r - 1; k >= 0; k-- {
			perm = append(perm, int64(k))
		}
	}
	inv := make([]int64, len(perm))
	for k, p := range perm {
		if p < 0 || int(p) >= len(perm) {
			return nil, fmt.Errorf("invalid perm %v", perm)
		}
		inv[p] = int64(k)
	}
	return []string{b.op("Transpose", []string{gy[0]}, onnx.AttrInts("perm", inv...))}, nil
}

func gradExpand(b *builder, n *onnx.NodeProto, gy []string, need []bool) ([]string, error) {
	return []string{b.unbroadcast(gy[0], b.info[n.GetOutput()[0]], in(n, 0))}, nil
}

// gradClip passes the gradient where the input was not clipped (y == x): torch's clamp in
// sentence-transformers' pooling and normalisation. The bounds are constants here.
func gradClip(b *builder, n *onnx.NodeProto, gy []string, need []bool) ([]string, error) {
	x, y := in(n, 0), n.GetOutput()[0]
	zero := b.constF(b.elemOf(y), 0)
	return []string{b.op("Where", []string{b.op("Equal", []string{y, x}), gy[0], zero})}, nil
}

// gradSelect differentiates Max and Min: the gradient goes to the input(s) the output equals
// (to each of them on ties, as a subgradient), reduced over broadcast axes.
func gradSelect(b *builder, n *onnx.NodeProto, gy []string, need []bool) ([]string, error) {
	y := n.GetOutput()[0]
	yi := b.info[y]
	zero := b.constF(b.elemOf(y), 0)
	gx := make([]string, len(need))
	for k := range need {
		if need[k] {
			w := b.op("Where", []string{b.op("Equal", []string{y, in(n, k)}), gy[0], zero})
			gx[k] = b.unbroadcast(w, yi, in(n, k))
		}
	}
	return gx, nil
}

func gradWhere(b *builder, n *onnx.NodeProto, gy []string, need []bool) ([]string, error) {
	yi := b.info[n.GetOutput()[0]]
	elem := b.elemOf(n.GetOutput()[0])
	zero := b.constF(elem, 0)
	gx := make([]string, 3)
	if need[1] {
		w := b.op("Where", []string{in(n, 0), gy[0], zero})
		gx[1] = b.unbroadcast(w, yi, in(n, 1))
	}
	if need[2] {
		w := b.op("Where", []string{in(n, 0), zero, gy[0]})
		gx[2] = b.unbroadcast(w, yi, in(n, 2))
	}
	return gx, nil
}

// padBack pads g, the gradient of x sliced to [starts[k], ends[k]) with step 1 along axes[k],
// with zeros back to x's shape.
func (b *builder) padBack(g, x string, axes []int, starts, ends []int64) string {
	xi := b.info[x]
	r := xi.Rank
	before := make([]string, r)
	after := make([]string, r)
	for k := range before {
		before[k], after[k] = b.constI(0), b.constI(0)
	}
	for j, a := range axes {
		s, e := starts[j], ends[j]
		if d := xi.Dim(a); d.Known {
			first, count := infer.SliceRange(s, e, 1, d.V)
			before[a] = b.constI(first)
			after[a] = b.constI(d.V - first - count)
			continue
		}
		dim := b.dimOf(x, a)
		bound := func(v int64) string {
			if v >= 0 {
				return b.op("Min", []string{b.constI(v), dim})
			}
			return b.op("Max", []string{b.add(dim, b.constI(v)), b.constI(0)})
		}
		begin := b.constI(0)
		if s != 0 {
			begin = bound(s)
		}
		before[a] = begin
		if e < math.MaxInt32 {
			after[a] = b.sub(dim, b.op("Max", []string{bound(e), begin}))
		}
	}
	pads := b.concatDims(append(before, after...))
	if b.opset >= 11 {
		return b.op("Pad", []string{g, pads})
	}
	v := b.info[pads].Value
	if v == nil {
		b.fail("padding with run-time sizes needs opset 11 (Pad with a pads input); this model has opset %d", b.opset)
		return ""
	}
	return b.op("Pad", []string{g}, onnx.AttrInts("pads", v...))
}

func gradSlice(b *builder, n *onnx.NodeProto, gy []string, need []bool) ([]string, error) {
	x := in(n, 0)
	xi := b.info[x]
	if xi.Rank < 0 {
		return nil, fmt.Errorf("rank of input %q unknown", x)
	}
	starts, ends, axes, steps, ok := infer.SliceParams(n, b.ins(n), xi.Rank)
	if !ok {
		return nil, fmt.Errorf("slice bounds are not known when the graph is built")
	}
	ax := make([]int, len(axes))
	for k, s := range steps {
		if s != 1 {
			return nil, fmt.Errorf("slices with step %d are not supported (only step 1)", s)
		}
		ax[k] = int(axes[k])
	}
	return []string{b.padBack(gy[0], x, ax, starts, ends)}, nil
}

func gradGather(b *builder, n *onnx.NodeProto, gy []string, need []bool) ([]string, error) {
	x, idx := in(n, 0), in(n, 1)
	xi, ii := b.info[x], b.info[idx]
	if xi.Rank < 0 || ii.Rank < 0 {
		return nil, fmt.Errorf("ranks of the inputs are unknown")
	}
	a64 := onnx.AttrIntOr(n, "axis", 0)
	if a64 < 0 {
		a64 += int64(xi.Rank)
	}
	if a64 < 0 || a64 >= int64(xi.Rank) {
		return nil, fmt.Errorf("axis %d out of range for rank %d", a64, xi.Rank)
	}
	a := int(a64)
	if ii.Rank == 0 && len(ii.Value) == 1 {
		// One index: re-insert the axis and pad with zeros around the slice.
		i := ii.Value[0]
		end := i + 1
		if end == 0 {
			end = math.MaxInt64
		}
		u := b.unsqueeze(gy[0], []int{a})
		return []string{b.padBack(u, x, []int{a}, []int64{i}, []int64{end})}, nil
	}
	// General indices: scatter-add into zeros with the gathered axis moved to the front.
	unique := false
	if ii.Value != nil && xi.Dim(a).Known {
		seen := map[int64]bool{}
		unique = true
		for _, v := range ii.Value {
			if v < 0 {
				v += xi.Dims[a]
			}
			if seen[v] {
				unique = false
			}
			seen[v] = true
		}
	}
	if b.opset < 16 && !(unique && b.opset >= 11) {
		return nil, fmt.Errorf("the gradient of a Gather with run-time or repeated indices needs ScatterND with reduction (opset 16); this model has opset %d", b.opset)
	}
	r, q := xi.Rank, ii.Rank
	// updates: gy transposed to [idx dims..., x dims before a..., x dims after a...]
	perm := make([]int64, 0, r+q-1)
	for k := a; k < a+q; k++ {
		perm = append(perm, int64(k))
	}
	for k := 0; k < a; k++ {
		perm = append(perm, int64(k))
	}
	for k := a + q; k < r+q-1; k++ {
		perm = append(perm, int64(k))
	}
	upd := gy[0]
	if !isIdentity(perm) {
		upd = b.op("Transpose", []string{upd}, onnx.AttrInts("perm", perm...))
	}
	// data: zeros shaped [x[a], x[:a]..., x[a+1:]...]
	dperm := []int64{int64(a)}
	for k := 0; k < r; k++ {
		if k != a {
			dperm = append(dperm, int64(k))
		}
	}
	shp := b.op("Gather", []string{b.shapeOf(x), b.constI(dperm...)}, onnx.AttrInt("axis", 0))
	zeros := b.fill(shp, b.elemOf(x), 0)
	ix := idx
	if ii.Value == nil || hasNegative(ii.Value) {
		dim := b.dimOf(x, a)
		if ii.Elem != onnx.TensorProto_INT64 {
			ix = b.op("Cast", []string{ix}, onnx.AttrInt("to", int64(onnx.TensorProto_INT64)))
		}
		ix = b.op("Where", []string{b.op("Less", []string{ix, b.constI(0)}), b.add(ix, dim), ix})
	}
	ix = b.unsqueeze(ix, []int{q})
	var sc string
	if b.opset >= 16 {
		sc = b.op("ScatterND", []string{zeros, ix, upd}, onnx.AttrString("reduction", "add"))
	} else {
		sc = b.op("ScatterND", []string{zeros, ix, upd})
	}
	inv := make([]int64, r)
	for k, p := range dperm {
		inv[p] = int64(k)
	}
	if isIdentity(inv) {
		return []string{sc}, nil
	}
	return []string{b.op("Transpose", []string{sc}, onnx.AttrInts("perm", inv...))}, nil
}

func isIdentity(p []int64) bool {
	for k, v := range p {
		if v != int64(k) {
			return false
		}
	}
	return true
}

func hasNegative(v []int64) bool {
	for _, x := range v {
		if x < 0 {
			return true
		}
	}
	return false
}

// splitAxis emits a Split of g along axis into pieces of the given sizes (1-element int64
// tensors, constant or not).
func (b *builder) split(g string, axis int, sizes []string) []string {
	vals := make([]int64, 0, len(sizes))
	static := true
	for _, s := range sizes {
		v := b.info[s].Value
		if len(v) != 1 {
			static = false
			break
		}
		vals = append(vals, v[0])
	}
	ax := onnx.AttrInt("axis", int64(axis))
	switch {
	case b.opset >= 13:
		return b.opN("Split", []string{g, b.concatDims(sizes)}, len(sizes), ax)
	case static:
		return b.opN("Split", []string{g}, len(sizes), ax, onnx.AttrInts("split", vals...))
	}
	b.fail("splitting a gradient into run-time sizes needs opset 13 (Split with a split input); this model has opset %d", b.opset)
	return make([]string, len(sizes))
}

func gradConcat(b *builder, n *onnx.NodeProto, gy []string, need []bool) ([]string, error) {
	yi := b.info[n.GetOutput()[0]]
	if yi.Rank < 0 {
		return nil, fmt.Errorf("rank of the output unknown")
	}
	a64 := onnx.AttrIntOr(n, "axis", 0)
	if a64 < 0 {
		a64 += int64(yi.Rank)
	}
	a := int(a64)
	sizes := make([]string, len(n.GetInput()))
	for k, x := range n.GetInput() {
		sizes[k] = b.dimOf(x, a)
	}
	parts := b.split(gy[0], a, sizes)
	gx := make([]string, len(need))
	for k := range need {
		if need[k] {
			gx[k] = parts[k]
		}
	}
	return gx, nil
}

func gradSplit(b *builder, n *onnx.NodeProto, gy []string, need []bool) ([]string, error) {
	x := in(n, 0)
	r := b.info[x].Rank
	if r < 0 {
		return nil, fmt.Errorf("rank of input %q unknown", x)
	}
	a64 := onnx.AttrIntOr(n, "axis", 0)
	if a64 < 0 {
		a64 += int64(r)
	}
	parts := make([]string, len(gy))
	for k, o := range n.GetOutput() {
		if gy[k] != "" {
			parts[k] = gy[k]
		} else {
			parts[k] = b.zerosLike(o)
		}
	}
	return []string{b.op("Concat", parts, onnx.AttrInt("axis", a64))}, nil
}

// attrString returns a STRING attribute of n, "" when absent.
func attrString(n *onnx.NodeProto, name string) string {
	if a := onnx.FindAttr(n, name); a != nil {
		return string(a.GetS())
	}
	return ""
}

// scaledFrom reports whether tensor x is y*c (Mul by a scalar constant) or y/c (Div by one), and
// returns y and the factor.
func (b *builder) scaledFrom(x string) (string, float64, bool) {
	p := b.prod[x]
	if p == nil || (p.GetOpType() != "Mul" && p.GetOpType() != "Div") || len(p.GetInput()) != 2 || domainPrefix(p) != "" {
		return "", 0, false
	}
	scalar := func(t string) (float64, bool) {
		f := b.info[t].Float
		if len(f) == 1 && f[0] != 0 {
			return f[0], true
		}
		return 0, false
	}
	y0, y1 := p.GetInput()[0], p.GetInput()[1]
	if c, ok := scalar(y1); ok {
		if p.GetOpType() == "Div" {
			c = 1 / c
		}
		return y0, c, b.info[y0].Elem == b.info[x].Elem
	}
	if c, ok := scalar(y0); ok && p.GetOpType() == "Mul" {
		return y1, c, b.info[y1].Elem == b.info[x].Elem
	}
	return "", 0, false
}
