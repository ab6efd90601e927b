package data

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"unicode"
	"unicode/utf8"
)

// wordPiece is the WordPiece model: greedy longest-match-first segmentation of each word
// into vocabulary pieces, continuation pieces carrying a prefix ("##").
type wordPiece struct {
	vocab       map[string]int32 // every vocabulary entry, for word-initial pieces
	cont        map[string]int32 // entries with the continuation prefix, keyed without it
	unk         int32
	maxChars    int // words longer than this (in characters) become unk
	maxVocabKey int // longest key of vocab, in bytes
	maxContKey  int // longest key of cont, in bytes
}

// newWordPiece builds the model from a token -> id map already checked by newVocabulary.
func newWordPiece(vocab map[string]int32, prefix, unk string, maxChars int) (wordPiece, error) {
	wp := wordPiece{vocab: vocab, cont: make(map[string]int32, len(vocab)/4), maxChars: maxChars}
	for tok, id := range vocab {
		wp.maxVocabKey = max(wp.maxVocabKey, len(tok))
		if prefix != "" && len(tok) > len(prefix) && strings.HasPrefix(tok, prefix) {
			k := tok[len(prefix):]
			wp.cont[k] = id
			wp.maxContKey = max(wp.maxContKey, len(k))
		}
	}
	if prefix == "" {
		wp.cont, wp.maxContKey = vocab, wp.maxVocabKey
	}
	id, ok := vocab[unk]
	if !ok {
		return wp, fmt.Errorf("unknown token %q is not in the vocabulary", unk)
	}
	wp.unk = id
	return wp, nil
}

// appendIDs appends the pieces of one pre-tokenized word, for the general pipeline.
func (wp *wordPiece) appendIDs(dst []int32, w string, sc *encScratch) ([]int32, error) {
	sc.word = append(sc.word[:0], w...)
	return wp.word(dst, sc.word, utf8.RuneCountInString(w)), nil
}

// word appends the pieces of one normalized word w of nchars characters to dst. A word
// longer than maxChars, or one that cannot be segmented, becomes a single unk.
func (wp *wordPiece) word(dst []int32, w []byte, nchars int) []int32 {
	if nchars > wp.maxChars {
		return append(dst, wp.unk)
	}
	if id, ok := wp.vocab[string(w)]; ok {
		return append(dst, id)
	}
	n0 := len(dst)
	m, maxKey := wp.vocab, wp.maxVocabKey
	for start := 0; start < len(w); {
		end := len(w)
		if end-start > maxKey {
			end = start + maxKey
			for end > start && !utf8.RuneStart(w[end]) {
				end--
			}
		}
		found := false
		for end > start {
			if id, ok := m[string(w[start:end])]; ok {
				dst = append(dst, id)
				found = true
				break
			}
			end--
			for end > start && !utf8.RuneStart(w[end]) {
				end--
			}
		}
		if !found {
			return append(dst[:n0], wp.unk)
		}
		start = end
		m, maxKey = wp.cont, wp.maxContKey
	}
	return dst
}

// VocabOptions configures a tokenizer built from a vocab.txt. The zero value is not
// useful; start from [DefaultVocabOptions].
type VocabOptions struct {
	// Lowercase lowercases the text (uncased models).
	Lowercase bool
	// StripAccents removes accents (NFD, then drop non-spacing marks). Nil follows
	// Lowercase, like strip_accents: null in a tokenizer.json.
	StripAccents *bool
	// CleanText drops control characters and maps all whitespace to spaces.
	CleanText bool
	// HandleChineseChars makes every CJK ideograph a word of its own.
	HandleChineseChars bool
	// MaxInputCharsPerWord: longer words become the unknown token. 0 means 100.
	MaxInputCharsPerWord int
	// Special token strings; empty means the BERT default ([UNK], [CLS], [SEP], [PAD],
	// [MASK]). UNK, CLS and SEP must be in the vocabulary.
	UnkToken, CLSToken, SEPToken, PadToken, MaskToken string
}

// DefaultVocabOptions returns the options of bert-base-uncased: lowercase, strip
// accents, clean text, split CJK ideographs, at most 100 characters per word.
func DefaultVocabOptions() VocabOptions {
	return VocabOptions{Lowercase: true, CleanText: true, HandleChineseChars: true, MaxInputCharsPerWord: 100}
}

// LoadVocab builds a BERT tokenizer from a WordPiece vocab.txt (one token per line, the
// id being the 0-based line number). Special tokens present in the vocabulary are
// matched literally in the text, as Hugging Face does, and sequences are wrapped as
// [CLS] a [SEP] b [SEP].
func LoadVocab(path string, opts VocabOptions) (*Tokenizer, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("load vocab: %w", err)
	}
	defer f.Close()
	t, err := ReadVocab(f, path, opts)
	if err != nil {
		return nil, err
	}
	return t, nil
}

// MaxVocabLineBytes bounds one line of a vocab.txt: tokens are short, so a longer line means the
// file is not a vocabulary, and reading it whole could take gigabytes.
const MaxVocabLineBytes = 64 * 1024

