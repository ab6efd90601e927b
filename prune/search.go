package prune

import (
	"fmt"
	"math"
	"sort"
)

// Candidate is one unit (a head or a neuron) taking part in a global mask search.
type Candidate struct {
	Sublayer int     // s = 2*layer + kind
	Unit     int     // head or neuron index within the sublayer
	Score    float64 // importance score; higher is more important
	Cost     float64 // FLOPs of the unit
}

// Threshold implements the KPMS threshold rule of kprune-spec section 3.2: with candidates sorted
// by ascending score, the threshold v is the first sorted score such that the FLOPs of candidates
// scoring strictly above v is strictly below budget. Units scoring <= v are pruned (ties are pruned
// together). If no score qualifies (budget <= 0), v is the highest score and every unit is pruned.
//
// One deliberate departure from the reference, for the degenerate case only: when all candidates
// already fit in the budget (total FLOPs <= budget), nothing is pruned (v = -Inf), where the
// reference would still prune the lowest-scoring unit. At any real reduction this never applies.
//
// A NaN or infinite score, a cost that is negative, NaN or infinite, or a NaN budget makes the
// search meaningless: Threshold then returns an error naming the first such candidate (a NaN
// budget matches ErrImpossibleBudget). It always terminates, in O(n log n).
func Threshold(cands []Candidate, budget float64) (float64, error) {
	if math.IsNaN(budget) {
		return 0, impossibleBudget("threshold search: the FLOPs budget is NaN")
	}
	for _, c := range cands {
		if math.IsNaN(c.Score) || math.IsInf(c.Score, 0) {
			return 0, fmt.Errorf("threshold search: unit %d of sublayer %d has score %v; scores must be finite (check lambda, mu and the calibration data)", c.Unit, c.Sublayer, c.Score)
		}
		if math.IsNaN(c.Cost) || math.IsInf(c.Cost, 0) || c.Cost < 0 {
			return 0, fmt.Errorf("threshold search: unit %d of sublayer %d has cost %v; costs must be finite and not negative", c.Unit, c.Sublayer, c.Cost)
		}
	}
	if len(cands) == 0 {
		return math.Inf(-1), nil
	}
	total := 0.0
	for _, c := range cands {
		total += c.Cost
	}
	if total <= budget {
		return math.Inf(-1), nil
	}
	sorted := append([]Candidate(nil), cands...)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].Score < sorted[j].Score })
	// above[i] = FLOPs of candidates sorted[i:]; scanning scores ascending, the FLOPs strictly
	// above score v = sorted[i].Score is the suffix sum after the last index with that score.
	n := len(sorted)
	suffix := make([]float64, n+1)
	for i := n - 1; i >= 0; i-- {
		suffix[i] = suffix[i+1] + sorted[i].Cost
	}
	for i := 0; i < n; {
		j := i + 1 // every step advances, whatever the comparisons say
		for j < n && sorted[j].Score == sorted[i].Score {
			j++
		}
		if suffix[j] < budget {
			return sorted[i].Score, nil
		}
		i = j
	}
	return sorted[n-1].Score, nil
}

// Kept returns, for the units of one sublayer with the given scores, the indices scoring strictly
// above the threshold, in ascending order.
func Kept(scores []float64, threshold float64) []int {
	kept := []int{}
	for i, s := range scores {
		if s > threshold {
			kept = append(kept, i)
		}
	}
	return kept
}
