package testmodel

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/kprune/kprune/graph"
	"github.com/kprune/kprune/onnx"
)

// TestStructure checks op counts, linear weight layouts and reshape constants against the
// Config, so that a structural option that silently did nothing would be caught.
func TestStructure(t *testing.T) {
	for i, cfg := range []Config{
		{Layers: 3, Heads: 2, HeadDim: 8, FFN: 16},
		{Layers: 2, Heads: 3, HeadDim: 8, FFN: 16, Opset: 17, Gemm: true},
		{Layers: 3, HeadDim: 8, Hidden: 32, HeadsPerLayer: []int{4, 0, 2}, FFNPerLayer: []int{0, 24, 5}, Reshape: ReshapeConcat},
		{Layers: 2, HeadDim: 8, HeadsPerLayer: []int{1, 3}, FFNPerLayer: []int{7, 9}, Gemm: true, Reshape: ReshapeMinus1, Activation: ActRelu, Opset: 18},
		{Layers: 1, Heads: 2, HeadDim: 8, Activation: ActGeluTanh, Head: graph.HeadSpan},
	} {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			c, err := cfg.Normalize()
			if err != nil {
				t.Fatal(err)
			}
			m, err := Build(cfg)
			if err != nil {
				t.Fatal(err)
			}
			got := scanStructure(t, m.GetGraph())
			wantShapes, attn, ffn := wantLinearShapes(c)
			if !slices.Equal(got.linearShapes, wantShapes) {
				t.Errorf("linear weight shapes\n got %v\nwant %v", got.linearShapes, wantShapes)
			}
			for op, n := range wantOpCounts(c, attn, ffn) {
				if got.ops[op] != n {
					t.Errorf("%d %s nodes, want %d", got.ops[op], op, n)
				}
			}
			if got.perm0231 != attn {
				t.Errorf("%d Transposes with perm [0,2,3,1] (K), want %d", got.perm0231, attn)
			}
			checkReshapeTargets(t, c, got, attn)
		})
	}
}

// structure is what TestStructure counts in a graph.
type structure struct {
	ops           map[string]int // nodes per op type
	linearShapes  []string       // dims of the MatMul and Gemm weight initializers, in node order
	reshapeShapes map[string]int // Reshape target initializers by value
	perm0231      int            // Transposes with perm [0,2,3,1]
}

// scanStructure counts the structure of g, and checks that every Gemm has transB=1.
func scanStructure(t *testing.T, g *onnx.GraphProto) structure {
	s := structure{ops: map[string]int{}, reshapeShapes: map[string]int{}}
	inits := map[string]*onnx.TensorProto{}
	for _, in := range g.GetInitializer() {
		inits[in.GetName()] = in
	}
	for _, n := range g.GetNode() {
		s.ops[n.GetOpType()]++
		switch n.GetOpType() {
		case "MatMul", "Gemm":
			if w := inits[n.GetInput()[1]]; w != nil {
				s.linearShapes = append(s.linearShapes, fmt.Sprint(w.GetDims()))
			}
			if n.GetOpType() == "Gemm" && onnx.AttrIntOr(n, "transB", 0) != 1 {
				t.Errorf("Gemm %s has transB=%d, want 1", n.GetName(), onnx.AttrIntOr(n, "transB", 0))
			}
		case "Reshape":
			if w := inits[n.GetInput()[1]]; w != nil {
				v, _ := onnx.Int64s(w)
				s.reshapeShapes[fmt.Sprint(v)]++
			}
		case "Transpose":
			if slices.Equal(onnx.AttrIntsOr(n, "perm", nil), []int64{0, 2, 3, 1}) {
				s.perm0231++
			}
		}
	}
	return s
}

// wantLinearShapes returns the weight shapes a model of c has, in node order, and its numbers
// of attention and feed-forward sublayers.
func wantLinearShapes(c Config) (shapes []string, attn, ffn int) {
	D := c.Hidden
	for l := range c.Layers {
		if h := c.HeadsPerLayer[l] * c.HeadDim; h > 0 {
			attn++
			shapes = append(shapes, linShape(c, D, h), linShape(c, D, h), linShape(c, D, h), linShape(c, h, D))
		}
		if f := c.FFNPerLayer[l]; f > 0 {
			ffn++
			shapes = append(shapes, linShape(c, D, f), linShape(c, f, D))
		}
	}
	// The head's own linears come last.
	switch c.Head {
	case graph.HeadClassification, graph.HeadRegression:
		shapes = append(shapes, fmt.Sprint([]int64{int64(D), int64(D)}), fmt.Sprint([]int64{int64(c.NumLabels), int64(D)}))
	case graph.HeadSpan:
		shapes = append(shapes, fmt.Sprint([]int64{int64(D), 2}))
	case graph.HeadToken:
		shapes = append(shapes, fmt.Sprint([]int64{int64(D), int64(c.NumLabels)}))
	}
	return shapes, attn, ffn
}

