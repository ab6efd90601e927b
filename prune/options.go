package prune

import (
	"fmt"
	"math"
	"strings"

	"github.com/kprune/kprune/graph"
	"github.com/kprune/kprune/graph/autodiff"
)

// Default values of the K-prune hyperparameters (those of the reference implementation).
const (
	DefaultLambda      = 2.5e-4
	DefaultMu          = 64
	DefaultTemperature = 2
)

// Preset names a starting point for [Options].
type Preset string

const (
	// PresetDefault is kprune's default, chosen by measurement on three SST-2 classifiers and a
	// sentence-embedding model (docs/results/defaults.md): the reference setting with the [ours]
	// options Fisher (on classification heads; other heads have no labels to sample), PerExample
	// and AutoLambda. Its knowledge measurement does not depend on how calibration sequences are
	// grouped into batches ([Options.BatchIndependent]), so callers may batch them by length
	// (much less padding) without changing results beyond float rounding.
	PresetDefault Preset = "default"
	// PresetFaithful is the reference implementation's exact setting (the paper's): Lambda, Mu
	// and Temperature at their defaults, every [ours] option off.
	PresetFaithful Preset = "faithful"
)

// PresetOptions returns the options of preset p ("default" or "faithful"; "" means
// "default"), with Reduction 0 and the runtime at its zero value: set them on the result.
func PresetOptions(p Preset) (Options, error) {
	o := Options{Lambda: DefaultLambda, Mu: DefaultMu, Temperature: DefaultTemperature}
	switch p {
	case PresetFaithful:
		return o, nil
	case PresetDefault, "":
		o.PerExample, o.AutoLambda, o.Fisher = true, true, true
		return o, nil
	}
	return Options{}, &OptionError{Option: "Preset", Value: string(p), Reason: "must be default or faithful"}
}

// DefaultOptions returns the options of [PresetDefault].
func DefaultOptions() Options {
	o, _ := PresetOptions(PresetDefault)
	return o
}

// FaithfulOptions returns the options of [PresetFaithful], the reference implementation's.
func FaithfulOptions() Options {
	o, _ := PresetOptions(PresetFaithful)
	return o
}

// ApplyPreset sets each algorithm option of o (Lambda, Mu, Temperature, NoTuning, KeepBias,
// AutoLambda, PerExample, RoundTo, Fisher) to preset p's value, except those for which keep
// returns true (given the field's Go name): how a command line applies --faithful while
// honouring the options also given on it.
func (o *Options) ApplyPreset(p Preset, keep func(option string) bool) error {
	po, err := PresetOptions(p)
	if err != nil {
		return err
	}
	for _, f := range []struct {
		name string
		set  func()
	}{
		{"Lambda", func() { o.Lambda = po.Lambda }}, {"Mu", func() { o.Mu = po.Mu }}, {"Temperature", func() { o.Temperature = po.Temperature }},
		{"NoTuning", func() { o.NoTuning = po.NoTuning }}, {"KeepBias", func() { o.KeepBias = po.KeepBias }},
		{"AutoLambda", func() { o.AutoLambda = po.AutoLambda }}, {"PerExample", func() { o.PerExample = po.PerExample }},
		{"RoundTo", func() { o.RoundTo = po.RoundTo }}, {"Fisher", func() { o.Fisher = po.Fisher }},
	} {
		if keep == nil || !keep(f.name) {
			f.set()
		}
	}
	return nil
}

// BatchIndependent reports whether the knowledge o measures is the same (up to float rounding)
// however the calibration sequences are grouped into batches: true with PerExample (squared
// per-example gradients; Fisher labels are drawn per sequence, not per batch). The reference's squared
// batch gradient depends on which sequences share a batch, so grouping them by length changes
// its predictive knowledge.
func (o *Options) BatchIndependent() bool { return o.PerExample }

// algorithm is the part of o that decides what K-prune computes (not the budget, the costing
// length, the pooling of hidden-state outputs or the runtime).
func (o *Options) algorithm() Options {
	return Options{Lambda: o.Lambda, Mu: o.Mu, Temperature: o.Temperature, NoTuning: o.NoTuning, KeepBias: o.KeepBias,
		AutoLambda: o.AutoLambda, PerExample: o.PerExample, RoundTo: o.RoundTo, Fisher: o.Fisher, FisherSeed: o.FisherSeed}
}

// Setting names the setting o is on a model whose head is head, for reports: "default" or
// "faithful" when o's algorithm options are a preset's (Fisher counts only on classification
// heads), else "custom" followed by how they differ from the faithful setting (e.g. "custom:
// auto-lambda, fisher, lambda 0.001").
func (o *Options) Setting(head graph.HeadKind) string {
	a := o.algorithm()
	if head != graph.HeadClassification {
		a.Fisher = false
	}
	for _, p := range []Preset{PresetDefault, PresetFaithful} {
		po, _ := PresetOptions(p)
		if head != graph.HeadClassification {
			po.Fisher = false
		}
		if po.algorithm() == a {
			return string(p)
		}
	}
	var diff []string
	for _, f := range []struct {
		on   bool
		name string
	}{{a.PerExample, "per-example"}, {a.AutoLambda, "auto-lambda"}, {a.Fisher, "fisher"}, {a.KeepBias, "keep-bias"}, {a.NoTuning, "no-tuning"}} {
		if f.on {
			diff = append(diff, f.name)
		}
	}
	if a.RoundTo > 1 {
		diff = append(diff, fmt.Sprintf("round-to %d", a.RoundTo))
	}
	for _, f := range []struct {
		name     string
		v, deflt float64
	}{{"lambda", a.Lambda, DefaultLambda}, {"mu", a.Mu, DefaultMu}, {"temperature", a.Temperature, DefaultTemperature}} {
		if f.v != f.deflt {
			diff = append(diff, fmt.Sprintf("%s %v", f.name, f.v))
		}
	}
	return "custom: " + strings.Join(diff, ", ")
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
		return &OptionError{Option: "Pooling", Value: p, Reason: "must be mean or cls, optionally followed by " + autodiff.NormSuffix}
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
