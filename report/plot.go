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
	f := newFrame(p, xlo, xhi, ylo, yhi)
	ns := ""
	if standalone {
		ns = ` xmlns="http://www.w3.org/2000/svg"`
	}
	w, h := coord(f.width), coord(f.height)
	ew.print(`<svg`, ns, ` class="plot" width="`, w, `" height="`, h, `" viewBox="0 0 `, w, ` `, h,
		`" role="img" font-family="sans-serif" font-size="12">`, "\n")
	title := p.Title
	if title == "" {
		title = f.ylabel + " vs " + f.xlabel
	}
	ew.print(`<title>`, esc(title), `</title>`, "\n")
	ew.print(`<rect x="0" y="0" width="`, w, `" height="`, h, `" fill="#ffffff"/>`, "\n")
	if p.Title != "" {
		ew.print(`<text x="`, coord(f.width/2), `" y="22" text-anchor="middle" font-size="14" font-weight="bold">`, esc(p.Title), `</text>`, "\n")
	}
	f.drawAxes(ew)
	f.drawData(ew, p)
	f.drawLegend(ew, len(p.Series))
	ew.print("</svg>\n")
	return nil
}

// frame is the layout of a plot: the SVG size, the plotting area (left, top, pw x ph), the axes
// and their labels, and the legend entries (the series, then the reference line).
type frame struct {
	width, height     float64
	left, top, pw, ph float64
	xa, ya            axis
	xlabel, ylabel    string
	legend            []string
}

// newFrame lays out p, whose points span [xlo, xhi] x [ylo, yhi].
func newFrame(p Plot, xlo, xhi, ylo, yhi float64) frame {
	f := frame{width: float64(p.Width), height: float64(p.Height), xlabel: p.XLabel, ylabel: p.YLabel}
	if p.Width == 0 {
		f.width = 640
	}
	if p.Height == 0 {
		f.height = 400
	}
	if f.xlabel == "" {
		f.xlabel = "FLOPs reduction (%)"
	}
	if f.ylabel == "" {
		f.ylabel = "metric"
	}
	// Legend entries decide the right margin.
	f.legend = make([]string, 0, len(p.Series)+1)
	for _, s := range p.Series {
		f.legend = append(f.legend, s.Name)
	}
	if p.Reference != nil {
		f.legend = append(f.legend, p.Reference.Label)
	}
	longest := 0
	for _, l := range f.legend {
		longest = max(longest, len([]rune(l)))
	}
	bottom := 52.0
	f.left, f.top = 64.0, 24.0
	if p.Title != "" {
		f.top = 40
	}
	right := math.Min(24+30+7*float64(longest), f.width/3)
	f.pw, f.ph = f.width-f.left-right, f.height-f.top-bottom
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
	f.xa, f.ya = newAxis(xlo, xhi), newAxis(ylo, yhi)
	return f
}

// px is the SVG x coordinate of x.
func (f *frame) px(x float64) float64 { return f.left + (x-f.xa.lo)/(f.xa.hi-f.xa.lo)*f.pw }

// py is the SVG y coordinate of y.
func (f *frame) py(y float64) float64 { return f.top + f.ph - (y-f.ya.lo)/(f.ya.hi-f.ya.lo)*f.ph }

