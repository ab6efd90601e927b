package report

import (
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/kprune/kprune/prune"
)

// Extra carries figures measured outside the pruning run itself, for HTML to show next to the
// report. Every field is optional; sections without data are left out.
type Extra struct {
	// Title heads the page; default "kprune report: " and the output model's file name.
	Title string `json:"title,omitempty"`
	// Latency rows form the latency table (e.g. from `kprune bench --json`).
	Latency []Latency `json:"latency,omitempty"`
	// Metrics are task metrics of the original and pruned models.
	Metrics []Metric `json:"metrics,omitempty"`
	// Plots are drawn at the end of the page (e.g. accuracy vs FLOPs reduction of several methods).
	Plots []Plot `json:"plots,omitempty"`
	// Hidden and HeadDim are the encoder's width D and head size d_h, needed for the per-layer
	// FLOPs and parameter breakdown. When 0, they are inferred from the report's FLOPs totals
	// assuming D = heads x d_h (true of BERT-family encoders), and the breakdown is left out when
	// that does not reproduce the totals.
	Hidden  int `json:"hidden,omitempty"`
	HeadDim int `json:"head_dim,omitempty"`
}

// Latency is one row of the latency table: a model measured by onnxruntime.
type Latency struct {
	// Model labels the row ("original", "pruned", a file name...).
	Model string `json:"model"`
	// Batch and Seq are the input shape; Threads the intra-op thread count (0: onnxruntime's
	// default); Runs the number of timed runs.
	Batch   int `json:"batch"`
	Seq     int `json:"seq"`
	Threads int `json:"threads"`
	Runs    int `json:"runs"`
	// Mean, P50 and P90 are the latency of one batch.
	Mean time.Duration `json:"mean_ns"`
	P50  time.Duration `json:"p50_ns"`
	P90  time.Duration `json:"p90_ns"`
	// Throughput is in sequences per second; 0 means Batch / Mean.
	Throughput float64 `json:"throughput,omitempty"`
	// Speedup is this row's speed-up over a baseline measured in the same run (0: not shown).
	Speedup float64 `json:"speedup,omitempty"`
}

// Metric is a task metric (accuracy, F1, Matthews...) of the original and the pruned model; a nil
// value was not measured.
type Metric struct {
	Name     string   `json:"name"`
	Original *float64 `json:"original,omitempty"`
	Pruned   *float64 `json:"pruned,omitempty"`
}

// css is the page's whole style sheet.
const css = `body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;margin:2em auto;max-width:1100px;padding:0 1em;color:#222;line-height:1.4}
h1{font-size:1.6em;margin-bottom:.2em}h2{font-size:1.25em;margin-top:1.8em;border-bottom:1px solid #ddd;padding-bottom:.2em}
.sub{color:#666;margin-top:0}
table{border-collapse:collapse;margin:.6em 0;font-size:.92em}
th,td{padding:.25em .7em;border-bottom:1px solid #eee;text-align:right;white-space:nowrap}
th{background:#f5f5f5;font-weight:600}th:first-child,td:first-child{text-align:left}
table.kv td:first-child{color:#555}table.kv td{text-align:left}
tr.total td{font-weight:600;border-top:2px solid #ccc}
.cards{display:flex;flex-wrap:wrap;gap:.8em;margin:1em 0}
.card{border:1px solid #ddd;border-radius:6px;padding:.6em 1em;min-width:10em}
.card .v{font-size:1.5em;font-weight:600}.card .l{color:#666;font-size:.85em}
.removed{color:#b00020;font-weight:600}.note{color:#666;font-size:.9em}
.scroll{overflow-x:auto;max-width:100%}svg{max-width:100%;height:auto}
.warnings{border:1px solid #e0a800;background:#fff8e1;border-radius:6px;padding:.4em 1em;margin:1em 0}
.warnings h2{border:none;margin:.3em 0;font-size:1.1em}
@media print{body{max-width:none}}`

