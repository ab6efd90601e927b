package data

import (
	"slices"
	"strings"
	"testing"

	"github.com/kprune/kprune/internal/testutil"
)

// lenEncodings returns encodings of the given lengths (ids 1..n, no mask).
func lenEncodings(lengths ...int) []Encoding {
	out := make([]Encoding, len(lengths))
	for i, n := range lengths {
		ids := make([]int32, n)
		types := make([]int32, n)
		for j := range ids {
			ids[j] = int32(10*i + j + 1)
			if j >= n/2 {
				types[j] = 1
			}
		}
		out[i] = Encoding{IDs: ids, TypeIDs: types}
	}
	return out
}

func TestSampleIndices(t *testing.T) {
	encs := lenEncodings(3, 5, 2, 7, 4, 6, 3, 8, 2, 5)
	tests := []struct {
		name string
		opts SampleOptions
		want []int // exact draw for regression; nil to skip
		err  string
	}{
		{"n without replacement", SampleOptions{N: 5, Seed: 1}, []int{6, 0, 1, 8, 7}, ""},
		{"n with replacement", SampleOptions{N: 12, Seed: 1, Replacement: true}, []int{6, 5, 5, 7, 6, 8, 0, 1, 7, 9, 8, 2}, ""},
		{"all without replacement", SampleOptions{N: 10, Seed: 42}, nil, ""},
		{"token budget", SampleOptions{TokenBudget: 20, Seed: 7}, nil, ""},
		{"token budget with replacement", SampleOptions{TokenBudget: 200, Seed: 7, Replacement: true}, nil, ""},
		{"too many", SampleOptions{N: 11, Seed: 1}, nil, "only 10 available"},
		{"budget too big", SampleOptions{TokenBudget: 46, Seed: 1}, nil, "exceeds the 45 tokens"},
		{"neither", SampleOptions{Seed: 1}, nil, "exactly one"},
		{"both", SampleOptions{N: 2, TokenBudget: 10}, nil, "exactly one"},
		{"negative", SampleOptions{N: -1}, nil, "negative"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := SampleIndices(encs, tc.opts)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			again, _ := SampleIndices(encs, tc.opts)
			if !slices.Equal(got, again) {
				t.Fatalf("not deterministic: %v then %v", got, again)
			}
			if tc.want != nil && !slices.Equal(got, tc.want) {
				t.Errorf("draw %v, want %v (the sampling sequence changed)", got, tc.want)
			}
			if tc.opts.N > 0 && len(got) != tc.opts.N {
				t.Errorf("%d indices, want %d", len(got), tc.opts.N)
			}
			if !tc.opts.Replacement {
				seen := map[int]bool{}
				for _, i := range got {
					if seen[i] {
						t.Fatalf("index %d drawn twice without replacement: %v", i, got)
					}
					seen[i] = true
				}
			}
			if b := tc.opts.TokenBudget; b > 0 {
				sum := 0
				for _, i := range got {
					sum += encs[i].Len()
				}
				last := encs[got[len(got)-1]].Len()
				if sum < b || sum-last >= b {
					t.Errorf("drew %d tokens (last %d) for budget %d", sum, last, b)
				}
			}
		})
	}
	a, _ := SampleIndices(encs, SampleOptions{N: 10, Seed: 1})
	b, _ := SampleIndices(encs, SampleOptions{N: 10, Seed: 2})
	if slices.Equal(a, b) {
		t.Error("seeds 1 and 2 give the same permutation")
	}
	if _, err := SampleIndices(nil, SampleOptions{N: 1}); err == nil {
		t.Error("empty input: no error")
	}
	if _, err := SampleIndices([]Encoding{{IDs: []int32{1}, AttentionMask: []int32{0}}}, SampleOptions{TokenBudget: 1, Replacement: true}); err == nil {
		t.Error("no real tokens: no error")
	}
}

