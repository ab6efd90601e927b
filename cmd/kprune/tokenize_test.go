package main

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/kprune/kprune/internal/testutil"
)

// tokenizeLine is one line printed by kprune tokenize (or of a golden file).
type tokenizeLine struct {
	InputIDs      []int32  `json:"input_ids"`
	AttentionMask []int32  `json:"attention_mask"`
	TokenTypeIDs  *[]int32 `json:"token_type_ids"`
}

func parseLines(t *testing.T, text string) []tokenizeLine {
	t.Helper()
	var out []tokenizeLine
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(nil, 1<<24)
	for sc.Scan() {
		var l tokenizeLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("line %d: %v: %q", len(out)+1, err, sc.Text())
		}
		out = append(out, l)
	}
	return out
}

// TestTokenizeGolden runs kprune tokenize with the RoBERTa (byte-level BPE), T5 and
// XLM-R-style (Unigram) tokenizer.json files over GLUE dev sets and compares every line
// with the golden ids of Hugging Face tokenizers 0.23.3.
func TestTokenizeGolden(t *testing.T) {
	tests := []struct{ tokenizer, data, golden string }{
		{"roberta-base/tokenizer.json", "glue/sst2/dev.tsv", "sst2_dev.roberta-base.jsonl"},
		{"roberta-base", "glue/stsb/dev.csv", "stsb_dev.roberta-base.jsonl"},
		{"t5-small/tokenizer.json", "glue/sst2/dev.tsv", "sst2_dev.t5-small.jsonl"},
		{"xlmr-style-spm-test/tokenizer.json", "glue/stsb/dev.csv", "stsb_dev.xlmr-style-spm-test.jsonl"},
	}
	for _, tc := range tests {
		t.Run(tc.golden, func(t *testing.T) {
			tok := testutil.Shared(t, filepath.Join("data/tokenizers", tc.tokenizer))
			dataPath := testutil.Shared(t, filepath.Join("data", tc.data))
			goldenPath := testutil.Shared(t, filepath.Join("data/golden/tokenizer", tc.golden))
			code, out, errOut := runCLI("tokenize", "--tokenizer", tok, "--data", dataPath, "--max-len", "128")
			if code != 0 {
				t.Fatalf("tokenize: code %d: %s", code, errOut)
			}
			golden, err := os.ReadFile(goldenPath)
			if err != nil {
				t.Fatal(err)
			}
			got, want := parseLines(t, out), parseLines(t, string(golden))
			if len(got) != len(want) {
				t.Fatalf("%d lines, golden has %d", len(got), len(want))
			}
			for i := range want {
				if !slices.Equal(got[i].InputIDs, want[i].InputIDs) || !slices.Equal(got[i].AttentionMask, want[i].AttentionMask) {
					t.Fatalf("line %d:\n got %+v\nwant %+v", i+1, got[i], want[i])
				}
				if got[i].TokenTypeIDs != nil {
					t.Fatalf("line %d: token_type_ids printed for a tokenizer without them", i+1)
				}
			}
		})
	}
}

// TestTokenizeWordPieceTypes checks that BERT output keeps its token_type_ids.
func TestTokenizeWordPieceTypes(t *testing.T) {
	tok := testutil.Shared(t, "data/tokenizers/bert-base-uncased/tokenizer.json")
	csv := filepath.Join(t.TempDir(), "pairs.csv")
	if err := os.WriteFile(csv, []byte("\"Hello, world!\",Second one.,1.0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runCLI("tokenize", "--tokenizer", tok, "--data", csv)
	if code != 0 {
		t.Fatalf("tokenize: code %d: %s", code, errOut)
	}
	want := `{"input_ids":[101,7592,1010,2088,999,102,2117,2028,1012,102],"attention_mask":[1,1,1,1,1,1,1,1,1,1],"token_type_ids":[0,0,0,0,0,0,1,1,1,1]}` + "\n"
	if out != want {
		t.Errorf("got  %s\nwant %s", out, want)
	}
}