// HTML writes a self-contained HTML page describing the pruning run r: a summary (FLOPs reduction
// requested and achieved, parameters, calibration, timings, self-check), the heads and FFN neurons
// kept per layer as an inline SVG bar chart, the removed sublayers, a FLOPs and parameter
// breakdown, the figures of extra (latency, metrics, plots) and the per-iteration table. The page
// has no scripts and no external references. r is not modified.
func HTML(w io.Writer, r *prune.Report, extra Extra) error {
	if r == nil {
		return errors.New("report: no report given")
	}
	if len(r.LayersBefore) > 0 && len(r.Layers) != len(r.LayersBefore) {
		return fmt.Errorf("report: inconsistent report: %d layers after pruning but %d before", len(r.Layers), len(r.LayersBefore))
	}
	for i, p := range extra.Plots {
		if _, _, _, _, err := p.validate(); err != nil {
			return fmt.Errorf("report: plot %d: %w", i+1, err)
		}
	}
	ew := &errWriter{w: w}
	pg := &page{ew: ew}
	title := extra.Title
	if title == "" {
		title = "kprune report"
		if n := baseName(r.OutputModel); n != "" {
			title += ": " + n
		}
	}
	ew.print("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n",
		`<meta name="viewport" content="width=device-width, initial-scale=1">`, "\n<title>", esc(title), "</title>\n<style>\n", css, "\n</style>\n</head>\n<body>\n")
	ew.print("<h1>", esc(title), "</h1>\n")
	sub := []string{}
	if r.Method != "" {
		sub = append(sub, "method "+r.Method)
	}
	if r.InputModel != "" {
		sub = append(sub, r.InputModel+" → "+orDash(r.OutputModel))
	}
	if len(sub) > 0 {
		ew.print(`<p class="sub">`, esc(strings.Join(sub, " · ")), "</p>\n")
	}
	pg.warnings(r.Warnings)
	pg.summary(r)
	pg.metrics(r, extra.Metrics)
	pg.latency(extra.Latency)
	pg.models(r)
	pg.layers(r)
	pg.breakdown(r, extra)
	pg.iterations(r.Iterations)
	for i, p := range extra.Plots {
		if i == 0 {
			ew.print("<h2>Charts</h2>\n")
		}
		ew.print(`<div class="scroll">`, "\n")
		if err := plotSVG(ew, p, false); err != nil {
			return fmt.Errorf("report: plot %d: %w", i+1, err)
		}
		ew.print("</div>\n")
	}
	pg.footer(r)
	ew.print("</body>\n</html>\n")
	return ew.err
}

// page writes the sections of the HTML report.
type page struct{ ew *errWriter }

// table writes a table; cells are plain text (escaped here). A row whose first cell starts with
// "Total" is emphasised.
func (p *page) table(class string, head []string, rows [][]string) {
	ew := p.ew
	if class != "" {
		ew.print(`<div class="scroll"><table class="`, class, `">`, "\n")
	} else {
		ew.print(`<div class="scroll"><table>`, "\n")
	}
	if len(head) > 0 {
		ew.print("<thead><tr>")
		for _, h := range head {
			ew.print("<th>", esc(h), "</th>")
		}
		ew.print("</tr></thead>\n")
	}
	ew.print("<tbody>\n")
	for _, row := range rows {
		if len(row) > 0 && strings.HasPrefix(row[0], "Total") {
			ew.print(`<tr class="total">`)
		} else {
			ew.print("<tr>")
		}
		for _, c := range row {
			ew.print("<td>", esc(c), "</td>")
		}
		ew.print("</tr>\n")
	}
	ew.print("</tbody></table></div>\n")
}

func (p *page) card(value, label string) {
	p.ew.print(`<div class="card"><div class="v">`, esc(value), `</div><div class="l">`, esc(label), "</div></div>\n")
}

