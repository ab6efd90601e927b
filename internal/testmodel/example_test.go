package testmodel_test

import (
	"fmt"

	"github.com/kprune/kprune/graph"
	"github.com/kprune/kprune/internal/testmodel"
	"github.com/kprune/kprune/onnx"
)

// A two-layer span-extraction model whose second layer was pruned to one head and 5 neurons.
func ExampleBuild() {
	m, err := testmodel.Build(testmodel.Config{
		Layers: 2, Hidden: 16, HeadDim: 8, HeadsPerLayer: []int{2, 1}, FFNPerLayer: []int{32, 5},
		Head: graph.HeadSpan, Opset: 17, Seed: 1,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, v := range m.GetGraph().GetInput() {
		_, shape, _ := onnx.ValueInfoShape(v)
		fmt.Println("input", v.GetName(), onnx.FormatShape(shape))
	}
	for _, v := range m.GetGraph().GetOutput() {
		_, shape, _ := onnx.ValueInfoShape(v)
		fmt.Println("output", v.GetName(), onnx.FormatShape(shape))
	}
	// Output:
	// input input_ids [batch,seq]
	// input attention_mask [batch,seq]
	// input token_type_ids [batch,seq]
	// output start_logits [batch,seq]
	// output end_logits [batch,seq]
}
