package graph

import (
	"fmt"

	"github.com/kprune/kprune/onnx"
)

// This file answers questions about the model an Encoder describes that need its tensors: the
// vocabulary size and the weights of linear projections.

// findInitializer returns m's initializer called name, or nil. It scans the list: callers that
// look up many names build an Index instead.
func findInitializer(m *onnx.ModelProto, name string) *onnx.TensorProto {
	for _, t := range m.GetGraph().GetInitializer() {
		if t.GetName() == name {
			return t
		}
	}
	return nil
}

// VocabRows returns the number of rows of the word-embedding table of m that e's input_ids
// feed (the first input of a Gather whose indices are input_ids, when it is a 2-D initializer),
// or 0 when it cannot be found.
func (e *Encoder) VocabRows(m *onnx.ModelProto) int {
	if e.InputIDs == "" {
		return 0
	}
	for _, n := range m.GetGraph().GetNode() {
		if n.GetOpType() == "Gather" && len(n.GetInput()) == 2 && n.GetInput()[1] == e.InputIDs {
			if t := findInitializer(m, n.GetInput()[0]); t != nil && len(t.GetDims()) == 2 {
				return int(t.GetDims()[0])
			}
		}
	}
	return 0
}

// WeightView returns the weight of l in m as stored (orientation l.Orient), read in place where
// possible (onnx.Float32View): callers must not modify it. It fails when the initializer is
// missing, not float, or not In x Out values.
func (l *Linear) WeightView(m *onnx.ModelProto) ([]float32, error) {
	t := findInitializer(m, l.Weight)
	if t == nil {
		return nil, fmt.Errorf("initializer %q not found", l.Weight)
	}
	w, _, err := onnx.Float32View(t)
	if err != nil {
		return nil, fmt.Errorf("initializer %q: %w", l.Weight, err)
	}
	if len(w) != l.In*l.Out {
		return nil, fmt.Errorf("initializer %q has %d values, want %d x %d", l.Weight, len(w), l.In, l.Out)
	}
	return w, nil
}

// WeightInOut returns a copy of the weight of l in m, row-major [In, Out] (the y = x @ W
// orientation whatever l.Orient is).
func (l *Linear) WeightInOut(m *onnx.ModelProto) ([]float32, error) {
	w, err := l.WeightView(m)
	if err != nil {
		return nil, err
	}
	if l.Orient == InOut {
		return append([]float32(nil), w...), nil
	}
	tw := make([]float32, len(w))
	for o := 0; o < l.Out; o++ {
		for i := 0; i < l.In; i++ {
			tw[i*l.Out+o] = w[o*l.In+i]
		}
	}
	return tw, nil
}