// ReadVocab is [LoadVocab] reading from r; name is used in messages.
func ReadVocab(r io.Reader, name string, opts VocabOptions) (*Tokenizer, error) {
	vocab := make(map[string]int32, 32000)
	var lines []string
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), MaxVocabLineBytes)
	var id int32
	for sc.Scan() {
		line := sc.Text()
		if strings.IndexByte(line, 0) >= 0 {
			return nil, fmt.Errorf("load vocab %s: line %d holds a NUL byte: not a text vocabulary", name, id+1)
		}
		tok := strings.TrimRightFunc(line, unicode.IsSpace)
		if id == 0 {
			tok = strings.TrimPrefix(tok, "\uFEFF")
		}
		lines = append(lines, tok)
		if tok != "" {
			vocab[tok] = id // a repeated token keeps its last id, as in Hugging Face
		}
		id++
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, fmt.Errorf("load vocab %s: line %d is longer than %d bytes: not a vocab.txt (one token per line)", name, id+1, MaxVocabLineBytes)
		}
		return nil, fmt.Errorf("load vocab %s: %w", name, err)
	}
	if len(vocab) == 0 {
		return nil, fmt.Errorf("load vocab %s: empty vocabulary", name)
	}
	return newVocabTokenizer(vocab, lines, name, opts)
}

func newVocabTokenizer(vocab map[string]int32, lines []string, name string, opts VocabOptions) (*Tokenizer, error) {
	def := func(s, d string) string {
		if s == "" {
			return d
		}
		return s
	}
	unk := def(opts.UnkToken, "[UNK]")
	maxChars := opts.MaxInputCharsPerWord
	if maxChars <= 0 {
		maxChars = 100
	}
	wp, err := newWordPiece(vocab, "##", unk, maxChars)
	if err != nil {
		return nil, fmt.Errorf("load vocab %s: %w", name, err)
	}
	// Every line is an id, including repeated tokens and blank lines.
	voc := vocabulary{tokens: lines, has: make([]bool, len(lines))}
	for i, s := range lines {
		voc.has[i] = s != ""
	}
	strip := opts.Lowercase
	if opts.StripAccents != nil {
		strip = *opts.StripAccents
	}
	t := &Tokenizer{
		source:   name,
		kind:     KindWordPiece,
		wp:       wp,
		voc:      voc,
		vocab:    vocab,
		norm:     normalizer{{kind: normBert, clean: opts.CleanText, chinese: opts.HandleChineseChars, strip: strip, lower: opts.Lowercase}},
		pre:      preTokenizer{{kind: preBert}},
		addedIDs: map[string]int32{},
		special:  SpecialTokens{CLS: -1, SEP: -1, PAD: -1, UNK: -1, MASK: -1},
	}
	ids := make(map[string]int32)
	for _, s := range []string{unk, def(opts.CLSToken, "[CLS]"), def(opts.SEPToken, "[SEP]"), def(opts.PadToken, "[PAD]"), def(opts.MaskToken, "[MASK]")} {
		if id, ok := vocab[s]; ok {
			ids[s] = id
			t.added.add(addedToken{content: s, id: id})
			t.addedIDs[s] = id
		}
	}
	cls, okC := ids[def(opts.CLSToken, "[CLS]")]
	sep, okS := ids[def(opts.SEPToken, "[SEP]")]
	if !okC || !okS {
		return nil, fmt.Errorf("load vocab %s: the vocabulary lacks the %q or %q token needed to build BERT inputs",
			name, def(opts.CLSToken, "[CLS]"), def(opts.SEPToken, "[SEP]"))
	}
	t.post = bertTemplate(cls, sep)
	t.special.CLS, t.special.SEP = cls, sep
	if id, ok := ids[def(opts.PadToken, "[PAD]")]; ok {
		t.special.PAD = id
	}
	if id, ok := ids[def(opts.MaskToken, "[MASK]")]; ok {
		t.special.MASK = id
	}
	t.finish()
	return t, nil
}

// applyTokenizerConfig adjusts opts from a Hugging Face tokenizer_config.json, if the
// file exists.
func applyTokenizerConfig(opts *VocabOptions, path string) error {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("load tokenizer: %w", err)
	}
	var cfg struct {
		DoLowerCase          *bool `json:"do_lower_case"`
		StripAccents         *bool `json:"strip_accents"`
		TokenizeChineseChars *bool `json:"tokenize_chinese_chars"`
	}
	if err := json.Unmarshal(b, &cfg); err != nil {
		return fmt.Errorf("load tokenizer: %s: %w", path, err)
	}
	if cfg.DoLowerCase != nil {
		opts.Lowercase = *cfg.DoLowerCase
	}
	if cfg.StripAccents != nil {
		opts.StripAccents = cfg.StripAccents
	}
	if cfg.TokenizeChineseChars != nil {
		opts.HandleChineseChars = *cfg.TokenizeChineseChars
	}
	return nil
}
