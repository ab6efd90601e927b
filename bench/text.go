package bench

import (
	"fmt"
	"io"
	"path/filepath"
	"text/tabwriter"
	"time"
)

// WriteText writes the result as the table `kprune bench` prints: the set-up line, one column
// per model (the baseline's second), the speed-up and notes on fusions the model lost.
func (r *Result) WriteText(w io.Writer) {
	threads := "onnxruntime's default threads"
	if r.Threads > 0 {
		threads = fmt.Sprintf("%d thread(s)", r.Threads)
	}
	models := []*Model{&r.Model}
	head := "\tmodel\t"
	if r.Baseline != nil {
		models = append(models, r.Baseline)
		head += "baseline\t"
	}
	mode := ""
	if len(models) > 1 {
		mode = ", interleaved"
	}
	fmt.Fprintf(w, "kprune bench: batch %d x seq %d, %s, %d warm-up + %d timed runs%s, token ids < %d\n\n", r.Batch, r.Seq, threads, r.Warmup, r.Runs, mode, r.TokenIDsBelow)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, head)
	row := func(label string, f func(bm *Model) string) {
		fmt.Fprintf(tw, "%s\t", label)
		for _, bm := range models {
			fmt.Fprintf(tw, "%s\t", f(bm))
		}
		fmt.Fprintln(tw)
	}
	row("file", func(bm *Model) string { return filepath.Base(bm.Path) })
	row("parameters", (*Model).ParamsSummary)
	row(fmt.Sprintf("encoder GFLOPs per sequence (seq %d)", r.Seq), func(bm *Model) string {
		if bm.FLOPsError != "" {
			return "n/a"
		}
		return fmt.Sprintf("%.3f", bm.FLOPs/1e9)
	})
	row("heads / FFN neurons", func(bm *Model) string {
		if bm.Layers == nil {
			return "n/a"
		}
		var h, n int
		for _, l := range bm.Layers {
			h, n = h+l.Heads, n+l.FFN
		}
		return fmt.Sprintf("%d / %d in %d layers", h, n, len(bm.Layers))
	})
	row("latency mean ms", func(bm *Model) string { return fmt.Sprintf("%.2f", ms(bm.Latency.Mean)) })
	row("latency p50 ms", func(bm *Model) string { return fmt.Sprintf("%.2f", ms(bm.Latency.P50)) })
	row("latency p90 ms", func(bm *Model) string { return fmt.Sprintf("%.2f", ms(bm.Latency.P90)) })
	row("throughput seq/s", func(bm *Model) string { return fmt.Sprintf("%.1f", bm.Throughput) })
	row("nodes (after ORT opt.)", func(bm *Model) string {
		if bm.FusionError != "" {
			return fmt.Sprintf("%d (n/a)", bm.Nodes)
		}
		return fmt.Sprintf("%d (%d)", bm.Nodes, bm.OptimizedNodes)
	})
	row("fused ops (ORT)", (*Model).FusedSummary)
	row("integer kernels (ORT)", (*Model).IntegerSummary)
	tw.Flush()
	if r.Baseline != nil {
		fmt.Fprintf(w, "\nspeed-up (baseline / model latency): %.2fx at p50, %.2fx at mean\n", r.Speedup, r.SpeedupMean)
	}
	for _, bm := range models {
		for _, n := range bm.Notes() {
			fmt.Fprintf(w, "note: %s\n", n)
		}
	}
	names, base := r.LostFusions()
	for _, n := range names {
		fmt.Fprintf(w, "note: onnxruntime fuses %d %s node(s) in the baseline but none in the model\n", base[n], n)
	}
}

func ms(d time.Duration) float64 { return float64(d) / 1e6 }
