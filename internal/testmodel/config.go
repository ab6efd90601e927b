// Package testmodel builds synthetic BERT-like ONNX encoders in the forms that torch.onnx and
// Hugging Face/optimum exports produce, with deterministic random weights, for the tests of every
// other kprune package (graph discovery, rewrites, gradients, pruning, benchmarks).
//
// The graphs are post-LayerNorm BERT encoders: word + position + token-type embeddings and a
// LayerNorm; per layer a multi-head attention sublayer and a feed-forward sublayer, each closed by
// a residual Add and a LayerNorm (eps 1e-12 unless Epsilon says); then an output head (see
// graph.HeadKind). Tensor and
// initializer names imitate an exporter's anonymous names ("/MatMul_4711_output_0",
// "onnx::MatMul_1234") with a numbering that is deterministic but unrelated to the structure, so
// code under test cannot discover the structure from names.
//
// Real exporters spell the same computation differently: weights behind Identity, Transpose or
// Cast nodes, the attention scaling as one Div, one Mul or two Muls on Q and K, the mask with
// Where, -inf and IsNaN guards, LayerNormalization and Gelu nodes, constants as initializers,
// and so on. The spelling fields of Config (WeightVia to EmbedSize) choose among them, each
// independently; their zero values build the original spelling byte for byte. Preset returns the
// combinations of the export fixtures (legacy torch.onnx with eager or SDPA attention, dynamo,
// optimum, DistilBERT, RoBERTa, ELECTRA, QA, regression, sentence-transformers pooling, MPNet), so
// that tests can loop over PresetNames without reading the fixtures. Models without
// token_type_ids, with pooled sentence embeddings, a relative position bias or an embedding
// projection compute other functions than the default; every other option computes the same
// function from the same seed.
//
// The package is meant for tests and benchmarks; it is internal to kprune.
package testmodel

import (
	"errors"
	"fmt"
	"slices"

	"github.com/kprune/kprune/graph"
	"github.com/kprune/kprune/onnx"
)

// Reshape styles for Config.Reshape: how the head-split Reshape's target shape is given.
const (
	// ReshapeConst gives [0,0,H,d_h] (and [0,0,H*d_h] to merge heads back) as int64 initializers,
	// shared by every Reshape that uses the same shape (Q, K and V of all layers with the same
	// head count), as constant-folding exporters produce.
	ReshapeConst = "const"
	// ReshapeConcat computes the shape as Concat(Unsqueeze(Gather(Shape(x), 0)),
	// Unsqueeze(Gather(Shape(x), 1)), [H], [d_h]) with Constant nodes, as torch 1.13 exports.
	// Models in this style also compute position ids with Range, like the torch 1.13 export.
	ReshapeConcat = "concat"
	// ReshapeMinus1 gives [0,0,-1,d_h] and [0,0,-1] as shared int64 initializers, so the head
	// count appears only in the weight shapes.
	ReshapeMinus1 = "minus1"
	// ReshapeShapeSlice gives Concat(Shape(input_ids, start=0, end=1), Shape(input_ids, start=1,
	// end=2), [-1], [d_h]) (and [..., -1] to merge), built once and shared by every Reshape,
	// which has allowzero=1, as the dynamo exporter writes it. It needs Opset >= 15.
	ReshapeShapeSlice = "shape_slice"
)

// Activations for Config.Activation.
const (
	// ActGeluErf is x*0.5*(1+erf(x/sqrt2)) built from Div, Erf, Add, Mul, Mul (torch's exact GELU).
	ActGeluErf = "gelu_erf"
	// ActGeluTanh is 0.5*x*(1+tanh(sqrt(2/pi)*(x+0.044715*x^3))) from Mul, Pow, Add, Tanh (HF's
	// "gelu_new").
	ActGeluTanh = "gelu_tanh"
	// ActRelu is a Relu node.
	ActRelu = "relu"
)

// Default values applied by Normalize to zero fields.
const (
	DefaultLayers    = 2
	DefaultHeads     = 2
	DefaultHeadDim   = 8
	DefaultFFN       = 32
	DefaultVocab     = 100
	DefaultMaxPos    = 64
	DefaultTypeVocab = 2
	DefaultOpset     = 14
)

