package graph_test

import (
	"fmt"
	"testing"

	"github.com/kprune/kprune/graph"
	"github.com/kprune/kprune/internal/testmodel"
	"github.com/kprune/kprune/onnx"
	ort "github.com/kprune/kprune/runtime"
	"google.golang.org/protobuf/proto"
)

// transposedWeights rewrites every MatMul weight W [in, out] as Transpose(Wt) with Wt [out, in]
// stored, as exports without constant folding produce.
func transposedWeights(t testing.TB, m *onnx.ModelProto) *onnx.ModelProto {
	c := onnx.Clone(m)
	g := c.GetGraph()
	inits := map[string]*onnx.TensorProto{}
	for _, x := range g.GetInitializer() {
		inits[x.GetName()] = x
	}
	var nodes []*onnx.NodeProto
	for _, n := range g.GetNode() {
		if n.GetOpType() == "MatMul" {
			if w := inits[n.GetInput()[1]]; w != nil && len(w.GetDims()) == 2 {
				v, err := onnx.Float32s(w)
				if err != nil {
					t.Fatal(err)
				}
				r, k := int(w.GetDims()[0]), int(w.GetDims()[1])
				tv := make([]float32, len(v))
				for i := range r {
					for j := range k {
						tv[j*r+i] = v[i*k+j]
					}
				}
				name := w.GetName() + "_t"
				g.Initializer = append(g.Initializer, onnx.NewFloatTensor(name, []int64{int64(k), int64(r)}, tv))
				out := name + "_transposed"
				nodes = append(nodes, onnx.NewNode("Transpose", name+"_node", []string{name}, []string{out}, onnx.AttrInts("perm", 1, 0)))
				n.Input[1] = out
			}
		}
		nodes = append(nodes, n)
	}
	g.Node = nodes
	return graph.RemoveDeadNodes(c)
}

// initializersAsInputs lists every initializer among the graph inputs too (old exporters).
func initializersAsInputs(m *onnx.ModelProto) *onnx.ModelProto {
	c := onnx.Clone(m)
	for _, x := range c.GetGraph().GetInitializer() {
		shape := make([]onnx.Dim, len(x.GetDims()))
		for i, d := range x.GetDims() {
			shape[i] = onnx.Dim{Value: d}
		}
		c.Graph.Input = append(c.Graph.Input, onnx.NewValueInfo(x.GetName(), onnx.TensorProto_DataType(x.GetDataType()), shape))
	}
	return c
}

// tiedQuery makes layer 1's query projection use layer 0's weight and bias (shared tensors).
func tiedQuery(m *onnx.ModelProto, enc *graph.Encoder) *onnx.ModelProto {
	c := onnx.Clone(m)
	q0, q1 := enc.Layers[0].MHA.Q, enc.Layers[1].MHA.Q
	for _, n := range c.GetGraph().GetNode() {
		for i, in := range n.GetInput() {
			switch in {
			case q1.Weight:
				n.Input[i] = q0.Weight
			case q1.Bias:
				n.Input[i] = q0.Bias
			}
		}
	}
	return graph.RemoveDeadNodes(c)
}

func unnamed(m *onnx.ModelProto) *onnx.ModelProto {
	c := onnx.Clone(m)
	for _, n := range c.GetGraph().GetNode() {
		n.Name = nil
	}
	return c
}

func reversed(m *onnx.ModelProto) *onnx.ModelProto {
	c := onnx.Clone(m)
	nodes := c.Graph.Node
	for i, j := 0, len(nodes)-1; i < j; i, j = i+1, j-1 {
		nodes[i], nodes[j] = nodes[j], nodes[i]
	}
	return c
}

func TestExportVariants(t *testing.T) {
	m14 := loadModel(t, tiny14)
	m17 := loadModel(t, l4op17)
	enc14 := discover(t, m14)
	cases := []struct {
		name   string
		m      *onnx.ModelProto
		orient graph.Orientation
	}{
		{"transposed weights", transposedWeights(t, m14), graph.OutIn},
		{"initializers as inputs", initializersAsInputs(m17), graph.InOut},
		{"tied query weights", tiedQuery(m14, enc14), graph.InOut},
		{"unnamed nodes", unnamed(m17), graph.InOut},
		{"reversed node order", reversed(m14), graph.InOut},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			enc := discover(t, c.m)
			if enc.Layers[0].MHA.Q.Orient != c.orient || enc.Layers[0].FFN.W2.Orient != c.orient {
				t.Errorf("orientation %d, want %d", enc.Layers[0].MHA.Q.Orient, c.orient)
			}
			in := sharedInputs(t, c.m, enc, 2, 9, 4)
			checkMasksOnes(t, c.m, enc, in, 2)
			checkPruneEqualsMasks(t, c.m, enc, in, 21)
			checkRemoveSublayers(t, c.m, enc, in)
			checkReplaceOutputWeight(t, c.m, enc, in)
		})
	}
}

