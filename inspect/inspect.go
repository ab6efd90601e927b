// Package inspect describes an ONNX model for people and tools: its inputs and outputs,
// operators, parameters and, when discovery recognises it, its encoder structure with the FLOPs
// of each sublayer (what `kprune inspect` prints).
//
// It is not for changing models (packages prune and quantize) nor for running them (bench, eval).
package inspect

import (
	"github.com/kprune/kprune/graph"
	"github.com/kprune/kprune/onnx"
	"github.com/kprune/kprune/prune"
)

// IO is one model input or output.
type IO struct {
	Name  string `json:"name"`
	Type  string `json:"type"`
	Shape string `json:"shape"`
}

// Report describes an ONNX model (what `kprune inspect --json` prints).
type Report struct {
	Path             string           `json:"path"`
	IRVersion        int64            `json:"ir_version"`
	Opsets           map[string]int64 `json:"opsets"`
	Producer         string           `json:"producer"`
	Inputs           []IO             `json:"inputs"`
	Outputs          []IO             `json:"outputs"`
	Nodes            int              `json:"nodes"`
	OpCounts         map[string]int   `json:"op_counts"`
	Initializers     int              `json:"initializers"`
	InitializerBytes int64            `json:"initializer_bytes"`
	Parameters       int64            `json:"parameters"`
	// The encoder structure, when discovery succeeds (its fields are then inlined).
	*Encoder
	// EncoderError says why the encoder was not recognised.
	EncoderError string `json:"encoder_error,omitempty"`
}

// Layer is one encoder layer: its units and the FLOPs of its
// sublayers for one sequence of length seq_len (kprune-spec section 2: per head
// 8*D*d_h*s + 4*s^2*d_h, per neuron 4*s*D). A removed sublayer has 0 units.
type Layer struct {
	Heads          int   `json:"heads"`
	FFN            int   `json:"ffn"`
	AttentionFLOPs int64 `json:"attention_flops"`
	FFNFLOPs       int64 `json:"ffn_flops"`
}

// Encoder is the discovered encoder structure.
type Encoder struct {
	// Unfused counts the onnxruntime-fused operators turned back into standard ONNX to read the
	// structure (kprune prunes the standard form).
	Unfused       map[string]int `json:"unfused_ops,omitempty"`
	Layers        []Layer        `json:"layers"`
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

// DescribeEncoder discovers the encoder of m (unfusing an onnxruntime-optimised graph, reading a
// quantized one through its float view) and costs it for sequences of length seq.
func DescribeEncoder(m *onnx.ModelProto, seq int) (*Encoder, error) {
	m, enc, unfused, _, err := prune.Structure(m)
	if err != nil {
		return nil, err
	}
	e := &Encoder{Unfused: unfused, Hidden: enc.Hidden, HeadDim: enc.HeadDim, HeadKind: string(enc.Head), NumLabels: enc.NumLabels,
		HeadOutputs: enc.Outputs, SeqLen: seq, ParamsByPart: graph.CountParams(m, enc),
		InputIDs: enc.InputIDs, AttentionMask: enc.AttentionMask, TokenTypeIDs: enc.TokenTypeIDs}
	s, d, dh := int64(seq), int64(enc.Hidden), int64(enc.HeadDim)
	fHead := 8*d*dh*s + 4*s*s*dh
	fNeuron := 4 * s * d
	for _, l := range enc.Layers {
		var il Layer
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

// ioList describes graph inputs or outputs, leaving out the names in skip (initializers).
func ioList(vs []*onnx.ValueInfoProto, skip map[string]bool) []IO {
	var out []IO
	for _, v := range vs {
		if skip[v.GetName()] {
			continue
		}
		elem, shape, ok := onnx.ValueInfoShape(v)
		s := "?"
		if ok {
			s = onnx.FormatShape(shape)
		}
		out = append(out, IO{Name: v.GetName(), Type: onnx.DataTypeName(elem), Shape: s})
	}
	return out
}

// Describe describes model m, read from path, without its encoder (see DescribeEncoder).
func Describe(path string, m *onnx.ModelProto) Report {
	g := m.GetGraph()
	r := Report{Path: path, IRVersion: m.GetIrVersion(), Opsets: map[string]int64{}, Producer: m.GetProducerName() + " " + m.GetProducerVersion(), OpCounts: map[string]int{}}
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
