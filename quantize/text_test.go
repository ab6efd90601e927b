package quantize

import (
	"bytes"
	"testing"
)

// TestWriteText pins the text of a quantization report (what kprune quantize prints).
func TestWriteText(t *testing.T) {
	var b bytes.Buffer
	qr := &Report{Mode: ModeStatic, PerChannel: true, ReduceRange: true, Quantized: make([]QuantizedLinear, 3), Embeddings: []string{"e"},
		KeptFloat: []Kept{{Reason: "head"}, {Reason: "excluded"}, {Reason: "head"}}, Encoder: "no layers", FloatWeightBytes: 4000000, QuantizedWeightBytes: 1000000,
		Calibration: &CalibrationStats{Sequences: 8, Batches: 1, Tensors: 12, Seconds: 0.5}}
	qr.WriteText(&b)
	if got, want := b.String(), "quantized 3 MatMul/Gemm to int8 (static, per channel, 7-bit weights) and 1 embedding table(s) to uint8: weights 4.0 MB float -> 1.0 MB\nkept float: 2 node(s): head\nkept float: 1 node(s): excluded\nnote: the encoder was not recognised (no layers): the head's final projection could not be told apart\ncalibration: 8 sequences in 1 batches, ranges of 12 activations (0.5s)\n"; got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}
