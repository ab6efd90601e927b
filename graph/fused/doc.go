// Package fused turns graphs optimised by onnxruntime (the com.microsoft contrib operators that
// `optimum-cli export onnx --optimize O2`, onnxruntime's transformers optimizer or a session's
// saved optimised model contain) back into standard ONNX, so that package graph can discover and
// prune their encoder structure.
//
// Unfuse replaces every supported com.microsoft node by an equivalent subgraph of default-domain
// ops shaped like a plain torch.onnx export of the same model (separate query/key/value
// MatMul+Add, Reshape and Transpose to heads, Div by sqrt(head_dim), an additive mask, Softmax;
// Add then LayerNormalization; the erf or tanh GELU formulas), keeping the fused node's output
// names so the rest of the graph is untouched. One rule per op type sits in a registry (see
// Supported); onnxruntime's own default-domain schemas that standard ONNX lacks
// (LayerNormalization below opset 17, SimplifiedLayerNormalization) are replaced too.
//
// A session created with graph optimisations on fuses the unfused graph as much as it fuses a plain
// export of the same model (on CPU with onnxruntime 1.30: the GELU after its bias Add becomes
// BiasGelu, the scaled Q·K^T a FusedMatMul). Attention and SkipLayerNormalization are not among the
// session's CPU fusions for either: to get them back after pruning, run onnxruntime's offline
// transformers optimizer (or `optimum-cli onnxruntime optimize`) on the pruned model again.
//
// It is for float32 encoder graphs (BERT and its relatives). It is not an optimiser, a general
// contrib-op converter, nor a way to run com.microsoft ops without onnxruntime: quantized,
// decoder (past/present, causal, rotary) and float16 forms are refused with ErrUnsupportedFused
// rather than approximated.
//
// Like package graph, Unfuse never modifies its input model; the result shares by pointer the
// nodes, initializers and value infos it did not change.
package fused
