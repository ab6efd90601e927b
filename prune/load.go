package prune

import (
	"errors"
	"fmt"
	"strings"

	"github.com/kprune/kprune/data"
	"github.com/kprune/kprune/graph"
	"github.com/kprune/kprune/onnx"
)

// Loaded is a model read for pruning: its standard form (onnxruntime-fused graphs unfused), its
// encoder, its tokenizer (nil for token-id data) and the fused operators that were unfused.
type Loaded struct {
	Model     *onnx.ModelProto
	Encoder   *graph.Encoder
	Tokenizer *data.Tokenizer
	Unfused   map[string]int
}

// Load loads the model at modelPath for pruning, discovers its encoder, and loads the tokenizer
// (tokenizerPath, else one next to the model: see [OpenTokenizer]), checking that it fits the
// model's vocabulary. A quantized model is refused: prune the float model, then quantize.
func Load(modelPath, tokenizerPath string) (*Loaded, error) {
	m, err := onnx.Load(modelPath)
	if err != nil {
		return nil, err
	}
	if err := graph.CheckQuantized(m); err != nil {
		return nil, fmt.Errorf("%s: %w", modelPath, err)
	}
	m, enc, unfused, _, err := Structure(m)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", modelPath, err)
	}
	tok, err := OpenTokenizer(tokenizerPath, modelPath)
	if err != nil {
		return nil, err
	}
	if err := CheckTokenizer(tok, m, enc); err != nil {
		return nil, fmt.Errorf("tokenizer does not fit model %s: %w", modelPath, err)
	}
	return &Loaded{Model: m, Encoder: enc, Tokenizer: tok, Unfused: unfused}, nil
}

// CheckTokenizer verifies that the tokenizer's vocabulary fits the model's embedding table (nil
// when either is unknown).
func CheckTokenizer(tok *data.Tokenizer, m *onnx.ModelProto, enc *graph.Encoder) error {
	rows := enc.VocabRows(m)
	if rows == 0 || tok == nil {
		return nil
	}
	return data.CheckVocab(tok, rows)
}

// Padding is the tokenizer's padding, or pad id 0 without a tokenizer (padded positions are
// masked, so the id does not change the results).
func Padding(tok *data.Tokenizer) data.Padding {
	if tok == nil {
		return data.Padding{}
	}
	return tok.Padding()
}

// ReadEncoded reads a data file (from raw when it is not nil, named path) and tokenizes it with
// tok, truncating to maxLen tokens. A file without records is an error.
func ReadEncoded(tok *data.Tokenizer, path string, raw []byte, opts data.ReadOptions, maxLen int) (*data.Dataset, []data.Encoding, error) {
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

// InOrder batches encodings in file order, batch sequences at a time, padded as tok pads.
func InOrder(tok *data.Tokenizer, encs []data.Encoding, batch int) ([]data.Batch, error) {
	order := make([]int, len(encs))
	for i := range order {
		order[i] = i
	}
	return data.MakeBatches(encs, order, batch, Padding(tok))
}

// CalibOptions configure BuildCalibration. The zero value samples as K-prune's reference does:
// data.DefaultCalibSamples sequences, with replacement, in batches of 32, in draw order.
type CalibOptions struct {
	// Samples is the number of sequences to draw, or Tokens the number of real tokens; when both
	// are 0, data.DefaultCalibSamples.
	Samples, Tokens int
	// NoReplacement draws without replacement; Bucket batches sequences of similar length
	// together (less padding); Batch is the batch size (0: 32); Seed fixes the draw.
	NoReplacement, Bucket bool
	Batch                 int
	Seed                  uint64
	// Source names the data in errors.
	Source string
}

// BuildCalibration samples and batches the calibration set from encs (see CalibOptions),
// padded as tok pads.
func BuildCalibration(tok *data.Tokenizer, encs []data.Encoding, o CalibOptions) (*data.CalibSet, error) {
	so := data.SampleOptions{N: o.Samples, TokenBudget: o.Tokens, Replacement: !o.NoReplacement, Seed: o.Seed}
	if o.Samples == 0 && o.Tokens == 0 {
		so.N = data.DefaultCalibSamples(encs)
	}
	batch := o.Batch
	if batch == 0 {
		batch = 32
	}
	cs, err := data.BuildCalibration(encs, data.CalibOptions{SampleOptions: so, BatchSize: batch, Padding: Padding(tok), Bucket: o.Bucket})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", o.Source, err)
	}
	return cs, nil
}
