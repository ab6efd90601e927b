package data

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/kprune/kprune/internal/testutil"
)

// Tokenizer files of the other families in ../shared.
const (
	robertaJSON = "data/tokenizers/roberta-base/tokenizer.json"
	t5JSON      = "data/tokenizers/t5-small/tokenizer.json"
	xlmrJSON    = "data/tokenizers/xlmr-style-spm-test/tokenizer.json"
)

// goldenRow is one line of the BPE/Unigram golden files: either a row index into the
// GLUE dev set, or the text (and pair text) itself.
type goldenRow struct {
	Row           *int     `json:"row"`
	Text          *string  `json:"text"`
	TextPair      *string  `json:"text_pair"`
	InputIDs      []int32  `json:"input_ids"`
	AttentionMask []int32  `json:"attention_mask"`
	Tokens        []string `json:"tokens"`
}

func readGoldenRows(t testing.TB, rel string) []goldenRow {
	t.Helper()
	return testutil.ReadJSONL[goldenRow](t, testutil.Shared(t, rel))
}

// glueTexts returns the texts of a GLUE dev set: one per record, or two for pairs.
func glueTexts(t testing.TB, rel string) [][]string {
	t.Helper()
	ds, err := ReadDataset(testutil.Shared(t, rel), ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	out := make([][]string, len(ds.Records))
	for i := range ds.Records {
		out[i] = ds.Records[i].Text
	}
	return out
}

// TestGoldenOtherFamilies checks the BPE and Unigram tokenizers against every row of the
// golden files made with Hugging Face tokenizers 0.23.3 (special tokens added, truncation
// to 128 tokens longest-first, no padding).
func TestGoldenOtherFamilies(t *testing.T) {
	const maxLen = 128
	sets := []struct{ name, data string }{
		{"sst2_dev", "data/glue/sst2/dev.tsv"},
		{"stsb_dev", "data/glue/stsb/dev.csv"},
		{"edge", ""},
	}
	toks := []struct{ name, file string }{
		{"roberta-base", robertaJSON},
		{"t5-small", t5JSON},
		{"xlmr-style-spm-test", xlmrJSON},
	}
	for _, tk := range toks {
		for _, set := range sets {
			t.Run(set.name+"."+tk.name, func(t *testing.T) {
				tok := loadShared(t, tk.file)
				rows := readGoldenRows(t, "data/golden/tokenizer/"+set.name+"."+tk.name+".jsonl")
				var texts [][]string
				if set.data != "" {
					texts = glueTexts(t, set.data)
				}
				bad := 0
				for i, g := range rows {
					var in []string
					switch {
					case g.Row != nil:
						if *g.Row < 0 || *g.Row >= len(texts) {
							t.Fatalf("row %d: index %d outside the %d records of %s", i, *g.Row, len(texts), set.data)
						}
						in = texts[*g.Row]
					case g.Text != nil && g.TextPair != nil:
						in = []string{*g.Text, *g.TextPair}
					case g.Text != nil:
						in = []string{*g.Text}
					default:
						t.Fatalf("row %d has neither row nor text", i)
					}
					var enc Encoding
					var err error
					if len(in) == 2 {
						enc, err = tok.EncodePair(in[0], in[1], maxLen)
					} else {
						enc, err = tok.Encode(in[0], maxLen)
					}
					if err != nil {
						t.Fatalf("row %d: %v", i, err)
					}
					if !slices.Equal(enc.IDs, g.InputIDs) {
						bad++
						if bad <= 5 {
							t.Errorf("row %d %q:\n got %v\nwant %v\n got tokens %q\nwant tokens %q",
								i, strings.Join(in, " ||| "), enc.IDs, g.InputIDs, tok.Tokens(enc.IDs), g.Tokens)
						}
						continue
					}
					if len(g.AttentionMask) != len(enc.IDs) || slices.Contains(g.AttentionMask, 0) {
						t.Errorf("row %d: golden attention mask %v does not match %d unpadded tokens", i, g.AttentionMask, len(enc.IDs))
					}
					if tok.UsesTypeIDs() || slices.ContainsFunc(enc.TypeIDs, func(v int32) bool { return v != 0 }) {
						t.Errorf("row %d: type ids %v, want all 0", i, enc.TypeIDs)
					}
					// Token strings agree except for unknown pieces, which the reference
					// shows as the text they stand for.
					got := tok.Tokens(enc.IDs)
					for k := range got {
						if k < len(g.Tokens) && got[k] != g.Tokens[k] && enc.IDs[k] != tok.Special().UNK {
							t.Errorf("row %d token %d: %q, want %q", i, k, got[k], g.Tokens[k])
							break
						}
					}
				}
				if bad > 0 {
					t.Errorf("%d of %d rows differ", bad, len(rows))
				} else {
					t.Logf("%d rows match", len(rows))
				}
			})
		}
	}
}

// TestGoldenHardStrings checks 180 random mixes of hard characters (combining marks,
// emoji sequences, fullwidth forms, Indic and Thai clusters, Hangul jamo, controls,
// unusual spaces, contractions, special tokens typed in the text), single and paired,
// against ids from Hugging Face tokenizers 0.23.3 with truncation at 128 and at 16
// tokens (testdata/hard_strings.golden.jsonl, generated once with the Python bindings).
// Many of them depend on grapheme clusters in the Precompiled normalizer.
func TestGoldenHardStrings(t *testing.T) {
	rows := testutil.ReadJSONL[map[string]json.RawMessage](t, "testdata/hard_strings.golden.jsonl")
	for _, tk := range []struct{ name, file string }{
		{"roberta-base", robertaJSON}, {"t5-small", t5JSON}, {"xlmr-style-spm-test", xlmrJSON},
	} {
		t.Run(tk.name, func(t *testing.T) {
			tok := loadShared(t, tk.file)
			bad := 0
			for i, r := range rows {
				var a, b string
				pair := r["text_pair"] != nil
				json.Unmarshal(r["text"], &a)
				if pair {
					json.Unmarshal(r["text_pair"], &b)
				}
				for _, maxLen := range []int{128, 16} {
					var want []int32
					if err := json.Unmarshal(r[fmt.Sprintf("%s.%d", tk.name, maxLen)], &want); err != nil {
						t.Fatalf("row %d: %v", i, err)
					}
					var e Encoding
					var err error
					if pair {
						e, err = tok.EncodePair(a, b, maxLen)
					} else {
						e, err = tok.Encode(a, maxLen)
					}
					if err != nil || !slices.Equal(e.IDs, want) {
						if bad++; bad <= 5 {
							t.Errorf("row %d max %d %+q | %+q: err %v\n got %v\nwant %v", i, maxLen, a, b, err, e.IDs, want)
						}
					}
				}
			}
			if bad > 0 {
				t.Errorf("%d of %d encodings differ", bad, 2*len(rows))
			}
		})
	}
}

// TestGoldenTinyConfigs runs 25 small tokenizer.json variants (byte-level BPE with and
// without a prefix space under five normalizers; character BPE with fused unknowns and byte
// fallback; Unigram with every Metaspace prepend scheme, split or not, after
// WhitespaceSplit, Whitespace or BertPreTokenizer, under Strip, BertNormalizer, Nmt,
// NFKD/StripAccents/Replace/Lowercase/Prepend sequences) over 200 random texts and pairs
// and compares with ids from Hugging Face tokenizers 0.23.3, truncated at 12 tokens
// (testdata/tiny_configs.golden.json, generated once with the Python bindings). It needs
// nothing from ../shared.
func TestGoldenTinyConfigs(t *testing.T) {
	b, err := os.ReadFile("testdata/tiny_configs.golden.json")
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Cases   [][2]*string
		Configs map[string]struct {
			Config json.RawMessage
			IDs    [][]int32
		}
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatal(err)
	}
	if len(d.Configs) < 20 || len(d.Cases) < 100 {
		t.Fatalf("%d configs, %d cases", len(d.Configs), len(d.Cases))
	}
	for name, c := range d.Configs {
		t.Run(name, func(t *testing.T) {
			tok, err := ReadTokenizerJSON(strings.NewReader(string(c.Config)), name)
			if err != nil {
				t.Fatal(err)
			}
			bad := 0
			for i, cs := range d.Cases {
				var e Encoding
				if cs[1] != nil {
					e, err = tok.EncodePair(*cs[0], *cs[1], 12)
				} else {
					e, err = tok.Encode(*cs[0], 12)
				}
				if err != nil || !slices.Equal(e.IDs, c.IDs[i]) {
					if bad++; bad <= 3 {
						t.Errorf("case %d %+q (pair %v): err %v\n got %v\nwant %v", i, *cs[0], cs[1] != nil, err, e.IDs, c.IDs[i])
					}
				}
			}
			if bad > 0 {
				t.Errorf("%d of %d cases differ", bad, len(d.Cases))
			}
		})
	}
}
