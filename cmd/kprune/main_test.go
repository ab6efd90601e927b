package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kprune/kprune/demo"
	"github.com/kprune/kprune/internal/testutil"
	"github.com/kprune/kprune/prune"
	ort "github.com/kprune/kprune/runtime"
)

// runCLI runs the CLI in-process and returns exit code, stdout and stderr.
func runCLI(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := run(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

// readJSON decodes the JSON file at path into a T, failing the test when it cannot.
func readJSON[T any](t *testing.T, path string) T {
	t.Helper()
	var v T
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return v
}

// readReport reads a prune report (the JSON file written next to a pruned model).
func readReport(t *testing.T, path string) prune.Report { return readJSON[prune.Report](t, path) }

// fileSum is the hex SHA-256 of the file at path.
func fileSum(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// demoFiles writes the embedded demo model, vocabulary and data to a temp folder.
func demoFiles(t *testing.T) (dir, model, vocab, calib, dev string) {
	t.Helper()
	dir = t.TempDir()
	model, vocab = filepath.Join(dir, "model.onnx"), filepath.Join(dir, "vocab.txt")
	calib, dev = filepath.Join(dir, "calib.tsv"), filepath.Join(dir, "dev.tsv")
	lines := strings.SplitAfter(string(demo.CalibTSV), "\n")
	for p, b := range map[string][]byte{model: demo.Model, vocab: demo.Vocab, calib: []byte(strings.Join(lines[:301], "")), dev: demo.DevTSV} {
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return
}

func TestUsageAndUnknownCommand(t *testing.T) {
	if code, out, _ := runCLI("help"); code != 0 || !strings.Contains(out, "prune") {
		t.Fatalf("help: code %d, output %q", code, out)
	}
	if code, _, errOut := runCLI("frobnicate"); code != 2 || !strings.Contains(errOut, "frobnicate") {
		t.Fatalf("unknown command: code %d, stderr %q", code, errOut)
	}
}

func TestInspectJSON(t *testing.T) {
	path := testutil.Shared(t, "models/tiny-bert-sst2/model.onnx")
	code, out, errOut := runCLI("inspect", "--json", path)
	if code != 0 {
		t.Fatalf("inspect: code %d: %s", code, errOut)
	}
	var r map[string]any
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("inspect --json printed invalid JSON: %v", err)
	}
	if r["parameters"].(float64) <= 0 {
		t.Fatalf("parameters = %v", r["parameters"])
	}
}

func TestPruneBadInput(t *testing.T) {
	dir, model, _, calib, _ := demoFiles(t)
	empty := filepath.Join(dir, "empty.tsv")
	os.WriteFile(empty, nil, 0o644)
	headerOnly := filepath.Join(dir, "header.tsv")
	os.WriteFile(headerOnly, []byte("sentence\tlabel\n"), 0o644)
	out := filepath.Join(dir, "out.onnx")
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"reduction 1", []string{"--flops-reduction", "1"}, "[0, 1)"},
		{"reduction negative", []string{"--flops-reduction", "-0.2"}, "[0, 1)"},
		{"out is input", []string{"--out", model}, "input model"},
		{"missing folder", []string{"--out", filepath.Join(dir, "nope", "x.onnx")}, "does not exist"},
		{"empty calibration", []string{"--calib", empty}, "empty"},
		{"header-only calibration", []string{"--calib", headerOnly}, "header"},
		{"missing calibration", []string{"--calib", filepath.Join(dir, "none.tsv")}, "none.tsv"},
		{"not a model", []string{"--model", calib}, "calib.tsv"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			args := map[string]string{"--model": model, "--out": out, "--calib": calib}
			for i := 0; i < len(c.args); i += 2 {
				args[c.args[i]] = c.args[i+1]
			}
			argv := []string{"prune"}
			for k, v := range args {
				argv = append(argv, k, v)
			}
			code, _, errOut := runCLI(argv...)
			if code == 0 || !strings.Contains(errOut, c.want) {
				t.Fatalf("code %d, stderr %q: want a failure mentioning %q", code, errOut, c.want)
			}
			if _, err := os.Stat(out); err == nil {
				t.Fatal("an output model was written despite the error")
			}
		})
	}
	before, _ := os.ReadFile(model)
	if !bytes.Equal(before, demo.Model) {
		t.Fatal("the input model was modified")
	}
}

