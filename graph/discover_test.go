package graph_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/kprune/kprune/graph"
	"github.com/kprune/kprune/onnx"
	"google.golang.org/protobuf/proto"
)

func TestDiscoverSharedModels(t *testing.T) {
	cases := []struct {
		model           string
		layers, heads   int
		headDim, ffn    int
		hidden          int
		lnOp            bool // LayerNormalization nodes rather than the decomposition
		weightsAreNamed bool
	}{
		{tiny14, 2, 2, 64, 512, 128, false, false},
		{tiny17, 2, 2, 64, 512, 128, true, false},
		{l4op14, 4, 4, 32, 512, 128, false, false},
		{l4op17, 4, 4, 32, 512, 128, true, false},
		{demo, 2, 2, 64, 512, 128, false, false},
	}
	for _, c := range cases {
		t.Run(c.model, func(t *testing.T) {
			m := loadModel(t, c.model)
			enc := discover(t, m)
			if len(enc.Layers) != c.layers || enc.Hidden != c.hidden || enc.HeadDim != c.headDim {
				t.Fatalf("got %d layers, hidden %d, head dim %d; want %d, %d, %d", len(enc.Layers), enc.Hidden, enc.HeadDim, c.layers, c.hidden, c.headDim)
			}
			if enc.Head != graph.HeadClassification || enc.NumLabels != 2 || len(enc.Outputs) != 1 || enc.Outputs[0] != "logits" {
				t.Errorf("head: got %s %d %v, want classification 2 [logits]", enc.Head, enc.NumLabels, enc.Outputs)
			}
			if enc.InputIDs != "input_ids" || enc.AttentionMask != "attention_mask" || enc.TokenTypeIDs != "token_type_ids" {
				t.Errorf("inputs: got %q %q %q", enc.InputIDs, enc.AttentionMask, enc.TokenTypeIDs)
			}
			inits := map[string]*onnx.TensorProto{}
			for _, x := range m.GetGraph().GetInitializer() {
				inits[x.GetName()] = x
			}
			prev := ""
			for l, layer := range enc.Layers {
				if layer.MHA == nil || layer.FFN == nil {
					t.Fatalf("layer %d: missing sublayer", l)
				}
				a, f := layer.MHA, layer.FFN
				if a.Heads != c.heads || a.HeadDim != c.headDim || f.Width != c.ffn || f.Activation != "gelu_erf" {
					t.Errorf("layer %d: %d heads x %d, FFN %d %s", l, a.Heads, a.HeadDim, f.Width, f.Activation)
				}
				for _, lin := range []graph.Linear{a.Q, a.K, a.V, a.O, f.W1, f.W2} {
					w := inits[lin.Weight]
					if w == nil || inits[lin.Bias] == nil {
						t.Fatalf("layer %d: projection %q: weight %q or bias %q is not an initializer", l, lin.Node, lin.Weight, lin.Bias)
					}
					if lin.Orient != graph.InOut || w.GetDims()[0] != int64(lin.In) || w.GetDims()[1] != int64(lin.Out) {
						t.Errorf("layer %d: %q has dims %v, described as %d -> %d orient %d", l, lin.Weight, w.GetDims(), lin.In, lin.Out, lin.Orient)
					}
				}
				if a.Q.Input != layer.MHAInput || f.W1.Input != layer.FFNInput || layer.FFNInput != layer.MHAOutput {
					t.Errorf("layer %d: residual tensors inconsistent: %+v", l, layer)
				}
				if l > 0 && layer.MHAInput != prev {
					t.Errorf("layer %d reads %q, previous layer hands on %q", l, layer.MHAInput, prev)
				}
				prev = layer.FFNOutput
				if a.O.Input != a.Context || f.W2.Input != f.Act || a.LN.Input != a.PreLN || a.LN.Eps != 1e-12 {
					t.Errorf("layer %d: context/act/LN inconsistent", l)
				}
				if f.LN.Scale == "" || inits[f.LN.Scale] == nil || inits[f.LN.Bias] == nil {
					t.Errorf("layer %d: FFN LayerNorm parameters %q %q not found", l, f.LN.Scale, f.LN.Bias)
				}
			}
			if enc.NumSublayers() != 2*c.layers || enc.SublayerInput(1) != enc.Layers[0].FFNInput || enc.SublayerOutput(2*c.layers-1) != prev {
				t.Errorf("sublayer accessors inconsistent")
			}
		})
	}
}

