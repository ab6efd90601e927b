package data

import (
	"math"
	"reflect"
	"strings"
	"testing"
)

func TestSplitPairs(t *testing.T) {
	tests := []struct {
		name, file, body string
		want             [][]string
		wantLines        []int
	}{
		{"pairs", "p.tsv", "sentence1\tsentence2\tscore\na b\tc d\t4.5\ne\tf\t1\n", [][]string{{"a b"}, {"c d"}, {"e"}, {"f"}}, []int{2, 2, 3, 3}},
		{"singles", "s.tsv", "sentence\tlabel\nx y\t1\nz\t0\n", [][]string{{"x y"}, {"z"}}, []int{2, 3}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d, err := ReadDatasetFrom(strings.NewReader(tc.body), tc.file, ReadOptions{})
			if err != nil {
				t.Fatal(err)
			}
			before := len(d.Records)
			s := d.SplitPairs()
			var got [][]string
			var lines []int
			for _, r := range s.Records {
				got = append(got, r.Text)
				lines = append(lines, r.Line)
				if r.Label != -1 || !math.IsNaN(r.Score) {
					t.Errorf("line %d: label %d score %v, want none", r.Line, r.Label, r.Score)
				}
			}
			if !reflect.DeepEqual(got, tc.want) || !reflect.DeepEqual(lines, tc.wantLines) {
				t.Fatalf("texts %q lines %v, want %q %v", got, lines, tc.want, tc.wantLines)
			}
			if s.Labels != LabelNone || len(d.Records) != before || d.Labels == LabelNone {
				t.Fatalf("labels %v / input changed: %d records, labels %v", s.Labels, len(d.Records), d.Labels)
			}
		})
	}
}