// Config describes a synthetic encoder. The zero value is valid: a 2-layer, 2-head, head
// dimension 8, hidden 16, FFN 32, opset 14, float32 classification model with two labels.
type Config struct {
	// Layers is the number of encoder layers (default 2).
	Layers int
	// Hidden is the model width D (default Heads*HeadDim). It may differ from Heads*HeadDim, as
	// in a model whose heads were pruned: Q, K and V then project D to Heads*HeadDim.
	Hidden int
	// Heads is the number of attention heads per layer (default 2, or the largest entry of
	// HeadsPerLayer when that is given).
	Heads int
	// HeadDim is the per-head width d_h, the same in every layer (default 8).
	HeadDim int
	// FFN is the feed-forward width per layer (default 32).
	FFN int
	// HeadsPerLayer optionally gives each layer's head count (len must equal Layers), overriding
	// Heads, as in a pruned model. A 0 entry builds a layer whose attention sublayer was removed:
	// its output is LN(x + b) with b the former output-projection bias.
	HeadsPerLayer []int
	// FFNPerLayer optionally gives each layer's FFN width (len must equal Layers), overriding
	// FFN. A 0 entry builds a layer whose FFN sublayer was removed: LN(x + b).
	FFNPerLayer []int
	// Vocab, MaxPos and TypeVocab size the word, position and token-type embedding tables
	// (defaults 100, 64, 2). Sequences longer than MaxPos cannot be run.
	Vocab, MaxPos, TypeVocab int
	// Opset is the default-domain opset, 13 to 21 (default 14). Below 17 LayerNorm is decomposed
	// into ReduceMean, Sub, Pow, ReduceMean, Add, Sqrt, Div, Mul, Add as torch exports it; from 17
	// it is a LayerNormalization node. From 18 ReduceMean takes its axes as an input.
	Opset int
	// Head is the output head (default graph.HeadClassification):
	//   - classification: Gather of the [CLS] row, Gemm pooler, Tanh, Gemm classifier: "logits"
	//     [batch, NumLabels];
	//   - regression: the same with one output: "logits" [batch, 1];
	//   - span: MatMul+Add to 2, Split and Squeeze: "start_logits", "end_logits" [batch, seq];
	//   - token: MatMul+Add per token: "logits" [batch, seq, NumLabels];
	//   - none: "last_hidden_state" [batch, seq, Hidden].
	Head graph.HeadKind
	// NumLabels is the number of labels for classification (>= 2, default 2) and token heads
	// (>= 1, default 2); regression must leave it 0 or 1; span and none must leave it 0.
	NumLabels int
	// Gemm makes the encoder's linears Gemm nodes with transB=1 and weights stored [out, in],
	// applied to the input reshaped to 2-D ([batch*seq, in]) and reshaped back to
	// [batch, seq, out] afterwards; the default is MatMul with weights [in, out] then Add(bias, .).
	// The Q, K and V Gemms share one 2-D reshape of their input.
	Gemm bool
	// Reshape is ReshapeConst (default), ReshapeConcat, ReshapeMinus1 or ReshapeShapeSlice.
	Reshape string
	// Activation is ActGeluErf (default for FLOAT), ActGeluTanh (default for DOUBLE) or ActRelu.
	Activation string
	// MaskMin makes the extended attention mask (1-mask)*finfo(dtype).min, as newer
	// transformers exports do, instead of (1-mask)*-10000. It applies to the default MaskMul
	// spelling only (the Where spellings always use finfo.min or -inf).
	MaskMin bool
	// Seed selects the weights (math/rand/v2 PCG). Weights do not depend on any structural
	// option other than the sizes, so the Opset 14/17, Gemm/MatMul and Reshape variants of a
	// Config compute the same function, and so do the spelling variants below (the parameters
	// only some spellings have are drawn from streams of their own).
	Seed uint64
	// DType is onnx.TensorProto_FLOAT (default, also for the zero value UNDEFINED) or
	// onnx.TensorProto_DOUBLE, a float64 model for exact gradient checks. onnxruntime's CPU Erf
	// kernel exists only for float32, so a DOUBLE model defaults to ActGeluTanh and rejects
	// ActGeluErf; every other op used has a double CPU kernel.
	DType onnx.TensorProto_DataType

	// The fields below choose how an exporter spells the same computation (see spellings.go for
	// the values and Preset for the combinations real exports use). Their zero values build the
	// models described above, byte for byte.

	// WeightVia is how every dense weight (encoder, embedding projection and head linears)
	// reaches its MatMul or Gemm: ViaDirect (default), ViaIdentity, ViaTranspose or ViaCast.
	WeightVia string
	// BiasLast makes a linear's bias Add take the MatMul output first and the bias second, as
	// the dynamo exporter writes it (the default is Add(bias, MatMul), as torch's legacy
	// exporter writes it).
	BiasLast bool
	// ResidualLast makes a residual Add take the sublayer output first and the residual second,
	// as both torch exporters and optimum write it (the default is Add(residual, sublayer)).
	ResidualLast bool
	// ParamAliases routes every bias and LayerNorm scale and shift, except the embedding
	// LayerNorm's, through an Identity node of its initializer, with the Identity nodes first in
	// the graph, as torch's legacy exporter aliases deduplicated initializers.
	ParamAliases bool
	// KeyTranspose is how the keys are transposed for Q K^T: KeyPerm (default) or KeyReshape.
	KeyTranspose string
	// Scaling is how the attention scores are scaled by 1/sqrt(d_h): ScaleDiv (default), ScaleMul,
	// ScaleSplit or ScaleShapeSqrt.
	Scaling string
	// Mask is how the additive attention mask is made from attention_mask: MaskMul (default),
	// MaskWhere, MaskWhereInf or MaskSubWhere.
	Mask string
	// MaskExpand is how the mask is broadcast: ExpandNone (default: [batch,1,1,seq]),
	// ExpandShape or ExpandGatherND (both [batch,1,seq,seq]).
	MaskExpand string
	// NaNGuard replaces NaNs of every Softmax output by 0 with Where(IsNaN(p), 0, p), as the SDPA
	// and dynamo exports do.
	NaNGuard bool
	// LayerNorm is LNAuto (default: decomposed below opset 17, a LayerNormalization node from
	// 17), LNDecomposed (decomposed at every opset) or LNOp (a LayerNormalization node; needs
	// Opset >= 17).
	LayerNorm string
	// Epsilon is the epsilon of every LayerNorm (default LayerNormEps, 1e-12).
	Epsilon float64
	// GeluOp makes the GELU activations single Gelu nodes (approximate "none" for gelu_erf,
	// "tanh" for gelu_tanh) as the dynamo exporter writes them; it needs Opset >= 20, a GELU
	// Activation and DType FLOAT.
	GeluOp bool
	// ConstInitializers stores every constant as an initializer (one per distinct value) instead
	// of a Constant node, so the graph has no Constant nodes, as the dynamo exporter does.
	ConstInitializers bool
	// NoTokenTypes removes the token_type_ids input. With TypeVocab 0 the model has no
	// token-type embedding (DistilBERT, MPNet); with TypeVocab >= 1 it adds row 0 of a TypeVocab-row
	// table, gathered through a zero buffer (RoBERTa, XLM-R).
	NoTokenTypes bool
	// RobertaPositions computes position ids as RoBERTa does: m = (input_ids != PadID),
	// cumsum(m)*m + PadID, so real tokens have positions 1..len and padding PadID; sequences
	// must then be shorter than MaxPos.
	RobertaPositions bool
	// Classifier is the body of a classification or regression head: ClassifierPooler (default:
	// BERT's Tanh pooler), ClassifierElectra (dense, GELU, dense) or ClassifierDistil (dense,
	// ReLU, dense).
	Classifier string
	// Pooling gives a HeadNone model the sentence-transformers outputs "token_embeddings"
	// [batch, seq, Hidden] and "sentence_embedding" [batch, Hidden], the L2-normalised masked
	// mean of the token embeddings, instead of "last_hidden_state".
	Pooling bool
	// RelPosBias adds an MPNet-style relative position bias [batch, H, seq, seq] to the
	// attention scores of every layer: T5 buckets (RelBuckets, bidirectional, max distance
	// RelMaxDistance) of key minus query position, looked up in a [RelBuckets, H] table. It is
	// computed once; every layer with attention must have Heads heads.
	RelPosBias bool
	// EmbedSize, when set, is the width E of the embeddings: the embedding LayerNorm works at
	// width E and a linear E->Hidden follows it (even when E equals Hidden), as in ELECTRA. 0
	// means embeddings of width Hidden and no projection.
	EmbedSize int
}

