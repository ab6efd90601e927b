// Package graph understands and rewrites ONNX encoder graphs: it indexes a graph (producers,
// consumers, topological order), extracts subgraphs, discovers the BERT-family encoder structure by
// graph structure (never by tensor names), and performs every structural rewrite pruning needs
// (slicing heads and neurons, removing sublayers, replacing output projections, inserting masks,
// exposing tensors, cutting the graph at a sublayer).
//
// It does not run models (see package runtime) and knows nothing of K-prune's scores (package
// prune). Differentiation lives in graph/autodiff. Shapes (ranks, head counts hidden in
// Concat-built Reshape shapes, the value infos of extracted models) come from graph/infer, the
// module's one shape inference.
//
// Models are treated as immutable. Every rewrite (Extract, Cut, AddOutputs, InsertMasks, Prune,
// ReplaceOutputWeight, RemoveDeadNodes, TopoSort) returns a new *onnx.ModelProto and never modifies
// its input, but the result shares by pointer every node, initializer and value info it did not
// change: rewriting one sublayer of a BERT-base model copies only that sublayer's sliced weights,
// not the whole model. Never modify a model passed to or returned by this package in place; deep-copy
// it with onnx.Clone first if you must.
//
// # Errors
//
// Errors name the node or tensor at fault and what was expected. Those a caller may want to act
// on can be told apart with errors.Is and errors.As:
//
//   - ErrNotEncoder: Discover found no BERT-family encoder chain in the graph;
//   - ErrQuantized: the model is quantized (Discover, CheckQuantized);
//   - ErrFused: the graph holds onnxruntime contrib operators (unfuse it first);
//   - ErrUnsupportedModel: an encoder family, precision or pattern kprune does not prune; when a
//     node is to blame the error is an *UnsupportedError naming it (Node, Op).
package graph

// Orientation tells how a linear layer's weight initializer is laid out.
type Orientation int

const (
	// InOut: the weight is stored [in, out] and applied as y = x @ W (MatMul, or Gemm with transB=0).
	InOut Orientation = iota
	// OutIn: the weight is stored [out, in] and applied as y = x @ W^T (Gemm with transB=1).
	OutIn
)

// Linear is one dense projection y = x @ W + b found in the graph.
type Linear struct {
	Node   string      // name of the MatMul or Gemm node
	Weight string      // initializer holding W
	Bias   string      // initializer holding b; "" when the projection has no bias
	Orient Orientation // layout of Weight
	In     int         // input width
	Out    int         // output width
	Input  string      // tensor x
	Output string      // tensor y (after the bias add)
}

// LayerNorm is one layer normalisation (a LayerNormalization node or its decomposed form).
type LayerNorm struct {
	Input  string // the normalised tensor (the sublayer's pre-LN sum)
	Output string // the normalised result
	Scale  string // initializer gamma
	Bias   string // initializer beta
	Eps    float32
}

// MHA is a multi-head attention sublayer: LN(x + Attention(x) @ W_O + b_O).
type MHA struct {
	Q, K, V, O Linear
	Heads      int
	HeadDim    int
	Context    string // tensor feeding O's MatMul: [batch, seq, Heads*HeadDim]
	Input      string // residual input x: [batch, seq, hidden]
	PreLN      string // x + Sub(x), the LayerNorm's input
	LN         LayerNorm
}

// FFN is a feed-forward sublayer: LN(x + act(x @ W_1 + b_1) @ W_2 + b_2).
type FFN struct {
	W1, W2     Linear
	Width      int    // number of neurons
	Activation string // the activation: "gelu_erf", "gelu_tanh", "relu", "gelu" (Gelu op; "gelu_tanh" when approximate), "silu" (sigmoid-based)
	Act        string // tensor feeding W_2's MatMul: [batch, seq, Width]
	Input      string // residual input x
	PreLN      string
	LN         LayerNorm
}

// Layer is one encoder layer. A nil sublayer was removed: its output is LN(x) (or LN(x + b)).
type Layer struct {
	MHA *MHA
	FFN *FFN
	// MHAOutput and FFNOutput are the tensors each sublayer hands on (its LayerNorm output), kept
	// even when the sublayer was removed.
	MHAOutput string
	FFNOutput string
	// MHAInput and FFNInput are the residual inputs, kept even when a sublayer was removed.
	MHAInput string
	FFNInput string
}

// HeadKind is what sits on top of the encoder.
type HeadKind string

// Head kinds.
const (
	HeadClassification HeadKind = "classification" // [batch, labels] logits, labels >= 2
	HeadRegression     HeadKind = "regression"     // [batch, 1]
	HeadSpan           HeadKind = "span"           // start and end logits [batch, seq]
	HeadToken          HeadKind = "token"          // [batch, seq, labels]
	HeadNone           HeadKind = "none"           // hidden states (embedding models)
	// HeadEmbedding: a sentence embedding [batch, hidden] computed in the graph from the last
	// hidden state without weights (mean or CLS pooling, L2 normalisation), as
	// sentence-transformers exports write it.
	HeadEmbedding HeadKind = "embedding"
)

// Embeds tells whether the model's output is an embedding (pooled in the graph, or the hidden
// states a caller pools) rather than task logits or values.
func (h HeadKind) Embeds() bool { return h == HeadNone || h == HeadEmbedding }

// Encoder is the discovered structure of a BERT-family encoder graph.
type Encoder struct {
	Hidden  int // model width D
	HeadDim int // d_h (the same in every layer)
	Layers  []Layer
	// InputIDs, AttentionMask, TokenTypeIDs name the model inputs ("" when absent).
	InputIDs, AttentionMask, TokenTypeIDs string
	// PositionIDs names a position-ids input, for the few exports that take positions as an
	// input instead of computing them ("" when the graph computes them).
	PositionIDs string
	// Head is the output head's kind; Outputs are the graph outputs it produces (for HeadSpan:
	// start logits then end logits; for HeadNone: the last hidden state first; for
	// HeadEmbedding: the pooled embedding first, then the other outputs).
	Head    HeadKind
	Outputs []string
	// NumLabels is the last dimension of the head output (1 for regression, 0 for span/none).
	NumLabels int
}

// SublayerKind is MHA or FFN.
type SublayerKind int

// Sublayer kinds; sublayer s is of kind s%2 in layer s/2.
const (
	KindMHA SublayerKind = 0
	KindFFN SublayerKind = 1
)

// NumSublayers returns 2L.
func (e *Encoder) NumSublayers() int { return 2 * len(e.Layers) }

// SublayerInput returns the residual input tensor of sublayer s (s = 2*layer + kind).
func (e *Encoder) SublayerInput(s int) string {
	l := e.Layers[s/2]
	if s%2 == 0 {
		return l.MHAInput
	}
	return l.FFNInput
}

// SublayerOutput returns the tensor sublayer s hands on (its LayerNorm output).
func (e *Encoder) SublayerOutput(s int) string {
	l := e.Layers[s/2]
	if s%2 == 0 {
		return l.MHAOutput
	}
	return l.FFNOutput
}
