package data

import (
	"slices"
	"strings"
	"testing"
)

// tinyByteLevelJSON is a RoBERTa-style byte-level BPE tokenizer.json (no "type" on the
// model, merges as "a b" strings) over a 22-token vocabulary.
const tinyByteLevelJSON = `{"version": "1.0", "truncation": null, "padding": null,
"added_tokens": [
 {"id": 0, "content": "<s>", "single_word": false, "lstrip": false, "rstrip": false, "normalized": true, "special": true},
 {"id": 1, "content": "<pad>", "single_word": false, "lstrip": false, "rstrip": false, "normalized": true, "special": true},
 {"id": 2, "content": "</s>", "single_word": false, "lstrip": false, "rstrip": false, "normalized": true, "special": true},
 {"id": 3, "content": "<unk>", "single_word": false, "lstrip": false, "rstrip": false, "normalized": true, "special": true},
 {"id": 18, "content": "<mask>", "single_word": false, "lstrip": true, "rstrip": false, "normalized": true, "special": true}],
"normalizer": null,
"pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true},
"post_processor": {"type": "RobertaProcessing", "sep": ["</s>", 2], "cls": ["<s>", 0], "trim_offsets": true, "add_prefix_space": false},
"decoder": null,
"model": {"dropout": null, "unk_token": null, "continuing_subword_prefix": "", "end_of_word_suffix": "", "fuse_unk": false,
 "vocab": {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3, "h": 4, "e": 5, "l": 6, "o": 7, "Ġ": 8, "w": 9, "r": 10, "d": 11,
  "he": 12, "ll": 13, "hell": 14, "Ġw": 15, "or": 16, "Ġwor": 17, "<mask>": 18, "Ã": 19, "©": 20, "Ã©": 21},
 "merges": ["h e", "l l", "he ll", "Ġ w", "o r", "Ġw or", "Ã ©"]}}`

// tinyCharBPEJSON is a character-level BPE with an end-of-word suffix, an unknown token
// and merges given as pairs; fuse and fallback fill fuse_unk and byte_fallback.
func tinyCharBPEJSON(fuse, fallback string) string {
	return `{"added_tokens": [], "normalizer": {"type": "Lowercase"}, "pre_tokenizer": {"type": "Whitespace"},
"post_processor": null,
"model": {"type": "BPE", "dropout": null, "unk_token": "<unk>", "continuing_subword_prefix": null, "end_of_word_suffix": "</w>",
 "fuse_unk": ` + fuse + `, "byte_fallback": ` + fallback + `,
 "vocab": {"<unk>": 0, "a": 1, "b": 2, "a</w>": 3, "b</w>": 4, "ab": 5, "ab</w>": 6, "<0x78>": 7, "##b": 8},
 "merges": [["a", "b</w>"], ["a", "b"]]}}`
}

func encodeCase(t *testing.T, tok *Tokenizer, a string, b *string, maxLen int) Encoding {
	t.Helper()
	var e Encoding
	var err error
	if b != nil {
		e, err = tok.EncodePair(a, *b, maxLen)
	} else {
		e, err = tok.Encode(a, maxLen)
	}
	if err != nil {
		t.Fatalf("encode %q: %v", a, err)
	}
	return e
}

func ptr(s string) *string { return &s }

