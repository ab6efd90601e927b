package data

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
)

// Encoding is one tokenized input: a single text or a sentence pair with the model's
// special tokens already in place.
type Encoding struct {
	// IDs are the token ids, e.g. [CLS] a [SEP] b [SEP].
	IDs []int32
	// TypeIDs are the segment (token type) ids, 0 for the first text and its special
	// tokens, 1 for the second. Nil means all zeros.
	TypeIDs []int32
	// AttentionMask is 1 for real tokens and 0 for padding. Nil means all ones; it is
	// only set for pre-tokenised records that carry their own mask.
	AttentionMask []int32
}

// Len returns the number of tokens, special tokens included.
func (e Encoding) Len() int { return len(e.IDs) }

// SpecialTokens holds the ids of a tokenizer's special tokens; -1 marks a token the
// tokenizer does not have.
type SpecialTokens struct {
	CLS, SEP, PAD, UNK, MASK int32
}

// Kind names the model of a tokenizer.
type Kind string

// The tokenizer models kprune implements.
const (
	// KindWordPiece is BERT's WordPiece (BERT, DistilBERT, MiniLM, ELECTRA, ...).
	KindWordPiece Kind = "WordPiece"
	// KindBPE is byte-pair encoding, byte-level as in GPT-2 and RoBERTa or not.
	KindBPE Kind = "BPE"
	// KindUnigram is SentencePiece's Unigram model (T5, XLM-R, ALBERT, mBART, ...).
	KindUnigram Kind = "Unigram"
)

// Tokenizer is a tokenizer of the Hugging Face "tokenizers" library: normalizer,
// pre-tokenizer, model (WordPiece, BPE or Unigram) and post-processor. Create one with
// [LoadTokenizer], [LoadVocab] or [LoadTokenizerJSON]. A Tokenizer is safe for concurrent
// use.
type Tokenizer struct {
	source    string // file it was loaded from, for messages
	kind      Kind
	wp        wordPiece    // the WordPiece model (KindWordPiece only)
	model     subwordModel // the model, for the general pipeline
	generic   bool         // use the general pipeline (encodeGeneric)
	voc       vocabulary   // id -> token
	vocab     map[string]int32
	norm      normalizer
	pre       preTokenizer
	added     addedSet // matched on the raw text
	addedIDs  map[string]int32
	addedNorm addedSet // matched on the normalized text
	post      postProcessor
	special   SpecialTokens
	vocabSize int

	maxLen      int // truncation max_length from tokenizer.json, 0 if none
	strategy    truncStrategy
	truncLeft   bool
	padMultiple int

	fast       bool // ASCII fast path applicable
	asciiClass [128]uint8
	asciiByte  [128]byte
	asciiID    [128]int32 // id of a lone ASCII punctuation character
	pool       sync.Pool  // *encScratch
}

// ASCII classes of the fast path.
const (
	asciiWord uint8 = iota
	asciiSpace
	asciiPunct
	asciiDrop
)

type truncStrategy uint8

const (
	truncLongestFirst truncStrategy = iota
	truncOnlyFirst
	truncOnlySecond
)

// encScratch holds per-call buffers, recycled through Tokenizer.pool.
type encScratch struct {
	a, b    []int32
	word    []byte
	words   []string
	tmp     []string
	leads   []int
	tmpLead []int
	buf     []byte
	bpe     bpeScratch
	lattice []unigramNode
	spans   []unigramSpan
}

// subwordModel segments one pre-tokenized word into token ids.
type subwordModel interface {
	appendIDs(dst []int32, word string, sc *encScratch) ([]int32, error)
}

// vocabulary maps token ids to their strings.
type vocabulary struct {
	tokens []string // id -> token
	has    []bool   // id -> whether the id is in use
}

