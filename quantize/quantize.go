// Package quantize turns a float32 ONNX encoder (typically one kprune has just pruned) into an
// int8 one, in the two forms onnxruntime runs fastest on CPU, without Python:
//
//   - Dynamic: every MatMul (and Gemm) with a constant weight becomes exactly what onnxruntime's
//     quantize_dynamic writes in its QOperator format: DynamicQuantizeLinear of the activation
//     (uint8, asymmetric, scale and zero point computed per run), MatMulInteger with the int8
//     weight, Cast to float and a Mul by the product of the two scales, the bias Add left after
//     it. A Gemm is first rewritten as MatMul + Add, its weight transposed, as quantize_dynamic
//     does. onnxruntime fuses the pattern into its dynamic-quantized kernels when it loads the
//     model: DynamicQuantizeMatMul where the quantized activation feeds one MatMul, and
//     MatMulIntegerToFloat (bias included) where it feeds several (attention's query, key and
//     value projections share one DynamicQuantizeLinear).
//   - Static QDQ: the weights are stored in int8 behind a DequantizeLinear, and each quantized
//     MatMul's activation input goes through QuantizeLinear and DequantizeLinear with a fixed scale
//     and zero point measured on a calibration set (min/max of the tensor over all calibration
//     batches, as onnxruntime's MinMax calibrator). onnxruntime folds DequantizeLinear pairs
//     around a MatMul into its integer kernels (MatMulIntegerToFloat, QLinearMatMul).
//
// The numerical choices are onnxruntime's (onnxruntime.quantization 1.30, quantize_dynamic's
// defaults): weights int8, symmetric (zero point 0, range [-127, 127], scale = max|w| / 127),
// per tensor or per output channel (Options.PerChannel: one scale per column of the [in, out]
// weight); Options.ReduceRange quantizes weights to 7 bits ([-64, 64]) for CPUs without VNNI, where
// the u8 x s8 dot products can saturate. Activations are uint8 and asymmetric (scale =
// (max - min) / 255 over a range that includes 0, zero point round(-min / scale)), also for static
// mode, as onnxruntime advises for x86 CPUs. Values are rounded half to even, in float32, as numpy
// does, so kprune's int8 weights and scales are bit-identical to quantize_dynamic's.
//
// The graph is the one quantize_dynamic writes (same nodes, names, int8 weights, scales and zero
// points; tested against its output on tiny models, and checked on real ones), with one
// deliberate difference: kprune adds no shape annotations (value_info). quantize_dynamic saves
// onnx's shape inference results, and with them onnxruntime 1.30 fuses the Add + LayerNorm pairs
// whose two inputs it can prove of equal shape into SkipLayerNormalization, whose CPU kernel was
// measured about 8 times slower than the pair it replaces at batch 32 x 128 (one thread).
//
// What stays float: embeddings (Gather tables; Options.Embeddings quantizes them to uint8 with a
// DequantizeLinear after the Gather, as quantize_dynamic does by default), LayerNorm, Softmax, the
// attention products of two activations (Q K^T, P V), and the head's final projection (the
// classifier, regression, span or token output layer; Options.Head quantizes it too). Without a
// recognised encoder (package graph) the head cannot be told apart and every MatMul is quantized;
// the report says so.
//
// Dynamic and Static are deterministic: the same model and options give the same bytes. They never
// modify their input. Models that are already quantized (ErrAlreadyQuantized), that have no MatMul
// with a constant weight (ErrNoMatMul) or whose calibration data does not fit (ErrCalibration) are
// refused with a message saying what was found. Dequantize turns a quantized model back into the
// float graph it computes (its structure, for discovery and reports).
package quantize

import (
	"errors"

	"github.com/kprune/kprune/data"
)

// Mode is the quantization form.
type Mode string

// Quantization modes.
const (
	// ModeDynamic: activations quantized at run time (DynamicQuantizeLinear + MatMulInteger).
	ModeDynamic Mode = "dynamic"
	// ModeStatic: QuantizeLinear/DequantizeLinear pairs with activation scales from calibration
	// data.
	ModeStatic Mode = "static"
)

// ParseNodeList splits a comma-separated list of node names (as Options.Exclude), dropping
// empty entries and surrounding spaces.
func ParseNodeList(s string) []string { return data.ParseList(s) }

// ParseMode parses "dynamic" or "static".
func ParseMode(s string) (Mode, error) {
	switch Mode(s) {
	case ModeDynamic, ModeStatic:
		return Mode(s), nil
	}
	return "", errors.New("unknown quantization mode " + quoteString(s) + " (want dynamic or static)")
}

