package report

import (
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
)

// Plot is an accuracy-versus-FLOPs-reduction line chart: one line per method, and optionally a
// horizontal reference line for the unpruned model.
type Plot struct {
	// Title is drawn above the chart ("" for none).
	Title string `json:"title,omitempty"`
	// XLabel and YLabel name the axes; defaults "FLOPs reduction (%)" and "metric".
	XLabel string `json:"x_label,omitempty"`
	YLabel string `json:"y_label,omitempty"`
	// Series are the lines, drawn and listed in the legend in this order.
	Series []Series `json:"series"`
	// Reference, when set, is drawn as a dashed horizontal line (e.g. the unpruned model).
	Reference *Line `json:"reference,omitempty"`
	// Width and Height are the SVG's size in pixels; 0 means 640 by 400.
	Width  int `json:"width,omitempty"`
	Height int `json:"height,omitempty"`
}

// Series is one named line of a Plot (typically one pruning method).
type Series struct {
	Name   string  `json:"name"`
	Points []Point `json:"points"`
}

// Point is one measurement: X is the achieved FLOPs reduction as a fraction in [0, 1] (the x
// axis shows it as a percentage), Y the metric (accuracy, F1...) in whatever unit it was given.
type Point struct {
	X float64 `json:"x"`
	Y float64 `json:"y"`
}

// Line is a labelled horizontal reference line at height Y.
type Line struct {
	Label string  `json:"label"`
	Y     float64 `json:"y"`
}

// palette holds the series colours, reused cyclically (colour-blind friendly, Okabe-Ito).
var palette = []string{"#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#F0E442"}

// PlotSVG writes p as a standalone SVG document. Points of each series are joined in order of
// increasing X. It fails when there is nothing to draw, a series has no points, or a coordinate
// is not finite. The output is deterministic.
func PlotSVG(w io.Writer, p Plot) error {
	ew := &errWriter{w: w}
	if err := plotSVG(ew, p, true); err != nil {
		return err
	}
	return ew.err
}

