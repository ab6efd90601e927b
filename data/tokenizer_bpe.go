package data

import (
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"
)

// bpeModel is the BPE model of Hugging Face tokenizers (GPT-2, RoBERTa and other byte-level
// BPE tokenizers, and character-level BPE): each word starts as one symbol per character
// and the ranked merges are applied, lowest rank first, until none applies.
type bpeModel struct {
	vocab        map[string]int32
	merges       map[uint64]bpeMerge // key: left id << 32 | right id
	unkToken     string              // "" if none
	unk          int32               // id of unkToken, -1 if none or not in the vocabulary
	prefix       string              // continuing_subword_prefix
	suffix       string              // end_of_word_suffix
	fuseUnk      bool
	byteFallback bool
	ignoreMerges bool
	byteIDs      [256]int32 // id of "<0xXX>" for byte_fallback, -1 if absent
	cache        wordCache
}

// bpeMerge is the rank of a merge and the id of the token it makes.
type bpeMerge struct {
	rank, id int32
}

func mergeKey(a, b int32) uint64 { return uint64(uint32(a))<<32 | uint64(uint32(b)) }

// hfBPE is the "model" object of a BPE tokenizer.json.
type hfBPE struct {
	Vocab                   map[string]int32  `json:"vocab"`
	Merges                  []json.RawMessage `json:"merges"`
	UnkToken                *string           `json:"unk_token"`
	ContinuingSubwordPrefix *string           `json:"continuing_subword_prefix"`
	EndOfWordSuffix         *string           `json:"end_of_word_suffix"`
	FuseUnk                 bool              `json:"fuse_unk"`
	ByteFallback            bool              `json:"byte_fallback"`
	IgnoreMerges            bool              `json:"ignore_merges"`
	Dropout                 *float64          `json:"dropout"`
}

// parseBPE builds the BPE model from the "model" object of a tokenizer.json. Dropout is
// accepted but not applied: kprune encodes deterministically, as with dropout 0.
func parseBPE(raw json.RawMessage) (*bpeModel, error) {
	var h hfBPE
	if err := json.Unmarshal(raw, &h); err != nil {
		return nil, fmt.Errorf("model: %w", err)
	}
	if h.Vocab == nil {
		return nil, fmt.Errorf("model.vocab: missing (a BPE model needs vocab and merges)")
	}
	if h.Merges == nil {
		return nil, fmt.Errorf("model.merges: missing (a BPE model needs vocab and merges)")
	}
	if h.Dropout != nil && (*h.Dropout < 0 || *h.Dropout > 1) {
		return nil, fmt.Errorf("model.dropout: %g is not in [0, 1]", *h.Dropout)
	}
	m := &bpeModel{vocab: h.Vocab, merges: make(map[uint64]bpeMerge, len(h.Merges)), unk: -1,
		fuseUnk: h.FuseUnk, byteFallback: h.ByteFallback, ignoreMerges: h.IgnoreMerges}
	if h.UnkToken != nil {
		m.unkToken = *h.UnkToken
		if id, ok := m.vocab[m.unkToken]; ok {
			m.unk = id
		}
	}
	if h.ContinuingSubwordPrefix != nil {
		m.prefix = *h.ContinuingSubwordPrefix
	}
	if h.EndOfWordSuffix != nil {
		m.suffix = *h.EndOfWordSuffix
	}
	for b := range m.byteIDs {
		m.byteIDs[b] = -1
		if id, ok := m.vocab[fmt.Sprintf("<0x%02X>", b)]; ok {
			m.byteIDs[b] = id
		}
	}
	isString := len(h.Merges) > 0 && strings.HasPrefix(string(h.Merges[0]), `"`)
	for i, r := range h.Merges {
		var a, b string
		if isString {
			var line string
			if err := json.Unmarshal(r, &line); err != nil {
				return nil, fmt.Errorf("model.merges[%d]: want a string like \"a b\" as the first merges are: %w", i, err)
			}
			parts := strings.Split(line, " ")
			if len(parts) != 2 {
				return nil, fmt.Errorf("model.merges[%d]: %q is not two tokens separated by one space", i, line)
			}
			a, b = parts[0], parts[1]
		} else {
			var pair []string
			if err := json.Unmarshal(r, &pair); err != nil || len(pair) != 2 {
				return nil, fmt.Errorf("model.merges[%d]: want a pair of tokens [\"a\", \"b\"], got %.40s", i, r)
			}
			a, b = pair[0], pair[1]
		}
		ida, ok := m.vocab[a]
		if !ok {
			return nil, fmt.Errorf("model.merges[%d]: token %q is not in the vocabulary", i, a)
		}
		idb, ok := m.vocab[b]
		if !ok {
			return nil, fmt.Errorf("model.merges[%d]: token %q is not in the vocabulary", i, b)
		}
		if len(b) < len(m.prefix) {
			return nil, fmt.Errorf("model.merges[%d]: token %q is shorter than the continuing_subword_prefix %q", i, b, m.prefix)
		}
		merged := a + b[len(m.prefix):]
		id, ok := m.vocab[merged]
		if !ok {
			return nil, fmt.Errorf("model.merges[%d]: merged token %q is not in the vocabulary", i, merged)
		}
		m.merges[mergeKey(ida, idb)] = bpeMerge{rank: int32(i), id: id}
	}
	return m, nil
}

