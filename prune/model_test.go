package prune_test

import (
	"errors"
	"testing"

	"github.com/kprune/kprune/data"
	"github.com/kprune/kprune/graph"
	"github.com/kprune/kprune/internal/testmodel"
	"github.com/kprune/kprune/internal/testutil"
	"github.com/kprune/kprune/onnx"
	"github.com/kprune/kprune/prune"
	"google.golang.org/protobuf/proto"
)

// TestStandardize: plain models come back as they are; quantized ones are refused as quantized
// whatever the operator's domain; onnxruntime-fused ones come back unfused and discoverable.
func TestStandardize(t *testing.T) {
	m, err := testmodel.Build(testmodel.Config{})
	if err != nil {
		t.Fatal(err)
	}
	s, unfused, err := prune.Standardize(m)
	if err != nil || s != m || len(unfused) != 0 {
		t.Fatalf("plain model: %v, same %v, unfused %v", err, s == m, unfused)
	}
	for _, q := range []struct{ op, domain string }{{"DynamicQuantizeMatMul", "com.microsoft"}, {"MatMulInteger", ""}, {"MatMulNBits", "com.microsoft"}} {
		c := onnx.Clone(m)
		for _, n := range c.GetGraph().GetNode() {
			if n.GetOpType() == "MatMul" {
				n.OpType, n.Domain = proto.String(q.op), proto.String(q.domain)
				break
			}
		}
		if _, _, err := prune.Standardize(c); !errors.Is(err, graph.ErrQuantized) {
			t.Errorf("%s: got %v, want ErrQuantized", q.op, err)
		}
	}
	path := testutil.Shared(t, "models/exports/bert-seqcls-optimum-O2/model.onnx")
	o2, unfused, err := prune.LoadModel(path)
	if err != nil {
		t.Fatal(err)
	}
	if unfused["Attention"] == 0 || unfused["SkipLayerNormalization"] == 0 {
		t.Fatalf("unfused %v, want Attention and SkipLayerNormalization", unfused)
	}
	if _, err := graph.Discover(o2); err != nil {
		t.Fatalf("discover after unfusing: %v", err)
	}
}

// TestPositionIDsInput: a model that takes its position ids as an input (instead of computing
// 0..n-1) is fed 0..n-1 and predicts exactly what the same model computing its positions does.
func TestPositionIDsInput(t *testing.T) {
	cfg := testmodel.Config{Vocab: 100} // more words than positions, as in every real model
	m, err := testmodel.Build(cfg)
	if err != nil {
		t.Fatal(err)
	}
	enc, err := graph.Discover(m)
	if err != nil {
		t.Fatal(err)
	}
	c := onnx.Clone(m)
	ix := graph.NewIndex(c.GetGraph())
	found := false
	for _, n := range c.GetGraph().GetNode() {
		if n.GetOpType() != "Gather" || n.GetInput()[1] == enc.InputIDs || n.GetInput()[1] == enc.TokenTypeIDs {
			continue
		}
		if w := ix.Initializer(n.GetInput()[0]); w != nil && len(w.GetDims()) == 2 && w.GetDims()[0] > 2 {
			n.Input[1] = "position_ids"
			found = true
		}
	}
	if !found {
		t.Fatal("no position-embedding Gather in the test model")
	}
	c.Graph.Input = append(c.Graph.Input, onnx.NewValueInfo("position_ids", onnx.TensorProto_INT64, []onnx.Dim{{Param: "batch"}, {Param: "seq"}}))
	c = graph.RemoveDeadNodes(c)
	penc, err := graph.Discover(c)
	if err != nil {
		t.Fatal(err)
	}
	if penc.PositionIDs != "position_ids" || penc.InputIDs != enc.InputIDs || penc.TokenTypeIDs != enc.TokenTypeIDs {
		t.Fatalf("inputs: ids %q, types %q, positions %q", penc.InputIDs, penc.TokenTypeIDs, penc.PositionIDs)
	}
	var encs []data.Encoding
	for i := range 7 {
		ids := []int32{1}
		for j := range 3 + 2*i {
			ids = append(ids, int32(2+(7*i+3*j)%37))
		}
		encs = append(encs, data.Encoding{IDs: append(ids, 2)})
	}
	batches, err := data.MakeBatches(encs, []int{0, 1, 2, 3, 4, 5, 6}, 3, data.Padding{})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, d := comparePredictions(t, m, c, batches); d > 1e-5 {
		t.Fatalf("predictions with position ids fed differ by %g from the model computing them", d)
	}
}
