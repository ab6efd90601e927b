package prune

import (
	"time"

	"github.com/kprune/kprune/graph"
)

// ETA estimates how long a K-prune run has left from its [Progress] events, so that a caller can
// tell its user "about N minutes" once the teacher pass is done, and keep the figure current.
//
// The estimate is elapsed time scaled by the work left over the work done, where work is counted
// in FLOPs of the unpruned encoder per calibration batch: the teacher pass runs the whole encoder
// (F), the measurement of sublayer s runs sublayers s..2L-1 forward and backward (3 times their
// FLOPs, the usual backward-is-twice-forward rule), and the advance runs sublayer s on the student
// and the teacher frontiers (2 times its FLOPs). Sublayers after s are still unpruned when s is
// measured, so the model's only approximation is the constant backward factor and the costs
// outside onnxruntime (the least-squares solves, about 1-2% of a run). It knows nothing of the
// machine: everything is scaled by the time measured so far.
type ETA struct {
	sub   []float64 // FLOPs of each sublayer of the unpruned encoder
	start time.Time
	now   func() time.Time
}

// NewETA returns an estimator for a K-prune run on enc, starting now; seqLen is the costing
// sequence length (the calibration set's average length; it sets how attention scores weigh
// against projections).
func NewETA(enc *graph.Encoder, seqLen float64) *ETA {
	if seqLen <= 0 {
		seqLen = 128
	}
	c := Cost{Hidden: enc.Hidden, HeadDim: enc.HeadDim, SeqLen: seqLen}
	heads, neurons := Units(enc)
	sub := make([]float64, 0, 2*len(heads))
	for l := range heads {
		sub = append(sub, float64(heads[l])*c.Head(), float64(neurons[l])*c.Neuron())
	}
	return &ETA{sub: sub, start: time.Now(), now: time.Now}
}

// work returns the work of the whole run and the work done at progress p.
func (e *ETA) work(p Progress) (total, done float64) {
	var full float64
	for _, f := range e.sub {
		full += f
	}
	measure := func(s int) float64 {
		var w float64
		for _, f := range e.sub[s:] {
			w += f
		}
		return 3 * w
	}
	frac := 0.0
	if p.Total > 0 {
		frac = float64(p.Done) / float64(p.Total)
	}
	total = full
	for s := range e.sub {
		total += measure(s) + 2*e.sub[s]
	}
	switch {
	case p.Phase == PhaseTeacher:
		return total, full * frac
	case p.Sublayer < 0 || p.Sublayer >= len(e.sub):
		return total, 0
	}
	done = full
	for s := 0; s < p.Sublayer; s++ {
		done += measure(s) + 2*e.sub[s]
	}
	switch p.Phase {
	case PhaseMeasure:
		done += measure(p.Sublayer) * frac
	case PhaseAdvance:
		done += measure(p.Sublayer) + 2*e.sub[p.Sublayer]*frac
	default: // between measurement and advance (search, tuning, rewrite)
		done += measure(p.Sublayer)
	}
	return total, done
}

// Remaining returns the estimated time left after progress p, and false when too little work
// is done to estimate (before the first batch). The estimate is rough early on and converges as
// the run proceeds; a caller announcing a total up front should wait for the end of the
// teacher pass (p.Phase PhaseTeacher with Done == Total).
func (e *ETA) Remaining(p Progress) (time.Duration, bool) {
	total, done := e.work(p)
	if done <= 0 || total <= 0 {
		return 0, false
	}
	elapsed := e.now().Sub(e.start)
	left := float64(elapsed) * (total - done) / done
	if left < 0 {
		left = 0
	}
	return time.Duration(left), true
}
