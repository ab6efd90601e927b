package prune

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

// referenceThreshold is a literal transcription of the reference loop: scan the ascending
// scores and stop at the first one whose strictly-greater FLOPs fit under the budget.
func referenceThreshold(cands []Candidate, budget float64) float64 {
	scores := make([]float64, len(cands))
	for i, c := range cands {
		scores[i] = c.Score
	}
	// insertion sort, independent of the implementation's sort
	for i := 1; i < len(scores); i++ {
		for j := i; j > 0 && scores[j] < scores[j-1]; j-- {
			scores[j], scores[j-1] = scores[j-1], scores[j]
		}
	}
	thres := scores[0]
	for _, v := range scores {
		thres = v
		f := 0.0
		for _, c := range cands {
			if c.Score > v {
				f += c.Cost
			}
		}
		if f < budget {
			break
		}
	}
	return thres
}

func TestThresholdHandComputed(t *testing.T) {
	cands := []Candidate{
		{0, 0, 5, 10}, {0, 1, 1, 10}, {1, 0, 3, 2}, {1, 1, 4, 2}, {1, 2, 2, 2},
	} // total 26
	cases := []struct {
		budget float64
		want   float64
	}{
		{26, math.Inf(-1)}, // everything fits: nothing pruned
		{25.9, 1},          // drop the score-1 head (10): 16 < 25.9
		{16, 2},            // > 1 is 16, not < 16; > 2 is 14
		{14.5, 2},
		{14, 3},   // >3: 12 < 14
		{12.5, 3}, // >3: 12
		{12, 4},   // >4: 10
		{10, 5},   // >5: 0
		{0, 5},    // nothing qualifies: highest score, all pruned
	}
	for _, c := range cases {
		if got, err := Threshold(cands, c.budget); err != nil || got != c.want {
			t.Errorf("budget %v: threshold %v, want %v", c.budget, got, c.want)
		}
	}
}

func TestThresholdMatchesReferenceLoop(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	for trial := 0; trial < 300; trial++ {
		n := 1 + rng.IntN(60)
		cands := make([]Candidate, n)
		total := 0.0
		for i := range cands {
			cost := 2.0
			if rng.IntN(3) == 0 {
				cost = 37
			}
			cands[i] = Candidate{Sublayer: rng.IntN(4), Unit: i, Score: float64(rng.IntN(20)), Cost: cost}
			total += cost
		}
		budget := rng.Float64() * total * 0.999
		got, err := Threshold(cands, budget)
		if err != nil {
			t.Fatal(err)
		}
		want := referenceThreshold(cands, budget)
		if got != want {
			t.Fatalf("trial %d: threshold %v, reference loop %v", trial, got, want)
		}
		kept := 0.0
		for _, c := range cands {
			if c.Score > got {
				kept += c.Cost
			}
		}
		if budget > 0 && kept >= budget {
			t.Fatalf("trial %d: kept FLOPs %v not under budget %v", trial, kept, budget)
		}
	}
}

// TestThresholdRejectsNonFinite: NaN or infinite scores (lambda or mu NaN or Inf), bad costs or a
// NaN budget are errors, returned at once (the old loop never ended on NaN scores).
func TestThresholdRejectsNonFinite(t *testing.T) {
	nan, inf := math.NaN(), math.Inf(1)
	ok := []Candidate{{0, 0, 1, 2}, {0, 1, 2, 2}, {1, 0, 3, 1}}
	cases := []struct {
		name   string
		bad    Candidate
		budget float64
	}{
		{"NaN score", Candidate{1, 1, nan, 1}, 3},
		{"+Inf score", Candidate{1, 1, inf, 1}, 3},
		{"-Inf score", Candidate{1, 1, -inf, 1}, 3},
		{"NaN cost", Candidate{1, 1, 1, nan}, 3},
		{"Inf cost", Candidate{1, 1, 1, inf}, 3},
		{"negative cost", Candidate{1, 1, 1, -1}, 3},
		{"NaN budget", Candidate{1, 1, 1, 1}, nan},
	}
	for _, c := range cases {
		done := make(chan error, 1)
		go func() {
			_, err := Threshold(append(append([]Candidate(nil), ok...), c.bad), c.budget)
			done <- err
		}()
		select {
		case err := <-done:
			if err == nil {
				t.Errorf("%s: no error", c.name)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: Threshold did not return", c.name)
		}
	}
	// All NaN, as with --lambda NaN: an error, not a hang.
	all := []Candidate{{0, 0, nan, 1}, {0, 1, nan, 1}}
	if _, err := Threshold(all, 1); err == nil {
		t.Error("all-NaN scores: no error")
	}
	// Infinite budgets are fine: +Inf keeps everything, -Inf prunes everything.
	if v, err := Threshold(ok, inf); err != nil || !math.IsInf(v, -1) {
		t.Errorf("budget +Inf: %v, %v", v, err)
	}
	if v, err := Threshold(ok, -inf); err != nil || v != 3 {
		t.Errorf("budget -Inf: %v, %v", v, err)
	}
}

func TestKept(t *testing.T) {
	got := Kept([]float64{3, 1, 2, 2, 5}, 2)
	want := []int{0, 4}
	if len(got) != len(want) || got[0] != 0 || got[1] != 4 {
		t.Fatalf("Kept = %v, want %v", got, want)
	}
	if k := Kept([]float64{1, 2}, 2); len(k) != 0 || k == nil {
		t.Fatalf("Kept with nothing above: %#v, want an empty non-nil slice", k)
	}
}

func TestCheckReduction(t *testing.T) {
	for _, r := range []float64{-0.1, 1, 1.5, math.NaN()} {
		if CheckReduction(r) == nil {
			t.Errorf("reduction %v accepted", r)
		}
	}
	for _, r := range []float64{0, 0.5, 0.99} {
		if err := CheckReduction(r); err != nil {
			t.Errorf("reduction %v: %v", r, err)
		}
	}
}

func TestCostFormulas(t *testing.T) {
	c := Cost{Hidden: 768, HeadDim: 64, SeqLen: 128}
	if got, want := c.Head(), 8.0*768*64*128+4.0*128*128*64; got != want {
		t.Fatalf("Head = %v, want %v", got, want)
	}
	if got, want := c.Neuron(), 4.0*128*768; got != want {
		t.Fatalf("Neuron = %v, want %v", got, want)
	}
	// BERT-base: 12 layers x (12 heads + 3072 neurons)
	heads, neurons := make([]int, 12), make([]int, 12)
	for i := range heads {
		heads[i], neurons[i] = 12, 3072
	}
	if got, want := c.Config(heads, neurons), 12*(12*c.Head()+3072*c.Neuron()); got != want {
		t.Fatalf("Config = %v, want %v", got, want)
	}
}