// rewire returns a deep copy of m in which every reader of tensor from reads to instead.
func rewire(m *onnx.ModelProto, from, to string) *onnx.ModelProto {
	c := onnx.Clone(m)
	for _, n := range c.GetGraph().GetNode() {
		for i, in := range n.GetInput() {
			if in == from {
				n.Input[i] = to
			}
		}
	}
	return c
}

func TestDiscoverRefusals(t *testing.T) {
	m14 := loadModel(t, tiny14)
	enc := discover(t, m14)
	m17 := loadModel(t, tiny17)
	enc17 := discover(t, m17)
	// A tiny graph that is not an encoder.
	mlp := &onnx.ModelProto{IrVersion: proto.Int64(8), OpsetImport: []*onnx.OperatorSetIdProto{{Version: proto.Int64(14)}},
		Graph: &onnx.GraphProto{
			Input:       []*onnx.ValueInfoProto{onnx.NewValueInfo("x", onnx.TensorProto_FLOAT, []onnx.Dim{{Param: "b"}, {Value: 4}})},
			Output:      []*onnx.ValueInfoProto{onnx.NewValueInfo("y", onnx.TensorProto_FLOAT, nil)},
			Initializer: []*onnx.TensorProto{onnx.NewFloatTensor("w", []int64{4, 2}, make([]float32, 8))},
			Node:        []*onnx.NodeProto{onnx.NewNode("MatMul", "mm", []string{"x", "w"}, []string{"h"}), onnx.NewNode("Relu", "r", []string{"h"}, []string{"y"})},
		}}
	custom := onnx.Clone(m14)
	custom.Graph.Node[len(custom.Graph.Node)-3].Domain = proto.String("org.example")
	sigmoid := onnx.Clone(m14)
	for _, n := range sigmoid.GetGraph().GetNode() {
		if n.GetOpType() == "Softmax" {
			n.OpType = proto.String("Sigmoid")
			n.Attribute = nil
		}
	}
	noAct := onnx.Clone(m17)
	// The FFN of layer 0 without its activation: W_2 reads W_1's output directly.
	noAct = rewire(noAct, enc17.Layers[0].FFN.Act, enc17.Layers[0].FFN.W1.Output)
	// Q reading another tensor than the residual input.
	// is is the sentinel errors.Is must match (nil: none of them); op, when set, is the operator
	// type of the node an *UnsupportedError names.
	cases := []struct {
		name string
		m    *onnx.ModelProto
		want []string
		is   error
		op   string
	}{
		{"fused onnxruntime graph", loadModel(t, tinyORT), []string{"com.microsoft", "FusedMatMul", "without --optimize"}, graph.ErrFused, ""},
		{"QDQ weights", weightVia(t, m14, enc, "dequantize"), []string{"quantized", "DequantizeLinear", "prune the float model, then quantize"}, graph.ErrQuantized, ""},
		{"MatMulInteger", weightVia(t, m14, enc, "matmulinteger"), []string{"quantized", "MatMulInteger"}, graph.ErrQuantized, ""},
		{"int8 weights rescaled by Mul", weightVia(t, m14, enc, "int8mul"), []string{"quantized", "INT8", "weight-only"}, graph.ErrQuantized, ""},
		{"float16 weights", weightVia(t, m14, enc, "float16"), []string{"FLOAT16", "float32"}, graph.ErrUnsupportedModel, "MatMul"},
		{"ALBERT shared layers", sharedLayers(m14, enc), []string{"layers 0 and 1", "ALBERT"}, graph.ErrUnsupportedModel, ""},
		{"attention LayerNorm removed (op14)", rewire(m14, enc.Layers[1].MHA.LN.Output, enc.Layers[1].MHA.PreLN), []string{"LayerNorm", "not on the encoder's residual chain"}, nil, ""},
		{"FFN LayerNorm removed (op17)", rewire(m17, enc17.Layers[0].FFN.LN.Output, enc17.Layers[0].FFN.PreLN), []string{"LayerNorm", "residual"}, nil, ""},
		{"not an encoder", mlp, []string{"no LayerNorm"}, graph.ErrNotEncoder, ""},
		{"custom domain", custom, []string{"org.example"}, graph.ErrUnsupportedModel, custom.Graph.Node[len(custom.Graph.Node)-3].GetOpType()},
		{"no softmax", sigmoid, []string{"layer 0", "Softmax"}, nil, ""},
		{"no activation", noAct, []string{"layer 0", "activation"}, nil, ""},
		{"no graph", &onnx.ModelProto{}, []string{"no graph"}, nil, ""},
	}
	sentinels := []error{graph.ErrNotEncoder, graph.ErrQuantized, graph.ErrFused, graph.ErrUnsupportedModel}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := graph.Discover(c.m)
			if err == nil {
				t.Fatal("Discover accepted the graph")
			}
			t.Log(err)
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
			for _, s := range sentinels {
				if got := errors.Is(err, s); got != (s == c.is) {
					t.Errorf("errors.Is(err, %q) = %v, want %v", s, got, !got)
				}
			}
			var ue *graph.UnsupportedError
			if got := errors.As(err, &ue); got != (c.op != "") {
				t.Fatalf("errors.As(err, *UnsupportedError) = %v, want %v", got, !got)
			}
			if ue != nil && (ue.Op != c.op || ue.Node == "" || !strings.Contains(err.Error(), ue.Node)) {
				t.Errorf("UnsupportedError names node %q (%s), want a %s node named in the message", ue.Node, ue.Op, c.op)
			}
		})
	}
}