// bpeSymbol is one symbol of a word being merged; a merged-away symbol has size 0.
type bpeSymbol struct {
	id         int32
	prev, next int32
	size       int32 // bytes of the word it covers
}

// bpeCandidate is a possible merge in the priority queue.
type bpeCandidate struct {
	pos, rank, id int32
}

// less orders candidates by rank, then position, as Hugging Face's queue does.
func (c bpeCandidate) less(d bpeCandidate) bool {
	if c.rank != d.rank {
		return c.rank < d.rank
	}
	return c.pos < d.pos
}

// bpeScratch holds the buffers of one word's merge.
type bpeScratch struct {
	syms  []bpeSymbol
	queue []bpeCandidate
	key   []byte
}

// appendIDs appends the ids of one pre-tokenized word.
func (m *bpeModel) appendIDs(dst []int32, w string, sc *encScratch) ([]int32, error) {
	if w == "" {
		return dst, nil
	}
	if m.ignoreMerges {
		if id, ok := m.vocab[w]; ok {
			return append(dst, id), nil
		}
	}
	if ids, ok := m.cache.get(w); ok {
		return append(dst, ids...), nil
	}
	n0 := len(dst)
	dst, err := m.mergeWord(dst, w, &sc.bpe)
	if err != nil {
		return dst[:n0], err
	}
	m.cache.put(w, dst[n0:])
	return dst, nil
}

// mergeWord is Hugging Face's BPE::merge_word followed by Word::merge_all.
func (m *bpeModel) mergeWord(dst []int32, w string, sc *bpeScratch) ([]int32, error) {
	syms := sc.syms[:0]
	add := func(id int32, size int) {
		n := int32(len(syms))
		if n > 0 {
			syms[n-1].next = n
		}
		syms = append(syms, bpeSymbol{id: id, prev: n - 1, next: -1, size: int32(size)})
	}
	unkID, unkSize := int32(-1), 0 // pending unknown symbol
	for i := 0; i < len(w); {
		_, size := utf8.DecodeRuneInString(w[i:])
		ch := w[i : i+size]
		key := ch
		if m.prefix != "" && i > 0 || m.suffix != "" && i+size == len(w) {
			b := sc.key[:0]
			if i > 0 {
				b = append(b, m.prefix...)
			}
			b = append(b, ch...)
			if i+size == len(w) {
				b = append(b, m.suffix...)
			}
			sc.key = b
			key = string(b)
		}
		i += size
		if id, ok := m.vocab[key]; ok {
			if unkID >= 0 {
				add(unkID, unkSize)
				unkID = -1
			}
			add(id, size)
			continue
		}
		if m.byteFallback {
			all := true
			for k := 0; k < len(key); k++ {
				if m.byteIDs[key[k]] < 0 {
					all = false
					break
				}
			}
			if all {
				// As in the reference, a pending unknown symbol is not flushed first.
				for k := 0; k < len(key); k++ {
					add(m.byteIDs[key[k]], 1)
				}
				continue
			}
		}
		if m.unkToken == "" {
			continue // no unknown token: the character is dropped
		}
		if m.unk < 0 {
			sc.syms = syms
			return dst, fmt.Errorf("BPE unknown token %q is not in the vocabulary", m.unkToken)
		}
		switch {
		case unkID >= 0 && m.fuseUnk:
			unkSize += size
		case unkID >= 0:
			add(unkID, unkSize)
			unkID, unkSize = m.unk, size
		default:
			unkID, unkSize = m.unk, size
		}
	}
	if unkID >= 0 {
		add(unkID, unkSize)
	}
	syms = m.mergeAll(syms, sc)
	for _, s := range syms {
		if s.size != 0 {
			dst = append(dst, s.id)
		}
	}
	sc.syms = syms
	return dst, nil
}

