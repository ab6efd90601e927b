package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/kprune/kprune/bench"
	"github.com/kprune/kprune/onnx"
	"github.com/kprune/kprune/prune"
	"github.com/kprune/kprune/report"
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
	var rep prune.Report
	if err := readJSONFile(*in, &rep, false); err != nil {
		return err
	}
	if len(rep.Layers) == 0 && rep.FLOPsBefore == 0 {
		return fmt.Errorf("%s: not a kprune run report (no layers and no FLOPs)", *in)
	}
	var extra report.Extra
	if *extraPath != "" {
		if err := readJSONFile(*extraPath, &extra, true); err != nil {
			return err
		}
	}
	if *benchPath != "" {
		var b bench.Result
		if err := readJSONFile(*benchPath, &b, true); err != nil {
			return err
		}
		if b.Model.Path == "" || b.Runs == 0 {
			return fmt.Errorf("%s: not a kprune bench --json result (no model or no runs)", *benchPath)
		}
		extra.Latency = append(extra.Latency, b.ReportLatency()...)
	}
	if *title != "" {
		extra.Title = *title
	}
	var buf bytes.Buffer
	if err := report.HTML(&buf, &rep, extra); err != nil {
		return fmt.Errorf("%s: %w", *in, err)
	}
	if err := onnx.WriteFileAtomicContext(ctx, *out, buf.Bytes()); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s (%d bytes)\n", *out, buf.Len())
	return nil
}

// readJSONFile decodes the JSON file path into v. strict rejects unknown fields, so that a wrong
// file is reported rather than silently rendered empty.
func readJSONFile(path string, v any, strict bool) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	d := json.NewDecoder(bytes.NewReader(b))
	if strict {
		d.DisallowUnknownFields()
	}
	if err := d.Decode(v); err != nil {
		return fmt.Errorf("%s: not the expected JSON: %w", path, err)
	}
	return nil
}