func TestTiedWeightsAreCopied(t *testing.T) {
	m := loadModel(t, tiny14)
	tm := tiedQuery(m, discover(t, m))
	enc := discover(t, tm)
	pm, penc, err := graph.Prune(tm, enc, graph.Plan{Heads: [][]int{{0}, {1}}}, graph.PruneOptions{})
	if err != nil {
		t.Fatal(err)
	}
	q0, q1 := penc.Layers[0].MHA.Q, penc.Layers[1].MHA.Q
	if q0.Weight == q1.Weight || q0.Bias == q1.Bias {
		t.Fatalf("layers 0 and 1 still share query weight %q / bias %q after keeping different heads", q0.Weight, q0.Bias)
	}
	ix := graph.NewIndex(pm.GetGraph())
	for _, w := range []string{q0.Weight, q1.Weight} {
		if x := ix.Initializer(w); x == nil || x.GetDims()[1] != 64 {
			t.Errorf("query weight %q: %v", w, x.GetDims())
		}
	}
}

// geluOp replaces every FFN activation subgraph by a Gelu node (opset 20).
func geluOp(t testing.TB, m *onnx.ModelProto, enc *graph.Encoder) *onnx.ModelProto {
	c := onnx.Clone(m)
	for _, o := range c.GetOpsetImport() {
		if o.GetDomain() == "" {
			o.Version = proto.Int64(20)
		}
	}
	acts := map[string]string{}
	for _, l := range enc.Layers {
		acts[l.FFN.Act] = l.FFN.W1.Output
	}
	for _, n := range c.GetGraph().GetNode() {
		if h, ok := acts[n.GetOutput()[0]]; ok {
			n.OpType, n.Input, n.Attribute = proto.String("Gelu"), []string{h}, nil
		}
	}
	return graph.RemoveDeadNodes(c)
}

// sliceSpan replaces the Split of a span head by two Slices and lists the end logits first.
func sliceSpan(t testing.TB, m *onnx.ModelProto) *onnx.ModelProto {
	c := onnx.Clone(m)
	g := c.GetGraph()
	var nodes []*onnx.NodeProto
	for _, n := range g.GetNode() {
		if n.GetOpType() != "Split" {
			nodes = append(nodes, n)
			continue
		}
		for i, out := range n.GetOutput() {
			st, en, ax := out+"_st", out+"_en", out+"_ax"
			g.Initializer = append(g.Initializer, onnx.NewInt64Tensor(st, []int64{1}, []int64{int64(i)}),
				onnx.NewInt64Tensor(en, []int64{1}, []int64{int64(i + 1)}), onnx.NewInt64Tensor(ax, []int64{1}, []int64{-1}))
			nodes = append(nodes, onnx.NewNode("Slice", out+"_slice", []string{n.GetInput()[0], st, en, ax}, []string{out}))
		}
	}
	g.Node = nodes
	g.Output[0], g.Output[1] = g.Output[1], g.Output[0]
	return graph.RemoveDeadNodes(c)
}

// directClassifier drops the pooler: the classifier reads the [CLS] hidden state.
func directClassifier(m *onnx.ModelProto) *onnx.ModelProto {
	c := onnx.Clone(m)
	var cls string
	for _, n := range c.GetGraph().GetNode() {
		if n.GetOpType() == "Gather" && onnx.AttrIntOr(n, "axis", 0) == 1 {
			cls = n.GetOutput()[0]
		}
	}
	for _, n := range c.GetGraph().GetNode() {
		if n.GetOutput()[0] == "logits" {
			n.Input[0] = cls
		}
	}
	return graph.RemoveDeadNodes(c)
}

