package prune

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/kprune/kprune/graph"
)

// writeFiles writes files (path relative to dir -> contents) under dir.
func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for rel, body := range files {
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestDetectPooling reads sentence-transformers folders as the library writes them: the Pooling
// module found through modules.json or as 1_Pooling, next to the model or one folder up (onnx/),
// booleans or a pooling_mode string; unsupported modes and malformed files are errors naming
// the file.
func TestDetectPooling(t *testing.T) {
	const cls = `{"word_embedding_dimension": 384, "pooling_mode_cls_token": true, "pooling_mode_mean_tokens": false, "pooling_mode_max_tokens": false}`
	const mean = `{"word_embedding_dimension": 384, "pooling_mode_cls_token": false, "pooling_mode_mean_tokens": true}`
	const modules = `[{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
	 {"idx": 1, "name": "1", "path": "pool", "type": "sentence_transformers.models.Pooling"},
	 {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"}]`
	for _, tc := range []struct {
		name    string
		files   map[string]string
		model   string // relative to the folder
		want    string // "" with source "": nothing found
		source  string
		wantErr string
	}{
		{"nothing", map[string]string{"config.json": "{}"}, "model.onnx", "", "", ""},
		{"cls next to the model", map[string]string{"1_Pooling/config.json": cls}, "model.onnx", "cls", "1_Pooling/config.json", ""},
		{"mean one folder up", map[string]string{"1_Pooling/config.json": mean}, "onnx/model.onnx", "mean", "1_Pooling/config.json", ""},
		{"modules.json names the folder (Normalize not read)", map[string]string{"modules.json": modules, "pool/config.json": cls, "1_Pooling/config.json": mean}, "model.onnx", "cls", "pool/config.json", ""},
		{"pooling_mode string", map[string]string{"1_Pooling/config.json": `{"pooling_mode": "cls_token"}`}, "model.onnx", "cls", "1_Pooling/config.json", ""},
		{"max", map[string]string{"1_Pooling/config.json": `{"pooling_mode_max_tokens": true}`}, "model.onnx", "", "", "max pooling"},
		{"concatenated", map[string]string{"1_Pooling/config.json": `{"pooling_mode_cls_token": true, "pooling_mode_mean_tokens": true}`}, "model.onnx", "", "", "cls + mean concatenated"},
		{"no mode", map[string]string{"1_Pooling/config.json": `{}`}, "model.onnx", "", "", "no pooling mode"},
		{"malformed", map[string]string{"1_Pooling/config.json": `{"pooling_mode_cls_token": tru`}, "model.onnx", "", "", "1_Pooling/config.json"},
		{"malformed modules.json", map[string]string{"modules.json": `[{`}, "model.onnx", "", "", "modules.json"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			writeFiles(t, dir, tc.files)
			d, err := DetectPooling(filepath.Join(dir, tc.model))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("got %v, want an error saying %q", err, tc.wantErr)
				}
				if strings.Contains(tc.name, "malformed") == errors.Is(err, ErrUnsupportedPooling) {
					t.Fatalf("errors.Is(%v, ErrUnsupportedPooling) = %v", err, errors.Is(err, ErrUnsupportedPooling))
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tc.want == "" {
				if d != nil {
					t.Fatalf("got %+v, want nothing", d)
				}
				return
			}
			if d == nil || d.Pooling != tc.want || d.Source != filepath.Join(dir, tc.source) {
				t.Fatalf("got %+v, want %s from %s", d, tc.want, tc.source)
			}
		})
	}
}

// TestResolvePooling: the caller's choice wins; a folder's configuration applies to models
// without a head only (others pool in the graph, so even an unsupported mode is not read).
func TestResolvePooling(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"cls/1_Pooling/config.json": `{"pooling_mode_cls_token": true}`, "max/1_Pooling/config.json": `{"pooling_mode_max_tokens": true}`})
	clsModel, maxModel := filepath.Join(dir, "cls", "model.onnx"), filepath.Join(dir, "max", "model.onnx")
	none, pooled := &graph.Encoder{Head: graph.HeadNone}, &graph.Encoder{Head: graph.HeadEmbedding}
	for _, tc := range []struct {
		name, pooling string
		enc           *graph.Encoder
		paths         []string
		want          string
		fromFile      bool
		wantErr       bool
	}{
		{"detected", "", none, []string{clsModel}, "cls", true, false},
		{"first path with a config", "", none, []string{"", filepath.Join(dir, "model.onnx"), clsModel}, "cls", true, false},
		{"explicit wins", "mean", none, []string{clsModel}, "mean", false, false},
		{"explicit overrides unsupported", "mean", none, []string{maxModel}, "mean", false, false},
		{"unsupported", "", none, []string{maxModel}, "", false, true},
		{"pooled in the graph", "", pooled, []string{maxModel}, "", false, false},
		{"nothing found", "", none, []string{filepath.Join(dir, "model.onnx")}, "", false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, src, err := ResolvePooling(tc.pooling, tc.enc, tc.paths...)
			if (err != nil) != tc.wantErr || got != tc.want || (src != "") != tc.fromFile {
				t.Fatalf("got %q from %q, %v", got, src, err)
			}
		})
	}
}

