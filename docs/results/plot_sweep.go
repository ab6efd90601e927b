//go:build ignore

// plot_sweep draws an accuracy-vs-FLOPs SVG from a sweep table (docs/results/sweep.sh's
// results.tsv rows: model tag reduction achieved metric agreement seconds speedup) with
// report.PlotSVG, one line per tag, for one model:
//
//	go run docs/results/plot_sweep.go -model minilm-l6-sst2 -tags faithful,default -ref 0.8761 TABLE.tsv > OUT.svg
package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"

	"github.com/kprune/kprune/report"
)

func main() {
	model := flag.String("model", "", "model column to plot")
	tags := flag.String("tags", "", "comma-separated tags to plot, in legend order")
	names := flag.String("names", "", "comma-separated legend names for the tags (default: the tags)")
	ref := flag.Float64("ref", 0, "unpruned metric (dashed line; 0: none)")
	title := flag.String("title", "", "chart title")
	ylabel := flag.String("ylabel", "SST-2 dev accuracy", "y axis label")
	flag.Parse()
	f, err := os.Open(flag.Arg(0))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	pts := map[string][]report.Point{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		c := strings.Split(sc.Text(), "\t")
		if len(c) < 5 || c[0] != *model {
			continue
		}
		x, err1 := strconv.ParseFloat(strings.TrimSuffix(c[3], "%"), 64)
		y, err2 := strconv.ParseFloat(c[4], 64)
		if err1 != nil || err2 != nil {
			continue
		}
		pts[c[1]] = append(pts[c[1]], report.Point{X: x / 100, Y: y})
	}
	p := report.Plot{Title: *title, YLabel: *ylabel}
	legend := strings.Split(*names, ",")
	for i, t := range strings.Split(*tags, ",") {
		s := pts[t]
		sort.Slice(s, func(a, b int) bool { return s[a].X < s[b].X })
		name := t
		if i < len(legend) && legend[i] != "" {
			name = legend[i]
		}
		p.Series = append(p.Series, report.Series{Name: name, Points: s})
	}
	if *ref > 0 {
		p.Reference = &report.Line{Label: "unpruned", Y: *ref}
	}
	if err := report.PlotSVG(os.Stdout, p); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
