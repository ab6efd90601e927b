package prune

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/kprune/kprune/data"
	"github.com/kprune/kprune/graph"
	"github.com/kprune/kprune/onnx"
)

// MagnitudeOptions configure Magnitude.
type MagnitudeOptions struct {
	// Reduction is the fraction of encoder FLOPs (kprune-spec section 2) to remove, in [0, 1).
	Reduction float64
	// SeqLen is the costing sequence length. When 0, the average length of Calibration is used;
	// one of the two is required.
	SeqLen float64
	// Calibration is optional: it only supplies the costing length (and the report's
	// calibration statistics). Magnitude pruning reads no data.
	Calibration []data.Batch
	// KeepBias makes a removed sublayer compute LN(x + b) instead of LN(x) (as Options.KeepBias).
	KeepBias bool
}

// Magnitude prunes m to remove opts.Reduction of its encoder FLOPs by weight magnitude, without
// data and without any tuning. The score of a unit is the L2 norm of its rows of the output
// projection (the d_h rows of W_O for a head, one row of W_2 for a neuron) divided by its FLOPs
// (section 2); heads and neurons of all layers are ranked together and the best are kept under
// the budget with the same threshold rule as K-prune's mask search (Threshold). The pruned model
// keeps the input model's inputs, even those nothing reads any more. m is not modified.
func Magnitude(ctx context.Context, m *onnx.ModelProto, opts MagnitudeOptions) (*Result, error) {
	m, unfused, err := Standardize(m)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	if err := opts.Validate(); err != nil {
		return nil, fmt.Errorf("invalid options: %w", err)
	}
	enc, err := graph.Discover(m)
	if err != nil {
		return nil, fmt.Errorf("reading the encoder: %w", err)
	}
	seqLen := opts.SeqLen
	var stats data.Stats
	if len(opts.Calibration) > 0 {
		if err := CheckBatches(opts.Calibration, enc.VocabRows(m)); err != nil {
			return nil, fmt.Errorf("calibration set: %w", err)
		}
		stats = data.ComputeStats(opts.Calibration)
		if seqLen == 0 {
			seqLen = stats.AvgLen
		}
	}
	if seqLen == 0 {
		return nil, fmt.Errorf("magnitude pruning needs a costing sequence length: set SeqLen or give a calibration set to average")
	}
	cost, err := NewCost(enc, seqLen)
	if err != nil {
		return nil, err
	}
	total := cost.Encoder(enc)
	if total <= 0 {
		return nil, errNoUnits
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	scores, err := magnitudeScores(m, enc, cost)
	if err != nil {
		return nil, err
	}
	var cands []Candidate
	for s := 0; s < enc.NumSublayers(); s++ {
		for u, v := range scores[s] {
			cands = append(cands, Candidate{Sublayer: s, Unit: u, Score: v, Cost: cost.Unit(s)})
		}
	}
	thr, err := Threshold(cands, (1-opts.Reduction)*total)
	if err != nil {
		return nil, fmt.Errorf("mask search: %w", err)
	}
	plan := graph.Plan{Heads: make([][]int, len(enc.Layers)), Neurons: make([][]int, len(enc.Layers))}
	for l := range enc.Layers {
		// A sublayer that is already gone stays nil (nothing to keep or drop).
		if scores[2*l] != nil {
			plan.Heads[l] = Kept(scores[2*l], thr)
		}
		if scores[2*l+1] != nil {
			plan.Neurons[l] = Kept(scores[2*l+1], thr)
		}
	}
	pm, penc, err := graph.Prune(m, enc, plan, graph.PruneOptions{KeepBias: opts.KeepBias})
	if err != nil {
		return nil, fmt.Errorf("pruning: %w", err)
	}
	rep := Report{
		Method: "magnitude", RequestedReduction: opts.Reduction, SeqLen: seqLen, Unfused: unfused,
		Options:     Options{Reduction: opts.Reduction, SeqLen: opts.SeqLen, KeepBias: opts.KeepBias},
		Calibration: calibStats(stats, len(opts.Calibration)),
	}
	rep.fill(cost, enc, penc, m, pm)
	rep.TotalSeconds = time.Since(start).Seconds()
	rep.PeakRSSBytes = peakRSS()
	return &Result{Model: pm, Encoder: penc, Report: rep}, nil
}

// magnitudeScores returns, per sublayer, the magnitude score of each unit (nil for removed
// sublayers): the L2 norm of the unit's output-projection rows divided by its FLOPs.
func magnitudeScores(m *onnx.ModelProto, enc *graph.Encoder, cost Cost) ([][]float64, error) {
	out := make([][]float64, enc.NumSublayers())
	for s := range out {
		lin := outLinear(enc, s)
		if lin == nil {
			continue
		}
		w, err := lin.WeightInOut(m)
		if err != nil {
			return nil, fmt.Errorf("sublayer %d (%s of layer %d) output weight: %w", s, kindName(s), s/2, err)
		}
		_, group := unitWidth(enc, s)
		units := lin.In / group
		sc := make([]float64, units)
		for u := range sc {
			var sq float64
			for _, v := range w[u*group*lin.Out : (u+1)*group*lin.Out] {
				sq += float64(v) * float64(v)
			}
			sc[u] = math.Sqrt(sq) / cost.Unit(s)
		}
		out[s] = sc
	}
	return out, nil
}
