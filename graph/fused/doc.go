// Package fused turns graphs optimised by onnxruntime (the com.microsoft contrib operators that
// `optimum-cli export onnx --optimize O2`, onnxruntime's transformers optimizer or a session's
// saved optimised model contain) back into standard ONNX, so that package graph can discover and
// prune their encoder structure.
//
// Unfuse replaces every supported com.microsoft node by an equivalent subgraph of default-domain
// ops shaped like a plain torch.onnx export of the same model (separate query/key/value
// MatMul+Add, Reshape and Transpose to heads, Div by sqrt(head_dim), an additive mask, Softmax;
// Add then LayerNormalization; the erf or tanh GELU formulas), keeping the fused node's output
// names so the rest of the graph is untouched. onnxruntime fuses such a graph again when a session
// is created with graph optimisations on, so pruning the unfused form costs no speed at inference.
// One rule per op type sits in a registry (see Supported).
//
// It is for float32 encoder graphs (BERT and its relatives). It is not an optimiser, a general
// contrib-op converter, nor a way to run com.microsoft ops without onnxruntime: quantized,
// decoder (past/present, causal, rotary) and float16 forms are refused with ErrUnsupportedFused
// rather than approximated.
//
// Like package graph, Unfuse never modifies its input model; the result shares by pointer the
// nodes, initializers and value infos it did not change.
package fused
