package data

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
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
	// BertProcessing: ["[SEP]", 102]
	Sep []json.RawMessage `json:"sep"`
	Cls []json.RawMessage `json:"cls"`
}

type hfTemplateItem struct {
	ID     string `json:"id"`
	TypeID int32  `json:"type_id"`
}

// LoadTokenizerJSON loads a Hugging Face tokenizer.json holding a WordPiece model (the
// BERT family: BERT, DistilBERT, MiniLM, ELECTRA, ...). Supported components: the
// BertNormalizer, Lowercase, StripAccents and NF* normalizers; the BertPreTokenizer,
// Whitespace and WhitespaceSplit pre-tokenizers; TemplateProcessing and BertProcessing
// post-processors; added tokens. Other models (byte-level BPE as in RoBERTa/GPT-2,
// Unigram, WordLevel) and components give an "unsupported ..." error naming the file.
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
	if typ != "WordPiece" {
		what := typ
		if typ == "BPE" && strings.Contains(string(hf.PreTokenizer), `"ByteLevel"`) {
			what = "byte-level BPE"
		}
		return nil, fmt.Errorf("unsupported tokenizer type %s in %s: kprune supports WordPiece (BERT-family) tokenizers only", what, name)
	}
	var vocab map[string]int32
	if err := json.Unmarshal(m.Vocab, &vocab); err != nil {
		return nil, fmt.Errorf("load tokenizer %s: model.vocab: %w", name, err)
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
	wp, err := newWordPiece(vocab, prefix, unk, maxChars)
	if err != nil {
		return nil, fmt.Errorf("load tokenizer %s: %w", name, err)
	}
	t := &Tokenizer{source: name, wp: wp, addedIDs: map[string]int32{}, special: SpecialTokens{CLS: -1, SEP: -1, PAD: -1, UNK: -1, MASK: -1}}

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
		t.wp.setToken(a.ID, a.Content)
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
	case "Sequence":
		var out normalizer
		for _, sub := range c.Normalizers {
			n, err := parseNormalizer(sub)
			if err != nil {
				return nil, err
			}
			out = append(out, n...)
		}
		return out, nil
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
		return preTokenizer{preBert}, nil
	case "WhitespaceSplit":
		return preTokenizer{preWhitespaceSplit}, nil
	case "Whitespace":
		return preTokenizer{preWhitespace}, nil
	case "Sequence":
		var out preTokenizer
		for _, sub := range c.Pretokenizers {
			p, err := parsePreTokenizer(sub)
			if err != nil {
				return nil, err
			}
			out = append(out, p...)
		}
		return out, nil
	}
	return nil, fmt.Errorf("unsupported pre_tokenizer type %q", c.Type)
}

// parsePostProcessor reads the post-processor and records [CLS]/[SEP] from it.
func (t *Tokenizer) parsePostProcessor(raw json.RawMessage) (postProcessor, error) {
	if isNull(raw) {
		return plainTemplate(), nil
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
			return plainTemplate(), nil
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
	return id, nil
}
