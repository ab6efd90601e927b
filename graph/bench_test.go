package graph_test

import (
	"context"
	"math/rand/v2"
	"sort"
	"testing"
	"time"

	"github.com/kprune/kprune/graph"
	"github.com/kprune/kprune/internal/testmodel"
	"github.com/kprune/kprune/onnx"
	ort "github.com/kprune/kprune/runtime"
)

// halfPlan keeps a random half of the heads and of the neurons of every layer.
func halfPlan(enc *graph.Encoder, seed uint64) graph.Plan {
	r := rand.New(rand.NewPCG(seed, 1))
	pick := func(n int) []int {
		k := r.Perm(n)[:n/2]
		sort.Ints(k)
		return k
	}
	var p graph.Plan
	for _, l := range enc.Layers {
		p.Heads = append(p.Heads, pick(l.MHA.Heads))
		p.Neurons = append(p.Neurons, pick(l.FFN.Width))
	}
	return p
}

// BenchmarkPrunedLatency measures onnxruntime latency (batch 32 x 128 tokens, one thread) of the
// shared tiny model and a generated BERT-base-sized encoder (12 layers, 12 heads of 64, FFN 3072)
// before and after removing half of the heads and neurons of every layer. Metrics per model:
// unpruned-ms and pruned-ms per batch, speedup = unpruned/pruned, and prune-ms, the time Prune
// itself took. Run with e.g. -bench PrunedLatency -benchtime 3x.
func BenchmarkPrunedLatency(b *testing.B) {
	models := []struct {
		name  string
		build func(b *testing.B) (*onnx.ModelProto, map[string]*ort.Tensor)
	}{
		{"tiny-bert-sst2", func(b *testing.B) (*onnx.ModelProto, map[string]*ort.Tensor) {
			m := loadModel(b, tiny14)
			return m, sharedInputs(b, m, discover(b, m), 32, 128, 1)
		}},
		{"generated-12x12x64-ffn3072", func(b *testing.B) (*onnx.ModelProto, map[string]*ort.Tensor) {
			cfg := testmodel.Config{Layers: 12, Heads: 12, HeadDim: 64, FFN: 3072, MaxPos: 128, Seed: 1}
			m, err := testmodel.Build(cfg)
			if err != nil {
				b.Fatal(err)
			}
			return m, testmodel.Inputs(cfg, 32, 128, 1)
		}},
	}
	for _, mc := range models {
		b.Run(mc.name, func(b *testing.B) {
			m, in := mc.build(b)
			enc := discover(b, m)
			t0 := time.Now()
			pm, _, err := graph.Prune(m, enc, halfPlan(enc, 7), graph.PruneOptions{})
			if err != nil {
				b.Fatal(err)
			}
			pruneTime := time.Since(t0)
			sessions := map[string]*ort.Session{}
			for name, model := range map[string]*onnx.ModelProto{"unpruned": m, "pruned": pm} {
				s, err := ort.NewSession(model, ort.Options{IntraOpThreads: 1, InterOpThreads: 1})
				if err != nil {
					b.Fatal(err)
				}
				defer s.Close()
				sessions[name] = s
				if _, err := s.Run(context.Background(), in); err != nil { // warm-up
					b.Fatal(err)
				}
			}
			var total = map[string]time.Duration{}
			b.ResetTimer()
			for range b.N {
				for _, name := range []string{"unpruned", "pruned"} {
					t := time.Now()
					if _, err := sessions[name].Run(context.Background(), in); err != nil {
						b.Fatal(err)
					}
					total[name] += time.Since(t)
				}
			}
			un := total["unpruned"].Seconds() * 1000 / float64(b.N)
			pr := total["pruned"].Seconds() * 1000 / float64(b.N)
			b.ReportMetric(un, "unpruned-ms")
			b.ReportMetric(pr, "pruned-ms")
			b.ReportMetric(un/pr, "speedup")
			b.ReportMetric(pruneTime.Seconds()*1000, "prune-ms")
		})
	}
}

// BenchmarkDiscover times discovery on the BERT-base-sized generated encoder.
func BenchmarkDiscover(b *testing.B) {
	m, err := testmodel.Build(testmodel.Config{Layers: 12, Heads: 12, HeadDim: 64, FFN: 3072, Seed: 1})
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for range b.N {
		if _, err := graph.Discover(m); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSublayerRewrites times (and counts the bytes allocated by) what the pruning loop does
// per sublayer on the BERT-base-sized encoder: pruning half the heads of layer 0, and replacing
// the output projection of sublayer 0. Copy-on-write keeps the cost to the sliced tensors.
func BenchmarkSublayerRewrites(b *testing.B) {
	m, err := testmodel.Build(testmodel.Config{Layers: 12, Heads: 12, HeadDim: 64, FFN: 3072, Seed: 1})
	if err != nil {
		b.Fatal(err)
	}
	enc := discover(b, m)
	plan := graph.Plan{Heads: make([][]int, 12)}
	plan.Heads[0] = []int{0, 2, 4, 6, 8, 10}
	w := make([]float32, 768*768)
	b.Run("Prune", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			if _, _, err := graph.Prune(m, enc, plan, graph.PruneOptions{}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("ReplaceOutputWeight", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			if _, err := graph.ReplaceOutputWeight(m, enc, 0, w, nil); err != nil {
				b.Fatal(err)
			}
		}
	})
}