func (p *page) summary(r *prune.Report) {
	ew := p.ew
	ew.print("<h2>Summary</h2>\n<div class=\"cards\">\n")
	p.card(pct(r.AchievedReduction), "FLOPs removed (requested "+pct(r.RequestedReduction)+")")
	p.card(intComma(r.ParamsAfter), "parameters (from "+intComma(r.ParamsBefore)+")")
	if t := r.Task; t != nil {
		p.card(strconv.FormatFloat(t.Pruned, 'f', 4, 64), t.Metric+" (original "+strconv.FormatFloat(t.Original, 'f', 4, 64)+")")
	}
	if sc := r.SelfCheck; sc != nil && sc.Cosine != 0 {
		p.card(strconv.FormatFloat(sc.Cosine, 'f', 4, 64), "mean cosine with the original's outputs")
	} else if sc != nil {
		p.card(pct(sc.Agreement), "agreement with the original")
	}
	p.card(seconds(r.TotalSeconds), "pruning time")
	ew.print("</div>\n")
	rows := [][]string{
		{"FLOPs reduction requested", pct(r.RequestedReduction)},
		{"FLOPs reduction achieved", pct(r.AchievedReduction)},
		{"encoder FLOPs", flops(r.FLOPsBefore) + " → " + flops(r.FLOPsAfter) + " (costing length " + strconv.FormatFloat(r.SeqLen, 'f', 1, 64) + " tokens)"},
		{"parameters", intComma(r.ParamsBefore) + " → " + intComma(r.ParamsAfter) + " (" + fewer(float64(r.ParamsBefore), float64(r.ParamsAfter)) + ")"},
	}
	if r.Head != "" {
		rows = append(rows, []string{"head", r.Head + " (outputs " + strings.Join(r.HeadOutputs, ", ") + ")"})
	}
	if r.Setting != "" {
		rows = append(rows, []string{"setting", settingText(r.Setting)})
	}
	if r.Loss != "" {
		rows = append(rows, []string{"predictive loss", r.Loss})
	}
	if t := r.Task; t != nil {
		rows = append(rows, []string{"task metric", fmt.Sprintf("%s %.4f → %.4f on %s (%d examples)", t.Metric, t.Original, t.Pruned, t.Data, t.Examples)})
	}
	if len(r.Unfused) > 0 {
		var ops []string
		for op, n := range r.Unfused {
			ops = append(ops, fmt.Sprintf("%s ×%d", op, n))
		}
		slices.Sort(ops)
		rows = append(rows, []string{"onnxruntime-fused operators", "read as standard ONNX: " + strings.Join(ops, ", ") + "; the pruned model is standard ONNX"})
	}
	if r.InputBytes > 0 || r.OutputBytes > 0 {
		rows = append(rows, []string{"model file size", sizeOrDash(r.InputBytes) + " → " + sizeOrDash(r.OutputBytes)})
	}
	c := r.Calibration
	calib := fmt.Sprintf("%s sequences, %s tokens (average length %.1f) in %d batches, seed %d", intComma(int64(c.Sequences)), intComma(int64(c.Tokens)), c.AvgLen, c.Batches, c.Seed)
	if c.Source != "" {
		calib += ", from " + c.Source
	}
	if c.Tokenizer != "" {
		calib += ", tokenized by " + c.Tokenizer
	}
	rows = append(rows, []string{"calibration", calib})
	timing := fmt.Sprintf("total %s, teacher pass %s, in onnxruntime %s", seconds(r.TotalSeconds), seconds(r.TeacherSeconds), seconds(r.ORTSeconds))
	rows = append(rows, []string{"timings", timing})
	if r.PeakRSSBytes > 0 {
		peak := megabytes(r.PeakRSSBytes)
		if r.TeacherPeakRSSBytes > 0 {
			peak += " (teacher pass " + megabytes(r.TeacherPeakRSSBytes) + "; per iteration below)"
		}
		rows = append(rows, []string{"peak memory (RSS)", peak})
	}
	o := r.Options
	opts := fmt.Sprintf("lambda %s, mu %s, temperature %s, weight tuning %s", num(o.Lambda), num(o.Mu), num(o.Temperature), onOff(!o.NoTuning))
	if o.KeepBias {
		opts += ", keep bias"
	}
	if o.AutoLambda {
		opts += ", auto lambda"
	}
	if o.Threads > 0 {
		opts += fmt.Sprintf(", %d threads", o.Threads)
	}
	if o.Provider != "" {
		opts += ", provider " + o.Provider
	}
	rows = append(rows, []string{"options", opts})
	v := r.Versions
	if v.Kprune != "" || v.Go != "" || v.ONNXRuntime != "" {
		rows = append(rows, []string{"versions", fmt.Sprintf("kprune %s, %s, onnxruntime %s", orDash(v.Kprune), orDash(v.Go), orDash(v.ONNXRuntime))})
	}
	p.table("kv", nil, rows)
}

