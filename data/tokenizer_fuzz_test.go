package data

import (
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/kprune/kprune/internal/testutil"
)

// fuzzSeeds are texts that exercise the BPE and Unigram pipelines.
var fuzzSeeds = []string{"", "Hello, world! This is unaffable.", "don't y'all", "  leading   spaces  ",
	"Résumé naïve café — GPU's 3.14", "e\u0301\u0301 Ａ\u0301 ﬁ", "👨\u200d👩\u200d👧 🇫🇷🇩🇪", "क्षत्रिय เขาไม่ได้",
	"<s>x</s> <mask> <pad>", "\x00\x07\r\n\t\u00a0\u3000", "\xff\xfe invalid", strings.Repeat("ab ", 60)}

// fuzzTokenizer returns the shared tokenizer.json rel, or the tiny one given when
// ../shared is absent.
func fuzzTokenizer(f *testing.F, rel, tiny string) *Tokenizer {
	f.Helper()
	if dir := testutil.SharedDir(); dir != "" {
		return loadShared(f, rel)
	}
	tok, err := ReadTokenizerJSON(strings.NewReader(tiny), "tiny.json")
	if err != nil {
		f.Fatal(err)
	}
	return tok
}

// checkEncoding checks the invariants of any encoding.
func checkEncoding(t *testing.T, tok *Tokenizer, e Encoding, maxLen int) {
	t.Helper()
	if maxLen > 0 && e.Len() > maxLen {
		t.Errorf("length %d > max %d", e.Len(), maxLen)
	}
	if len(e.TypeIDs) != len(e.IDs) {
		t.Errorf("%d type ids for %d ids", len(e.TypeIDs), len(e.IDs))
	}
	for _, id := range e.IDs {
		if id < 0 || int(id) >= tok.VocabSize() {
			t.Fatalf("id %d outside the vocabulary of %d", id, tok.VocabSize())
		}
	}
}

func fuzzEncode(f *testing.F, toks ...*Tokenizer) {
	for _, s := range fuzzSeeds {
		f.Add(s, "second text", 16)
	}
	f.Fuzz(func(t *testing.T, a, b string, maxLen int) {
		maxLen = max(0, maxLen%64)
		if maxLen > 0 && maxLen < 6 {
			maxLen = 6
		}
		for _, tok := range toks {
			e1, err := tok.EncodePair(a, b, maxLen)
			if err != nil {
				t.Fatal(err)
			}
			checkEncoding(t, tok, e1, maxLen)
			e2, err := tok.Encode(a, maxLen)
			if err != nil {
				t.Fatal(err)
			}
			checkEncoding(t, tok, e2, maxLen)
			if e3, _ := tok.Encode(a, maxLen); !slices.Equal(e2.IDs, e3.IDs) {
				t.Errorf("second encoding differs (word cache?): %v vs %v", e2.IDs, e3.IDs)
			}
		}
	})
}

// FuzzEncodeBPE checks that no input makes the byte-level BPE tokenizer fail or panic and
// that truncation holds.
func FuzzEncodeBPE(f *testing.F) {
	fuzzEncode(f, fuzzTokenizer(f, robertaJSON, tinyByteLevelJSON))
}

// FuzzEncodeUnigram does the same for the Unigram tokenizers (Precompiled normalizer,
// grapheme clusters, Metaspace, Viterbi).
func FuzzEncodeUnigram(f *testing.F) {
	fuzzEncode(f, fuzzTokenizer(f, t5JSON, tinyUnigramJSON(metaAlways, normSeq, "true")),
		fuzzTokenizer(f, xlmrJSON, tinyUnigramJSON(metaOld, "null", "false")))
}

// FuzzReadTokenizerJSON checks that no tokenizer.json makes the loader or the encoder
// panic.
func FuzzReadTokenizerJSON(f *testing.F) {
	for _, s := range []string{tinyByteLevelJSON, tinyCharBPEJSON("true", "true"), tinyUnigramJSON(metaFirst, normSeq, "true"),
		tinyUnigramJSON(metaWhole, "null", "false"), tinyTokenizerJSON(`{"type":"BertNormalizer"}`, `{"type":"BertPreTokenizer"}`, "null", "")} {
		f.Add(s, "Hello <mask> wörld</s>")
	}
	f.Fuzz(func(t *testing.T, js, text string) {
		tok, err := ReadTokenizerJSON(strings.NewReader(js), "fuzz.json")
		if err != nil {
			return
		}
		for _, maxLen := range []int{0, 5} {
			if e, err := tok.EncodePair(text, text, maxLen); err == nil {
				checkEncoding(t, tok, e, maxLen)
			}
		}
		tok.Tokenize(text)
		CheckVocab(tok, 10)
	})
}

// FuzzPrecompiled checks that no charsmap or text makes the Precompiled normalizer panic,
// and that valid text stays valid.
func FuzzPrecompiled(f *testing.F) {
	f.Add(tinyCharsmap(), "ABC A\u0301")
	f.Add(tinyCharsmap()[:40], "A")
	f.Add([]byte{4, 0, 0, 0, 0xff, 0xff, 0xff, 0xff}, "\x01A")
	f.Fuzz(func(t *testing.T, charsmap []byte, text string) {
		p, err := newPrecompiled(charsmap)
		if err != nil {
			return
		}
		if out := p.apply(text); utf8.ValidString(text) && !utf8.ValidString(out) {
			t.Errorf("apply(%+q) = %+q: invalid UTF-8", text, out)
		}
	})
}

// FuzzGraphemes checks that grapheme clusters are non-empty and cover the text.
func FuzzGraphemes(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		g := graphemeIter{s: s}
		var b strings.Builder
		for c := g.next(); c != ""; c = g.next() {
			b.WriteString(c)
		}
		if b.String() != s {
			t.Errorf("clusters of %+q join to %+q", s, b.String())
		}
	})
}
