package data

import (
	"bufio"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/kprune/kprune/internal/testutil"
)

// tinyUnigramJSON is a SentencePiece-style Unigram tokenizer.json over 9 pieces with a
// T5-like template (A </s>, A </s> B </s>); pre and norm are the pre-tokenizer and
// normalizer JSON, fallback fills byte_fallback.
func tinyUnigramJSON(pre, norm, fallback string) string {
	return `{"version": "1.0",
"added_tokens": [
 {"id": 0, "content": "<unk>", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true},
 {"id": 8, "content": "</s>", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true}],
"normalizer": ` + norm + `, "pre_tokenizer": ` + pre + `,
"post_processor": {"type": "TemplateProcessing",
 "single": [{"Sequence": {"id": "A", "type_id": 0}}, {"SpecialToken": {"id": "</s>", "type_id": 0}}],
 "pair": [{"Sequence": {"id": "A", "type_id": 0}}, {"SpecialToken": {"id": "</s>", "type_id": 0}},
          {"Sequence": {"id": "B", "type_id": 1}}, {"SpecialToken": {"id": "</s>", "type_id": 1}}],
 "special_tokens": {"</s>": {"id": "</s>", "ids": [8], "tokens": ["</s>"]}}},
"model": {"unk_id": 0, "byte_fallback": ` + fallback + `,
 "vocab": [["<unk>", 0.0], ["▁", -1.0], ["▁a", -2.0], ["b", -2.0], ["▁ab", -3.5], ["a", -3.0], ["c", -4.0], ["<0x78>", -5.0], ["</s>", 0.0]]}}`
}

const (
	metaAlways = `{"type": "Metaspace", "replacement": "▁", "prepend_scheme": "always", "split": true}`
	metaFirst  = `{"type": "Metaspace", "replacement": "▁", "prepend_scheme": "first", "split": true}`
	metaNever  = `{"type": "Metaspace", "replacement": "▁", "prepend_scheme": "never", "split": true}`
	metaWhole  = `{"type": "Metaspace", "replacement": "▁", "prepend_scheme": "always", "split": false}`
	metaOld    = `{"type": "Sequence", "pretokenizers": [{"type": "WhitespaceSplit"},
		{"type": "Metaspace", "replacement": "▁", "str_rep": "▁", "add_prefix_space": true}]}`
	stripLeft = `{"type": "Strip", "strip_left": true, "strip_right": false}`
	bertClean = `{"type": "BertNormalizer", "clean_text": true, "handle_chinese_chars": false, "strip_accents": false, "lowercase": false}`
	replaceX  = `{"type": "Replace", "pattern": {"String": "x"}, "content": ""}`
	normSeq   = `{"type": "Sequence", "normalizers": [{"type": "Strip", "strip_left": true, "strip_right": true},
		{"type": "NFKC"}, {"type": "Lowercase"}, {"type": "Replace", "pattern": {"String": "c"}, "content": "b"},
		{"type": "Replace", "pattern": {"Regex": " {2,}"}, "content": " "}, {"type": "Prepend", "prepend": "▁"}]}`
)

