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
