package inspect_test

import (
	"fmt"
	"log"

	"github.com/kprune/kprune/demo"
	"github.com/kprune/kprune/inspect"
)

// Describing the demo model: its inputs, size and encoder, with the FLOPs of each sublayer.
func ExampleDescribe() {
	m, err := demo.LoadModel()
	if err != nil {
		log.Fatal(err)
	}
	r := inspect.Describe("model.onnx", m)
	for _, in := range r.Inputs {
		fmt.Println("input", in.Name, in.Type, in.Shape)
	}
	e, err := inspect.DescribeEncoder(m, 128)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%d layers, %s head, %d labels\n", len(e.Layers), e.HeadKind, e.NumLabels)
	fmt.Printf("layer 0: %d heads (%d FLOPs), %d neurons (%d FLOPs)\n", e.Layers[0].Heads, e.Layers[0].AttentionFLOPs, e.Layers[0].FFN, e.Layers[0].FFNFLOPs)
	// Output:
	// input input_ids INT64 [batch,seq]
	// input attention_mask INT64 [batch,seq]
	// input token_type_ids INT64 [batch,seq]
	// 2 layers, classification head, 2 labels
	// layer 0: 2 heads (25165824 FLOPs), 512 neurons (33554432 FLOPs)
}