// Normalize returns cfg with every default applied and HeadsPerLayer and FFNPerLayer filled in
// (one entry per layer), or an error describing the first invalid field.
func (cfg Config) Normalize() (Config, error) {
	c := cfg
	c.HeadsPerLayer = append([]int(nil), cfg.HeadsPerLayer...)
	c.FFNPerLayer = append([]int(nil), cfg.FFNPerLayer...)
	for _, step := range []func() error{c.normalizeSizes, c.normalizeLayers, c.normalizeInputs, c.normalizeHead, c.normalizeStyle, c.normalizeSpellings} {
		if err := step(); err != nil {
			return c, err
		}
	}
	return c, nil
}

// normalizeSizes checks the layer count and sizes (none negative) and applies the defaults of
// Layers and HeadDim.
func (c *Config) normalizeSizes() error {
	if c.Layers < 0 {
		return fmt.Errorf("testmodel: Layers is %d, want >= 1", c.Layers)
	}
	if c.Layers == 0 {
		c.Layers = DefaultLayers
	}
	names := []string{"Hidden", "Heads", "HeadDim", "FFN", "Vocab", "MaxPos", "TypeVocab", "Opset", "NumLabels", "EmbedSize"}
	for i, v := range []int{c.Hidden, c.Heads, c.HeadDim, c.FFN, c.Vocab, c.MaxPos, c.TypeVocab, c.Opset, c.NumLabels, c.EmbedSize} {
		if v < 0 {
			return fmt.Errorf("testmodel: %s is %d, want >= 0 (0 selects the default)", names[i], v)
		}
	}
	if c.HeadDim == 0 {
		c.HeadDim = DefaultHeadDim
	}
	return nil
}

