// Package data turns the files users have into model inputs, and scores model outputs.
//
// It covers four concerns, each in its own file:
//
//   - Tokenizers (tokenizer*.go, normalize*.go, pretokenize.go, grapheme*.go): pure-Go
//     tokenizers producing the same ids as the Hugging Face Rust "tokenizers" library,
//     with longest-first truncation and sentence pairs: BERT WordPiece from a vocab.txt
//     ([LoadVocab]) or a tokenizer.json, and byte-level BPE (GPT-2, RoBERTa) and
//     SentencePiece Unigram (T5, XLM-R) from a tokenizer.json ([LoadTokenizerJSON]),
//     including SentencePiece's precompiled normalization rules. [CheckVocab] detects a
//     tokenizer/model mismatch.
//   - Datasets (dataset*.go): readers for GLUE-style TSV, CSV with quoting and JSON
//     lines ([ReadDataset]), with column selection, classification labels and regression
//     scores. Every error about a row names the file and line ("FILE:LINE: ...").
//   - Calibration (calib.go): seeded, deterministic sampling of sequences or of a token
//     budget ([SampleIndices]), dynamic padding into int64 batches ready for a model
//     ([MakeBatches]), and statistics ([ComputeStats]); [BuildCalibration] does all three.
//   - Metrics (metrics.go): accuracy, F1, Matthews and Pearson/Spearman correlations,
//     and agreement between two models' logits or embeddings.
//
// What it is not: it knows nothing about ONNX or any runtime (batches are plain flat
// row-major []int64 slices and model outputs come in as flat []float32 slices); it is not
// a general tokenizer library (encoding only: no decoding, offsets or training);
// and it is not a streaming data loader (files are read whole into memory, which suits
// GLUE-sized evaluation and calibration sets). It never prints; errors carry the context
// (file, line, option) needed to act on them.
//
// Tokenizers are safe for concurrent use once loaded. Nothing in the package panics on
// user input (files, options, model outputs).
//
// # Errors
//
// Errors a caller can test for with errors.Is and errors.As:
//
//   - ErrBadData: the content of a data file is unusable (empty, binary, malformed rows,
//     missing columns, bad labels); such errors are a *DataError giving the File and Line.
package data
