package report

import (
	"bytes"
	"regexp"
	"strings"
	"testing"

	"github.com/kprune/kprune/prune"
)

// section returns the part of doc from the <h2> titled title to the next <h2>.
func section(t *testing.T, doc, title string) string {
	t.Helper()
	i := strings.Index(doc, "<h2>"+title+"</h2>")
	if i < 0 {
		t.Fatalf("no %q section", title)
	}
	rest := doc[i+len(title)+9:]
	if j := strings.Index(rest, "<h2>"); j >= 0 {
		rest = rest[:j]
	}
	return rest
}

// TestHTMLWarnings: the report's quality warnings are shown in a box at the top.
func TestHTMLWarnings(t *testing.T) {
	r := sampleReport(t)
	r.Warnings = []prune.Warning{{Code: "low-agreement", Message: "agrees on only 56.64% <of> 512"}}
	doc := render(t, r, Extra{})
	w := section(t, doc, "Warnings")
	if !strings.Contains(w, "agrees on only 56.64% &lt;of&gt; 512") || strings.Index(doc, "Warnings") > strings.Index(doc, "<h2>Summary") {
		t.Fatalf("warning missing, unescaped or not first: %s", w)
	}
	if strings.Contains(render(t, sampleReport(t), Extra{}), "<h2>Warnings") {
		t.Fatal("a report without warnings shows a warnings box")
	}
}

// TestHTMLQualityTable: a CLI run's report (self-check only) has no empty original/change
// columns, and the agreement appears once in the page's tables (the summary card aside).
func TestHTMLQualityTable(t *testing.T) {
	r := sampleReport(t)
	doc := render(t, r, Extra{})
	q := section(t, doc, "Quality")
	if strings.Contains(q, "<th>original</th>") || strings.Contains(q, "<th>change</th>") {
		t.Errorf("CLI run: quality table has original/change columns: %s", q)
	}
	if n := strings.Count(q, "91.74%"); n != 1 {
		t.Errorf("CLI run: agreement shown %d times in the quality table: %s", n, q)
	}
	if n := strings.Count(doc, "<td>91.74%"); n != 1 {
		t.Errorf("CLI run: agreement in %d table cells, want 1", n)
	}
	// The demo's extra metrics: an original value brings the columns back; an agreement metric
	// replaces the self-check's.
	e := Extra{Metrics: []Metric{{Name: "SST-2 dev accuracy", Original: f64(0.9), Pruned: f64(0.85)}, {Name: "agreement with the original", Pruned: f64(0.917375)}}}
	q = section(t, render(t, r, e), "Quality")
	if !strings.Contains(q, "<th>original</th>") || strings.Count(q, "agreement") != 1 {
		t.Errorf("demo-style metrics: %s", q)
	}
}

// TestHTMLTablesFit: no table is wider than ten columns (the iterations table, 17 columns
// before, is split into decisions and time), so that pages fit a laptop screen; every table
// scrolls on its own.
func TestHTMLTablesFit(t *testing.T) {
	doc := render(t, sampleReport(t), sampleExtra())
	heads := regexp.MustCompile(`(?s)<thead><tr>(.*?)</tr></thead>`).FindAllStringSubmatch(doc, -1)
	for _, h := range heads {
		if n := strings.Count(h[1], "<th>"); n > 10 {
			t.Errorf("a table has %d columns: %s", n, h[1])
		}
	}
	if strings.Count(doc, `<div class="scroll"><table`) != strings.Count(doc, "<table") {
		t.Error("a table is not in a scrolling container")
	}
	it := section(t, doc, "Iterations")
	for _, want := range []string{"pred mass", "measure s", "peak RSS", "Total"} {
		if !strings.Contains(it, want) {
			t.Errorf("iterations tables lack %q", want)
		}
	}
}

// TestPlotSingleReduction: one reduction gets an x axis of +-0.05 around it (ticks 44% to
// 56% around 50%), not a sliver.
func TestPlotSingleReduction(t *testing.T) {
	var b bytes.Buffer
	p := Plot{Series: []Series{{Name: "K-prune", Points: []Point{{0.5, 0.9}}}}, Reference: &Line{Label: "unpruned", Y: 0.92}}
	if err := PlotSVG(&b, p); err != nil {
		t.Fatal(err)
	}
	for _, tick := range []string{">44<", ">56<"} {
		if !strings.Contains(b.String(), tick) {
			t.Errorf("x axis lacks the tick %s", tick)
		}
	}
	b.Reset()
	p.Series[0].Points[0].X = 0
	if err := PlotSVG(&b, p); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), ">10<") {
		t.Error("a single point at 0: the x axis does not reach 10%")
	}
}
