package compare

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/kprune/kprune/onnx"
	"github.com/kprune/kprune/output"
	"github.com/kprune/kprune/report"
)

// Files are the paths of a sweep's outputs.
type Files struct {
	CSV, JSON, SVG string
}

// FilesIn returns dir/compare.csv, dir/compare.json and dir/compare.svg.
func FilesIn(dir string) Files {
	return Files{CSV: filepath.Join(dir, "compare.csv"), JSON: filepath.Join(dir, "compare.json"), SVG: filepath.Join(dir, "compare.svg")}
}

// ModelPath is where a sweep that saves its models writes the model of method at reduction r.
func ModelPath(dir, method string, r float64) string {
	return filepath.Join(dir, fmt.Sprintf("%s-%02.0f.onnx", method, 100*r))
}

// CSVHeader is the column list of compare.csv.
var CSVHeader = []string{"method", "requested_reduction", "achieved_flops_reduction", "achieved_mac_reduction", "costing_seq_len",
	"metric", "value", "agreement", "mean_kl", "params", "layers", "latency_ms", "original_latency_ms", "speedup", "prune_seconds", "error"}

// csv returns the row's cells in CSVHeader order.
func (r *Row) csv() []string {
	f := func(v float64) string { return strconv.FormatFloat(v, 'g', 6, 64) }
	var layers []string
	for _, l := range r.Layers {
		layers = append(layers, fmt.Sprintf("%d/%d", l.Heads, l.FFN))
	}
	return []string{r.Method, f(r.RequestedReduction), f(r.AchievedFLOPs), f(r.AchievedMACs), f(r.SeqLen), r.Metric, f(r.Value), f(r.Agreement),
		f(r.MeanKL), strconv.FormatInt(r.Params, 10), strings.Join(layers, " "), f(r.LatencyMs), f(r.BaseMs), f(r.SpeedUp), f(r.PruneSeconds), r.Error}
}

// Write writes compare.csv (the unpruned row first), compare.json and compare.svg, all or none.
func Write(ctx context.Context, files Files, res *Result) error {
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	w.Write(CSVHeader)
	w.Write(res.Unpruned.csv())
	for i := range res.Rows {
		w.Write(res.Rows[i].csv())
	}
	w.Flush()
	if err := w.Error(); err != nil {
		return fmt.Errorf("compare.csv: %w", err)
	}
	csvBytes := append([]byte(nil), b.Bytes()...)
	js, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return fmt.Errorf("compare.json: %w", err)
	}
	b.Reset()
	if err := report.PlotSVG(&b, Plot(res)); err != nil {
		return fmt.Errorf("plot: %w", err)
	}
	tx := &output.Tx{}
	for _, f := range []struct {
		path string
		b    []byte
	}{{files.CSV, csvBytes}, {files.JSON, append(js, '\n')}, {files.SVG, b.Bytes()}} {
		if err := tx.WriteFile(ctx, f.path, f.b); err != nil {
			tx.Rollback()
			return err
		}
	}
	return nil
}

// Plot is the metric-versus-achieved-FLOPs-reduction chart: one line per method (runs that
// failed are left out) and the unpruned model as the reference line.
func Plot(res *Result) report.Plot {
	p := report.Plot{
		Title:     fmt.Sprintf("%s on %s vs FLOPs reduction", res.Metric, filepath.Base(res.Eval)),
		YLabel:    res.Metric,
		Reference: &report.Line{Label: "unpruned", Y: res.Unpruned.Value},
	}
	var order []string
	byMethod := map[string][]report.Point{}
	for _, r := range res.Rows {
		if r.Error != "" {
			continue
		}
		if _, ok := byMethod[r.Method]; !ok {
			order = append(order, r.Method)
		}
		byMethod[r.Method] = append(byMethod[r.Method], report.Point{X: r.AchievedFLOPs, Y: r.Value})
	}
	for _, mt := range order {
		p.Series = append(p.Series, report.Series{Name: MethodLabel(mt), Points: byMethod[mt]})
	}
	return p
}

// MethodLabel is a method's name for people: "K-prune", "Kwon et al." or the name itself.
func MethodLabel(m string) string {
	switch m {
	case "kprune":
		return "K-prune"
	case "kwon":
		return "Kwon et al."
	}
	return m
}

// ModelPaths are the ModelPath of every method and reduction of a sweep, in run order.
func ModelPaths(dir string, methods []string, reductions []float64) []string {
	var out []string
	for _, method := range methods {
		for _, r := range reductions {
			out = append(out, ModelPath(dir, method, r))
		}
	}
	return out
}

// SaveIn returns a Sweep.Save that writes every pruned model to its ModelPath in dir,
// overwriting an existing file only with force.
func SaveIn(dir string, force bool) func(ctx context.Context, method string, r float64, m *onnx.ModelProto) (string, error) {
	return func(ctx context.Context, method string, r float64, m *onnx.ModelProto) (string, error) {
		p := ModelPath(dir, method, r)
		return p, onnx.SaveContext(ctx, p, m, onnx.SaveOptions{Overwrite: force})
	}
}