// newVocabulary builds the id table of a token -> id map, rejecting negative and
// implausibly large ids.
func newVocabulary(vocab map[string]int32) (vocabulary, error) {
	maxID := int32(-1)
	for tok, id := range vocab {
		if id < 0 {
			return vocabulary{}, fmt.Errorf("token %q has negative id %d", tok, id)
		}
		maxID = max(maxID, id)
	}
	if maxID >= 1<<28 {
		return vocabulary{}, fmt.Errorf("vocabulary id %d is implausibly large", maxID)
	}
	v := vocabulary{tokens: make([]string, maxID+1), has: make([]bool, maxID+1)}
	for tok, id := range vocab {
		v.tokens[id], v.has[id] = tok, true
	}
	return v, nil
}

// set records token tok for id, growing the table if needed.
func (v *vocabulary) set(id int32, tok string) {
	for int(id) >= len(v.tokens) {
		v.tokens = append(v.tokens, "")
		v.has = append(v.has, false)
	}
	v.tokens[id], v.has[id] = tok, true
}

// wordCache remembers the ids of recent words for the BPE and Unigram models (as the
// Hugging Face models do); it holds at most wordCacheSize words of fewer than 256 bytes.
type wordCache struct {
	mu sync.RWMutex
	m  map[string][]int32
}

const wordCacheSize = 10000

func (c *wordCache) get(w string) ([]int32, bool) {
	c.mu.RLock()
	ids, ok := c.m[w]
	c.mu.RUnlock()
	return ids, ok
}

func (c *wordCache) put(w string, ids []int32) {
	if len(w) >= 256 {
		return
	}
	c.mu.Lock()
	if c.m == nil {
		c.m = make(map[string][]int32)
	}
	if len(c.m) < wordCacheSize {
		c.m[w] = slices.Clone(ids)
	}
	c.mu.Unlock()
}

// LoadTokenizer loads a tokenizer from path, choosing the loader from the file:
// a *.json file is read as a Hugging Face tokenizer.json; any other file as a WordPiece
// vocab.txt. A directory is searched for tokenizer.json, then vocab.txt. For a vocab.txt,
// the options are [DefaultVocabOptions] (uncased BERT), adjusted by do_lower_case,
// strip_accents and tokenize_chinese_chars from a tokenizer_config.json next to it, if
// there is one.
func LoadTokenizer(path string) (*Tokenizer, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("load tokenizer: %w", err)
	}
	if st.IsDir() {
		for _, name := range []string{"tokenizer.json", "vocab.txt"} {
			p := filepath.Join(path, name)
			if _, err := os.Stat(p); err == nil {
				return LoadTokenizer(p)
			}
		}
		return nil, fmt.Errorf("load tokenizer: %s holds neither tokenizer.json nor vocab.txt", path)
	}
	if strings.EqualFold(filepath.Ext(path), ".json") {
		return LoadTokenizerJSON(path)
	}
	opts := DefaultVocabOptions()
	if err := applyTokenizerConfig(&opts, filepath.Join(filepath.Dir(path), "tokenizer_config.json")); err != nil {
		return nil, err
	}
	return LoadVocab(path, opts)
}

// Source returns the file the tokenizer was loaded from.
func (t *Tokenizer) Source() string { return t.source }

// Kind returns the tokenizer's model: [KindWordPiece], [KindBPE] or [KindUnigram].
func (t *Tokenizer) Kind() Kind { return t.kind }

// UsesTypeIDs reports whether the token type ids of the tokenizer's encodings carry
// information, that is whether its post-processor gives some tokens a type id other than
// 0 (BERT's second segment). RoBERTa, XLM-R and T5 tokenizers give 0 everywhere, and
// their models have no token_type_ids input; [Encoding.TypeIDs] is then all zeros and
// callers should feed it only to models that declare the input.
func (t *Tokenizer) UsesTypeIDs() bool {
	for _, tmpl := range [][]tmplPiece{t.post.single, t.post.pair} {
		for _, pc := range tmpl {
			if pc.typeID != 0 {
				return true
			}
		}
	}
	return false
}

