package data

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"regexp"
	"unicode/utf8"
)

// hfTokenizer is the subset of a Hugging Face tokenizer.json that kprune reads.
type hfTokenizer struct {
	Truncation *struct {
		MaxLength int    `json:"max_length"`
		Strategy  string `json:"strategy"`
		Direction string `json:"direction"`
	} `json:"truncation"`
	Padding *struct {
		PadToMultipleOf *int   `json:"pad_to_multiple_of"`
		PadID           *int32 `json:"pad_id"`
		PadToken        string `json:"pad_token"`
	} `json:"padding"`
	AddedTokens []struct {
		ID         int32  `json:"id"`
		Content    string `json:"content"`
		SingleWord bool   `json:"single_word"`
		Lstrip     bool   `json:"lstrip"`
		Rstrip     bool   `json:"rstrip"`
		Normalized bool   `json:"normalized"`
		Special    bool   `json:"special"`
	} `json:"added_tokens"`
	Normalizer    json.RawMessage `json:"normalizer"`
	PreTokenizer  json.RawMessage `json:"pre_tokenizer"`
	PostProcessor json.RawMessage `json:"post_processor"`
	Model         json.RawMessage `json:"model"`
}

// hfModel is the "model" object of a tokenizer.json.
type hfModel struct {
	Type                    string          `json:"type"`
	Vocab                   json.RawMessage `json:"vocab"`
	Merges                  json.RawMessage `json:"merges"`
	UnkToken                *string         `json:"unk_token"`
	ContinuingSubwordPrefix *string         `json:"continuing_subword_prefix"`
	MaxInputCharsPerWord    *int            `json:"max_input_chars_per_word"`
}

// hfComponent is a normalizer, pre-tokenizer or post-processor object. Only the fields
// of the types kprune supports are decoded.
type hfComponent struct {
	Type string `json:"type"`
	// BertNormalizer
	CleanText          *bool `json:"clean_text"`
	HandleChineseChars *bool `json:"handle_chinese_chars"`
	StripAccents       *bool `json:"strip_accents"`
	Lowercase          *bool `json:"lowercase"`
	// Sequence
	Normalizers   []json.RawMessage `json:"normalizers"`
	Pretokenizers []json.RawMessage `json:"pretokenizers"`
	Processors    []json.RawMessage `json:"processors"`
	// TemplateProcessing
	Single        []map[string]hfTemplateItem `json:"single"`
	Pair          []map[string]hfTemplateItem `json:"pair"`
	SpecialTokens map[string]struct {
		IDs []int32 `json:"ids"`
	} `json:"special_tokens"`
	// BertProcessing, RobertaProcessing: ["[SEP]", 102]
	Sep []json.RawMessage `json:"sep"`
	Cls []json.RawMessage `json:"cls"`
	// Strip
	StripLeft  *bool `json:"strip_left"`
	StripRight *bool `json:"strip_right"`
	// Replace: pattern is {"String": "..."} or {"Regex": "..."}
	Pattern json.RawMessage `json:"pattern"`
	Content *string         `json:"content"`
	// Prepend
	Prepend *string `json:"prepend"`
	// Precompiled (base64)
	PrecompiledCharsmap *string `json:"precompiled_charsmap"`
	// ByteLevel, Metaspace
	AddPrefixSpace *bool   `json:"add_prefix_space"`
	UseRegex       *bool   `json:"use_regex"`
	Replacement    *string `json:"replacement"`
	PrependScheme  *string `json:"prepend_scheme"`
	Split          *bool   `json:"split"`
}

type hfTemplateItem struct {
	ID     string `json:"id"`
	TypeID int32  `json:"type_id"`
}

// LoadTokenizerJSON loads a Hugging Face tokenizer.json. The model is read from
// "model.type", or, in older files without it, inferred from the model's keys as the
// Hugging Face library does ("merges": BPE; a vocab of [piece, score] pairs: Unigram;
// otherwise WordPiece when it has WordPiece settings). Supported:
//
//   - models: WordPiece (BERT family), BPE (byte-level as in GPT-2/RoBERTa, or with
//     continuing_subword_prefix, end_of_word_suffix, fuse_unk, byte_fallback and
//     ignore_merges; merges as "a b" strings or [a, b] pairs) and Unigram (SentencePiece,
//     with unk_id and byte_fallback);
//   - normalizers: BertNormalizer, Lowercase, StripAccents, NFC, NFD, NFKC, NFKD, Strip,
//     Replace (string, or a regular expression Go's regexp accepts), Prepend,
//     Precompiled (SentencePiece charsmaps), Nmt, and Sequence;
//   - pre-tokenizers: BertPreTokenizer, Whitespace, WhitespaceSplit, ByteLevel, Metaspace
//     and Sequence;
//   - post-processors: TemplateProcessing, BertProcessing, RobertaProcessing, ByteLevel and
//     Sequence;
//   - added tokens (with the ids the file gives), truncation and padding settings.
//
// Encoding is deterministic: a BPE dropout is accepted and ignored.
//
// Anything else (WordLevel models, other components) gives an "unsupported ..." error
// naming the file; a malformed file gives an error naming the file and the field.
func LoadTokenizerJSON(path string) (*Tokenizer, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("load tokenizer: %w", err)
	}
	defer f.Close()
	return ReadTokenizerJSON(f, path)
}