// warnings lists the run's quality warnings in a box at the top of the page.
func (p *page) warnings(ws []prune.Warning) {
	if len(ws) == 0 {
		return
	}
	p.ew.print(`<div class="warnings"><h2>Warnings</h2>`, "\n<ul>\n")
	for _, w := range ws {
		p.ew.print("<li>", esc(w.Message), "</li>\n")
	}
	p.ew.print("</ul></div>\n")
}

// metrics is the Quality table: the extra metrics (original, pruned, change) and the self-check
// against the original. The original and change columns appear only when some metric has an
// original value (a CLI run's report has only the self-check); the self-check's agreement is
// left out when an extra metric already gives an agreement.
func (p *page) metrics(r *prune.Report, ms []Metric) {
	sc := r.SelfCheck
	if len(ms) == 0 && sc == nil {
		return
	}
	p.ew.print("<h2>Quality</h2>\n")
	withOriginal, hasAgreement := false, false
	for _, m := range ms {
		withOriginal = withOriginal || m.Original != nil
		hasAgreement = hasAgreement || strings.HasPrefix(strings.ToLower(m.Name), "agreement")
	}
	rows := [][]string{}
	for _, m := range ms {
		row := []string{m.Name, optNum(m.Original), optNum(m.Pruned), "–"}
		if m.Original != nil && m.Pruned != nil {
			row[3] = strconv.FormatFloat(*m.Pruned-*m.Original, 'f', 4, 64)
		}
		rows = append(rows, row)
	}
	if sc != nil {
		if !hasAgreement {
			rows = append(rows, []string{fmt.Sprintf("agreement with the original (%s held-out examples)", intComma(int64(sc.Examples))), "", pct(sc.Agreement), ""})
		}
		if sc.MeanKL != 0 || sc.Cosine == 0 {
			rows = append(rows, []string{"mean KL(original ‖ pruned)", "", num(sc.MeanKL), ""})
		}
		if sc.Cosine != 0 {
			rows = append(rows, []string{"mean cosine with the original", "", num(sc.Cosine), ""})
		}
		rows = append(rows, []string{"largest output difference", "", num(sc.MaxAbs), ""})
	}
	if !withOriginal {
		for i, row := range rows {
			rows[i] = []string{row[0], row[2]}
		}
		p.table("", []string{"metric", "pruned model"}, rows)
		return
	}
	p.table("", []string{"metric", "original", "pruned", "change"}, rows)
}

func (p *page) latency(ls []Latency) {
	if len(ls) == 0 {
		return
	}
	p.ew.print("<h2>Latency (onnxruntime)</h2>\n")
	rows := [][]string{}
	for _, l := range ls {
		tp := l.Throughput
		if tp == 0 && l.Mean > 0 {
			tp = float64(l.Batch) / l.Mean.Seconds()
		}
		threads := "default"
		if l.Threads > 0 {
			threads = strconv.Itoa(l.Threads)
		}
		sp := ""
		if l.Speedup > 0 {
			sp = strconv.FormatFloat(l.Speedup, 'f', 2, 64) + "×"
		}
		rows = append(rows, []string{l.Model, fmt.Sprintf("%d × %d", l.Batch, l.Seq), threads, strconv.Itoa(l.Runs),
			msStr(l.Mean), msStr(l.P50), msStr(l.P90), strconv.FormatFloat(tp, 'f', 1, 64), sp})
	}
	p.table("", []string{"model", "batch × seq", "threads", "runs", "mean ms", "p50 ms", "p90 ms", "sequences/s", "speed-up"}, rows)
}