// VocabSize returns the number of token ids the tokenizer can produce: one more than the
// largest id in its vocabulary and added tokens. A model's embedding matrix must have at
// least this many rows.
func (t *Tokenizer) VocabSize() int { return t.vocabSize }

// Special returns the ids of the special tokens ([CLS], [SEP], [PAD], [UNK], [MASK] or
// their equivalents, such as <s>, </s>, <pad>, <unk> and <mask>); absent ones are -1. A
// tokenizer without a start token, such as T5's, has CLS -1.
func (t *Tokenizer) Special() SpecialTokens { return t.special }

// PadID returns the id used for padding, or 0 if the tokenizer has no padding token.
func (t *Tokenizer) PadID() int32 {
	if t.special.PAD < 0 {
		return 0
	}
	return t.special.PAD
}

// MaxLen returns the truncation length configured in the tokenizer file (tokenizer.json
// "truncation.max_length"), or 0 if none is configured.
func (t *Tokenizer) MaxLen() int { return t.maxLen }

// Padding returns the padding to use for batches of this tokenizer's encodings: its pad
// id and the "padding.pad_to_multiple_of" of the tokenizer file (0 if none).
func (t *Tokenizer) Padding() Padding { return Padding{ID: t.PadID(), MultipleOf: t.padMultiple} }

// Token returns the string of token id, and whether the id exists.
func (t *Tokenizer) Token(id int32) (string, bool) {
	if id < 0 || int(id) >= len(t.voc.tokens) || !t.voc.has[id] {
		return "", false
	}
	return t.voc.tokens[id], true
}

// ID returns the id of token (a vocabulary entry or an added token), and whether it exists.
func (t *Tokenizer) ID(token string) (int32, bool) {
	if id, ok := t.addedIDs[token]; ok {
		return id, true
	}
	id, ok := t.vocab[token]
	return id, ok
}

// Tokens maps ids to their token strings; unknown ids map to "".
func (t *Tokenizer) Tokens(ids []int32) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i], _ = t.Token(id)
	}
	return out
}

// Encode tokenizes one text and adds the special tokens ([CLS] text [SEP] for BERT,
// <s> text </s> for RoBERTa, text </s> for T5). If maxLen > 0 the result is truncated to
// at most maxLen tokens, special tokens included; maxLen == 0 means no truncation. It
// fails if maxLen is negative or too small to hold the special tokens, or (as the Hugging
// Face library does) if the text has a character the model cannot represent and no
// unknown token to stand for it.
func (t *Tokenizer) Encode(text string, maxLen int) (Encoding, error) {
	return t.encode(text, "", false, maxLen)
}

// EncodePair tokenizes a sentence pair as [CLS] a [SEP] b [SEP] (or as the tokenizer
// file's pair template says, such as <s> a </s></s> b </s> for RoBERTa and XLM-R), with
// token type ids 0 for a and 1 for b (0 for both where the template says so). If
// maxLen > 0 the result is truncated to at most maxLen tokens with the tokenizer's
// strategy (longest first unless the tokenizer file says otherwise: tokens are removed
// from the longer sequence; when both must be cut, each keeps about half of the room),
// as the Hugging Face tokenizers library does.
func (t *Tokenizer) EncodePair(a, b string, maxLen int) (Encoding, error) {
	return t.encode(a, b, true, maxLen)
}

// Tokenize returns the tokens of text without special tokens, truncation or padding;
// it is meant for inspection and debugging. For a text [Tokenizer.Encode] rejects, it
// returns the tokens before the failure.
func (t *Tokenizer) Tokenize(text string) []string {
	sc := t.scratch()
	defer t.pool.Put(sc)
	sc.a, _ = t.encodeSeq(sc.a[:0], text, sc)
	return t.Tokens(sc.a)
}

func (t *Tokenizer) scratch() *encScratch {
	if sc, ok := t.pool.Get().(*encScratch); ok {
		return sc
	}
	return &encScratch{a: make([]int32, 0, 128), b: make([]int32, 0, 128), word: make([]byte, 0, 64)}
}