// ReadTokenizerJSON is [LoadTokenizerJSON] reading from r; name is used in messages.
func ReadTokenizerJSON(r io.Reader, name string) (*Tokenizer, error) {
	raw, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("load tokenizer %s: %w", name, err)
	}
	var hf hfTokenizer
	if err := json.Unmarshal(raw, &hf); err != nil {
		return nil, fmt.Errorf("load tokenizer %s: not a tokenizer.json: %w", name, err)
	}
	if isNull(hf.Model) {
		return nil, fmt.Errorf("load tokenizer %s: no \"model\" object: not a tokenizer.json", name)
	}
	var m hfModel
	if err := json.Unmarshal(hf.Model, &m); err != nil {
		return nil, fmt.Errorf("load tokenizer %s: model: %w", name, err)
	}
	typ := m.Type
	if typ == "" { // old files omit it
		switch {
		case !isNull(m.Merges):
			typ = "BPE"
		case bytes.HasPrefix(bytes.TrimSpace(m.Vocab), []byte("[")):
			typ = "Unigram"
		case m.ContinuingSubwordPrefix != nil || m.MaxInputCharsPerWord != nil:
			typ = "WordPiece"
		default:
			typ = "WordLevel"
		}
	}
	t := &Tokenizer{source: name, addedIDs: map[string]int32{}, special: SpecialTokens{CLS: -1, SEP: -1, PAD: -1, UNK: -1, MASK: -1}}
	switch typ {
	case "WordPiece":
		if err := t.loadWordPiece(m); err != nil {
			return nil, fmt.Errorf("load tokenizer %s: %w", name, err)
		}
	case "BPE":
		bpe, err := parseBPE(hf.Model)
		if err != nil {
			return nil, fmt.Errorf("load tokenizer %s: %w", name, err)
		}
		if t.voc, err = newVocabulary(bpe.vocab); err != nil {
			return nil, fmt.Errorf("load tokenizer %s: model.vocab: %w", name, err)
		}
		t.kind, t.model, t.vocab, t.special.UNK = KindBPE, bpe, bpe.vocab, bpe.unk
	case "Unigram":
		uni, tokens, err := parseUnigram(hf.Model)
		if err != nil {
			return nil, fmt.Errorf("load tokenizer %s: %w", name, err)
		}
		t.voc = vocabulary{tokens: tokens, has: make([]bool, len(tokens))}
		for i := range t.voc.has {
			t.voc.has[i] = true
		}
		t.kind, t.model, t.vocab, t.special.UNK = KindUnigram, uni, uni.ids, uni.unk
	default:
		return nil, fmt.Errorf("unsupported tokenizer type %s in %s: kprune supports WordPiece, BPE and Unigram tokenizers", typ, name)
	}

	if t.norm, err = parseNormalizer(hf.Normalizer); err != nil {
		return nil, fmt.Errorf("%w in %s", err, name)
	}
	if t.pre, err = parsePreTokenizer(hf.PreTokenizer); err != nil {
		return nil, fmt.Errorf("%w in %s", err, name)
	}
	for _, a := range hf.AddedTokens {
		if a.ID < 0 || a.ID >= 1<<28 {
			return nil, fmt.Errorf("load tokenizer %s: added token %q has invalid id %d", name, a.Content, a.ID)
		}
		t.voc.set(a.ID, a.Content)
		t.addedIDs[a.Content] = a.ID
		tok := addedToken{content: a.Content, id: a.ID, singleWord: a.SingleWord, lstrip: a.Lstrip, rstrip: a.Rstrip}
		if a.Normalized {
			tok.content = t.norm.apply(a.Content)
			t.addedNorm.add(tok)
			continue
		}
		t.added.add(tok)
	}

	if t.post, err = t.parsePostProcessor(hf.PostProcessor); err != nil {
		return nil, fmt.Errorf("%w in %s", err, name)
	}
	if tr := hf.Truncation; tr != nil {
		if tr.MaxLength < 0 {
			return nil, fmt.Errorf("load tokenizer %s: negative truncation.max_length", name)
		}
		t.maxLen = tr.MaxLength
		switch tr.Strategy {
		case "", "LongestFirst":
		case "OnlyFirst":
			t.strategy = truncOnlyFirst
		case "OnlySecond":
			t.strategy = truncOnlySecond
		default:
			return nil, fmt.Errorf("unsupported truncation strategy %q in %s", tr.Strategy, name)
		}
		t.truncLeft = tr.Direction == "Left"
	}
	if p := hf.Padding; p != nil {
		if p.PadToMultipleOf != nil && *p.PadToMultipleOf > 0 {
			t.padMultiple = *p.PadToMultipleOf
		}
		if p.PadID != nil {
			t.special.PAD = *p.PadID
		} else if id, ok := t.ID(p.PadToken); ok {
			t.special.PAD = id
		}
	}
	t.finish()
	return t, nil
}

