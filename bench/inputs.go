package bench

import (
	"fmt"
	"math/rand/v2"
	"strings"

	"github.com/kprune/kprune/graph"
	"github.com/kprune/kprune/onnx"
	ort "github.com/kprune/kprune/runtime"
)

// vocabRows is the vocabulary size of a model: the word-embedding rows of std (the standard form
// of raw) for the discovered encoder enc, else, without one, the rows of the 2-D initializer
// that raw gathers by a graph input (preferring an input named like input_ids, else the largest
// table). 0 when there is none.
func vocabRows(std *onnx.ModelProto, enc *graph.Encoder, raw *onnx.ModelProto) int {
	if enc != nil {
		if v := enc.VocabRows(std); v > 0 {
			return v
		}
	}
	g := raw.GetGraph()
	inits := map[string]bool{}
	for _, t := range g.GetInitializer() {
		inits[t.GetName()] = true
	}
	best := 0
	for _, v := range g.GetInput() {
		if inits[v.GetName()] {
			continue
		}
		rows := (&graph.Encoder{InputIDs: v.GetName()}).VocabRows(raw)
		if rows > 0 && strings.Contains(strings.ToLower(v.GetName()), "input_ids") {
			return rows
		}
		best = max(best, rows)
	}
	return best
}

// AddInputs adds to feed a synthetic [batch, seq] tensor for each of inputs not yet in it, by
// the input's role (enc.InputRole; an input it cannot tell is taken for token ids): random
// token ids below vocab (fixed seed), a full attention mask, zero token types, positions 0, 1,
// ... per row. Inputs are fed as int64 (the session converts them to int32, bool or float);
// path names the model in errors.
func AddInputs(feed map[string]*ort.Tensor, inputs []ort.IOInfo, path string, enc *graph.Encoder, batch, seq, vocab int) error {
	for _, in := range inputs {
		if _, ok := feed[in.Name]; ok {
			continue
		}
		switch in.Elem {
		case onnx.TensorProto_INT64, onnx.TensorProto_INT32, onnx.TensorProto_BOOL, onnx.TensorProto_FLOAT:
			// Fed as int64; the session converts to the declared type.
		default:
			return fmt.Errorf("%s: input %q has element type %s; bench feeds token inputs as int64, int32, bool or float", path, in.Name, in.Elem)
		}
		if in.Shape != nil {
			if len(in.Shape) != 2 {
				return fmt.Errorf("%s: input %q has rank %d; bench feeds [batch, seq] inputs", path, in.Name, len(in.Shape))
			}
			if (in.Shape[0] > 0 && in.Shape[0] != int64(batch)) || (in.Shape[1] > 0 && in.Shape[1] != int64(seq)) {
				return fmt.Errorf("%s: input %q has the fixed shape %v; run bench with --batch and --seq matching it", path, in.Name, in.Shape)
			}
		}
		v := make([]int64, batch*seq)
		role := enc.InputRole(in.Name)
		if role == "" {
			role = graph.RoleIDs
		}
		switch role {
		case graph.RoleIDs:
			rng := rand.New(rand.NewPCG(1, 2))
			for i := range v {
				v[i] = 1 + rng.Int64N(int64(max(vocab-1, 1)))
			}
		case graph.RoleMask:
			for i := range v {
				v[i] = 1
			}
		case graph.RolePosition:
			for i := range v {
				v[i] = int64(i % seq)
			}
		}
		feed[in.Name] = ort.I64Tensor([]int64{int64(batch), int64(seq)}, v)
	}
	return nil
}
