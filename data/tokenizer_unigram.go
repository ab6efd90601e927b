package data

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
	"unicode/utf8"
)

// unigramModel is the Unigram model of Hugging Face tokenizers (SentencePiece models such
// as T5, XLM-R, ALBERT, mBART): each word is segmented into the vocabulary pieces whose
// scores (log probabilities) have the highest sum, by Viterbi search. A character no
// piece covers becomes the unknown piece, with a score 10 below the lowest; consecutive
// unknown pieces are fused into one.
type unigramModel struct {
	ids          map[string]int32 // piece -> id (a repeated piece keeps its last id)
	scores       []float64        // id -> score
	trie         pieceTrie
	unk          int32 // -1 if the model has no unk_id
	unkScore     float64
	byteFallback bool
	byteIDs      [256]int32 // id of "<0xXX>" for byte_fallback, -1 if absent
	cache        wordCache
}

// unigramPiece is one [piece, score] entry of a Unigram vocabulary.
type unigramPiece struct {
	piece string
	score float64
}

// UnmarshalJSON decodes a ["piece", score] pair.
func (u *unigramPiece) UnmarshalJSON(b []byte) error {
	var pair []json.RawMessage
	if err := json.Unmarshal(b, &pair); err != nil || len(pair) != 2 {
		return fmt.Errorf("want a [piece, score] pair, got %.40s", b)
	}
	if err := json.Unmarshal(pair[0], &u.piece); err != nil {
		return fmt.Errorf("piece: %w", err)
	}
	if err := json.Unmarshal(pair[1], &u.score); err != nil {
		return fmt.Errorf("score: %w", err)
	}
	return nil
}

// hfUnigram is the "model" object of a Unigram tokenizer.json.
type hfUnigram struct {
	Vocab        []json.RawMessage `json:"vocab"`
	UnkID        *int              `json:"unk_id"`
	ByteFallback bool              `json:"byte_fallback"`
}

// parseUnigram builds the Unigram model from the "model" object of a tokenizer.json.
func parseUnigram(raw json.RawMessage) (*unigramModel, []string, error) {
	var h hfUnigram
	if err := json.Unmarshal(raw, &h); err != nil {
		return nil, nil, fmt.Errorf("model: %w", err)
	}
	if h.Vocab == nil {
		return nil, nil, errors.New("model.vocab: missing")
	}
	if len(h.Vocab) >= 1<<28 {
		return nil, nil, fmt.Errorf("model.vocab: %d pieces is implausibly many", len(h.Vocab))
	}
	m := &unigramModel{ids: make(map[string]int32, len(h.Vocab)), scores: make([]float64, len(h.Vocab)),
		unk: -1, byteFallback: h.ByteFallback}
	tokens := make([]string, len(h.Vocab))
	minScore := math.Inf(1)
	for i, r := range h.Vocab {
		var p unigramPiece
		if err := json.Unmarshal(r, &p); err != nil {
			return nil, nil, fmt.Errorf("model.vocab[%d]: %w", i, err)
		}
		if math.IsNaN(p.score) {
			return nil, nil, fmt.Errorf("model.vocab[%d]: score is not a number", i)
		}
		tokens[i] = p.piece
		m.ids[p.piece] = int32(i)
		m.scores[i] = p.score
		minScore = min(minScore, p.score)
	}
	if h.UnkID != nil {
		if len(h.Vocab) == 0 {
			return nil, nil, errors.New("model.vocab: empty, but an unknown piece (unk_id) is needed")
		}
		if *h.UnkID < 0 || *h.UnkID >= len(h.Vocab) {
			return nil, nil, fmt.Errorf("model.unk_id: %d is outside the vocabulary of %d pieces", *h.UnkID, len(h.Vocab))
		}
		m.unk = int32(*h.UnkID)
	}
	m.unkScore = minScore - 10
	for b := range m.byteIDs {
		m.byteIDs[b] = -1
		if id, ok := m.ids[fmt.Sprintf("<0x%02X>", b)]; ok {
			m.byteIDs[b] = id
		}
	}
	m.trie = newPieceTrie(m.ids)
	return m, tokens, nil
}

// unigramNode is the best path ending at one byte position of a word.
type unigramNode struct {
	score float64
	start int32 // -1: not reached yet
	id    int32
}

// unigramSpan is one piece of the best segmentation: bytes [start, end) of the word.
type unigramSpan struct{ start, end, id int32 }

// appendIDs appends the ids of one pre-tokenized word.
func (m *unigramModel) appendIDs(dst []int32, w string, sc *encScratch) ([]int32, error) {
	if w == "" {
		return dst, nil
	}
	if ids, ok := m.cache.get(w); ok {
		return append(dst, ids...), nil
	}
	n0 := len(dst)
	dst, err := m.viterbi(dst, w, sc)
	if err != nil {
		return dst[:n0], err
	}
	m.cache.put(w, dst[n0:])
	return dst, nil
}

// errNoUnk is returned for a character no piece covers when the model has no unknown
// piece, as Hugging Face tokenizers does.
var errNoUnk = errors.New("unigram: a character is not in the vocabulary and the model has no unknown piece (unk_id)")

