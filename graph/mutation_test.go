package graph_test

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/kprune/kprune/graph"
	"github.com/kprune/kprune/internal/testmodel"
	"github.com/kprune/kprune/onnx"
	"google.golang.org/protobuf/proto"
)

// TestMalformedGraphs mutates small encoders at random (dropped inputs, changed ops, deleted
// nodes, rewired inputs) and checks that discovery and every rewrite return errors or results,
// never panics (which the entry points would report as "internal error").
func TestMalformedGraphs(t *testing.T) {
	ops := []string{"Add", "Mul", "MatMul", "Reshape", "Transpose", "Softmax", "Relu", "Identity", "Gemm", "Concat", "Gather", "LayerNormalization", "ReduceMean", "Split", "Slice"}
	var bases []*onnx.ModelProto
	for _, cfg := range []testmodel.Config{
		{Reshape: testmodel.ReshapeConcat},
		{Gemm: true, Opset: 17, Head: graph.HeadSpan},
		{HeadsPerLayer: []int{2, 0}, FFNPerLayer: []int{0, 8}, Hidden: 16, Reshape: testmodel.ReshapeMinus1, Head: graph.HeadToken},
	} {
		m, err := testmodel.Build(cfg)
		if err != nil {
			t.Fatal(err)
		}
		bases = append(bases, m)
	}
	r := rand.New(rand.NewPCG(1, 2))
	internal := func(what string, err error) {
		if err != nil && strings.Contains(err.Error(), "internal error") {
			t.Errorf("%s: %v", what, err)
		}
	}
	const iterations = 300 // 6000 ran clean too
	passed := 0
	defer func() { t.Logf("%d of %d mutated models still discovered", passed, iterations) }()
	for i := range iterations {
		m := onnx.Clone(bases[i%len(bases)])
		nodes := m.GetGraph().GetNode()
		for range 1 + r.IntN(2) {
			n := nodes[r.IntN(len(nodes))]
			switch r.IntN(5) {
			case 0:
				if len(n.Input) > 0 {
					n.Input = n.Input[:len(n.Input)-1]
				}
			case 1:
				n.OpType = proto.String(ops[r.IntN(len(ops))])
			case 2:
				k := r.IntN(len(nodes))
				m.Graph.Node = append(nodes[:k:k], nodes[k+1:]...)
				nodes = m.Graph.Node
			case 3:
				if len(n.Input) > 1 {
					n.Input[0], n.Input[1] = n.Input[1], n.Input[0]
				}
			case 4:
				if len(n.Input) > 0 {
					o := nodes[r.IntN(len(nodes))]
					n.Input[r.IntN(len(n.Input))] = o.GetOutput()[0]
				}
			}
		}
		graph.AddOutputs(m, "x", nodes[len(nodes)/2].GetOutput()[0])
		_, err := graph.Extract(m, []string{nodes[len(nodes)/3].GetOutput()[0]}, []string{m.GetGraph().GetOutput()[0].GetName()})
		internal("Extract", err)
		enc, err := graph.Discover(m)
		internal("Discover", err)
		if err != nil {
			continue
		}
		passed++
		graph.CountParams(m, enc)
		_, err = graph.InsertMasks(m, enc, allSublayers(enc), graph.MaskOptions{PerExample: true})
		internal("InsertMasks", err)
		plan, _ := randomPlan(enc, 0.5, uint64(i), true)
		_, _, err = graph.Prune(m, enc, plan, graph.PruneOptions{KeepBias: i%2 == 0})
		internal("Prune", err)
		_, err = graph.Cut(m, enc, enc.NumSublayers()-1)
		internal("Cut", err)
	}
}
