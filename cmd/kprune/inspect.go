package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"text/tabwriter"

	"github.com/kprune/kprune/onnx"
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
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: kprune inspect [--json] MODEL.onnx")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usageError{"want exactly one MODEL.onnx argument"}
	}
	path := fs.Arg(0)
	m, err := onnx.Load(path)
	if err != nil {
		return err
	}
	r := describeModel(path, m)
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
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
