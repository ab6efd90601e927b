package prune

import (
	"testing"
	"time"

	"github.com/kprune/kprune/graph"
)

// TestETA checks the work model by hand on a 1-layer encoder whose two sublayers cost f0 and
// f1 = 2*f0 (with FLOPs F = 3*f0): teacher 3, measure(0) 9, advance(0) 2, measure(1) 6,
// advance(1) 4, in units of f0 — 24 in all.
func TestETA(t *testing.T) {
	enc := &graph.Encoder{Hidden: 64, HeadDim: 32, Layers: []graph.Layer{{MHA: &graph.MHA{Heads: 2}, FFN: &graph.FFN{Width: 1}}}}
	e := NewETA(enc, 13)
	// Make the FFN sublayer cost exactly twice the attention one.
	e.sub = []float64{1, 2}
	clock := e.start
	e.now = func() time.Time { return clock }
	tests := []struct {
		p    Progress
		done float64 // in units of f0
	}{
		{Progress{Phase: PhaseTeacher, Sublayer: -1, Done: 1, Total: 2}, 1.5},
		{Progress{Phase: PhaseTeacher, Sublayer: -1, Done: 2, Total: 2}, 3},
		{Progress{Phase: PhaseMeasure, Sublayer: 0, Done: 1, Total: 3}, 6},
		{Progress{Phase: PhaseTune, Sublayer: 0}, 12},
		{Progress{Phase: PhaseAdvance, Sublayer: 0, Done: 2, Total: 2}, 14},
		{Progress{Phase: PhaseMeasure, Sublayer: 1, Done: 1, Total: 2}, 17},
		{Progress{Phase: PhaseAdvance, Sublayer: 1, Done: 2, Total: 2}, 24},
	}
	for _, tc := range tests {
		total, done := e.work(tc.p)
		if total != 24 || done != tc.done {
			t.Errorf("%+v: work %v of %v, want %v of 24", tc.p, done, total, tc.done)
		}
	}
	// 3 units in 30 s: 21 units left take 210 s.
	clock = e.start.Add(30 * time.Second)
	left, ok := e.Remaining(Progress{Phase: PhaseTeacher, Sublayer: -1, Done: 2, Total: 2})
	if !ok || left != 210*time.Second {
		t.Fatalf("remaining %v %v, want 210s", left, ok)
	}
	if _, ok := e.Remaining(Progress{Phase: PhaseTeacher, Sublayer: -1, Done: 0, Total: 2}); ok {
		t.Fatal("an estimate before any work is done")
	}
}