// TestUnigramTiny checks hand-computed encodings of the tiny Unigram tokenizers (the
// expected ids are also what Hugging Face tokenizers 0.23.3 gives for these files).
func TestUnigramTiny(t *testing.T) {
	tests := []struct {
		name, json string
		a          string
		b          *string
		maxLen     int
		want       []int32
		types      []int32
	}{
		// "▁ab": ▁ab (-3.5) beats ▁a b (-4) and ▁ a b (-6).
		{"best path", tinyUnigramJSON(metaAlways, "null", "false"), "ab", nil, 0, []int32{4, 8}, nil},
		{"words", tinyUnigramJSON(metaAlways, "null", "false"), "ab ab", nil, 0, []int32{4, 4, 8}, nil},
		// ▁ab c (-7.5) beats ▁a b c (-8).
		{"three pieces", tinyUnigramJSON(metaAlways, "null", "false"), "abc", nil, 0, []int32{4, 6, 8}, nil},
		// x is unknown (score -5-10); the two x are fused into one <unk>.
		{"fused unk", tinyUnigramJSON(metaAlways, "null", "false"), "axxb", nil, 0, []int32{2, 0, 3, 8}, nil},
		{"byte fallback", tinyUnigramJSON(metaAlways, "null", "true"), "axxb", nil, 0, []int32{2, 7, 7, 3, 8}, nil},
		{"pair truncated", tinyUnigramJSON(metaAlways, "null", "false"), "ab ab ab", ptr("c"), 4, []int32{4, 8, 1, 8}, []int32{0, 0, 1, 1}},
		{"empty pair", tinyUnigramJSON(metaAlways, "null", "false"), "", ptr(""), 0, []int32{8, 8}, []int32{0, 1}},
		{"added token splits", tinyUnigramJSON(metaAlways, "null", "false"), "a</s>b", nil, 0, []int32{2, 8, 1, 3, 8}, nil},
		{"first: later segment", tinyUnigramJSON(metaFirst, "null", "false"), "</s>ab", nil, 0, []int32{8, 5, 3, 8}, nil},
		{"first: pair", tinyUnigramJSON(metaFirst, "null", "false"), "ab", ptr("ab"), 0, []int32{4, 8, 4, 8}, nil},
		{"first: leading spaces", tinyUnigramJSON(metaFirst, "null", "false"), "  ab", nil, 0, []int32{1, 4, 8}, nil},
		{"never", tinyUnigramJSON(metaNever, "null", "false"), "ab ab", nil, 0, []int32{5, 3, 4, 8}, nil},
		{"never, nbsp", tinyUnigramJSON(metaNever, "null", "false"), "ab\u00a0ab", nil, 0, []int32{5, 3, 0, 5, 3, 8}, nil},
		{"no split", tinyUnigramJSON(metaWhole, "null", "false"), "</s>ab", nil, 0, []int32{8, 4, 8}, nil},
		{"no split, fullwidth", tinyUnigramJSON(metaWhole, "null", "false"), "ＡＢ  C", nil, 0, []int32{1, 0, 1, 1, 0, 8}, nil},
		{"old style", tinyUnigramJSON(metaOld, "null", "false"), "  ab", nil, 0, []int32{4, 8}, nil},
		{"old style, fullwidth", tinyUnigramJSON(metaOld, "null", "false"), "ＡＢ  C", nil, 0, []int32{1, 0, 1, 0, 8}, nil},
		{"old style, nbsp", tinyUnigramJSON(metaOld, "null", "false"), "ab\u00a0ab", nil, 0, []int32{4, 4, 8}, nil},
		// prepend_scheme "first" does not prepend once a normalizer dropped the leading
		// characters (the piece no longer starts at offset 0 of the input).
		{"first: strip", tinyUnigramJSON(metaFirst, stripLeft, "false"), "  ab", nil, 0, []int32{5, 3, 8}, nil},
		{"first: strip keeps control", tinyUnigramJSON(metaFirst, stripLeft, "false"), "\x01ab", nil, 0, []int32{1, 0, 5, 3, 8}, nil},
		{"first: bert drops control", tinyUnigramJSON(metaFirst, bertClean, "false"), "\x01ab", nil, 0, []int32{5, 3, 8}, nil},
		{"first: bert keeps spaces", tinyUnigramJSON(metaFirst, bertClean, "false"), "  ab", nil, 0, []int32{1, 4, 8}, nil},
		{"first: replace by nothing", tinyUnigramJSON(metaFirst, replaceX, "false"), "xab", nil, 0, []int32{5, 3, 8}, nil},
		{"first: replace elsewhere", tinyUnigramJSON(metaFirst, replaceX, "false"), "axb", nil, 0, []int32{4, 8}, nil},
		{"first: prepend", tinyUnigramJSON(metaFirst, `{"type": "Prepend", "prepend": "▁"}`, "false"), "  ab", nil, 0, []int32{1, 1, 4, 8}, nil},
		{"normalizers", tinyUnigramJSON(metaNever, normSeq, "false"), "ＡＢ  C", nil, 0, []int32{4, 1, 3, 8}, nil},
		{"normalizers strip", tinyUnigramJSON(metaNever, normSeq, "false"), "  ab", nil, 0, []int32{4, 8}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tok, err := ReadTokenizerJSON(strings.NewReader(tc.json), "tiny.json")
			if err != nil {
				t.Fatal(err)
			}
			if tok.Kind() != KindUnigram {
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
	tok, err := ReadTokenizerJSON(strings.NewReader(tinyUnigramJSON(metaAlways, "null", "false")), "tiny.json")
	if err != nil {
		t.Fatal(err)
	}
	if want := (SpecialTokens{CLS: -1, SEP: 8, PAD: -1, UNK: 0, MASK: -1}); tok.Special() != want {
		t.Errorf("Special = %+v, want %+v", tok.Special(), want)
	}
	if tok.PadID() != 0 || tok.VocabSize() != 9 || !tok.UsesTypeIDs() {
		t.Errorf("PadID %d, VocabSize %d, UsesTypeIDs %v", tok.PadID(), tok.VocabSize(), tok.UsesTypeIDs())
	}
	if err := CheckVocab(tok, 9); err != nil {
		t.Errorf("CheckVocab: %v", err)
	}
}

// TestUnigramErrors checks malformed Unigram models and the missing unknown piece.
func TestUnigramErrors(t *testing.T) {
	tests := []struct {
		name, model, want string
	}{
		{"bad pair", `{"vocab": [["a", 0.0], ["b"]]}`, "uni.json: model.vocab[1]: want a [piece, score] pair"},
		{"bad score", `{"vocab": [["a", "x"]]}`, "model.vocab[0]: score:"},
		{"bad piece", `{"vocab": [[1, 0.5]]}`, "model.vocab[0]: piece:"},
		{"unk out of range", `{"type": "Unigram", "vocab": [["a", 0.0]], "unk_id": 3}`, "model.unk_id: 3 is outside the vocabulary of 1 pieces"},
		{"empty with unk", `{"type": "Unigram", "vocab": [], "unk_id": 0}`, "model.vocab: empty"},
		{"no vocab", `{"type": "Unigram"}`, "model.vocab: missing"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ReadTokenizerJSON(strings.NewReader(`{"model": `+tc.model+`}`), "uni.json")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want %q", err, tc.want)
			}
		})
	}
	tok, err := ReadTokenizerJSON(strings.NewReader(`{"model": {"vocab": [["a", -1.0], ["b", -2.0]]}}`), "uni.json")
	if err != nil {
		t.Fatal(err)
	}
	if e, err := tok.Encode("ab", 0); err != nil || !slices.Equal(e.IDs, []int32{0, 1}) {
		t.Errorf("Encode(ab) = %v, %v", e.IDs, err)
	}
	if _, err := tok.EncodePair("a", "abc", 0); err == nil || !strings.Contains(err.Error(), "no unknown piece") {
		t.Errorf("Encode(abc) error = %v", err)
	}
}

// TestPieceTrie checks the trie against direct lookups.
func TestPieceTrie(t *testing.T) {
	ids := map[string]int32{"a": 0, "ab": 1, "abc": 2, "b": 3, "▁": 4, "▁a": 5, "": 6, "zzzz": 7}
	for c := byte('c'); c < 'c'+20; c++ { // a node with many children (binary search)
		ids["a"+string(c)+"x"] = int32(100 + c)
	}
	tr := newPieceTrie(ids)
	for k := range ids {
		if got := tr.has(k); got != (k != "") {
			t.Errorf("has(%q) = %v", k, got)
		}
	}
	for _, k := range []string{"abcd", "zz", "zzz", "c", "▁b", "\xe2"} {
		if tr.has(k) {
			t.Errorf("has(%q) = true", k)
		}
	}
}

// tinyCharsmap builds a precompiled charsmap by hand: a Darts double array mapping the
// byte 'A' to "a", and nothing else.
func tinyCharsmap() []byte {
	units := make([]uint32, 66)
	units[0] = 1 << 10                // root: offset 1
	units[1^'A'] = 'A' | 1<<8 | 1<<10 // label 'A', has a leaf, offset 1
	units[(1^'A')^1] = 0              // the leaf: value 0, the offset of "a"
	blob := []byte("a\x00")
	out := binary.LittleEndian.AppendUint32(nil, uint32(4*len(units)))
	for _, u := range units {
		out = binary.LittleEndian.AppendUint32(out, u)
	}
	return append(out, blob...)
}

func TestPrecompiledTiny(t *testing.T) {
	p, err := newPrecompiled(tinyCharsmap())
	if err != nil {
		t.Fatal(err)
	}
	for in, want := range map[string]string{"": "", "A": "a", "BAB": "BaB", "ÀA": "Àa", "A\u0301": "a", "\x00A": "\x00a"} {
		if got := p.apply(in); got != want {
			t.Errorf("apply(%+q) = %+q, want %+q", in, got, want)
		}
	}
	for _, bad := range [][]byte{nil, {1, 0, 0}, {8, 0, 0, 0, 1, 0, 0, 0}, append(tinyCharsmap(), 0xff)} {
		if _, err := newPrecompiled(bad); err == nil {
			t.Errorf("newPrecompiled(%x): no error", bad)
		}
	}
	if _, err := parsePrecompiled("not base64!"); err == nil {
		t.Error("bad base64: no error")
	}
	js := `{"normalizer": {"type": "Precompiled", "precompiled_charsmap": "` + base64.StdEncoding.EncodeToString(tinyCharsmap()) +
		`"}, "model": {"vocab": [["<unk>", 0.0], ["a", -1.0], ["B", -1.0]], "unk_id": 0}}`
	tok, err := ReadTokenizerJSON(strings.NewReader(js), "pc.json")
	if err != nil {
		t.Fatal(err)
	}
	if e, _ := tok.Encode("ABC", 0); !slices.Equal(e.IDs, []int32{1, 2, 0}) {
		t.Errorf("Encode(ABC) = %v", e.IDs)
	}
}

// TestPrecompiledNmtNfkc ports the tests of the spm_precompiled crate; T5's charsmap is
// SentencePiece's nmt_nfkc.
func TestPrecompiledNmtNfkc(t *testing.T) {
	p := sharedCharsmap(t, t5JSON)
	if v, ok := p.firstMatch("\ufb01"); !ok || v != 2130 || p.normalized[2130:2133] != "fi\x00" {
		t.Errorf("ﬁ: %d %v", v, ok)
	}
	if _, ok := p.firstMatch(" "); ok {
		t.Error("space has an entry")
	}
	for in, want := range map[string]string{"𝔾": "G", "𝕠": "o", "\u200d": " "} {
		if got, ok := p.transform(in); !ok || got != want {
			t.Errorf("transform(%q) = %q %v, want %q", in, got, ok, want)
		}
	}
	for in, want := range map[string]string{
		"เขาไม่ได้พูดสักคำ": "เขาไม\u0e48ได\u0e49พ\u0e39ดส\u0e31กค\u0e4dา",
		"ड़ी दुख":             "ड\u093cी द\u0941ख",
		"\u0627\u0653":        "آ", // one cluster of two characters with an entry of its own
		"Ａ\u0301":             "A", // the shortest prefix of a short cluster wins; the accent goes
		"Ａ\u0301\u0301\u0301": "A\u0301\u0301\u0301",
		"hello\r\nworld":      "hello world", // CR LF is one cluster: the entry of CR (a space) stands for both
	} {
		if got := p.apply(in); got != want {
			t.Errorf("apply(%+q) = %+q, want %+q", in, got, want)
		}
	}
}

func sharedCharsmap(t *testing.T, rel string) *precompiledMap {
	t.Helper()
	b, err := os.ReadFile(testutil.Shared(t, rel))
	if err != nil {
		t.Fatal(err)
	}
	var js struct {
		Normalizer struct {
			PrecompiledCharsmap string `json:"precompiled_charsmap"`
		} `json:"normalizer"`
	}
	if err := json.Unmarshal(b, &js); err != nil {
		t.Fatal(err)
	}
	p, err := parsePrecompiled(js.Normalizer.PrecompiledCharsmap)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestGraphemeBreaks checks the grapheme cluster segmentation against the Unicode test
// data (testdata/grapheme_break_test.txt).
func TestGraphemeBreaks(t *testing.T) {
	f, err := os.Open("testdata/grapheme_break_test.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	n := 0
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		var want []string
		var cur []rune
		for _, f := range strings.Fields(line) {
			switch f {
			case "÷":
				if len(cur) > 0 {
					want = append(want, string(cur))
					cur = nil
				}
			case "×":
			default:
				v, err := strconv.ParseUint(f, 16, 32)
				if err != nil {
					t.Fatalf("%q: %v", line, err)
				}
				cur = append(cur, rune(v))
			}
		}
		s := strings.Join(want, "")
		g := graphemeIter{s: s}
		var got []string
		for c := g.next(); c != ""; c = g.next() {
			got = append(got, c)
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s: got %+q, want %+q", line, got, want)
		}
		n++
	}
	if n < 700 {
		t.Errorf("only %d test lines", n)
	}
}
