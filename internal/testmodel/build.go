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

// LayerNormEps is the default epsilon of every LayerNorm in the generated models (Config.Epsilon).
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
	// extraKey, when nonzero, draws the next parameters from the extra streams extraKey,
	// extraKey+1, ... instead of the main sequence, so optional parts leave the ranks (and so the
	// values) of all other parameters unchanged.
	extraKey uint64
	// prelude holds the Identity alias nodes, placed first in the graph.
	prelude []*onnx.NodeProto
	// noAlias suppresses ParamAliases (the embedding LayerNorm's parameters stay direct).
	noAlias bool
	// consts maps a constant's content to its initializer (ConstInitializers).
	consts map[string]string
	// relBias is the relative position bias added to the scores of every layer (RelPosBias).
	relBias string
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
	if b.cfg.ConstInitializers {
		return b.constInit(b.floatTensor("", nil, []float64{v}))
	}
	id := b.id()
	out := fmt.Sprintf("/Constant_%d_output_0", id)
	b.g.Node = append(b.g.Node, onnx.NewNode("Constant", fmt.Sprintf("/Constant_%d", id), nil, []string{out},
		onnx.AttrTensor("value", b.floatTensor("", nil, []float64{v}))))
	return out
}

// constI emits a Constant node holding int64 values (a scalar when dims is nil).
func (b *builder) constI(dims []int64, vals ...int64) string {
	if b.cfg.ConstInitializers {
		return b.constInit(onnx.NewInt64Tensor("", dims, vals))
	}
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

// constB emits a Constant node (or initializer) holding a bool scalar.
func (b *builder) constB(v bool) string {
	t := &onnx.TensorProto{DataType: proto.Int32(int32(onnx.TensorProto_BOOL)), RawData: []byte{0}}
	if v {
		t.RawData[0] = 1
	}
	if b.cfg.ConstInitializers {
		return b.constInit(t)
	}
	id := b.id()
	out := fmt.Sprintf("/Constant_%d_output_0", id)
	b.g.Node = append(b.g.Node, onnx.NewNode("Constant", fmt.Sprintf("/Constant_%d", id), nil, []string{out},
		onnx.AttrTensor("value", t)))
	return out
}

// constInit returns an initializer holding t's value (t has no name), one per distinct value,
// as the dynamo exporter stores constants.
func (b *builder) constInit(t *onnx.TensorProto) string {
	key := fmt.Sprint(t.GetDataType(), t.GetDims(), t.GetRawData())
	if n, ok := b.consts[key]; ok {
		return n
	}
	if b.consts == nil {
		b.consts = map[string]string{}
	}
	n := fmt.Sprintf("val_%d", b.id())
	t.Name = proto.String(n)
	b.g.Initializer = append(b.g.Initializer, t)
	b.consts[key] = n
	return n
}

// cast emits Cast(x, to).
func (b *builder) cast(x string, to onnx.TensorProto_DataType) string {
	return b.node("Cast", []string{x}, onnx.AttrInt("to", int64(to)))
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
// tensor's values depend only on the seed, its size and its rank. Parameters of optional parts
// are drawn from streams of their own (see builder.extraKey).
func (b *builder) param(prefix string, dims []int64, scale, offset float64, transpose bool) string {
	name := fmt.Sprintf("onnx::%s_%d", prefix, b.id())
	var stream uint64
	if b.extraKey != 0 {
		stream = 0x6578747261<<16 | b.extraKey // "extra"
		b.extraKey++
	} else {
		b.params++
		stream = 0x6b7072756e65<<16 | uint64(b.params) // "kprune"
	}
	rng := rand.NewPCG(b.cfg.Seed, stream)
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
		w := b.weight("Gemm", in, out, scale, true)
		bias := b.alias(b.param("Gemm", []int64{int64(out)}, 0.05, 0, false))
		y := b.node("Gemm", []string{x, w, bias}, onnx.AttrFloat("alpha", 1), onnx.AttrFloat("beta", 1), onnx.AttrInt("transB", 1))
		if b.batchSeq == "" {
			b.batchSeq = b.node("Shape", []string{InputIDs})
		}
		shape := b.node("Concat", []string{b.batchSeq, b.sharedI("Concat", int64(out))}, onnx.AttrInt("axis", 0))
		return b.node("Reshape", []string{y, shape})
	}
	w := b.weight("MatMul", in, out, scale, false)
	bias := b.alias(b.param("Add", []int64{int64(out)}, 0.05, 0, false))
	y := b.node("MatMul", []string{x, w})
	return b.node("Add", b.biasAdd(bias, y))
}

// biasAdd orders the inputs of a linear's bias Add: the bias first (torch's legacy exporter),
// or after the MatMul output with Config.BiasLast.
func (b *builder) biasAdd(bias, y string) []string {
	if b.cfg.BiasLast {
		return []string{y, bias}
	}
	return []string{bias, y}
}

// residualAdd orders the inputs of a residual Add: the residual x first, or after the sublayer
// output y with Config.ResidualLast.
func (b *builder) residualAdd(x, y string) []string {
	if b.cfg.ResidualLast {
		return []string{y, x}
	}
	return []string{x, y}
}

// weight draws an in->out dense weight (values drawn in [in, out] order, std scale) and returns
// what its MatMul (gemm false: [in, out]) or Gemm with transB=1 (gemm true: [out, in]) takes, as
// Config.WeightVia says. The values the op sees do not depend on WeightVia.
func (b *builder) weight(prefix string, in, out int, scale float64, gemm bool) string {
	dims := []int64{int64(in), int64(out)}
	switch b.cfg.WeightVia {
	case ViaTranspose:
		w := b.param(prefix, dims, scale, 0, !gemm)
		return b.node("Transpose", []string{w}, onnx.AttrInts("perm", 1, 0))
	case ViaIdentity:
		return b.identity(b.param(prefix, dims, scale, 0, gemm))
	case ViaCast:
		return b.cast(b.param(prefix, dims, scale, 0, gemm), b.dt)
	}
	return b.param(prefix, dims, scale, 0, gemm)
}

// alias returns Identity(p) placed first in the graph when Config.ParamAliases is set (and the
// embedding LayerNorm is not being built), p otherwise.
func (b *builder) alias(p string) string {
	if !b.cfg.ParamAliases || b.noAlias {
		return p
	}
	return b.identity(p)
}

// identity adds Identity(p) to the nodes placed first in the graph and returns its output.
func (b *builder) identity(p string) string {
	id := b.id()
	out := fmt.Sprintf("onnx::Identity_%d", id)
	b.prelude = append(b.prelude, onnx.NewNode("Identity", fmt.Sprintf("Identity_%d", id), []string{p}, []string{out}))
	return out
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
	bias := b.alias(b.param("Add", []int64{int64(b.cfg.Hidden)}, 0.05, 0, false))
	s := b.node("Add", []string{x, bias})
	return b.layerNorm(s, b.outName(last))
}

// outName names the encoder's final hidden state when last is set: last_hidden_state, or
// token_embeddings with Pooling.
func (b *builder) outName(last bool) string {
	switch {
	case !last:
		return ""
	case b.cfg.Pooling:
		return OutputTokenEmb
	}
	return OutputLastState
}

// headShape returns the target shape tensor of the [B,T,D'] -> [B,T,H,d_h] Reshape of x.
func (b *builder) headShape(x string, heads int, dims *layerDims) string {
	d := int64(b.cfg.HeadDim)
	switch b.cfg.Reshape {
	case ReshapeMinus1:
		return b.sharedI("Reshape", 0, 0, -1, d)
	case ReshapeShapeSlice:
		return b.sliceShape("split", d)
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
	case ReshapeShapeSlice:
		return b.sliceShape("merge")
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

// sliceShape returns Concat(Shape(input_ids)[0:1], Shape(input_ids)[1:2], [-1], tail...), made
// once per kind and shared (ReshapeShapeSlice).
func (b *builder) sliceShape(kind string, tail ...int64) string {
	key := "shape_slice/" + kind
	if n, ok := b.shared[key]; ok {
		return n
	}
	if b.shared == nil {
		b.shared = map[string]string{}
	}
	if _, ok := b.shared["shape_slice/batch"]; !ok {
		b.shared["shape_slice/batch"] = b.node("Shape", []string{InputIDs}, onnx.AttrInt("start", 0), onnx.AttrInt("end", 1))
		b.shared["shape_slice/seq"] = b.node("Shape", []string{InputIDs}, onnx.AttrInt("start", 1), onnx.AttrInt("end", 2))
	}
	in := []string{b.shared["shape_slice/batch"], b.shared["shape_slice/seq"], b.constI([]int64{1}, -1)}
	for _, v := range tail {
		in = append(in, b.constI([]int64{1}, v))
	}
	n := b.node("Concat", in, onnx.AttrInt("axis", 0))
	b.shared[key] = n
	return n
}

// reshapeAttrs are the attributes of the head split and merge Reshapes.
func (b *builder) reshapeAttrs() []*onnx.AttributeProto {
	if b.cfg.Reshape == ReshapeShapeSlice {
		return []*onnx.AttributeProto{onnx.AttrInt("allowzero", 1)}
	}
	return nil
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