// normalizeLayers fills in the per-layer head counts and FFN widths (from Heads and FFN, whose
// defaults are the per-layer maxima when those are given) and the Hidden default.
func (c *Config) normalizeLayers() error {
	if len(c.HeadsPerLayer) > 0 && len(c.HeadsPerLayer) != c.Layers {
		return fmt.Errorf("testmodel: HeadsPerLayer has %d entries, want one per layer (Layers=%d)", len(c.HeadsPerLayer), c.Layers)
	}
	if len(c.FFNPerLayer) > 0 && len(c.FFNPerLayer) != c.Layers {
		return fmt.Errorf("testmodel: FFNPerLayer has %d entries, want one per layer (Layers=%d)", len(c.FFNPerLayer), c.Layers)
	}
	c.Heads = perLayerDefault(c.Heads, DefaultHeads, c.HeadsPerLayer)
	c.FFN = perLayerDefault(c.FFN, DefaultFFN, c.FFNPerLayer)
	if len(c.HeadsPerLayer) == 0 {
		c.HeadsPerLayer = slices.Repeat([]int{c.Heads}, c.Layers)
	}
	if len(c.FFNPerLayer) == 0 {
		c.FFNPerLayer = slices.Repeat([]int{c.FFN}, c.Layers)
	}
	for i, h := range c.HeadsPerLayer {
		if h < 0 {
			return fmt.Errorf("testmodel: HeadsPerLayer[%d] is %d, want >= 0 (0 removes the attention sublayer)", i, h)
		}
	}
	for i, f := range c.FFNPerLayer {
		if f < 0 {
			return fmt.Errorf("testmodel: FFNPerLayer[%d] is %d, want >= 0 (0 removes the FFN sublayer)", i, f)
		}
	}
	if c.Hidden == 0 {
		c.Hidden = c.Heads * c.HeadDim
		if c.Hidden == 0 {
			return errors.New("testmodel: Hidden is 0 and cannot default to Heads*HeadDim because every layer has 0 heads; set Hidden")
		}
	}
	return nil
}

