package fused_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/kprune/kprune/graph/fused"
	"github.com/kprune/kprune/onnx"
	"google.golang.org/protobuf/proto"
)

// errCase is a graph Unfuse must refuse, the error it must wrap and words its message must hold.
type errCase struct {
	name  string
	opset int64
	build func(g *net)
	// edit, when set, changes the built model (for what net does not build).
	edit  func(m *onnx.ModelProto)
	want  error
	words []string
}

// attn adds Attention over x [batch, seq, 8] with packed weights of the given shape.
func attn(g *net, wDims []int64, attrs ...*onnx.AttributeProto) {
	x := g.in("x", f32, "batch", "seq", hidden)
	w := g.weight("w", 1, wDims...)
	g.ms("Attention", "attn", []string{x, w, g.weight("b", 1, wDims[len(wDims)-1])}, []string{"y"}, attrs...)
	g.out("y", f32)
}

var heads2 = onnx.AttrInt("num_heads", 2)

var errCases = []errCase{
	{name: "QAttention has no rule", want: fused.ErrUnsupportedFused, words: []string{`"qattn"`, "QAttention"},
		build: func(g *net) {
			g.in("x", f32, 2, 3)
			g.ms("QAttention", "qattn", []string{"x"}, []string{"y"})
			g.out("y", f32)
		}},
	{name: "MatMulNBits has no rule", want: fused.ErrUnsupportedFused, words: []string{`"mm4"`, "MatMulNBits"},
		build: func(g *net) {
			g.in("x", f32, 2, 3)
			g.ms("MatMulNBits", "mm4", []string{"x", g.weight("w", 1, 3)}, []string{"y"})
			g.out("y", f32)
		}},
	{name: "Attention without num_heads", want: fused.ErrMalformedFused, words: []string{`"attn"`, "Attention", "num_heads"},
		build: func(g *net) { attn(g, []int64{hidden, 3 * hidden}) }},
	{name: "Attention with zero heads", want: fused.ErrMalformedFused, words: []string{"num_heads"},
		build: func(g *net) { attn(g, []int64{hidden, 3 * hidden}, onnx.AttrInt("num_heads", 0)) }},
	{name: "Attention without weights", want: fused.ErrMalformedFused, words: []string{`"attn"`, "weights", "missing"},
		build: func(g *net) {
			g.in("x", f32, "batch", "seq", hidden)
			g.ms("Attention", "attn", []string{"x"}, []string{"y"}, heads2)
			g.out("y", f32)
		}},
	{name: "Attention with no inputs at all", want: fused.ErrMalformedFused, words: []string{"input 0"},
		build: func(g *net) {
			g.ms("Attention", "attn", nil, []string{"y"}, heads2)
			g.out("y", f32)
		}},
	{name: "Attention weights not a multiple of 3", want: fused.ErrMalformedFused, words: []string{"multiple of 3"},
		build: func(g *net) { attn(g, []int64{hidden, 25}, heads2) }},
	{name: "Attention weights of rank 3", want: fused.ErrMalformedFused, words: []string{"shape"},
		build: func(g *net) { attn(g, []int64{1, hidden, 24}, heads2) }},
	{name: "Attention heads not dividing the width", want: fused.ErrMalformedFused, words: []string{"num_heads=3"},
		build: func(g *net) { attn(g, []int64{hidden, 24}, onnx.AttrInt("num_heads", 3)) }},
	{name: "Attention with truncated weight data", want: fused.ErrMalformedFused, words: []string{"raw_data"},
		build: func(g *net) { attn(g, []int64{hidden, 24}, heads2) },
		edit: func(m *onnx.ModelProto) {
			w := m.GetGraph().GetInitializer()[0]
			w.RawData = w.RawData[:len(w.RawData)-4]
		}},
	{name: "Attention bias of the wrong size", want: fused.ErrMalformedFused, words: []string{"bias"},
		build: func(g *net) {
			x := g.in("x", f32, "batch", "seq", hidden)
			g.ms("Attention", "attn", []string{x, g.weight("w", 1, hidden, 24), g.weight("b", 1, 12)}, []string{"y"}, heads2)
			g.out("y", f32)
		}},
	{name: "Attention causal", want: fused.ErrUnsupportedFused, words: []string{"unidirectional"},
		build: func(g *net) { attn(g, []int64{hidden, 24}, heads2, onnx.AttrInt("unidirectional", 1)) }},
	{name: "Attention with past state", want: fused.ErrUnsupportedFused, words: []string{"past"},
		build: func(g *net) {
			x := g.in("x", f32, "batch", "seq", hidden)
			g.in("past", f32, 2, "batch", 2, "past_seq", 4)
			g.ms("Attention", "attn", []string{x, g.weight("w", 1, hidden, 24), g.weight("b", 1, 24), "", "past"}, []string{"y"}, heads2)
			g.out("y", f32)
		}},
	{name: "Attention weights computed at run time", want: fused.ErrUnsupportedFused, words: []string{"not a constant"},
		build: func(g *net) {
			x := g.in("x", f32, "batch", "seq", hidden)
			w := g.in("w", f32, hidden, 24)
			g.ms("Attention", "attn", []string{x, w, g.weight("b", 1, 24)}, []string{"y"}, heads2)
			g.out("y", f32)
		}},
	{name: "Attention mask of unknown rank", want: fused.ErrUnsupportedFused, words: []string{"mask_index", "rank"},
		build: func(g *net) {
			x := g.in("x", f32, "batch", "seq", hidden)
			g.inputs = append(g.inputs, &onnx.ValueInfoProto{Name: proto.String("mask"), Type: &onnx.TypeProto{Value: &onnx.TypeProto_TensorType{TensorType: &onnx.TypeProto_Tensor{ElemType: proto.Int32(int32(onnx.TensorProto_INT32))}}}})
			g.ms("Attention", "attn", []string{x, g.weight("w", 1, hidden, 24), g.weight("b", 1, 24), "mask"}, []string{"y"}, heads2)
			g.out("y", f32)
		}},
	{name: "Attention 4-D mask", want: fused.ErrUnsupportedFused, words: []string{"rank 4"},
		build: func(g *net) {
			x := g.in("x", f32, "batch", "seq", hidden)
			g.in("mask", onnx.TensorProto_INT32, "batch", 1, "seq", "seq")
			g.ms("Attention", "attn", []string{x, g.weight("w", 1, hidden, 24), g.weight("b", 1, 24), "mask"}, []string{"y"}, heads2)
			g.out("y", f32)
		}},
	{name: "SkipLayerNormalization with one input", want: fused.ErrMalformedFused, words: []string{`"sln"`, "skip"},
		build: func(g *net) {
			g.in("x", f32, "batch", "seq", hidden)
			g.ms("SkipLayerNormalization", "sln", []string{"x"}, []string{"y"})
			g.out("y", f32)
		}},
	{name: "SkipLayerNormalization mean output read", want: fused.ErrUnsupportedFused, words: []string{"mean"},
		build: func(g *net) {
			g.in("x", f32, "batch", "seq", hidden)
			g.ms("SkipLayerNormalization", "sln", []string{"x", "x", g.weight("gamma", 1, hidden)}, []string{"y", "mean"})
			g.out("y", f32)
			g.out("mean", f32)
		}},
	{name: "EmbedLayerNormalization segment ids without table", want: fused.ErrMalformedFused, words: []string{"segment"},
		build: func(g *net) {
			g.in("ids", onnx.TensorProto_INT32, "batch", "seq")
			g.ms("EmbedLayerNormalization", "emb", []string{"ids", "ids", g.weight("word", 1, 10, hidden), g.weight("pos", 1, 10, hidden), "",
				g.weight("gamma", 1, hidden), g.weight("beta", 1, hidden)}, []string{"y"})
			g.out("y", f32)
		}},
	{name: "FusedMatMul transposing an operand of unknown rank", want: fused.ErrUnsupportedFused, words: []string{"rank"},
		build: func(g *net) {
			g.inputs = append(g.inputs, &onnx.ValueInfoProto{Name: proto.String("a"), Type: &onnx.TypeProto{Value: &onnx.TypeProto_TensorType{TensorType: &onnx.TypeProto_Tensor{ElemType: proto.Int32(int32(f32))}}}})
			g.ms("FusedMatMul", "fmm", []string{"a", "a"}, []string{"y"}, onnx.AttrInt("transB", 1))
			g.out("y", f32)
		}},
	{name: "FusedMatMul batch transpose", want: fused.ErrUnsupportedFused, words: []string{"transBatchA"},
		build: func(g *net) {
			g.in("a", f32, 2, 3, 4)
			g.ms("FusedMatMul", "fmm", []string{"a", "a"}, []string{"y"}, onnx.AttrInt("transBatchA", 1))
			g.out("y", f32)
		}},
	{name: "Gelu with no input", want: fused.ErrMalformedFused, words: []string{`"gelu"`},
		build: func(g *net) {
			g.ms("Gelu", "gelu", nil, []string{"y"})
			g.out("y", f32)
		}},
	{name: "float16 model", want: fused.ErrUnsupportedFused, words: []string{"FLOAT16"},
		build: func(g *net) {
			g.in("x", onnx.TensorProto_FLOAT16, "batch", "seq", hidden)
			g.ms("Gelu", "gelu", []string{"x"}, []string{"y"})
			g.out("y", onnx.TensorProto_FLOAT16)
		}},
	{name: "opset 10", opset: 10, want: fused.ErrUnsupportedFused, words: []string{"opset is 10"},
		build: func(g *net) {
			g.in("x", f32, 2)
			g.ms("Gelu", "gelu", []string{"x"}, []string{"y"})
			g.out("y", f32)
		}},
	{name: "fused op inside a subgraph", want: fused.ErrUnsupportedFused, words: []string{"subgraph"},
		build: func(g *net) {
			g.in("c", onnx.TensorProto_BOOL)
			g.in("x", f32, 2)
			gelu := onnx.NewNode("Gelu", "inner", []string{"x"}, []string{"z"})
			gelu.Domain = proto.String(fused.Domain)
			body := &onnx.GraphProto{Name: proto.String("body"), Node: []*onnx.NodeProto{gelu}, Output: []*onnx.ValueInfoProto{onnx.NewValueInfo("z", f32, nil)}}
			g.node("If", []string{"c"}, []string{"y"}, &onnx.AttributeProto{Name: proto.String("then_branch"), Type: onnx.AttributeProto_GRAPH.Enum(), G: body},
				&onnx.AttributeProto{Name: proto.String("else_branch"), Type: onnx.AttributeProto_GRAPH.Enum(), G: body})
			g.out("y", f32)
		}},
}

