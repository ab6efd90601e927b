package prune

import "github.com/kprune/kprune/graph"

// When the caller did not choose a micro-batch, the driver runs the scoring graph on the largest
// number of rows whose estimated activations fit these sizes: lowMemoryRunBytes in low-memory
// mode, defaultRunBytes otherwise (small models then always run whole batches; a BERT-base-sized
// model at 128 tokens runs about 5 sequences at a time instead of holding ~5 GB for 32).
const (
	lowMemoryRunBytes = 128 << 20
	defaultRunBytes   = 1 << 30
)

// scoringRowBytes estimates the activations the scoring graph of sublayer s keeps for the
// backward pass, per sequence of seqLen tokens: for each remaining attention sublayer about ten
// D-wide vectors per token (Q, K, V, context, masked context, LayerNorm) plus the heads x seqLen
// attention probabilities and scores; for each remaining FFN about six FFN-wide vectors (the
// pre-activation, GELU intermediates, masked activation) and four D-wide ones per token. On a
// generated BERT-base model (seqLen 128) the measured peak was about 0.6 of this estimate.
func scoringRowBytes(enc *graph.Encoder, s, seqLen int) int64 {
	var floats int64
	d := int64(enc.Hidden)
	t := int64(seqLen)
	for s2 := s; s2 < enc.NumSublayers(); s2++ {
		l := enc.Layers[s2/2]
		if s2%2 == 0 && l.MHA != nil {
			floats += 10*d + 2*int64(l.MHA.Heads)*t
		}
		if s2%2 == 1 && l.FFN != nil {
			floats += 6*int64(l.FFN.Width) + 4*d
		}
	}
	return 4 * floats * t
}

// microBatchRows returns the rows per scoring run for a batch of size rows of seqLen tokens:
// opts.MicroBatch when set, else as many as fit the activation budget (at least one).
func microBatchRows(opts *Options, enc *graph.Encoder, s, size, seqLen int) int {
	if opts.MicroBatch > 0 {
		return min(opts.MicroBatch, size)
	}
	limit := int64(defaultRunBytes)
	if opts.LowMemory {
		limit = lowMemoryRunBytes
	}
	per := scoringRowBytes(enc, s, seqLen)
	if per <= 0 {
		return size
	}
	return int(max(1, min(int64(size), limit/per)))
}