// Errors for inputs the quantizer refuses; test for them with errors.Is.
var (
	// ErrAlreadyQuantized: the model holds quantized operators or integer weights already.
	ErrAlreadyQuantized = errors.New("the model is already quantized")
	// ErrNoMatMul: the model has no MatMul or Gemm with a constant float32 weight that may be
	// quantized.
	ErrNoMatMul = errors.New("nothing to quantize")
	// ErrCalibration: the calibration batches do not fit the model (empty, token ids outside the
	// vocabulary, sequences longer than the model's positions, inputs the model does not take).
	ErrCalibration = errors.New("calibration data does not fit the model")
	// ErrUnsupported: the model cannot be quantized as it is (opset below 11, onnxruntime-fused
	// operators that cannot be turned back into standard ONNX...).
	ErrUnsupported = errors.New("model cannot be quantized")
)

// Options configure Dynamic and Static. The zero value is onnxruntime's default recipe, per
// tensor, with embeddings and the head's final projection left in float.
type Options struct {
	// PerChannel gives every output column of a weight its own scale (and zero point) instead of
	// one per tensor: more accurate, slightly slower.
	PerChannel bool
	// ReduceRange quantizes weights to 7 bits ([-64, 64]), as onnxruntime's reduce_range: for CPUs
	// without VNNI, where u8 x s8 products can saturate.
	ReduceRange bool
	// Embeddings also quantizes the embedding tables (Gather of a constant float table) to uint8,
	// asymmetric per tensor, followed by a DequantizeLinear, as quantize_dynamic does by default.
	// It shrinks the file (the word embeddings are often most of it) but does not speed it up.
	Embeddings bool
	// Head also quantizes the head's final projection (classifier, span or token output layer).
	Head bool
	// Exclude names MatMul, Gemm or Gather nodes to leave in float.
	Exclude []string
	// Threads is onnxruntime's intra-op thread count for the calibration runs of Static (0: its
	// default).
	Threads int
}

// Report describes what Dynamic or Static did.
type Report struct {
	Mode Mode `json:"mode"`
	// Format names the operator pattern written.
	Format string `json:"format"`
	// WeightType and ActivationType are the integer types; WeightSymmetric tells whether weights
	// have zero point 0; WeightRange is the integer range of the weights.
	WeightType      string `json:"weight_type"`
	WeightSymmetric bool   `json:"weight_symmetric"`
	WeightRange     [2]int `json:"weight_range"`
	ActivationType  string `json:"activation_type"`
	PerChannel      bool   `json:"per_channel"`
	ReduceRange     bool   `json:"reduce_range"`
	// Quantized lists the quantized projections in graph order.
	Quantized []QuantizedLinear `json:"quantized"`
	// Embeddings lists the quantized embedding tables (Options.Embeddings).
	Embeddings []string `json:"embeddings,omitempty"`
	// KeptFloat lists the MatMul, Gemm and embedding nodes left in float, and why.
	KeptFloat []Kept `json:"kept_float"`
	// Unfused counts the onnxruntime-fused operators turned back into standard ONNX first.
	Unfused map[string]int `json:"unfused_ops,omitempty"`
	// Encoder is empty when the encoder structure was recognised, else why not (the head's final
	// projection then could not be told apart).
	Encoder string `json:"encoder_not_recognised,omitempty"`
	// Head is the kind of output head found (package graph), when recognised.
	Head string `json:"head,omitempty"`
	// FloatWeightBytes is the size of the quantized weights (and embedding tables) in float32,
	// QuantizedWeightBytes in 8 bits with their scales and zero points.
	FloatWeightBytes     int64 `json:"float_weight_bytes"`
	QuantizedWeightBytes int64 `json:"quantized_weight_bytes"`
	// Calibration describes Static's calibration run.
	Calibration *CalibrationStats `json:"calibration,omitempty"`
	// Activations are Static's activation quantization parameters, in graph order.
	Activations []ActivationRange `json:"activations,omitempty"`
}

// QuantizedLinear is one quantized projection.
type QuantizedLinear struct {
	// Node is the MatMul or Gemm node of the float model; Op its type.
	Node string `json:"node"`
	Op   string `json:"op"`
	// Weight is the float weight's tensor name; In and Out its [in, out] shape.
	Weight string `json:"weight"`
	In     int    `json:"in"`
	Out    int    `json:"out"`
}

// Kept is a node left in float.
type Kept struct {
	Node   string `json:"node"`
	Op     string `json:"op"`
	Reason string `json:"reason"`
}

// CalibrationStats describes the calibration data of Static.
type CalibrationStats struct {
	Batches   int `json:"batches"`
	Sequences int `json:"sequences"`
	// Positions counts every position fed, padding included (padded positions take part in the
	// ranges, as in onnxruntime's calibrator).
	Positions int `json:"positions"`
	// Tensors is the number of activations whose range was measured.
	Tensors int     `json:"tensors"`
	Seconds float64 `json:"seconds"`
}

// ActivationRange is the calibrated range and quantization parameters of one activation.
type ActivationRange struct {
	Tensor    string  `json:"tensor"`
	Min       float32 `json:"min"`
	Max       float32 `json:"max"`
	Scale     float32 `json:"scale"`
	ZeroPoint uint8   `json:"zero_point"`
}

func quoteString(s string) string { return "\"" + s + "\"" }
