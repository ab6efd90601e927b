package pipeline

import (
	"context"

	"github.com/kprune/kprune/compare"
	"github.com/kprune/kprune/prune"
)

// CompareOptions set up a comparison of pruning methods (`kprune compare`).
type CompareOptions struct {
	// ModelPath is the model to prune, CalibPath the calibration data (its labels are read when
	// a method needs them) and EvalPath the labelled evaluation data.
	ModelPath, CalibPath, EvalPath string
	// Methods are the pruning methods' names, run at every reduction of Reductions.
	Methods    []string
	Reductions []float64
	// Options are the options of every method (each takes what it shares of them); their SeqLen
	// and Threads are also the sweep's.
	Options prune.Options
	// Data says how the files are read; Calib how the one calibration set of every method is
	// drawn (its Source is CalibPath).
	Data  Data
	Calib prune.CalibOptions
	// Latency is how speed-ups are measured; its Seq is capped at Data.MaxLen.
	Latency compare.Latency
	// Versions go into the result.
	Versions prune.Versions
}

// CompareSweep loads the model, the calibration set (one for every method; labels only when a
// method needs them) and the evaluation set, and returns the sweep to run.
func CompareSweep(ctx context.Context, o CompareOptions) (*compare.Sweep, error) {
	df := &o.Data
	lm, err := prune.Load(o.ModelPath, df.Tokenizer)
	if err != nil {
		return nil, err
	}
	m, enc, tok := lm.Model, lm.Encoder, lm.Tokenizer
	if err := df.fit(o.ModelPath, m, enc); err != nil {
		return nil, err
	}
	if err := df.classNames(o.ModelPath); err != nil {
		return nil, err
	}
	lat := o.Latency
	lat.Seq = min(lat.Seq, df.MaxLen)
	if err := CheckSeqLen("LatencySeq", lat.Seq, o.ModelPath, m, enc); err != nil {
		return nil, err
	}
	sw := &compare.Sweep{Model: m, Encoder: enc, Reductions: o.Reductions, SeqLen: o.Options.SeqLen, Threads: o.Options.Threads, Latency: lat}
	needLabels := false
	for _, name := range o.Methods {
		method, err := prune.MethodWith(name, o.Options)
		if err != nil {
			return nil, err
		}
		sw.Methods = append(sw.Methods, method)
		needLabels = needLabels || prune.NeedsTargets(method)
	}
	read := df.Read
	if !needLabels {
		read = NoLabels(read)
	}
	cds, cencs, err := prune.ReadEncoded(tok, o.CalibPath, nil, read, df.MaxLen)
	if err != nil {
		return nil, err
	}
	co := o.Calib
	co.Source = o.CalibPath
	cs, err := prune.BuildCalibration(tok, cencs, co)
	if err != nil {
		return nil, err
	}
	sw.Calibration.Batches = cs.Batches
	if needLabels {
		if sw.Calibration.Labels, sw.Calibration.Scores, err = prune.CalibrationTargets(cds, cs.Batches); err != nil {
			return nil, err
		}
	}
	if sw.Eval, err = compare.LoadEvalSet(ctx, m, enc, tok, o.EvalPath, df.Read, df.MaxLen, o.Options.Threads); err != nil {
		return nil, err
	}
	st := cs.Stats
	sw.Result = compare.Result{Model: o.ModelPath, Eval: o.EvalPath, Versions: o.Versions,
		Calibration: prune.CalibStats{Sequences: st.Sequences, Tokens: st.Tokens, PaddedTokens: st.PaddedTokens, AvgLen: st.AvgLen,
			Distinct: st.Distinct, Batches: len(cs.Batches), Seed: o.Calib.Seed, Source: o.CalibPath}}
	return sw, nil
}