// loadWordPiece reads the WordPiece model of a tokenizer.json.
func (t *Tokenizer) loadWordPiece(m hfModel) error {
	var vocab map[string]int32
	if err := json.Unmarshal(m.Vocab, &vocab); err != nil {
		return fmt.Errorf("model.vocab: %w", err)
	}
	prefix, unk, maxChars := "##", "[UNK]", 100
	if m.ContinuingSubwordPrefix != nil {
		prefix = *m.ContinuingSubwordPrefix
	}
	if m.UnkToken != nil {
		unk = *m.UnkToken
	}
	if m.MaxInputCharsPerWord != nil {
		maxChars = *m.MaxInputCharsPerWord
	}
	voc, err := newVocabulary(vocab)
	if err != nil {
		return err
	}
	wp, err := newWordPiece(vocab, prefix, unk, maxChars)
	if err != nil {
		return err
	}
	t.kind, t.wp, t.voc, t.vocab = KindWordPiece, wp, voc, vocab
	return nil
}

func isNull(b json.RawMessage) bool {
	b = bytes.TrimSpace(b)
	return len(b) == 0 || string(b) == "null"
}

func parseNormalizer(raw json.RawMessage) (normalizer, error) {
	if isNull(raw) {
		return nil, nil
	}
	var c hfComponent
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, fmt.Errorf("bad normalizer: %w", err)
	}
	switch c.Type {
	case "BertNormalizer":
		b := func(p *bool, d bool) bool {
			if p == nil {
				return d
			}
			return *p
		}
		lower := b(c.Lowercase, true)
		return normalizer{{kind: normBert, clean: b(c.CleanText, true), chinese: b(c.HandleChineseChars, true),
			strip: b(c.StripAccents, lower), lower: lower}}, nil
	case "Lowercase":
		return normalizer{{kind: normLowercase}}, nil
	case "StripAccents":
		return normalizer{{kind: normStripAccents}}, nil
	case "NFD":
		return normalizer{{kind: normNFD}}, nil
	case "NFKD":
		return normalizer{{kind: normNFKD}}, nil
	case "NFC":
		return normalizer{{kind: normNFC}}, nil
	case "NFKC":
		return normalizer{{kind: normNFKC}}, nil
	case "Strip":
		b := func(p *bool) bool { return p == nil || *p } // both default to true
		return normalizer{{kind: normStrip, left: b(c.StripLeft), right: b(c.StripRight)}}, nil
	case "Replace":
		var pat struct {
			String *string `json:"String"`
			Regex  *string `json:"Regex"`
		}
		if err := json.Unmarshal(c.Pattern, &pat); err != nil || (pat.String == nil) == (pat.Regex == nil) {
			return nil, fmt.Errorf("bad normalizer Replace: pattern: want {\"String\": ...} or {\"Regex\": ...}")
		}
		if c.Content == nil {
			return nil, fmt.Errorf("bad normalizer Replace: content: missing")
		}
		st := normStep{kind: normReplace, content: *c.Content}
		if pat.String != nil {
			st.literal = *pat.String
		} else {
			re, err := regexp.Compile(*pat.Regex)
			if err != nil {
				return nil, fmt.Errorf("unsupported normalizer Replace: pattern.Regex %q: %w", *pat.Regex, err)
			}
			st.re = re
		}
		return normalizer{st}, nil
	case "Prepend":
		if c.Prepend == nil {
			return nil, fmt.Errorf("bad normalizer Prepend: prepend: missing")
		}
		return normalizer{{kind: normPrepend, content: *c.Prepend}}, nil
	case "Precompiled":
		if c.PrecompiledCharsmap == nil || *c.PrecompiledCharsmap == "" {
			return nil, fmt.Errorf("bad normalizer Precompiled: precompiled_charsmap: missing or empty")
		}
		spm, err := parsePrecompiled(*c.PrecompiledCharsmap)
		if err != nil {
			return nil, fmt.Errorf("bad normalizer Precompiled: %w", err)
		}
		return normalizer{{kind: normPrecompiled, spm: spm}}, nil
	case "Nmt":
		return normalizer{{kind: normNmt}}, nil
	case "Sequence":
		return parseSequence(c.Normalizers, parseNormalizer)
	}
	return nil, fmt.Errorf("unsupported normalizer type %q", c.Type)
}