func TestHeadAndActivationVariants(t *testing.T) {
	m17 := loadModel(t, tiny17)
	span, err := testmodel.Build(testmodel.Config{Head: graph.HeadSpan, Reshape: testmodel.ReshapeConcat})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name    string
		m       *onnx.ModelProto
		head    graph.HeadKind
		outputs string
		act     string
	}{
		{"Gelu op", geluOp(t, m17, discover(t, m17)), graph.HeadClassification, "[logits]", "gelu"},
		{"span by Slice, end listed first", sliceSpan(t, span), graph.HeadSpan, "[start_logits end_logits]", "gelu_erf"},
		{"classifier without pooler", directClassifier(loadModel(t, tiny14)), graph.HeadClassification, "[logits]", "gelu_erf"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			enc := discover(t, c.m)
			if enc.Head != c.head || fmt.Sprint(enc.Outputs) != c.outputs || enc.Layers[0].FFN.Activation != c.act {
				t.Errorf("got head %s outputs %v activation %s", enc.Head, enc.Outputs, enc.Layers[0].FFN.Activation)
			}
			var in map[string]*ort.Tensor
			if c.head == graph.HeadSpan {
				in = testmodel.Inputs(testmodel.Config{}, 2, 6, 1)
			} else {
				in = sharedInputs(t, c.m, enc, 2, 6, 1)
			}
			checkPruneEqualsMasks(t, c.m, enc, in, 3)
		})
	}
}

// opset11 rewrites an opset-14 torch export for opset 11: Unsqueeze and Squeeze take their axes
// as attributes.
func opset11(t testing.TB, m *onnx.ModelProto) *onnx.ModelProto {
	c := onnx.Clone(m)
	for _, o := range c.GetOpsetImport() {
		if o.GetDomain() == "" {
			o.Version = proto.Int64(11)
		}
	}
	ix := graph.NewIndex(c.GetGraph())
	for _, n := range c.GetGraph().GetNode() {
		if n.GetOpType() == "Reshape" {
			n.Attribute = nil // allowzero appeared in opset 14
		}
		if (n.GetOpType() == "Unsqueeze" || n.GetOpType() == "Squeeze") && len(n.GetInput()) == 2 {
			axes, err := onnx.Int64s(ix.Constant(n.GetInput()[1]))
			if err != nil {
				t.Fatal(err)
			}
			n.Input = n.Input[:1]
			n.Attribute = append(n.Attribute, onnx.AttrInts("axes", axes...))
		}
	}
	return graph.RemoveDeadNodes(c)
}

// embeddingProjection inserts a linear projection between the embedding LayerNorm and the first
// layer, as ELECTRA-small has (embedding size different from the hidden size in general).
func embeddingProjection(t testing.TB, m *onnx.ModelProto, enc *graph.Encoder) *onnx.ModelProto {
	c := onnx.Clone(m)
	x := enc.SublayerInput(0)
	d := enc.Hidden
	w := make([]float32, d*d)
	for i := range d {
		w[i*d+i] = 1
		w[i*d+(i+1)%d] = 0.25
	}
	g := c.GetGraph()
	g.Initializer = append(g.Initializer, onnx.NewFloatTensor("proj_w", []int64{int64(d), int64(d)}, w),
		onnx.NewFloatTensor("proj_b", []int64{int64(d)}, make([]float32, d)))
	var nodes []*onnx.NodeProto
	for _, n := range g.GetNode() {
		for i, in := range n.GetInput() {
			if in == x {
				n.Input[i] = "proj_out"
			}
		}
		nodes = append(nodes, n)
		if n.GetOutput()[0] == x {
			nodes = append(nodes, onnx.NewNode("MatMul", "proj_mm", []string{x, "proj_w"}, []string{"proj_mm_out"}),
				onnx.NewNode("Add", "proj_add", []string{"proj_mm_out", "proj_b"}, []string{"proj_out"}))
		}
	}
	g.Node = nodes
	return c
}

func TestEncoderVariants(t *testing.T) {
	m14 := loadModel(t, tiny14)
	enc14 := discover(t, m14)
	cases := []struct {
		name string
		m    *onnx.ModelProto
	}{
		{"opset 11", opset11(t, m14)},
		{"embedding projection", embeddingProjection(t, m14, enc14)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			enc := discover(t, c.m)
			if len(enc.Layers) != 2 || enc.Layers[1].MHA.Heads != 2 || enc.InputIDs != "input_ids" || enc.AttentionMask != "attention_mask" {
				t.Fatalf("discovered %+v", enc)
			}
			in := sharedInputs(t, c.m, enc, 2, 9, 4)
			checkPruneEqualsMasks(t, c.m, enc, in, 21)
			checkCut(t, c.m, enc, in, []int{0, 3})
		})
	}
}