func TestIndex(t *testing.T) {
	m := loadModel(t, tiny14)
	g := m.GetGraph()
	ix := graph.NewIndex(g)
	if ix.TopoErr() != nil {
		t.Fatal(ix.TopoErr())
	}
	order := ix.Topo()
	if len(order) != len(g.GetNode()) {
		t.Fatalf("topological order has %d nodes, graph %d", len(order), len(g.GetNode()))
	}
	pos := map[*onnx.NodeProto]int{}
	for i, n := range order {
		pos[n] = i
	}
	for _, n := range g.GetNode() {
		for _, in := range n.GetInput() {
			if p := ix.Producer(in); p != nil && pos[p] >= pos[n] {
				t.Fatalf("node %q comes before its producer %q", n.GetName(), p.GetName())
			}
			found := false
			for _, c := range ix.Consumers(in) {
				found = found || c == n
			}
			if in != "" && !found {
				t.Fatalf("node %q is not among the consumers of %q", n.GetName(), in)
			}
		}
	}
	if ix.Initializer("layers.0.q.bias") == nil || !ix.IsInput("input_ids") || ix.IsInput("layers.0.q.bias") || !ix.IsOutput("logits") {
		t.Error("initializer/input/output lookups wrong")
	}
	if c := ix.Constant("/layers.0/Constant_3_output_0"); c == nil {
		t.Error("Constant node output not seen as a constant")
	}
	// A reversed node list sorts back into a valid order.
	rev := onnx.Clone(m)
	for i, j := 0, len(rev.Graph.Node)-1; i < j; i, j = i+1, j-1 {
		rev.Graph.Node[i], rev.Graph.Node[j] = rev.Graph.Node[j], rev.Graph.Node[i]
	}
	sorted, err := graph.TopoSort(rev)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := graph.Discover(sorted); err != nil {
		t.Errorf("Discover after TopoSort: %v", err)
	}
	// A cycle is reported.
	cyc := &onnx.GraphProto{Node: []*onnx.NodeProto{
		onnx.NewNode("Relu", "a", []string{"y"}, []string{"x"}),
		onnx.NewNode("Relu", "b", []string{"x"}, []string{"y"}),
	}}
	if err := graph.NewIndex(cyc).TopoErr(); err == nil || !strings.Contains(err.Error(), "cycle") {
		t.Errorf("cycle not reported: %v", err)
	}
	// Dead nodes go, inputs stay.
	extra := onnx.Clone(m)
	extra.Graph.Node = append(extra.Graph.Node, onnx.NewNode("Relu", "dead", []string{"/Add_1_output_0"}, []string{"dead_out"}))
	clean := graph.RemoveDeadNodes(extra)
	if len(clean.GetGraph().GetNode()) != len(g.GetNode()) || len(clean.GetGraph().GetInput()) != len(g.GetInput()) {
		t.Errorf("RemoveDeadNodes: %d nodes %d inputs, want %d %d", len(clean.GetGraph().GetNode()), len(clean.GetGraph().GetInput()), len(g.GetNode()), len(g.GetInput()))
	}
}