// wantOpCounts returns the number of nodes of some op types a model of c with attn attention
// and ffn feed-forward sublayers has.
func wantOpCounts(c Config, attn, ffn int) map[string]int {
	headGemms := map[graph.HeadKind]int{graph.HeadClassification: 2, graph.HeadRegression: 2}[c.Head]
	want := map[string]int{
		"Softmax":   attn,
		"Erf":       0,
		"Tanh":      map[bool]int{true: 1}[headGemms > 0],
		"Relu":      0,
		"Transpose": 4 * attn,
		"Gemm":      headGemms,
		"MatMul":    2*attn + 4*attn + 2*ffn,
	}
	if c.Gemm {
		want["Gemm"] += 4*attn + 2*ffn
		want["MatMul"] -= 4*attn + 2*ffn
	}
	if c.Head == graph.HeadSpan || c.Head == graph.HeadToken {
		want["MatMul"]++
	}
	switch c.Activation {
	case ActGeluErf:
		want["Erf"] = ffn
	case ActGeluTanh:
		want["Tanh"] += ffn
	case ActRelu:
		want["Relu"] = ffn
	}
	if c.Opset >= 17 {
		want["LayerNormalization"] = 1 + 2*c.Layers
		want["ReduceMean"] = 0
	} else {
		want["LayerNormalization"] = 0
		want["ReduceMean"] = 2 * (1 + 2*c.Layers)
	}
	return want
}

// checkReshapeTargets checks the head-split and merge Reshape targets of c's Reshape style:
// initializers shared across Q, K, V and layers, or Concat-built.
func checkReshapeTargets(t *testing.T, c Config, got structure, attn int) {
	for l := range c.Layers {
		h := int64(c.HeadsPerLayer[l])
		if h == 0 {
			continue
		}
		d := int64(c.HeadDim)
		var split, merge string
		switch c.Reshape {
		case ReshapeConst:
			split, merge = fmt.Sprint([]int64{0, 0, h, d}), fmt.Sprint([]int64{0, 0, h * d})
		case ReshapeMinus1:
			split, merge = fmt.Sprint([]int64{0, 0, -1, d}), fmt.Sprint([]int64{0, 0, -1})
		default:
			continue
		}
		if got.reshapeShapes[split] < 3 || got.reshapeShapes[merge] < 1 {
			t.Errorf("layer %d: Reshape initializers %v, want %s (x3 per layer) and %s", l, got.reshapeShapes, split, merge)
		}
	}
	if c.Reshape == ReshapeConcat && got.ops["Concat"] < 4*attn {
		t.Errorf("%d Concat nodes, want >= %d for the concat Reshape style", got.ops["Concat"], 4*attn)
	}
	if c.Reshape == ReshapeConst {
		total := 0
		for k, v := range got.reshapeShapes {
			if !strings.Contains(k, "-1") {
				total += v
			}
		}
		if total != 4*attn {
			t.Errorf("%d Reshapes take a constant [0,0,...] initializer, want %d", total, 4*attn)
		}
	}
}

// linShape is the stored weight shape of an in->out encoder linear.
func linShape(c Config, in, out int) string {
	if c.Gemm {
		return fmt.Sprint([]int64{int64(out), int64(in)})
	}
	return fmt.Sprint([]int64{int64(in), int64(out)})
}

// TestDoubleErfUnsupported documents why DOUBLE models refuse gelu_erf: onnxruntime's CPU
// provider has no double Erf kernel. If this test fails, the restriction can be lifted.
func TestDoubleErfUnsupported(t *testing.T) {
	c, err := Config{DType: onnx.TensorProto_DOUBLE}.Normalize()
	if err != nil {
		t.Fatal(err)
	}
	c.Activation = ActGeluErf
	m := build(c)
	s, err := newSession(m)
	if err == nil {
		s.Close()
		t.Fatal("onnxruntime accepted a double Erf: allow gelu_erf with DType DOUBLE in Normalize")
	}
	if !strings.Contains(err.Error(), "Erf") {
		t.Fatalf("unexpected session error: %v", err)
	}
}
