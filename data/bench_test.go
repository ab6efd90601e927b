package data

import (
	"testing"

	"github.com/kprune/kprune/internal/testutil"
)

// BenchmarkTokenizeSST2Train measures tokenization throughput (MB/s of sentence text)
// over the 67,349 sentences of SST-2 train with the bert-base-uncased tokenizer.json,
// on one goroutine. For reference, the Hugging Face Rust tokenizer does about 0.45 MB/s
// on this machine class.
func BenchmarkTokenizeSST2Train(b *testing.B) {
	tok := loadShared(b, bertJSON)
	ds, err := ReadDataset(testutil.Shared(b, "data/glue/sst2/train.tsv"), ReadOptions{})
	if err != nil {
		b.Fatal(err)
	}
	texts := make([]string, len(ds.Records))
	size := 0
	for i := range ds.Records {
		texts[i] = ds.Records[i].Text[0]
		size += len(texts[i])
	}
	b.SetBytes(int64(size))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		for _, s := range texts {
			if _, err := tok.Encode(s, 0); err != nil {
				b.Fatal(err)
			}
		}
	}
}
