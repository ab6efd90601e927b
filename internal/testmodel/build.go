package testmodel

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/kprune/kprune/graph"
	"github.com/kprune/kprune/onnx"
	"google.golang.org/protobuf/proto"
)

// Input and output names of the generated models.
const (
	InputIDs        = "input_ids"
	AttentionMask   = "attention_mask"
	TokenTypeIDs    = "token_type_ids"
	OutputLogits    = "logits"
	OutputStart     = "start_logits"
	OutputEnd       = "end_logits"
	OutputLastState = "last_hidden_state"
)

// LayerNormEps is the epsilon of every LayerNorm in the generated models.
const LayerNormEps = 1e-12

// Outputs returns the graph output names Build gives a model with head kind h.
func Outputs(h graph.HeadKind) []string {
	switch h {
	case graph.HeadSpan:
		return []string{OutputStart, OutputEnd}
	case graph.HeadNone:
		return []string{OutputLastState}
	default:
		return []string{OutputLogits}
	}
}

// Build generates the encoder cfg describes (see Config). The same Config always gives a model
// that onnx.Encode serialises to identical bytes.
func Build(cfg Config) (*onnx.ModelProto, error) {
	c, err := cfg.Normalize()
	if err != nil {
		return nil, err
	}
	return build(c), nil
}

// build generates the model of a normalised Config.
func build(c Config) *onnx.ModelProto {
	b := &builder{
		cfg: c,
		dt:  c.DType,
		g:   &onnx.GraphProto{Name: proto.String("main_graph")},
		ids: 173,
	}
	b.build()
	m := &onnx.ModelProto{
		IrVersion:       proto.Int64(8),
		ProducerName:    proto.String("kprune-testmodel"),
		ProducerVersion: proto.String("1"),
		OpsetImport:     []*onnx.OperatorSetIdProto{{Domain: proto.String(""), Version: proto.Int64(int64(c.Opset))}},
		Graph:           b.g,
	}
	return m
}

type builder struct {
	cfg    Config
	dt     onnx.TensorProto_DataType
	params int // parameter tensors drawn so far
	g      *onnx.GraphProto
	ids    int
	// shared int64 initializers by content key
	shared map[string]string
	// batchSeq is Shape(input_ids): int64 [2] = [batch, seq]; only built when needed.
	batchSeq string
}

// id returns the next name number: a bijection of a counter onto [0, 1000003) that scrambles the
// order, so the numbers carry no structural information.
func (b *builder) id() int {
	b.ids++
	return (b.ids*7919 + 4099) % 1000003
}

func (b *builder) node(op string, inputs []string, attrs ...*onnx.AttributeProto) string {
	return b.nodeN(op, inputs, 1, attrs...)[0]
}

func (b *builder) nodeN(op string, inputs []string, nout int, attrs ...*onnx.AttributeProto) []string {
	name := fmt.Sprintf("/%s_%d", op, b.id())
	outs := make([]string, nout)
	for i := range outs {
		outs[i] = fmt.Sprintf("%s_output_%d", name, i)
	}
	b.g.Node = append(b.g.Node, onnx.NewNode(op, name, inputs, outs, attrs...))
	return outs
}

// nodeTo is node with a chosen output name.
func (b *builder) nodeTo(out, op string, inputs []string, attrs ...*onnx.AttributeProto) string {
	name := fmt.Sprintf("/%s_%d", op, b.id())
	b.g.Node = append(b.g.Node, onnx.NewNode(op, name, inputs, []string{out}, attrs...))
	return out
}

// constF emits a Constant node holding a scalar of the model's float type.
func (b *builder) constF(v float64) string {
	id := b.id()
	out := fmt.Sprintf("/Constant_%d_output_0", id)
	b.g.Node = append(b.g.Node, onnx.NewNode("Constant", fmt.Sprintf("/Constant_%d", id), nil, []string{out},
		onnx.AttrTensor("value", b.floatTensor("", nil, []float64{v}))))
	return out
}

