package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/kprune/kprune/data"
	"github.com/kprune/kprune/graph"
	"github.com/kprune/kprune/graph/autodiff"
	"github.com/kprune/kprune/onnx"
	"github.com/kprune/kprune/prune"
)

// dataFlags are the flags shared by commands that read a data file.
type dataFlags struct {
	tokenizer string
	columns   string
	label     string
	format    string
	header    string
	// pooling is how embedding models that output hidden states are pooled (eval).
	pooling string
	// maxLenGiven tells whether --max-len was on the command line; when not, the default is
	// lowered to the model's position table instead of being refused (see fitMaxLen).
	maxLenGiven bool
	maxLen      int
	batch       int
}

// formatUsage is the help text of the --format flag.
const formatUsage = "data file `FORMAT`: tsv, csv or jsonl (default: from the file extension)"

// headerUsage is the help text of the --header flag.
const headerUsage = "whether a TSV/CSV file starts with a header row: auto (TSV yes, CSV no), yes or no (CoLA's original TSV has none)"

// check validates the flags that need no file: --format, --batch and --max-len.
func (f *dataFlags) check() error {
	if _, err := data.ParseFormat(f.format); err != nil {
		return usageError{"--format: " + err.Error()}
	}
	if _, err := data.ParseHeader(f.header); err != nil {
		return usageError{"--header: " + err.Error()}
	}
	if err := autodiff.CheckPooling(f.pooling); err != nil {
		return usageError{"--pooling: " + err.Error()}
	}
	if f.batch <= 0 {
		return usageError{fmt.Sprintf("--batch %d: must be positive", f.batch)}
	}
	if f.maxLen <= 2 {
		return usageError{fmt.Sprintf("--max-len %d: must be above 2", f.maxLen)}
	}
	return nil
}

// openTokenizer loads the tokenizer: the flag, else a tokenizer.json or vocab.txt next to the
// first of the models that has one. Without either it returns nil and no error: data files of
// token ids (JSONL input_ids) need no tokenizer, and text records then fail with a message
// saying a tokenizer is needed.
func openTokenizer(flagValue string, modelPaths ...string) (*data.Tokenizer, error) {
	if flagValue != "" {
		return data.LoadTokenizer(flagValue)
	}
	for _, mp := range modelPaths {
		if mp == "" {
			continue
		}
		for _, n := range []string{"tokenizer.json", "vocab.txt"} {
			p := filepath.Join(filepath.Dir(mp), n)
			if _, err := os.Stat(p); err == nil {
				return data.LoadTokenizer(p)
			}
		}
	}
	return nil, nil
}

// padding is the tokenizer's padding, or pad id 0 without a tokenizer (padded positions are
// masked, so the id does not change the results).
func padding(tok *data.Tokenizer) data.Padding {
	if tok == nil {
		return data.Padding{}
	}
	return tok.Padding()
}

func (f *dataFlags) readOptions(withLabels bool) data.ReadOptions {
	opts := data.ReadOptions{}
	opts.Format, _ = data.ParseFormat(f.format) // checked by dataFlags.check
	opts.Header, _ = data.ParseHeader(f.header)
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
	return data.MakeBatches(encs, order, batch, padding(tok))
}

// discover reads the encoder of m, after turning an onnxruntime-optimised graph back into
// standard ONNX. It returns the standard form (m itself for plain exports), the encoder and the
// fused operators that were unfused. A quantized model is read through its float view
// (prune.Structure), so that eval, bench and inspect take it; prune refuses it
// (loadModelAndTokenizer).
func discover(m *onnx.ModelProto) (*onnx.ModelProto, *graph.Encoder, map[string]int, error) {
	s, enc, unfused, _, err := prune.Structure(m)
	if err != nil {
		return nil, nil, nil, err
	}
	return s, enc, unfused, nil
}

// checkSeqLen fails, naming the flag, when sequences of n tokens exceed what model m (named
// name, with encoder enc) takes: the size of its position-embedding table (graph.MaxPositions).
// fitMaxLen checks --max-len against the model's position table: a value the user gave must
// fit (checkSeqLen); the default is lowered to the table's size for models with fewer positions.
func (f *dataFlags) fitMaxLen(name string, m *onnx.ModelProto, enc *graph.Encoder) error {
	if p := graph.MaxPositions(m, enc); !f.maxLenGiven && p > 2 && f.maxLen > p {
		f.maxLen = p
	}
	return checkSeqLen("--max-len", f.maxLen, name, m, enc)
}

// given tells whether flag name was set on the command line.
func given(fs *flag.FlagSet, name string) bool {
	found := false
	fs.Visit(func(f *flag.Flag) { found = found || f.Name == name })
	return found
}

func checkSeqLen(flagName string, n int, name string, m *onnx.ModelProto, enc *graph.Encoder) error {
	if p := graph.MaxPositions(m, enc); p > 0 && n > p {
		return usageError{fmt.Sprintf("%s %d: %s takes at most %d tokens per sequence (the size of its position-embedding table)", flagName, n, name, p)}
	}
	return nil
}

// loadedModel is a model read for pruning: its standard form (onnxruntime-fused graphs
// unfused), encoder, tokenizer (nil for token-id data) and the fused operators that were unfused.
type loadedModel struct {
	m       *onnx.ModelProto
	enc     *graph.Encoder
	tok     *data.Tokenizer
	unfused map[string]int
}

// loadModelAndTokenizer loads a model, discovers its encoder, and loads the tokenizer (the flag,
// else one next to the model), checking that it fits the model's vocabulary.
func loadModelAndTokenizer(modelPath, tokFlag string) (*loadedModel, error) {
	m, err := onnx.Load(modelPath)
	if err != nil {
		return nil, err
	}
	if err := graph.CheckQuantized(m); err != nil {
		// Pruning needs the float model (prune it, then quantize the pruned one).
		return nil, fmt.Errorf("%s: %w", modelPath, err)
	}
	m, enc, unfused, err := discover(m)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", modelPath, err)
	}
	tok, err := openTokenizer(tokFlag, modelPath)
	if err != nil {
		return nil, err
	}
	if err := checkTokenizer(tok, m, enc); err != nil {
		return nil, fmt.Errorf("tokenizer does not fit model %s: %w", modelPath, err)
	}
	return &loadedModel{m: m, enc: enc, tok: tok, unfused: unfused}, nil
}