func (t *Tokenizer) encode(a, b string, pair bool, maxLen int) (Encoding, error) {
	if maxLen < 0 {
		return Encoding{}, fmt.Errorf("encode: negative max length %d", maxLen)
	}
	sc := t.scratch()
	defer t.pool.Put(sc)
	ia, err := t.encodeSeq(sc.a[:0], a, sc)
	sc.a = ia
	if err != nil {
		return Encoding{}, err
	}
	var ib []int32
	if pair {
		ib, err = t.encodeSeq(sc.b[:0], b, sc)
		sc.b = ib
		if err != nil {
			return Encoding{}, err
		}
	}
	if maxLen > 0 {
		var err error
		if ia, ib, err = t.truncate(ia, ib, pair, maxLen); err != nil {
			return Encoding{}, err
		}
	}
	return t.post.assemble(ia, ib, pair), nil
}

// truncate cuts the two token sequences (before special tokens are added) so that the
// final encoding has at most maxLen tokens, following Hugging Face tokenizers.
func (t *Tokenizer) truncate(a, b []int32, pair bool, maxLen int) ([]int32, []int32, error) {
	nSpecial := t.post.numAdded(pair)
	budget := maxLen - nSpecial
	if budget < 0 {
		return nil, nil, fmt.Errorf("encode: max length %d cannot hold the %d special tokens", maxLen, nSpecial)
	}
	total := len(a) + len(b)
	if total <= budget {
		return a, b, nil
	}
	cut := func(s []int32, n int) []int32 {
		if len(s) <= n {
			return s
		}
		if t.truncLeft {
			return s[len(s)-n:]
		}
		return s[:n]
	}
	remove := total - budget
	switch {
	case !pair && t.strategy == truncOnlySecond:
		return nil, nil, errors.New("encode: truncation strategy only_second needs a sentence pair")
	case !pair:
		return cut(a, budget), b, nil
	case t.strategy == truncOnlyFirst:
		if len(a) <= remove {
			return nil, nil, fmt.Errorf("encode: first sequence (%d tokens) too short to truncate to max length %d", len(a), maxLen)
		}
		return cut(a, len(a)-remove), b, nil
	case t.strategy == truncOnlySecond:
		if len(b) <= remove {
			return nil, nil, fmt.Errorf("encode: second sequence (%d tokens) too short to truncate to max length %d", len(b), maxLen)
		}
		return a, cut(b, len(b)-remove), nil
	}
	// Longest first, as ported from the legacy algorithm in Hugging Face tokenizers.
	n1, n2 := len(a), len(b)
	swap := n1 > n2
	if swap {
		n1, n2 = n2, n1
	}
	if n1 > budget {
		n2 = n1
	} else {
		n2 = max(n1, budget-n1)
	}
	if n1+n2 > budget {
		n1 = budget / 2
		n2 = n1 + budget%2
	}
	if swap {
		n1, n2 = n2, n1
	}
	return cut(a, n1), cut(b, n2), nil
}

// encodeSeq appends the ids of text (no special tokens) to dst, with the WordPiece fast
// pipeline or the general one.
func (t *Tokenizer) encodeSeq(dst []int32, text string, sc *encScratch) ([]int32, error) {
	if t.generic {
		return t.encodeGeneric(dst, text, sc)
	}
	return t.encodeText(dst, text, sc), nil
}

// encodeGeneric is the general pipeline of Hugging Face tokenizers: added tokens that are
// matched on the raw text are split out first; every other segment is normalized, then
// split on the added tokens matched on normalized text; every remaining piece is
// pre-tokenized into words, which the model turns into ids. Invalid UTF-8 is first
// replaced by U+FFFD (the reference only accepts valid strings).
func (t *Tokenizer) encodeGeneric(dst []int32, text string, sc *encScratch) ([]int32, error) {
	if !utf8.ValidString(text) {
		text = strings.ToValidUTF8(text, "\uFFFD")
	}
	pos := 0
	var err error
	for len(t.added.toks) > 0 {
		ms, me, id, ok := t.added.next(text, pos)
		if !ok {
			break
		}
		if dst, err = t.genericSegment(dst, text[pos:ms], pos == 0, sc); err != nil {
			return dst, err
		}
		dst = append(dst, id)
		pos = me
	}
	return t.genericSegment(dst, text[pos:], pos == 0, sc)
}