// constI emits a Constant node holding int64 values (a scalar when dims is nil).
func (b *builder) constI(dims []int64, vals ...int64) string {
	id := b.id()
	out := fmt.Sprintf("onnx::Unsqueeze_%d", id)
	b.g.Node = append(b.g.Node, onnx.NewNode("Constant", fmt.Sprintf("Constant_%d", id), nil, []string{out},
		onnx.AttrTensor("value", onnx.NewInt64Tensor("", dims, vals))))
	return out
}

// sharedI returns an int64 [len(vals)] initializer with these values, creating it on first use.
func (b *builder) sharedI(prefix string, vals ...int64) string {
	key := fmt.Sprint(prefix, vals)
	if n, ok := b.shared[key]; ok {
		return n
	}
	if b.shared == nil {
		b.shared = map[string]string{}
	}
	n := fmt.Sprintf("onnx::%s_%d", prefix, b.id())
	b.g.Initializer = append(b.g.Initializer, onnx.NewInt64Tensor(n, []int64{int64(len(vals))}, vals))
	b.shared[key] = n
	return n
}

func (b *builder) floatTensor(name string, dims []int64, v []float64) *onnx.TensorProto {
	if b.dt == onnx.TensorProto_DOUBLE {
		return onnx.NewDoubleTensor(name, dims, v)
	}
	f := make([]float32, len(v))
	for i, x := range v {
		f[i] = float32(x)
	}
	return onnx.NewFloatTensor(name, dims, f)
}

// param draws n = prod(dims) values uniform in offset +- scale*sqrt(3) (standard deviation
// scale) and stores them as an initializer. When transpose is set, dims must be [r, c]: the
// values are drawn in [r, c] row-major order and stored transposed as [c, r]. Each parameter
// tensor has its own PCG stream, keyed by cfg.Seed and the tensor's rank in drawing order, so a
// tensor's values depend only on the seed, its size and its rank.
func (b *builder) param(prefix string, dims []int64, scale, offset float64, transpose bool) string {
	name := fmt.Sprintf("onnx::%s_%d", prefix, b.id())
	b.params++
	rng := rand.NewPCG(b.cfg.Seed, 0x6b7072756e65<<16|uint64(b.params)) // "kprune"
	n := int(onnx.NumElements(dims))
	a := scale * math.Sqrt(3)
	size := 4
	if b.dt == onnx.TensorProto_DOUBLE {
		size = 8
	}
	raw := make([]byte, size*n)
	if size == 8 {
		for k := range n {
			u := float64(rng.Uint64()>>11) / (1 << 53)
			binary.LittleEndian.PutUint64(raw[8*k:], math.Float64bits(offset+a*(2*u-1)))
		}
	} else {
		// One 64-bit draw gives two float32 values: 24 random bits are all a float32 holds.
		lo, step := float32(offset-a), float32(2*a/(1<<24))
		for k := 0; k < n; k += 2 {
			u := rng.Uint64()
			binary.LittleEndian.PutUint32(raw[4*k:], math.Float32bits(lo+step*float32(u>>40)))
			if k+1 < n {
				binary.LittleEndian.PutUint32(raw[4*k+4:], math.Float32bits(lo+step*float32((u>>8)&(1<<24-1))))
			}
		}
	}
	stored := dims
	if transpose {
		r, c := int(dims[0]), int(dims[1])
		stored = []int64{dims[1], dims[0]}
		t := make([]byte, len(raw))
		for i := range r {
			for j := range c {
				copy(t[(j*r+i)*size:(j*r+i+1)*size], raw[(i*c+j)*size:])
			}
		}
		raw = t
	}
	b.g.Initializer = append(b.g.Initializer, &onnx.TensorProto{
		Name: proto.String(name), Dims: append([]int64(nil), stored...), DataType: proto.Int32(int32(b.dt)), RawData: raw})
	return name
}

