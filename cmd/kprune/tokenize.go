package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/kprune/kprune/data"
	"github.com/kprune/kprune/pipeline"
)

// cmdTokenize implements "kprune tokenize": it tokenizes every record of a dataset with
// a model's tokenizer (WordPiece, BPE or Unigram) and prints one JSON line per record,
// {"input_ids":[...],"attention_mask":[...],"token_type_ids":[...]}, exactly as the model
// would receive them (special tokens included, no padding). token_type_ids is left out
// for tokenizers whose type ids are all 0 (RoBERTa, XLM-R, T5: their models have no such
// input). It is meant for checking a tokenizer against another implementation and for
// inspecting what a model sees.
func cmdTokenize(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("tokenize", stderr)
	tokPath := fs.String("tokenizer", "", "`FILE`: the model's tokenizer.json (WordPiece, BPE or Unigram) or vocab.txt (or a directory holding one)")
	dataPath := fs.String("data", "", "`FILE` of data: .tsv (GLUE style, header), .csv (no header) or .jsonl")
	columns := fs.String("columns", "", "text columns `a,b`: comma-separated header names or 0-based indexes, two for sentence pairs (default: GLUE conventions)")
	maxLen := fs.Int("max-len", 0, "truncate each record to at most `N` tokens, special tokens included (0: the tokenizer file's setting, if any)")
	format := fs.String("format", "", formatUsage)
	header := fs.String("header", "auto", "whether a TSV/CSV file starts with a header row: auto (TSV yes, CSV no), yes or no")
	cased := fs.Bool("cased", false, "with a vocab.txt: keep case and accents (for cased models)")
	setUsage(fs, stderr, "kprune tokenize --tokenizer FILE --data FILE [--columns a,b] [--max-len N]",
		`Prints one JSON line per record: {"input_ids":[...],"attention_mask":[...],"token_type_ids":[...]};
token_type_ids only for tokenizers that use them (BERT family), not for RoBERTa, XLM-R or T5.`)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Sprintf("unexpected arguments %q", fs.Args())}
	}
	opts := data.ReadOptions{Labels: data.LabelNone}
	var err error
	if opts.Format, err = data.ParseFormat(*format); err != nil {
		return usageError{"--format: " + err.Error()}
	}
	if *maxLen < 0 {
		return usageError{fmt.Sprintf("--max-len %d: must not be negative", *maxLen)}
	}
	if opts.Header, err = data.ParseHeader(*header); err != nil {
		return usageError{"--header: " + err.Error()}
	}
	if *tokPath == "" || *dataPath == "" {
		return usageError{"--tokenizer and --data are required"}
	}
	opts.TextColumns = data.ParseList(*columns)

	var tok *data.Tokenizer
	if *cased {
		if strings.EqualFold(filepath.Ext(*tokPath), ".json") {
			return errors.New("--cased applies to a vocab.txt; a tokenizer.json carries its own settings")
		}
		vo := data.DefaultVocabOptions()
		vo.Lowercase = false
		tok, err = data.LoadVocab(*tokPath, vo)
	} else {
		tok, err = data.LoadTokenizer(*tokPath)
	}
	if err != nil {
		return err
	}
	ds, err := data.ReadDataset(*dataPath, opts)
	if err != nil {
		return err
	}
	return pipeline.WriteTokenized(ctx, stdout, tok, ds, *maxLen)
}