// genericSegment encodes a segment free of raw added tokens; first tells whether it
// starts the text.
func (t *Tokenizer) genericSegment(dst []int32, s string, first bool, sc *encScratch) ([]int32, error) {
	if s == "" {
		return dst, nil
	}
	lead := 0 // bytes standing at the start of the text: the first character, if first
	if first {
		_, lead = utf8.DecodeRuneInString(s)
	}
	ns, lead := t.norm.applyLead(s, lead)
	pos := 0
	var err error
	for len(t.addedNorm.toks) > 0 {
		ms, me, id, ok := t.addedNorm.next(ns, pos)
		if !ok {
			break
		}
		if dst, err = t.genericWords(dst, ns[pos:ms], max(0, lead-pos), sc); err != nil {
			return dst, err
		}
		dst = append(dst, id)
		pos = me
	}
	return t.genericWords(dst, ns[pos:], max(0, lead-pos), sc)
}

// genericWords pre-tokenizes a normalized piece, whose first lead bytes stand at the
// start of the text, and runs the model over each word.
func (t *Tokenizer) genericWords(dst []int32, ns string, lead int, sc *encScratch) ([]int32, error) {
	if ns == "" {
		return dst, nil
	}
	words := t.pre.splitGeneric(sc.words[:0], ns, min(lead, len(ns)), sc)
	sc.words = words
	var err error
	for _, w := range words {
		if dst, err = t.model.appendIDs(dst, w, sc); err != nil {
			break
		}
	}
	clear(words)
	return dst, err
}

// encodeText appends the ids of text (no special tokens) to dst: added tokens are split
// out of the raw text first, then each remaining segment is normalized, pre-tokenized and
// run through WordPiece.
func (t *Tokenizer) encodeText(dst []int32, text string, sc *encScratch) []int32 {
	return t.added.split(dst, text, func(dst []int32, s string) []int32 { return t.encodeSegment(dst, s, sc) })
}

// encodeSegment encodes a segment free of raw added tokens.
func (t *Tokenizer) encodeSegment(dst []int32, s string, sc *encScratch) []int32 {
	if s == "" {
		return dst
	}
	if t.fast {
		if out, ok := t.encodeASCII(dst, s, sc); ok {
			return out
		}
	}
	return t.addedNorm.split(dst, t.norm.apply(s), func(dst []int32, s string) []int32 { return t.encodeWords(dst, s, sc) })
}

// encodeWords pre-tokenizes a normalized segment and runs WordPiece over each word.
func (t *Tokenizer) encodeWords(dst []int32, ns string, sc *encScratch) []int32 {
	sc.words = t.pre.split(sc.words[:0], ns)
	for _, w := range sc.words {
		sc.word = append(sc.word[:0], w...)
		dst = t.wp.word(dst, sc.word, utf8.RuneCount(sc.word))
	}
	clear(sc.words)
	return dst
}

// encodeASCII is the fast path for the BERT normalizer and pre-tokenizer on pure-ASCII
// text: one pass, table-driven, no allocation. It reports false (and leaves dst
// unchanged in content) as soon as it meets a non-ASCII byte.
func (t *Tokenizer) encodeASCII(dst []int32, s string, sc *encScratch) ([]int32, bool) {
	n0 := len(dst)
	w := sc.word[:0]
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x80 {
			sc.word = w
			return dst[:n0], false
		}
		switch t.asciiClass[c] {
		case asciiWord:
			w = append(w, t.asciiByte[c])
		case asciiSpace:
			if len(w) > 0 {
				dst = t.wp.word(dst, w, len(w))
				w = w[:0]
			}
		case asciiPunct:
			if len(w) > 0 {
				dst = t.wp.word(dst, w, len(w))
				w = w[:0]
			}
			dst = append(dst, t.asciiID[c])
		}
	}
	if len(w) > 0 {
		dst = t.wp.word(dst, w, len(w))
	}
	sc.word = w
	return dst, true
}