func TestBoundedUniform(t *testing.T) {
	// Each of 6 values should appear about 10000 times in 60000 draws.
	encs := lenEncodings(1, 1, 1, 1, 1, 1)
	idx, err := SampleIndices(encs, SampleOptions{N: 60000, Replacement: true, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	counts := make([]int, 6)
	for _, i := range idx {
		counts[i]++
	}
	for i, c := range counts {
		if c < 9500 || c > 10500 {
			t.Errorf("value %d drawn %d times of 60000", i, c)
		}
	}
}

func TestMakeBatches(t *testing.T) {
	encs := lenEncodings(3, 5, 2)
	encs = append(encs, Encoding{IDs: []int32{7, 8, 9, 0}, AttentionMask: []int32{1, 1, 1, 0}}) // pre-padded, no type ids
	tests := []struct {
		name      string
		order     []int
		size      int
		pad       Padding
		shapes    [][2]int
		firstIDs  []int64
		firstMask []int64
		firstType []int64
	}{
		{"dynamic padding", nil, 2, Padding{ID: 99}, [][2]int{{2, 5}, {2, 4}},
			[]int64{1, 2, 3, 99, 99, 11, 12, 13, 14, 15}, []int64{1, 1, 1, 0, 0, 1, 1, 1, 1, 1}, []int64{0, 1, 1, 0, 0, 0, 0, 1, 1, 1}},
		{"multiple of 8", []int{2, 3}, 4, Padding{ID: 0, MultipleOf: 8}, [][2]int{{2, 8}},
			[]int64{21, 22, 0, 0, 0, 0, 0, 0, 7, 8, 9, 0, 0, 0, 0, 0}, []int64{1, 1, 0, 0, 0, 0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 0}, nil},
		{"order kept, ragged last batch", []int{1, 0, 2}, 2, Padding{}, [][2]int{{2, 5}, {1, 2}}, nil, nil, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			bs, err := MakeBatches(encs, tc.order, tc.size, tc.pad)
			if err != nil {
				t.Fatal(err)
			}
			if len(bs) != len(tc.shapes) {
				t.Fatalf("%d batches, want %d", len(bs), len(tc.shapes))
			}
			var rows []int
			for i, b := range bs {
				if b.Size != tc.shapes[i][0] || b.SeqLen != tc.shapes[i][1] || !slices.Equal(b.Shape(), []int64{int64(b.Size), int64(b.SeqLen)}) {
					t.Errorf("batch %d shape %dx%d, want %v", i, b.Size, b.SeqLen, tc.shapes[i])
				}
				if n := b.Size * b.SeqLen; len(b.InputIDs) != n || len(b.AttentionMask) != n || len(b.TokenTypeIDs) != n {
					t.Errorf("batch %d tensor sizes %d %d %d, want %d", i, len(b.InputIDs), len(b.AttentionMask), len(b.TokenTypeIDs), n)
				}
				rows = append(rows, b.Index...)
			}
			wantRows := tc.order
			if wantRows == nil {
				wantRows = []int{0, 1, 2, 3}
			}
			if !slices.Equal(rows, wantRows) {
				t.Errorf("rows %v, want %v", rows, wantRows)
			}
			if tc.firstIDs != nil && !slices.Equal(bs[0].InputIDs, tc.firstIDs) {
				t.Errorf("ids %v, want %v", bs[0].InputIDs, tc.firstIDs)
			}
			if tc.firstMask != nil && !slices.Equal(bs[0].AttentionMask, tc.firstMask) {
				t.Errorf("mask %v, want %v", bs[0].AttentionMask, tc.firstMask)
			}
			if tc.firstType != nil && !slices.Equal(bs[0].TokenTypeIDs, tc.firstType) {
				t.Errorf("types %v, want %v", bs[0].TokenTypeIDs, tc.firstType)
			}
		})
	}
	for _, c := range []struct {
		name  string
		encs  []Encoding
		order []int
		size  int
	}{
		{"zero batch size", encs, nil, 0},
		{"no sequences", nil, nil, 2},
		{"bad index", encs, []int{9}, 2},
		{"ragged encoding", []Encoding{{IDs: []int32{1, 2}, TypeIDs: []int32{0}}}, nil, 1},
	} {
		if _, err := MakeBatches(c.encs, c.order, c.size, Padding{}); err == nil {
			t.Errorf("%s: no error", c.name)
		}
	}
}

func TestComputeStats(t *testing.T) {
	encs := lenEncodings(3, 5, 2)
	encs = append(encs, Encoding{IDs: []int32{7, 8, 9, 0}, AttentionMask: []int32{1, 1, 1, 0}})
	bs, err := MakeBatches(encs, nil, 2, Padding{})
	if err != nil {
		t.Fatal(err)
	}
	got := ComputeStats(bs)
	want := Stats{Batches: 2, Sequences: 4, Tokens: 13, PaddedTokens: 2*5 + 2*4, AvgLen: 13.0 / 4, MaxLen: 5, Distinct: 4}
	if got != want {
		t.Errorf("stats %+v, want %+v", got, want)
	}
	if s := got.String(); !strings.Contains(s, "4 sequences in 2 batches, 13 tokens (avg 3.2, max 5), 27.8% padding") {
		t.Errorf("String() = %q", s)
	}
	// Repeated draws count once, whatever their padding (sequence 2 is padded to 5 and to 2).
	rep, err := MakeBatches(encs, []int{0, 2, 2, 2, 1, 0}, 2, Padding{})
	if err != nil {
		t.Fatal(err)
	}
	if d := ComputeStats(rep).Distinct; d != 3 {
		t.Errorf("distinct sequences of 6 draws of 3: %d", d)
	}
	if (ComputeStats(nil) != Stats{}) {
		t.Error("stats of nothing are not zero")
	}
}

func TestBuildCalibrationSST2(t *testing.T) {
	tok := loadShared(t, bertJSON)
	ds, err := ReadDataset(testutil.Shared(t, "data/glue/sst2/dev.tsv"), ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	encs, err := EncodeDataset(tok, ds, 128)
	if err != nil {
		t.Fatal(err)
	}
	opts := CalibOptions{SampleOptions: SampleOptions{N: 100, Seed: 5}, BatchSize: 32, Padding: tok.Padding()}
	c1, err := BuildCalibration(encs, opts)
	if err != nil {
		t.Fatal(err)
	}
	c2, _ := BuildCalibration(encs, opts)
	if !slices.Equal(c1.Indices, c2.Indices) || len(c1.Batches) != 4 || c1.Batches[3].Size != 4 {
		t.Fatalf("calibration not deterministic or mis-batched: %d batches", len(c1.Batches))
	}
	for bi, b := range c1.Batches {
		if !slices.Equal(b.InputIDs, c2.Batches[bi].InputIDs) {
			t.Fatalf("batch %d differs between runs", bi)
		}
	}
	tokens := 0
	for _, i := range c1.Indices {
		tokens += encs[i].Len()
	}
	if c1.Stats.Sequences != 100 || c1.Stats.Tokens != tokens || c1.Stats.AvgLen <= 2 {
		t.Errorf("stats %+v, want 100 sequences and %d tokens", c1.Stats, tokens)
	}
	if _, err := BuildCalibration(encs, CalibOptions{SampleOptions: SampleOptions{N: 10}, BatchSize: 0}); err == nil {
		t.Error("batch size 0: no error")
	}
	budget, err := BuildCalibration(encs, CalibOptions{SampleOptions: SampleOptions{TokenBudget: 4096, Seed: 5}, BatchSize: 16, Padding: tok.Padding()})
	if err != nil {
		t.Fatal(err)
	}
	if budget.Stats.Tokens < 4096 || budget.Stats.Tokens-encs[budget.Indices[len(budget.Indices)-1]].Len() >= 4096 {
		t.Errorf("token budget 4096 drew %d tokens", budget.Stats.Tokens)
	}
}
