package testmodel

import (
	"strings"
	"testing"

	"github.com/kprune/kprune/graph"
	"github.com/kprune/kprune/onnx"
	"google.golang.org/protobuf/proto"
)

// withSpelling returns base with the spelling options (not the sizes, seed, head or dtype) of the
// preset p.
func withSpelling(base, p Config) Config {
	p.Layers, p.Hidden, p.Heads, p.HeadDim, p.FFN = base.Layers, base.Hidden, base.Heads, base.HeadDim, base.FFN
	p.HeadsPerLayer, p.FFNPerLayer = base.HeadsPerLayer, base.FFNPerLayer
	p.Vocab, p.MaxPos, p.TypeVocab, p.Seed, p.DType = base.Vocab, base.MaxPos, base.TypeVocab, base.Seed, base.DType
	p.Head, p.NumLabels, p.Activation = base.Head, base.NumLabels, base.Activation
	return p
}

// TestSpellingEquivalence checks that every spelling option that does not change the function
// (alone, combined, and as the presets of real exports combine them) computes the outputs of the
// default spelling with the same seed, through onnxruntime.
func TestSpellingEquivalence(t *testing.T) {
	type variant struct {
		name string
		base func(*Config) // applied to both models (nil: none)
		edit func(*Config) // applied to the variant only
	}
	preset := func(name string) func(*Config) {
		return func(c *Config) {
			p, err := Preset(name)
			if err != nil {
				t.Fatal(err)
			}
			*c = withSpelling(*c, p)
		}
	}
	variants := []variant{
		{"via-identity", nil, func(c *Config) { c.WeightVia = ViaIdentity }},
		{"via-transpose", nil, func(c *Config) { c.WeightVia = ViaTranspose }},
		{"via-cast", nil, func(c *Config) { c.WeightVia = ViaCast }},
		{"via-transpose-gemm", func(c *Config) { c.Gemm = true }, func(c *Config) { c.WeightVia = ViaTranspose }},
		{"via-identity-gemm", func(c *Config) { c.Gemm = true }, func(c *Config) { c.WeightVia = ViaIdentity }},
		{"aliases", nil, func(c *Config) { c.ParamAliases = true }},
		{"bias-last", nil, func(c *Config) { c.BiasLast = true }},
		{"bias-last-residual-last-gemm", func(c *Config) { c.Gemm = true }, func(c *Config) { c.BiasLast, c.ResidualLast = true, true }},
		{"residual-last", nil, func(c *Config) { c.ResidualLast = true }},
		{"aliases-gemm-opset17", func(c *Config) { c.Gemm = true }, func(c *Config) { c.ParamAliases, c.Opset = true, 17 }},
		{"key-reshape", nil, func(c *Config) { c.KeyTranspose = KeyReshape }},
		{"key-reshape-gemm-split", func(c *Config) { c.Gemm = true }, func(c *Config) { c.KeyTranspose, c.Scaling = KeyReshape, ScaleSplit }},
		{"reshape-shape-slice", nil, func(c *Config) { c.Reshape, c.Opset = ReshapeShapeSlice, 15 }},
		{"reshape-shape-slice-gemm", func(c *Config) { c.Gemm = true }, func(c *Config) { c.Reshape, c.Opset = ReshapeShapeSlice, 17 }},
		{"scale-mul", nil, func(c *Config) { c.Scaling = ScaleMul }},
		{"scale-split", nil, func(c *Config) { c.Scaling = ScaleSplit }},
		{"scale-shape-sqrt", nil, func(c *Config) { c.Scaling = ScaleShapeSqrt }},
		{"mask-where", nil, func(c *Config) { c.Mask = MaskWhere }},
		{"mask-where-inf", nil, func(c *Config) { c.Mask = MaskWhereInf }},
		{"mask-sub-where", nil, func(c *Config) { c.Mask = MaskSubWhere }},
		{"expand-shape", nil, func(c *Config) { c.MaskExpand = ExpandShape }},
		{"expand-gathernd", nil, func(c *Config) { c.MaskExpand = ExpandGatherND }},
		{"where-inf-gathernd-guard", nil, func(c *Config) { c.Mask, c.MaskExpand, c.NaNGuard = MaskWhereInf, ExpandGatherND, true }},
		{"sub-where-expand", nil, func(c *Config) { c.Mask, c.MaskExpand = MaskSubWhere, ExpandShape }},
		{"nan-guard", nil, func(c *Config) { c.NaNGuard = true }},
		{"ln-decomposed-opset18", nil, func(c *Config) { c.LayerNorm, c.Opset = LNDecomposed, 18 }},
		{"ln-op-opset17", nil, func(c *Config) { c.LayerNorm, c.Opset = LNOp, 17 }},
		{"ln-op-eps1e-5", func(c *Config) { c.Epsilon = 1e-5 }, func(c *Config) { c.LayerNorm, c.Opset = LNOp, 17 }},
		{"ln-decomposed-eps1e-7", func(c *Config) { c.Epsilon, c.Opset = 1e-7, 17 }, func(c *Config) { c.LayerNorm = LNDecomposed }},
		{"gelu-op", nil, func(c *Config) { c.GeluOp, c.Opset = true, 20 }},
		{"gelu-op-tanh", func(c *Config) { c.Activation = ActGeluTanh }, func(c *Config) { c.GeluOp, c.Opset = true, 20 }},
		{"const-initializers", nil, func(c *Config) { c.ConstInitializers = true }},
		{"const-initializers-concat", nil, func(c *Config) { c.ConstInitializers, c.Reshape = true, ReshapeConcat }},
		{"preset-legacy-bert", nil, preset("legacy-bert")},
		{"preset-sdpa", nil, preset("sdpa")},
		{"preset-dynamo", nil, preset("dynamo")},
		{"preset-optimum", nil, preset("optimum")},
		{"preset-identity", nil, preset("identity")},
		{"everything", nil, func(c *Config) {
			c.WeightVia, c.ParamAliases, c.Gemm, c.Reshape = ViaTranspose, true, true, ReshapeMinus1
			c.Scaling, c.Mask, c.MaskExpand, c.NaNGuard = ScaleShapeSqrt, MaskWhereInf, ExpandShape, true
			c.Opset, c.LayerNorm, c.GeluOp, c.ConstInitializers = 20, LNOp, true, true
		}},
	}
	dbl := onnx.TensorProto_DOUBLE
	doubleVariants := []variant{
		{"double-scale-split", nil, func(c *Config) { c.Scaling = ScaleSplit }},
		{"double-shape-sqrt-sub-where", nil, func(c *Config) { c.Scaling, c.Mask = ScaleShapeSqrt, MaskSubWhere }},
		{"double-where-inf-guard-gathernd", nil, func(c *Config) { c.Mask, c.NaNGuard, c.MaskExpand = MaskWhereInf, true, ExpandGatherND }},
		{"double-via-cast-aliases-consts", nil, func(c *Config) { c.WeightVia, c.ParamAliases, c.ConstInitializers = ViaCast, true, true }},
		{"double-ln-decomposed-opset18", nil, func(c *Config) { c.LayerNorm, c.Opset = LNDecomposed, 18 }},
	}
	base := Config{Layers: 2, HeadDim: 8, Hidden: 24, HeadsPerLayer: []int{3, 2}, FFNPerLayer: []int{20, 12}, Seed: 11}
	run1 := func(t *testing.T, head graph.HeadKind, dtype onnx.TensorProto_DataType, v variant) {
		cfg := base
		cfg.Head, cfg.DType = head, dtype
		if v.base != nil {
			v.base(&cfg)
		}
		alt := cfg
		v.edit(&alt)
		in := Inputs(cfg, 4, 8, 9)
		ref, want := run(t, cfg, in)
		m, got := run(t, alt, in)
		if proto.Equal(ref, m) {
			t.Fatal("the option built the same model as the reference")
		}
		// DOUBLE is not exact either: onnxruntime fuses a MatMul and its scaling into a
		// FusedMatMul whose alpha is a float32.
		compareOutputs(t, want, got, 1e-5)
	}
	for _, head := range []graph.HeadKind{graph.HeadClassification, graph.HeadSpan, graph.HeadNone} {
		for _, v := range variants {
			t.Run(string(head)+"/"+v.name, func(t *testing.T) { run1(t, head, onnx.TensorProto_FLOAT, v) })
		}
	}
	for _, v := range doubleVariants {
		t.Run(string(graph.HeadClassification)+"/"+v.name, func(t *testing.T) { run1(t, graph.HeadClassification, dbl, v) })
	}
}