// TestPruneAndEval runs the real pipeline through the CLI on the demo model.
func TestPruneAndEval(t *testing.T) {
	dir, model, _, calib, dev := demoFiles(t)
	out := filepath.Join(dir, "pruned.onnx")
	code, stdout, errOut := runCLI("prune", "--model", model, "--out", out, "--calib", calib, "--flops-reduction", "0.5", "--samples", "256", "--max-len", "64", "--threads", "2")
	if code != 0 {
		t.Fatalf("prune failed (%d): %s", code, errOut)
	}
	if !strings.Contains(stdout, "achieved") {
		t.Fatalf("no summary table: %s", stdout)
	}
	rep := readJSON[map[string]any](t, filepath.Join(dir, "pruned.json"))
	for _, k := range []string{"requested_flops_reduction", "achieved_flops_reduction", "layers", "self_check", "iterations"} {
		if _, ok := rep[k]; !ok {
			t.Errorf("report lacks %q", k)
		}
	}
	page, err := os.ReadFile(filepath.Join(dir, "pruned.html"))
	if err != nil {
		t.Fatalf("no HTML report: %v", err)
	}
	if !strings.Contains(string(page), "<svg") || strings.Contains(string(page), "http") {
		t.Error("HTML report lacks its charts or references the network")
	}
	if rep["achieved_flops_reduction"].(float64) < 0.5 {
		t.Errorf("achieved %v", rep["achieved_flops_reduction"])
	}
	code, stdout, errOut = runCLI("eval", "--model", out, "--data", dev, "--teacher", model, "--max-len", "64", "--json")
	if code != 0 {
		t.Fatalf("eval failed: %s", errOut)
	}
	var ev map[string]any
	if err := json.Unmarshal([]byte(stdout), &ev); err != nil {
		t.Fatal(err)
	}
	if acc := ev["accuracy"].(float64); acc < 0.6 || acc > 0.95 {
		t.Errorf("accuracy %v out of the plausible range", acc)
	}
	if ag := ev["agreement"].(float64); ag < 0.6 {
		t.Errorf("agreement %v", ag)
	}
	// A second run refuses to overwrite.
	if code, _, errOut := runCLI("prune", "--model", model, "--out", out, "--calib", calib); code == 0 || !strings.Contains(errOut, "exists") {
		t.Fatalf("overwrite: code %d, %s", code, errOut)
	}
}

// TestMissingLibrary runs the test binary again with KPRUNE_ORT_LIB pointing nowhere.
func TestMissingLibrary(t *testing.T) {
	if os.Getenv("KPRUNE_TEST_CHILD") == "1" {
		code := run(context.Background(), []string{"eval", "--model", os.Getenv("KPRUNE_TEST_MODEL"), "--data", os.Getenv("KPRUNE_TEST_DATA"), "--tokenizer", os.Getenv("KPRUNE_TEST_VOCAB")}, os.Stdout, os.Stderr)
		os.Exit(code)
	}
	_, model, vocab, _, dev := demoFiles(t)
	cmd := exec.Command(os.Args[0], "-test.run=^TestMissingLibrary$")
	cmd.Env = append(os.Environ(), "KPRUNE_TEST_CHILD=1", "KPRUNE_ORT_LIB=/nonexistent/libonnxruntime.so", "KPRUNE_TEST_MODEL="+model, "KPRUNE_TEST_DATA="+dev, "KPRUNE_TEST_VOCAB="+vocab)
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("eval without the library succeeded: %s", out)
	}
	if !strings.Contains(string(out), "KPRUNE_ORT_LIB") || !strings.Contains(string(out), "/nonexistent/libonnxruntime.so") {
		t.Fatalf("error does not say what is wrong: %s", out)
	}
}

// TestNoWritesOutsideOutputs runs version, bench, eval and prune as child processes with a fresh,
// empty HOME and TMPDIR and no ORT_DISABLE_TELEMETRY in the environment: afterwards both folders
// must still be empty (the bundled onnxruntime's telemetry SDK writes a device id, an event
// database and debug logs there unless kprune switches it off before loading the library).
func TestNoWritesOutsideOutputs(t *testing.T) {
	if os.Getenv("KPRUNE_TEST_CHILD") == "argv" {
		var args []string
		if err := json.Unmarshal([]byte(os.Getenv("KPRUNE_TEST_ARGS")), &args); err != nil {
			panic(err)
		}
		os.Exit(run(context.Background(), args, os.Stdout, os.Stderr))
	}
	lib, err := ort.LibraryPath()
	if err != nil {
		t.Skipf("onnxruntime library not installed: %v", err)
	}
	dir, model, vocab, calib, dev := demoFiles(t)
	out := filepath.Join(dir, "out.onnx")
	runs := [][]string{
		{"version"},
		{"bench", "--model", model, "--batch", "2", "--seq", "16", "--runs", "3"},
		{"eval", "--model", model, "--data", dev, "--tokenizer", vocab},
		{"prune", "--model", model, "--out", out, "--calib", calib, "--tokenizer", vocab, "--samples", "16", "--max-len", "32"},
	}
	for _, args := range runs {
		home, tmp := t.TempDir(), t.TempDir()
		a, _ := json.Marshal(args)
		cmd := exec.Command(os.Args[0], "-test.run=^TestNoWritesOutsideOutputs$")
		env := []string{"KPRUNE_TEST_CHILD=argv", "KPRUNE_TEST_ARGS=" + string(a), "HOME=" + home, "TMPDIR=" + tmp, ort.EnvLibrary + "=" + lib}
		for _, kv := range os.Environ() {
			switch strings.SplitN(kv, "=", 2)[0] {
			case "HOME", "TMPDIR", "KPRUNE_TEST_CHILD", ort.EnvDisableTelemetry, ort.EnvLibrary:
			default:
				env = append(env, kv)
			}
		}
		cmd.Env = env
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("kprune %s: %v\n%s", strings.Join(args, " "), err, b)
		}
		for _, d := range []string{home, tmp} {
			var left []string
			filepath.WalkDir(d, func(p string, e os.DirEntry, err error) error {
				if p != d {
					left = append(left, p)
				}
				return nil
			})
			if len(left) > 0 {
				t.Errorf("kprune %s wrote outside its outputs: %v", args[0], left)
			}
		}
	}
}

// copyFile copies src to dst.
func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o644); err != nil {
		t.Fatal(err)
	}
}
