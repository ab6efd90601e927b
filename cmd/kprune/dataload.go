package main

import (
	"flag"
	"fmt"

	"github.com/kprune/kprune/data"
	"github.com/kprune/kprune/graph/autodiff"
	"github.com/kprune/kprune/pipeline"
)

// dataFlags are the flags shared by commands that read a data file (register).
type dataFlags struct {
	fs                                        *flag.FlagSet
	tokenizer, columns, label, format, header string
	labelNames                                string
	// pooling is how embedding models that output hidden states are pooled (eval).
	pooling       string
	maxLen, batch int
}

// formatUsage is the help text of the --format flag.
const formatUsage = "data file `FORMAT`: tsv, csv or jsonl (default: from the file extension)"

// headerUsage is the help text of the --header flag.
const headerUsage = "whether a TSV/CSV file starts with a header row: auto (TSV yes, CSV no), yes or no (CoLA's original TSV has none)"

// register adds --tokenizer, --columns, --label (with help text label), --format, --header,
// --max-len and --batch (default batch, help text batchUsage) to fs.
func (f *dataFlags) register(fs *flag.FlagSet, label string, batch int, batchUsage string) {
	f.fs = fs
	fs.StringVar(&f.tokenizer, "tokenizer", "", "the model's tokenizer.json or vocab.txt (default: next to the model)")
	fs.StringVar(&f.columns, "columns", "", "text columns `a,b` by header name or 0-based index (default: GLUE conventions)")
	fs.StringVar(&f.label, "label", "", label)
	fs.StringVar(&f.labelNames, "label-names", "", "the model's class `NAMES`, comma-separated, class 0 first, for data with string labels (default: the id2label of the config.json next to the model or one folder up, when it names the data's labels; else sorted order)")
	fs.StringVar(&f.format, "format", "", formatUsage)
	fs.StringVar(&f.header, "header", "auto", headerUsage)
	fs.IntVar(&f.maxLen, "max-len", 128, "maximum sequence length in tokens")
	fs.IntVar(&f.batch, "batch", batch, batchUsage)
}

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

// data are the checked flags as pipeline.Data: a --max-len not on the command line is lowered
// to the model's position table instead of being refused.
func (f *dataFlags) data() pipeline.Data {
	read := data.ReadOptions{LabelColumn: f.label}
	read.Format, _ = data.ParseFormat(f.format) // checked by dataFlags.check
	read.Header, _ = data.ParseHeader(f.header)
	read.TextColumns, read.LabelNames = data.ParseList(f.columns), data.ParseList(f.labelNames)
	return pipeline.Data{Tokenizer: f.tokenizer, Read: read, MaxLen: f.maxLen, Batch: f.batch, FitMaxLen: !given(f.fs, "max-len")}
}

// given tells whether flag name was set on the command line.
func given(fs *flag.FlagSet, name string) bool {
	found := false
	fs.Visit(func(f *flag.Flag) { found = found || f.Name == name })
	return found
}
