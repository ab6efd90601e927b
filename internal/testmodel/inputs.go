package testmodel

import (
	"math/rand/v2"

	ort "github.com/kprune/kprune/runtime"
)

// Inputs returns deterministic int64 [batch, seq] inputs for a model built from cfg, keyed by
// input name. Row 0 is unpadded; every other row has a random length in [1, seq] followed by
// padding (attention_mask 0, input_ids 0, token_type_ids 0). Real tokens have input_ids in
// [1, Vocab) and token_type_ids 0 up to a random split point and 1 after it (all 0 when
// TypeVocab is 1). Only cfg.Vocab, cfg.TypeVocab and cfg.NoTokenTypes are used (0 or invalid
// values select the defaults); with NoTokenTypes there is no token_type_ids, and the other inputs
// are those of the same cfg without it. Negative batch or seq count as 0. seq must not exceed
// MaxPos (with RobertaPositions: MaxPos-1) for the model to run.
func Inputs(cfg Config, batch, seq int, seed uint64) map[string]*ort.Tensor {
	vocab, typeVocab := cfg.Vocab, cfg.TypeVocab
	if vocab < 2 {
		vocab = DefaultVocab
	}
	if typeVocab < 1 {
		typeVocab = DefaultTypeVocab
	}
	batch, seq = max(batch, 0), max(seq, 0)
	r := rand.New(rand.NewPCG(seed, 0x696e70757473)) // "inputs"
	n := batch * seq
	ids := make([]int64, n)
	mask := make([]int64, n)
	types := make([]int64, n)
	for i := range batch {
		length := seq
		if i > 0 && seq > 0 {
			length = 1 + r.IntN(seq)
		}
		split := length
		if typeVocab > 1 && length > 1 {
			split = 1 + r.IntN(length)
		}
		for j := range length {
			k := i*seq + j
			ids[k] = 1 + r.Int64N(int64(vocab-1))
			mask[k] = 1
			if j >= split {
				types[k] = 1
			}
		}
	}
	shape := []int64{int64(batch), int64(seq)}
	in := map[string]*ort.Tensor{
		InputIDs:      ort.I64Tensor(shape, ids),
		AttentionMask: ort.I64Tensor(append([]int64(nil), shape...), mask),
		TokenTypeIDs:  ort.I64Tensor(append([]int64(nil), shape...), types),
	}
	if cfg.NoTokenTypes {
		delete(in, TokenTypeIDs)
	}
	return in
}