// TestBPETiny checks hand-computed encodings of the tiny BPE tokenizers (the expected
// ids are also what Hugging Face tokenizers 0.23.3 gives for these files).
func TestBPETiny(t *testing.T) {
	tests := []struct {
		name, json string
		a          string
		b          *string
		maxLen     int
		want       []int32
		types      []int32
	}{
		// "hello" -> h e l l o -> he l l o -> he ll o -> hell o; " world" -> Ġ w o r l d
		// -> Ġw o r l d -> Ġw or l d -> Ġwor l d.
		{"byte-level", tinyByteLevelJSON, "hello world", nil, 0, []int32{0, 14, 7, 17, 6, 11, 2}, nil},
		{"byte-level pair", tinyByteLevelJSON, "hello", ptr("world"), 0, []int32{0, 14, 7, 2, 2, 9, 16, 6, 11, 2}, []int32{0, 0, 0, 0, 0, 0, 0, 0, 0, 0}},
		{"lstrip mask", tinyByteLevelJSON, "hello <mask>", nil, 0, []int32{0, 14, 7, 18, 2}, nil},
		{"bytes of é", tinyByteLevelJSON, "é", nil, 0, []int32{0, 21, 2}, nil},
		{"truncated", tinyByteLevelJSON, "hello world", nil, 5, []int32{0, 14, 7, 17, 2}, nil},
		{"pair truncated", tinyByteLevelJSON, "hello wor", ptr("hello"), 6, []int32{0, 14, 2, 2, 14, 2}, nil},
		{"empty", tinyByteLevelJSON, "", nil, 0, []int32{0, 2}, nil},
		{"no unk token drops", tinyByteLevelJSON, "xyz!", nil, 0, []int32{0, 2}, nil},
		{"suffix", tinyCharBPEJSON("true", "false"), "AB ab", nil, 0, []int32{6, 6}, nil},
		{"fused unk", tinyCharBPEJSON("true", "false"), "yyab", nil, 0, []int32{0, 6}, nil},
		{"no merge at end", tinyCharBPEJSON("true", "false"), "abb", nil, 0, []int32{5, 4}, nil},
		{"default pair types", tinyCharBPEJSON("true", "false"), "ab", ptr("yy"), 0, []int32{6, 0}, []int32{0, 1}},
		{"unfused unk", tinyCharBPEJSON("false", "false"), "yxab", nil, 0, []int32{0, 0, 6}, nil},
		{"byte fallback", tinyCharBPEJSON("true", "true"), "xab", nil, 0, []int32{7, 6}, nil},
		// The pending unknown y is flushed after the fallback bytes of x, as in the reference.
		{"byte fallback after unk", tinyCharBPEJSON("true", "true"), "yxab", nil, 0, []int32{7, 0, 6}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tok, err := ReadTokenizerJSON(strings.NewReader(tc.json), "tiny.json")
			if err != nil {
				t.Fatal(err)
			}
			if tok.Kind() != KindBPE {
				t.Fatalf("kind %s", tok.Kind())
			}
			e := encodeCase(t, tok, tc.a, tc.b, tc.maxLen)
			if !slices.Equal(e.IDs, tc.want) {
				t.Errorf("ids %v (%q), want %v", e.IDs, tok.Tokens(e.IDs), tc.want)
			}
			if tc.types != nil && !slices.Equal(e.TypeIDs, tc.types) {
				t.Errorf("types %v, want %v", e.TypeIDs, tc.types)
			}
		})
	}

	tok, err := ReadTokenizerJSON(strings.NewReader(tinyByteLevelJSON), "tiny.json")
	if err != nil {
		t.Fatal(err)
	}
	if want := (SpecialTokens{CLS: 0, SEP: 2, PAD: 1, UNK: 3, MASK: 18}); tok.Special() != want {
		t.Errorf("Special = %+v, want %+v", tok.Special(), want)
	}
	if tok.PadID() != 1 || tok.VocabSize() != 22 || tok.UsesTypeIDs() {
		t.Errorf("PadID %d, VocabSize %d, UsesTypeIDs %v", tok.PadID(), tok.VocabSize(), tok.UsesTypeIDs())
	}
	if got := tok.Tokenize("hello world"); !slices.Equal(got, []string{"hell", "o", "Ġwor", "l", "d"}) {
		t.Errorf("Tokenize = %q", got)
	}
	if err := CheckVocab(tok, 22); err != nil {
		t.Errorf("CheckVocab: %v", err)
	}
	if err := CheckVocab(tok, 18); err == nil || !strings.Contains(err.Error(), "<mask> has id 18") {
		t.Errorf("CheckVocab(18) = %v", err)
	}
}

