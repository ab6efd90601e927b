package prune

import (
	"context"
	"fmt"
	"runtime/debug"
	"time"

	"github.com/kprune/kprune/data"
	"github.com/kprune/kprune/graph"
	"github.com/kprune/kprune/onnx"
	ort "github.com/kprune/kprune/runtime"
)

// session wraps an onnxruntime session with the bookkeeping the driver needs: it feeds only the
// inputs the session takes and accumulates the time spent inside onnxruntime.
type session struct {
	s       *ort.Session
	ortTime *time.Duration
}

func newSession(m *onnx.ModelProto, opts ort.Options, ortTime *time.Duration) (*session, error) {
	t0 := time.Now()
	s, err := ort.NewSession(m, opts)
	if ortTime != nil {
		*ortTime += time.Since(t0)
	}
	if err != nil {
		return nil, err
	}
	if opts.NoArena {
		// The serialised model handed to onnxruntime is garbage now; in low-memory mode give it
		// back to the OS at once instead of letting the heap grow to twice the live size.
		debug.FreeOSMemory()
	}
	return &session{s: s, ortTime: ortTime}, nil
}

// run feeds the subset of inputs that the session takes and returns its outputs by name.
func (s *session) run(ctx context.Context, inputs map[string]*ort.Tensor) (map[string]*ort.Tensor, error) {
	return s.runInto(ctx, inputs, nil)
}

// runInto is run with the outputs named in dst written into those buffers (see
// runtime.Session.RunInto).
func (s *session) runInto(ctx context.Context, inputs, dst map[string]*ort.Tensor) (map[string]*ort.Tensor, error) {
	feed := make(map[string]*ort.Tensor, len(s.s.Inputs()))
	for _, in := range s.s.Inputs() {
		t, ok := inputs[in.Name]
		if !ok {
			return nil, fmt.Errorf("internal error: no value for session input %q", in.Name)
		}
		feed[in.Name] = t
	}
	t0 := time.Now()
	out, err := s.s.RunInto(ctx, feed, dst)
	if s.ortTime != nil {
		*s.ortTime += time.Since(t0)
	}
	if err != nil {
		return nil, err
	}
	return ort.ByName(out), nil
}

func (s *session) close() { s.s.Close() }

// modelInputs returns the encoder's model inputs for a batch, by the names the model uses.
func modelInputs(enc *graph.Encoder, b *data.Batch) map[string]*ort.Tensor {
	shape := b.Shape()
	in := map[string]*ort.Tensor{}
	if enc.InputIDs != "" {
		in[enc.InputIDs] = ort.I64Tensor(shape, b.InputIDs)
	}
	if enc.AttentionMask != "" {
		in[enc.AttentionMask] = ort.I64Tensor(shape, b.AttentionMask)
	}
	if enc.TokenTypeIDs != "" {
		tt := b.TokenTypeIDs
		if tt == nil {
			tt = make([]int64, len(b.InputIDs))
		}
		in[enc.TokenTypeIDs] = ort.I64Tensor(shape, tt)
	}
	if enc.PositionIDs != "" {
		// 0, 1, ... per row, as BERT computes them when they are not given.
		pos := make([]int64, len(b.InputIDs))
		for i := range pos {
			pos[i] = int64(i % b.SeqLen)
		}
		in[enc.PositionIDs] = ort.I64Tensor(shape, pos)
	}
	return in
}

// CheckBatches validates a calibration or evaluation set against an encoder: it must be non-empty
// and every batch must have consistent tensor sizes and token ids below vocab (when vocab > 0).
func CheckBatches(batches []data.Batch, vocab int) error {
	if len(batches) == 0 {
		return fmt.Errorf("the data set is empty: no batches")
	}
	for i, b := range batches {
		n := b.Size * b.SeqLen
		if b.Size <= 0 || b.SeqLen <= 0 || len(b.InputIDs) != n || len(b.AttentionMask) != n || (b.TokenTypeIDs != nil && len(b.TokenTypeIDs) != n) {
			return fmt.Errorf("batch %d: inconsistent shape (%d x %d with %d ids, %d mask values)", i, b.Size, b.SeqLen, len(b.InputIDs), len(b.AttentionMask))
		}
		if vocab > 0 {
			for _, id := range b.InputIDs {
				if id < 0 || id >= int64(vocab) {
					return fmt.Errorf("batch %d: token id %d is outside the model's vocabulary of %d rows (is the tokenizer the model's own?)", i, id, vocab)
				}
			}
		}
	}
	return nil
}

// BatchInputs returns the encoder's model inputs for a batch, by the names the model uses:
// token ids, attention mask, token types (zeros when the batch has none) and positions (0, 1,
// ... per row) for the inputs the encoder has.
func BatchInputs(enc *graph.Encoder, b *data.Batch) map[string]*ort.Tensor {
	return modelInputs(enc, b)
}
