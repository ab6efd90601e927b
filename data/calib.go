package data

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"math/bits"
	"math/rand/v2"
	"sort"
)

// pcgStream is the second PCG seed word: sampling uses
// rand.NewPCG(seed, pcgStream), so one uint64 seed fixes the whole sequence.
const pcgStream = 0x6b7072756e65 // "kprune"

// SampleOptions configures [SampleIndices]. Exactly one of N and TokenBudget must be set.
type SampleOptions struct {
	// N is the number of sequences to draw.
	N int
	// TokenBudget is the number of real (non-padding) tokens to draw: sequences are
	// drawn until their total reaches the budget, so the last one may overshoot it.
	TokenBudget int
	// Replacement draws with replacement (a sequence may repeat).
	Replacement bool
	// Seed fixes the draw.
	Seed uint64
}

// SampleIndices draws calibration sequences from encs and returns their indices in draw
// order. The draw is deterministic: the generator is a math/rand/v2 PCG seeded with
// rand.NewPCG(opts.Seed, 0x6b7072756e65), and bounded integers are derived from its
// 64-bit outputs by a fixed method (Lemire's multiply-shift with rejection) rather than
// by library helpers whose algorithm could change, so a seed gives the same sample on
// every platform and Go release. Without replacement the draw is a partial Fisher-Yates
// shuffle; asking for more sequences or tokens than encs holds is then an error.
func SampleIndices(encs []Encoding, opts SampleOptions) ([]int, error) {
	n := len(encs)
	switch {
	case n == 0:
		return nil, errors.New("sample: no sequences to sample from")
	case opts.N < 0 || opts.TokenBudget < 0:
		return nil, fmt.Errorf("sample: negative N (%d) or token budget (%d)", opts.N, opts.TokenBudget)
	case (opts.N > 0) == (opts.TokenBudget > 0):
		return nil, errors.New("sample: set exactly one of N (sequences) and TokenBudget (tokens)")
	}
	total := 0
	for i := range encs {
		total += realTokens(&encs[i])
	}
	if total == 0 {
		return nil, errors.New("sample: the sequences hold no real tokens")
	}
	if !opts.Replacement {
		if opts.N > n {
			return nil, fmt.Errorf("sample: %d sequences requested without replacement but only %d available", opts.N, n)
		}
		if opts.TokenBudget > total {
			return nil, fmt.Errorf("sample: token budget %d exceeds the %d tokens available without replacement", opts.TokenBudget, total)
		}
	}

	rng := rand.NewPCG(opts.Seed, pcgStream)
	var out []int
	var perm []int
	if !opts.Replacement {
		perm = make([]int, n)
		for i := range perm {
			perm[i] = i
		}
	}
	draw := func(k int) int { // k-th draw
		if opts.Replacement {
			return int(boundedUint64(rng, uint64(n)))
		}
		j := k + int(boundedUint64(rng, uint64(n-k)))
		perm[k], perm[j] = perm[j], perm[k]
		return perm[k]
	}
	if opts.N > 0 {
		out = make([]int, opts.N)
		for k := range out {
			out[k] = draw(k)
		}
		return out, nil
	}
	got := 0
	for k := 0; got < opts.TokenBudget; k++ {
		i := draw(k)
		out = append(out, i)
		got += realTokens(&encs[i])
	}
	return out, nil
}

// boundedUint64 returns a uniform integer in [0, n) from r (n > 0), by Lemire's
// nearly-divisionless method.
func boundedUint64(r *rand.PCG, n uint64) uint64 {
	hi, lo := bits.Mul64(r.Uint64(), n)
	if lo < n {
		thresh := -n % n
		for lo < thresh {
			hi, lo = bits.Mul64(r.Uint64(), n)
		}
	}
	return hi
}

// realTokens counts the non-padding tokens of e.
func realTokens(e *Encoding) int {
	if e.AttentionMask == nil {
		return len(e.IDs)
	}
	n := 0
	for _, m := range e.AttentionMask {
		if m != 0 {
			n++
		}
	}
	return n
}

// Padding says how to pad sequences in a batch.
type Padding struct {
	// ID is the token id put in padding positions (the tokenizer's [PAD]).
	ID int32
	// MultipleOf rounds each batch's length up to a multiple of it, when > 1.
	MultipleOf int
}