func (p *page) layers(r *prune.Report) {
	ew := p.ew
	if len(r.Layers) == 0 {
		return
	}
	before := r.LayersBefore
	if len(before) == 0 {
		before = r.Layers
	}
	ew.print("<h2>Kept units per layer</h2>\n")
	heads := make([][2]int, len(r.Layers))
	ffn := make([][2]int, len(r.Layers))
	for l := range r.Layers {
		heads[l] = [2]int{r.Layers[l].Heads, before[l].Heads}
		ffn[l] = [2]int{r.Layers[l].FFN, before[l].FFN}
	}
	ew.print(`<div class="scroll">`, "\n")
	barChart(ew, "Attention heads kept per layer", heads)
	barChart(ew, "FFN neurons kept per layer", ffn)
	ew.print("</div>\n")
	rows := [][]string{}
	var kh, oh, kn, on int
	for l := range r.Layers {
		rows = append(rows, []string{strconv.Itoa(l), fmt.Sprintf("%d / %d", heads[l][0], heads[l][1]), fracPct(heads[l][0], heads[l][1]),
			fmt.Sprintf("%d / %d", ffn[l][0], ffn[l][1]), fracPct(ffn[l][0], ffn[l][1])})
		kh, oh, kn, on = kh+heads[l][0], oh+heads[l][1], kn+ffn[l][0], on+ffn[l][1]
	}
	rows = append(rows, []string{"Total", fmt.Sprintf("%d / %d", kh, oh), fracPct(kh, oh), fmt.Sprintf("%d / %d", kn, on), fracPct(kn, on)})
	p.table("", []string{"layer", "heads kept", "heads %", "FFN neurons kept", "FFN %"}, rows)

	ew.print("<h3>Removed sublayers</h3>\n")
	if len(r.RemovedSublayers) == 0 {
		ew.print("<p>No sublayer was removed entirely.</p>\n")
		return
	}
	ew.print("<ul>\n")
	for _, s := range r.RemovedSublayers {
		kind := "multi-head attention"
		if s%2 == 1 {
			kind = "feed-forward"
		}
		ew.print(`<li><span class="removed">sublayer `, strconv.Itoa(s), "</span>: ", kind, " of layer ", strconv.Itoa(s/2), "</li>\n")
	}
	ew.print("</ul>\n<p class=\"note\">A removed sublayer keeps only its residual connection and LayerNorm.</p>\n")
}

// barChart draws kept-vs-original bars, one per layer: a light bar for the original count and a
// dark one for the kept count.
func barChart(ew *errWriter, title string, v [][2]int) {
	maxV := 1
	for _, x := range v {
		maxV = max(maxV, x[0], x[1])
	}
	n := float64(len(v))
	slot := math.Max(28, math.Min(64, 900/n))
	left, top, bottom := 56.0, 28.0, 34.0
	ph := 160.0
	width, height := math.Max(left+slot*n+16, 340), top+ph+bottom
	slot = (width - left - 16) / n
	ax := newAxis(0, float64(maxV))
	if ax.step < 1 { // counts are whole numbers
		ax = axis{lo: 0, hi: float64(maxV), step: 1}
		for t := 0; t <= maxV; t++ {
			ax.ticks = append(ax.ticks, float64(t))
		}
	}
	py := func(y float64) float64 { return top + ph - y/ax.hi*ph }
	w, h := coord(width), coord(height)
	ew.print(`<svg class="bars" width="`, w, `" height="`, h, `" viewBox="0 0 `, w, " ", h, `" role="img" font-family="sans-serif" font-size="11">`, "\n")
	ew.print("<title>", esc(title), "</title>\n")
	ew.print(`<text x="`, coord(left), `" y="16" font-size="13" font-weight="bold">`, esc(title), "</text>\n")
	for _, t := range ax.ticks {
		y := coord(py(t))
		ew.print(`<line x1="`, coord(left), `" y1="`, y, `" x2="`, coord(width-16), `" y2="`, y, `" stroke="#e6e6e6"/>`)
		ew.print(`<text x="`, coord(left-6), `" y="`, coord(py(t)+4), `" text-anchor="end" fill="#444">`, ax.label(t, 1), "</text>\n")
	}
	bw := math.Min(slot*0.6, 48)
	for l, x := range v {
		cx := left + slot*(float64(l)+0.5)
		bx := coord(cx - bw/2)
		ew.print(`<g class="layer">`)
		ew.print(`<rect class="original" x="`, bx, `" y="`, coord(py(float64(x[1]))), `" width="`, coord(bw), `" height="`, coord(ph-(py(float64(x[1]))-top)), `" fill="#d9d9d9"/>`)
		if x[0] > 0 {
			ew.print(`<rect class="kept" x="`, bx, `" y="`, coord(py(float64(x[0]))), `" width="`, coord(bw), `" height="`, coord(ph-(py(float64(x[0]))-top)), `" fill="#0072B2"/>`)
		} else {
			ew.print(`<text x="`, coord(cx), `" y="`, coord(top+ph-4), `" text-anchor="middle" fill="#b00020" font-weight="bold">×</text>`)
		}
		ew.print(`<title>layer `, strconv.Itoa(l), ": ", strconv.Itoa(x[0]), " of ", strconv.Itoa(x[1]), " kept</title>")
		ew.print(`<text x="`, coord(cx), `" y="`, coord(top+ph+14), `" text-anchor="middle" fill="#444">`, strconv.Itoa(l), "</text>")
		ew.print("</g>\n")
	}
	ew.print(`<text x="`, coord(left), `" y="`, coord(height-4), `" fill="#444">layer (grey: original, blue: kept)</text>`, "\n")
	ew.print("</svg>\n")
}

