package bench

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/kprune/kprune/graph"
	"github.com/kprune/kprune/onnx"
	"github.com/kprune/kprune/prune"
	ort "github.com/kprune/kprune/runtime"
)

// MeasurePair measures the latency of two models on the same synthetic batch (token ids below
// both models' vocabularies, full attention mask), interleaved run by run: warmup untimed and
// runs timed runs each.
func MeasurePair(ctx context.Context, a, b *onnx.ModelProto, batch, seq, threads, warmup, runs int) ([2]ort.LatencyStats, error) {
	var res [2]ort.LatencyStats
	vocab := 0
	for _, m := range []*onnx.ModelProto{a, b} {
		if enc, err := graph.Discover(m); err == nil {
			if v := enc.VocabRows(m); v > 0 && (vocab == 0 || v < vocab) {
				vocab = v
			}
		}
	}
	if vocab < 2 {
		vocab = 2
	}
	shape := []int64{int64(batch), int64(seq)}
	ids := make([]int64, batch*seq)
	mask := make([]int64, batch*seq)
	for i := range ids {
		ids[i] = int64(1 + (i*7919)%(vocab-1))
		mask[i] = 1
	}
	in := map[string]*ort.Tensor{"input_ids": ort.I64Tensor(shape, ids), "attention_mask": ort.I64Tensor(shape, mask), "token_type_ids": ort.I64Tensor(shape, make([]int64, batch*seq))}
	sess := make([]*ort.Session, 2)
	for k, m := range []*onnx.ModelProto{a, b} {
		s, err := ort.NewSession(m, ort.Options{IntraOpThreads: threads})
		if err != nil {
			return res, err
		}
		defer s.Close()
		sess[k] = s
	}
	lat, err := ort.MeasureInterleaved(ctx, sess, in, warmup, runs)
	if err != nil {
		return res, err
	}
	return [2]ort.LatencyStats{lat[0], lat[1]}, nil
}

// Named is a model with the name that labels it in errors ("float", "pruned int8"...).
type Named struct {
	Name  string
	Model *onnx.ModelProto
}

// LatencyOptions configure MeasureModels.
type LatencyOptions struct {
	// Batch and Seq are the shape of the synthetic batch; Seq is lowered to the most tokens the
	// models take.
	Batch, Seq int
	// Warmup untimed and Runs timed runs per model and thread count.
	Warmup, Runs int
	// Threads are the onnxruntime thread counts to measure at (0: its default).
	Threads []int
}

// ParseThreads parses a comma-separated list of onnxruntime thread counts ("1,2"; 0 means
// onnxruntime's default), as LatencyOptions.Threads.
func ParseThreads(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 0 {
			return nil, fmt.Errorf("%q: want thread counts (0 or more) separated by commas", s)
		}
		out = append(out, n)
	}
	return out, nil
}

// Validate checks that Runs, Batch and Seq are positive and Warmup not negative.
func (o *LatencyOptions) Validate() error {
	if o.Runs <= 0 || o.Warmup < 0 || o.Batch <= 0 || o.Seq <= 0 {
		return fmt.Errorf("latency runs %d, batch %d and sequence length %d must be positive and warm-up runs %d not negative", o.Runs, o.Batch, o.Seq, o.Warmup)
	}
	return nil
}

// MeasureModels times models on a synthetic batch (random token ids, full attention mask),
// interleaved in one run per thread count; speed-ups are over the first model. It returns one
// measurement per model and thread count, and the sequence length measured at.
func MeasureModels(ctx context.Context, models []Named, o LatencyOptions) ([][]prune.ModelLatency, int, error) {
	encs := make([]*graph.Encoder, len(models))
	vocab, seq := 0, o.Seq
	for i, nm := range models {
		v := 0
		if std, enc, _, _, err := prune.Structure(nm.Model); err == nil {
			encs[i] = enc
			v = vocabRows(std, enc, nm.Model)
			if p := graph.MaxPositions(std, enc); p > 0 && seq > p {
				seq = p
			}
		} else {
			v = vocabRows(nil, nil, nm.Model)
		}
		if v > 0 && (vocab == 0 || v < vocab) {
			vocab = v
		}
	}
	if vocab == 0 {
		vocab = 100
	}
	out := make([][]prune.ModelLatency, len(models))
	for _, th := range o.Threads {
		stats, err := measureAt(ctx, models, encs, o, seq, vocab, th)
		if err != nil {
			return nil, seq, fmt.Errorf("latency at %d thread(s): %w", th, err)
		}
		for i, st := range stats {
			l := prune.ModelLatency{Batch: o.Batch, Seq: seq, Threads: th, Runs: st.Runs, Mean: st.Mean, P50: st.P50, P90: st.P90}
			if st.P50 > 0 {
				l.Speedup = float64(stats[0].P50) / float64(st.P50)
			}
			out[i] = append(out[i], l)
		}
	}
	return out, seq, nil
}

// measureAt is one interleaved run of MeasureModels at th threads.
func measureAt(ctx context.Context, models []Named, encs []*graph.Encoder, o LatencyOptions, seq, vocab, th int) ([]ort.LatencyStats, error) {
	sess := make([]*ort.Session, len(models))
	defer func() {
		for _, s := range sess {
			if s != nil {
				s.Close()
			}
		}
	}()
	feed := map[string]*ort.Tensor{}
	for i, nm := range models {
		s, err := ort.NewSession(nm.Model, ort.Options{IntraOpThreads: th})
		if err != nil {
			return nil, fmt.Errorf("%s model: %w", nm.Name, err)
		}
		sess[i] = s
		if err := AddInputs(feed, s.Inputs(), nm.Name, encs[i], o.Batch, seq, vocab); err != nil {
			return nil, err
		}
	}
	return ort.MeasureInterleaved(ctx, sess, feed, o.Warmup, o.Runs)
}
