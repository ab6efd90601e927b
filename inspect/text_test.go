package inspect

import (
	"bytes"
	"testing"
)

// TestWriteText pins the text of a model without a recognised encoder (what kprune inspect
// prints).
func TestWriteText(t *testing.T) {
	var b bytes.Buffer
	ir := Report{Path: "m.onnx", IRVersion: 8, Producer: "pytorch", Opsets: map[string]int64{"": 14, "com.microsoft": 1}, Inputs: []IO{{Name: "input_ids", Type: "int64", Shape: "[batch, seq]"}},
		Outputs: []IO{{Name: "logits", Type: "float", Shape: "[batch, 2]"}}, Parameters: 1000, Initializers: 10, InitializerBytes: 4000, Nodes: 20, OpCounts: map[string]int{"MatMul": 12, "Add": 8}, EncoderError: "no attention"}
	ir.WriteText(&b)
	if got, want := b.String(), "model      m.onnx\nir version 8, producer pytorch\nopsets     =14 com.microsoft=1\ninput   input_ids  int64  [batch, seq]\noutput  logits     float  [batch, 2]\nparameters 1000 in 10 initializers (0.0 MB)\nnodes      20: Add=8 MatMul=12\nencoder    not recognised: no attention\n"; got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}
