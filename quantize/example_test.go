package quantize_test

import (
	"fmt"

	"github.com/kprune/kprune/graph"
	"github.com/kprune/kprune/internal/testmodel"
	"github.com/kprune/kprune/quantize"
)

// Dynamic quantization of a two-layer classifier: the twelve projections of the encoder and the
// pooler become int8; the embeddings and the classifier stay float.
func ExampleDynamic() {
	m, err := testmodel.Build(testmodel.Config{Layers: 2, Seed: 1})
	if err != nil {
		fmt.Println(err)
		return
	}
	q, rep, err := quantize.Dynamic(m, quantize.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%s: %d projections to %s (range %v), activations %s\n", rep.Mode, len(rep.Quantized), rep.WeightType, rep.WeightRange, rep.ActivationType)
	for _, k := range rep.KeptFloat {
		fmt.Printf("float: %s (%s)\n", k.Op, k.Reason)
	}
	fmt.Println("quantized:", quantize.IsQuantized(q))

	// The float view of the quantized model has the same encoder.
	view, err := quantize.Dequantize(q)
	if err != nil {
		fmt.Println(err)
		return
	}
	enc, err := graph.Discover(view)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("encoder:", len(enc.Layers), "layers,", enc.Head, "head")
	// Output:
	// dynamic: 13 projections to int8 (range [-127 127]), activations uint8
	// float: Gather (embedding table (kept in float unless asked))
	// float: Gather (embedding table (kept in float unless asked))
	// float: Gather (embedding table (kept in float unless asked))
	// float: Gemm (the head's final projection (kept in float unless asked))
	// quantized: true
	// encoder: 2 layers, classification head
}
