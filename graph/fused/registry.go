package fused

import (
	"errors"
	"sort"

	"github.com/kprune/kprune/onnx"
)

// Domain is the operator domain of onnxruntime's contrib operators.
const Domain = "com.microsoft"

// ErrUnsupportedFused is wrapped by the errors Unfuse returns for a com.microsoft node it cannot
// turn into standard ONNX: an op type without a rule (QAttention, MatMulNBits, ...), or a form of a
// supported op it does not handle (causal or past-state Attention, float16 graphs, weights that are
// not constants). Test for it with errors.Is.
var ErrUnsupportedFused = errors.New("unsupported onnxruntime fused operator")

// ErrMalformedFused is wrapped by the errors Unfuse returns for a com.microsoft node that does not
// follow its operator's specification: a missing required input or attribute, or inconsistent
// weight shapes.
var ErrMalformedFused = errors.New("malformed onnxruntime fused operator")

// rule replaces fused node n: it emits the equivalent standard nodes through b, writing the node's
// consumed outputs under their original names.
type rule func(b *builder, n *onnx.NodeProto) error

// rules is the registry: one unfusing rule per com.microsoft op type, like onnxruntime's gradient
// builder registry. A rule lives in the file of its concept (attention.go, layernorm.go, ...).
var rules = map[string]rule{
	"Attention":                        unfuseAttention,
	"SkipLayerNormalization":           unfuseSkipLayerNorm,
	"SkipSimplifiedLayerNormalization": unfuseSkipSimplifiedLayerNorm,
	"EmbedLayerNormalization":          unfuseEmbedLayerNorm,
	"Gelu":                             unfuseGelu,
	"BiasGelu":                         unfuseBiasGelu,
	"FastGelu":                         unfuseFastGelu,
	"QuickGelu":                        unfuseQuickGelu,
	"FusedMatMul":                      unfuseFusedMatMul,
	"BiasAdd":                          unfuseBiasAdd,
}

// Supported returns the com.microsoft op types Unfuse can replace, sorted.
func Supported() []string {
	ops := make([]string, 0, len(rules))
	for op := range rules {
		ops = append(ops, op)
	}
	sort.Strings(ops)
	return ops
}
