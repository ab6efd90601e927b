package quantize

import (
	"math"
)

// The arithmetic below follows onnxruntime.quantization (quant_utils.compute_scale_zp,
// quantize_data and quantize_nparray of onnxruntime 1.30) step by step, including which
// operations numpy performs in float32 and which in float64, so that the results are
// bit-identical to quantize_dynamic's.

// tiny is numpy.finfo(float32).tiny: below it a scale counts as zero.
const tiny = 1.1754943508222875e-38

// int8Range returns the weight range: [-127, 127] symmetric, [-64, 64] with reduce_range.
func int8Range(reduce bool) (qmin, qmax int) {
	if reduce {
		return -64, 64
	}
	return -127, 127
}

// symmetricParams returns the scale of symmetric int8 quantization of values in [lo, hi]
// (zero point 0).
func symmetricParams(lo, hi float32, reduce bool) float32 {
	lo, hi = min(lo, 0), max(hi, 0)
	absmax := max(abs32(lo), abs32(hi))
	lo, hi = -absmax, absmax
	qmin, qmax := int8Range(reduce)
	dr := float64(hi - lo) // a float32 subtraction, as numpy does on float32 scalars
	scale := dr / float64(qmax-qmin)
	if scale < tiny {
		return 1
	}
	return float32(scale)
}

// asymmetricParams returns the scale and zero point of uint8 quantization of values in
// [lo, hi] (widened to include 0).
func asymmetricParams(lo, hi float32) (float32, uint8) {
	lo, hi = min(lo, 0), max(hi, 0)
	dr := float64(hi - lo)
	scale := dr / 255
	if scale < tiny {
		return 1, 0
	}
	zp := math.RoundToEven(0 - float64(lo)/scale)
	return float32(scale), uint8(min(max(zp, 0), 255))
}

// quantizeInt8 quantizes v with scale s and zero point 0 into dst: round half to even of
// float32(v / s), clipped to [-128, 127].
func quantizeInt8(dst []int8, v []float32, s float32) {
	for i, x := range v {
		q := math.RoundToEven(float64(x / s))
		dst[i] = int8(min(max(q, -128), 127))
	}
}

// quantizeUint8 quantizes v with scale s and zero point zp into dst.
func quantizeUint8(dst []uint8, v []float32, s float32, zp uint8) {
	for i, x := range v {
		q := float32(math.RoundToEven(float64(x/s))) + float32(zp)
		dst[i] = uint8(min(max(q, 0), 255))
	}
}

func abs32(x float32) float32 {
	if x < 0 {
		return -x
	}
	return x
}

// minMax returns the smallest and largest of v (0, 0 when empty). NaNs are ignored.
func minMax(v []float32) (lo, hi float32) {
	first := true
	for _, x := range v {
		if x != x {
			continue
		}
		if first {
			lo, hi, first = x, x, false
			continue
		}
		lo, hi = min(lo, x), max(hi, x)
	}
	return lo, hi
}

// weightQuant is a quantized [in, out] weight: int8 values with one scale (per tensor) or one per
// output column (per channel), zero points 0.
type weightQuant struct {
	q      []int8
	scales []float32
}

// quantizeWeight quantizes a row-major [k, n] weight symmetrically to int8.
func quantizeWeight(w []float32, k, n int, perChannel, reduce bool) weightQuant {
	wq := weightQuant{q: make([]int8, len(w))}
	if !perChannel {
		lo, hi := minMax(w)
		s := symmetricParams(lo, hi, reduce)
		quantizeInt8(wq.q, w, s)
		wq.scales = []float32{s}
		return wq
	}
	wq.scales = make([]float32, n)
	col := make([]float32, k)
	qc := make([]int8, k)
	for j := range n {
		for i := range k {
			col[i] = w[i*n+j]
		}
		lo, hi := minMax(col)
		s := symmetricParams(lo, hi, reduce)
		quantizeInt8(qc, col, s)
		for i := range k {
			wq.q[i*n+j] = qc[i]
		}
		wq.scales[j] = s
	}
	return wq
}