// TestGPT2Split checks the hand-written GPT-2 pre-tokenization regex.
func TestGPT2Split(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"Hello, world!", []string{"Hello", ",", " world", "!"}},
		{"don't can't y'all I'M", []string{"don", "'t", " can", "'t", " y", "'", "all", " I", "'", "M"}},
		{"a   b", []string{"a", "  ", " b"}},
		{"a \tb", []string{"a", " ", "\tb"[:1], "b"}},
		{"a  ", []string{"a", "  "}},
		{" 123abc ", []string{" 123", "abc", " "}},
		{"x\n\ny", []string{"x", "\n", "\n", "y"}},
		{"日本 語", []string{"日本", " 語"}},
		{"3.14 ...", []string{"3", ".", "14", " ..."}},
		{"'sup", []string{"'s", "up"}},
		{"", nil},
	}
	for _, tc := range tests {
		if got := gpt2Split(nil, tc.in); !slices.Equal(got, tc.want) {
			t.Errorf("gpt2Split(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestBPELoadErrors checks that malformed BPE models are reported with the file and field.
func TestBPELoadErrors(t *testing.T) {
	model := func(m string) string { return `{"pre_tokenizer": {"type": "ByteLevel"}, "model": ` + m + `}` }
	tests := []struct {
		name, json, want string
	}{
		{"merge token missing", model(`{"vocab": {"a": 0}, "merges": ["a b"]}`), `bpe.json: model.merges[0]: token "b" is not in the vocabulary`},
		{"merged token missing", model(`{"vocab": {"a": 0, "b": 1}, "merges": [["a", "b"]]}`), `model.merges[0]: merged token "ab" is not in the vocabulary`},
		{"bad merge string", model(`{"vocab": {"a": 0}, "merges": ["a b c"]}`), `model.merges[0]: "a b c" is not two tokens`},
		{"bad merge pair", model(`{"vocab": {"a": 0}, "merges": [["a"]]}`), `model.merges[0]: want a pair`},
		{"mixed merges", model(`{"vocab": {"a": 0, "aa": 1}, "merges": ["a a", ["a", "b"]]}`), `model.merges[1]: want a string`},
		{"no vocab", model(`{"type": "BPE", "merges": []}`), `model.vocab: missing`},
		{"no merges", model(`{"type": "BPE", "vocab": {"a": 0}}`), `model.merges: missing`},
		{"negative id", model(`{"vocab": {"a": -1}, "merges": []}`), `model.vocab: token "a" has negative id -1`},
		{"vocab not a map", model(`{"vocab": ["a"], "merges": []}`), `bpe.json: model:`},
		{"bad dropout", model(`{"vocab": {"a": 0}, "merges": [], "dropout": 2}`), `model.dropout: 2 is not in [0, 1]`},
		{"bad processor", `{"post_processor": {"type": "RobertaProcessing", "sep": ["</s>"], "cls": ["<s>", 0]}, "model": {"vocab": {"a": 0}, "merges": []}}`,
			`bad post_processor: sep must be [token, id] in bpe.json`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ReadTokenizerJSON(strings.NewReader(tc.json), "bpe.json")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want %q", err, tc.want)
			}
		})
	}
	// An unknown token missing from the vocabulary fails at encoding time, as in the
	// reference, and only when an unknown character is met.
	tok, err := ReadTokenizerJSON(strings.NewReader(`{"model": {"vocab": {"a": 0}, "merges": [], "unk_token": "<unk>"}}`), "bpe.json")
	if err != nil {
		t.Fatal(err)
	}
	if e, err := tok.Encode("aa", 0); err != nil || !slices.Equal(e.IDs, []int32{0, 0}) {
		t.Errorf("Encode(aa) = %v, %v", e.IDs, err)
	}
	if _, err := tok.Encode("ab", 0); err == nil || !strings.Contains(err.Error(), `"<unk>" is not in the vocabulary`) {
		t.Errorf("Encode(ab) error = %v", err)
	}
}