// finish derives the lookup tables of the fast path and the special-token ids; the
// loaders call it last.
func (t *Tokenizer) finish() {
	if t.kind != KindWordPiece {
		t.finishGeneric()
		return
	}
	if t.model == nil {
		t.model = &t.wp
	}
	t.special.UNK = t.wp.unk
	if t.special.CLS < 0 {
		t.special.CLS = t.lookup("[CLS]")
	}
	if t.special.SEP < 0 {
		t.special.SEP = t.lookup("[SEP]")
	}
	if t.special.PAD < 0 {
		t.special.PAD = t.lookup("[PAD]")
	}
	if t.special.MASK < 0 {
		t.special.MASK = t.lookup("[MASK]")
	}
	t.setVocabSize()
	if !t.norm.classic() || !t.pre.classic() {
		t.generic = true
		return
	}

	var bert *normStep
	switch {
	case len(t.norm) == 0:
		bert = &normStep{kind: normBert}
	case len(t.norm) == 1 && t.norm[0].kind == normBert:
		bert = &t.norm[0]
	}
	t.fast = bert != nil && len(t.pre) == 1 && t.pre[0].kind == preBert && len(t.addedNorm.toks) == 0
	if !t.fast {
		return
	}
	for c := 0; c < 128; c++ {
		b := byte(c)
		t.asciiByte[c] = b
		switch {
		case bert.clean && (c == 0 || isControl(rune(c))):
			t.asciiClass[c] = asciiDrop
		case isWhitespace(rune(c)):
			t.asciiClass[c] = asciiSpace
		case isASCIIPunct(b):
			t.asciiClass[c] = asciiPunct
			t.asciiID[c] = t.wp.word(nil, []byte{b}, 1)[0]
		default:
			t.asciiClass[c] = asciiWord
			if bert.lower && b >= 'A' && b <= 'Z' {
				t.asciiByte[c] = b + 'a' - 'A'
			}
		}
	}
}

// setVocabSize sets vocabSize from the id table and the post-processor's ids.
func (t *Tokenizer) setVocabSize() {
	t.vocabSize = len(t.voc.tokens)
	for _, tmpl := range [][]tmplPiece{t.post.single, t.post.pair} {
		for _, pc := range tmpl {
			for _, id := range pc.ids {
				t.vocabSize = max(t.vocabSize, int(id)+1)
			}
		}
	}
}

// finishGeneric completes a BPE or Unigram tokenizer: special tokens not set from the
// file are looked up under their usual names, in the RoBERTa/SentencePiece spelling
// first.
func (t *Tokenizer) finishGeneric() {
	t.generic = true
	pick := func(cur int32, names ...string) int32 {
		for _, n := range names {
			if cur >= 0 {
				break
			}
			cur = t.lookup(n)
		}
		return cur
	}
	t.special.CLS = pick(t.special.CLS, "<s>", "[CLS]")
	t.special.SEP = pick(t.special.SEP, "</s>", "[SEP]")
	t.special.PAD = pick(t.special.PAD, "<pad>", "[PAD]")
	t.special.UNK = pick(t.special.UNK, "<unk>", "[UNK]")
	t.special.MASK = pick(t.special.MASK, "<mask>", "[MASK]")
	t.setVocabSize()
}

// lookup returns the id of an added token or vocabulary entry, or -1.
func (t *Tokenizer) lookup(tok string) int32 {
	if id, ok := t.ID(tok); ok {
		return id
	}
	return -1
}

