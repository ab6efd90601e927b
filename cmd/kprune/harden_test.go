package main

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/kprune/kprune/internal/testutil"
	"github.com/kprune/kprune/prune"
	ort "github.com/kprune/kprune/runtime"
)

// TestPruneRejectsBadOptionsUpFront: nonsense option values are usage errors naming the flag,
// found before anything is read (the model and calibration paths here do not exist).
func TestPruneRejectsBadOptionsUpFront(t *testing.T) {
	dir := t.TempDir()
	base := []string{"prune", "--model", filepath.Join(dir, "missing.onnx"), "--out", filepath.Join(dir, "out.onnx"), "--calib", filepath.Join(dir, "missing.tsv")}
	cases := [][]string{
		{"--lambda", "NaN"}, {"--mu", "NaN"}, {"--lambda", "Inf"}, {"--lambda", "-1"}, {"--mu", "-1"},
		{"--temperature", "0"}, {"--temperature", "-2"}, {"--threads", "-1"}, {"--micro-batch", "-1"},
		{"--round-to", "-1"}, {"--seq-len", "-3"}, {"--flops-reduction", "NaN"}, {"--provider", "tpu"},
	}
	for _, c := range cases {
		code, _, errOut := runCLI(append(append([]string(nil), base...), c...)...)
		if code != 2 || !strings.Contains(errOut, c[0]) || strings.Contains(errOut, "missing") {
			t.Errorf("%s %s: code %d, stderr %q; want a usage error naming %s before any file is read", c[0], c[1], code, errOut, c[0])
		}
	}
}

// TestFormatFlag: a data file whose extension says nothing is read with --format, and the
// error without it names the flag that exists.
func TestFormatFlag(t *testing.T) {
	dir, model, vocab, _, dev := demoFiles(t)
	txt := filepath.Join(dir, "dev.txt")
	copyFile(t, dev, txt)
	code, _, errOut := runCLI("eval", "--model", model, "--tokenizer", vocab, "--data", txt)
	if code == 0 || !strings.Contains(errOut, "--format") {
		t.Fatalf("eval without --format: code %d, stderr %q; want advice naming --format", code, errOut)
	}
	code, out, errOut := runCLI("eval", "--model", model, "--tokenizer", vocab, "--data", txt, "--format", "tsv", "--max-len", "64")
	if code != 0 || !strings.Contains(out, "accuracy") {
		t.Fatalf("eval --format tsv: code %d, stdout %q, stderr %q", code, out, errOut)
	}
	missing := filepath.Join(dir, "missing")
	for _, args := range [][]string{
		{"prune", "--model", missing, "--out", filepath.Join(dir, "o.onnx"), "--calib", missing},
		{"eval", "--model", missing, "--data", missing},
		{"compare", "--model", missing, "--calib", missing, "--eval", missing, "--out", dir},
		{"tokenize", "--tokenizer", missing, "--data", missing},
	} {
		cmd := args[0]
		code, _, errOut := runCLI(append(args, "--format", "xml")...)
		if code != 2 || !strings.Contains(errOut, "xml") {
			t.Errorf("%s --format xml: code %d, stderr %q; want a usage error", cmd, code, errOut)
		}
	}
}