// validate checks p and returns the data ranges.
func (p Plot) validate() (xlo, xhi, ylo, yhi float64, err error) {
	if len(p.Series) == 0 && p.Reference == nil {
		return 0, 0, 0, 0, errors.New("plot: no series and no reference line: nothing to draw")
	}
	if p.Width < 0 || p.Height < 0 || (p.Width > 0 && p.Width < 200) || (p.Height > 0 && p.Height < 150) {
		return 0, 0, 0, 0, fmt.Errorf("plot: size %dx%d is too small (at least 200x150)", p.Width, p.Height)
	}
	xlo, ylo = math.Inf(1), math.Inf(1)
	xhi, yhi = math.Inf(-1), math.Inf(-1)
	finite := func(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
	for _, s := range p.Series {
		if len(s.Points) == 0 {
			return 0, 0, 0, 0, fmt.Errorf("plot: series %q has no points", s.Name)
		}
		for i, pt := range s.Points {
			if !finite(pt.X) || !finite(pt.Y) {
				return 0, 0, 0, 0, fmt.Errorf("plot: series %q point %d is (%v, %v): coordinates must be finite", s.Name, i, pt.X, pt.Y)
			}
			xlo, xhi = math.Min(xlo, pt.X), math.Max(xhi, pt.X)
			ylo, yhi = math.Min(ylo, pt.Y), math.Max(yhi, pt.Y)
		}
	}
	if r := p.Reference; r != nil {
		if !finite(r.Y) {
			return 0, 0, 0, 0, fmt.Errorf("plot: reference line %q is at %v: must be finite", r.Label, r.Y)
		}
		ylo, yhi = math.Min(ylo, r.Y), math.Max(yhi, r.Y)
	}
	if math.IsInf(xlo, 1) { // only a reference line
		xlo, xhi = 0, 1
	}
	return xlo, xhi, ylo, yhi, nil
}

// niceStep returns a step of 1, 2 or 5 times a power of ten close to span/intervals.
func niceStep(span float64, intervals int) float64 {
	raw := span / float64(intervals)
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	switch f := raw / mag; {
	case f < 1.5:
		return mag
	case f < 3:
		return 2 * mag
	case f < 7:
		return 5 * mag
	}
	return 10 * mag
}

// axis is a linear axis with nice ticks.
type axis struct {
	lo, hi, step float64
	ticks        []float64
}

// newAxis covers [lo, hi] with about five intervals of a nice step.
func newAxis(lo, hi float64) axis {
	if hi-lo < 1e-12*math.Max(1, math.Abs(hi)) {
		pad := math.Max(math.Abs(lo)*0.05, 0.01)
		lo, hi = lo-pad, hi+pad
	}
	step := niceStep(hi-lo, 5)
	a := axis{step: step, lo: math.Floor(lo/step+1e-9) * step, hi: math.Ceil(hi/step-1e-9) * step}
	n := int(math.Round((a.hi - a.lo) / step))
	for i := 0; i <= n; i++ {
		t := a.lo + float64(i)*step
		if math.Abs(t) < step*1e-9 {
			t = 0
		}
		a.ticks = append(a.ticks, t)
	}
	return a
}

// label formats tick v, scaled by scale (100 for percentages), with as many decimals as the
// step needs.
func (a axis) label(v, scale float64) string {
	dec := 0
	if s := a.step * scale; s < 1 {
		dec = int(math.Ceil(-math.Log10(s) - 1e-9))
	}
	return strconv.FormatFloat(v*scale, 'f', dec, 64)
}

// plotSVG draws p; standalone adds the XML namespace (needed by a separate .svg file, not by SVG
// inlined in HTML, which must carry no URLs).
func plotSVG(ew *errWriter, p Plot, standalone bool) error {
	xlo, xhi, ylo, yhi, err := p.validate()
	if err != nil {
		return err
	}
	width, height := float64(p.Width), float64(p.Height)
	if p.Width == 0 {
		width = 640
	}
	if p.Height == 0 {
		height = 400
	}
	xlabel, ylabel := p.XLabel, p.YLabel
	if xlabel == "" {
		xlabel = "FLOPs reduction (%)"
	}
	if ylabel == "" {
		ylabel = "metric"
	}
	// Legend entries decide the right margin.
	legend := make([]string, 0, len(p.Series)+1)
	for _, s := range p.Series {
		legend = append(legend, s.Name)
	}
	if p.Reference != nil {
		legend = append(legend, p.Reference.Label)
	}
	longest := 0
	for _, l := range legend {
		longest = max(longest, len([]rune(l)))
	}
	left, top, bottom := 64.0, 24.0, 52.0
	if p.Title != "" {
		top = 40
	}
	right := math.Min(24+30+7*float64(longest), width/3)
	pw, ph := width-left-right, height-top-bottom
	// X is a reduction fraction: a single reduction (or several equal ones) gets a range of
	// +-0.05 around it, kept within [0, 1], rather than a sliver around one point.
	if xhi-xlo < 1e-9 {
		c := xlo
		xlo, xhi = c-0.05, c+0.05
		switch {
		case xlo < 0 && c >= 0:
			xlo, xhi = 0, 0.1
		case xhi > 1 && c <= 1:
			xlo, xhi = 0.9, 1
		}
	}
	xa, ya := newAxis(xlo, xhi), newAxis(ylo, yhi)
	px := func(x float64) float64 { return left + (x-xa.lo)/(xa.hi-xa.lo)*pw }
	py := func(y float64) float64 { return top + ph - (y-ya.lo)/(ya.hi-ya.lo)*ph }

	ns := ""
	if standalone {
		ns = ` xmlns="http://www.w3.org/2000/svg"`
	}
	w, h := coord(width), coord(height)
	ew.print(`<svg`, ns, ` class="plot" width="`, w, `" height="`, h, `" viewBox="0 0 `, w, ` `, h,
		`" role="img" font-family="sans-serif" font-size="12">`, "\n")
	title := p.Title
	if title == "" {
		title = ylabel + " vs " + xlabel
	}
	ew.print(`<title>`, esc(title), `</title>`, "\n")
	ew.print(`<rect x="0" y="0" width="`, w, `" height="`, h, `" fill="#ffffff"/>`, "\n")
	if p.Title != "" {
		ew.print(`<text x="`, coord(width/2), `" y="22" text-anchor="middle" font-size="14" font-weight="bold">`, esc(p.Title), `</text>`, "\n")
	}
	// Grid and ticks.
	ew.print(`<g class="grid" stroke="#e0e0e0" stroke-width="1">`, "\n")
	for _, t := range xa.ticks {
		ew.print(`<line x1="`, coord(px(t)), `" y1="`, coord(top), `" x2="`, coord(px(t)), `" y2="`, coord(top+ph), `"/>`, "\n")
	}
	for _, t := range ya.ticks {
		ew.print(`<line x1="`, coord(left), `" y1="`, coord(py(t)), `" x2="`, coord(left+pw), `" y2="`, coord(py(t)), `"/>`, "\n")
	}
	ew.print("</g>\n")
	ew.print(`<g class="axes" stroke="#333333" stroke-width="1">`, "\n")
	ew.print(`<line x1="`, coord(left), `" y1="`, coord(top+ph), `" x2="`, coord(left+pw), `" y2="`, coord(top+ph), `"/>`, "\n")
	ew.print(`<line x1="`, coord(left), `" y1="`, coord(top), `" x2="`, coord(left), `" y2="`, coord(top+ph), `"/>`, "\n")
	for _, t := range xa.ticks {
		ew.print(`<line x1="`, coord(px(t)), `" y1="`, coord(top+ph), `" x2="`, coord(px(t)), `" y2="`, coord(top+ph+5), `"/>`, "\n")
	}
	for _, t := range ya.ticks {
		ew.print(`<line x1="`, coord(left-5), `" y1="`, coord(py(t)), `" x2="`, coord(left), `" y2="`, coord(py(t)), `"/>`, "\n")
	}
	ew.print("</g>\n")
	ew.print(`<g class="tick-labels" fill="#333333">`, "\n")
	for _, t := range xa.ticks {
		ew.print(`<text x="`, coord(px(t)), `" y="`, coord(top+ph+18), `" text-anchor="middle">`, xa.label(t, 100), `</text>`, "\n")
	}
	for _, t := range ya.ticks {
		ew.print(`<text x="`, coord(left-8), `" y="`, coord(py(t)+4), `" text-anchor="end">`, ya.label(t, 1), `</text>`, "\n")
	}
	ew.print("</g>\n")
	ew.print(`<text class="x-label" x="`, coord(left+pw/2), `" y="`, coord(height-12), `" text-anchor="middle">`, esc(xlabel), `</text>`, "\n")
	ew.print(`<text class="y-label" x="16" y="`, coord(top+ph/2), `" text-anchor="middle" transform="rotate(-90 16 `, coord(top+ph/2), `)">`, esc(ylabel), `</text>`, "\n")

	if r := p.Reference; r != nil {
		y := coord(py(r.Y))
		ew.print(`<line class="reference" x1="`, coord(left), `" y1="`, y, `" x2="`, coord(left+pw), `" y2="`, y,
			`" stroke="#555555" stroke-width="1.5" stroke-dasharray="6 4"><title>`, esc(r.Label), ` `, num(r.Y), `</title></line>`, "\n")
	}
	for i, s := range p.Series {
		color := palette[i%len(palette)]
		pts := append([]Point(nil), s.Points...)
		sort.SliceStable(pts, func(a, b int) bool { return pts[a].X < pts[b].X })
		var b strings.Builder
		for k, pt := range pts {
			if k > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(coord(px(pt.X)) + "," + coord(py(pt.Y)))
		}
		ew.print(`<g class="series" fill="`, color, `" stroke="`, color, `">`, "\n")
		ew.print(`<polyline points="`, b.String(), `" fill="none" stroke-width="2"/>`, "\n")
		for _, pt := range pts {
			ew.print(`<circle cx="`, coord(px(pt.X)), `" cy="`, coord(py(pt.Y)), `" r="3"><title>`, esc(s.Name), `: `,
				xa.label(pt.X, 100), `%, `, num(pt.Y), `</title></circle>`, "\n")
		}
		ew.print("</g>\n")
	}
	// Legend.
	lx := left + pw + 16
	ew.print(`<g class="legend" font-size="12">`, "\n")
	for i, l := range legend {
		y := top + 8 + float64(i)*18
		if i < len(p.Series) {
			color := palette[i%len(palette)]
			ew.print(`<rect x="`, coord(lx), `" y="`, coord(y-5), `" width="20" height="3" fill="`, color, `"/>`, "\n")
		} else {
			ew.print(`<line x1="`, coord(lx), `" y1="`, coord(y-3.5), `" x2="`, coord(lx+20), `" y2="`, coord(y-3.5), `" stroke="#555555" stroke-width="1.5" stroke-dasharray="6 4"/>`, "\n")
		}
		ew.print(`<text x="`, coord(lx+26), `" y="`, coord(y), `">`, esc(l), `</text>`, "\n")
	}
	ew.print("</g>\n</svg>\n")
	return nil
}
