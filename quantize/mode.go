package quantize

import (
	"context"

	"github.com/kprune/kprune/data"
	"github.com/kprune/kprune/onnx"
)

// Quantize runs the quantization of the given mode: Static with the calibration batches calib,
// or Dynamic (which reads no data).
func Quantize(ctx context.Context, m *onnx.ModelProto, mode Mode, opts Options, calib []data.Batch) (*onnx.ModelProto, *Report, error) {
	if mode == ModeStatic {
		return Static(ctx, m, calib, opts)
	}
	return Dynamic(m, opts)
}
