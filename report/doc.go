// Package report renders kprune's results for people: HTML writes one self-contained page for a
// pruning run (a prune.Report plus optional latency, metric and chart figures), PlotSVG draws
// an accuracy-versus-FLOPs-reduction line chart, and WriteSummary and WriteWarnings write a run's
// plain-text summary and quality warnings (what `kprune prune` prints).
//
// Everything is written by hand as HTML, CSS and SVG text: no scripts, fonts, images or other
// network references, so a page renders offline and can be attached to an issue or mailed as is.
// Output is deterministic: the same inputs give the same bytes. The package runs nothing and
// prints nothing; it only formats what it is given.
package report
