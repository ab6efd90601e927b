package data

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/kprune/kprune/internal/testutil"
)

// goldenRecord is one line of ../shared/data/golden/tokenizer/*.jsonl.
type goldenRecord struct {
	Text         *string  `json:"text"`
	TextA        *string  `json:"text_a"`
	TextB        *string  `json:"text_b"`
	InputIDs     []int32  `json:"input_ids"`
	TokenTypeIDs []int32  `json:"token_type_ids"`
	Tokens       []string `json:"tokens"`
}

func readGolden(t *testing.T, rel string) []goldenRecord {
	t.Helper()
	return testutil.ReadJSONL[goldenRecord](t, testutil.Shared(t, rel))
}

func loadShared(t testing.TB, rel string) *Tokenizer {
	t.Helper()
	path := testutil.Shared(t, rel)
	var tok *Tokenizer
	var err error
	if strings.HasSuffix(rel, ".txt") {
		tok, err = LoadVocab(path, DefaultVocabOptions())
	} else {
		tok, err = LoadTokenizerJSON(path)
	}
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

const (
	bertJSON   = "data/tokenizers/bert-base-uncased/tokenizer.json"
	bertVocab  = "data/tokenizers/bert-base-uncased/vocab.txt"
	minilmJSON = "data/tokenizers/all-minilm-l6-v2/tokenizer.json"
)

func TestGoldenTokenizer(t *testing.T) {
	tests := []struct {
		golden, tokenizer string
	}{
		{"data/golden/tokenizer/sst2_dev.bert-base-uncased.jsonl", bertJSON},
		{"data/golden/tokenizer/sst2_dev.bert-base-uncased.jsonl", bertVocab},
		{"data/golden/tokenizer/sst2_dev.bert-base-uncased.jsonl", minilmJSON},
		{"data/golden/tokenizer/stsb_dev.bert-base-uncased.jsonl", bertJSON},
		{"data/golden/tokenizer/stsb_dev.bert-base-uncased.jsonl", bertVocab},
		{"data/golden/tokenizer/stsb_dev.bert-base-uncased.jsonl", minilmJSON},
		{"data/golden/tokenizer/edge.bert-base-uncased.jsonl", bertJSON},
		{"data/golden/tokenizer/edge.bert-base-uncased.jsonl", bertVocab},
		{"data/golden/tokenizer/edge.all-minilm-l6-v2.jsonl", minilmJSON},
	}
	for _, tc := range tests {
		name := tc.golden[strings.LastIndex(tc.golden, "/")+1:] + "+" + strings.TrimPrefix(tc.tokenizer, "data/tokenizers/")
		t.Run(name, func(t *testing.T) {
			tok := loadShared(t, tc.tokenizer)
			recs := readGolden(t, tc.golden)
			bad := 0
			for i, g := range recs {
				var enc Encoding
				var err error
				var what string
				switch {
				case g.Text != nil:
					what = *g.Text
					enc, err = tok.Encode(*g.Text, tok.MaxLen())
				case g.TextA != nil && g.TextB != nil:
					what = *g.TextA + " ||| " + *g.TextB
					enc, err = tok.EncodePair(*g.TextA, *g.TextB, tok.MaxLen())
				default:
					t.Fatalf("record %d has no text", i+1)
				}
				if err != nil {
					t.Fatalf("record %d: %v", i+1, err)
				}
				wantTypes := g.TokenTypeIDs
				if wantTypes == nil {
					wantTypes = make([]int32, len(g.InputIDs))
				}
				if !slices.Equal(enc.IDs, g.InputIDs) || !slices.Equal(enc.TypeIDs, wantTypes) {
					bad++
					if bad <= 5 {
						t.Errorf("record %d %q:\n got ids %v types %v\nwant ids %v types %v\n got tokens %q",
							i+1, what, enc.IDs, enc.TypeIDs, g.InputIDs, wantTypes, tok.Tokens(enc.IDs))
					}
					continue
				}
				if g.Tokens != nil && !slices.Equal(tok.Tokens(enc.IDs), g.Tokens) {
					t.Errorf("record %d: tokens %q, want %q", i+1, tok.Tokens(enc.IDs), g.Tokens)
				}
			}
			if bad > 0 {
				t.Errorf("%d of %d records differ", bad, len(recs))
			}
		})
	}
}

// TestFastPathMatchesSlowPath runs the golden texts through the general Unicode path
// (ASCII fast path disabled) and checks it agrees with the default tokenizer.
func TestFastPathMatchesSlowPath(t *testing.T) {
	fast := loadShared(t, bertJSON)
	slow := loadShared(t, bertJSON)
	slow.fast = false
	for _, rel := range []string{"data/golden/tokenizer/sst2_dev.bert-base-uncased.jsonl", "data/golden/tokenizer/edge.bert-base-uncased.jsonl"} {
		for i, g := range readGolden(t, rel) {
			if g.Text == nil {
				continue
			}
			a, _ := fast.Encode(*g.Text, 0)
			b, _ := slow.Encode(*g.Text, 0)
			if !slices.Equal(a.IDs, b.IDs) {
				t.Errorf("%s record %d %q: fast %v, slow %v", rel, i+1, *g.Text, a.IDs, b.IDs)
			}
		}
	}
}

func TestTokenizerInfo(t *testing.T) {
	want := SpecialTokens{CLS: 101, SEP: 102, PAD: 0, UNK: 100, MASK: 103}
	for _, rel := range []string{bertJSON, bertVocab, minilmJSON} {
		t.Run(rel, func(t *testing.T) {
			tok := loadShared(t, rel)
			if tok.VocabSize() != 30522 {
				t.Errorf("VocabSize = %d", tok.VocabSize())
			}
			if tok.Special() != want {
				t.Errorf("Special = %+v, want %+v", tok.Special(), want)
			}
			if s, ok := tok.Token(7592); !ok || s != "hello" {
				t.Errorf("Token(7592) = %q %v", s, ok)
			}
			if _, ok := tok.Token(30522); ok {
				t.Error("Token(30522) exists")
			}
			if id, ok := tok.ID("[MASK]"); !ok || id != 103 {
				t.Errorf("ID([MASK]) = %d %v", id, ok)
			}
			if got := tok.Tokenize("Unaffable!"); !slices.Equal(got, []string{"una", "##ffa", "##ble", "!"}) {
				t.Errorf("Tokenize = %q", got)
			}
			if err := CheckVocab(tok, 30522); err != nil {
				t.Errorf("CheckVocab(30522): %v", err)
			}
			if err := CheckVocab(tok, 30528); err != nil {
				t.Errorf("CheckVocab(30528): %v", err)
			}
			err := CheckVocab(tok, 28996) // bert-base-cased's vocabulary size
			if err == nil || !strings.Contains(err.Error(), "30522 tokens") || !strings.Contains(err.Error(), "28996 rows") {
				t.Errorf("CheckVocab(28996) = %v", err)
			}
			if err := CheckVocab(tok, 0); err == nil {
				t.Error("CheckVocab(0): no error")
			}
		})
	}
	mini := loadShared(t, minilmJSON)
	if mini.MaxLen() != 256 || mini.Padding() != (Padding{ID: 0, MultipleOf: 8}) {
		t.Errorf("MiniLM MaxLen %d, Padding %+v", mini.MaxLen(), mini.Padding())
	}
	if bert := loadShared(t, bertJSON); bert.MaxLen() != 0 || bert.Padding() != (Padding{}) {
		t.Errorf("BERT MaxLen %d, Padding %+v", bert.MaxLen(), bert.Padding())
	}
}

func TestLoadTokenizerDispatch(t *testing.T) {
	dir := testutil.Shared(t, "data/tokenizers/bert-base-uncased")
	for _, p := range []string{dir, dir + "/tokenizer.json", dir + "/vocab.txt"} {
		tok, err := LoadTokenizer(p)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		if e, _ := tok.Encode("Hello", 0); !slices.Equal(e.IDs, []int32{101, 7592, 102}) {
			t.Errorf("%s: %v", p, e.IDs)
		}
	}
	if _, err := LoadTokenizer(t.TempDir()); err == nil || !strings.Contains(err.Error(), "neither tokenizer.json nor vocab.txt") {
		t.Errorf("empty dir: %v", err)
	}
	if _, err := LoadTokenizer(filepath.Join(t.TempDir(), "nope.json")); err == nil {
		t.Error("missing file: no error")
	}

	// tokenizer_config.json next to a vocab.txt is honoured.
	vocab, err := os.ReadFile(testutil.Shared(t, bertVocab))
	if err != nil {
		t.Fatal(err)
	}
	cased := t.TempDir()
	if err := os.WriteFile(filepath.Join(cased, "vocab.txt"), vocab, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(cased, "tokenizer_config.json"), []byte(`{"do_lower_case": false}`), 0o644); err != nil {
		t.Fatal(err)
	}
	tok, err := LoadTokenizer(filepath.Join(cased, "vocab.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if got := tok.Tokenize("Hello"); !slices.Equal(got, []string{"[UNK]"}) { // no capitals in an uncased vocab
		t.Errorf("cased tokenize = %q", got)
	}
}

func TestVocabOptions(t *testing.T) {
	path := testutil.Shared(t, bertVocab)
	keep := false
	tests := []struct {
		name string
		opts func(*VocabOptions)
		text string
		want []string
	}{
		{"default", func(*VocabOptions) {}, "Résumé", []string{"resume"}},
		{"keep accents", func(o *VocabOptions) { o.StripAccents = &keep }, "Résumé", []string{"[UNK]"}}, // no "##é" in the vocabulary
		{"cased", func(o *VocabOptions) { o.Lowercase = false }, "Hello", []string{"[UNK]"}},
		{"no chinese split", func(o *VocabOptions) { o.HandleChineseChars = false }, "中文", []string{"中", "##文"}},
		{"chinese split", func(*VocabOptions) {}, "中文", []string{"中", "文"}},
		{"no clean text", func(o *VocabOptions) { o.CleanText = false }, "a\u200bb", []string{"[UNK]"}},
		{"short words", func(o *VocabOptions) { o.MaxInputCharsPerWord = 4 }, "hello hell", []string{"[UNK]", "hell"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := DefaultVocabOptions()
			tc.opts(&o)
			tok, err := LoadVocab(path, o)
			if err != nil {
				t.Fatal(err)
			}
			if got := tok.Tokenize(tc.text); !slices.Equal(got, tc.want) {
				t.Errorf("Tokenize(%q) = %q, want %q", tc.text, got, tc.want)
			}
		})
	}
	if _, err := ReadVocab(strings.NewReader("[PAD]\n[UNK]\nhello\n"), "tiny.txt", DefaultVocabOptions()); err == nil ||
		!strings.Contains(err.Error(), `lacks the "[CLS]" or "[SEP]"`) {
		t.Errorf("vocab without [CLS]: %v", err)
	}
	if _, err := ReadVocab(strings.NewReader("[CLS]\n[SEP]\nhello\n"), "tiny.txt", DefaultVocabOptions()); err == nil ||
		!strings.Contains(err.Error(), `"[UNK]" is not in the vocabulary`) {
		t.Errorf("vocab without [UNK]: %v", err)
	}
	if _, err := ReadVocab(strings.NewReader(""), "empty.txt", DefaultVocabOptions()); err == nil {
		t.Error("empty vocab: no error")
	}
}

func TestTruncation(t *testing.T) {
	tok := loadShared(t, bertJSON)
	// "a b c d e f" is 6 tokens, "x y" 2; ids: a=1037 b=1038 c=1039 d=1040 e=1041 f=1042 x=1060 y=1061.
	tests := []struct {
		name   string
		a, b   string
		pair   bool
		maxLen int
		want   []int32
		types  []int32
	}{
		{"no truncation", "a b c", "", false, 0, []int32{101, 1037, 1038, 1039, 102}, nil},
		{"fits", "a b c", "", false, 5, []int32{101, 1037, 1038, 1039, 102}, nil},
		{"single cut", "a b c d e f", "", false, 5, []int32{101, 1037, 1038, 1039, 102}, nil},
		{"only specials", "a b c", "", false, 2, []int32{101, 102}, nil},
		{"pair cuts the longer", "a b c d e f", "x y", true, 8, []int32{101, 1037, 1038, 1039, 102, 1060, 1061, 102}, []int32{0, 0, 0, 0, 0, 1, 1, 1}},
		{"pair cuts the longer (second)", "x y", "a b c d e f", true, 8, []int32{101, 1060, 1061, 102, 1037, 1038, 1039, 102}, []int32{0, 0, 0, 0, 1, 1, 1, 1}},
		{"pair both halves even", "a b c d e f", "a b c d e f", true, 9, []int32{101, 1037, 1038, 1039, 102, 1037, 1038, 1039, 102}, nil},
		{"pair both halves odd", "a b c d e f", "a b c d e f", true, 10, []int32{101, 1037, 1038, 1039, 102, 1037, 1038, 1039, 1040, 102}, nil},
		{"pair uneven both cut", "a b c d e f", "x y", true, 6, []int32{101, 1037, 1038, 102, 1060, 102}, nil},
		{"pair only specials", "a", "x", true, 3, []int32{101, 102, 102}, []int32{0, 0, 1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var e Encoding
			var err error
			if tc.pair {
				e, err = tok.EncodePair(tc.a, tc.b, tc.maxLen)
			} else {
				e, err = tok.Encode(tc.a, tc.maxLen)
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(e.IDs, tc.want) {
				t.Errorf("ids %v, want %v", e.IDs, tc.want)
			}
			if tc.types != nil && !slices.Equal(e.TypeIDs, tc.types) {
				t.Errorf("types %v, want %v", e.TypeIDs, tc.types)
			}
			if tc.maxLen > 0 && e.Len() > tc.maxLen {
				t.Errorf("length %d > max %d", e.Len(), tc.maxLen)
			}
		})
	}
	for _, c := range []struct {
		pair   bool
		maxLen int
	}{{false, 1}, {true, 2}, {false, -1}} {
		var err error
		if c.pair {
			_, err = tok.EncodePair("a", "b", c.maxLen)
		} else {
			_, err = tok.Encode("a", c.maxLen)
		}
		if err == nil {
			t.Errorf("pair=%v maxLen=%d: no error", c.pair, c.maxLen)
		}
	}
}

// tinyTokenizerJSON builds a small WordPiece tokenizer.json with the given normalizer,
// pre-tokenizer, post-processor and extra added tokens (JSON fragments).
func tinyTokenizerJSON(normalizer, pre, post, added string) string {
	return `{"version":"1.0","truncation":{"max_length":6,"strategy":"OnlySecond","direction":"Left"},
"added_tokens":[{"id":0,"content":"[UNK]","special":true},{"id":1,"content":"[CLS]","special":true},{"id":2,"content":"[SEP]","special":true}` + added + `],
"normalizer":` + normalizer + `,"pre_tokenizer":` + pre + `,"post_processor":` + post + `,
"model":{"type":"WordPiece","unk_token":"[UNK]","continuing_subword_prefix":"##","max_input_chars_per_word":100,
"vocab":{"[UNK]":0,"[CLS]":1,"[SEP]":2,"hello":3,"world":4,"##s":5,"!":6,"héllo":7,"a":8,"b":9,"c":10,"d":11}}}`
}

func TestTokenizerJSONVariants(t *testing.T) {
	bert := `{"type":"BertNormalizer","clean_text":true,"handle_chinese_chars":true,"strip_accents":null,"lowercase":true}`
	bertPre := `{"type":"BertPreTokenizer"}`
	bertProc := `{"type":"BertProcessing","sep":["[SEP]",2],"cls":["[CLS]",1]}`
	tests := []struct {
		name, json string
		a, b       string
		pair       bool
		maxLen     int
		want       []int32
		types      []int32
	}{
		{"bert processing", tinyTokenizerJSON(bert, bertPre, bertProc, ""), "Hello worlds!", "", false, 0, []int32{1, 3, 4, 5, 6, 2}, nil},
		{"bert processing pair", tinyTokenizerJSON(bert, bertPre, bertProc, ""), "hello", "world", true, 0, []int32{1, 3, 2, 4, 2}, []int32{0, 0, 0, 1, 1}},
		{"no post-processor", tinyTokenizerJSON(bert, bertPre, "null", ""), "hello", "world", true, 0, []int32{3, 4}, []int32{0, 0}},
		{"sequence normalizer keeps accents", tinyTokenizerJSON(`{"type":"Sequence","normalizers":[{"type":"NFC"},{"type":"Lowercase"}]}`, bertPre, bertProc, ""),
			"HE\u0301LLO", "", false, 0, []int32{1, 7, 2}, nil},
		{"sequence normalizer strips accents", tinyTokenizerJSON(`{"type":"Sequence","normalizers":[{"type":"NFD"},{"type":"StripAccents"},{"type":"Lowercase"}]}`, bertPre, bertProc, ""),
			"HÉLLO", "", false, 0, []int32{1, 3, 2}, nil},
		{"whitespace split keeps punctuation", tinyTokenizerJSON(bert, `{"type":"WhitespaceSplit"}`, bertProc, ""), "hello!", "", false, 0, []int32{1, 0, 2}, nil},
		{"whitespace pre-tokenizer", tinyTokenizerJSON(bert, `{"type":"Sequence","pretokenizers":[{"type":"Whitespace"}]}`, bertProc, ""), "hello!world", "", false, 0, []int32{1, 3, 6, 4, 2}, nil},
		{"normalized added token", tinyTokenizerJSON(bert, bertPre, bertProc, `,{"id":12,"content":"Foo","normalized":true,"special":false}`), "FOO hello", "", false, 0, []int32{1, 12, 3, 2}, nil},
		{"rstrip added token", tinyTokenizerJSON(bert, bertPre, bertProc, `,{"id":13,"content":"<m>","rstrip":true,"lstrip":true,"special":true}`), "hello <m>  world", "", false, 0, []int32{1, 3, 13, 4, 2}, nil},
		{"single-word added token", tinyTokenizerJSON(bert, bertPre, bertProc, `,{"id":14,"content":"ab","single_word":true,"special":true}`), "ab cab", "", false, 0, []int32{1, 14, 0, 2}, nil},
		{"only-second left truncation", tinyTokenizerJSON(bert, bertPre, bertProc, ""), "a", "a b c d", true, 6, []int32{1, 8, 2, 10, 11, 2}, nil},
		// Normalizers beyond the BERT ones send WordPiece through the general pipeline.
		{"general pipeline", tinyTokenizerJSON(`{"type":"Sequence","normalizers":[{"type":"Replace","pattern":{"String":"x"},"content":" "},{"type":"Lowercase"}]}`, bertPre, bertProc, ""),
			"helloxWORLDs!", "", false, 0, []int32{1, 3, 4, 5, 6, 2}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tok, err := ReadTokenizerJSON(strings.NewReader(tc.json), "tiny.json")
			if err != nil {
				t.Fatal(err)
			}
			var e Encoding
			if tc.pair {
				e, err = tok.EncodePair(tc.a, tc.b, tc.maxLen)
			} else {
				e, err = tok.Encode(tc.a, tc.maxLen)
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(e.IDs, tc.want) {
				t.Errorf("ids %v (%q), want %v", e.IDs, tok.Tokens(e.IDs), tc.want)
			}
			if tc.types != nil && !slices.Equal(e.TypeIDs, tc.types) {
				t.Errorf("types %v, want %v", e.TypeIDs, tc.types)
			}
		})
	}
	// only_second truncation of a single sequence is an error, as in Hugging Face.
	tok, err := ReadTokenizerJSON(strings.NewReader(tinyTokenizerJSON(bert, bertPre, bertProc, "")), "tiny.json")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tok.Encode("a b c d e f", 6); err == nil {
		t.Error("only_second on a single sequence: no error")
	}
	// A tokenizer without [PAD] fails CheckVocab.
	if err := CheckVocab(tok, 100); err == nil || !strings.Contains(err.Error(), "no [PAD] token") {
		t.Errorf("CheckVocab without [PAD]: %v", err)
	}
}

func TestTokenizerJSONUnsupported(t *testing.T) {
	wp := func(extra string) string {
		return `{` + extra + `"model":{"type":"WordPiece","vocab":{"[UNK]":0},"unk_token":"[UNK]"}}`
	}
	tests := []struct {
		name, json, want string
	}{
		{"word level", `{"model":{"type":"WordLevel","vocab":{"a":0},"unk_token":"a"}}`,
			"unsupported tokenizer type WordLevel in bpe.json: kprune supports WordPiece, BPE and Unigram tokenizers"},
		{"untyped word level", `{"model":{"vocab":{"a":0}}}`, "unsupported tokenizer type WordLevel in bpe.json"},
		{"normalizer", wp(`"normalizer":{"type":"ByteLevel"},`), `unsupported normalizer type "ByteLevel" in bpe.json`},
		{"precompiled without charsmap", wp(`"normalizer":{"type":"Precompiled"},`),
			`bad normalizer Precompiled: precompiled_charsmap: missing or empty in bpe.json`},
		{"replace regex", wp(`"normalizer":{"type":"Replace","pattern":{"Regex":"(?<=a)b"},"content":""},`),
			`unsupported normalizer Replace: pattern.Regex "(?<=a)b"`},
		{"replace pattern", wp(`"normalizer":{"type":"Replace","pattern":"x","content":""},`), `bad normalizer Replace: pattern: want {"String": ...} or {"Regex": ...} in bpe.json`},
		{"pre-tokenizer", wp(`"pre_tokenizer":{"type":"Digits"},`), `unsupported pre_tokenizer type "Digits" in bpe.json`},
		{"metaspace replacement", wp(`"pre_tokenizer":{"type":"Metaspace","replacement":"ab"},`),
			`bad pre_tokenizer Metaspace: replacement: want one character in bpe.json`},
		{"metaspace scheme", wp(`"pre_tokenizer":{"type":"Metaspace","replacement":"_","prepend_scheme":"sometimes"},`),
			`prepend_scheme "sometimes"`},
		{"metaspace contradiction", wp(`"pre_tokenizer":{"type":"Metaspace","replacement":"_","prepend_scheme":"always","add_prefix_space":false},`),
			`add_prefix_space false contradicts prepend_scheme "always"`},
		{"post-processor", wp(`"post_processor":{"type":"Tokenizer"},`), `unsupported post_processor type "Tokenizer" in bpe.json`},
		{"roberta processor", wp(`"post_processor":{"type":"RobertaProcessing"},`), `bad post_processor: cls must be [token, id] in bpe.json`},
		{"missing unk", `{"model":{"type":"WordPiece","vocab":{"a":0},"unk_token":"[UNK]"}}`, `"[UNK]" is not in the vocabulary`},
		{"not json", `vocab`, "not a tokenizer.json"},
		{"no model", `{}`, "no \"model\" object"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ReadTokenizerJSON(strings.NewReader(tc.json), "bpe.json")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

// FuzzEncode checks that no input makes the tokenizer panic, that truncation holds, and
// that the ASCII fast path and the general path agree.
func FuzzEncode(f *testing.F) {
	for _, s := range []string{"", "Hello, world!", "naïve café", "[CLS]x[SEP]", "\xff\xfe", "a\u0000b\u200bc", "日本語", "İstanbul", strings.Repeat("x", 150)} {
		f.Add(s, "second", 8)
	}
	fast := loadShared(f, bertJSON)
	slow := loadShared(f, bertJSON)
	slow.fast = false
	f.Fuzz(func(t *testing.T, a, b string, maxLen int) {
		maxLen = max(0, maxLen%64)
		if maxLen > 0 && maxLen < 3 {
			maxLen = 3
		}
		e1, err := fast.EncodePair(a, b, maxLen)
		if err != nil {
			t.Fatal(err)
		}
		e2, _ := slow.EncodePair(a, b, maxLen)
		if !slices.Equal(e1.IDs, e2.IDs) {
			t.Errorf("fast %v != slow %v", e1.IDs, e2.IDs)
		}
		if maxLen > 0 && e1.Len() > maxLen {
			t.Errorf("length %d > %d", e1.Len(), maxLen)
		}
		if len(e1.TypeIDs) != len(e1.IDs) {
			t.Errorf("%d type ids for %d ids", len(e1.TypeIDs), len(e1.IDs))
		}
	})
}

func TestConcurrentEncode(t *testing.T) {
	tok := loadShared(t, bertJSON)
	recs := readGolden(t, "data/golden/tokenizer/edge.bert-base-uncased.jsonl")
	done := make(chan error, 8)
	for w := 0; w < 8; w++ {
		go func() {
			for k := 0; k < 20; k++ {
				for _, g := range recs {
					var e Encoding
					if g.Text != nil {
						e, _ = tok.Encode(*g.Text, 0)
					} else {
						e, _ = tok.EncodePair(*g.TextA, *g.TextB, 0)
					}
					if !slices.Equal(e.IDs, g.InputIDs) {
						done <- fmt.Errorf("concurrent encode gave %v, want %v", e.IDs, g.InputIDs)
						return
					}
				}
			}
			done <- nil
		}()
	}
	for w := 0; w < 8; w++ {
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
}

// TestReadVocabRejectsHugeLinesAndBinary: a vocab.txt line longer than MaxVocabLineBytes, or a
// NUL byte, is refused with the line number instead of being read whole.
func TestReadVocabRejectsHugeLinesAndBinary(t *testing.T) {
	cases := []struct {
		name, text, want string
	}{
		{"huge line", "[PAD]\n[UNK]\n" + strings.Repeat("a", MaxVocabLineBytes+10) + "\n", "line 3 is longer than"},
		{"NUL", "[PAD]\n\x00\x00\n", "line 2 holds a NUL"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ReadVocab(strings.NewReader(c.text), "v.txt", DefaultVocabOptions())
			if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "v.txt") || len(err.Error()) > 200 {
				t.Fatalf("got %v, want an error with %q", err, c.want)
			}
		})
	}
}
