package graph_test

import (
	"fmt"
	"testing"

	"github.com/kprune/kprune/graph"
	"github.com/kprune/kprune/internal/testmodel"
	"github.com/kprune/kprune/onnx"
)

// generatedCases is a representative subset of shapes (L in {1,2,4}, H in {1,2,4,12}, d_h in
// {8,32,64}, FFN in {16,512,1536}), every head kind, opsets 13 to 18, Gemm and MatMul forms, every
// Reshape style and activation, float64, and pruned-style models (heterogeneous heads, removed
// sublayers, hidden size different from heads x head dim).
func generatedCases() []testmodel.Config {
	return []testmodel.Config{
		{Layers: 1, Heads: 1, HeadDim: 8, FFN: 16},
		{Layers: 2, Heads: 2, HeadDim: 8, FFN: 16, Opset: 17, Gemm: true, Reshape: testmodel.ReshapeConcat, Head: graph.HeadSpan},
		{Layers: 2, Heads: 4, HeadDim: 8, FFN: 32, Reshape: testmodel.ReshapeMinus1, Activation: testmodel.ActRelu, Head: graph.HeadToken, NumLabels: 3},
		{Layers: 4, Heads: 4, HeadDim: 8, FFN: 16, Opset: 17, Reshape: testmodel.ReshapeConcat, Activation: testmodel.ActGeluTanh, Head: graph.HeadRegression},
		{Layers: 2, Heads: 12, HeadDim: 8, FFN: 64, Gemm: true, Reshape: testmodel.ReshapeMinus1, Head: graph.HeadNone},
		{Layers: 1, Heads: 2, HeadDim: 32, FFN: 512, Opset: 17, NumLabels: 5, MaskMin: true},
		{Layers: 1, Heads: 2, HeadDim: 64, FFN: 1536, Reshape: testmodel.ReshapeConcat, Gemm: true, Head: graph.HeadToken},
		{Layers: 2, HeadsPerLayer: []int{3, 0}, FFNPerLayer: []int{0, 17}, Hidden: 16, HeadDim: 8},
		{Layers: 4, HeadsPerLayer: []int{1, 2, 0, 4}, FFNPerLayer: []int{7, 0, 16, 5}, HeadDim: 8, Hidden: 32, Gemm: true,
			Reshape: testmodel.ReshapeConcat, Opset: 17, Head: graph.HeadSpan},
		{Layers: 2, Heads: 2, HeadDim: 8, FFN: 16, DType: onnx.TensorProto_DOUBLE, Reshape: testmodel.ReshapeConcat, Head: graph.HeadNone},
		{Layers: 2, Heads: 2, HeadDim: 8, FFN: 24, Opset: 18, Reshape: testmodel.ReshapeConcat, Gemm: true, Head: graph.HeadSpan},
		{Layers: 1, Heads: 4, HeadDim: 8, FFN: 16, Opset: 13, Reshape: testmodel.ReshapeMinus1, Activation: testmodel.ActGeluTanh, Head: graph.HeadRegression},
	}
}

func cfgName(c testmodel.Config) string {
	return fmt.Sprintf("L%d-H%v-dh%d-F%v-D%d-op%d-gemm%v-%s-%s-%s-%v", c.Layers, c.HeadsPerLayer, c.HeadDim, c.FFNPerLayer, c.Hidden,
		c.Opset, c.Gemm, c.Reshape, c.Activation, c.Head, onnx.DataTypeName(int32(c.DType)))
}

func TestGeneratedModels(t *testing.T) {
	for _, cfg := range generatedCases() {
		c, err := cfg.Normalize()
		if err != nil {
			t.Fatal(err)
		}
		t.Run(cfgName(c), func(t *testing.T) {
			m, err := testmodel.Build(cfg)
			if err != nil {
				t.Fatal(err)
			}
			enc := discover(t, m)
			checkGeneratedStructure(t, c, enc)
			in := testmodel.Inputs(c, 2, 7, 3)
			if enc.InputIDs != testmodel.InputIDs || enc.AttentionMask != testmodel.AttentionMask || enc.TokenTypeIDs != testmodel.TokenTypeIDs {
				t.Errorf("inputs: %q %q %q", enc.InputIDs, enc.AttentionMask, enc.TokenTypeIDs)
			}
			checkMasksOnes(t, m, enc, in, 2)
			checkPruneEqualsMasks(t, m, enc, in, 11)
			checkRemoveSublayers(t, m, enc, in)
			subs := allSublayers(enc)
			checkCut(t, m, enc, in, []int{subs[0], subs[len(subs)-1]})
		})
	}
}

func checkGeneratedStructure(t *testing.T, c testmodel.Config, enc *graph.Encoder) {
	t.Helper()
	if len(enc.Layers) != c.Layers || enc.Hidden != c.Hidden || enc.Head != c.Head {
		t.Fatalf("got %d layers, hidden %d, head %s; want %d, %d, %s", len(enc.Layers), enc.Hidden, enc.Head, c.Layers, c.Hidden, c.Head)
	}
	labels := c.NumLabels
	if c.Head == graph.HeadSpan || c.Head == graph.HeadNone {
		labels = 0
	}
	if enc.NumLabels != labels || fmt.Sprint(enc.Outputs) != fmt.Sprint(testmodel.Outputs(c.Head)) {
		t.Errorf("head outputs %v, %d labels; want %v, %d", enc.Outputs, enc.NumLabels, testmodel.Outputs(c.Head), labels)
	}
	orient := graph.InOut
	if c.Gemm {
		orient = graph.OutIn
	}
	for l, layer := range enc.Layers {
		if h := c.HeadsPerLayer[l]; h == 0 {
			if layer.MHA != nil {
				t.Errorf("layer %d: attention found, the model has none", l)
			}
		} else if layer.MHA == nil || layer.MHA.Heads != h || layer.MHA.HeadDim != c.HeadDim || enc.HeadDim != c.HeadDim {
			t.Errorf("layer %d: attention %+v, want %d heads of %d", l, layer.MHA, h, c.HeadDim)
		} else if layer.MHA.Q.Orient != orient || layer.MHA.O.Orient != orient || layer.MHA.O.In != h*c.HeadDim || layer.MHA.Q.In != c.Hidden {
			t.Errorf("layer %d: attention projections %+v", l, layer.MHA)
		}
		if f := c.FFNPerLayer[l]; f == 0 {
			if layer.FFN != nil {
				t.Errorf("layer %d: FFN found, the model has none", l)
			}
		} else if layer.FFN == nil || layer.FFN.Width != f || layer.FFN.Activation != c.Activation || layer.FFN.W2.Orient != orient {
			t.Errorf("layer %d: FFN %+v, want width %d, %s", l, layer.FFN, f, c.Activation)
		}
	}
}
