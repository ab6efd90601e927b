package testutil

import (
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// Export is one exporter/family fixture of ../shared/models/exports: a tiny random-weight model
// as a user's tool exports it, with the structure its meta.json says discovery must find.
type Export struct {
	Name     string // folder name, e.g. "bert-seqcls-legacy"
	Path     string // absolute path of model.onnx
	Family   string // "bert", "distilbert", "deberta-v2"...
	Layers   int
	Heads    int
	HeadDim  int `json:"head_dim"`
	FFN      int
	Hidden   int
	HeadKind string `json:"head_kind"` // kprune's head kind: classification, regression, span, embedding
	Outputs  []string
}

// Exports lists the export fixtures, skipping the test with a clear message when ../shared is
// absent.
func Exports(t testing.TB) []Export {
	t.Helper()
	dir := Shared(t, "models/exports")
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []Export
	for _, e := range ents {
		meta := filepath.Join(dir, e.Name(), "meta.json")
		b, err := os.ReadFile(meta)
		if err != nil {
			continue
		}
		var raw struct {
			Export
			Outputs [][]any `json:"outputs"`
		}
		if err := json.Unmarshal(b, &raw); err != nil {
			t.Fatalf("%s: %v", meta, err)
		}
		x := raw.Export
		x.Name, x.Path = e.Name(), filepath.Join(dir, e.Name(), "model.onnx")
		for _, o := range raw.Outputs {
			if len(o) > 0 {
				if s, ok := o[0].(string); ok {
					x.Outputs = append(x.Outputs, s)
				}
			}
		}
		kind, _, _ := strings.Cut(x.HeadKind, " ")
		x.HeadKind = map[string]string{"sequence-classification": "classification", "question-answering": "span",
			"regression": "regression", "sentence-embedding": "embedding"}[kind]
		out = append(out, x)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	if len(out) == 0 {
		t.Skipf("no export fixtures in %s", dir)
	}
	return out
}
