package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"

	"github.com/kprune/kprune/onnx"
	"github.com/kprune/kprune/pipeline"
)

// cmdReport renders a saved pruning report (the JSON `kprune prune` writes) as a self-contained
// HTML page, optionally with latency figures from `kprune bench --json` and extra figures.
func cmdReport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("report", stderr)
	in := fs.String("in", "", "the JSON run `REPORT` written by kprune prune")
	out := fs.String("out", "", "the HTML `FILE` to write (default: REPORT with .html)")
	benchPath := fs.String("bench", "", "add the latency table from a `FILE` written by kprune bench --json")
	extraPath := fs.String("extra", "", "add metrics, latency rows and plots from a JSON `FILE` (report.Extra: title, latency, metrics, plots, hidden, head_dim)")
	title := fs.String("title", "", "page title")
	force := fs.Bool("force", false, "overwrite the HTML file if it exists")
	setUsage(fs, stderr, "kprune report --in REPORT.json [--out PAGE.html] [--bench BENCH.json] [--extra EXTRA.json] [flags]",
		"Renders a JSON run report written by kprune prune as a self-contained HTML page.")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Sprintf("unexpected argument %q (give the report with --in)", fs.Arg(0))}
	}
	if *in == "" {
		return usageError{"--in is required"}
	}
	if *out == "" {
		*out = trimExt(*in) + ".html"
	}
	if filepath.Clean(*out) == filepath.Clean(*in) {
		return usageError{fmt.Sprintf("--out %s would overwrite the input report", *out)}
	}
	if err := checkOutputs(stderr, *force, *out); err != nil {
		return err
	}
	page, err := pipeline.ReportPage(*in, *benchPath, *extraPath, *title)
	if err != nil {
		return err
	}
	if err := onnx.WriteFileAtomicContext(ctx, *out, page); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s (%d bytes)\n", *out, len(page))
	return nil
}