// inferDims finds the encoder width D and head size d_h that reproduce the report's FLOPs totals
// under the cost model, assuming D = H0 x d_h where H0 is the largest original head count.
func inferDims(r *prune.Report) (hidden, headDim int, ok bool) {
	if len(r.LayersBefore) != len(r.Layers) || r.SeqLen <= 0 || r.FLOPsBefore <= 0 {
		return 0, 0, false
	}
	var h0, hTot, nTot int
	for _, l := range r.LayersBefore {
		h0 = max(h0, l.Heads)
		hTot += l.Heads
		nTot += l.FFN
	}
	if h0 == 0 || hTot == 0 {
		return 0, 0, false
	}
	s := r.SeqLen
	// F = hTot*(8*s*h0*dh^2 + 4*s^2*dh) + nTot*4*s*h0*dh  =>  a*dh^2 + b*dh - F = 0.
	a := 8 * s * float64(h0) * float64(hTot)
	b := 4*s*s*float64(hTot) + 4*s*float64(h0)*float64(nTot)
	dh := int(math.Round((-b + math.Sqrt(b*b+4*a*r.FLOPsBefore)) / (2 * a)))
	if dh <= 0 {
		return 0, 0, false
	}
	if !costMatches(r, h0*dh, dh) {
		return 0, 0, false
	}
	return h0 * dh, dh, true
}

// costMatches reports whether hidden and headDim reproduce the report's FLOPs totals.
func costMatches(r *prune.Report, hidden, headDim int) bool {
	c := prune.Cost{Hidden: hidden, HeadDim: headDim, SeqLen: r.SeqLen}
	near := func(a, b float64) bool { return math.Abs(a-b) <= 1e-6*math.Max(1, math.Abs(b)) }
	hb, nb := units(r.LayersBefore)
	ha, na := units(r.Layers)
	return near(c.Config(hb, nb), r.FLOPsBefore) && near(c.Config(ha, na), r.FLOPsAfter)
}

func units(ls []prune.LayerUnits) (heads, neurons []int) {
	for _, l := range ls {
		heads = append(heads, l.Heads)
		neurons = append(neurons, l.FFN)
	}
	return heads, neurons
}

