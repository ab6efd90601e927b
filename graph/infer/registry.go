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
var rules = map[string]rule{
	// Elementwise, one input (elementwise.go).
	"Identity": unaryRule, "Neg": unaryRule, "Exp": unaryRule, "Log": unaryRule, "Sqrt": unaryRule,
	"Erf": unaryRule, "Tanh": unaryRule, "Relu": unaryRule, "Sigmoid": unaryRule, "Abs": unaryRule,
	"Reciprocal": unaryRule, "Floor": unaryRule, "Ceil": unaryRule, "Round": unaryRule, "Sign": unaryRule,
	"Sin": unaryRule, "Cos": unaryRule, "Softplus": unaryRule, "Softsign": unaryRule, "Elu": unaryRule,
	"LeakyRelu": unaryRule, "HardSigmoid": unaryRule, "ThresholdedRelu": unaryRule, "Softmax": unaryRule,
	"LogSoftmax": unaryRule, "Gelu": unaryRule, "FastGelu": unaryRule, "QuickGelu": unaryRule,
	"Clip": unaryRule, "CumSum": unaryRule, "Trilu": unaryRule, "Not": unaryRule, "IsNaN": unaryRule,
	"IsInf": unaryRule, "Selu": unaryRule, "Mish": unaryRule, "HardSwish": unaryRule, "Celu": unaryRule,
	"PRelu":    unaryRule,
	"Dropout":  dropoutRule,
	"Cast":     castRule,
	"CastLike": castLikeRule,
	// Elementwise, broadcasting (elementwise.go).
	"BiasGelu": biasGeluRule,
	"Add":      arithRule, "Sub": arithRule, "Mul": arithRule, "Div": arithRule, "Pow": arithRule,
	"Mod": arithRule, "Max": arithRule, "Min": arithRule, "Sum": arithRule, "Mean": arithRule,
	"BitShift": arithRule,
	"Equal":    compareRule, "Less": compareRule, "Greater": compareRule, "LessOrEqual": compareRule,
	"GreaterOrEqual": compareRule, "And": compareRule, "Or": compareRule, "Xor": compareRule,
	"Where": whereRule,
	// Shapes and the small integer tensors built from them (shape.go).
	"Constant":        constantRule,
	"Shape":           shapeRule,
	"Size":            sizeRule,
	"ConstantOfShape": constantOfShapeRule,
	"Range":           rangeRule,
	"Gather":          (*state).gather,
	"GatherElements":  gatherElementsRule,
	"Concat":          (*state).concat,
	"Reshape":         (*state).reshape,
	"Flatten":         flattenRule,
	"Transpose":       transposeRule,
	"Squeeze":         (*state).squeeze,
	"Unsqueeze":       (*state).squeeze,
	"Slice":           (*state).slice,
	"Split":           (*state).split,
	"Expand":          expandRule,
	"Tile":            tileRule,
	"Pad":             (*state).pad,
	// Linear algebra, reductions, normalisation and the rest (nn.go).
	"MatMul":     (*state).matmul,
	"Gemm":       gemmRule,
	"ReduceMean": (*state).reduce, "ReduceSum": (*state).reduce, "ReduceMax": (*state).reduce,
	"ReduceMin": (*state).reduce, "ReduceProd": (*state).reduce, "ReduceL2": (*state).reduce,
	"ReduceL1": (*state).reduce, "ReduceSumSquare": (*state).reduce, "ReduceLogSumExp": (*state).reduce,
	"ArgMax": argRule, "ArgMin": argRule,
	"LayerNormalization":           layerNormRule,
	"SkipLayerNormalization":       layerNormRule,
	"SimplifiedLayerNormalization": layerNormRule,
	"NonZero":                      nonZeroRule,
	"Compress":                     compressRule,
	"ScatterND":                    scatterRule, "ScatterElements": scatterRule, "Scatter": scatterRule,
	"OneHot": oneHotRule,
	"TopK":   topKRule,
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
