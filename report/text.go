package report

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/kprune/kprune/prune"
)

// WriteSummary writes the plain-text summary of a pruning run that `kprune prune` prints at the
// end: heads and FFN neurons kept per layer, the FLOPs reduction, parameters, the loss, unfused
// operators, calibration, time and the self-check.
func WriteSummary(w io.Writer, r *prune.Report) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "layer\theads\t\tFFN neurons\t\t")
	for l := range r.Layers {
		fmt.Fprintf(tw, "%d\t%d\t/ %d\t%d\t/ %d\t\n", l, r.Layers[l].Heads, r.LayersBefore[l].Heads, r.Layers[l].FFN, r.LayersBefore[l].FFN)
	}
	tw.Flush()
	if r.Setting != "" {
		fmt.Fprintf(w, "setting          %s\n", settingText(r.Setting))
	}
	fmt.Fprintf(w, "FLOPs reduction  requested %.1f%%, achieved %.2f%% (costing length %.1f)\n", 100*r.RequestedReduction, 100*r.AchievedReduction, r.SeqLen)
	fmt.Fprintf(w, "parameters       %d -> %d (%.1f%% fewer)\n", r.ParamsBefore, r.ParamsAfter, 100*(1-float64(r.ParamsAfter)/float64(max(r.ParamsBefore, 1))))
	if len(r.RemovedSublayers) > 0 {
		fmt.Fprintf(w, "removed sublayers %v\n", r.RemovedSublayers)
	}
	if r.Loss != "" {
		fmt.Fprintf(w, "loss             %s head: %s\n", r.Head, r.Loss)
	}
	if len(r.Unfused) > 0 {
		fmt.Fprintf(w, "unfused          onnxruntime operators read as standard ONNX: %s\n", OpCounts(r.Unfused))
	}
	fmt.Fprintf(w, "calibration      %d sequences, %d tokens in %d batches", r.Calibration.Sequences, r.Calibration.Tokens, r.Calibration.Batches)
	if t := r.Calibration.Tokenizer; t != "" {
		fmt.Fprintf(w, ", tokenized by %s", t)
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "time             %.1fs (onnxruntime %.1fs), peak RSS %.0f MB\n", r.TotalSeconds, r.ORTSeconds, float64(r.PeakRSSBytes)/1e6)
	if sc := r.SelfCheck; sc != nil && sc.Cosine != 0 {
		fmt.Fprintf(w, "self-check       mean cosine similarity with the original's outputs %.4f on %d held-out examples\n", sc.Cosine, sc.Examples)
	} else if sc != nil {
		fmt.Fprintf(w, "self-check       agreement with the original %.2f%% on %d held-out examples (mean KL %.4f)\n", 100*sc.Agreement, sc.Examples, sc.MeanKL)
	}
	if t := r.Task; t != nil {
		fmt.Fprintf(w, "task metric      %s %.4f -> %.4f on %s (%d examples)\n", t.Metric, t.Original, t.Pruned, t.Data, t.Examples)
	}
}

// WriteWarnings writes a run's quality warnings, one a line, each prefixed "warning: ".
func WriteWarnings(w io.Writer, ws []prune.Warning) {
	for _, x := range ws {
		fmt.Fprintf(w, "warning: %s\n", x.Message)
	}
}

// OpCounts renders operator counts as "A=2 B=4", sorted by operator.
func OpCounts(m map[string]int) string {
	ops := slices.Sorted(maps.Keys(m))
	parts := make([]string, len(ops))
	for i, op := range ops {
		parts[i] = fmt.Sprintf("%s=%d", op, m[op])
	}
	return strings.Join(parts, " ")
}

// settingText explains a K-prune setting name (prune.Options.Setting) in a summary line.
func settingText(s string) string {
	switch s {
	case "default":
		return "default ([ours] Fisher predictive knowledge on classification heads, per example, automatic lambda; --faithful for the paper's exact setting)"
	case "faithful":
		return "faithful (the paper's exact setting, as the reference implementation)"
	}
	return s
}
