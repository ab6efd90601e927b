package data

import "math"

// SplitPairs returns d with every sentence pair split into two single-text records, in order
// (the first text, then the second, both with the pair's Line), and single-text and
// pre-tokenised records kept as they are. Labels and scores belong to pairs, so the result has
// none (Labels LabelNone, Label -1, Score NaN).
//
// It is how a sentence-embedding model sees a pair dataset such as STS-B: each sentence is
// embedded on its own, so calibrating such a model on the pairs joined into one sequence would
// show it inputs it never gets. d is not modified; the result shares no records with it.
func (d *Dataset) SplitPairs() *Dataset {
	out := *d
	out.Labels, out.LabelColumn, out.LabelNames, out.NumClasses = LabelNone, "", nil, 0
	out.Records = make([]Record, 0, len(d.Records))
	single := func(r Record, text []string) Record {
		r.Text, r.Label, r.Score = text, -1, math.NaN()
		return r
	}
	for _, r := range d.Records {
		if len(r.Text) == 2 {
			out.Records = append(out.Records, single(r, r.Text[:1:1]), single(r, r.Text[1:2:2]))
			continue
		}
		out.Records = append(out.Records, single(r, r.Text))
	}
	return &out
}
