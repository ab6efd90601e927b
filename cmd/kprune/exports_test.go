package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/kprune/kprune/eval"
	"github.com/kprune/kprune/graph"
	"github.com/kprune/kprune/internal/testmodel"
	"github.com/kprune/kprune/internal/testutil"
	"github.com/kprune/kprune/onnx"
	"github.com/kprune/kprune/prune"
)

// idsFile writes n random sequences of token ids below vocab (with a 0/1 label) as JSONL.
func idsFile(t *testing.T, dir string, vocab, n int) string {
	t.Helper()
	r := rand.New(rand.NewPCG(7, 7))
	var b strings.Builder
	for range n {
		ids := []int{0}
		for range 4 + r.IntN(20) {
			ids = append(ids, 3+r.IntN(vocab-3))
		}
		ids = append(ids, 2)
		row, _ := json.Marshal(map[string]any{"input_ids": ids, "label": r.IntN(2)})
		b.Write(row)
		b.WriteByte('\n')
	}
	p := filepath.Join(dir, "ids.jsonl")
	if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestExportsEndToEnd runs the whole job on every exporter/family fixture of
// ../shared/models/exports on token ids: inspect finds the structure of meta.json, prune at 50%
// runs twice to byte-identical models, eval compares the pruned model with the original, and
// bench measures both. DeBERTa is refused with one line naming it.
func TestExportsEndToEnd(t *testing.T) {
	for _, x := range testutil.Exports(t) {
		t.Run(x.Name, func(t *testing.T) {
			code, out, errOut := runCLI("inspect", "--json", x.Path)
			if x.Family == "deberta-v2" {
				if !strings.Contains(out, "DeBERTa") {
					t.Fatalf("inspect: want the encoder error to name DeBERTa, got %s %s", out, errOut)
				}
				code, _, errOut = runCLI("prune", "--model", x.Path, "--calib", x.Path, "--out", filepath.Join(t.TempDir(), "o.onnx"))
				if code == 0 || !strings.Contains(errOut, "DeBERTa") || strings.Count(strings.TrimSpace(errOut), "\n") > 0 {
					t.Fatalf("prune: want a one-line refusal naming DeBERTa, got code %d: %s", code, errOut)
				}
				return
			}
			if code != 0 {
				t.Fatalf("inspect: code %d: %s", code, errOut)
			}
			var in struct {
				Layers  []struct{ Heads, FFN int }
				HeadDim int    `json:"head_dim"`
				Head    string `json:"head_kind"`
			}
			if err := json.Unmarshal([]byte(out), &in); err != nil {
				t.Fatal(err)
			}
			if len(in.Layers) != x.Layers || in.HeadDim != x.HeadDim || in.Head != x.HeadKind || in.Layers[0].Heads != x.Heads || in.Layers[0].FFN != x.FFN {
				t.Fatalf("inspect found %+v; meta.json says %d layers of %d heads of %d, FFN %d, %s head", in, x.Layers, x.Heads, x.HeadDim, x.FFN, x.HeadKind)
			}
			m, _, err := prune.LoadModel(x.Path)
			if err != nil {
				t.Fatal(err)
			}
			_, enc, _, _, err := prune.Structure(m)
			if err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			ids := idsFile(t, dir, enc.VocabRows(m), 80)
			var models [2][]byte
			for i := range models {
				o := filepath.Join(dir, fmt.Sprintf("p%d.onnx", i))
				code, _, errOut := runCLI("prune", "--model", x.Path, "--calib", ids, "--out", o, "--samples", "32", "--flops-reduction", "0.5")
				if code != 0 {
					t.Fatalf("prune: code %d: %s", code, errOut)
				}
				if models[i], err = os.ReadFile(o); err != nil {
					t.Fatal(err)
				}
			}
			if !bytes.Equal(models[0], models[1]) {
				t.Fatal("two prune runs wrote different models")
			}
			rep := readReport(t, filepath.Join(dir, "p0.json"))
			if rep.AchievedReduction < 0.45 || rep.Head != x.HeadKind || rep.Loss == "" || len(rep.HeadOutputs) == 0 {
				t.Fatalf("report: reduction %.3f, head %q, loss %q, outputs %v", rep.AchievedReduction, rep.Head, rep.Loss, rep.HeadOutputs)
			}
			pruned := filepath.Join(dir, "p0.onnx")
			code, out, errOut = runCLI("eval", "--model", pruned, "--teacher", x.Path, "--data", ids, "--json")
			if code != 0 {
				t.Fatalf("eval: code %d: %s", code, errOut)
			}
			var ev eval.Result
			if err := json.Unmarshal([]byte(out), &ev); err != nil {
				t.Fatal(err)
			}
			if ev.Examples != 80 || ev.Agreement == nil || *ev.Agreement <= 0 {
				t.Fatalf("eval: %s", out)
			}
			code, _, errOut = runCLI("bench", "--model", pruned, "--baseline", x.Path, "--batch", "2", "--seq", "16", "--runs", "2")
			if code != 0 {
				t.Fatalf("bench: code %d: %s", code, errOut)
			}
		})
	}
}

// TestNormalizedPoolingMatchesGraph: the same weights exported with sentence-transformers'
// mean pooling and L2 normalisation in the graph, and with hidden states only pruned with
// --pooling mean+norm, take the same loss, so they keep the same units in every layer.
func TestNormalizedPoolingMatchesGraph(t *testing.T) {
	cfg, err := testmodel.Preset("sentence-pooled")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	var layers [2][]prune.LayerUnits
	var pred [2][]float64 // predictive knowledge mass per sublayer: the loss's gradients
	for i, pooled := range []bool{true, false} {
		c := cfg
		c.Pooling, c.Vocab = pooled, 50
		m, err := testmodel.Build(c)
		if err != nil {
			t.Fatal(err)
		}
		model := filepath.Join(dir, fmt.Sprintf("m%d.onnx", i))
		if err := onnx.Save(model, m, onnx.SaveOptions{}); err != nil {
			t.Fatal(err)
		}
		args := []string{"prune", "--model", model, "--calib", idsFile(t, dir, c.Vocab, 80), "--samples", "64", "--flops-reduction", "0.5", "--out", filepath.Join(dir, fmt.Sprintf("p%d.onnx", i))}
		if !pooled {
			args = append(args, "--pooling", "mean+norm")
		}
		if code, _, errOut := runCLI(args...); code != 0 {
			t.Fatalf("prune (pooled in graph %v): exit %d: %s", pooled, code, errOut)
		}
		rep := readReport(t, filepath.Join(dir, fmt.Sprintf("p%d.json", i)))
		if wantHead := map[bool]string{true: "embedding", false: "none"}[pooled]; rep.Head != wantHead {
			t.Fatalf("pooled in graph %v: head %q, want %q", pooled, rep.Head, wantHead)
		}
		layers[i] = rep.Layers
		for _, it := range rep.Iterations {
			pred[i] = append(pred[i], it.PredMass)
		}
	}
	if fmt.Sprint(layers[0]) != fmt.Sprint(layers[1]) {
		t.Fatalf("units kept with pooling in the graph %v, with --pooling mean+norm %v", layers[0], layers[1])
	}
	if len(pred[0]) == 0 || len(pred[0]) != len(pred[1]) {
		t.Fatalf("iterations: %d and %d", len(pred[0]), len(pred[1]))
	}
	top := slices.Max(pred[0]) // sublayer 0's mass is float noise (student = teacher there)
	for s := range pred[0] {
		if a, b := pred[0][s], pred[1][s]; math.Abs(a-b) > 1e-4*math.Abs(a)+1e-9*top {
			t.Fatalf("sublayer %d: predictive knowledge %g with pooling in the graph, %g with --pooling mean+norm", s, a, b)
		}
	}
}

// TestPoolingFlag: an embedding model that outputs hidden states only is pruned with the loss on
// its first token (--pooling cls), the report says so, and eval pools the same way; an unknown
// pooling is refused naming the flag.
func TestPoolingFlag(t *testing.T) {
	m, err := testmodel.Build(testmodel.Config{Head: graph.HeadNone, Vocab: 50})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	model := filepath.Join(dir, "emb.onnx")
	if err := onnx.Save(model, m, onnx.SaveOptions{}); err != nil {
		t.Fatal(err)
	}
	ids := idsFile(t, dir, 50, 60)
	out := filepath.Join(dir, "p.onnx")
	code, _, errOut := runCLI("prune", "--model", model, "--calib", ids, "--out", out, "--samples", "32", "--pooling", "cls")
	if code != 0 {
		t.Fatalf("prune --pooling cls: code %d: %s", code, errOut)
	}
	rep := readReport(t, filepath.Join(dir, "p.json"))
	if rep.Head != "none" || !strings.Contains(rep.Loss, "first-token (CLS)") || rep.Options.Pooling != "cls" {
		t.Fatalf("report head %q, loss %q, pooling %q", rep.Head, rep.Loss, rep.Options.Pooling)
	}
	var cos [2]float64
	for i, pooling := range []string{"mean", "cls"} {
		code, stdout, errOut := runCLI("eval", "--model", out, "--teacher", model, "--data", ids, "--pooling", pooling, "--json")
		if code != 0 {
			t.Fatalf("eval --pooling %s: code %d: %s", pooling, code, errOut)
		}
		var ev eval.Result
		if err := json.Unmarshal([]byte(stdout), &ev); err != nil || ev.Agreement == nil {
			t.Fatalf("eval: %v %s", err, stdout)
		}
		cos[i] = *ev.Agreement
	}
	if cos[0] == cos[1] {
		t.Fatalf("mean and cls pooling give the same cosine %g: the flag is not used", cos[0])
	}
	if code, _, errOut := runCLI("prune", "--model", model, "--calib", ids, "--out", filepath.Join(dir, "q.onnx"), "--pooling", "max"); code != 2 || !strings.Contains(errOut, "--pooling") {
		t.Fatalf("--pooling max: code %d: %s", code, errOut)
	}

	// A sentence-transformers repository (model in onnx/, 1_Pooling/config.json at the top) that
	// pools by CLS: without --pooling, prune and eval read it and do what --pooling cls does.
	repo := filepath.Join(dir, "repo")
	stModel := filepath.Join(repo, "onnx", "model.onnx")
	poolCfg := filepath.Join(repo, "1_Pooling", "config.json")
	for _, d := range []string{filepath.Dir(stModel), filepath.Dir(poolCfg)} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := onnx.Save(stModel, m, onnx.SaveOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(poolCfg, []byte(`{"word_embedding_dimension": 16, "pooling_mode_cls_token": true, "pooling_mode_mean_tokens": false}`), 0o644); err != nil {
		t.Fatal(err)
	}
	auto := filepath.Join(dir, "auto.onnx")
	if code, _, errOut := runCLI("prune", "--model", stModel, "--calib", ids, "--out", auto, "--samples", "32"); code != 0 {
		t.Fatalf("prune with 1_Pooling/config.json: code %d: %s", code, errOut)
	}
	if a, b := fileSum(t, auto), fileSum(t, out); a != b {
		t.Fatalf("pooling read from %s: pruned model differs from --pooling cls's", poolCfg)
	}
	if rep := readReport(t, filepath.Join(dir, "auto.json")); rep.Options.Pooling != "cls" || !strings.Contains(rep.Loss, poolCfg) {
		t.Fatalf("report pooling %q, loss %q: want cls read from %s", rep.Options.Pooling, rep.Loss, poolCfg)
	}
	code, stdout, errOut := runCLI("eval", "--model", auto, "--teacher", stModel, "--data", ids, "--json")
	var ev eval.Result
	if code != 0 || json.Unmarshal([]byte(stdout), &ev) != nil || ev.Agreement == nil || *ev.Agreement != cos[1] {
		t.Fatalf("eval without --pooling: code %d, %s %s; want the cls cosine %g", code, stdout, errOut, cos[1])
	}
	// A pooling the loss does not implement is refused naming the file, unless --pooling is given.
	if err := os.WriteFile(poolCfg, []byte(`{"pooling_mode_max_tokens": true}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, errOut := runCLI("prune", "--model", stModel, "--calib", ids, "--out", filepath.Join(dir, "r.onnx"), "--samples", "32"); code == 0 || !strings.Contains(errOut, poolCfg) || !strings.Contains(errOut, "max pooling") {
		t.Fatalf("max pooling config: code %d: %s", code, errOut)
	}
	if code, _, errOut := runCLI("prune", "--model", stModel, "--calib", ids, "--out", filepath.Join(dir, "s.onnx"), "--samples", "32", "--pooling", "mean"); code != 0 {
		t.Fatalf("max pooling config with --pooling mean: code %d: %s", code, errOut)
	}
}
