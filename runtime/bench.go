package runtime

import (
	"context"
	"errors"
	"sort"
	"time"
)

// LatencyStats summarises timed runs.
type LatencyStats struct {
	Runs int           `json:"runs"`
	Mean time.Duration `json:"mean_ns"`
	P50  time.Duration `json:"p50_ns"`
	P90  time.Duration `json:"p90_ns"`
	Min  time.Duration `json:"min_ns"`
	Max  time.Duration `json:"max_ns"`
}

// Summarize computes statistics over durations (which it sorts in place).
func Summarize(d []time.Duration) LatencyStats {
	if len(d) == 0 {
		return LatencyStats{}
	}
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	var sum time.Duration
	for _, x := range d {
		sum += x
	}
	q := func(p float64) time.Duration { return d[int(p*float64(len(d)-1)+0.5)] }
	return LatencyStats{Runs: len(d), Mean: sum / time.Duration(len(d)), P50: q(0.5), P90: q(0.9), Min: d[0], Max: d[len(d)-1]}
}

// Measure runs s on inputs warmup times untimed, then runs times timed, and summarises the timed
// runs. Use the same inputs and session options for every model being compared.
func Measure(ctx context.Context, s *Session, inputs map[string]*Tensor, warmup, runs int) (LatencyStats, error) {
	if runs <= 0 {
		return LatencyStats{}, errors.New("measure: runs must be positive")
	}
	for i := 0; i < warmup; i++ {
		if _, err := s.Run(ctx, inputs); err != nil {
			return LatencyStats{}, err
		}
	}
	d := make([]time.Duration, 0, runs)
	for i := 0; i < runs; i++ {
		t0 := time.Now()
		if _, err := s.Run(ctx, inputs); err != nil {
			return LatencyStats{}, err
		}
		d = append(d, time.Since(t0))
	}
	return Summarize(d), nil
}

// MeasureInterleaved times every session on the same inputs (each gets the inputs it declares),
// alternating between them run by run and reversing the order every other round, so that machine
// noise and cache effects hit all of them alike. warmup rounds are not timed.
func MeasureInterleaved(ctx context.Context, sess []*Session, feed map[string]*Tensor, warmup, runs int) ([]LatencyStats, error) {
	if runs <= 0 {
		return nil, errors.New("measure: runs must be positive")
	}
	feeds := make([]map[string]*Tensor, len(sess))
	for k, s := range sess {
		feeds[k] = map[string]*Tensor{}
		for _, in := range s.Inputs() {
			feeds[k][in.Name] = feed[in.Name]
		}
	}
	d := make([][]time.Duration, len(sess))
	for r := 0; r < warmup+runs; r++ {
		for j := range sess {
			k := j
			if r%2 == 1 {
				k = len(sess) - 1 - j
			}
			t0 := time.Now()
			if _, err := sess[k].Run(ctx, feeds[k]); err != nil {
				return nil, err
			}
			if r >= warmup {
				d[k] = append(d[k], time.Since(t0))
			}
		}
	}
	out := make([]LatencyStats, len(sess))
	for k := range d {
		out[k] = Summarize(d[k])
	}
	return out, nil
}