// A graph cut at an attention sublayer is itself an encoder (without embeddings).
func TestDiscoverCutGraph(t *testing.T) {
	m := loadModel(t, l4op17)
	enc := discover(t, m)
	cm, err := graph.Cut(m, enc, 2)
	if err != nil {
		t.Fatal(err)
	}
	cenc := discover(t, cm)
	if len(cenc.Layers) != 3 || cenc.SublayerInput(0) != enc.SublayerInput(2) || cenc.AttentionMask != "attention_mask" || cenc.InputIDs != "" {
		t.Fatalf("cut graph: %d layers, input %q, mask %q, ids %q", len(cenc.Layers), cenc.SublayerInput(0), cenc.AttentionMask, cenc.InputIDs)
	}
	sameStructure(t, "cut graph", cenc, &graph.Encoder{Hidden: enc.Hidden, HeadDim: enc.HeadDim, Layers: enc.Layers[1:],
		Head: enc.Head, Outputs: enc.Outputs, NumLabels: enc.NumLabels})
}

// sdpaScaling replaces the Div of the attention scores by a constant with torch's
// scaled_dot_product_attention export: Q and K are each multiplied by sqrt(1/sqrt(d_h)), a scalar
// computed from Shape(query).
func sdpaScaling(t testing.TB, m *onnx.ModelProto) *onnx.ModelProto {
	c := onnx.Clone(m)
	g := c.GetGraph()
	ix := graph.NewIndex(g)
	g.Initializer = append(g.Initializer, onnx.NewInt64Tensor("sdpa_last", nil, []int64{-1}),
		onnx.NewFloatTensor("sdpa_one", nil, []float32{1}))
	var nodes []*onnx.NodeProto
	for _, n := range g.GetNode() {
		if n.GetOpType() == "Div" && ix.Producer(n.GetInput()[0]) != nil && ix.Producer(n.GetInput()[0]).GetOpType() == "MatMul" {
			mm := ix.Producer(n.GetInput()[0])
			p := n.GetName()
			q, k := mm.GetInput()[0], mm.GetInput()[1]
			nodes = append(nodes,
				onnx.NewNode("Shape", p+"/shape", []string{q}, []string{p + "/shape"}),
				onnx.NewNode("Gather", p+"/dh", []string{p + "/shape", "sdpa_last"}, []string{p + "/dh"}),
				onnx.NewNode("Cast", p+"/cast", []string{p + "/dh"}, []string{p + "/dhf"}, onnx.AttrInt("to", int64(onnx.TensorProto_FLOAT))),
				onnx.NewNode("Sqrt", p+"/sqrt", []string{p + "/dhf"}, []string{p + "/sq"}),
				onnx.NewNode("Div", p+"/inv", []string{"sdpa_one", p + "/sq"}, []string{p + "/scale"}),
				onnx.NewNode("Sqrt", p+"/sqrt2", []string{p + "/scale"}, []string{p + "/s2"}),
				onnx.NewNode("Mul", p+"/qs", []string{q, p + "/s2"}, []string{p + "/q"}),
				onnx.NewNode("Mul", p+"/ks", []string{k, p + "/s2"}, []string{p + "/k"}),
				onnx.NewNode("MatMul", p+"/qk", []string{p + "/q", p + "/k"}, []string{n.GetOutput()[0]}))
			continue
		}
		nodes = append(nodes, n)
	}
	// The new nodes sit where the Div was; the old MatMul before them becomes dead.
	g.Node = nodes
	return graph.RemoveDeadNodes(c)
}

func TestSDPAExport(t *testing.T) {
	m := sdpaScaling(t, loadModel(t, l4op17))
	enc := discover(t, m)
	if len(enc.Layers) != 4 || enc.Layers[2].MHA.Heads != 4 {
		t.Fatalf("discovered %d layers", len(enc.Layers))
	}
	in := sharedInputs(t, m, enc, 2, 9, 4)
	assertClose(t, "SDPA-style scaling", run(t, m, in), run(t, loadModel(t, l4op17), in), rtol)
	checkPruneEqualsMasks(t, m, enc, in, 8)
}