// drawAxes draws the grid, the axes with their ticks and tick labels, and the axis labels.
func (f *frame) drawAxes(ew *errWriter) {
	left, top, pw, ph := f.left, f.top, f.pw, f.ph
	ew.print(`<g class="grid" stroke="#e0e0e0" stroke-width="1">`, "\n")
	for _, t := range f.xa.ticks {
		ew.print(`<line x1="`, coord(f.px(t)), `" y1="`, coord(top), `" x2="`, coord(f.px(t)), `" y2="`, coord(top+ph), `"/>`, "\n")
	}
	for _, t := range f.ya.ticks {
		ew.print(`<line x1="`, coord(left), `" y1="`, coord(f.py(t)), `" x2="`, coord(left+pw), `" y2="`, coord(f.py(t)), `"/>`, "\n")
	}
	ew.print("</g>\n")
	ew.print(`<g class="axes" stroke="#333333" stroke-width="1">`, "\n")
	ew.print(`<line x1="`, coord(left), `" y1="`, coord(top+ph), `" x2="`, coord(left+pw), `" y2="`, coord(top+ph), `"/>`, "\n")
	ew.print(`<line x1="`, coord(left), `" y1="`, coord(top), `" x2="`, coord(left), `" y2="`, coord(top+ph), `"/>`, "\n")
	for _, t := range f.xa.ticks {
		ew.print(`<line x1="`, coord(f.px(t)), `" y1="`, coord(top+ph), `" x2="`, coord(f.px(t)), `" y2="`, coord(top+ph+5), `"/>`, "\n")
	}
	for _, t := range f.ya.ticks {
		ew.print(`<line x1="`, coord(left-5), `" y1="`, coord(f.py(t)), `" x2="`, coord(left), `" y2="`, coord(f.py(t)), `"/>`, "\n")
	}
	ew.print("</g>\n")
	ew.print(`<g class="tick-labels" fill="#333333">`, "\n")
	for _, t := range f.xa.ticks {
		ew.print(`<text x="`, coord(f.px(t)), `" y="`, coord(top+ph+18), `" text-anchor="middle">`, f.xa.label(t, 100), `</text>`, "\n")
	}
	for _, t := range f.ya.ticks {
		ew.print(`<text x="`, coord(left-8), `" y="`, coord(f.py(t)+4), `" text-anchor="end">`, f.ya.label(t, 1), `</text>`, "\n")
	}
	ew.print("</g>\n")
	ew.print(`<text class="x-label" x="`, coord(left+pw/2), `" y="`, coord(f.height-12), `" text-anchor="middle">`, esc(f.xlabel), `</text>`, "\n")
	ew.print(`<text class="y-label" x="16" y="`, coord(top+ph/2), `" text-anchor="middle" transform="rotate(-90 16 `, coord(top+ph/2), `)">`, esc(f.ylabel), `</text>`, "\n")
}

// drawData draws p's reference line and series (lines through the points sorted by x, and a dot
// with a tooltip per point).
func (f *frame) drawData(ew *errWriter, p Plot) {
	if r := p.Reference; r != nil {
		y := coord(f.py(r.Y))
		ew.print(`<line class="reference" x1="`, coord(f.left), `" y1="`, y, `" x2="`, coord(f.left+f.pw), `" y2="`, y,
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
			b.WriteString(coord(f.px(pt.X)) + "," + coord(f.py(pt.Y)))
		}
		ew.print(`<g class="series" fill="`, color, `" stroke="`, color, `">`, "\n")
		ew.print(`<polyline points="`, b.String(), `" fill="none" stroke-width="2"/>`, "\n")
		for _, pt := range pts {
			ew.print(`<circle cx="`, coord(f.px(pt.X)), `" cy="`, coord(f.py(pt.Y)), `" r="3"><title>`, esc(s.Name), `: `,
				f.xa.label(pt.X, 100), `%, `, num(pt.Y), `</title></circle>`, "\n")
		}
		ew.print("</g>\n")
	}
}

// drawLegend draws the legend right of the plotting area: a colour swatch for each of the
// nSeries series, then a dashed line for the reference.
func (f *frame) drawLegend(ew *errWriter, nSeries int) {
	lx := f.left + f.pw + 16
	ew.print(`<g class="legend" font-size="12">`, "\n")
	for i, l := range f.legend {
		y := f.top + 8 + float64(i)*18
		if i < nSeries {
			color := palette[i%len(palette)]
			ew.print(`<rect x="`, coord(lx), `" y="`, coord(y-5), `" width="20" height="3" fill="`, color, `"/>`, "\n")
		} else {
			ew.print(`<line x1="`, coord(lx), `" y1="`, coord(y-3.5), `" x2="`, coord(lx+20), `" y2="`, coord(y-3.5), `" stroke="#555555" stroke-width="1.5" stroke-dasharray="6 4"/>`, "\n")
		}
		ew.print(`<text x="`, coord(lx+26), `" y="`, coord(y), `">`, esc(l), `</text>`, "\n")
	}
	ew.print("</g>\n")
}