// CheckVocab reports whether tok can drive a model whose token embedding matrix has
// embeddingRows rows: the tokenizer must not produce ids beyond the matrix, and a
// WordPiece tokenizer must have the [CLS], [SEP], [UNK] and [PAD] tokens that BERT inputs
// need. BPE and Unigram tokenizers follow their own templates (T5 has no start token,
// GPT-2 no padding token), so only the special tokens they have are checked against the
// matrix. All problems found are joined into the returned error; nil means the pair
// looks consistent. A vocabulary smaller than the matrix is fine (models often round the
// matrix up).
func CheckVocab(tok *Tokenizer, embeddingRows int) error {
	if tok == nil {
		return errors.New("check vocab: no tokenizer")
	}
	if embeddingRows <= 0 {
		return fmt.Errorf("check vocab: model has %d embedding rows", embeddingRows)
	}
	var errs []error
	if tok.vocabSize > embeddingRows {
		errs = append(errs, fmt.Errorf("tokenizer %s has %d tokens but the model's embedding has only %d rows: wrong tokenizer for this model?",
			tok.source, tok.vocabSize, embeddingRows))
	}
	sp := tok.special
	type special struct {
		name string
		id   int32
	}
	required := []special{{"[CLS]", sp.CLS}, {"[SEP]", sp.SEP}, {"[UNK]", sp.UNK}, {"[PAD]", sp.PAD}}
	if tok.kind != KindWordPiece {
		required = required[:0]
		for _, id := range []int32{sp.CLS, sp.SEP, sp.UNK, sp.PAD, sp.MASK} {
			if id >= 0 {
				name, _ := tok.Token(id)
				required = append(required, special{name, id})
			}
		}
	}
	for _, s := range required {
		switch {
		case s.id < 0:
			errs = append(errs, fmt.Errorf("tokenizer %s has no %s token", tok.source, s.name))
		case int(s.id) >= embeddingRows:
			errs = append(errs, fmt.Errorf("tokenizer %s: %s has id %d, beyond the model's %d embedding rows",
				tok.source, s.name, s.id, embeddingRows))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("check vocab: %w", errors.Join(errs...))
	}
	return nil
}

// addedToken is a token matched literally in the text before WordPiece runs, such as
// [CLS] or [MASK] typed by the user.
type addedToken struct {
	content                    string
	id                         int32
	singleWord, lstrip, rstrip bool
}

// addedSet finds added tokens in text, leftmost then longest first.
type addedSet struct {
	toks  []addedToken // longest content first
	first [256]bool    // first bytes of the contents
}

func (a *addedSet) add(tok addedToken) {
	if tok.content == "" {
		return
	}
	a.toks = append(a.toks, tok)
	sort.SliceStable(a.toks, func(i, j int) bool { return len(a.toks[i].content) > len(a.toks[j].content) })
	a.first[tok.content[0]] = true
}

// split appends to dst the ids of s: the added tokens found in it by id, the text between them
// through encode.
func (a *addedSet) split(dst []int32, s string, encode func(dst []int32, s string) []int32) []int32 {
	pos := 0
	for len(a.toks) > 0 {
		ms, me, id, ok := a.next(s, pos)
		if !ok {
			break
		}
		dst = encode(dst, s[pos:ms])
		dst = append(dst, id)
		pos = me
	}
	return encode(dst, s[pos:])
}

// next finds the first added token in s at or after from. It returns the span it covers
// (widened over adjacent whitespace for lstrip/rstrip tokens) and its id.
func (a *addedSet) next(s string, from int) (start, end int, id int32, ok bool) {
	for i := from; i < len(s); i++ {
		if !a.first[s[i]] {
			continue
		}
		for k := range a.toks {
			tok := &a.toks[k]
			if !strings.HasPrefix(s[i:], tok.content) {
				continue
			}
			start, end = i, i+len(tok.content)
			if tok.singleWord && (endsWithWord(s[:start]) || startsWithWord(s[end:])) {
				break // Hugging Face discards the match rather than trying a shorter one
			}
			if tok.lstrip {
				for start > from {
					r, size := utf8.DecodeLastRuneInString(s[from:start])
					if !isWhitespace(r) {
						break
					}
					start -= size
				}
			}
			if tok.rstrip {
				for end < len(s) {
					r, size := utf8.DecodeRuneInString(s[end:])
					if !isWhitespace(r) {
						break
					}
					end += size
				}
			}
			return start, end, tok.id, true
		}
	}
	return 0, 0, 0, false
}

func isWordChar(r rune) bool { return r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r) }