func (p *page) breakdown(r *prune.Report, extra Extra) {
	ew := p.ew
	ew.print("<h2>FLOPs and parameters</h2>\n")
	hidden, headDim, ok := extra.Hidden, extra.HeadDim, extra.Hidden > 0 && extra.HeadDim > 0
	if !ok && r.Hidden > 0 && r.HeadDim > 0 {
		hidden, headDim, ok = r.Hidden, r.HeadDim, true
	}
	if !ok {
		hidden, headDim, ok = inferDims(r)
	}
	if !ok || len(r.Layers) == 0 || len(r.LayersBefore) != len(r.Layers) {
		p.table("", []string{"", "before", "after", "change"}, [][]string{
			{"encoder FLOPs", flops(r.FLOPsBefore), flops(r.FLOPsAfter), "−" + pct(r.AchievedReduction)},
			{"parameters", intComma(r.ParamsBefore), intComma(r.ParamsAfter), fewer(float64(r.ParamsBefore), float64(r.ParamsAfter))},
		})
		ew.print(`<p class="note">The per-layer breakdown needs the encoder's hidden size and head size, which could not be derived from this report.</p>`, "\n")
		return
	}
	c := prune.Cost{Hidden: hidden, HeadDim: headDim, SeqLen: r.SeqLen}
	ew.print(`<p class="note">Cost model at `, strconv.FormatFloat(r.SeqLen, 'f', 1, 64), ` tokens, hidden size `, strconv.Itoa(hidden), `, head size `, strconv.Itoa(headDim),
		`: a head costs `, esc(flops(c.Head())), `, an FFN neuron `, esc(flops(c.Neuron())), `. Embeddings, LayerNorms, biases, activations and the task head are not counted.</p>`, "\n")
	rows := [][]string{}
	var tot [4]float64
	for l := range r.Layers {
		mb, ma := float64(r.LayersBefore[l].Heads)*c.Head(), float64(r.Layers[l].Heads)*c.Head()
		fb, fa := float64(r.LayersBefore[l].FFN)*c.Neuron(), float64(r.Layers[l].FFN)*c.Neuron()
		tot[0], tot[1], tot[2], tot[3] = tot[0]+mb, tot[1]+ma, tot[2]+fb, tot[3]+fa
		rows = append(rows, []string{strconv.Itoa(l), flops(mb), flops(ma), flops(fb), flops(fa), flops(ma + fa), share(ma+fa, r.FLOPsBefore)})
	}
	rows = append(rows, []string{"Total", flops(tot[0]), flops(tot[1]), flops(tot[2]), flops(tot[3]), flops(tot[1] + tot[3]), share(tot[1]+tot[3], r.FLOPsBefore)})
	p.table("", []string{"layer", "attention before", "attention after", "FFN before", "FFN after", "layer after", "of original total"}, rows)

	// Parameters: a head owns 4*D*d_h weights and 3*d_h biases (Q, K, V); a neuron 2*D weights
	// and one bias. The rest (embeddings, LayerNorms, output biases, task head) is the remainder.
	hb, nb := units(r.LayersBefore)
	ha, na := units(r.Layers)
	perHead := int64(4*hidden*headDim + 3*headDim)
	perNeuron := int64(2*hidden + 1)
	sum := func(v []int) (s int64) {
		for _, x := range v {
			s += int64(x)
		}
		return s
	}
	attB, attA := sum(hb)*perHead, sum(ha)*perHead
	ffnB, ffnA := sum(nb)*perNeuron, sum(na)*perNeuron
	p.table("", []string{"parameters", "before", "after", "change"}, [][]string{
		{"attention heads (Q, K, V, O)", intComma(attB), intComma(attA), fewer(float64(attB), float64(attA))},
		{"FFN neurons (W1, W2)", intComma(ffnB), intComma(ffnA), fewer(float64(ffnB), float64(ffnA))},
		{"other (embeddings, LayerNorms, output biases, head)", intComma(r.ParamsBefore - attB - ffnB), intComma(r.ParamsAfter - attA - ffnA), fewer(float64(r.ParamsBefore-attB-ffnB), float64(r.ParamsAfter-attA-ffnA))},
		{"Total", intComma(r.ParamsBefore), intComma(r.ParamsAfter), fewer(float64(r.ParamsBefore), float64(r.ParamsAfter))},
	})
}

