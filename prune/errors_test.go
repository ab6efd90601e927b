package prune

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
)

// TestErrImpossibleBudget checks that every impossible budget matches ErrImpossibleBudget through
// wrapping, that its message is unchanged, and that other search errors do not match.
func TestErrImpossibleBudget(t *testing.T) {
	_, nanBudget := Threshold([]Candidate{{Score: 1, Cost: 1}}, math.NaN())
	_, nanScore := Threshold([]Candidate{{Score: math.NaN(), Cost: 1}}, 1)
	badOption := Options{Reduction: 1.5, Mu: DefaultMu, Lambda: DefaultLambda, Temperature: DefaultTemperature}
	cases := []struct {
		name string
		err  error
		is   bool
		text string // the message must contain it
	}{
		{"reduction 1", CheckReduction(1), true, "FLOPs reduction must be in [0, 1) (the fraction of encoder FLOPs to remove), got 1"},
		{"negative reduction", CheckReduction(-0.5), true, "got -0.5"},
		{"NaN reduction", CheckReduction(math.NaN()), true, "got NaN"},
		{"wrapped", fmt.Errorf("kprune: %w", CheckReduction(2)), true, "kprune: FLOPs reduction"},
		{"Options.Validate", badOption.Validate(), true, "Reduction 1.5: must be in [0, 1)"},
		{"NaN budget", nanBudget, true, "threshold search: the FLOPs budget is NaN"},
		{"nothing to prune", fmt.Errorf("setup: %w", errNoUnits), true, "no heads or neurons left to prune"},
		{"NaN score is not a budget error", nanScore, false, "scores must be finite"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.err == nil {
				t.Fatal("no error")
			}
			if got := errors.Is(c.err, ErrImpossibleBudget); got != c.is {
				t.Errorf("errors.Is(%q, ErrImpossibleBudget) = %v, want %v", c.err, got, c.is)
			}
			if !strings.Contains(c.err.Error(), c.text) {
				t.Errorf("message %q does not contain %q", c.err, c.text)
			}
		})
	}
	if err := CheckReduction(0.5); err != nil {
		t.Errorf("CheckReduction(0.5) = %v", err)
	}
}
