package graph

import (
	"context"
	"testing"

	"github.com/kprune/kprune/internal/testutil"
	"github.com/kprune/kprune/onnx"
	ort "github.com/kprune/kprune/runtime"
)

// annotate returns m with a value info for every intermediate tensor (as some exporters write)
// and the attention context of layer 0 added as a graph output with its shape.
func annotate(m *onnx.ModelProto, enc *Encoder) *onnx.ModelProto {
	ix := NewIndex(m.GetGraph())
	info := lazyShapes(ix.Graph)
	nm := onnx.ShallowCopy(m)
	g := nm.Graph
	for _, n := range g.GetNode() {
		for _, o := range n.GetOutput() {
			if t := info(o); t.Rank >= 0 && t.Elem != 0 && !ix.IsOutput(o) {
				g.ValueInfo = append(g.ValueInfo, valueInfoFor(ix, info, o))
			}
		}
	}
	ctx := enc.Layers[0].MHA.Context
	g.Output = append(g.Output, valueInfoFor(ix, info, ctx))
	return nm
}

func TestPruneClearsStaleValueInfo(t *testing.T) {
	m, err := onnx.Load(testutil.Shared(t, "models/tiny-bert-sst2/model.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	enc, err := Discover(m)
	if err != nil {
		t.Fatal(err)
	}
	am := annotate(m, enc)
	if len(am.GetGraph().GetValueInfo()) < 100 {
		t.Fatalf("only %d value infos written", len(am.GetGraph().GetValueInfo()))
	}
	plan := Plan{Heads: [][]int{{1}, {}}, Neurons: [][]int{{0, 5, 7}, nil}}
	run := func(m *onnx.ModelProto) map[string][]int64 {
		s, err := ort.NewSession(m, ort.Options{IntraOpThreads: 1})
		if err != nil {
			t.Fatalf("onnxruntime refused the pruned model: %v", err)
		}
		defer s.Close()
		shape := []int64{2, 5}
		ids := []int64{101, 2023, 2003, 1037, 102, 101, 2307, 102, 0, 0}
		mask := []int64{1, 1, 1, 1, 1, 1, 1, 1, 0, 0}
		out, err := s.Run(context.Background(), map[string]*ort.Tensor{"input_ids": ort.I64Tensor(shape, ids),
			"attention_mask": ort.I64Tensor(shape, mask), "token_type_ids": ort.I64Tensor(shape, make([]int64, 10))})
		if err != nil {
			t.Fatal(err)
		}
		shapes := map[string][]int64{}
		for i, o := range s.Outputs() {
			shapes[o.Name] = out[i].Shape
		}
		return shapes
	}
	pm, penc, err := Prune(am, enc, plan, PruneOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got := run(pm)
	if s := got[penc.Layers[0].MHA.Context]; len(s) != 3 || s[2] != 64 {
		t.Errorf("context of the pruned layer has shape %v, want [2 5 64]", s)
	}
	for _, v := range pm.GetGraph().GetValueInfo() {
		if v.GetName() == penc.Layers[0].MHA.Context || v.GetName() == penc.Layers[0].FFN.Act {
			t.Errorf("stale value info kept for %q", v.GetName())
		}
	}
}
