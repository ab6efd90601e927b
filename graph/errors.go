package graph

import (
	"errors"
	"fmt"

	"github.com/kprune/kprune/onnx"
)

// Errors for graphs kprune recognises but cannot prune, and for graphs that are not encoders;
// test for them with errors.Is. The messages of the errors returned say more (which node, what
// was expected); these values only classify them.
var (
	// ErrNotEncoder: the graph holds no BERT-family encoder chain (no LayerNorm, or no LayerNorm
	// output feeding a residual Add closed by another LayerNorm). Discover returns it for models
	// that are something else (a convolutional network, a decoder, a pre-LN transformer).
	ErrNotEncoder = errors.New("not a BERT-family encoder")
	// ErrQuantized: the model is quantized (integer or QDQ kernels, int8 weights). Prune the
	// float model, then quantize the pruned one.
	ErrQuantized = errors.New("quantized model")
	// ErrFused: the graph holds onnxruntime contrib operators kprune cannot turn back into
	// standard ONNX.
	ErrFused = errors.New("onnxruntime-fused graph")
	// ErrUnsupportedModel: an encoder family, precision or graph pattern kprune does not prune
	// (DeBERTa's disentangled attention, ALBERT's shared layers, float16 weights, a node in a form
	// the pattern matching does not handle). Errors naming the node are *UnsupportedError.
	ErrUnsupportedModel = errors.New("unsupported model")
)

// UnsupportedError reports a node of the graph in a form kprune does not handle: an operator
// from a custom domain, a weight computed at run time, a Gemm with alpha != 1, a Reshape whose
// head count cannot be read... errors.Is(err, ErrUnsupportedModel) holds for it, and errors.As
// gives the node:
//
//	var ue *graph.UnsupportedError
//	if errors.As(err, &ue) {
//		fmt.Println(ue.Node, ue.Op)
//	}
type UnsupportedError struct {
	Node string // name of the node
	Op   string // its operator type
	// Reason is the whole explanation, naming the node, what was found and what was expected;
	// it is what Error returns.
	Reason string
}

// Error returns the Reason.
func (e *UnsupportedError) Error() string { return e.Reason }

// Is reports whether target is ErrUnsupportedModel.
func (e *UnsupportedError) Is(target error) bool { return target == ErrUnsupportedModel }

// unsupported returns an *UnsupportedError for node n with the formatted reason.
func unsupported(n *onnx.NodeProto, format string, args ...any) error {
	return &UnsupportedError{Node: n.GetName(), Op: n.GetOpType(), Reason: fmt.Sprintf(format, args...)}
}

// kindError is an error with its own message that errors.Is matches to one of the sentinels
// above (kind), for messages that must read the same as before the sentinel existed.
type kindError struct {
	kind error
	msg  string
}

func (e *kindError) Error() string { return e.msg }
func (e *kindError) Unwrap() error { return e.kind }

// notEncoder returns an error matching ErrNotEncoder with the formatted message.
func notEncoder(format string, args ...any) error {
	return &kindError{kind: ErrNotEncoder, msg: fmt.Sprintf(format, args...)}
}
