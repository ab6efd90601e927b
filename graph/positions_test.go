package graph_test

import (
	"testing"

	"github.com/kprune/kprune/graph"
	kdemo "github.com/kprune/kprune/internal/demo"
	"github.com/kprune/kprune/internal/testmodel"
	"github.com/kprune/kprune/internal/testutil"
	"github.com/kprune/kprune/onnx"
)

// TestMaxPositions finds the position table of generated models in both position-id styles
// (a sliced constant buffer and Range), and of the demo model.
func TestMaxPositions(t *testing.T) {
	for _, reshape := range []string{testmodel.ReshapeConst, testmodel.ReshapeConcat} {
		for _, maxPos := range []int{40, 77} {
			m, err := testmodel.Build(testmodel.Config{MaxPos: maxPos, Reshape: reshape})
			if err != nil {
				t.Fatal(err)
			}
			enc, err := graph.Discover(m)
			if err != nil {
				t.Fatal(err)
			}
			if got := graph.MaxPositions(m, enc); got != maxPos {
				t.Errorf("reshape %s, MaxPos %d: MaxPositions %d", reshape, maxPos, got)
			}
		}
	}
	m, err := onnx.Decode(kdemo.Model)
	if err != nil {
		t.Fatal(err)
	}
	enc, err := graph.Discover(m)
	if err != nil {
		t.Fatal(err)
	}
	if got := graph.MaxPositions(m, enc); got != 512 {
		t.Errorf("demo model: MaxPositions %d, want 512", got)
	}
}

// TestMaxPositionsExports checks the shared exports' embeddings, with the encoder's first
// sublayer input given by hand (discovery of every export is another test's concern): BERT's
// table holds its rows; RoBERTa's and XLM-R's positions start at padding_idx + 1 = 2, so two rows
// fewer; DeBERTa-v2 has no absolute position table.
func TestMaxPositionsExports(t *testing.T) {
	cases := []struct {
		dir, x0, typeIDs string
		offset           int
	}{
		{"bert-seqcls-legacy", "/m/bert/embeddings/LayerNorm/Add_1_output_0", "token_type_ids", 0},
		{"distilbert-seqcls-legacy", "/m/distilbert/embeddings/LayerNorm/Add_1_output_0", "", 0},
		{"roberta-seqcls-legacy", "/m/roberta/embeddings/LayerNorm/Add_1_output_0", "", 2},
		{"xlmr-seqcls-legacy", "/m/roberta/embeddings/LayerNorm/Mul_output_0", "", 2},
		{"deberta-v2-seqcls-legacy", "/m/deberta/embeddings/LayerNorm/Add_1_output_0", "", -1},
	}
	for _, c := range cases {
		m, err := onnx.Load(testutil.Shared(t, "models/exports/"+c.dir+"/model.onnx"))
		if err != nil {
			t.Fatal(err)
		}
		rows := 0
		for _, init := range m.GetGraph().GetInitializer() {
			if d := init.GetDims(); len(d) == 2 && containsPosition(init.GetName()) {
				rows = int(d[0])
			}
		}
		want := rows - c.offset
		if c.offset < 0 {
			want = 0
		}
		enc := &graph.Encoder{InputIDs: "input_ids", TokenTypeIDs: c.typeIDs, Layers: []graph.Layer{{MHAInput: c.x0}}}
		if got := graph.MaxPositions(m, enc); got != want || (c.offset >= 0 && rows == 0) {
			t.Errorf("%s: MaxPositions %d, want %d (position table of %d rows)", c.dir, got, want, rows)
		}
	}
}

func containsPosition(name string) bool {
	for i := 0; i+len("position_embeddings") <= len(name); i++ {
		if name[i:i+len("position_embeddings")] == "position_embeddings" {
			return true
		}
	}
	return false
}