func (b *builder) build() {
	c := b.cfg
	g := b.g
	dims2 := []onnx.Dim{{Param: "batch"}, {Param: "seq"}}
	for _, n := range []string{InputIDs, AttentionMask, TokenTypeIDs} {
		g.Input = append(g.Input, onnx.NewValueInfo(n, onnx.TensorProto_INT64, dims2))
	}
	x := b.embeddings()
	mask := b.extendedMask()
	for l := range c.Layers {
		x = b.attention(x, mask, c.HeadsPerLayer[l])
		x = b.ffn(x, c.FFNPerLayer[l], l == c.Layers-1 && c.Head == graph.HeadNone)
	}
	b.head(x)
}

// embeddings builds LN(word[input_ids] + pos[position_ids] + type[token_type_ids]).
func (b *builder) embeddings() string {
	c := b.cfg
	h := int64(c.Hidden)
	word := b.param("Gather", []int64{int64(c.Vocab), h}, 1, 0, false)
	pos := b.param("Gather", []int64{int64(c.MaxPos), h}, 1, 0, false)
	typ := b.param("Gather", []int64{int64(c.TypeVocab), h}, 1, 0, false)
	var posIDs string
	shape := b.node("Shape", []string{InputIDs})
	seqLen := b.node("Gather", []string{shape, b.constI(nil, 1)}, onnx.AttrInt("axis", 0))
	if c.Reshape == ReshapeConcat {
		// torch 1.13: arange(seq).unsqueeze(0)
		rng := b.node("Range", []string{b.constI(nil, 0), seqLen, b.constI(nil, 1)})
		posIDs = b.node("Unsqueeze", []string{rng, b.constI([]int64{1}, 0)})
	} else {
		// transformers: self.position_ids[:, :seq] on a registered [1, MaxPos] buffer.
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
	te := b.node("Gather", []string{typ, TokenTypeIDs})
	sum = b.node("Add", []string{sum, te})
	return b.layerNorm(sum, "")
}

// extendedMask builds (1 - Cast(Unsqueeze(Unsqueeze(mask, 1), 2))) * fill: [batch, 1, 1, seq].
func (b *builder) extendedMask() string {
	u := b.node("Unsqueeze", []string{AttentionMask, b.constI([]int64{1}, 1)})
	u = b.node("Unsqueeze", []string{u, b.constI([]int64{1}, 2)})
	f := b.node("Cast", []string{u}, onnx.AttrInt("to", int64(b.dt)))
	inv := b.node("Sub", []string{b.constF(1), f})
	fill := -10000.0
	if b.cfg.MaskMin {
		fill = -math.MaxFloat32
		if b.dt == onnx.TensorProto_DOUBLE {
			fill = -math.MaxFloat64
		}
	}
	return b.node("Mul", []string{inv, b.constF(fill)})
}

// layerNorm normalises x over its last axis; out names the result ("" for a generated name).
// Its parameters gamma (1 +- 0.1) and beta (+- 0.1) are drawn the same way in both forms.
func (b *builder) layerNorm(x, out string) string {
	h := []int64{int64(b.cfg.Hidden)}
	gamma := b.param("Mul", h, 0.1/math.Sqrt(3), 1, false)
	beta := b.param("Add", h, 0.1/math.Sqrt(3), 0, false)
	if b.cfg.Opset >= 17 {
		in := []string{x, gamma, beta}
		attrs := []*onnx.AttributeProto{onnx.AttrInt("axis", -1), onnx.AttrFloat("epsilon", LayerNormEps)}
		if out != "" {
			return b.nodeTo(out, "LayerNormalization", in, attrs...)
		}
		return b.node("LayerNormalization", in, attrs...)
	}
	mean := b.reduceMean(x)
	d := b.node("Sub", []string{x, mean})
	sq := b.node("Pow", []string{d, b.constF(2)})
	v := b.reduceMean(sq)
	v = b.node("Add", []string{v, b.constF(LayerNormEps)})
	s := b.node("Sqrt", []string{v})
	n := b.node("Div", []string{d, s})
	n = b.node("Mul", []string{n, gamma})
	if out != "" {
		return b.nodeTo(out, "Add", []string{n, beta})
	}
	return b.node("Add", []string{n, beta})
}

func (b *builder) reduceMean(x string) string {
	if b.cfg.Opset >= 18 {
		return b.node("ReduceMean", []string{x, b.constI([]int64{1}, -1)}, onnx.AttrInt("keepdims", 1))
	}
	return b.node("ReduceMean", []string{x}, onnx.AttrInts("axes", -1), onnx.AttrInt("keepdims", 1))
}

// to2D reshapes a [batch, seq, in] tensor to [batch*seq, in] for the Gemm form.
func (b *builder) to2D(x string, in int) string {
	return b.node("Reshape", []string{x, b.sharedI("Reshape", -1, int64(in))})
}

// linear applies a dense layer in to out; x is [batch, seq, in] in the MatMul form and
// [batch*seq, in] (see to2D) in the Gemm form, whose result is reshaped back to
// [batch, seq, out]. Weights (std 1/sqrt(in)) and bias (std 0.05) are drawn identically in both.
func (b *builder) linear(x string, in, out int) string {
	scale := 1 / math.Sqrt(float64(in))
	if b.cfg.Gemm {
		w := b.param("Gemm", []int64{int64(in), int64(out)}, scale, 0, true)
		bias := b.param("Gemm", []int64{int64(out)}, 0.05, 0, false)
		y := b.node("Gemm", []string{x, w, bias}, onnx.AttrFloat("alpha", 1), onnx.AttrFloat("beta", 1), onnx.AttrInt("transB", 1))
		if b.batchSeq == "" {
			b.batchSeq = b.node("Shape", []string{InputIDs})
		}
		shape := b.node("Concat", []string{b.batchSeq, b.sharedI("Concat", int64(out))}, onnx.AttrInt("axis", 0))
		return b.node("Reshape", []string{y, shape})
	}
	w := b.param("MatMul", []int64{int64(in), int64(out)}, scale, 0, false)
	bias := b.param("Add", []int64{int64(out)}, 0.05, 0, false)
	y := b.node("MatMul", []string{x, w})
	return b.node("Add", []string{bias, y})
}

// linearIn prepares x for linear: the 2-D reshape in the Gemm form, x itself otherwise.
func (b *builder) linearIn(x string, in int) string {
	if b.cfg.Gemm {
		return b.to2D(x, in)
	}
	return x
}

// removedSublayer builds LN(x + bias), what is left of a sublayer whose units were all pruned.
// The bias is drawn like a linear's bias.
func (b *builder) removedSublayer(x string, last bool) string {
	bias := b.param("Add", []int64{int64(b.cfg.Hidden)}, 0.05, 0, false)
	s := b.node("Add", []string{x, bias})
	return b.layerNorm(s, b.outName(last))
}

func (b *builder) outName(last bool) string {
	if last {
		return OutputLastState
	}
	return ""
}

// headShape returns the target shape tensor of the [B,T,D'] -> [B,T,H,d_h] Reshape of x.
func (b *builder) headShape(x string, heads int, dims *layerDims) string {
	d := int64(b.cfg.HeadDim)
	switch b.cfg.Reshape {
	case ReshapeMinus1:
		return b.sharedI("Reshape", 0, 0, -1, d)
	case ReshapeConcat:
		bs, sl := dims.get(b, x)
		return b.node("Concat", []string{
			b.node("Unsqueeze", []string{bs, b.constI([]int64{1}, 0)}),
			b.node("Unsqueeze", []string{sl, b.constI([]int64{1}, 0)}),
			b.constI([]int64{1}, int64(heads)), b.constI([]int64{1}, d)}, onnx.AttrInt("axis", 0))
	default:
		return b.sharedI("Reshape", 0, 0, int64(heads), d)
	}
}

// mergeShape returns the target shape of the [B,T,H,d_h] -> [B,T,H*d_h] Reshape.
func (b *builder) mergeShape(x string, heads int, dims *layerDims) string {
	w := int64(heads * b.cfg.HeadDim)
	switch b.cfg.Reshape {
	case ReshapeMinus1:
		return b.sharedI("Reshape", 0, 0, -1)
	case ReshapeConcat:
		bs, sl := dims.get(b, x)
		return b.node("Concat", []string{
			b.node("Unsqueeze", []string{bs, b.constI([]int64{1}, 0)}),
			b.node("Unsqueeze", []string{sl, b.constI([]int64{1}, 0)}),
			b.constI([]int64{1}, w)}, onnx.AttrInt("axis", 0))
	default:
		return b.sharedI("Reshape", 0, 0, w)
	}
}

// layerDims holds Gather(Shape(x), 0) and Gather(Shape(x), 1) of a layer input, as torch
// computes them once per layer for the concat Reshape style.
type layerDims struct{ batch, seq string }

func (d *layerDims) get(b *builder, x string) (string, string) {
	if d.batch == "" {
		d.batch = b.node("Gather", []string{b.node("Shape", []string{x}), b.constI(nil, 0)}, onnx.AttrInt("axis", 0))
		d.seq = b.node("Gather", []string{b.node("Shape", []string{x}), b.constI(nil, 1)}, onnx.AttrInt("axis", 0))
	}
	return d.batch, d.seq
}

// attention builds LN(x + O(MHA(x))) with the given number of heads.
func (b *builder) attention(x, mask string, heads int) string {
	c := b.cfg
	if heads == 0 {
		return b.removedSublayer(x, false)
	}
	inner := heads * c.HeadDim
	dims := &layerDims{}
	xin := b.linearIn(x, c.Hidden)
	split := func(proj string, perm ...int64) string {
		r := b.node("Reshape", []string{proj, b.headShape(x, heads, dims)})
		return b.node("Transpose", []string{r}, onnx.AttrInts("perm", perm...))
	}
	q := split(b.linear(xin, c.Hidden, inner), 0, 2, 1, 3)
	k := split(b.linear(xin, c.Hidden, inner), 0, 2, 3, 1)
	scores := b.node("MatMul", []string{q, k})
	scores = b.node("Div", []string{scores, b.constF(math.Sqrt(float64(c.HeadDim)))})
	scores = b.node("Add", []string{scores, mask})
	probs := b.node("Softmax", []string{scores}, onnx.AttrInt("axis", -1))
	v := split(b.linear(xin, c.Hidden, inner), 0, 2, 1, 3)
	ctx := b.node("MatMul", []string{probs, v})
	ctx = b.node("Transpose", []string{ctx}, onnx.AttrInts("perm", 0, 2, 1, 3))
	ctx = b.node("Reshape", []string{ctx, b.mergeShape(x, heads, dims)})
	o := b.linear(b.linearIn(ctx, inner), inner, c.Hidden)
	sum := b.node("Add", []string{x, o})
	return b.layerNorm(sum, "")
}

// ffn builds LN(x + W2(act(W1(x)))); last names the result last_hidden_state.
func (b *builder) ffn(x string, width int, last bool) string {
	c := b.cfg
	if width == 0 {
		return b.removedSublayer(x, last)
	}
	h := b.linear(b.linearIn(x, c.Hidden), c.Hidden, width)
	a := b.activation(h)
	y := b.linear(b.linearIn(a, width), width, c.Hidden)
	sum := b.node("Add", []string{x, y})
	return b.layerNorm(sum, b.outName(last))
}

func (b *builder) activation(x string) string {
	switch b.cfg.Activation {
	case ActRelu:
		return b.node("Relu", []string{x})
	case ActGeluTanh:
		half := b.node("Mul", []string{x, b.constF(0.5)})
		cube := b.node("Pow", []string{x, b.constF(3)})
		inner := b.node("Mul", []string{cube, b.constF(0.044715)})
		inner = b.node("Add", []string{x, inner})
		inner = b.node("Mul", []string{inner, b.constF(math.Sqrt(2 / math.Pi))})
		t := b.node("Tanh", []string{inner})
		t = b.node("Add", []string{t, b.constF(1)})
		return b.node("Mul", []string{half, t})
	default:
		d := b.node("Div", []string{x, b.constF(math.Sqrt2)})
		e := b.node("Erf", []string{d})
		e = b.node("Add", []string{e, b.constF(1)})
		m := b.node("Mul", []string{x, e})
		return b.node("Mul", []string{m, b.constF(0.5)})
	}
}

// head builds the output head on the final hidden state x and declares the graph outputs.
func (b *builder) head(x string) {
	c := b.cfg
	g := b.g
	h := int64(c.Hidden)
	batch, seq := onnx.Dim{Param: "batch"}, onnx.Dim{Param: "seq"}
	switch c.Head {
	case graph.HeadNone:
		g.Output = append(g.Output, onnx.NewValueInfo(OutputLastState, b.dt, []onnx.Dim{batch, seq, {Value: h}}))
	case graph.HeadClassification, graph.HeadRegression:
		cls := b.node("Gather", []string{x, b.constI(nil, 0)}, onnx.AttrInt("axis", 1))
		scale := 1 / math.Sqrt(float64(h))
		pw := b.param("Gemm", []int64{h, h}, scale, 0, true)
		pb := b.param("Gemm", []int64{h}, 0.05, 0, false)
		p := b.node("Gemm", []string{cls, pw, pb}, onnx.AttrFloat("alpha", 1), onnx.AttrFloat("beta", 1), onnx.AttrInt("transB", 1))
		p = b.node("Tanh", []string{p})
		nl := int64(c.NumLabels)
		cw := b.param("Gemm", []int64{h, nl}, 1.5*scale, 0, true)
		cb := b.param("Gemm", []int64{nl}, 0.05, 0, false)
		b.nodeTo(OutputLogits, "Gemm", []string{p, cw, cb}, onnx.AttrFloat("alpha", 1), onnx.AttrFloat("beta", 1), onnx.AttrInt("transB", 1))
		g.Output = append(g.Output, onnx.NewValueInfo(OutputLogits, b.dt, []onnx.Dim{batch, {Value: nl}}))
	case graph.HeadToken:
		nl := int64(c.NumLabels)
		w := b.param("MatMul", []int64{h, nl}, 1/math.Sqrt(float64(h)), 0, false)
		bias := b.param("Add", []int64{nl}, 0.05, 0, false)
		y := b.node("MatMul", []string{x, w})
		b.nodeTo(OutputLogits, "Add", []string{bias, y})
		g.Output = append(g.Output, onnx.NewValueInfo(OutputLogits, b.dt, []onnx.Dim{batch, seq, {Value: nl}}))
	case graph.HeadSpan:
		w := b.param("MatMul", []int64{h, 2}, 1/math.Sqrt(float64(h)), 0, false)
		bias := b.param("Add", []int64{2}, 0.05, 0, false)
		y := b.node("MatMul", []string{x, w})
		y = b.node("Add", []string{bias, y})
		parts := b.nodeN("Split", []string{y, b.constI([]int64{2}, 1, 1)}, 2, onnx.AttrInt("axis", -1))
		for i, name := range []string{OutputStart, OutputEnd} {
			b.nodeTo(name, "Squeeze", []string{parts[i], b.constI([]int64{1}, -1)})
			g.Output = append(g.Output, onnx.NewValueInfo(name, b.dt, []onnx.Dim{batch, seq}))
		}
	}
}
