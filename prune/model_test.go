package prune_test

import (
	"errors"
	"testing"

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
