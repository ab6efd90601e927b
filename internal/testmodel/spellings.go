package testmodel

import (
	"fmt"
	"slices"

	"github.com/kprune/kprune/graph"
	"github.com/kprune/kprune/onnx"
)

// Weight routes for Config.WeightVia: how a dense weight initializer reaches its MatMul or Gemm.
const (
	// ViaDirect feeds the initializer to the op.
	ViaDirect = "direct"
	// ViaIdentity feeds Identity(initializer), as torch's legacy exporter aliases tied or
	// deduplicated weights; the Identity nodes come first in the graph.
	ViaIdentity = "identity"
	// ViaTranspose stores the weight in the other layout ([out, in] for MatMul, [in, out] for
	// Gemm with transB=1) and feeds Transpose(initializer, perm [1,0]).
	ViaTranspose = "transpose"
	// ViaCast feeds Cast(initializer, to=DType), a cast that changes nothing.
	ViaCast = "cast"
)

// Key transpositions for Config.KeyTranspose.
const (
	// KeyPerm transposes the keys with one Transpose, perm [0,2,3,1], of the head-split Reshape.
	KeyPerm = "perm"
	// KeyReshape transposes them like Q and V (perm [0,2,1,3]) and then swaps the last two axes
	// through Reshape [-1,T,d_h], Transpose [0,2,1], Reshape [B,H,d_h,T] (dynamo export).
	KeyReshape = "reshape"
)

// Attention scalings for Config.Scaling.
const (
	// ScaleDiv divides the scores by sqrt(d_h) with one Div (MPNet, older BERT exports).
	ScaleDiv = "div"
	// ScaleMul multiplies the scores by 1/sqrt(d_h) with one Mul (eager attention in
	// transformers 5, legacy export).
	ScaleMul = "mul"
	// ScaleSplit multiplies Q and the transposed K each by d_h^-1/4 before their MatMul (SDPA
	// attention, legacy and dynamo exports).
	ScaleSplit = "split"
	// ScaleShapeSqrt computes s = 1/Sqrt(Cast(Slice(Shape(Q), -1))) in the graph and multiplies Q
	// and the transposed K each by Sqrt(s) (optimum's export).
	ScaleShapeSqrt = "shape_sqrt"
)

// Mask spellings for Config.Mask. keep is attention_mask, unsqueezed to [batch,1,1,seq] (and
// broadcast as Config.MaskExpand says).
const (
	// MaskMul is (1 - Cast(keep)) * fill, fill -10000 or, with MaskMin, finfo(DType).min.
	MaskMul = "mul"
	// MaskWhere is Where(Cast(keep, bool), 0, finfo(DType).min), made once (eager attention).
	MaskWhere = "where"
	// MaskWhereInf is Where(Cast(keep, bool), 0, -inf), made again in every layer (SDPA export).
	MaskWhereInf = "where_inf"
	// MaskSubWhere is inv = 1 - Cast(keep); Where(Cast(inv, bool), finfo(DType).min, inv)
	// (optimum's export).
	MaskSubWhere = "sub_where"
)

// Mask broadcasts for Config.MaskExpand.
const (
	// ExpandNone keeps the mask [batch,1,1,seq].
	ExpandNone = "none"
	// ExpandShape expands it to [batch,1,seq,seq] with Expand and a shape computed from
	// Shape(attention_mask) (legacy and optimum exports).
	ExpandShape = "expand"
	// ExpandGatherND gathers attention_mask with GatherND at indices built from Range, Unsqueeze,
	// Max and Expand, then Ands it with an all-true [1,1,seq,1] query mask to [batch,1,seq,seq]
	// (dynamo export).
	ExpandGatherND = "gathernd"
)

// LayerNorm forms for Config.LayerNorm.
const (
	// LNAuto is decomposed below opset 17 and a LayerNormalization node from 17.
	LNAuto = "auto"
	// LNDecomposed is ReduceMean, Sub, Pow, ReduceMean, Add, Sqrt, Div, Mul, Add at every opset.
	LNDecomposed = "decomposed"
	// LNOp is a LayerNormalization node (opset >= 17).
	LNOp = "op"
)

// Classification and regression head bodies for Config.Classifier. Each takes the first token's
// hidden state h and has two dense layers drawn alike, so they differ only in the activation.
const (
	// ClassifierPooler is BERT's: Gemm, Tanh (the pooler), Gemm.
	ClassifierPooler = "pooler"
	// ClassifierElectra is ELECTRA's: Gemm, GELU, Gemm (no pooler). The GELU has the form of
	// the encoder's when Activation is a GELU, else the erf form (tanh for DOUBLE).
	ClassifierElectra = "electra"
	// ClassifierDistil is DistilBERT's: Gemm (pre_classifier), Relu, Gemm.
	ClassifierDistil = "distilbert"
)