// viterbi is Hugging Face's Unigram::encode_optimized followed by Unigram::tokenize.
func (m *unigramModel) viterbi(dst []int32, w string, sc *encScratch) ([]int32, error) {
	n := len(w)
	best := sc.lattice[:0]
	for i := 0; i <= n; i++ {
		best = append(best, unigramNode{start: -1})
	}
	sc.lattice = best
	for start := 0; start < n; {
		base := best[start].score
		_, mblen := utf8.DecodeRuneInString(w[start:])
		single := false
		node := int32(0)
		for i := start; i < n; i++ {
			if node = m.trie.child(node, w[i]); node < 0 {
				break
			}
			id := m.trie.leaf[node]
			if id < 0 {
				continue
			}
			end := i + 1
			cand := m.scores[id] + base
			if t := &best[end]; t.start < 0 || cand > t.score {
				t.score, t.start, t.id = cand, int32(start), id
			}
			if end-start == mblen {
				single = true
			}
		}
		if !single {
			if m.unk < 0 {
				return dst, errNoUnk
			}
			end := start + mblen
			cand := m.unkScore + base
			if t := &best[end]; t.start < 0 || cand > t.score {
				t.score, t.start, t.id = cand, int32(start), m.unk
			}
		}
		start += mblen
	}
	// Walk back from the end, then reverse; consecutive unknown pieces are fused.
	spans := sc.spans[:0]
	for end := int32(n); end > 0; {
		nd := best[end]
		if nd.id == m.unk && len(spans) > 0 && spans[len(spans)-1].id == m.unk {
			spans[len(spans)-1].start = nd.start
		} else {
			spans = append(spans, unigramSpan{nd.start, end, nd.id})
		}
		end = nd.start
	}
	sc.spans = spans
	for k := len(spans) - 1; k >= 0; k-- {
		sp := spans[k]
		if sp.id != m.unk {
			dst = append(dst, sp.id)
			continue
		}
		piece := w[sp.start:sp.end]
		if id, ok := m.ids[piece]; ok {
			dst = append(dst, id)
			continue
		}
		if m.byteFallback {
			all := true
			for i := 0; i < len(piece); i++ {
				if m.byteIDs[piece[i]] < 0 {
					all = false
					break
				}
			}
			if all {
				for i := 0; i < len(piece); i++ {
					dst = append(dst, m.byteIDs[piece[i]])
				}
				continue
			}
		}
		dst = append(dst, m.unk)
	}
	return dst, nil
}

// pieceTrie is a byte trie of vocabulary pieces. Node 0 is the root; the edges of a node
// are contiguous in labels/children, sorted by label, and the root's are also indexed by
// byte in rootChild.
type pieceTrie struct {
	edgeStart []int32 // node -> first edge; edgeStart[len(nodes)] is the edge count
	labels    []byte
	children  []int32
	leaf      []int32 // node -> piece id, -1 if no piece ends there
	rootChild [256]int32
}

// newPieceTrie builds the trie of the keys of ids.
func newPieceTrie(ids map[string]int32) pieceTrie {
	keys := make([]string, 0, len(ids))
	for k := range ids {
		if k != "" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	// Breadth-first construction over the sorted keys: a node is a distinct prefix; its
	// children are the distinct next bytes of the keys sharing that prefix, in order.
	type group struct{ lo, hi, depth int } // keys[lo:hi] share a prefix of depth bytes
	t := pieceTrie{leaf: []int32{-1}}
	queue := []group{{0, len(keys), 0}}
	for qi := 0; qi < len(queue); qi++ {
		g := queue[qi]
		t.edgeStart = append(t.edgeStart, int32(len(t.labels)))
		lo := g.lo
		for lo < g.hi && len(keys[lo]) == g.depth {
			lo++ // the key ending here is this node's piece (set by the parent)
		}
		for lo < g.hi {
			c := keys[lo][g.depth]
			hi := lo
			for hi < g.hi && keys[hi][g.depth] == c {
				hi++
			}
			child := int32(len(queue))
			queue = append(queue, group{lo, hi, g.depth + 1})
			id := int32(-1)
			if len(keys[lo]) == g.depth+1 {
				id = ids[keys[lo]]
			}
			t.leaf = append(t.leaf, id)
			t.labels = append(t.labels, c)
			t.children = append(t.children, child)
			lo = hi
		}
	}
	t.edgeStart = append(t.edgeStart, int32(len(t.labels)))
	for i := range t.rootChild {
		t.rootChild[i] = -1
	}
	for e := t.edgeStart[0]; e < t.edgeStart[1]; e++ {
		t.rootChild[t.labels[e]] = t.children[e]
	}
	return t
}

// child returns the node reached from node by byte c, or -1.
func (t *pieceTrie) child(node int32, c byte) int32 {
	if node == 0 {
		return t.rootChild[c]
	}
	lo, hi := t.edgeStart[node], t.edgeStart[node+1]
	if hi-lo <= 8 {
		for e := lo; e < hi; e++ {
			if t.labels[e] == c {
				return t.children[e]
			}
		}
		return -1
	}
	i := lo + int32(sort.Search(int(hi-lo), func(i int) bool { return t.labels[lo+int32(i)] >= c }))
	if i < hi && t.labels[i] == c {
		return t.children[i]
	}
	return -1
}

// has reports whether piece is a key of the trie (for tests).
func (t *pieceTrie) has(piece string) bool {
	node := int32(0)
	for i := 0; i < len(piece); i++ {
		if node = t.child(node, piece[i]); node < 0 {
			return false
		}
	}
	return len(piece) > 0 && t.leaf[node] >= 0
}
