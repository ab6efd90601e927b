package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"text/tabwriter"

	"github.com/kprune/kprune/graph"
	"github.com/kprune/kprune/onnx"
	"github.com/kprune/kprune/prune"
)

// inspectIO is one model input or output in inspect's report.
type inspectIO struct {
	Name  string `json:"name"`
	Type  string `json:"type"`
	Shape string `json:"shape"`
}

// inspectReport is what `kprune inspect --json` prints.
type inspectReport struct {
	Path             string           `json:"path"`
	IRVersion        int64            `json:"ir_version"`
	Opsets           map[string]int64 `json:"opsets"`
	Producer         string           `json:"producer"`
	Inputs           []inspectIO      `json:"inputs"`
	Outputs          []inspectIO      `json:"outputs"`
	Nodes            int              `json:"nodes"`
	OpCounts         map[string]int   `json:"op_counts"`
	Initializers     int              `json:"initializers"`
	InitializerBytes int64            `json:"initializer_bytes"`
	Parameters       int64            `json:"parameters"`
	// The encoder structure, when discovery succeeds (its fields are then inlined).
	*inspectEncoder
	// EncoderError says why the encoder was not recognised.
	EncoderError string `json:"encoder_error,omitempty"`
}

// inspectLayer is one encoder layer in inspect's report: its units and the FLOPs of its
// sublayers for one sequence of length seq_len (kprune-spec section 2: per head
// 8*D*d_h*s + 4*s^2*d_h, per neuron 4*s*D). A removed sublayer has 0 units.
type inspectLayer struct {
	Heads          int   `json:"heads"`
	FFN            int   `json:"ffn"`
	AttentionFLOPs int64 `json:"attention_flops"`
	FFNFLOPs       int64 `json:"ffn_flops"`
}

// inspectEncoder is the discovered encoder structure.
type inspectEncoder struct {
	// Unfused counts the onnxruntime-fused operators turned back into standard ONNX to read the
	// structure (kprune prunes the standard form).
	Unfused       map[string]int `json:"unfused_ops,omitempty"`
	Layers        []inspectLayer `json:"layers"`
	Hidden        int            `json:"hidden"`
	HeadDim       int            `json:"head_dim"`
	HeadKind      string         `json:"head_kind"`
	NumLabels     int            `json:"num_labels"`
	HeadOutputs   []string       `json:"head_outputs"`
	SeqLen        int            `json:"seq_len"`
	FLOPs         int64          `json:"flops"`
	ParamsByPart  graph.Params   `json:"parameters_by_part"`
	InputIDs      string         `json:"input_ids,omitempty"`
	AttentionMask string         `json:"attention_mask,omitempty"`
	TokenTypeIDs  string         `json:"token_type_ids,omitempty"`
}

// describeEncoder discovers the encoder and costs it for sequences of length seq.
func describeEncoder(m *onnx.ModelProto, seq int) (*inspectEncoder, error) {
	m, enc, unfused, _, err := prune.Structure(m)
	if err != nil {
		return nil, err
	}
	e := &inspectEncoder{Unfused: unfused, Hidden: enc.Hidden, HeadDim: enc.HeadDim, HeadKind: string(enc.Head), NumLabels: enc.NumLabels,
		HeadOutputs: enc.Outputs, SeqLen: seq, ParamsByPart: graph.CountParams(m, enc),
		InputIDs: enc.InputIDs, AttentionMask: enc.AttentionMask, TokenTypeIDs: enc.TokenTypeIDs}
	s, d, dh := int64(seq), int64(enc.Hidden), int64(enc.HeadDim)
	fHead := 8*d*dh*s + 4*s*s*dh
	fNeuron := 4 * s * d
	for _, l := range enc.Layers {
		var il inspectLayer
		if l.MHA != nil {
			il.Heads = l.MHA.Heads
			il.AttentionFLOPs = int64(il.Heads) * fHead
		}
		if l.FFN != nil {
			il.FFN = l.FFN.Width
			il.FFNFLOPs = int64(il.FFN) * fNeuron
		}
		e.FLOPs += il.AttentionFLOPs + il.FFNFLOPs
		e.Layers = append(e.Layers, il)
	}
	return e, nil
}

func ioList(vs []*onnx.ValueInfoProto, skip map[string]bool) []inspectIO {
	var out []inspectIO
	for _, v := range vs {
		if skip[v.GetName()] {
			continue
		}
		elem, shape, ok := onnx.ValueInfoShape(v)
		s := "?"
		if ok {
			s = onnx.FormatShape(shape)
		}
		out = append(out, inspectIO{Name: v.GetName(), Type: onnx.DataTypeName(elem), Shape: s})
	}
	return out
}

func describeModel(path string, m *onnx.ModelProto) inspectReport {
	g := m.GetGraph()
	r := inspectReport{Path: path, IRVersion: m.GetIrVersion(), Opsets: map[string]int64{}, Producer: m.GetProducerName() + " " + m.GetProducerVersion(), OpCounts: map[string]int{}}
	for _, o := range m.GetOpsetImport() {
		d := o.GetDomain()
		if d == "" {
			d = "ai.onnx"
		}
		r.Opsets[d] = o.GetVersion()
	}
	inits := map[string]bool{}
	for _, t := range g.GetInitializer() {
		inits[t.GetName()] = true
		r.Initializers++
		r.InitializerBytes += onnx.ByteSize(t)
		if dt := onnx.TensorProto_DataType(t.GetDataType()); dt == onnx.TensorProto_FLOAT || dt == onnx.TensorProto_FLOAT16 || dt == onnx.TensorProto_DOUBLE || dt == onnx.TensorProto_BFLOAT16 {
			r.Parameters += onnx.NumElements(t.GetDims())
		}
	}
	r.Inputs = ioList(g.GetInput(), inits)
	r.Outputs = ioList(g.GetOutput(), nil)
	for _, n := range g.GetNode() {
		op := n.GetOpType()
		if d := n.GetDomain(); d != "" && d != "ai.onnx" {
			op = d + "." + op
		}
		r.OpCounts[op]++
		r.Nodes++
	}
	return r
}

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
	r := describeModel(path, m)
	if e, err := describeEncoder(m, *seq); err != nil {
		r.EncoderError = err.Error()
	} else {
		r.inspectEncoder = e
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(r)
	}
	printInspect(stdout, r)
	return nil
}

func printInspect(w io.Writer, r inspectReport) {
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
	if r.inspectEncoder == nil {
		fmt.Fprintf(w, "encoder    not recognised: %s\n", r.EncoderError)
		return
	}
	e := r.inspectEncoder
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