// Sizes and constants of the optional parts.
const (
	// PadID is the padding token id: Inputs pads with it and RobertaPositions compares with it.
	PadID = 0
	// RelBuckets and RelMaxDistance are the relative position bucketing of RelPosBias (MPNet's
	// defaults).
	RelBuckets     = 32
	RelMaxDistance = 128
)

// Output names of the sentence-transformers pooled models (Config.Pooling).
const (
	OutputTokenEmb = "token_embeddings"
	OutputSentence = "sentence_embedding"
)

// OutputNames returns the graph output names Build gives the model of cfg, or nil if cfg is
// invalid.
func OutputNames(cfg Config) []string {
	c, err := cfg.Normalize()
	if err != nil {
		return nil
	}
	if c.Pooling {
		return []string{OutputTokenEmb, OutputSentence}
	}
	return Outputs(c.Head)
}

// normalizeSpellings applies the defaults of the spelling fields and checks them; the other
// fields are already normalised.
func (c *Config) normalizeSpellings() error {
	choose := func(field string, v *string, def string, allowed ...string) error {
		if *v == "" {
			*v = def
			return nil
		}
		if !slices.Contains(allowed, *v) && *v != def {
			return fmt.Errorf("testmodel: unknown %s %q, want one of %q", field, *v, append([]string{def}, allowed...))
		}
		return nil
	}
	for _, f := range []struct {
		field, def string
		v          *string
		allowed    []string
	}{
		{"WeightVia", ViaDirect, &c.WeightVia, []string{ViaIdentity, ViaTranspose, ViaCast}},
		{"Scaling", ScaleDiv, &c.Scaling, []string{ScaleMul, ScaleSplit, ScaleShapeSqrt}},
		{"KeyTranspose", KeyPerm, &c.KeyTranspose, []string{KeyReshape}},
		{"Mask", MaskMul, &c.Mask, []string{MaskWhere, MaskWhereInf, MaskSubWhere}},
		{"MaskExpand", ExpandNone, &c.MaskExpand, []string{ExpandShape, ExpandGatherND}},
		{"LayerNorm", LNAuto, &c.LayerNorm, []string{LNDecomposed, LNOp}},
		{"Classifier", ClassifierPooler, &c.Classifier, []string{ClassifierElectra, ClassifierDistil}},
	} {
		if err := choose(f.field, f.v, f.def, f.allowed...); err != nil {
			return err
		}
	}
	if c.LayerNorm == LNOp && c.Opset < 17 {
		return fmt.Errorf("testmodel: LayerNorm %q needs Opset >= 17 (LayerNormalization), have %d", LNOp, c.Opset)
	}
	if c.Epsilon < 0 {
		return fmt.Errorf("testmodel: Epsilon is %g, want > 0 (0 selects %g)", c.Epsilon, LayerNormEps)
	}
	if c.Epsilon == 0 {
		c.Epsilon = LayerNormEps
	}
	if c.GeluOp {
		switch {
		case c.Opset < 20:
			return fmt.Errorf("testmodel: GeluOp needs Opset >= 20 (Gelu), have %d", c.Opset)
		case c.Activation == ActRelu:
			return fmt.Errorf("testmodel: GeluOp needs a GELU Activation, have %q", c.Activation)
		case c.DType != onnx.TensorProto_FLOAT:
			return fmt.Errorf("testmodel: GeluOp needs DType FLOAT (onnxruntime's Gelu kernel), have %v", c.DType)
		}
	}
	if c.Pooling && c.Head != graph.HeadNone {
		return fmt.Errorf("testmodel: Pooling needs Head %q, have %q", graph.HeadNone, c.Head)
	}
	if c.Classifier != ClassifierPooler && c.Head != graph.HeadClassification && c.Head != graph.HeadRegression {
		return fmt.Errorf("testmodel: Classifier %q needs a classification or regression head, have %q", c.Classifier, c.Head)
	}
	if c.RelPosBias {
		for l, h := range c.HeadsPerLayer {
			if h != 0 && h != c.Heads {
				return fmt.Errorf("testmodel: RelPosBias needs every layer with attention to have Heads=%d heads, layer %d has %d", c.Heads, l, h)
			}
		}
	}
	return nil
}
