package prune

import (
	"math"
	"math/rand/v2"
	"testing"
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
		if got := Threshold(cands, c.budget); got != c.want {
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
		got := Threshold(cands, budget)
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
