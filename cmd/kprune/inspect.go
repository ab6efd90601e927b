package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"text/tabwriter"

	"github.com/kprune/kprune/inspect"
	"github.com/kprune/kprune/onnx"
)

func cmdInspect(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("inspect", stderr)
	asJSON := fs.Bool("json", false, "print a JSON report")
	seq := fs.Int("seq", 128, "sequence `LENGTH` for the FLOPs of each sublayer")
	setUsage(fs, stderr, "kprune inspect [--json] [--seq N] MODEL.onnx")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usageError{"want exactly one MODEL.onnx argument"}
	}
	if *seq <= 0 {
		return usageError{fmt.Sprintf("--seq must be positive, got %d", *seq)}
	}
	path := fs.Arg(0)
	m, err := onnx.Load(path)
	if err != nil {
		return err
	}
	r := inspect.Describe(path, m)
	if e, err := inspect.DescribeEncoder(m, *seq); err != nil {
		r.EncoderError = err.Error()
	} else {
		r.Encoder = e
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(r)
	}
	printInspect(stdout, r)
	return nil
}

func printInspect(w io.Writer, r inspect.Report) {
	fmt.Fprintf(w, "model      %s\n", r.Path)
	fmt.Fprintf(w, "ir version %d, producer %s\n", r.IRVersion, r.Producer)
	fmt.Fprintf(w, "opsets    ")
	for _, d := range sortedKeys(r.Opsets) {
		fmt.Fprintf(w, " %s=%d", d, r.Opsets[d])
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, io := range r.Inputs {
		fmt.Fprintf(tw, "input\t%s\t%s\t%s\n", io.Name, io.Type, io.Shape)
	}
	for _, io := range r.Outputs {
		fmt.Fprintf(tw, "output\t%s\t%s\t%s\n", io.Name, io.Type, io.Shape)
	}
	tw.Flush()
	fmt.Fprintf(w, "parameters %d in %d initializers (%.1f MB)\n", r.Parameters, r.Initializers, float64(r.InitializerBytes)/1e6)
	fmt.Fprintf(w, "nodes      %d:", r.Nodes)
	for _, op := range sortedKeys(r.OpCounts) {
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

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