// Batch is a padded batch of sequences in the layout BERT-family ONNX models take:
// three flat row-major [Size][SeqLen] int64 tensors.
type Batch struct {
	// InputIDs, AttentionMask and TokenTypeIDs are the model inputs input_ids,
	// attention_mask and token_type_ids, each Size*SeqLen values, row r at [r*SeqLen:].
	InputIDs, AttentionMask, TokenTypeIDs []int64
	// Size is the number of sequences (rows), SeqLen the padded length (columns).
	Size, SeqLen int
	// Index holds, for each row, the index of its encoding in the slice the batch was
	// built from.
	Index []int
}

// Shape returns the tensor shape {Size, SeqLen}.
func (b *Batch) Shape() []int64 { return []int64{int64(b.Size), int64(b.SeqLen)} }

// NewBatch pads the encodings encs[idx[0]], encs[idx[1]], ... into one batch, to the
// length of the longest (dynamic padding), rounded up to pad.MultipleOf. Padding
// positions get pad.ID, attention mask 0 and token type 0.
func NewBatch(encs []Encoding, idx []int, pad Padding) (Batch, error) {
	if len(idx) == 0 {
		return Batch{}, errors.New("batch: no sequences")
	}
	seqLen := 0
	for _, i := range idx {
		if i < 0 || i >= len(encs) {
			return Batch{}, fmt.Errorf("batch: index %d out of range [0,%d)", i, len(encs))
		}
		e := &encs[i]
		if (e.TypeIDs != nil && len(e.TypeIDs) != len(e.IDs)) || (e.AttentionMask != nil && len(e.AttentionMask) != len(e.IDs)) {
			return Batch{}, fmt.Errorf("batch: encoding %d has %d ids but %d type ids and %d mask values",
				i, len(e.IDs), len(e.TypeIDs), len(e.AttentionMask))
		}
		seqLen = max(seqLen, len(e.IDs))
	}
	if m := pad.MultipleOf; m > 1 && seqLen%m != 0 {
		seqLen += m - seqLen%m
	}
	size := len(idx)
	buf := make([]int64, 3*size*seqLen)
	b := Batch{
		InputIDs:      buf[: size*seqLen : size*seqLen],
		AttentionMask: buf[size*seqLen : 2*size*seqLen : 2*size*seqLen],
		TokenTypeIDs:  buf[2*size*seqLen:],
		Size:          size,
		SeqLen:        seqLen,
		Index:         append([]int(nil), idx...),
	}
	for r, i := range idx {
		e := &encs[i]
		ids := b.InputIDs[r*seqLen : (r+1)*seqLen]
		mask := b.AttentionMask[r*seqLen : (r+1)*seqLen]
		types := b.TokenTypeIDs[r*seqLen : (r+1)*seqLen]
		for j, id := range e.IDs {
			ids[j] = int64(id)
			mask[j] = 1
		}
		for j := len(e.IDs); j < seqLen; j++ {
			ids[j] = int64(pad.ID)
		}
		if e.AttentionMask != nil {
			for j, m := range e.AttentionMask {
				mask[j] = int64(m)
			}
		}
		for j, t := range e.TypeIDs {
			types[j] = int64(t)
		}
	}
	return b, nil
}

