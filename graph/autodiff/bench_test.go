package autodiff

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/kprune/kprune/graph"
	"github.com/kprune/kprune/internal/testmodel"
	"github.com/kprune/kprune/onnx"
	ort "github.com/kprune/kprune/runtime"
)

// benchSize is the model of BenchmarkScoringVsForward: BERT-base widths.
var benchSize = testmodel.Config{Layers: 12, Heads: 12, HeadDim: 64, FFN: 3072, MaxPos: 128, Seed: 1}

// BenchmarkScoringVsForward compares one onnxruntime run of the scoring graph (s = 0, Gram on:
// forward, backward to every mask, statistics) with one plain forward run of the same model on
// the same 32 x 128 batch, in steady state (after two untimed runs of each). Runs of the two
// alternate so that machine noise hits both; the "ratio" metric is total scoring time over total
// forward time. Run it with -benchtime=3x or so: one scoring run takes tens of seconds on one
// thread, and the scoring session holds several GB.
func BenchmarkScoringVsForward(b *testing.B) {
	for _, opset := range []int{14, 17} {
		cfg := benchSize
		cfg.Opset = opset
		m, err := testmodel.Build(cfg)
		if err != nil {
			b.Fatal(err)
		}
		enc, err := graph.Discover(m)
		if err != nil {
			b.Fatal(err)
		}
		sc, err := BuildScoring(m, enc, 0, ScoringOptions{Gram: true})
		if err != nil {
			b.Fatal(err)
		}
		in := testmodel.Inputs(cfg, 32, 128, 1)
		for _, threads := range []int{1, 2} {
			b.Run(fmt.Sprintf("opset=%d/threads=%d", opset, threads), func(b *testing.B) {
				opts := ort.Options{IntraOpThreads: threads, InterOpThreads: 1}
				fwd, err := ort.NewSession(m, opts)
				if err != nil {
					b.Fatal(err)
				}
				defer fwd.Close()
				feed := benchFeed(b, m, enc, sc, in, opts)
				scs, err := ort.NewSession(sc.Model, opts)
				if err != nil {
					b.Fatal(err)
				}
				defer scs.Close()
				ctx := context.Background()
				runOnce := func(s *ort.Session, f map[string]*ort.Tensor) time.Duration {
					t0 := time.Now()
					if _, err := s.Run(ctx, f); err != nil {
						b.Fatal(err)
					}
					return time.Since(t0)
				}
				// Two untimed runs each: onnxruntime grows its memory arena during the first runs
				// (and plans a memory pattern after the first); later runs reuse it.
				for range 2 {
					runOnce(fwd, in)
					runOnce(scs, feed)
				}
				var tf, ts time.Duration
				n := 0
				for b.Loop() {
					tf += runOnce(fwd, in)
					ts += runOnce(scs, feed)
					n++
				}
				b.ReportMetric(float64(ts)/float64(tf), "ratio")
				b.ReportMetric(float64(tf.Milliseconds())/float64(n), "forward-ms")
				b.ReportMetric(float64(ts.Milliseconds())/float64(n), "scoring-ms")
			})
		}
	}
}

// benchFeed builds the scoring graph's inputs (the teacher is the student itself).
func benchFeed(b testing.TB, m *onnx.ModelProto, enc *graph.Encoder, sc *Scoring, in map[string]*ort.Tensor, opts ort.Options) map[string]*ort.Tensor {
	b.Helper()
	opts.Outputs = []string{sc.Hidden, preLN(enc, sc.Sublayer)}
	opts.Outputs = append(opts.Outputs, enc.Outputs...)
	s, err := ort.NewSession(withOutputs(b, m, opts.Outputs), opts)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	outs, err := s.Run(context.Background(), in)
	if err != nil {
		b.Fatal(err)
	}
	feed := map[string]*ort.Tensor{sc.Hidden: outs[0], sc.TeacherPreLN: outs[1], enc.AttentionMask: in[enc.AttentionMask]}
	lo := outs[2]
	p, err := SoftmaxTargets(lo.F32, int(lo.Shape[0]), int(lo.Shape[1]), 2)
	if err != nil {
		b.Fatal(err)
	}
	feed[sc.Targets[0]] = ort.F32Tensor(lo.Shape, p)
	for u, name := range sc.Masks {
		feed[name] = ones(onnx.TensorProto_FLOAT, []int64{int64(sc.Widths[u])})
	}
	for _, name := range sc.Inputs {
		if _, ok := feed[name]; !ok {
			feed[name] = in[name]
		}
	}
	return feed
}