// TestLateFailuresUpFront: an unwritable output folder, --max-len or --seq beyond the model's
// position table, and unlabelled evaluation data fail before any long work, with clear errors.
func TestLateFailuresUpFront(t *testing.T) {
	dir, model, vocab, calib, dev := demoFiles(t)
	missing := filepath.Join(dir, "missing.tsv")
	// /proc refuses new files even to root; chmod would not stop a root test run.
	code, _, errOut := runCLI("prune", "--model", model, "--out", "/proc/kprune-out.onnx", "--calib", missing)
	if code == 0 || !strings.Contains(errOut, "not writable") {
		t.Errorf("unwritable folder: code %d, stderr %q; want 'not writable' before the calibration file is read", code, errOut)
	}
	out := filepath.Join(dir, "out.onnx")
	runs := [][]string{
		{"prune", "--model", model, "--out", out, "--calib", calib, "--max-len", "600"},
		{"eval", "--model", model, "--data", dev, "--max-len", "600"},
		{"eval", "--model", model, "--data", dev, "--teacher", model, "--max-len", "513"},
		{"bench", "--model", model, "--seq", "600", "--runs", "1"},
		{"compare", "--model", model, "--calib", calib, "--eval", dev, "--out", dir, "--max-len", "600"},
	}
	for _, args := range runs {
		code, _, errOut := runCLI(args...)
		if code != 2 || !strings.Contains(errOut, "at most 512 tokens") || strings.Contains(errOut, "onnxruntime") {
			t.Errorf("%v: code %d, stderr %q; want a usage error about the 512 positions", args, code, errOut)
		}
	}
	if _, err := os.Stat(out); err == nil {
		t.Error("an output was written")
	}
	// Unlabelled data: an error without --teacher, the agreement with it.
	unl := filepath.Join(dir, "unlabelled.tsv")
	if err := os.WriteFile(unl, []byte("sentence\na fine film\na dull film\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out2, errOut := runCLI("eval", "--model", model, "--tokenizer", vocab, "--data", unl)
	if code == 0 || !strings.Contains(errOut, "no labels") || !strings.Contains(errOut, "--teacher") {
		t.Errorf("eval on unlabelled data: code %d, stdout %q, stderr %q; want an error saying there are no labels", code, out2, errOut)
	}
	code, out2, errOut = runCLI("eval", "--model", model, "--tokenizer", vocab, "--data", unl, "--teacher", model)
	if code != 0 || !strings.Contains(out2, "agreement") || !strings.Contains(out2, "no labels") {
		t.Errorf("eval on unlabelled data with --teacher: code %d, stdout %q, stderr %q", code, out2, errOut)
	}
}

// TestUsageAndFlagErrors: every command's -h has the same format; a bad flag value prints the
// error once with a short hint, not the flag list; flags may follow positional arguments.
func TestUsageAndFlagErrors(t *testing.T) {
	for name := range commands() {
		code, _, errOut := runCLI(name, "-h")
		if code != 0 || !strings.HasPrefix(errOut, "usage: kprune "+name) || !strings.Contains(errOut, "\nflags:\n") {
			t.Errorf("%s -h: code %d, stderr %q; want 'usage: kprune %s ...' and a flags section", name, code, errOut, name)
		}
	}
	// --micro-batch and --low-memory say what they change (float32 rounding), not "same results".
	if _, _, help := runCLI("prune", "-h"); strings.Contains(help, "same results") || strings.Count(help, "float32 rounding") != 2 {
		t.Errorf("prune -h promises identical results or does not give the tolerance")
	}
	code, _, errOut := runCLI("prune", "--lambda", "abc")
	if code != 2 || strings.Count(errOut, "abc") != 1 || strings.Contains(errOut, "usage:") || !strings.Contains(errOut, "kprune prune -h") || strings.Count(errOut, "\n") > 3 {
		t.Errorf("bad flag value: code %d, stderr %q; want the error once and a hint", code, errOut)
	}
	path := testutil.Shared(t, "models/tiny-bert-sst2/model.onnx")
	code, out, errOut := runCLI("inspect", path, "--json", "--seq", "64")
	if code != 0 || !json.Valid([]byte(out)) || !strings.Contains(out, `"seq_len": 64`) {
		t.Errorf("inspect MODEL --json --seq 64: code %d, stderr %q, stdout %.200q", code, errOut, out)
	}
	if code, _, _ := runCLI("inspect", path, "extra.onnx"); code != 2 {
		t.Errorf("two positional arguments: code %d, want 2", code)
	}
}

// TestReportDoesNotOverwrite: report, like prune, refuses to replace its output without --force.
func TestReportDoesNotOverwrite(t *testing.T) {
	dir := t.TempDir()
	in, out := filepath.Join(dir, "run.json"), filepath.Join(dir, "run.html")
	rep := prune.Report{Method: "kprune", FLOPsBefore: 2e9, FLOPsAfter: 1e9, Layers: []prune.LayerUnits{{Heads: 1, FFN: 3}}}
	b, _ := json.Marshal(rep)
	if err := os.WriteFile(in, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(out, []byte("mine"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, errOut := runCLI("report", "--in", in)
	if code == 0 || !strings.Contains(errOut, "--force") {
		t.Fatalf("existing output: code %d, stderr %q", code, errOut)
	}
	if b, _ := os.ReadFile(out); string(b) != "mine" {
		t.Fatal("the existing file was replaced")
	}
	if code, _, errOut := runCLI("report", "--in", in, "--force"); code != 0 {
		t.Fatalf("--force: code %d, %s", code, errOut)
	}
}

// checkEmpty fails when dir holds any file.
func checkEmpty(t *testing.T, dir string) {
	t.Helper()
	es, _ := os.ReadDir(dir)
	for _, e := range es {
		t.Errorf("left behind: %s", e.Name())
	}
}

// TestPruneWarningsStrictAndStaleTemps prunes with a two-sentence calibration file: the run
// warns (few distinct sequences, no held-out rows for the self-check), records the warnings in
// both reports, and with --strict exits 1 after writing its outputs. Temporary files that a
// killed run left for these outputs are removed first; other files are not touched.
func TestPruneWarningsStrictAndStaleTemps(t *testing.T) {
	dir, model, vocab, _, _ := demoFiles(t)
	calib := filepath.Join(dir, "two.tsv")
	if err := os.WriteFile(calib, []byte("sentence\tlabel\na gripping , moving film\t1\na tedious mess\t0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out.onnx")
	old := time.Now().Add(-time.Hour)
	stale, fresh, other := filepath.Join(dir, ".out.onnx.tmp-123"), filepath.Join(dir, ".out.onnx.tmp-456"), filepath.Join(dir, ".model.onnx.tmp-1")
	for _, p := range []string{stale, fresh, other} {
		if err := os.WriteFile(p, []byte("partial"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	os.Chtimes(stale, old, old)
	os.Chtimes(other, old, old)
	future := time.Now().Add(time.Hour) // "newer than this process": another run's write in progress
	os.Chtimes(fresh, future, future)
	code, stdout, errOut := runCLI("prune", "--model", model, "--tokenizer", vocab, "--out", out, "--calib", calib, "--samples", "64", "--max-len", "32", "--threads", "2", "--strict")
	if code != 1 || !strings.Contains(errOut, "--strict") || !strings.Contains(stdout, "wrote") {
		t.Fatalf("--strict with warnings: code %d, stdout %q, stderr %q", code, stdout, errOut)
	}
	for _, w := range []string{"only 2 distinct sequences", "not checked against the original"} {
		if !strings.Contains(errOut, "warning: ") || !strings.Contains(errOut, w) {
			t.Errorf("stderr lacks the warning %q: %s", w, errOut)
		}
	}
	rep := readReport(t, filepath.Join(dir, "out.json"))
	codes := map[string]bool{}
	for _, w := range rep.Warnings {
		codes[w.Code] = true
	}
	if !codes["few-calibration-sequences"] || !codes["no-self-check"] || rep.Calibration.Distinct != 2 {
		t.Errorf("report warnings %+v, distinct %d", rep.Warnings, rep.Calibration.Distinct)
	}
	page, _ := os.ReadFile(filepath.Join(dir, "out.html"))
	if !strings.Contains(string(page), "<h2>Warnings</h2>") {
		t.Error("the HTML report does not show the warnings")
	}
	if _, err := os.Stat(stale); err == nil {
		t.Error("the stale temporary file was not removed")
	}
	for _, p := range []string{fresh, other} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("%s was removed", filepath.Base(p))
		}
	}
}

// TestPruneInterrupted sends SIGINT to a child prune: it stops with an error and leaves no
// output and no temporary file.
func TestPruneInterrupted(t *testing.T) {
	if os.Getenv("KPRUNE_TEST_CHILD") == "sigint" {
		var args []string
		if err := json.Unmarshal([]byte(os.Getenv("KPRUNE_TEST_ARGS")), &args); err != nil {
			panic(err)
		}
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
		defer stop()
		os.Exit(run(ctx, args, os.Stdout, os.Stderr))
	}
	if _, err := ort.LibraryPath(); err != nil {
		t.Skipf("onnxruntime library not installed: %v", err)
	}
	dir, model, vocab, calib, _ := demoFiles(t)
	outDir := filepath.Join(dir, "out")
	os.Mkdir(outDir, 0o755)
	a, _ := json.Marshal([]string{"prune", "--model", model, "--tokenizer", vocab, "--out", filepath.Join(outDir, "p.onnx"), "--calib", calib, "--samples", "20000", "--threads", "1"})
	cmd := exec.Command(os.Args[0], "-test.run=^TestPruneInterrupted$")
	cmd.Env = append(os.Environ(), "KPRUNE_TEST_CHILD=sigint", "KPRUNE_TEST_ARGS="+string(a))
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1500 * time.Millisecond)
	cmd.Process.Signal(os.Interrupt)
	cmd.Wait()
	if code := cmd.ProcessState.ExitCode(); code != 130 || !strings.Contains(stderr.String(), "interrupted") {
		t.Fatalf("interrupted prune: exit code %d, stderr %q", code, stderr.String())
	}
	checkEmpty(t, outDir)
}

// TestDemo runs the demo on a small calibration sample: the HTML report gives both model file
// sizes and the agreement once; a second run refuses to overwrite the outputs.
func TestDemo(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "demo")
	code, stdout, errOut := runCLI("demo", "--out", dir, "--samples", "96", "--threads", "2")
	if code != 0 {
		t.Fatalf("demo: code %d, stdout %q, stderr %q", code, stdout, errOut)
	}
	page, err := os.ReadFile(filepath.Join(dir, "report.html"))
	if err != nil {
		t.Fatal(err)
	}
	doc := string(page)
	if !regexp.MustCompile(`model file size</td><td>[0-9.]+ MB → [0-9.]+ MB<`).MatchString(doc) {
		i := strings.Index(doc, "model file size")
		t.Errorf("model file sizes: %q", doc[i:min(len(doc), i+60)])
	}
	if n := strings.Count(doc, "<td>agreement with the original"); n != 1 {
		t.Errorf("agreement in %d table rows, want 1", n)
	}
	code, _, errOut = runCLI("demo", "--out", dir)
	if code == 0 || !strings.Contains(errOut, "already exists") {
		t.Fatalf("second demo: code %d, stderr %q; want a refusal to overwrite", code, errOut)
	}
}

// TestHeaderFlag: CoLA's original header-less TSV is read with --header no and explicit columns.
func TestHeaderFlag(t *testing.T) {
	_, model, vocab, _, _ := demoFiles(t)
	cola := filepath.Join(testutil.RepoRoot(), "data", "testdata", "glue", "cola.tsv")
	code, out, errOut := runCLI("eval", "--model", model, "--tokenizer", vocab, "--data", cola, "--header", "no", "--columns", "3", "--label", "1", "--json")
	if code != 0 || !strings.Contains(out, `"examples": 3`) || !strings.Contains(out, `"accuracy"`) {
		t.Fatalf("eval --header no: code %d, %s %s", code, out, errOut)
	}
	if code, _, errOut := runCLI("eval", "--model", model, "--data", cola, "--header", "maybe"); code != 2 || !strings.Contains(errOut, "--header") {
		t.Fatalf("--header maybe: code %d: %s", code, errOut)
	}
}
