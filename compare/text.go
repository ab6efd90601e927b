package compare

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/kprune/kprune/prune"
)

// WriteText writes the sweep as the table `kprune compare` prints: the unpruned model, then one
// row per method and reduction, and how the speed-up was measured.
func (res *Result) WriteText(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "method\trequested\tachieved\t%s\tagreement\tparams\tspeed-up\tseconds\t\n", res.Metric)
	line := func(r *Row, requested, speed, secs string) {
		if r.Error != "" {
			fmt.Fprintf(tw, "%s\t%s\tfailed\t\t\t\t\t%s\t\n", r.Method, requested, secs)
			return
		}
		fmt.Fprintf(tw, "%s\t%s\t%.2f%%\t%.4f\t%.2f%%\t%d\t%s\t%s\t\n", r.Method, requested, 100*r.AchievedFLOPs, r.Value, 100*r.Agreement, r.Params, speed, secs)
	}
	line(&res.Unpruned, "-", "1.00x", "-")
	for i := range res.Rows {
		r := &res.Rows[i]
		speed := "-"
		if r.SpeedUp > 0 {
			speed = fmt.Sprintf("%.2fx", r.SpeedUp)
		}
		line(r, fmt.Sprintf("%.0f%%", 100*r.RequestedReduction), speed, fmt.Sprintf("%.1f", r.PruneSeconds))
	}
	tw.Flush()
	if res.Latency.Runs > 0 {
		fmt.Fprintf(w, "speed-up: onnxruntime p50 latency of the original over the pruned model at batch %d x %d tokens, %d interleaved runs\n", res.Latency.Batch, res.Latency.Seq, res.Latency.Runs)
	}
}

// WriteSideBySide writes models measured by SideBySide as a table, one column per model:
// size, the headline metric, the agreement with the first model and the latency; heldOut names
// the examples the metric and agreement were measured on ("" to leave it out).
func WriteSideBySide(w io.Writer, figs []prune.ModelFigures, heldOut string) {
	if len(figs) == 0 {
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprint(tw, "\t")
	for _, f := range figs {
		fmt.Fprintf(tw, "%s\t", f.Name)
	}
	fmt.Fprintln(tw)
	row := func(label string, cell func(f *prune.ModelFigures) string) {
		fmt.Fprintf(tw, "%s\t", label)
		for i := range figs {
			fmt.Fprintf(tw, "%s\t", cell(&figs[i]))
		}
		fmt.Fprintln(tw)
	}
	row("size on disk MB", func(f *prune.ModelFigures) string { return fmt.Sprintf("%.1f", float64(f.Bytes)/1e6) })
	if figs[0].Metrics != nil {
		name, get := metricOf(figs[0].Metrics)
		if name != "" {
			row(name, func(f *prune.ModelFigures) string {
				if f.Metrics == nil {
					return "-"
				}
				if v := get(f.Metrics); v != nil {
					return fmt.Sprintf("%.4f", *v)
				}
				return "-"
			})
		}
	}
	if len(figs) > 1 && figs[1].Agreement != nil {
		row("agreement with "+figs[0].Name, func(f *prune.ModelFigures) string {
			if f.Agreement == nil {
				return "-"
			}
			return fmt.Sprintf("%.2f%%", 100*f.Agreement.Agreement)
		})
	}
	for li, l := range figs[0].Latency {
		th := "default threads"
		if l.Threads > 0 {
			th = fmt.Sprintf("%d thread(s)", l.Threads)
		}
		row(fmt.Sprintf("latency p50 ms (%d x %d, %s)", l.Batch, l.Seq, th), func(f *prune.ModelFigures) string {
			if li >= len(f.Latency) {
				return "-"
			}
			return fmt.Sprintf("%.2f", ms(f.Latency[li].P50))
		})
		row("speed-up", func(f *prune.ModelFigures) string {
			if li >= len(f.Latency) {
				return "-"
			}
			return fmt.Sprintf("%.2fx", f.Latency[li].Speedup)
		})
	}
	tw.Flush()
	if heldOut != "" && (figs[0].Metrics != nil || (len(figs) > 1 && figs[1].Agreement != nil)) {
		fmt.Fprintf(w, "(metric and agreement on %s)\n", heldOut)
	}
}

// metricOf picks the headline metric of a metrics set: accuracy, else Pearson.
func metricOf(m *prune.Metrics) (string, func(*prune.Metrics) *float64) {
	switch {
	case m.Accuracy != nil:
		return "accuracy", func(m *prune.Metrics) *float64 { return m.Accuracy }
	case m.Pearson != nil:
		return "Pearson", func(m *prune.Metrics) *float64 { return m.Pearson }
	}
	return "", nil
}

// ParseMethods splits a comma-separated list of pruning method names, checking and
// de-duplicating it.
func ParseMethods(s string) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if err := prune.CheckMethod(f); err != nil {
			return nil, err
		}
		if !seen[f] {
			seen[f] = true
			out = append(out, f)
		}
	}
	if len(out) == 0 {
		return nil, errors.New("no method given")
	}
	return out, nil
}

// ParseReductions splits a comma-separated list of FLOPs reductions, each in [0, 1).
func ParseReductions(s string) ([]float64, error) {
	var out []float64
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		v, err := strconv.ParseFloat(f, 64)
		if err != nil {
			return nil, fmt.Errorf("%q is not a number", f)
		}
		if err := prune.CheckReduction(v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	if len(out) == 0 {
		return nil, errors.New("no reduction given")
	}
	return out, nil
}