// weightVia rewrites layer 0's query weight the way a quantized or half-precision model spells
// it: "dequantize" (int8 + DequantizeLinear), "matmulinteger" (the MatMul becomes MatMulInteger),
// "int8mul" (Cast of an int8 initializer times a scale) or "float16" (Cast of a float16 one).
func weightVia(t *testing.T, m *onnx.ModelProto, enc *graph.Encoder, how string) *onnx.ModelProto {
	t.Helper()
	c := onnx.Clone(m)
	g := c.GetGraph()
	q := enc.Layers[0].MHA.Q
	var w *onnx.TensorProto
	for _, x := range g.GetInitializer() {
		if x.GetName() == q.Weight {
			w = x
		}
	}
	n := int(onnx.NumElements(w.GetDims()))
	i8 := &onnx.TensorProto{Name: proto.String("w_q8"), Dims: w.GetDims(), DataType: proto.Int32(int32(onnx.TensorProto_INT8)), RawData: make([]byte, n)}
	scale := onnx.NewFloatTensor("w_scale", nil, []float32{0.01})
	var nodes []*onnx.NodeProto
	switch how {
	case "dequantize":
		g.Initializer = append(g.Initializer, i8, scale)
		nodes = append(nodes, onnx.NewNode("DequantizeLinear", "dq", []string{"w_q8", "w_scale"}, []string{"w_deq"}))
	case "int8mul":
		g.Initializer = append(g.Initializer, i8, scale)
		nodes = append(nodes, onnx.NewNode("Cast", "cast", []string{"w_q8"}, []string{"w_f"}, onnx.AttrInt("to", 1)),
			onnx.NewNode("Mul", "rescale", []string{"w_f", "w_scale"}, []string{"w_deq"}))
	case "float16":
		h := &onnx.TensorProto{Name: proto.String("w_h"), Dims: w.GetDims(), DataType: proto.Int32(int32(onnx.TensorProto_FLOAT16)), RawData: make([]byte, 2*n)}
		g.Initializer = append(g.Initializer, h)
		nodes = append(nodes, onnx.NewNode("Cast", "cast", []string{"w_h"}, []string{"w_deq"}, onnx.AttrInt("to", 1)))
	}
	for _, x := range g.GetNode() {
		if x.GetName() == q.Node {
			if how == "matmulinteger" {
				x.OpType = proto.String("MatMulInteger")
			} else {
				x.Input[1] = "w_deq"
			}
		}
	}
	g.Node = append(nodes, g.Node...)
	return c
}

// sharedLayers makes layer 1 use every weight of layer 0 (ALBERT's cross-layer sharing).
func sharedLayers(m *onnx.ModelProto, enc *graph.Encoder) *onnx.ModelProto {
	c := onnx.Clone(m)
	a, b := enc.Layers[0], enc.Layers[1]
	to := map[string]string{}
	for _, p := range [][2]graph.Linear{{a.MHA.Q, b.MHA.Q}, {a.MHA.K, b.MHA.K}, {a.MHA.V, b.MHA.V}, {a.MHA.O, b.MHA.O}, {a.FFN.W1, b.FFN.W1}, {a.FFN.W2, b.FFN.W2}} {
		to[p[1].Weight] = p[0].Weight
	}
	for _, n := range c.GetGraph().GetNode() {
		for i, in := range n.GetInput() {
			if r, ok := to[in]; ok {
				n.Input[i] = r
			}
		}
	}
	return graph.RemoveDeadNodes(c)
}