// perLayerDefault returns v, or when it is 0 the largest of perLayer and 0 (def when perLayer is
// empty).
func perLayerDefault(v, def int, perLayer []int) int {
	if v != 0 {
		return v
	}
	if len(perLayer) == 0 {
		return def
	}
	return max(0, slices.Max(perLayer))
}

// normalizeInputs applies the defaults of the vocabularies, MaxPos, Opset and DType, and checks
// them.
func (c *Config) normalizeInputs() error {
	if c.Vocab == 0 {
		c.Vocab = DefaultVocab
	}
	if c.Vocab < 2 {
		return fmt.Errorf("testmodel: Vocab is %d, want >= 2 (id 0 is padding)", c.Vocab)
	}
	if c.MaxPos == 0 {
		c.MaxPos = DefaultMaxPos
	}
	if c.TypeVocab == 0 && !c.NoTokenTypes {
		c.TypeVocab = DefaultTypeVocab
	}
	if c.Opset == 0 {
		c.Opset = DefaultOpset
	}
	if c.Opset < 13 || c.Opset > 21 {
		return fmt.Errorf("testmodel: Opset is %d, want 13 to 21", c.Opset)
	}
	switch c.DType {
	case onnx.TensorProto_UNDEFINED:
		c.DType = onnx.TensorProto_FLOAT
	case onnx.TensorProto_FLOAT, onnx.TensorProto_DOUBLE:
	default:
		return fmt.Errorf("testmodel: DType is %v, want FLOAT or DOUBLE", c.DType)
	}
	return nil
}

// normalizeHead applies the Head default (classification) and checks NumLabels against it.
func (c *Config) normalizeHead() error {
	if c.Head == "" {
		c.Head = graph.HeadClassification
	}
	switch c.Head {
	case graph.HeadClassification:
		if c.NumLabels == 0 {
			c.NumLabels = 2
		}
		if c.NumLabels < 2 {
			return fmt.Errorf("testmodel: NumLabels is %d for a classification head, want >= 2", c.NumLabels)
		}
	case graph.HeadToken:
		if c.NumLabels == 0 {
			c.NumLabels = 2
		}
	case graph.HeadRegression:
		if c.NumLabels > 1 {
			return fmt.Errorf("testmodel: NumLabels is %d for a regression head, want 0 or 1", c.NumLabels)
		}
		c.NumLabels = 1
	case graph.HeadSpan, graph.HeadNone:
		if c.NumLabels != 0 {
			return fmt.Errorf("testmodel: NumLabels is %d for a %s head, want 0", c.NumLabels, c.Head)
		}
	default:
		return fmt.Errorf("testmodel: unknown Head %q, want classification, regression, span, token or none", c.Head)
	}
	return nil
}

// normalizeStyle applies the defaults of the Reshape style and the Activation and checks them
// against the opset and DType.
func (c *Config) normalizeStyle() error {
	switch c.Reshape {
	case "":
		c.Reshape = ReshapeConst
	case ReshapeConst, ReshapeConcat, ReshapeMinus1:
	case ReshapeShapeSlice:
		if c.Opset < 15 {
			return fmt.Errorf("testmodel: Reshape style %q needs Opset >= 15 (Shape start and end), have %d", c.Reshape, c.Opset)
		}
	default:
		return fmt.Errorf("testmodel: unknown Reshape style %q, want %q, %q, %q or %q", c.Reshape, ReshapeConst, ReshapeConcat, ReshapeMinus1, ReshapeShapeSlice)
	}
	switch c.Activation {
	case "":
		c.Activation = ActGeluErf
		if c.DType == onnx.TensorProto_DOUBLE {
			c.Activation = ActGeluTanh
		}
	case ActGeluErf:
		if c.DType == onnx.TensorProto_DOUBLE {
			return errors.New("testmodel: Activation gelu_erf is not available with DType DOUBLE (onnxruntime has no double Erf kernel); use gelu_tanh or relu")
		}
	case ActGeluTanh, ActRelu:
	default:
		return fmt.Errorf("testmodel: unknown Activation %q, want %q, %q or %q", c.Activation, ActGeluErf, ActGeluTanh, ActRelu)
	}
	return nil
}