func parsePreTokenizer(raw json.RawMessage) (preTokenizer, error) {
	if isNull(raw) {
		return nil, nil
	}
	var c hfComponent
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, fmt.Errorf("bad pre_tokenizer: %w", err)
	}
	switch c.Type {
	case "BertPreTokenizer":
		return preTokenizer{{kind: preBert}}, nil
	case "WhitespaceSplit":
		return preTokenizer{{kind: preWhitespaceSplit}}, nil
	case "Whitespace":
		return preTokenizer{{kind: preWhitespace}}, nil
	case "ByteLevel":
		st := preStep{kind: preByteLevel, addPrefixSpace: true, useRegex: true}
		if c.AddPrefixSpace != nil {
			st.addPrefixSpace = *c.AddPrefixSpace
		}
		if c.UseRegex != nil {
			st.useRegex = *c.UseRegex
		}
		return preTokenizer{st}, nil
	case "Metaspace":
		st, err := parseMetaspace(c)
		if err != nil {
			return nil, err
		}
		return preTokenizer{st}, nil
	case "Sequence":
		return parseSequence(c.Pretokenizers, parsePreTokenizer)
	}
	return nil, fmt.Errorf("unsupported pre_tokenizer type %q", c.Type)
}

// parseSequence parses the components of a Sequence normalizer or pre-tokenizer with parse and
// concatenates their steps in order.
func parseSequence[S ~[]E, E any](subs []json.RawMessage, parse func(json.RawMessage) (S, error)) (S, error) {
	var out S
	for _, sub := range subs {
		steps, err := parse(sub)
		if err != nil {
			return nil, err
		}
		out = append(out, steps...)
	}
	return out, nil
}

// parseMetaspace reads a Metaspace pre-tokenizer, old style (add_prefix_space) or new
// (prepend_scheme, split).
func parseMetaspace(c hfComponent) (preStep, error) {
	if c.Replacement == nil || utf8.RuneCountInString(*c.Replacement) != 1 {
		return preStep{}, fmt.Errorf("bad pre_tokenizer Metaspace: replacement: want one character")
	}
	st := preStep{kind: preMetaspace, replacement: *c.Replacement, prepend: prependAlways, splitWords: true}
	if c.PrependScheme != nil {
		switch *c.PrependScheme {
		case "always":
		case "first":
			st.prepend = prependFirst
		case "never":
			st.prepend = prependNever
		default:
			return preStep{}, fmt.Errorf("bad pre_tokenizer Metaspace: prepend_scheme %q: want always, first or never", *c.PrependScheme)
		}
	}
	if c.AddPrefixSpace != nil && !*c.AddPrefixSpace {
		if c.PrependScheme != nil && st.prepend != prependNever {
			return preStep{}, fmt.Errorf("bad pre_tokenizer Metaspace: add_prefix_space false contradicts prepend_scheme %q", *c.PrependScheme)
		}
		st.prepend = prependNever
	}
	if c.Split != nil {
		st.splitWords = *c.Split
	}
	return st, nil
}

// defaultTemplate is the post-processing of a tokenizer.json without a post-processor:
// the sequences are concatenated. WordPiece tokenizers give every token type id 0, as
// kprune always has; the others give the second sequence type id 1, as the Hugging Face
// library does.
func (t *Tokenizer) defaultTemplate() postProcessor {
	p := plainTemplate()
	if t.kind != KindWordPiece {
		p.pair[1].typeID = 1
	}
	return p
}

