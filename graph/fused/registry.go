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

// contribDefault are onnxruntime's own schemas in the default domain, which its optimiser writes
// (LayerNormalization for models below opset 17, SimplifiedLayerNormalization at any opset) and
// which standard ONNX lacks below opset since (0: at every opset). They are unfused like the
// com.microsoft ops.
var contribDefault = map[string]struct {
	since int64
	r     rule
}{
	"LayerNormalization":           {17, unfuseLayerNorm},
	"SimplifiedLayerNormalization": {0, unfuseSimplifiedLayerNorm},
}

// ruleFor returns the rule replacing n in a model of default opset opset, or nil when n is a
// standard node. ok is false for a com.microsoft node without a rule.
func ruleFor(n *onnx.NodeProto, opset int64) (r rule, ok bool) {
	switch n.GetDomain() {
	case Domain:
		r = rules[n.GetOpType()]
		return r, r != nil
	case "", "ai.onnx":
		if c, found := contribDefault[n.GetOpType()]; found && (c.since == 0 || opset < c.since) {
			return c.r, true
		}
	}
	return nil, true
}

// Supported returns the com.microsoft op types Unfuse can replace, sorted. (It also replaces
// onnxruntime's default-domain LayerNormalization below opset 17 and SimplifiedLayerNormalization.)
func Supported() []string {
	ops := make([]string, 0, len(rules))
	for op := range rules {
		ops = append(ops, op)
	}
	sort.Strings(ops)
	return ops
}
