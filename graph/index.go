package graph

import (
	"container/heap"
	"fmt"

	"github.com/kprune/kprune/onnx"
)

// Index is a read-only view of a graph for structural queries: which node produces a tensor,
// which nodes consume it, the initializers and graph inputs/outputs by name, and a topological
// order of the nodes. It is built once by NewIndex and must not be used after the graph changes.
//
// Node inputs used inside subgraphs (If/Loop/Scan bodies) that refer to tensors of the outer
// graph count as consumptions by the node holding the subgraph.
type Index struct {
	// Graph is the indexed graph.
	Graph *onnx.GraphProto

	producer  map[string]*onnx.NodeProto
	consumers map[string][]*onnx.NodeProto
	inits     map[string]*onnx.TensorProto
	inputs    map[string]*onnx.ValueInfoProto // graph inputs that are not initializers
	outputs   map[string]*onnx.ValueInfoProto
	valueInfo map[string]*onnx.ValueInfoProto
	nodeByNm  map[string]*onnx.NodeProto
	position  map[*onnx.NodeProto]int
	order     []*onnx.NodeProto
	orderErr  error
}

// NewIndex indexes g. It never fails: a graph with a cycle or an undefined tensor still gets an
// index, and TopoErr reports the problem.
func NewIndex(g *onnx.GraphProto) *Index {
	ix := &Index{
		Graph:     g,
		producer:  map[string]*onnx.NodeProto{},
		consumers: map[string][]*onnx.NodeProto{},
		inits:     map[string]*onnx.TensorProto{},
		inputs:    map[string]*onnx.ValueInfoProto{},
		outputs:   map[string]*onnx.ValueInfoProto{},
		valueInfo: map[string]*onnx.ValueInfoProto{},
		nodeByNm:  map[string]*onnx.NodeProto{},
		position:  map[*onnx.NodeProto]int{},
	}
	for _, t := range g.GetInitializer() {
		ix.inits[t.GetName()] = t
	}
	for _, v := range g.GetInput() {
		if _, ok := ix.inits[v.GetName()]; !ok {
			ix.inputs[v.GetName()] = v
		}
	}
	for _, v := range g.GetOutput() {
		ix.outputs[v.GetName()] = v
	}
	for _, v := range g.GetValueInfo() {
		ix.valueInfo[v.GetName()] = v
	}
	for i, n := range g.GetNode() {
		ix.position[n] = i
		if nm := n.GetName(); nm != "" {
			if _, dup := ix.nodeByNm[nm]; !dup {
				ix.nodeByNm[nm] = n
			}
		}
		for _, o := range n.GetOutput() {
			if o != "" {
				ix.producer[o] = n
			}
		}
		for _, in := range nodeInputs(n) {
			ix.consumers[in] = append(ix.consumers[in], n)
		}
	}
	ix.order, ix.orderErr = ix.topo()
	return ix
}

