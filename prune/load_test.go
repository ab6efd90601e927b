package prune

import (
	"path/filepath"
	"testing"
)

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
