package data

import (
	"path/filepath"
	"slices"
	"testing"
)

// TestGLUELayouts: the original GLUE TSV files load without --columns: the text columns and the
// label column are found from the header (MRPC's with its UTF-8 BOM), string labels get class ids
// in sorted order, and CoLA's header-less file loads with the header off and explicit columns.
func TestGLUELayouts(t *testing.T) {
	cases := []struct {
		file   string
		opts   ReadOptions
		texts  []string
		label  string
		kind   LabelKind
		names  []string
		first  []string
		labels []int
		scores []float64
	}{
		{file: "mrpc.tsv", texts: []string{"#1 String", "#2 String"}, label: "Quality", kind: LabelClass, labels: []int{1, 0, 1},
			first: []string{`Amrozi accused his brother , whom he called " the witness " , of deliberately distorting his evidence .`, `Referring to him as only " the witness " , Amrozi accused his brother of deliberately distorting his evidence .`}},
		{file: "qqp.tsv", texts: []string{"question1", "question2"}, label: "is_duplicate", kind: LabelClass, labels: []int{0, 1, 0}},
		{file: "mnli.tsv", texts: []string{"sentence1", "sentence2"}, label: "gold_label", kind: LabelClass,
			names: []string{"contradiction", "entailment", "neutral"}, labels: []int{2, 1, 0}},
		{file: "qnli.tsv", texts: []string{"question", "sentence"}, label: "label", kind: LabelClass,
			names: []string{"entailment", "not_entailment"}, labels: []int{0, 1, 1}},
		{file: "rte.tsv", texts: []string{"sentence1", "sentence2"}, label: "label", kind: LabelClass,
			names: []string{"entailment", "not_entailment"}, labels: []int{1, 0, 0}},
		{file: "wnli.tsv", texts: []string{"sentence1", "sentence2"}, label: "label", kind: LabelClass, labels: []int{1, 1, 0}},
		{file: "stsb.tsv", texts: []string{"sentence1", "sentence2"}, label: "score", kind: LabelScore, scores: []float64{5, 3.8, 3.8},
			opts: ReadOptions{Labels: LabelScore}},
		{file: "cola.tsv", texts: []string{"#3"}, label: "#1", kind: LabelClass, labels: []int{1, 1, 0},
			opts:  ReadOptions{Header: HeaderNo, TextColumns: []string{"3"}, LabelColumn: "1"},
			first: []string{"Our friends won't buy this analysis, let alone the next one we propose."}},
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			ds, err := ReadDataset(filepath.Join("testdata", "glue", c.file), c.opts)
			if err != nil {
				t.Fatal(err)
			}
			if ds.Len() != 3 || !slices.Equal(ds.TextColumns, c.texts) || ds.LabelColumn != c.label || ds.Labels != c.kind {
				t.Fatalf("%d records, text columns %q, label %q (%v); want 3, %q, %q (%v)", ds.Len(), ds.TextColumns, ds.LabelColumn, ds.Labels, c.texts, c.label, c.kind)
			}
			if c.names != nil && !slices.Equal(ds.LabelNames, c.names) {
				t.Errorf("label names %q, want %q", ds.LabelNames, c.names)
			}
			if c.labels != nil && !slices.Equal(ds.ClassLabels(), c.labels) {
				t.Errorf("labels %v, want %v", ds.ClassLabels(), c.labels)
			}
			if c.scores != nil && !slices.Equal(ds.Scores(), c.scores) {
				t.Errorf("scores %v, want %v", ds.Scores(), c.scores)
			}
			if c.first != nil && !slices.Equal(ds.Records[0].Text, c.first) {
				t.Errorf("first record %q, want %q", ds.Records[0].Text, c.first)
			}
		})
	}
}
