package prune

import (
	"testing"

	"github.com/kprune/kprune/graph"
	"github.com/kprune/kprune/internal/testmodel"
)

func TestMicroBatchRows(t *testing.T) {
	encoder := func(cfg testmodel.Config) *graph.Encoder {
		m, err := testmodel.Build(cfg)
		if err != nil {
			t.Fatal(err)
		}
		enc, err := graph.Discover(m)
		if err != nil {
			t.Fatal(err)
		}
		return enc
	}
	base := encoder(testmodel.Config{Layers: 12, Heads: 12, HeadDim: 64, FFN: 3072, Vocab: 10, MaxPos: 512})
	small := encoder(testmodel.Config{Layers: 2, Heads: 2, HeadDim: 16, FFN: 64})
	// BERT-base, 128 tokens: 12 x (10*768 + 2*12*128 + 6*3072 + 4*768) floats x 4 bytes x 128.
	if got, want := scoringRowBytes(base, 0, 128), int64(12*(10*768+2*12*128+6*3072+4*768)*4*128); got != want {
		t.Fatalf("scoringRowBytes = %d, want %d", got, want)
	}
	if a, b := scoringRowBytes(base, 0, 128), scoringRowBytes(base, 12, 128); b*2 != a {
		t.Fatalf("half the sublayers should need half the memory: %d vs %d", a, b)
	}
	cases := []struct {
		name               string
		opts               Options
		enc                *graph.Encoder
		s, size, seq, want int
	}{
		{"default, BERT-base, long", Options{}, base, 0, 32, 128, 5},
		{"default, BERT-base, short", Options{}, base, 0, 32, 16, 32},
		{"default, small model", Options{}, small, 0, 32, 128, 32},
		{"explicit micro-batch", Options{Runtime: Runtime{MicroBatch: 4, LowMemory: true}}, base, 0, 32, 128, 4},
		{"explicit above batch size", Options{Runtime: Runtime{MicroBatch: 64}}, base, 0, 32, 128, 32},
		{"low memory, BERT-base, long", Options{Runtime: Runtime{LowMemory: true}}, base, 0, 32, 128, 1},
		{"low memory, BERT-base, short", Options{Runtime: Runtime{LowMemory: true}}, base, 0, 32, 16, 5},
		{"low memory, last sublayer, short", Options{Runtime: Runtime{LowMemory: true}}, base, 23, 32, 16, 32},
		{"low memory, small model", Options{Runtime: Runtime{LowMemory: true}}, small, 0, 32, 64, 32},
	}
	for _, c := range cases {
		if got := microBatchRows(&c.opts, c.enc, c.s, c.size, c.seq); got != c.want {
			t.Errorf("%s: %d rows, want %d", c.name, got, c.want)
		}
	}
}
