package data

import (
	"testing"

	"github.com/kprune/kprune/internal/testutil"
)

// BenchmarkTokenizeSST2Train measures tokenization throughput (MB/s of sentence text)
// over the 67,349 sentences of SST-2 train with the bert-base-uncased tokenizer.json,
// on one goroutine (one op is the whole set). For reference, the Hugging Face Rust tokenizer does about 0.45 MB/s
// on this machine class.
func BenchmarkTokenizeSST2Train(b *testing.B) {
	benchmarkSST2Train(b, bertJSON)
}

// BenchmarkTokenizeSST2TrainBPE is BenchmarkTokenizeSST2Train with the roberta-base
// byte-level BPE tokenizer.json.
func BenchmarkTokenizeSST2TrainBPE(b *testing.B) {
	benchmarkSST2Train(b, robertaJSON)
}

// BenchmarkTokenizeSST2TrainUnigram is BenchmarkTokenizeSST2Train with the t5-small
// Unigram tokenizer.json (Precompiled normalizer, Metaspace).
func BenchmarkTokenizeSST2TrainUnigram(b *testing.B) {
	benchmarkSST2Train(b, t5JSON)
}

// BenchmarkTokenizeSST2TrainUnigramXLMR uses the XLM-R-style Unigram tokenizer.json
// (Precompiled, Strip and Replace normalizers).
func BenchmarkTokenizeSST2TrainUnigramXLMR(b *testing.B) {
	benchmarkSST2Train(b, xlmrJSON)
}

func benchmarkSST2Train(b *testing.B, tokenizer string) {
	tok := loadShared(b, tokenizer)
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

// BenchmarkLoadTokenizerJSON measures loading each tokenizer.json.
func BenchmarkLoadTokenizerJSON(b *testing.B) {
	for _, rel := range []string{bertJSON, robertaJSON, t5JSON, xlmrJSON} {
		path := testutil.Shared(b, rel)
		b.Run(rel[len("data/tokenizers/"):], func(b *testing.B) {
			for b.Loop() {
				if _, err := LoadTokenizerJSON(path); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