// TestErrors checks that Unfuse refuses unsupported and malformed fused nodes with an error that
// wraps the right sentinel and names the node and op, without panicking or touching its input.
func TestErrors(t *testing.T) {
	for i, c := range errCases {
		t.Run(c.name, func(t *testing.T) {
			g := newNet(uint64(i))
			c.build(g)
			opset := c.opset
			if opset == 0 {
				opset = 17
			}
			m := g.model(opset)
			if c.edit != nil {
				c.edit(m)
			}
			before := encode(t, m)
			u, _, err := fused.Unfuse(m)
			if err == nil {
				t.Fatalf("Unfuse succeeded (%d nodes), want an error", len(u.GetGraph().GetNode()))
			}
			if c.want != nil && !errors.Is(err, c.want) {
				t.Errorf("error %q does not wrap %q", err, c.want)
			}
			for _, w := range c.words {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %s", err, w)
				}
			}
			unchanged(t, m, before)
			t.Log(err)
		})
	}
}

// TestNothingToUnfuse checks that a model without fused ops comes back as it is.
func TestNothingToUnfuse(t *testing.T) {
	g := newNet(1)
	g.in("x", f32, 2)
	g.node("Relu", []string{"x"}, []string{"y"})
	g.out("y", f32)
	m := g.model(17)
	u, rep, err := fused.Unfuse(m)
	if err != nil || u != m || rep.Total() != 0 || rep.String() != "nothing to unfuse" {
		t.Errorf("Unfuse of a standard model: %v, %v, same model %v", rep, err, u == m)
	}
	if _, _, err := fused.Unfuse(nil); err == nil {
		t.Error("Unfuse(nil) succeeded")
	}
}

// TestSupported lists the registry.
func TestSupported(t *testing.T) {
	got := strings.Join(fused.Supported(), " ")
	for _, op := range []string{"Attention", "SkipLayerNormalization", "EmbedLayerNormalization", "BiasGelu", "FastGelu", "Gelu", "FusedMatMul", "BiasAdd", "SkipSimplifiedLayerNormalization"} {
		if !strings.Contains(" "+got+" ", " "+op+" ") {
			t.Errorf("Supported() = %s, missing %s", got, op)
		}
	}
}
