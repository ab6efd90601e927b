package prune_test

import (
	"context"
	"encoding/json"
	"os"
	"runtime/debug"
	"strconv"
	"testing"

	"github.com/kprune/kprune/data"
	"github.com/kprune/kprune/internal/testmodel"
	"github.com/kprune/kprune/onnx"
	"github.com/kprune/kprune/prune"
)

// BenchmarkKPruneBERTBase prunes a generated BERT-base-sized encoder (12 layers, hidden 768, 12
// heads, FFN 3072, vocab 30522) by 50% on random calibration sequences holding about
// $KPRUNE_BENCH_TOKENS tokens (default 5000), and reports peak RSS against the memory budget
// (model size + 2 frontiers + 512 MB) and the share of wall time spent inside onnxruntime.
// Peak RSS is process-wide: run one token count per process, e.g.
//
//	KPRUNE_BENCH_TOKENS=10000 KPRUNE_BENCH_MICROBATCH=4 go test ./prune -run XXX -bench KPruneBERTBase -benchtime 1x
//
// KPRUNE_BENCH_MICROBATCH sets Options.MicroBatch, KPRUNE_BENCH_THREADS the onnxruntime threads, and
// KPRUNE_BENCH_ARENA=1 keeps onnxruntime's memory arena (LowMemory off), and
// KPRUNE_BENCH_REPORT=FILE writes the run report (per-iteration timings and peak RSS) as JSON.
func BenchmarkKPruneBERTBase(b *testing.B) {
	tokens := 5000
	microBatch, _ := strconv.Atoi(os.Getenv("KPRUNE_BENCH_MICROBATCH"))
	threads, _ := strconv.Atoi(os.Getenv("KPRUNE_BENCH_THREADS"))
	if v := os.Getenv("KPRUNE_BENCH_TOKENS"); v != "" {
		tokens, _ = strconv.Atoi(v)
	}
	layers := 12
	if v, err := strconv.Atoi(os.Getenv("KPRUNE_BENCH_LAYERS")); err == nil && v > 0 {
		layers = v
	}
	cfg := testmodel.Config{Layers: layers, Hidden: 768, Heads: 12, HeadDim: 64, FFN: 3072, Vocab: 30522, MaxPos: 512, Seed: 1}
	m, err := testmodel.Build(cfg)
	if err != nil {
		b.Fatal(err)
	}
	modelBytes, _ := onnx.Encode(m)
	modelSize := len(modelBytes)
	modelBytes = nil
	const batch, seq = 32, 128
	var batches []data.Batch
	for n, i := 0, 0; n < tokens; i++ {
		in := testmodel.Inputs(cfg, batch, seq, uint64(i))
		bt := data.Batch{InputIDs: in["input_ids"].I64, AttentionMask: in["attention_mask"].I64, TokenTypeIDs: in["token_type_ids"].I64, Size: batch, SeqLen: seq}
		for _, v := range bt.AttentionMask {
			n += int(v)
		}
		batches = append(batches, bt)
	}
	stats := data.ComputeStats(batches)
	debug.FreeOSMemory() // return the generator's garbage before the run's peak is measured
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		res, err := prune.KPrune(context.Background(), m, batches, withDefaults(prune.Options{Reduction: 0.5, Runtime: prune.Runtime{LowMemory: os.Getenv("KPRUNE_BENCH_ARENA") == "", MicroBatch: microBatch, Threads: threads}}), nil)
		if err != nil {
			b.Fatal(err)
		}
		r := res.Report
		frontiers := 2 * stats.PaddedTokens * cfg.Hidden * 4
		budget := modelSize + frontiers + 512<<20
		b.ReportMetric(float64(stats.Tokens), "tokens")
		b.ReportMetric(float64(r.PeakRSSBytes)/1e6, "peakRSS_MB")
		b.ReportMetric(float64(budget)/1e6, "budget_MB")
		b.ReportMetric(float64(modelSize)/1e6, "model_MB")
		b.ReportMetric(float64(frontiers)/1e6, "frontiers_MB")
		b.ReportMetric(r.ORTSeconds/r.TotalSeconds, "ort_share")
		b.ReportMetric(r.TotalSeconds, "total_s")
		var tune, search, rewrite float64
		var heap int64
		for _, it := range r.Iterations {
			heap = max(heap, it.GoHeapBytes)
			tune += it.TuneSeconds
			search += it.SearchSeconds
			rewrite += it.RewriteSeconds
		}
		b.ReportMetric(tune, "tune_s")
		b.ReportMetric(float64(heap)/1e6, "goheap_MB")
		b.ReportMetric(rewrite, "rewrite_s")
		b.ReportMetric(float64(r.TeacherPeakRSSBytes)/1e6, "teacherRSS_MB")
		if path := os.Getenv("KPRUNE_BENCH_REPORT"); path != "" {
			js, err := json.MarshalIndent(r, "", "  ")
			if err != nil {
				b.Fatal(err)
			}
			if err := os.WriteFile(path, js, 0o644); err != nil {
				b.Fatal(err)
			}
		}
	}
}
