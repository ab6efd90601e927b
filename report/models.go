package report

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/kprune/kprune/prune"
)

// models writes the side-by-side table of a run that pruned and quantized (original float,
// pruned float, pruned int8: size, metric, agreement, latency) and what the quantization did.
func (p *page) models(r *prune.Report) {
	if len(r.Models) == 0 && r.Quantization == nil {
		return
	}
	p.ew.print("<h2>Original, pruned and quantized models</h2>\n")
	if len(r.Models) > 0 {
		head := []string{""}
		for _, m := range r.Models {
			head = append(head, m.Name)
		}
		var rows [][]string
		row := func(label string, cell func(m *prune.ModelFigures) string) {
			rw := []string{label}
			for i := range r.Models {
				rw = append(rw, cell(&r.Models[i]))
			}
			rows = append(rows, rw)
		}
		row("file", func(m *prune.ModelFigures) string { return baseName(m.Path) })
		row("size on disk", func(m *prune.ModelFigures) string { return megabytesOrDash(m.Bytes) })
		row("parameters (float + int8)", func(m *prune.ModelFigures) string {
			if m.Int8Params == 0 {
				return strconv.FormatInt(m.Params, 10)
			}
			return fmt.Sprintf("%d + %d", m.Params, m.Int8Params)
		})
		for _, mt := range []struct {
			name string
			get  func(*prune.Metrics) *float64
		}{
			{"accuracy", func(m *prune.Metrics) *float64 { return m.Accuracy }},
			{"F1", func(m *prune.Metrics) *float64 { return m.F1 }},
			{"Matthews", func(m *prune.Metrics) *float64 { return m.Matthews }},
			{"Pearson", func(m *prune.Metrics) *float64 { return m.Pearson }},
			{"Spearman", func(m *prune.Metrics) *float64 { return m.Spearman }},
		} {
			if r.Models[0].Metrics == nil || mt.get(r.Models[0].Metrics) == nil {
				continue
			}
			row(mt.name, func(m *prune.ModelFigures) string {
				if m.Metrics == nil {
					return "–"
				}
				return optNum(mt.get(m.Metrics))
			})
		}
		if len(r.Models) > 1 && r.Models[1].Agreement != nil {
			row("agreement with "+r.Models[0].Name, func(m *prune.ModelFigures) string {
				if m.Agreement == nil {
					return "–"
				}
				return pct(m.Agreement.Agreement)
			})
		}
		for li, l := range r.Models[0].Latency {
			th := "default threads"
			if l.Threads > 0 {
				th = fmt.Sprintf("%d thread(s)", l.Threads)
			}
			row(fmt.Sprintf("latency p50, %d × %d, %s", l.Batch, l.Seq, th), func(m *prune.ModelFigures) string {
				if li >= len(m.Latency) {
					return "–"
				}
				return msStr(m.Latency[li].P50) + " ms"
			})
			row("speed-up", func(m *prune.ModelFigures) string {
				if li >= len(m.Latency) {
					return "–"
				}
				return strconv.FormatFloat(m.Latency[li].Speedup, 'f', 2, 64) + "×"
			})
		}
		p.table("", head, rows)
		p.ew.print(`<p class="note">Agreement and metrics on held-out examples; latency measured by onnxruntime with the models interleaved in one run.</p>`, "\n")
	}
	if q := r.Quantization; q != nil {
		gran := "per tensor"
		if q.PerChannel {
			gran = "per channel"
		}
		kept := map[string]int{}
		var order []string
		for _, k := range q.KeptFloat {
			if kept[k.Reason] == 0 {
				order = append(order, k.Reason)
			}
			kept[k.Reason]++
		}
		var keptS []string
		for _, k := range order {
			keptS = append(keptS, fmt.Sprintf("%d × %s", kept[k], k))
		}
		rows := [][]string{
			{"mode", string(q.Mode)},
			{"format", q.Format},
			{"weights", fmt.Sprintf("%s, symmetric, %s, range [%d, %d]", q.WeightType, gran, q.WeightRange[0], q.WeightRange[1])},
			{"activations", q.ActivationType + ", asymmetric"},
			{"quantized projections", strconv.Itoa(len(q.Quantized))},
			{"quantized weights", fmt.Sprintf("%s float → %s int8", megabytesOrDash(q.FloatWeightBytes), megabytesOrDash(q.QuantizedWeightBytes))},
			{"kept in float", orDash(strings.Join(keptS, "; "))},
		}
		if c := q.Calibration; c != nil {
			rows = append(rows, []string{"calibration", fmt.Sprintf("%d sequences, %d batches, %d activation ranges", c.Sequences, c.Batches, c.Tensors)})
		}
		p.table("kv", []string{"quantization", ""}, rows)
	}
}
