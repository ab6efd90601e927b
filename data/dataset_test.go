package data

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/kprune/kprune/internal/testutil"
)

func TestReadSharedGLUE(t *testing.T) {
	tests := []struct {
		rel       string
		rows      int
		texts     int
		labels    LabelKind
		classes   int
		firstText string
	}{
		{"data/glue/sst2/train.tsv", 67349, 1, LabelClass, 2, "when are bears bears and "},
		{"data/glue/sst2/dev.tsv", 872, 1, LabelClass, 2, "it 's a charming and often affecting journey . "},
		{"data/glue/stsb/train.csv", 5749, 2, LabelScore, 0, "A plane is taking off."},
		{"data/glue/stsb/dev.csv", 1500, 2, LabelScore, 0, "A man with a hard hat is dancing."},
		{"data/glue/stsb/test.csv", 1379, 2, LabelScore, 0, "A girl is styling her hair."},
	}
	for _, tc := range tests {
		t.Run(filepath.Base(filepath.Dir(tc.rel))+"/"+filepath.Base(tc.rel), func(t *testing.T) {
			ds, err := ReadDataset(testutil.Shared(t, tc.rel), ReadOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if ds.Len() != tc.rows {
				t.Errorf("rows = %d, want %d", ds.Len(), tc.rows)
			}
			if ds.Labels != tc.labels || ds.NumClasses != tc.classes {
				t.Errorf("labels = %v with %d classes, want %v with %d", ds.Labels, ds.NumClasses, tc.labels, tc.classes)
			}
			r := ds.Records[0]
			if len(r.Text) != tc.texts || r.Text[0] != tc.firstText {
				t.Errorf("first record texts %q, want %d texts starting with %q", r.Text, tc.texts, tc.firstText)
			}
			for i := range ds.Records {
				r := &ds.Records[i]
				switch tc.labels {
				case LabelClass:
					if r.Label != 0 && r.Label != 1 {
						t.Fatalf("line %d: label %d", r.Line, r.Label)
					}
				case LabelScore:
					if r.Score < 0 || r.Score > 5 {
						t.Fatalf("line %d: score %v outside [0,5]", r.Line, r.Score)
					}
				}
			}
		})
	}
}

// TestReadMatchesGolden checks that the readers return exactly the texts (and labels)
// the golden files were generated from, trailing spaces and CSV quoting included.
func TestReadMatchesGolden(t *testing.T) {
	sst, err := ReadDataset(testutil.Shared(t, "data/glue/sst2/dev.tsv"), ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for i, g := range readGolden(t, "data/golden/tokenizer/sst2_dev.bert-base-uncased.jsonl") {
		if sst.Records[i].Text[0] != *g.Text {
			t.Fatalf("sst2 record %d: %q, golden %q", i+1, sst.Records[i].Text[0], *g.Text)
		}
	}
	sts, err := ReadDataset(testutil.Shared(t, "data/glue/stsb/dev.csv"), ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for i, g := range readGolden(t, "data/golden/tokenizer/stsb_dev.bert-base-uncased.jsonl") {
		if !slices.Equal(sts.Records[i].Text, []string{*g.TextA, *g.TextB}) {
			t.Fatalf("stsb record %d: %q, golden %q / %q", i+1, sts.Records[i].Text, *g.TextA, *g.TextB)
		}
	}

	// The golden JSONL itself: pre-tokenised by default, text when asked.
	path := testutil.Shared(t, "data/golden/tokenizer/sst2_dev.bert-base-uncased.jsonl")
	pre, err := ReadDataset(path, ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	txt, err := ReadDataset(path, ReadOptions{TextColumns: []string{"text"}})
	if err != nil {
		t.Fatal(err)
	}
	if pre.Len() != 872 || txt.Len() != 872 || !pre.Records[0].Pretokenized() || txt.Records[0].Pretokenized() {
		t.Fatalf("golden JSONL: %d pre-tokenised / %d text records", pre.Len(), txt.Len())
	}
	if !slices.Equal(pre.ClassLabels(), sst.ClassLabels()) {
		t.Error("labels of the golden JSONL differ from dev.tsv")
	}
	tok := loadShared(t, bertJSON)
	a, err := EncodeDataset(tok, txt, 0)
	if err != nil {
		t.Fatal(err)
	}
	b, err := EncodeDataset(nil, pre, 0)
	if err != nil {
		t.Fatal(err)
	}
	for i := range a {
		if !slices.Equal(a[i].IDs, b[i].IDs) || !slices.Equal(a[i].TypeIDs, b[i].TypeIDs) {
			t.Fatalf("record %d: text encodes to %v, file holds %v", i+1, a[i].IDs, b[i].IDs)
		}
	}
}

func writeTemp(t *testing.T, name, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestReadDatasetErrors(t *testing.T) {
	tests := []struct {
		name, file, body string
		opts             ReadOptions
		want             string // substring after "FILE"
	}{
		{"empty tsv", "e.tsv", "", ReadOptions{}, ": empty file"},
		{"blank lines tsv", "e.tsv", "\n\r\n\n", ReadOptions{}, ": empty file"},
		{"empty csv", "e.csv", "", ReadOptions{}, ": empty file"},
		{"empty jsonl", "e.jsonl", "\n  \n", ReadOptions{}, ": empty file"},
		{"header only tsv", "h.tsv", "sentence\tlabel\n", ReadOptions{}, ": no records after the header"},
		{"header only csv", "h.csv", "sentence1,sentence2,score\r\n", ReadOptions{Header: HeaderYes}, ": no records after the header"},
		{"missing column tsv", "m.tsv", "sentence\tlabel\nfine\t1\nno label here\n", ReadOptions{}, ":3: row has 1 fields, the header has 2"},
		{"extra column tsv", "m.tsv", "sentence\tlabel\nfine\t1\ntab\tinside\t0\n", ReadOptions{}, ":3: row has 3 fields, the header has 2"},
		{"missing column csv", "m.csv", "a,b,1.0\nc,d,2\ne,f\n", ReadOptions{}, ":3: row has 2 fields, the first row has 3"},
		{"bad int label", "b.tsv", "sentence\tlabel\nfine\t1\nbad\tpositive\n", ReadOptions{}, `:3: bad label "positive"`},
		{"empty label", "b.tsv", "sentence\tlabel\nfine\t1\nbad\t\n", ReadOptions{}, ":3: empty label"},
		{"negative label", "b.tsv", "sentence\tlabel\nfine\t1\nbad\t-1\n", ReadOptions{}, `:3: bad label "-1"`},
		{"float as class", "b.tsv", "sentence\tlabel\nfine\t1\nbad\t0.5\n", ReadOptions{Labels: LabelClass}, `:3: bad label "0.5": class labels must be integers`},
		{"bad score", "s.csv", "a,b,1.0\nc,d,high\n", ReadOptions{}, `:2: bad label "high"`},
		{"nan score", "s.csv", "a,b,1.0\nc,d,NaN\n", ReadOptions{Labels: LabelScore}, `:2: bad label "NaN"`},
		{"unknown label name", "n.tsv", "sentence\tlabel\nx\tpos\ny\tneutral\n", ReadOptions{LabelNames: []string{"neg", "pos"}}, `:3: bad label "neutral": not one of "neg", "pos"`},
		{"unterminated quote", "q.csv", "a,b,1.0\n\"never closed,b,2.0\nx,y,3\n", ReadOptions{}, `:2: malformed CSV record`},
		{"bare quote", "q.csv", "a,b,1.0\nsay \"hi\",b,2.0\n", ReadOptions{}, `:2: malformed CSV record (column 5): bare "`},
		{"invalid utf8", "u.tsv", "sentence\tlabel\n\xff\xfe\t1\n", ReadOptions{}, ":2: invalid UTF-8"},
		{"unknown column", "c.tsv", "sentence\tlabel\nx\t1\n", ReadOptions{TextColumns: []string{"text"}}, `: text column "text" not in the header ("sentence", "label")`},
		{"column out of range", "c.csv", "a,b,1\n", ReadOptions{TextColumns: []string{"5"}}, ": text column 5 out of range: the file has 3 columns"},
		{"name without header", "c.csv", "a,b,1\n", ReadOptions{TextColumns: []string{"sentence1"}}, `: text column "sentence1": the file has no header`},
		{"no known text column", "c.tsv", "foo\tbar\nx\t1\n", ReadOptions{}, ": no known text column in the header (\"foo\", \"bar\")"},
		{"text is label", "c.tsv", "sentence\tlabel\nx\t1\n", ReadOptions{TextColumns: []string{"label"}, LabelColumn: "label"}, "both a text and the label column"},
		{"three text columns", "c.tsv", "a\tb\tc\nx\ty\tz\n", ReadOptions{TextColumns: []string{"a", "b", "c"}}, "3 text columns given"},
		{"bad json", "j.jsonl", "{\"text\":\"a\",\"label\":1}\n{\"text\":\"b\",\n", ReadOptions{}, ":2: invalid JSON line"},
		{"json not object", "j.jsonl", "{\"text\":\"a\"}\n[1,2]\n", ReadOptions{}, ":2: invalid JSON line"},
		{"json missing field", "j.jsonl", "{\"text\":\"a\"}\n\n{\"sentence\":\"b\"}\n", ReadOptions{}, `:3: missing text field "text"`},
		{"json text not string", "j.jsonl", "{\"text\":3}\n", ReadOptions{}, `:1: field "text" is not a string`},
		{"json bad label", "j.jsonl", "{\"text\":\"a\",\"label\":1}\n{\"text\":\"b\",\"label\":\"x\"}\n", ReadOptions{}, `:2: bad label "x"`},
		{"json missing label", "j.jsonl", "{\"text\":\"a\",\"label\":1}\n{\"text\":\"b\"}\n", ReadOptions{}, `:2: missing label field "label"`},
		{"json bool label", "j.jsonl", "{\"text\":\"a\",\"label\":true}\n", ReadOptions{}, `:1: label field "label" must be a number or a string`},
		{"json index column", "j.jsonl", "{\"text\":\"a\"}\n", ReadOptions{TextColumns: []string{"0"}}, ":1: text column \"0\": select JSONL fields by name"},
		{"pretok mask length", "p.jsonl", "{\"input_ids\":[1,2,3],\"attention_mask\":[1,1]}\n", ReadOptions{}, ":1: attention_mask has 2 values, input_ids 3"},
		{"pretok bad ids", "p.jsonl", "{\"input_ids\":[1,2.5]}\n", ReadOptions{}, `:1: field "input_ids" must be an array of int32`},
		{"pretok empty", "p.jsonl", "{\"input_ids\":[]}\n", ReadOptions{}, ":1: missing or empty input_ids"},
		{"pretok negative", "p.jsonl", "{\"input_ids\":[101,-4,102]}\n", ReadOptions{}, `:1: field "input_ids" has negative value -4`},
		{"binary data", "b.tsv", "sentence\tlabel\nx\x00y\t1\n", ReadOptions{}, ":2: binary data"},
		{"huge line", "h.tsv", "sentence\tlabel\n" + strings.Repeat("x", 100) + "\t1\n", ReadOptions{MaxLineBytes: 64}, ":2: line longer than 64 bytes"},
	}
	// Every error about the file's content is a *DataError (errors.Is ErrBadData) whose line is
	// the one in the message; a bad option is not.
	notData := map[string]bool{"three text columns": true}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := writeTemp(t, tc.file, tc.body)
			_, err := ReadDataset(p, tc.opts)
			if err == nil {
				t.Fatalf("no error, want %q", tc.want)
			}
			if !strings.HasPrefix(err.Error(), p) && !strings.Contains(err.Error(), p) {
				t.Errorf("error %q does not name the file %s", err, p)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not contain %q", err, tc.want)
			}
			checkDataError(t, err, p, tc.want, !notData[tc.name])
		})
	}
}

// checkDataError checks that err is (or is not, when bad is false) a *DataError naming file at
// the line of want (":LINE: ..."; 0 when want has no line), matching ErrBadData.
func checkDataError(t *testing.T, err error, file, want string, bad bool) {
	t.Helper()
	var de *DataError
	if errors.As(err, &de) != bad || errors.Is(err, ErrBadData) != bad {
		t.Fatalf("error %q: errors.As(*DataError) = %v, errors.Is(ErrBadData) = %v, want %v", err, de != nil, errors.Is(err, ErrBadData), bad)
	}
	if !bad {
		return
	}
	line := 0
	if rest, ok := strings.CutPrefix(want, ":"); ok {
		if n, _, ok := strings.Cut(rest, ":"); ok {
			line, _ = strconv.Atoi(n)
		}
	}
	if de.File != file || de.Line != line || de.Err == nil {
		t.Errorf("DataError{File: %q, Line: %d, Err: %v}, want file %q, line %d", de.File, de.Line, de.Err, file, line)
	}
	if err.Error() != de.Error() {
		t.Errorf("the reader wrapped the DataError: %q", err)
	}
}

func TestReadDatasetUnknownExtension(t *testing.T) {
	p := writeTemp(t, "data.txt", "hello\n")
	if _, err := ReadDataset(p, ReadOptions{}); err == nil || !strings.Contains(err.Error(), "cannot tell the format") {
		t.Errorf("err = %v", err)
	}
	ds, err := ReadDataset(p, ReadOptions{Format: FormatCSV})
	if err != nil || ds.Len() != 1 || ds.Records[0].Text[0] != "hello" || ds.Labels != LabelNone {
		t.Errorf("override: %v %+v", err, ds)
	}
	if _, err := ReadDataset(filepath.Join(t.TempDir(), "missing.tsv"), ReadOptions{}); err == nil {
		t.Error("missing file: no error")
	}
}

func TestReadDatasetVariants(t *testing.T) {
	nan := math.NaN()
	tests := []struct {
		name, file, body string
		opts             ReadOptions
		texts            [][]string
		labels           []int
		scores           []float64
		kind             LabelKind
		labelNames       []string
		lines            []int
	}{
		{
			name: "glue single, crlf, bom, blank line", file: "a.tsv",
			body:  "\xEF\xBB\xBFsentence\tlabel\r\nit 's good . \t1\r\n\r\nbad \"quote\t0\r\n",
			texts: [][]string{{"it 's good . "}, {"bad \"quote"}}, labels: []int{1, 0}, kind: LabelClass, lines: []int{2, 4},
		},
		{
			name: "glue pair by convention (QNLI)", file: "q.tsv",
			body:  "index\tquestion\tsentence\tlabel\n0\twho?\tme.\tentailment\n1\twhy?\tno.\tnot_entailment\n",
			texts: [][]string{{"who?", "me."}, {"why?", "no."}}, labels: []int{0, 1}, kind: LabelClass,
			labelNames: []string{"entailment", "not_entailment"},
		},
		{
			name: "string labels with fixed names", file: "m.tsv",
			body:  "premise\thypothesis\tlabel\np\th\tneutral\np2\th2\tentailment\n",
			opts:  ReadOptions{LabelNames: []string{"entailment", "neutral", "contradiction"}},
			texts: [][]string{{"p", "h"}, {"p2", "h2"}}, labels: []int{1, 0}, kind: LabelClass,
			labelNames: []string{"entailment", "neutral", "contradiction"},
		},
		{
			name: "string labels get the model's class ids, case aside", file: "m.tsv",
			body:  "premise\thypothesis\tgold_label\np\th\tneutral\np2\th2\tentailment\np3\th3\tcontradiction\n",
			opts:  ReadOptions{ModelLabels: []string{"CONTRADICTION", "NEUTRAL", "ENTAILMENT"}},
			texts: [][]string{{"p", "h"}, {"p2", "h2"}, {"p3", "h3"}}, labels: []int{1, 2, 0}, kind: LabelClass,
			labelNames: []string{"CONTRADICTION", "NEUTRAL", "ENTAILMENT"},
		},
		{
			name: "model classes that do not cover the labels are ignored", file: "m.tsv",
			body:  "premise\thypothesis\tlabel\np\th\tneutral\np2\th2\tentailment\n",
			opts:  ReadOptions{ModelLabels: []string{"LABEL_0", "LABEL_1", "LABEL_2"}},
			texts: [][]string{{"p", "h"}, {"p2", "h2"}}, labels: []int{1, 0}, kind: LabelClass,
			labelNames: []string{"entailment", "neutral"},
		},
		{
			name: "explicit names win over the model's", file: "m.tsv",
			body:  "premise\thypothesis\tlabel\np\th\tneutral\np2\th2\tentailment\n",
			opts:  ReadOptions{LabelNames: []string{"entailment", "neutral"}, ModelLabels: []string{"neutral", "entailment"}},
			texts: [][]string{{"p", "h"}, {"p2", "h2"}}, labels: []int{1, 0}, kind: LabelClass,
			labelNames: []string{"entailment", "neutral"},
		},
		{
			name: "numeric labels ignore the model's names", file: "n.tsv",
			body:  "sentence\tlabel\nx\t1\ny\t0\n",
			opts:  ReadOptions{ModelLabels: []string{"POSITIVE", "NEGATIVE"}},
			texts: [][]string{{"x"}, {"y"}}, labels: []int{1, 0}, kind: LabelClass,
		},
		{
			name: "columns by index, no label", file: "c.tsv",
			body: "id\ta\tb\n7\tx\ty\n", opts: ReadOptions{TextColumns: []string{"2", "1"}},
			texts: [][]string{{"y", "x"}}, kind: LabelNone,
		},
		{
			name: "label column chosen, labels off", file: "c.tsv",
			body: "sentence\tlabel\nx\tnot-a-number\n", opts: ReadOptions{Labels: LabelNone},
			texts: [][]string{{"x"}}, kind: LabelNone,
		},
		{
			name: "stsb csv with quoting", file: "s.csv",
			body:  "A man.,\"A boy sits on a bed, sings.\",2.0\r\n\"Say \"\"hi\"\"\",\"multi\nline\",4.75\r\n",
			texts: [][]string{{"A man.", "A boy sits on a bed, sings."}, {"Say \"hi\"", "multi\nline"}}, scores: []float64{2, 4.75}, kind: LabelScore,
			lines: []int{1, 2},
		},
		{
			name: "csv integer scores forced to regression", file: "s.csv",
			body: "a,b,5\nc,d,3\n", opts: ReadOptions{Labels: LabelScore},
			texts: [][]string{{"a", "b"}, {"c", "d"}}, scores: []float64{5, 3}, kind: LabelScore,
		},
		{
			name: "csv with header and named columns", file: "h.csv",
			body: "id,text,label\n1,hello,0\n2,\"bye, now\",1\n", opts: ReadOptions{Header: HeaderYes},
			texts: [][]string{{"hello"}, {"bye, now"}}, labels: []int{0, 1}, kind: LabelClass,
		},
		{
			name: "csv two fields: text and label", file: "t.csv",
			body: "good,1\nbad,0\n", texts: [][]string{{"good"}, {"bad"}}, labels: []int{1, 0}, kind: LabelClass,
		},
		{
			name: "tsv without header", file: "n.tsv",
			body: "x\t0\ny\t2\n", opts: ReadOptions{Header: HeaderNo},
			texts: [][]string{{"x"}, {"y"}}, labels: []int{0, 2}, kind: LabelClass,
		},
		{
			name: "jsonl pairs with score", file: "p.jsonl",
			body:  "{\"sentence1\":\"a\",\"sentence2\":\"b\",\"score\":4.5}\n{\"sentence2\":\"d\",\"sentence1\":\"c\",\"score\":1}\n",
			texts: [][]string{{"a", "b"}, {"c", "d"}}, scores: []float64{4.5, 1}, kind: LabelScore,
		},
		{
			name: "jsonl string labels", file: "l.jsonl",
			body:  "{\"text\":\"a\",\"label\":\"pos\"}\n{\"text\":\"b\",\"label\":\"neg\"}\n",
			texts: [][]string{{"a"}, {"b"}}, labels: []int{1, 0}, kind: LabelClass, labelNames: []string{"neg", "pos"},
		},
		{
			name: "jsonl custom fields", file: "c.jsonl",
			body: "{\"q\":\"a\",\"doc\":\"b\",\"y\":1}\n", opts: ReadOptions{TextColumns: []string{"q", "doc"}, LabelColumn: "y"},
			texts: [][]string{{"a", "b"}}, labels: []int{1}, kind: LabelClass,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ds, err := ReadDataset(writeTemp(t, tc.file, tc.body), tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			if ds.Len() != len(tc.texts) {
				t.Fatalf("%d records, want %d", ds.Len(), len(tc.texts))
			}
			if ds.Labels != tc.kind {
				t.Errorf("label kind %v, want %v", ds.Labels, tc.kind)
			}
			if !slices.Equal(ds.LabelNames, tc.labelNames) {
				t.Errorf("label names %q, want %q", ds.LabelNames, tc.labelNames)
			}
			for i := range tc.texts {
				r := ds.Records[i]
				if !slices.Equal(r.Text, tc.texts[i]) {
					t.Errorf("record %d texts %q, want %q", i, r.Text, tc.texts[i])
				}
				wantLabel, wantScore := -1, nan
				if tc.labels != nil {
					wantLabel = tc.labels[i]
				}
				if tc.scores != nil {
					wantScore = tc.scores[i]
				}
				if r.Label != wantLabel || !(r.Score == wantScore || math.IsNaN(r.Score) && math.IsNaN(wantScore)) {
					t.Errorf("record %d label %d score %v, want %d %v", i, r.Label, r.Score, wantLabel, wantScore)
				}
				if tc.lines != nil && r.Line != tc.lines[i] {
					t.Errorf("record %d line %d, want %d", i, r.Line, tc.lines[i])
				}
			}
		})
	}
}

func TestEncodeRecord(t *testing.T) {
	tok := loadShared(t, bertJSON)
	pre := Record{InputIDs: []int32{101, 7592, 102}, AttentionMask: []int32{1, 1, 1}}
	if e, err := EncodeRecord(nil, &pre, 0); err != nil || !slices.Equal(e.IDs, pre.InputIDs) {
		t.Errorf("pre-tokenised: %v %v", e, err)
	}
	if _, err := EncodeRecord(nil, &pre, 2); err == nil {
		t.Error("pre-tokenised longer than max length: no error")
	}
	if _, err := EncodeRecord(nil, &Record{Text: []string{"x"}}, 0); err == nil {
		t.Error("text without tokenizer: no error")
	}
	if _, err := EncodeRecord(tok, &Record{Text: []string{"a", "b", "c"}}, 0); err == nil {
		t.Error("three texts: no error")
	}
	ds := &Dataset{Source: "f.tsv", Records: []Record{{Line: 2, Text: []string{"hello"}}, {Line: 3, Text: []string{"a", "b"}}}}
	encs, err := EncodeDataset(tok, ds, 0)
	if err != nil || len(encs) != 2 || !slices.Equal(encs[0].IDs, []int32{101, 7592, 102}) {
		t.Errorf("EncodeDataset: %v %v", encs, err)
	}
	if _, err := EncodeDataset(tok, ds, 1); err == nil || !strings.HasPrefix(err.Error(), "f.tsv:2: ") {
		t.Errorf("EncodeDataset error %v does not name file and line", err)
	}
}
