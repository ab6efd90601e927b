package graph

import "github.com/kprune/kprune/onnx"

// This file holds the one depth-first walk over tensors that discovery and parameter counting
// share; each caller decides what to visit next and when to stop.

// VisitTensors walks tensors depth first from starts (the last first), visiting each once: seen
// records the visited tensors (nil for a fresh map; a map shared between walks makes later walks
// skip what earlier ones saw). visit returns the tensors to go on to (a producer's inputs to
// walk upstream, a node's outputs downstream) and whether to stop the walk; VisitTensors reports
// whether visit stopped it.
func VisitTensors(starts []string, seen map[string]bool, visit func(t string) (next []string, stop bool)) bool {
	if seen == nil {
		seen = map[string]bool{}
	}
	stack := append([]string(nil), starts...)
	for len(stack) > 0 {
		t := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if seen[t] {
			continue
		}
		seen[t] = true
		next, stop := visit(t)
		if stop {
			return true
		}
		stack = append(stack, next...)
	}
	return false
}

// nonConstantInputs returns n's inputs that are neither empty (omitted optional inputs) nor
// constants.
func (ix *Index) nonConstantInputs(n *onnx.NodeProto) []string {
	var out []string
	for _, in := range n.GetInput() {
		if in != "" && !ix.IsConstant(in) {
			out = append(out, in)
		}
	}
	return out
}
