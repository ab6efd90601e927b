package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/kprune/kprune/compare"
	"github.com/kprune/kprune/demo"
)

// runCompare runs `kprune compare` in-process. (The command table in main.go is not this file's;
// calling cmdCompare directly keeps the test independent of its registration.)
func runCompare(args ...string) (string, string, error) {
	var out, errb bytes.Buffer
	err := cmdCompare(context.Background(), args, &out, &errb)
	return out.String(), errb.String(), err
}

// smallDev writes the first n rows of the demo dev set.
func smallDev(t *testing.T, dir string, n int) string {
	t.Helper()
	lines := strings.SplitAfter(string(demo.DevTSV), "\n")
	p := filepath.Join(dir, "dev-small.tsv")
	if err := os.WriteFile(p, []byte(strings.Join(lines[:n+1], "")), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestCompareDemo runs every method at two reductions on the demo model with tiny settings and
// checks compare.csv, compare.json and compare.svg.
func TestCompareDemo(t *testing.T) {
	dir, model, _, calib, _ := demoFiles(t)
	dev := smallDev(t, dir, 200)
	out := filepath.Join(dir, "cmp")
	stdout, stderr, err := runCompare("--model", model, "--calib", calib, "--eval", dev, "--reductions", "0.4,0.7",
		"--samples", "96", "--max-len", "64", "--threads", "2", "--latency-batch", "4", "--latency-runs", "2", "--out", out)
	if err != nil {
		t.Fatalf("compare failed: %v\n%s", err, stderr)
	}
	for _, want := range []string{"unpruned", "kprune", "kwon", "magnitude", "accuracy", "speed-up"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("the table lacks %q:\n%s", want, stdout)
		}
	}
	checkCompareCSV(t, filepath.Join(out, "compare.csv"))
	checkCompareJSON(t, filepath.Join(out, "compare.json"))
	checkCompareSVG(t, filepath.Join(out, "compare.svg"))

	// A second run refuses to overwrite the results.
	if _, _, err := runCompare("--model", model, "--calib", calib, "--eval", dev, "--methods", "magnitude", "--reductions", "0.5", "--out", out); err == nil || !strings.Contains(err.Error(), "exists") {
		t.Errorf("second run into the same folder: %v", err)
	}
}

// compareWant are the rows TestCompareDemo expects, in order.
var compareWant = []struct {
	method string
	r      float64
}{{"unpruned", 0}, {"kprune", 0.4}, {"kprune", 0.7}, {"kwon", 0.4}, {"kwon", 0.7}, {"magnitude", 0.4}, {"magnitude", 0.7}}

// checkCompareCSV checks the rows of TestCompareDemo's compare.csv.
func checkCompareCSV(t *testing.T, path string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatalf("compare.csv: %v", err)
	}
	if strings.Join(recs[0], ",") != strings.Join(compare.CSVHeader, ",") {
		t.Fatalf("header %v", recs[0])
	}
	col := map[string]int{}
	for i, h := range recs[0] {
		col[h] = i
	}
	want := compareWant
	if len(recs) != 1+len(want) {
		t.Fatalf("compare.csv has %d rows, want %d:\n%v", len(recs)-1, len(want), recs)
	}
	num := func(rec []string, name string) float64 {
		v, err := strconv.ParseFloat(rec[col[name]], 64)
		if err != nil {
			t.Fatalf("column %s = %q: %v", name, rec[col[name]], err)
		}
		return v
	}
	for i, w := range want {
		rec := recs[i+1]
		if rec[col["method"]] != w.method || num(rec, "requested_reduction") != w.r {
			t.Errorf("row %d is %s at %s, want %s at %v", i+1, rec[col["method"]], rec[col["requested_reduction"]], w.method, w.r)
		}
		if e := rec[col["error"]]; e != "" {
			t.Errorf("row %d failed: %s", i+1, e)
			continue
		}
		if rec[col["metric"]] != "accuracy" {
			t.Errorf("row %d metric %q", i+1, rec[col["metric"]])
		}
		got := num(rec, "achieved_flops_reduction")
		if got < w.r || got > w.r+0.05 {
			t.Errorf("row %d: achieved %v for %v", i+1, got, w.r)
		}
		if mac := num(rec, "achieved_mac_reduction"); mac < w.r || mac-got > 1e-9 || got-mac > 1e-9 {
			t.Errorf("row %d: MAC reduction %v, FLOPs reduction %v", i+1, mac, got)
		}
		if acc := num(rec, "value"); acc < 0.3 || acc > 1 {
			t.Errorf("row %d: accuracy %v", i+1, acc)
		}
		if i > 0 && (num(rec, "speedup") <= 0 || num(rec, "params") >= num(recs[1], "params")) {
			t.Errorf("row %d: speed-up %v, params %v (unpruned %v)", i+1, num(rec, "speedup"), num(rec, "params"), num(recs[1], "params"))
		}
	}
}

// checkCompareJSON checks TestCompareDemo's compare.json.
func checkCompareJSON(t *testing.T, path string) {
	t.Helper()
	want := compareWant
	var res compare.Result
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &res); err != nil {
		t.Fatalf("compare.json: %v", err)
	}
	if len(res.Rows) != len(want)-1 || res.Calibration.Sequences != 96 || res.Examples != 200 || res.Unpruned.Value <= 0 {
		t.Errorf("compare.json: %d rows, %d calibration sequences, %d examples, unpruned %v", len(res.Rows), res.Calibration.Sequences, res.Examples, res.Unpruned.Value)
	}
	for _, r := range res.Rows {
		if (r.Method == "kwon") != (r.Kwon != nil) {
			t.Errorf("%s row: kwon details %v", r.Method, r.Kwon)
		}
	}
}

