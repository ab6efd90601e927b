package graph

import "github.com/kprune/kprune/onnx"

// This file holds the one depth-first walk over tensors that discovery and parameter counting
// share; each caller decides what to visit next and when to stop.

// visitTensors walks tensors depth first from start, visiting each once (seen records the
// visited tensors; it may be shared between walks so that later walks skip what earlier ones
// saw). visit returns the tensors to go on to and whether to stop the walk; visitTensors reports
// whether visit stopped it.
func visitTensors(start string, seen map[string]bool, visit func(t string) (next []string, stop bool)) bool {
	stack := []string{start}
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