// TestSpellingErrors checks that invalid spelling options are refused with a useful message.
func TestSpellingErrors(t *testing.T) {
	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{WeightVia: "tied"}, "WeightVia"},
		{Config{Scaling: "sqrt"}, "Scaling"},
		{Config{KeyTranspose: "swap"}, "KeyTranspose"},
		{Config{Reshape: ReshapeShapeSlice}, "Opset >= 15"},
		{Config{Mask: "bool"}, "Mask"},
		{Config{MaskExpand: "tile"}, "MaskExpand"},
		{Config{LayerNorm: "rms"}, "LayerNorm"},
		{Config{LayerNorm: LNOp}, "Opset >= 17"},
		{Config{Epsilon: -1}, "Epsilon"},
		{Config{GeluOp: true, Opset: 18}, "Opset >= 20"},
		{Config{GeluOp: true, Opset: 20, Activation: ActRelu}, "GELU Activation"},
		{Config{GeluOp: true, Opset: 20, DType: onnx.TensorProto_DOUBLE}, "FLOAT"},
		{Config{Pooling: true}, "Pooling"},
		{Config{Classifier: ClassifierElectra, Head: graph.HeadSpan}, "Classifier"},
		{Config{Classifier: "roberta"}, "Classifier"},
		{Config{RelPosBias: true, Layers: 2, HeadsPerLayer: []int{2, 1}}, "RelPosBias"},
		{Config{EmbedSize: -3}, "EmbedSize"},
	} {
		_, err := Build(tc.cfg)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Build(%+v) error %v, want one mentioning %q", tc.cfg, err, tc.want)
		}
	}
	if _, err := Preset("bart"); err == nil || !strings.Contains(err.Error(), "legacy-bert") {
		t.Errorf("Preset(bart) error %v, want one listing the presets", err)
	}
	// Valid corner cases.
	for _, cfg := range []Config{
		{RelPosBias: true, Layers: 2, Heads: 2, HeadsPerLayer: []int{2, 0}, Hidden: 16},
		{NoTokenTypes: true},
		{EmbedSize: 16},
	} {
		if _, err := Build(cfg); err != nil {
			t.Errorf("Build(%+v): %v", cfg, err)
		}
	}
}
