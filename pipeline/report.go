package pipeline

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"

	"github.com/kprune/kprune/bench"
	"github.com/kprune/kprune/prune"
	"github.com/kprune/kprune/report"
)

// ReportPage renders the JSON run report at path (written by a pruning run) as a self-contained
// HTML page (report.HTML), with the latency table of benchPath (the JSON of a bench.Result, ""
// for none), the extra figures of extraPath (a report.Extra, "" for none) and title ("" for the
// default).
func ReportPage(path, benchPath, extraPath, title string) ([]byte, error) {
	var rep prune.Report
	if err := readJSONFile(path, &rep, false); err != nil {
		return nil, err
	}
	if len(rep.Layers) == 0 && rep.FLOPsBefore == 0 {
		return nil, fmt.Errorf("%s: not a kprune run report (no layers and no FLOPs)", path)
	}
	var extra report.Extra
	if extraPath != "" {
		if err := readJSONFile(extraPath, &extra, true); err != nil {
			return nil, err
		}
	}
	if benchPath != "" {
		var b bench.Result
		if err := readJSONFile(benchPath, &b, true); err != nil {
			return nil, err
		}
		if b.Model.Path == "" || b.Runs == 0 {
			return nil, fmt.Errorf("%s: not a kprune bench --json result (no model or no runs)", benchPath)
		}
		extra.Latency = append(extra.Latency, b.ReportLatency()...)
	}
	if title != "" {
		extra.Title = title
	}
	var buf bytes.Buffer
	if err := report.HTML(&buf, &rep, extra); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return buf.Bytes(), nil
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
