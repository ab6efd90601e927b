package infer

import (
	"fmt"

	"github.com/kprune/kprune/onnx"
)

// A rule infers the outputs of one node from what is known of its inputs: ins has one entry per
// node input (an absent optional input has unknown rank). It returns one Info per output it can
// say something about (outputs past the end are of unknown rank), and an error when the inputs
// contradict the operator (incompatible dimensions, an axis or index out of range). With an
// error it may still return what it could tell (the rank, the dimensions that agree): Shapes
// fails, Partial keeps those.
type rule func(st *state, n *onnx.NodeProto, ins []Info) ([]Info, error)

// rules is the registry of shape rules, one per operator type, like onnxruntime's kernel
// registry. It covers the default domain and the com.microsoft operators onnxruntime's
// optimizers write; an operator without a rule gives outputs of unknown rank.
var rules = map[string]rule{}

// register makes r the rule of ops.
func register(r rule, ops ...string) {
	for _, op := range ops {
		rules[op] = r
	}
}

func init() {
	// Elementwise, one input (elementwise.go).
	register(unaryRule, "Identity", "Neg", "Exp", "Log", "Sqrt", "Erf", "Tanh", "Relu", "Sigmoid", "Abs",
		"Reciprocal", "Floor", "Ceil", "Round", "Sign", "Sin", "Cos", "Softplus", "Softsign", "Elu",
		"LeakyRelu", "HardSigmoid", "ThresholdedRelu", "Softmax", "LogSoftmax", "Gelu", "FastGelu",
		"QuickGelu", "Clip", "CumSum", "Trilu", "Not", "IsNaN", "IsInf", "Selu", "Mish", "HardSwish",
		"Celu", "PRelu")
	register(dropoutRule, "Dropout")
	register(castRule, "Cast")
	register(castLikeRule, "CastLike")
	// Elementwise, broadcasting (elementwise.go).
	register(biasGeluRule, "BiasGelu")
	register(arithRule, "Add", "Sub", "Mul", "Div", "Pow", "Mod", "Max", "Min", "Sum", "Mean", "BitShift")
	register(compareRule, "Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual", "And", "Or", "Xor")
	register(whereRule, "Where")
	// Shapes and the small integer tensors built from them (shape.go).
	register(constantRule, "Constant")
	register(shapeRule, "Shape")
	register(sizeRule, "Size")
	register(constantOfShapeRule, "ConstantOfShape")
	register(rangeRule, "Range")
	register((*state).gather, "Gather")
	register(gatherElementsRule, "GatherElements")
	register((*state).concat, "Concat")
	register((*state).reshape, "Reshape")
	register(flattenRule, "Flatten")
	register(transposeRule, "Transpose")
	register((*state).squeeze, "Squeeze", "Unsqueeze")
	register((*state).slice, "Slice")
	register((*state).split, "Split")
	register(expandRule, "Expand")
	register(tileRule, "Tile")
	register((*state).pad, "Pad")
	// Linear algebra, reductions, normalisation and the rest (nn.go).
	register((*state).matmul, "MatMul")
	register(gemmRule, "Gemm")
	register((*state).reduce, "ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL2",
		"ReduceL1", "ReduceSumSquare", "ReduceLogSumExp")
	register(argRule, "ArgMax", "ArgMin")
	register(layerNormRule, "LayerNormalization", "SkipLayerNormalization", "SimplifiedLayerNormalization")
	register(nonZeroRule, "NonZero")
	register(compressRule, "Compress")
	register(scatterRule, "ScatterND", "ScatterElements", "Scatter")
	register(oneHotRule, "OneHot")
	register(topKRule, "TopK")
}

// minInputs is the least number of inputs of the operators with a rule that need more than one
// (from their schemas); the others need their first input, but for Constant.
var minInputs = map[string]int{
	"Add": 2, "Sub": 2, "Mul": 2, "Div": 2, "Pow": 2, "Mod": 2, "BitShift": 2, "PRelu": 2,
	"Equal": 2, "Less": 2, "Greater": 2, "LessOrEqual": 2, "GreaterOrEqual": 2, "And": 2, "Or": 2,
	"Xor": 2, "Where": 3, "CastLike": 2, "BiasGelu": 2, "MatMul": 2, "Gemm": 2, "Gather": 2,
	"GatherElements": 2, "Expand": 2, "Tile": 2, "Range": 3, "LayerNormalization": 2,
	"SkipLayerNormalization": 3, "Compress": 2, "ScatterND": 3, "ScatterElements": 3, "Scatter": 3,
	"OneHot": 3, "Constant": 0,
}

// node infers the outputs of one node from its inputs' infos by the rule of its operator.
func (st *state) node(n *onnx.NodeProto, ins []Info) ([]Info, error) {
	if d := n.GetDomain(); d != "" && d != "ai.onnx" && d != "com.microsoft" {
		return nil, nil
	}
	r := rules[n.GetOpType()]
	if r != nil {
		k, ok := minInputs[n.GetOpType()]
		if !ok {
			k = 1
		}
		if len(ins) < k {
			return nil, fmt.Errorf("%d inputs, expected at least %d", len(ins), k)
		}
		if k > 0 && n.GetInput()[0] == "" {
			return nil, fmt.Errorf("the first input is empty")
		}
		return r(st, n, ins)
	}
	outs := make([]Info, len(n.GetOutput()))
	for k := range outs {
		outs[k] = Info{Rank: -1}
	}
	return outs, nil
}

// arg returns ins[k], or an Info of unknown rank when the node has no input k.
func arg(ins []Info, k int) Info {
	if k < len(ins) {
		return ins[k]
	}
	return Info{Rank: -1}
}
