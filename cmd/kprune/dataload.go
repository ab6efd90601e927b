package main

import (
	"flag"
	"fmt"
	"strings"

	"github.com/kprune/kprune/data"
	"github.com/kprune/kprune/graph"
	"github.com/kprune/kprune/graph/autodiff"
	"github.com/kprune/kprune/onnx"
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

// checkSeqLen fails, naming the flag, when sequences of n tokens exceed what model m (named
// name, with encoder enc) takes: the size of its position-embedding table (graph.MaxPositions).
func checkSeqLen(flagName string, n int, name string, m *onnx.ModelProto, enc *graph.Encoder) error {
	if p := graph.MaxPositions(m, enc); p > 0 && n > p {
		return usageError{fmt.Sprintf("%s %d: %s takes at most %d tokens per sequence (the size of its position-embedding table)", flagName, n, name, p)}
	}
	return nil
}
