package quantize

import (
	"fmt"
	"io"
)

// WriteText writes what was quantized, as `kprune quantize` prints it: the nodes quantized and
// the weight sizes, the nodes kept in float and why, and the calibration of static mode.
func (r *Report) WriteText(w io.Writer) {
	gran := "per tensor"
	if r.PerChannel {
		gran = "per channel"
	}
	extra := ""
	if r.ReduceRange {
		extra = ", 7-bit weights"
	}
	fmt.Fprintf(w, "quantized %d MatMul/Gemm to int8 (%s, %s%s)", len(r.Quantized), r.Mode, gran, extra)
	if len(r.Embeddings) > 0 {
		fmt.Fprintf(w, " and %d embedding table(s) to uint8", len(r.Embeddings))
	}
	fmt.Fprintf(w, ": weights %.1f MB float -> %.1f MB\n", float64(r.FloatWeightBytes)/1e6, float64(r.QuantizedWeightBytes)/1e6)
	reasons := map[string]int{}
	var order []string
	for _, k := range r.KeptFloat {
		if reasons[k.Reason] == 0 {
			order = append(order, k.Reason)
		}
		reasons[k.Reason]++
	}
	for _, reason := range order {
		fmt.Fprintf(w, "kept float: %d node(s): %s\n", reasons[reason], reason)
	}
	if r.Encoder != "" {
		fmt.Fprintf(w, "note: the encoder was not recognised (%s): the head's final projection could not be told apart\n", r.Encoder)
	}
	if c := r.Calibration; c != nil {
		fmt.Fprintf(w, "calibration: %d sequences in %d batches, ranges of %d activations (%.1fs)\n", c.Sequences, c.Batches, c.Tensors, c.Seconds)
	}
}
