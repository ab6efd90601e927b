package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/kprune/kprune/data"
	"github.com/kprune/kprune/graph"
	"github.com/kprune/kprune/onnx"
)

// dataFlags are the flags shared by commands that read a data file.
type dataFlags struct {
	tokenizer string
	columns   string
	label     string
	format    string
	maxLen    int
	batch     int
}

// formatUsage is the help text of the --format flag.
const formatUsage = "data file `FORMAT`: tsv, csv or jsonl (default: from the file extension)"

// check validates the flags that need no file: --format, --batch and --max-len.
func (f *dataFlags) check() error {
	if _, err := data.ParseFormat(f.format); err != nil {
		return usageError{"--format: " + err.Error()}
	}
	if f.batch <= 0 {
		return usageError{fmt.Sprintf("--batch %d: must be positive", f.batch)}
	}
	if f.maxLen <= 2 {
		return usageError{fmt.Sprintf("--max-len %d: must be above 2", f.maxLen)}
	}
	return nil
}

// findTokenizer returns the tokenizer path: the flag, else a tokenizer.json or vocab.txt next
// to the model.
func findTokenizer(flagValue, modelPath string) (string, error) {
	if flagValue != "" {
		return flagValue, nil
	}
	dir := filepath.Dir(modelPath)
	for _, n := range []string{"tokenizer.json", "vocab.txt"} {
		p := filepath.Join(dir, n)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("no --tokenizer given and no tokenizer.json or vocab.txt next to %s", modelPath)
}

func (f *dataFlags) readOptions(withLabels bool) data.ReadOptions {
	opts := data.ReadOptions{}
	opts.Format, _ = data.ParseFormat(f.format) // checked by dataFlags.check
	if f.columns != "" {
		for _, c := range strings.Split(f.columns, ",") {
			opts.TextColumns = append(opts.TextColumns, strings.TrimSpace(c))
		}
	}
	if f.label != "" {
		opts.LabelColumn = f.label
	}
	if !withLabels {
		opts.LabelColumn = data.NoColumn
		opts.Labels = data.LabelNone
	}
	return opts
}

// loadEncoded reads a data file (or bytes, when raw is non-nil) and tokenizes it.
func loadEncoded(tok *data.Tokenizer, path string, raw []byte, opts data.ReadOptions, maxLen int) (*data.Dataset, []data.Encoding, error) {
	var ds *data.Dataset
	var err error
	if raw != nil {
		ds, err = data.ReadDatasetFrom(strings.NewReader(string(raw)), path, opts)
	} else {
		ds, err = data.ReadDataset(path, opts)
	}
	if err != nil {
		return nil, nil, err
	}
	if ds.Len() == 0 {
		return nil, nil, errors.New(path + ": no records")
	}
	encs, err := data.EncodeDataset(tok, ds, maxLen)
	if err != nil {
		return nil, nil, err
	}
	return ds, encs, nil
}

// evalBatches batches encodings in file order.
func evalBatches(tok *data.Tokenizer, encs []data.Encoding, batch int) ([]data.Batch, error) {
	order := make([]int, len(encs))
	for i := range order {
		order[i] = i
	}
	return data.MakeBatches(encs, order, batch, tok.Padding())
}

// checkSeqLen fails, naming the flag, when sequences of n tokens exceed what model m (named
// name, with encoder enc) takes: the size of its position-embedding table (graph.MaxPositions).
func checkSeqLen(flagName string, n int, name string, m *onnx.ModelProto, enc *graph.Encoder) error {
	if p := graph.MaxPositions(m, enc); p > 0 && n > p {
		return usageError{fmt.Sprintf("%s %d: %s takes at most %d tokens per sequence (the size of its position-embedding table)", flagName, n, name, p)}
	}
	return nil
}

// loadModelAndTokenizer loads a model, discovers its encoder, and loads the tokenizer (the flag,
// else one next to the model), checking that it fits the model's vocabulary.
func loadModelAndTokenizer(modelPath, tokFlag string) (*onnx.ModelProto, *graph.Encoder, *data.Tokenizer, error) {
	m, err := onnx.Load(modelPath)
	if err != nil {
		return nil, nil, nil, err
	}
	enc, err := graph.Discover(m)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("%s: %w", modelPath, err)
	}
	tokPath, err := findTokenizer(tokFlag, modelPath)
	if err != nil {
		return nil, nil, nil, err
	}
	tok, err := data.LoadTokenizer(tokPath)
	if err != nil {
		return nil, nil, nil, err
	}
	if err := checkTokenizer(tok, m, enc); err != nil {
		return nil, nil, nil, fmt.Errorf("tokenizer %s does not fit model %s: %w", tokPath, modelPath, err)
	}
	return m, enc, tok, nil
}
