package inspect

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
)

// WriteText writes the report as the plain text `kprune inspect` prints: the model's header,
// inputs, outputs, parameters and operators, then the encoder's layers with their FLOPs (or why
// the encoder was not recognised).
func (r Report) WriteText(w io.Writer) {
	fmt.Fprintf(w, "model      %s\n", r.Path)
	fmt.Fprintf(w, "ir version %d, producer %s\n", r.IRVersion, r.Producer)
	fmt.Fprintf(w, "opsets    ")
	for _, d := range slices.Sorted(maps.Keys(r.Opsets)) {
		fmt.Fprintf(w, " %s=%d", d, r.Opsets[d])
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, x := range r.Inputs {
		fmt.Fprintf(tw, "input\t%s\t%s\t%s\n", x.Name, x.Type, x.Shape)
	}
	for _, x := range r.Outputs {
		fmt.Fprintf(tw, "output\t%s\t%s\t%s\n", x.Name, x.Type, x.Shape)
	}
	tw.Flush()
	fmt.Fprintf(w, "parameters %d in %d initializers (%.1f MB)\n", r.Parameters, r.Initializers, float64(r.InitializerBytes)/1e6)
	fmt.Fprintf(w, "nodes      %d:", r.Nodes)
	for _, op := range slices.Sorted(maps.Keys(r.OpCounts)) {
		fmt.Fprintf(w, " %s=%d", op, r.OpCounts[op])
	}
	fmt.Fprintln(w)
	if r.Encoder == nil {
		fmt.Fprintf(w, "encoder    not recognised: %s\n", r.EncoderError)
		return
	}
	e := r.Encoder
	labels := ""
	if e.NumLabels > 0 {
		labels = fmt.Sprintf(", %d labels", e.NumLabels)
	}
	if len(e.Unfused) > 0 {
		fmt.Fprintf(w, "fused      onnxruntime operators read as standard ONNX: %s\n", opCounts(e.Unfused))
	}
	fmt.Fprintf(w, "encoder    %d layers, hidden %d, head dim %d, %s head%s\n", len(e.Layers), e.Hidden, e.HeadDim, e.HeadKind, labels)
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "layer\theads\tffn\tattention GFLOPs\tffn GFLOPs\t\n")
	for i, l := range e.Layers {
		fmt.Fprintf(tw, "%d\t%d\t%d\t%.3f\t%.3f\t\n", i, l.Heads, l.FFN, float64(l.AttentionFLOPs)/1e9, float64(l.FFNFLOPs)/1e9)
	}
	tw.Flush()
	fmt.Fprintf(w, "flops      %.3f GFLOPs per sequence of %d tokens (attention and FFN sublayers)\n", float64(e.FLOPs)/1e9, e.SeqLen)
	p := e.ParamsByPart
	fmt.Fprintf(w, "parameters embeddings %d, attention %d, ffn %d, head %d, other %d\n", p.Embeddings, p.Attention, p.FFN, p.Head, p.Other)
}

// opCounts renders operator counts as "A=2 B=4", sorted by operator.
func opCounts(m map[string]int) string {
	var parts []string
	for _, op := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%s=%d", op, m[op]))
	}
	return strings.Join(parts, " ")
}
