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

// The exporter spellings of the shared export fixtures, as presets to loop over.
func ExamplePreset() {
	for _, name := range []string{"sdpa", "dynamo", "sentence-pooled"} {
		cfg, err := testmodel.Preset(name)
		if err != nil {
			fmt.Println(err)
			return
		}
		cfg.Seed = 1
		m, err := testmodel.Build(cfg)
		if err != nil {
			fmt.Println(err)
			return
		}
		ops := map[string]int{}
		for _, n := range m.GetGraph().GetNode() {
			ops[n.GetOpType()]++
		}
		fmt.Printf("%s: opset %d, IsNaN %d, Gelu %d, Constant %d, outputs %v\n",
			name, onnx.Opset(m), ops["IsNaN"], ops["Gelu"], ops["Constant"], testmodel.OutputNames(cfg))
	}
	// Output:
	// sdpa: opset 14, IsNaN 2, Gelu 0, Constant 72, outputs [logits]
	// dynamo: opset 20, IsNaN 2, Gelu 2, Constant 0, outputs [logits]
	// sentence-pooled: opset 14, IsNaN 0, Gelu 0, Constant 70, outputs [token_embeddings sentence_embedding]
}
