package testmodel

import (
	"testing"

	"github.com/kprune/kprune/onnx"
)

// bertBase is a BERT-base sized configuration: 12 layers, hidden 768, 12 heads, FFN 3072, the
// bert-base-uncased vocabulary and positions (~110M parameters, ~440 MB of float32 weights).
var bertBase = Config{Layers: 12, Heads: 12, HeadDim: 64, FFN: 3072, Vocab: 30522, MaxPos: 512, Seed: 1}

// BenchmarkBuildBERTBase measures Build on a BERT-base sized model.
func BenchmarkBuildBERTBase(b *testing.B) {
	var bytes int64
	for b.Loop() {
		m, err := Build(bertBase)
		if err != nil {
			b.Fatal(err)
		}
		bytes = 0
		for _, t := range m.GetGraph().GetInitializer() {
			bytes += int64(len(t.GetRawData()))
		}
	}
	b.ReportMetric(float64(bytes)/1e6, "MB")
}

// BenchmarkEncodeBERTBase measures onnx.Encode of a BERT-base sized model.
func BenchmarkEncodeBERTBase(b *testing.B) {
	m, err := Build(bertBase)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := onnx.Encode(m); err != nil {
			b.Fatal(err)
		}
	}
}