func endsWithWord(s string) bool {
	r, size := utf8.DecodeLastRuneInString(s)
	return size > 0 && isWordChar(r)
}

func startsWithWord(s string) bool {
	r, size := utf8.DecodeRuneInString(s)
	return size > 0 && isWordChar(r)
}

// tmplPiece is one element of a post-processing template: either special token ids or
// one of the input sequences, each with its token type id.
type tmplPiece struct {
	seq    int8 // -1 special tokens, 0 first sequence, 1 second sequence
	ids    []int32
	typeID int32
}

// postProcessor adds special tokens around one or two sequences.
type postProcessor struct {
	single, pair []tmplPiece
}

// bertTemplate returns the BERT post-processor: [CLS] A [SEP] and [CLS] A [SEP] B [SEP].
func bertTemplate(cls, sep int32) postProcessor {
	return postProcessor{
		single: []tmplPiece{{seq: -1, ids: []int32{cls}}, {seq: 0}, {seq: -1, ids: []int32{sep}}},
		pair: []tmplPiece{{seq: -1, ids: []int32{cls}}, {seq: 0}, {seq: -1, ids: []int32{sep}},
			{seq: 1, typeID: 1}, {seq: -1, ids: []int32{sep}, typeID: 1}},
	}
}

// robertaTemplate returns RoBERTa's post-processor: <s> A </s> and <s> A </s></s> B </s>,
// every token type id 0.
func robertaTemplate(cls, sep int32) postProcessor {
	return postProcessor{
		single: []tmplPiece{{seq: -1, ids: []int32{cls}}, {seq: 0}, {seq: -1, ids: []int32{sep}}},
		pair: []tmplPiece{{seq: -1, ids: []int32{cls}}, {seq: 0}, {seq: -1, ids: []int32{sep, sep}},
			{seq: 1}, {seq: -1, ids: []int32{sep}}},
	}
}

// plainTemplate is used when a tokenizer.json has no post-processor: sequences are
// concatenated and all type ids are 0.
func plainTemplate() postProcessor {
	return postProcessor{single: []tmplPiece{{seq: 0}}, pair: []tmplPiece{{seq: 0}, {seq: 1}}}
}

func (p *postProcessor) template(pair bool) []tmplPiece {
	if pair {
		return p.pair
	}
	return p.single
}

// numAdded returns how many special tokens the template adds.
func (p *postProcessor) numAdded(pair bool) int {
	n := 0
	for _, pc := range p.template(pair) {
		n += len(pc.ids)
	}
	return n
}

// assemble builds the final encoding; ids and type ids share one allocation.
func (p *postProcessor) assemble(a, b []int32, pair bool) Encoding {
	tmpl := p.template(pair)
	n := 0
	for _, pc := range tmpl {
		switch pc.seq {
		case -1:
			n += len(pc.ids)
		case 0:
			n += len(a)
		default:
			n += len(b)
		}
	}
	buf := make([]int32, 2*n)
	ids, types := buf[:0:n], buf[n:n:2*n]
	for _, pc := range tmpl {
		var src []int32
		switch pc.seq {
		case -1:
			src = pc.ids
		case 0:
			src = a
		default:
			src = b
		}
		ids = append(ids, src...)
		for range src {
			types = append(types, pc.typeID)
		}
	}
	return Encoding{IDs: ids, TypeIDs: types}
}