// TestOpenTokenizerFolders: without a path, the tokenizer comes from the first model folder that
// has one, then from the folder above (a Hugging Face repository's onnx/ layout); none is no
// error.
func TestOpenTokenizerFolders(t *testing.T) {
	const vocab = "[PAD]\n[UNK]\n[CLS]\n[SEP]\nhello\n"
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"repo/vocab.txt": vocab,
		"repo/onnx/x":    "",
		"flat/vocab.txt": vocab + "world\n",
		"out/pruned/x":   "",
		"empty/x":        "",
	})
	p := func(rel string) string { return filepath.Join(dir, rel) }
	for _, tc := range []struct {
		name   string
		models []string
		want   string // "": no tokenizer
	}{
		{"next to the model", []string{p("flat/model.onnx")}, p("flat/vocab.txt")},
		{"one folder up", []string{p("repo/onnx/model.onnx")}, p("repo/vocab.txt")},
		{"the teacher's folder before the folder above the model", []string{p("repo/onnx/model.onnx"), p("flat/model.onnx")}, p("flat/vocab.txt")},
		{"none", []string{p("empty/model.onnx"), ""}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tok, err := OpenTokenizer("", tc.models...)
			if err != nil {
				t.Fatal(err)
			}
			switch {
			case tc.want == "" && tok != nil:
				t.Fatalf("got %s, want none", tok.Source())
			case tc.want != "" && (tok == nil || tok.Source() != tc.want):
				t.Fatalf("got %v, want %s", tok, tc.want)
			}
		})
	}
}

// TestClassNames reads id2label from a Hugging Face config.json beside the model or one folder
// up, in id order; generic LABEL_k names and configurations without id2label give nothing;
// malformed ones are errors naming the file.
func TestClassNames(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"mnli/config.json":             `{"architectures": ["RobertaForSequenceClassification"], "id2label": {"2": "ENTAILMENT", "0": "CONTRADICTION", "1": "NEUTRAL"}}`,
		"repo/config.json":             `{"id2label": {"0": "NEGATIVE", "1": "POSITIVE"}}`,
		"repo/onnx/x":                  "",
		"generic/config.json":          `{"id2label": {"0": "LABEL_0", "1": "LABEL_1"}}`,
		"other/config.json":            `{"hidden_size": 384}`,
		"bad/config.json":              `{"id2label": {"0": "a", "2": "b"}}`,
		"broken/config.json":           `{"id2label": `,
		"generic-top/config.json":      `{"id2label": {"0": "neg", "1": "pos"}}`,
		"generic-top/onnx/config.json": `{"id2label": {"0": "LABEL_0", "1": "LABEL_1"}}`,
	})
	p := func(rel string) string { return filepath.Join(dir, rel, "model.onnx") }
	for _, tc := range []struct {
		name    string
		models  []string
		want    []string
		source  string
		wantErr string
	}{
		{"next to the model, by id", []string{p("mnli")}, []string{"CONTRADICTION", "NEUTRAL", "ENTAILMENT"}, "mnli/config.json", ""},
		{"one folder up", []string{p("repo/onnx")}, []string{"NEGATIVE", "POSITIVE"}, "repo/config.json", ""},
		{"generic names say nothing", []string{p("generic")}, nil, "", ""},
		{"generic names next to the model, real ones above", []string{p("generic-top/onnx")}, []string{"neg", "pos"}, "generic-top/config.json", ""},
		{"no id2label", []string{p("other")}, nil, "", ""},
		{"no config", []string{p("nowhere"), ""}, nil, "", ""},
		{"ids with a gap", []string{p("bad")}, nil, "", "bad/config.json: id2label: ids must be 0 to 1"},
		{"malformed", []string{p("broken")}, nil, "", "broken/config.json"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			names, src, err := ClassNames(tc.models...)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("got %v, want an error saying %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || !slices.Equal(names, tc.want) || (tc.source != "" && src != filepath.Join(dir, tc.source)) {
				t.Fatalf("got %q from %q, %v; want %q from %s", names, src, err, tc.want, tc.source)
			}
		})
	}
}