// iterations writes the per-iteration tables: the decisions, then time and memory. Two tables
// of at most ten columns fit the page; each also scrolls on its own on a narrow screen.
func (p *page) iterations(its []prune.Iteration) {
	if len(its) == 0 {
		return
	}
	p.ew.print("<h2>Iterations</h2>\n<p class=\"note\">One K-prune iteration per sublayer, bottom-up. Masses are summed over all candidate units; lambda weighs the representational term.</p>\n")
	decisions := [][]string{}
	timing := [][]string{}
	var t [6]float64
	for _, it := range its {
		kept := fmt.Sprintf("%d / %d", it.Kept, it.Units)
		if it.Removed {
			kept += " (removed)"
		}
		decisions = append(decisions, []string{strconv.Itoa(it.Sublayer), strconv.Itoa(it.Layer), it.Kind, kept, num(it.MeanLoss), num(it.PredMass), num(it.RepMass), num(it.Lambda), num(it.Ridge)})
		timing = append(timing, []string{strconv.Itoa(it.Sublayer), it.Kind,
			fmt.Sprintf("%.2f", it.MeasureSeconds), fmt.Sprintf("%.2f", it.SearchSeconds), fmt.Sprintf("%.2f", it.TuneSeconds),
			fmt.Sprintf("%.2f", it.RewriteSeconds), fmt.Sprintf("%.2f", it.AdvanceSeconds), fmt.Sprintf("%.2f", it.ORTSeconds), strconv.Itoa(it.RowsPerRun), megabytesOrDash(it.PeakRSSBytes)})
		for i, v := range []float64{it.MeasureSeconds, it.SearchSeconds, it.TuneSeconds, it.RewriteSeconds, it.AdvanceSeconds, it.ORTSeconds} {
			t[i] += v
		}
	}
	timing = append(timing, []string{"Total", "",
		fmt.Sprintf("%.2f", t[0]), fmt.Sprintf("%.2f", t[1]), fmt.Sprintf("%.2f", t[2]), fmt.Sprintf("%.2f", t[3]), fmt.Sprintf("%.2f", t[4]), fmt.Sprintf("%.2f", t[5]), "", ""})
	p.table("", []string{"sublayer", "layer", "kind", "kept", "mean loss", "pred mass", "rep mass", "lambda", "ridge"}, decisions)
	p.ew.print("<h3>Time and memory per iteration</h3>\n")
	p.table("", []string{"sublayer", "kind", "measure s", "search s", "tune s", "rewrite s", "advance s", "onnxruntime s", "rows / run", "peak RSS"}, timing)
}

func (p *page) footer(r *prune.Report) {
	v := "kprune"
	if r.Versions.Kprune != "" {
		v += " " + r.Versions.Kprune
	}
	p.ew.print(`<p class="note">Generated by `, esc(v), `. Self-contained page: no scripts, no external resources.</p>`, "\n")
}

func baseName(p string) string {
	if i := strings.LastIndexAny(p, `/\`); i >= 0 {
		return p[i+1:]
	}
	return p
}

func megabytesOrDash(n int64) string {
	if n <= 0 {
		return "–"
	}
	return megabytes(n)
}

func orDash(s string) string {
	if s == "" {
		return "–"
	}
	return s
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

func sizeOrDash(b int64) string {
	if b <= 0 {
		return "–"
	}
	return megabytes(b)
}

func optNum(v *float64) string {
	if v == nil {
		return "–"
	}
	return strconv.FormatFloat(*v, 'f', 4, 64)
}

// fewer describes the relative decrease from before to after: "45.0% fewer".
func fewer(before, after float64) string {
	if before <= 0 {
		return "–"
	}
	d := 1 - after/before
	if d < 0 {
		return strconv.FormatFloat(-100*d, 'f', 1, 64) + "% more"
	}
	return strconv.FormatFloat(100*d, 'f', 1, 64) + "% fewer"
}

func share(part, whole float64) string {
	if whole <= 0 {
		return "–"
	}
	return strconv.FormatFloat(100*part/whole, 'f', 1, 64) + "%"
}

func fracPct(kept, orig int) string {
	if orig == 0 {
		return "–"
	}
	return strconv.FormatFloat(100*float64(kept)/float64(orig), 'f', 1, 64) + "%"
}

func msStr(d time.Duration) string { return strconv.FormatFloat(float64(d)/1e6, 'f', 2, 64) }