// parsePostProcessor reads the post-processor and records [CLS]/[SEP] from it.
func (t *Tokenizer) parsePostProcessor(raw json.RawMessage) (postProcessor, error) {
	if isNull(raw) {
		return t.defaultTemplate(), nil
	}
	var c hfComponent
	if err := json.Unmarshal(raw, &c); err != nil {
		return postProcessor{}, fmt.Errorf("bad post_processor: %w", err)
	}
	switch c.Type {
	case "TemplateProcessing":
		single, err := parseTemplate(c.Single, c)
		if err != nil {
			return postProcessor{}, err
		}
		pair, err := parseTemplate(c.Pair, c)
		if err != nil {
			return postProcessor{}, err
		}
		if first := single[0]; first.seq == -1 && len(first.ids) > 0 {
			t.special.CLS = first.ids[0]
		}
		if last := single[len(single)-1]; last.seq == -1 && len(last.ids) > 0 {
			t.special.SEP = last.ids[len(last.ids)-1]
		}
		return postProcessor{single: single, pair: pair}, nil
	case "BertProcessing":
		cls, err := processorToken(c.Cls, "cls")
		if err != nil {
			return postProcessor{}, err
		}
		sep, err := processorToken(c.Sep, "sep")
		if err != nil {
			return postProcessor{}, err
		}
		t.special.CLS, t.special.SEP = cls, sep
		return bertTemplate(cls, sep), nil
	case "RobertaProcessing":
		cls, err := processorToken(c.Cls, "cls")
		if err != nil {
			return postProcessor{}, err
		}
		sep, err := processorToken(c.Sep, "sep")
		if err != nil {
			return postProcessor{}, err
		}
		t.special.CLS, t.special.SEP = cls, sep
		return robertaTemplate(cls, sep), nil
	case "ByteLevel":
		return t.defaultTemplate(), nil
	case "Sequence":
		// Accept a sequence holding one template-like processor plus ByteLevel
		// processors (which only fix offsets, not ids).
		var found *postProcessor
		for _, sub := range c.Processors {
			var sc hfComponent
			if err := json.Unmarshal(sub, &sc); err != nil {
				return postProcessor{}, fmt.Errorf("bad post_processor: %w", err)
			}
			if sc.Type == "ByteLevel" {
				continue
			}
			if found != nil {
				return postProcessor{}, fmt.Errorf("unsupported post_processor: a Sequence with several template processors")
			}
			p, err := t.parsePostProcessor(sub)
			if err != nil {
				return postProcessor{}, err
			}
			found = &p
		}
		if found == nil {
			return t.defaultTemplate(), nil
		}
		return *found, nil
	}
	return postProcessor{}, fmt.Errorf("unsupported post_processor type %q", c.Type)
}

func parseTemplate(items []map[string]hfTemplateItem, c hfComponent) ([]tmplPiece, error) {
	if len(items) == 0 {
		return nil, fmt.Errorf("bad post_processor: empty template")
	}
	var out []tmplPiece
	for _, it := range items {
		if len(it) != 1 {
			return nil, fmt.Errorf("bad post_processor: template item with %d keys", len(it))
		}
		for kind, v := range it {
			switch kind {
			case "SpecialToken":
				st, ok := c.SpecialTokens[v.ID]
				if !ok || len(st.IDs) == 0 {
					return nil, fmt.Errorf("bad post_processor: template uses special token %q with no ids", v.ID)
				}
				out = append(out, tmplPiece{seq: -1, ids: st.IDs, typeID: v.TypeID})
			case "Sequence":
				switch v.ID {
				case "A":
					out = append(out, tmplPiece{seq: 0, typeID: v.TypeID})
				case "B":
					out = append(out, tmplPiece{seq: 1, typeID: v.TypeID})
				default:
					return nil, fmt.Errorf("bad post_processor: unknown sequence %q", v.ID)
				}
			default:
				return nil, fmt.Errorf("bad post_processor: unknown template item %q", kind)
			}
		}
	}
	return out, nil
}

// processorToken decodes a BertProcessing ["[SEP]", 102] pair and returns the id.
func processorToken(raw []json.RawMessage, field string) (int32, error) {
	if len(raw) != 2 {
		return 0, fmt.Errorf("bad post_processor: %s must be [token, id]", field)
	}
	var id int32
	if err := json.Unmarshal(raw[1], &id); err != nil {
		return 0, fmt.Errorf("bad post_processor: %s id: %w", field, err)
	}
	if id < 0 || id >= 1<<28 {
		return 0, fmt.Errorf("bad post_processor: %s id %d is out of range", field, id)
	}
	return id, nil
}
