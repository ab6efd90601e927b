package quantize

import (
	"fmt"

	"github.com/kprune/kprune/onnx"
)

// Dynamic quantizes the weights of every MatMul and Gemm with a constant float32 weight of m to
// int8, with the activations quantized at run time, in the operator pattern of onnxruntime's
// quantize_dynamic (see the package documentation for the pattern, the numerical choices and what
// stays float). It returns the quantized model and a report; m is not modified, and the result
// shares m's unchanged nodes and tensors (modify neither in place; onnx.Clone first if needed).
//
// Errors wrap ErrAlreadyQuantized, ErrNoMatMul or ErrUnsupported for models it refuses.
func Dynamic(m *onnx.ModelProto, opts Options) (*onnx.ModelProto, *Report, error) {
	p, err := prepare(m, opts, ModeDynamic)
	if err != nil {
		return nil, nil, err
	}
	e := newEmitter(p, opts)
	if err := e.rewrite(p, e.dynamicLinear); err != nil {
		return nil, nil, err
	}
	p.rep.QuantizedWeightBytes = e.qbytes
	return e.finish(producerTag(ModeDynamic, opts)), p.rep, nil
}

// producerTag is the metadata value recording how a model was quantized.
func producerTag(mode Mode, opts Options) string {
	s := fmt.Sprintf("mode=%s weights=int8 symmetric per_channel=%t reduce_range=%t activations=uint8 asymmetric", mode, opts.PerChannel, opts.ReduceRange)
	if opts.Embeddings {
		s += " embeddings=uint8"
	}
	if opts.Head {
		s += " head=int8"
	}
	return s
}

// dynamicActivation returns x quantized at run time (quantized tensor, scale, zero point),
// adding its DynamicQuantizeLinear before the first MatMul that needs it; the MatMuls reading x
// share it, as in quantize_dynamic's output.
func (e *emitter) dynamicActivation(x string) [3]string {
	if q, ok := e.acts[x]; ok {
		return q
	}
	q := [3]string{e.fresh(x + "_quantized"), e.fresh(x + "_scale"), e.fresh(x + "_zero_point")}
	e.node("DynamicQuantizeLinear", x+"_QuantizeLinear", []string{x}, q[:])
	e.acts[x] = q
	return q
}

// dynamicLinear writes one quantized MatMul (a Gemm as MatMul + Add):
//
//	DynamicQuantizeLinear(x) -> xq, xs, xzp
//	MatMulInteger(xq, Wq, xzp, Wzp) -> Cast(float) -> Mul(., xs * Ws) -> y [-> Add(., C) for a Gemm]
func (e *emitter) dynamicLinear(l *linear) {
	xq := e.dynamicActivation(l.x)
	wq := e.quantizedWeight(l)
	name, out := e.matmulOf(l)
	iout := e.fresh(out + "_output_quantized")
	e.node("MatMulInteger", name+"_quant", []string{xq[0], wq[0], xq[2], wq[2]}, []string{iout})
	cout := e.fresh(iout + "_cast_output")
	e.node("Cast", iout+"_cast", []string{iout}, []string{cout}, onnx.AttrInt("to", int64(onnx.TensorProto_FLOAT)))
	sname := e.fresh(name + "_quant_scales_mul")
	sout := e.fresh(sname + ":0")
	e.add(onnx.NewNode("Mul", sname, []string{xq[1], wq[1]}, []string{sout}))
	e.node("Mul", name+"_quant_output_scale_mul", []string{cout, sout}, []string{out})
	e.gemmBias(l, out)
}
