package prune

import (
	"fmt"
	"math"
	"strings"

	"github.com/kprune/kprune/graph/autodiff"
)

// Default values of the K-prune hyperparameters (those of the reference implementation).
const (
	DefaultLambda      = 2.5e-4
	DefaultMu          = 64
	DefaultTemperature = 2
)

// DefaultOptions returns the options of the reference implementation: Lambda, Mu and
// Temperature at their defaults, every other field at its zero value. Set Reduction (and
// anything else) on the result.
func DefaultOptions() Options {
	return Options{Lambda: DefaultLambda, Mu: DefaultMu, Temperature: DefaultTemperature}
}

// OptionError is an invalid option value. Option is the Go name of the field ("Lambda",
// "MicroBatch", ...), so that callers can map it to their own spelling (a command-line flag).
type OptionError struct {
	Option string
	Value  any
	// Reason says what the value must be, e.g. "must be a finite number >= 0".
	Reason string
	// Err is the underlying error, if any (an out-of-range Reduction wraps
	// [ErrImpossibleBudget]); nil otherwise.
	Err error
}

// Unwrap returns the underlying error, so that errors.Is(err, ErrImpossibleBudget) holds for an
// out-of-range Reduction.
func (e *OptionError) Unwrap() error { return e.Err }

// Error returns "OPTION VALUE: REASON".
func (e *OptionError) Error() string {
	return fmt.Sprintf("%s %v: %s", e.Option, e.Value, e.Reason)
}

// finiteAtLeast checks a float option: finite and >= lo (> lo when strict).
func finiteAtLeast(name string, v, lo float64, strict bool) error {
	bad := math.IsNaN(v) || math.IsInf(v, 0) || v < lo || (strict && v == lo)
	if !bad {
		return nil
	}
	rel := ">="
	if strict {
		rel = ">"
	}
	return &OptionError{Option: name, Value: v, Reason: fmt.Sprintf("must be a finite number %s %v", rel, lo)}
}

func notNegative(name string, v int) error {
	if v < 0 {
		return &OptionError{Option: name, Value: v, Reason: "must not be negative"}
	}
	return nil
}

func checkReductionOption(r float64) error {
	if err := CheckReduction(r); err != nil {
		return &OptionError{Option: "Reduction", Value: r, Reason: "must be in [0, 1) (the fraction of encoder FLOPs to remove)", Err: err}
	}
	return nil
}

func checkProvider(p string) error {
	switch strings.ToLower(p) {
	case "", "cpu", "cuda":
		return nil
	}
	return &OptionError{Option: "Provider", Value: p, Reason: "must be cpu or cuda"}
}

func checkPooling(p string) error {
	if autodiff.CheckPooling(p) != nil {
		return &OptionError{Option: "Pooling", Value: p, Reason: "must be mean or cls"}
	}
	return nil
}

// Validate checks every field of o and returns the first invalid one as an *OptionError:
// Reduction in [0, 1); Lambda, Mu and SeqLen finite and >= 0; Temperature finite and > 0;
// RoundTo, MicroBatch and Threads not negative; Provider "", "cpu" or "cuda". KPrune calls it
// before any work; callers that do long work before KPrune (reading and tokenizing data) should
// call it first themselves.
func (o *Options) Validate() error {
	checks := []error{
		checkReductionOption(o.Reduction),
		finiteAtLeast("Lambda", o.Lambda, 0, false),
		finiteAtLeast("Mu", o.Mu, 0, false),
		finiteAtLeast("Temperature", o.Temperature, 0, true),
		finiteAtLeast("SeqLen", o.SeqLen, 0, false),
		notNegative("RoundTo", o.RoundTo),
		notNegative("MicroBatch", o.MicroBatch),
		notNegative("Threads", o.Threads),
		checkProvider(o.Provider),
		checkPooling(o.Pooling),
	}
	for _, err := range checks {
		if err != nil {
			return err
		}
	}
	return nil
}

// Validate checks the fields of o as [Options.Validate] does (Reduction, SeqLen).
func (o *MagnitudeOptions) Validate() error {
	if err := checkReductionOption(o.Reduction); err != nil {
		return err
	}
	return finiteAtLeast("SeqLen", o.SeqLen, 0, false)
}

// Validate checks the fields of o as [Options.Validate] does (Reduction, SeqLen, Threads,
// Provider).
func (o *KwonOptions) Validate() error {
	for _, err := range []error{
		checkReductionOption(o.Reduction),
		finiteAtLeast("SeqLen", o.SeqLen, 0, false),
		notNegative("Threads", o.Threads),
		checkProvider(o.Provider),
	} {
		if err != nil {
			return err
		}
	}
	return nil
}
