package graph

import "github.com/kprune/kprune/onnx"

// MaxPositions returns the longest sequence, in tokens, that the model m (whose discovered
// encoder is enc) can take: the size of its learned position-embedding table. A longer sequence
// makes the position Gather fail inside onnxruntime, so callers check lengths against it before
// any long work. It returns 0 when no position table is found (a model with relative or rotary
// positions, or embeddings this function does not recognise): the length is then not limited
// here.
//
// The position table is found among the embedding lookups upstream of the first sublayer's
// input: a Gather (axis 0) of a 2-D floating-point initializer whose indices are neither the
// input_ids nor the token_type_ids input. The limit is its row count, or less when:
//   - the position ids are sliced from a constant buffer (transformers' registered
//     position_ids[:, :seq]): at most that buffer's length;
//   - the position ids are computed from input_ids (RoBERTa: padding_idx + the running count of
//     non-padding tokens, starting at padding_idx + 1 = 2): rows - 2.
func MaxPositions(m *onnx.ModelProto, enc *Encoder) int {
	if enc == nil || len(enc.Layers) == 0 {
		return 0
	}
	ix := NewIndex(m.GetGraph())
	best := 0
	VisitTensors([]string{enc.SublayerInput(0)}, map[string]bool{"": true}, func(t string) ([]string, bool) {
		p := ix.Producer(t)
		if p == nil {
			return nil, false
		}
		if p.GetOpType() == "Gather" && len(p.GetInput()) == 2 && gatherAxis(p) == 0 {
			if tab := ix.Initializer(p.GetInput()[0]); tab != nil && len(tab.GetDims()) == 2 && isFloatTable(tab) {
				if n := positionLimit(ix, enc, p.GetInput()[1], int(tab.GetDims()[0])); n > 0 && (best == 0 || n < best) {
					best = n
				}
				return nil, false
			}
		}
		return ix.nonConstantInputs(p), false
	})
	return best
}

// isFloatTable tells whether t holds floating-point values (an embedding table).
func isFloatTable(t *onnx.TensorProto) bool {
	switch onnx.TensorProto_DataType(t.GetDataType()) {
	case onnx.TensorProto_FLOAT, onnx.TensorProto_FLOAT16, onnx.TensorProto_DOUBLE, onnx.TensorProto_BFLOAT16:
		return true
	}
	return false
}

// gatherAxis is a Gather node's axis attribute (default 0).
func gatherAxis(n *onnx.NodeProto) int64 {
	for _, a := range n.GetAttribute() {
		if a.GetName() == "axis" {
			return a.GetI()
		}
	}
	return 0
}

// positionLimit returns the positions a table of rows rows, looked up with indices idx, allows;
// 0 when the lookup is the word or token-type embedding rather than the position embedding.
func positionLimit(ix *Index, enc *Encoder, idx string, rows int) int {
	root := idx
	for range 16 { // through Cast, Reshape, Unsqueeze... to the tensor the ids come from
		p := ix.Producer(root)
		if p == nil || len(p.GetInput()) == 0 {
			break
		}
		switch p.GetOpType() {
		case "Cast", "Reshape", "Unsqueeze", "Squeeze", "Identity", "Flatten":
			root = p.GetInput()[0]
			continue
		}
		break
	}
	if root == enc.InputIDs || (enc.TokenTypeIDs != "" && root == enc.TokenTypeIDs) {
		return 0
	}
	limit := rows
	fromIDs := false
	seen := map[string]bool{}
	VisitTensors([]string{idx}, seen, func(t string) ([]string, bool) {
		if len(seen) > 256 {
			return nil, true
		}
		if enc.InputIDs != "" && t == enc.InputIDs {
			fromIDs = true
			return nil, false
		}
		p := ix.Producer(t)
		if p == nil || p.GetOpType() == "Shape" { // a Shape carries the length, not the ids
			return nil, false
		}
		if p.GetOpType() == "Slice" && len(p.GetInput()) > 0 {
			if c := ix.Constant(p.GetInput()[0]); c != nil && len(c.GetDims()) > 0 {
				if n := int(c.GetDims()[len(c.GetDims())-1]); n > 0 {
					limit = min(limit, n)
				}
			}
		}
		return ix.nonConstantInputs(p), false
	})
	if fromIDs {
		limit -= 2
	}
	return max(limit, 0)
}
