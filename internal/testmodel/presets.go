package testmodel

import (
	"fmt"
	"slices"

	"github.com/kprune/kprune/graph"
)

// presets maps a preset name to a function giving its Config. Each mirrors one export in the
// project's shared export fixtures (models/exports/<folder>), at the generator's default sizes.
var presets = map[string]func() Config{
	// bert-seqcls-legacy: torch.onnx.export(dynamo=False, opset 14), eager attention.
	"legacy-bert": legacyBERT,
	// bert-seqcls-sdpa: the same export with SDPA attention.
	"sdpa": func() Config {
		c := legacyBERT()
		c.Scaling, c.Mask, c.NaNGuard = ScaleSplit, MaskWhereInf, true
		return c
	},
	// bert-seqcls-dynamo: torch.onnx.export(dynamo=True), opset 20.
	"dynamo": func() Config {
		return Config{
			Opset: 20, LayerNorm: LNOp, GeluOp: true, ConstInitializers: true, Reshape: ReshapeShapeSlice, KeyTranspose: KeyReshape,
			BiasLast: true, ResidualLast: true,
			Scaling: ScaleSplit, Mask: MaskWhere, MaskExpand: ExpandGatherND, NaNGuard: true,
		}
	},
	// bert-seqcls-optimum: optimum's main_export, opset 18.
	"optimum": func() Config {
		return Config{
			Opset: 18, LayerNorm: LNOp, ParamAliases: true, Reshape: ReshapeConcat, ResidualLast: true,
			Scaling: ScaleShapeSqrt, Mask: MaskSubWhere, MaskExpand: ExpandShape,
		}
	},
	// distilbert-seqcls-legacy: no token types, pre_classifier + ReLU head.
	"distilbert": func() Config {
		c := legacyBERT()
		c.NoTokenTypes, c.Classifier = true, ClassifierDistil
		return c
	},
	// roberta-seqcls-legacy: no token_type_ids input (a one-row type table read through a zero
	// buffer), positions from padding_idx + 1.
	"roberta": roberta,
	// xlmr-seqcls-legacy: as RoBERTa.
	"xlmr": roberta,
	// electra-seqcls-legacy: embedding projection E=8 -> Hidden, classifier dense-GELU-dense.
	"electra": func() Config {
		c := legacyBERT()
		c.EmbedSize, c.Classifier = 8, ClassifierElectra
		return c
	},
	// bert-qa-legacy: span head, start_logits and end_logits.
	"qa": func() Config {
		c := legacyBERT()
		c.Head = graph.HeadSpan
		return c
	},
	// bert-regression-legacy: logits [batch, 1].
	"regression": func() Config {
		c := legacyBERT()
		c.Head = graph.HeadRegression
		return c
	},
	// sentence-embedding-pooled: sentence-transformers Transformer + mean Pooling + Normalize.
	"sentence-pooled": func() Config {
		c := legacyBERT()
		c.Head, c.Pooling = graph.HeadNone, true
		return c
	},
	// mpnet-seqcls-legacy: relative position bias, Div scaling, RoBERTa positions, no types.
	"mpnet": func() Config {
		c := legacyBERT()
		c.Scaling, c.NoTokenTypes, c.RobertaPositions, c.RelPosBias = ScaleDiv, true, true, true
		return c
	},
	// deberta-v2-seqcls-legacy's weight aliases: dense weights reach MatMul through Identity.
	"identity": func() Config {
		c := legacyBERT()
		c.WeightVia = ViaIdentity
		return c
	},
}

func legacyBERT() Config {
	return Config{
		ParamAliases: true, Reshape: ReshapeConcat, ResidualLast: true,
		Scaling: ScaleMul, Mask: MaskWhere, MaskExpand: ExpandShape,
	}
}

func roberta() Config {
	c := legacyBERT()
	c.NoTokenTypes, c.TypeVocab, c.RobertaPositions = true, 1, true
	return c
}

// Preset returns the Config of a named export spelling (see PresetNames): the options a real
// exporter's graph of that family uses, at the generator's default sizes, seed 0. Callers may set
// sizes, Seed, DType and the like on the result.
func Preset(name string) (Config, error) {
	f, ok := presets[name]
	if !ok {
		return Config{}, fmt.Errorf("testmodel: unknown preset %q, want one of %q", name, PresetNames())
	}
	return f(), nil
}

// PresetNames returns the names Preset knows, sorted.
func PresetNames() []string {
	names := make([]string, 0, len(presets))
	for n := range presets {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}
