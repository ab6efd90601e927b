package report

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"math"
	"strconv"
	"strings"
	"testing"
)

func samplePlot() Plot {
	return Plot{
		Title: "SST-2 accuracy <dev>",
		Series: []Series{
			{Name: "K-prune", Points: []Point{{0.8, 0.85}, {0.2, 0.921}, {0.5, 0.91}}},
			{Name: "Kwon et al.", Points: []Point{{0.2, 0.915}, {0.5, 0.88}, {0.8, 0.62}}},
			{Name: "magnitude", Points: []Point{{0.4, 0.7}}},
		},
		Reference: &Line{Label: "unpruned", Y: 0.9243},
	}
}

// element is a parsed SVG element.
type element struct {
	name  string
	attrs map[string]string
	text  string
}

// parseSVG walks the document with a strict XML decoder and returns its elements in order.
func parseSVG(t *testing.T, doc []byte) []element {
	t.Helper()
	d := xml.NewDecoder(bytes.NewReader(doc))
	d.Strict = true
	var els []element
	var stack []int
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("the SVG is not well-formed XML: %v", err)
		}
		switch x := tok.(type) {
		case xml.StartElement:
			e := element{name: x.Name.Local, attrs: map[string]string{}}
			for _, a := range x.Attr {
				e.attrs[a.Name.Local] = a.Value
			}
			els = append(els, e)
			stack = append(stack, len(els)-1)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) > 0 {
				els[stack[len(stack)-1]].text += string(x)
			}
		}
	}
	if len(els) == 0 || els[0].name != "svg" || els[0].attrs["xmlns"] != "http://www.w3.org/2000/svg" {
		t.Fatalf("the root is not an <svg> in the SVG namespace: %+v", els[:min(1, len(els))])
	}
	return els
}

func TestPlotSVGStructure(t *testing.T) {
	p := samplePlot()
	var b bytes.Buffer
	if err := PlotSVG(&b, p); err != nil {
		t.Fatal(err)
	}
	els := parseSVG(t, b.Bytes())
	var polylines, circles, refs int
	texts := map[string]bool{}
	var firstLine []float64
	for _, e := range els {
		switch e.name {
		case "polyline":
			polylines++
			if firstLine == nil {
				for _, pair := range strings.Fields(e.attrs["points"]) {
					x, err := strconv.ParseFloat(strings.Split(pair, ",")[0], 64)
					if err != nil {
						t.Fatalf("bad polyline point %q", pair)
					}
					firstLine = append(firstLine, x)
				}
			}
		case "circle":
			circles++
		case "line":
			if e.attrs["class"] == "reference" {
				refs++
			}
		case "text":
			texts[strings.TrimSpace(e.text)] = true
		}
	}
	if polylines != len(p.Series) {
		t.Errorf("%d polylines, want one per series (%d)", polylines, len(p.Series))
	}
	if circles != 7 {
		t.Errorf("%d point markers, want 7", circles)
	}
	if refs != 1 {
		t.Errorf("%d reference lines, want 1", refs)
	}
	// Points are joined left to right, whatever their input order.
	if len(firstLine) != 3 || !(firstLine[0] < firstLine[1] && firstLine[1] < firstLine[2]) {
		t.Errorf("first series x coordinates %v are not increasing", firstLine)
	}
	// Legend, title, axis labels and tick labels (x as percentages, y covering the reference).
	for _, s := range []string{"K-prune", "Kwon et al.", "magnitude", "unpruned", "SST-2 accuracy <dev>", "FLOPs reduction (%)", "metric", "20", "80", "0.60", "0.95"} {
		if !texts[s] {
			t.Errorf("no text element %q", s)
		}
	}
}

func TestPlotSVGDeterministicAndScaled(t *testing.T) {
	var a, b bytes.Buffer
	if err := PlotSVG(&a, samplePlot()); err != nil {
		t.Fatal(err)
	}
	if err := PlotSVG(&b, samplePlot()); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Fatal("two renderings of the same plot differ")
	}
	// The reference line sits above every point (its y is the largest value).
	els := parseSVG(t, a.Bytes())
	var refY float64
	for _, e := range els {
		if e.name == "line" && e.attrs["class"] == "reference" {
			refY, _ = strconv.ParseFloat(e.attrs["y1"], 64)
		}
	}
	for _, e := range els {
		if e.name == "circle" {
			cy, _ := strconv.ParseFloat(e.attrs["cy"], 64)
			if cy <= refY {
				t.Errorf("a point at y=%v is drawn above the reference line at %v", cy, refY)
			}
		}
	}
	// A single-value plot and a reference-only plot still get a usable axis.
	for _, p := range []Plot{
		{Series: []Series{{Name: "one", Points: []Point{{0.5, 0.9}}}}},
		{Reference: &Line{Label: "unpruned", Y: 0.9}, Width: 300, Height: 200},
	} {
		var c bytes.Buffer
		if err := PlotSVG(&c, p); err != nil {
			t.Fatal(err)
		}
		parseSVG(t, c.Bytes())
		if strings.Contains(c.String(), "NaN") || strings.Contains(c.String(), "Inf") {
			t.Fatalf("degenerate plot has non-finite coordinates:\n%s", c.String())
		}
	}
}

func TestPlotSVGErrors(t *testing.T) {
	cases := map[string]Plot{
		"nothing to draw": {},
		"has no points":   {Series: []Series{{Name: "x"}}},
		"must be finite":  {Series: []Series{{Name: "x", Points: []Point{{0.1, math.NaN()}}}}},
		"too small":       {Series: []Series{{Name: "x", Points: []Point{{0.1, 1}}}}, Width: 50},
	}
	for want, p := range cases {
		if err := PlotSVG(io.Discard, p); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: err = %v", want, err)
		}
	}
}

func TestNiceAxis(t *testing.T) {
	a := newAxis(0.2, 0.8)
	if math.Abs(a.lo-0.2) > 1e-12 || math.Abs(a.hi-0.8) > 1e-12 || len(a.ticks) != 7 {
		t.Errorf("axis over [0.2, 0.8]: lo %v hi %v ticks %v", a.lo, a.hi, a.ticks)
	}
	if got := a.label(0.3, 100); got != "30" {
		t.Errorf("label(0.3, 100) = %q", got)
	}
	b := newAxis(0.62, 0.9243)
	if b.lo > 0.62 || b.hi < 0.9243 || b.hi > 0.96 || math.Abs(b.step-0.05) > 1e-12 {
		t.Errorf("axis over [0.62, 0.9243]: %+v", b)
	}
	if got := b.label(0.65, 1); got != "0.65" {
		t.Errorf("label(0.65) = %q", got)
	}
}

func TestFormatting(t *testing.T) {
	for in, want := range map[int64]string{0: "0", 999: "999", 1000: "1,000", 4385920: "4,385,920", -1234567: "-1,234,567"} {
		if got := intComma(in); got != want {
			t.Errorf("intComma(%d) = %q, want %q", in, got, want)
		}
	}
	if got := flops(2.46e9); got != "2.460 GFLOPs" {
		t.Errorf("flops = %q", got)
	}
	if got := coord(-0.001); got != "0" {
		t.Errorf("coord(-0.001) = %q", got)
	}
}