// MakeBatches splits the encodings listed in order (all of encs, in order, when order is
// nil) into consecutive batches of batchSize rows (the last may be smaller), keeping the
// order: batch k holds order[k*batchSize : (k+1)*batchSize]. Each batch is padded on its
// own (see [NewBatch]).
func MakeBatches(encs []Encoding, order []int, batchSize int, pad Padding) ([]Batch, error) {
	if batchSize <= 0 {
		return nil, fmt.Errorf("batch: batch size %d must be positive", batchSize)
	}
	if order == nil {
		order = make([]int, len(encs))
		for i := range order {
			order[i] = i
		}
	}
	if len(order) == 0 {
		return nil, errors.New("batch: no sequences")
	}
	out := make([]Batch, 0, (len(order)+batchSize-1)/batchSize)
	for s := 0; s < len(order); s += batchSize {
		b, err := NewBatch(encs, order[s:min(s+batchSize, len(order))], pad)
		if err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, nil
}

// Stats describes a set of batches.
type Stats struct {
	Batches   int
	Sequences int
	// Tokens counts real (non-padding, attention mask 1) tokens, special tokens included.
	Tokens int
	// PaddedTokens counts all positions, padding included (sum of Size*SeqLen).
	PaddedTokens int
	// AvgLen is Tokens/Sequences; MaxLen the longest sequence in real tokens.
	AvgLen float64
	MaxLen int
	// Distinct counts the different sequences (real tokens and their token types; a draw
	// with replacement can repeat a sequence).
	Distinct int
}

// ComputeStats counts sequences and tokens over batches.
func ComputeStats(batches []Batch) Stats {
	var s Stats
	seen := map[uint64]bool{}
	for bi := range batches {
		b := &batches[bi]
		s.Batches++
		s.Sequences += b.Size
		s.PaddedTokens += b.Size * b.SeqLen
		for r := 0; r < b.Size; r++ {
			n := 0
			for _, m := range b.AttentionMask[r*b.SeqLen : (r+1)*b.SeqLen] {
				if m != 0 {
					n++
				}
			}
			s.Tokens += n
			s.MaxLen = max(s.MaxLen, n)
			seen[rowHash(b, r)] = true
		}
	}
	s.Distinct = len(seen)
	if s.Sequences > 0 {
		s.AvgLen = float64(s.Tokens) / float64(s.Sequences)
	}
	return s
}

// rowHash is a 64-bit FNV-1a hash of row r's real tokens (id and token type of every position
// whose attention mask is not 0): equal sequences, whatever their padding, hash equal.
func rowHash(b *Batch, r int) uint64 {
	h := fnv.New64a()
	var buf [16]byte
	for j := r * b.SeqLen; j < (r+1)*b.SeqLen; j++ {
		if b.AttentionMask[j] == 0 {
			continue
		}
		var tt int64
		if b.TokenTypeIDs != nil {
			tt = b.TokenTypeIDs[j]
		}
		binary.LittleEndian.PutUint64(buf[:8], uint64(b.InputIDs[j]))
		binary.LittleEndian.PutUint64(buf[8:], uint64(tt))
		h.Write(buf[:])
	}
	return h.Sum64()
}

// String summarises the statistics on one line.
func (s Stats) String() string {
	padding := 0.0
	if s.PaddedTokens > 0 {
		padding = 100 * float64(s.PaddedTokens-s.Tokens) / float64(s.PaddedTokens)
	}
	return fmt.Sprintf("%d sequences in %d batches, %d tokens (avg %.1f, max %d), %.1f%% padding",
		s.Sequences, s.Batches, s.Tokens, s.AvgLen, s.MaxLen, padding)
}

// CalibOptions configures [BuildCalibration].
type CalibOptions struct {
	SampleOptions
	// BatchSize is the number of sequences per batch.
	BatchSize int
	// Padding is usually the tokenizer's ([Tokenizer.Padding]).
	Padding Padding
	// Bucket sorts the drawn sequences by length (stably) before batching, so that each batch
	// holds sequences of similar length and little padding. The batch order is then fixed too,
	// by length. Off by default, as in the K-prune reference (batches in draw order).
	Bucket bool
}

// CalibSet is a calibration set ready to feed a model.
type CalibSet struct {
	// Indices are the sampled encodings, in draw order (= batch order unless bucketed).
	Indices []int
	Batches []Batch
	Stats   Stats
}

// BuildCalibration samples encodings (see [SampleIndices]) and batches them in draw
// order (see [MakeBatches]). The result is fully determined by encs and opts.
func BuildCalibration(encs []Encoding, opts CalibOptions) (*CalibSet, error) {
	idx, err := SampleIndices(encs, opts.SampleOptions)
	if err != nil {
		return nil, fmt.Errorf("calibration: %w", err)
	}
	order := idx
	if opts.Bucket {
		order = append([]int(nil), idx...)
		sort.SliceStable(order, func(a, b int) bool { return realTokens(&encs[order[a]]) < realTokens(&encs[order[b]]) })
	}
	batches, err := MakeBatches(encs, order, opts.BatchSize, opts.Padding)
	if err != nil {
		return nil, fmt.Errorf("calibration: %w", err)
	}
	return &CalibSet{Indices: idx, Batches: batches, Stats: ComputeStats(batches)}, nil
}