// nodeInputs returns the distinct non-empty tensors n reads: its inputs and the outer-scope
// tensors its subgraphs use.
func nodeInputs(n *onnx.NodeProto) []string {
	var out []string
	seen := map[string]bool{}
	add := func(s string) {
		if s != "" && !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	for _, in := range n.GetInput() {
		add(in)
	}
	for _, a := range n.GetAttribute() {
		if a.G != nil {
			for _, s := range outerNames(a.G) {
				add(s)
			}
		}
		for _, sg := range a.GetGraphs() {
			for _, s := range outerNames(sg) {
				add(s)
			}
		}
	}
	return out
}

// outerNames lists the tensors a subgraph reads without defining them.
func outerNames(g *onnx.GraphProto) []string {
	defined := map[string]bool{}
	for _, t := range g.GetInitializer() {
		defined[t.GetName()] = true
	}
	for _, v := range g.GetInput() {
		defined[v.GetName()] = true
	}
	for _, n := range g.GetNode() {
		for _, o := range n.GetOutput() {
			defined[o] = true
		}
	}
	var out []string
	seen := map[string]bool{}
	for _, n := range g.GetNode() {
		for _, in := range nodeInputs(n) {
			if !defined[in] && !seen[in] {
				seen[in] = true
				out = append(out, in)
			}
		}
	}
	for _, v := range g.GetOutput() {
		if !defined[v.GetName()] && !seen[v.GetName()] {
			seen[v.GetName()] = true
			out = append(out, v.GetName())
		}
	}
	return out
}

// Producer returns the node whose output is tensor, or nil (graph inputs, initializers, unknown).
func (ix *Index) Producer(tensor string) *onnx.NodeProto { return ix.producer[tensor] }

// Consumers returns the nodes that read tensor, in graph order (each node once).
func (ix *Index) Consumers(tensor string) []*onnx.NodeProto { return ix.consumers[tensor] }

// Initializer returns the initializer called name, or nil.
func (ix *Index) Initializer(name string) *onnx.TensorProto { return ix.inits[name] }

// IsInput tells whether name is a graph input that is not an initializer.
func (ix *Index) IsInput(name string) bool { _, ok := ix.inputs[name]; return ok }

// Inputs returns the graph inputs that are not initializers, in graph order.
func (ix *Index) Inputs() []*onnx.ValueInfoProto {
	var out []*onnx.ValueInfoProto
	for _, v := range ix.Graph.GetInput() {
		if ix.IsInput(v.GetName()) {
			out = append(out, v)
		}
	}
	return out
}

// IsOutput tells whether name is a graph output.
func (ix *Index) IsOutput(name string) bool { _, ok := ix.outputs[name]; return ok }

// Node returns the node called name, or nil (the first one when names repeat).
func (ix *Index) Node(name string) *onnx.NodeProto { return ix.nodeByNm[name] }

// Position returns n's position in the graph's node list, or -1.
func (ix *Index) Position(n *onnx.NodeProto) int {
	if p, ok := ix.position[n]; ok {
		return p
	}
	return -1
}

// ValueInfo returns the declared type of tensor from the graph's inputs, outputs or value_info,
// or nil when the graph declares none.
func (ix *Index) ValueInfo(tensor string) *onnx.ValueInfoProto {
	if v := ix.inputs[tensor]; v != nil {
		return v
	}
	if v := ix.outputs[tensor]; v != nil {
		return v
	}
	return ix.valueInfo[tensor]
}

// Has tells whether tensor is defined in the graph: produced by a node, an initializer or a
// graph input.
func (ix *Index) Has(tensor string) bool {
	if _, ok := ix.producer[tensor]; ok {
		return true
	}
	if _, ok := ix.inits[tensor]; ok {
		return true
	}
	_, ok := ix.inputs[tensor]
	return ok
}

// Constant returns the value of tensor when it is a constant: an initializer, the output of a
// Constant node holding a tensor value, or either seen through Identity aliases. Initializers also listed as graph inputs (old exporters' keep_initializers_as_inputs)
// count as constants. It returns nil otherwise.
func (ix *Index) Constant(tensor string) *onnx.TensorProto {
	if t := ix.inits[tensor]; t != nil {
		return t
	}
	for range 64 {
		n := ix.producer[tensor]
		if n == nil || !isDefaultDomain(n) {
			return nil
		}
		switch n.GetOpType() {
		case "Constant":
			return constantNodeValue(n)
		case "Identity":
			// Exporters alias shared or deduplicated constants through Identity nodes.
			tensor = n.GetInput()[0]
			if t := ix.inits[tensor]; t != nil {
				return t
			}
		default:
			return nil
		}
	}
	return nil
}

// constantNodeValue turns a Constant node's attribute into a tensor, or nil.
func constantNodeValue(n *onnx.NodeProto) *onnx.TensorProto {
	for _, a := range n.GetAttribute() {
		switch a.GetName() {
		case "value":
			return a.GetT()
		case "value_int":
			return onnx.NewInt64Tensor("", nil, []int64{a.GetI()})
		case "value_ints":
			return onnx.NewInt64Tensor("", []int64{int64(len(a.GetInts()))}, a.GetInts())
		case "value_float":
			return onnx.NewFloatTensor("", nil, []float32{a.GetF()})
		case "value_floats":
			return onnx.NewFloatTensor("", []int64{int64(len(a.GetFloats()))}, a.GetFloats())
		}
	}
	return nil
}

// IsConstant tells whether tensor is an initializer or a Constant node's output.
func (ix *Index) IsConstant(tensor string) bool { return ix.Constant(tensor) != nil }

// Topo returns the nodes in a topological order (producers before consumers) that keeps the
// graph's own order wherever it is already valid. Nodes on a cycle come last, in graph order,
// and TopoErr reports the cycle.
func (ix *Index) Topo() []*onnx.NodeProto { return ix.order }

// TopoErr reports why the graph has no complete topological order (a cycle), or nil.
func (ix *Index) TopoErr() error { return ix.orderErr }

// posHeap is a min-heap of node positions.
type posHeap []int

func (h posHeap) Len() int           { return len(h) }
func (h posHeap) Less(i, j int) bool { return h[i] < h[j] }
func (h posHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *posHeap) Push(x any)        { *h = append(*h, x.(int)) }
func (h *posHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// topo is Kahn's algorithm taking ready nodes in graph order. Tensors nobody in the graph
// produces (graph inputs, initializers, outer-scope names) are available from the start.
func (ix *Index) topo() ([]*onnx.NodeProto, error) {
	nodes := ix.Graph.GetNode()
	pending := make([]int, len(nodes))
	for i, n := range nodes {
		for _, in := range nodeInputs(n) {
			if p, ok := ix.producer[in]; ok && p != n {
				pending[i]++
			}
		}
	}
	h := &posHeap{}
	for i := range nodes {
		if pending[i] == 0 {
			*h = append(*h, i)
		}
	}
	heap.Init(h)
	done := make([]bool, len(nodes))
	order := make([]*onnx.NodeProto, 0, len(nodes))
	for h.Len() > 0 {
		i := heap.Pop(h).(int)
		done[i] = true
		n := nodes[i]
		order = append(order, n)
		for _, o := range n.GetOutput() {
			if o == "" || ix.producer[o] != n {
				continue
			}
			// consumers lists each node once per tensor, matching how pending was counted.
			for _, c := range ix.consumers[o] {
				if c == n {
					continue
				}
				j := ix.position[c]
				pending[j]--
				if pending[j] == 0 {
					heap.Push(h, j)
				}
			}
		}
	}
	if len(order) == len(nodes) {
		return order, nil
	}
	var stuck *onnx.NodeProto
	for i, n := range nodes {
		if !done[i] {
			if stuck == nil {
				stuck = n
			}
			order = append(order, n)
		}
	}
	return order, fmt.Errorf("graph has a cycle: node %q (%s) depends on its own output", stuck.GetName(), stuck.GetOpType())
}

func isDefaultDomain(n *onnx.NodeProto) bool {
	d := n.GetDomain()
	return d == "" || d == "ai.onnx"
}
