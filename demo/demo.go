// Package demo embeds kprune's built-in example: a small trained SST-2 sentiment classifier
// (BERT architecture, 2 layers, hidden 128, 2 heads of 64, FFN 512, post-LN, erf GELU, tanh pooler,
// 2-way classifier; opset 14 torch.onnx export; SST-2 dev accuracy 0.8073 = 704/872), its
// WordPiece vocabulary (the 12,010 bert-base-uncased ids that SST-2 uses), the SST-2 dev set, and
// a calibration sample of SST-2 train, with loaders for each. It is what `kprune demo` prunes and
// what the library examples run on, so that a program outside this module can try the library
// without any file.
//
// It is not a model zoo: it holds this one small model, for trying things out and for tests.
//
// The model and vocabulary are copies of ../shared/models/tiny-bert-sst2/demo (made by its
// make_demo.py from the classifier trained by ../shared/models/tiny-bert-sst2/train.py);
// sst2-dev.tsv is GLUE SST-2 dev verbatim.
package demo

import (
	"bytes"
	_ "embed"
	"fmt"

	"github.com/kprune/kprune/data"
	"github.com/kprune/kprune/onnx"
)

// Model is the demo classifier as ONNX bytes (inputs input_ids, attention_mask, token_type_ids:
// int64 [batch, seq]; output logits: float32 [batch, 2], index 1 = positive).
//
//go:embed model.onnx
var Model []byte

// Vocab is the demo model's WordPiece vocab.txt (lowercasing, max length 64).
//
//go:embed vocab.txt
var Vocab []byte

// DevTSV is GLUE SST-2 dev (872 rows, `sentence<TAB>label` with a header).
//
//go:embed sst2-dev.tsv
var DevTSV []byte

// MaxLen is the demo model's maximum sequence length.
const MaxLen = 64

// DevAccuracy is the unpruned demo model's accuracy on DevTSV.
const DevAccuracy = 0.8073

// CalibTSV is the demo's calibration pool: 8,000 rows of GLUE SST-2 train (made by gen_calib.go).
//
//go:embed sst2-calib.tsv
var CalibTSV []byte

// LoadModel decodes Model.
func LoadModel() (*onnx.ModelProto, error) {
	m, err := onnx.Decode(Model)
	if err != nil {
		return nil, fmt.Errorf("built-in demo model: %w", err)
	}
	return m, nil
}

// Tokenizer reads Vocab as the demo model's WordPiece tokenizer.
func Tokenizer() (*data.Tokenizer, error) {
	tok, err := data.ReadVocab(bytes.NewReader(Vocab), "demo vocab.txt", data.DefaultVocabOptions())
	if err != nil {
		return nil, fmt.Errorf("built-in demo vocabulary: %w", err)
	}
	return tok, nil
}