// mergeAll applies the merges to the symbols as Hugging Face's Word::merge_all does: a
// min-queue of candidate merges by (rank, position), skipping stale entries.
func (m *bpeModel) mergeAll(syms []bpeSymbol, sc *bpeScratch) []bpeSymbol {
	q := sc.queue[:0]
	for i := 0; i+1 < len(syms); i++ {
		if mg, ok := m.merges[mergeKey(syms[i].id, syms[i+1].id)]; ok {
			q = heapPush(q, bpeCandidate{pos: int32(i), rank: mg.rank, id: mg.id})
		}
	}
	for len(q) > 0 {
		var top bpeCandidate
		top, q = heapPop(q)
		cur := &syms[top.pos]
		if cur.size == 0 || cur.next == -1 {
			continue
		}
		nextPos := cur.next
		right := syms[nextPos]
		if mg, ok := m.merges[mergeKey(cur.id, right.id)]; !ok || mg.id != top.id {
			continue // stale entry
		}
		cur.id = top.id
		cur.size += right.size
		cur.next = right.next
		syms[nextPos].size = 0
		if right.next >= 0 && int(right.next) < len(syms) {
			syms[right.next].prev = top.pos
		}
		if cur.prev >= 0 {
			if mg, ok := m.merges[mergeKey(syms[cur.prev].id, cur.id)]; ok {
				q = heapPush(q, bpeCandidate{pos: cur.prev, rank: mg.rank, id: mg.id})
			}
		}
		if cur.next >= 0 && int(cur.next) < len(syms) {
			if mg, ok := m.merges[mergeKey(cur.id, syms[cur.next].id)]; ok {
				q = heapPush(q, bpeCandidate{pos: top.pos, rank: mg.rank, id: mg.id})
			}
		}
	}
	sc.queue = q
	return syms
}

// heapPush adds c to the binary min-heap q.
func heapPush(q []bpeCandidate, c bpeCandidate) []bpeCandidate {
	q = append(q, c)
	for i := len(q) - 1; i > 0; {
		p := (i - 1) / 2
		if !q[i].less(q[p]) {
			break
		}
		q[i], q[p] = q[p], q[i]
		i = p
	}
	return q
}

// heapPop removes and returns the smallest candidate of the non-empty heap q.
func heapPop(q []bpeCandidate) (bpeCandidate, []bpeCandidate) {
	top := q[0]
	n := len(q) - 1
	q[0] = q[n]
	q = q[:n]
	for i := 0; ; {
		l := 2*i + 1
		if l >= n {
			break
		}
		c := l
		if r := l + 1; r < n && q[r].less(q[l]) {
			c = r
		}
		if !q[c].less(q[i]) {
			break
		}
		q[i], q[c] = q[c], q[i]
		i = c
	}
	return top, q
}