// checkCompareSVG checks that TestCompareDemo's compare.svg is well-formed XML with one line per
// method and the unpruned reference line.
func checkCompareSVG(t *testing.T, path string) {
	t.Helper()
	svg, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	polylines, references := 0, 0
	d := xml.NewDecoder(bytes.NewReader(svg))
	d.Strict = true
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("compare.svg is not well-formed XML: %v", err)
		}
		if se, ok := tok.(xml.StartElement); ok {
			switch se.Name.Local {
			case "polyline":
				polylines++
			case "line":
				for _, a := range se.Attr {
					if a.Name.Local == "class" && a.Value == "reference" {
						references++
					}
				}
			}
		}
	}
	if polylines != 3 || references != 1 {
		t.Errorf("compare.svg has %d lines and %d reference lines, want 3 and 1", polylines, references)
	}
}

func TestCompareBadInput(t *testing.T) {
	dir, model, _, calib, dev := demoFiles(t)
	unlabelled := filepath.Join(dir, "unlabelled.tsv")
	var b strings.Builder
	for i, line := range strings.Split(string(demo.CalibTSV), "\n")[:50] {
		if i == 0 {
			b.WriteString("sentence\n")
			continue
		}
		b.WriteString(strings.Split(line, "\t")[0] + "\n")
	}
	os.WriteFile(unlabelled, []byte(b.String()), 0o644)
	cases := []struct {
		name  string
		args  []string
		usage bool
		want  string
	}{
		{"missing eval", []string{"--eval", ""}, true, "required"},
		{"unknown method", []string{"--methods", "kprune,obd"}, true, `"obd"`},
		{"no method", []string{"--methods", ","}, true, "no method"},
		{"bad reduction", []string{"--reductions", "0.5,1.2"}, true, "[0, 1)"},
		{"not a number", []string{"--reductions", "half"}, true, `"half"`},
		{"kwon without labels", []string{"--calib", unlabelled, "--methods", "kwon"}, false, "label"},
		{"eval without labels", []string{"--eval", unlabelled, "--methods", "magnitude"}, false, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			args := map[string]string{"--model": model, "--calib": calib, "--eval": dev, "--out": filepath.Join(t.TempDir(), "o"),
				"--samples": "32", "--max-len": "64", "--latency-runs": "0", "--threads": "2", "--reductions": "0.5"}
			for i := 0; i < len(c.args); i += 2 {
				args[c.args[i]] = c.args[i+1]
			}
			var argv []string
			for k, v := range args {
				argv = append(argv, k, v)
			}
			_, _, err := runCompare(argv...)
			if c.want == "" {
				// Without labels the metric falls back to agreement with the unpruned model.
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				b, _ := os.ReadFile(filepath.Join(args["--out"], "compare.json"))
				var res compare.Result
				if json.Unmarshal(b, &res) != nil || res.Metric != "agreement" || len(res.Rows) != 1 {
					t.Fatalf("compare.json without eval labels: %s", b)
				}
				return
			}
			var ue usageError
			if err == nil || !strings.Contains(err.Error(), c.want) || errors.As(err, &ue) != c.usage {
				t.Fatalf("got %v (usage error %v), want an error mentioning %q (usage %v)", err, errors.As(err, &ue), c.want, c.usage)
			}
		})
	}
}

// TestPruneMethods runs `kprune prune --method` for the baselines and checks labels are required
// for kwon.
func TestPruneMethods(t *testing.T) {
	dir, model, _, calib, _ := demoFiles(t)
	unlabelled := filepath.Join(dir, "unlabelled.tsv")
	lines := strings.Split(string(demo.CalibTSV), "\n")[:60]
	for i := range lines {
		lines[i] = strings.Split(lines[i], "\t")[0]
	}
	os.WriteFile(unlabelled, []byte(strings.Join(lines, "\n")+"\n"), 0o644)
	cases := []struct {
		method, calib string
		code          int
		want          string
	}{
		{"kwon", calib, 0, `"method": "kwon"`},
		{"magnitude", calib, 0, `"method": "magnitude"`},
		{"kwon", unlabelled, 1, "label"},
		{"obd", calib, 2, "unknown pruning method"},
	}
	for _, c := range cases {
		t.Run(c.method+"_"+filepath.Base(c.calib), func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "p.onnx")
			code, _, errOut := runCLI("prune", "--model", model, "--out", out, "--calib", c.calib, "--method", c.method,
				"--flops-reduction", "0.5", "--samples", "64", "--max-len", "64", "--threads", "2")
			if code != c.code {
				t.Fatalf("exit code %d, want %d: %s", code, c.code, errOut)
			}
			if c.code != 0 {
				if !strings.Contains(errOut, c.want) {
					t.Fatalf("stderr %q does not mention %q", errOut, c.want)
				}
				return
			}
			b, err := os.ReadFile(filepath.Join(filepath.Dir(out), "p.json"))
			if err != nil || !strings.Contains(string(b), c.want) {
				t.Fatalf("report lacks %q (%v)", c.want, err)
			}
			var rep struct {
				Achieved float64 `json:"achieved_flops_reduction"`
			}
			if json.Unmarshal(b, &rep) != nil || rep.Achieved < 0.5 {
				t.Fatalf("achieved %v", rep.Achieved)
			}
		})
	}
}
