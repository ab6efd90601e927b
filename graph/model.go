package graph

import (
	"fmt"
	"strings"

	"github.com/kprune/kprune/graph/infer"
	"github.com/kprune/kprune/onnx"
	"google.golang.org/protobuf/proto"
)

// Rewrites share untouched parts with their input (see the package documentation): copying a
// BERT-base model for each of its 24 sublayer rewrites would cost gigabytes.

// withGraph returns a shallow copy of m (onnx.ShallowCopy) whose graph is g.
func withGraph(m *onnx.ModelProto, g *onnx.GraphProto) *onnx.ModelProto {
	nm := onnx.ShallowCopy(m)
	nm.Graph = g
	return nm
}

// shallowGraph is onnx.ShallowCopyGraph: a new graph with g's fields whose lists are fresh
// slices holding g's elements, so they can be edited without touching g.
func shallowGraph(g *onnx.GraphProto) *onnx.GraphProto { return onnx.ShallowCopyGraph(g) }

// cloneNode returns a copy of n with its own input and output lists (attributes are shared and
// must not be modified).
func cloneNode(n *onnx.NodeProto) *onnx.NodeProto {
	c := &onnx.NodeProto{
		Input:         append([]string(nil), n.GetInput()...),
		Output:        append([]string(nil), n.GetOutput()...),
		Name:          n.Name,
		OpType:        n.OpType,
		Domain:        n.Domain,
		Overload:      n.Overload,
		Attribute:     n.Attribute,
		DocString:     n.DocString,
		MetadataProps: n.MetadataProps,
	}
	if u := n.ProtoReflect().GetUnknown(); len(u) > 0 {
		c.ProtoReflect().SetUnknown(u)
	}
	return c
}

// pruneDead removes from g (a graph this package owns) the nodes that no graph output needs,
// the initializers nobody reads, and the value infos of tensors that no longer exist. Graph
// inputs are kept when keepInputs is set (so a rewritten model keeps its interface), and
// otherwise only when still read.
func pruneDead(g *onnx.GraphProto, keepInputs bool) {
	producer := map[string]int{}
	for i, n := range g.GetNode() {
		for _, o := range n.GetOutput() {
			if o != "" {
				producer[o] = i
			}
		}
	}
	live := make([]bool, len(g.GetNode()))
	used := map[string]bool{}
	var outs []string
	for _, o := range g.GetOutput() {
		outs = append(outs, o.GetName())
	}
	VisitTensors(outs, used, func(t string) ([]string, bool) {
		if i, ok := producer[t]; ok && !live[i] {
			live[i] = true
			return nodeInputs(g.GetNode()[i]), false
		}
		return nil, false
	})
	nodes := g.Node[:0:0]
	defined := map[string]bool{}
	for i, n := range g.GetNode() {
		if live[i] {
			nodes = append(nodes, n)
			for _, o := range n.GetOutput() {
				defined[o] = true
			}
		}
	}
	g.Node = nodes
	isInit := map[string]bool{}
	var inits []*onnx.TensorProto
	for _, t := range g.GetInitializer() {
		isInit[t.GetName()] = true
		if used[t.GetName()] {
			inits = append(inits, t)
			defined[t.GetName()] = true
		}
	}
	g.Initializer = inits
	var inputs []*onnx.ValueInfoProto
	for _, v := range g.GetInput() {
		name := v.GetName()
		if used[name] || (keepInputs && !isInit[name]) {
			inputs = append(inputs, v)
			defined[name] = true
		}
	}
	g.Input = inputs
	var vi []*onnx.ValueInfoProto
	for _, v := range g.GetValueInfo() {
		if defined[v.GetName()] {
			vi = append(vi, v)
		}
	}
	g.ValueInfo = vi
}

// RemoveDeadNodes returns m without the nodes no graph output depends on, the initializers
// nobody reads and the stale value infos. Graph inputs are all kept.
func RemoveDeadNodes(m *onnx.ModelProto) *onnx.ModelProto {
	nm := onnx.ShallowCopy(m)
	pruneDead(nm.Graph, true)
	return nm
}

// TopoSort returns m with its nodes in topological order (keeping the existing order wherever it
// is valid), or an error naming a node on a cycle.
func TopoSort(m *onnx.ModelProto) (*onnx.ModelProto, error) {
	ix := NewIndex(m.GetGraph())
	if err := ix.TopoErr(); err != nil {
		return nil, err
	}
	nm := onnx.ShallowCopy(m)
	nm.Graph.Node = append([]*onnx.NodeProto(nil), ix.Topo()...)
	return nm, nil
}

// Extract returns a new model that computes the tensors outputs from the tensors inputs, which
// become graph inputs: their value infos carry the element type and the shape as far as it is
// known (symbolic dimensions such as batch and seq come from the original inputs; hidden states
// are typically [batch, seq, D] float). Original graph inputs that the outputs still need (such
// as attention_mask, or input_ids when a Reshape reads its Shape) stay inputs after the given
// ones; nodes, initializers and inputs that are not needed are dropped. An input that is an
// initializer turns into a graph input.
func Extract(m *onnx.ModelProto, inputs, outputs []string) (_ *onnx.ModelProto, err error) {
	defer recoverErr("extract", &err)
	if m.GetGraph() == nil {
		return nil, fmt.Errorf("extract: the model has no graph")
	}
	if len(outputs) == 0 {
		return nil, fmt.Errorf("extract: no outputs requested")
	}
	ix := NewIndex(m.GetGraph())
	cut := map[string]bool{}
	for _, in := range inputs {
		if !ix.Has(in) {
			return nil, fmt.Errorf("extract: input tensor %q is not defined in the graph (not produced by a node, not an initializer or graph input)", in)
		}
		if cut[in] {
			return nil, fmt.Errorf("extract: input tensor %q is listed twice", in)
		}
		cut[in] = true
	}
	seenOut := map[string]bool{}
	for _, o := range outputs {
		if !ix.Has(o) {
			return nil, fmt.Errorf("extract: output tensor %q is not defined in the graph", o)
		}
		if seenOut[o] {
			return nil, fmt.Errorf("extract: output tensor %q is listed twice", o)
		}
		seenOut[o] = true
	}
	need := map[*onnx.NodeProto]bool{}
	used := map[string]bool{}
	undefined := ""
	VisitTensors(outputs, used, func(t string) ([]string, bool) {
		if cut[t] {
			return nil, false
		}
		if p := ix.Producer(t); p != nil {
			if !need[p] {
				need[p] = true
				return nodeInputs(p), false
			}
			return nil, false
		}
		if ix.Initializer(t) == nil && !ix.IsInput(t) {
			undefined = t
			return nil, true
		}
		return nil, false
	})
	if undefined != "" {
		return nil, fmt.Errorf("extract: tensor %q is needed for the outputs but not defined in the graph", undefined)
	}
	info := lazyShapes(ix.Graph)
	src := m.GetGraph()
	g := &onnx.GraphProto{Name: src.Name, DocString: src.DocString, MetadataProps: src.MetadataProps}
	for _, in := range inputs {
		if ix.IsInput(in) {
			g.Input = append(g.Input, ix.inputs[in])
			continue
		}
		g.Input = append(g.Input, valueInfoFor(ix, info, in))
	}
	for _, v := range src.GetInput() {
		if ix.IsInput(v.GetName()) && used[v.GetName()] && !cut[v.GetName()] {
			g.Input = append(g.Input, v)
		}
	}
	for _, n := range ix.Topo() {
		if need[n] {
			g.Node = append(g.Node, n)
		}
	}
	for _, t := range src.GetInitializer() {
		if used[t.GetName()] && !cut[t.GetName()] {
			g.Initializer = append(g.Initializer, t)
		}
	}
	for _, o := range outputs {
		if v := ix.outputs[o]; v != nil {
			g.Output = append(g.Output, v)
		} else {
			g.Output = append(g.Output, valueInfoFor(ix, info, o))
		}
	}
	for _, v := range src.GetValueInfo() {
		if p := ix.Producer(v.GetName()); p != nil && need[p] && !cut[v.GetName()] && !seenOut[v.GetName()] {
			g.ValueInfo = append(g.ValueInfo, v)
		}
	}
	return withGraph(m, g), nil
}

// lazyShapes returns a lookup of what inference knows of g's tensors, inferred on first use.
func lazyShapes(g *onnx.GraphProto) func(string) infer.Info {
	var si infer.Map
	return func(name string) infer.Info {
		if si == nil {
			si = infer.Partial(g)
		}
		return si.Of(name)
	}
}

// valueInfoFor builds a value info for a tensor from inference, falling back on a declared one;
// an unknown element type is written as float.
func valueInfoFor(ix *Index, info func(string) infer.Info, name string) *onnx.ValueInfoProto {
	t := info(name)
	if (t.Rank < 0 || t.Elem == 0) && ix.ValueInfo(name) != nil {
		v := ix.ValueInfo(name)
		return &onnx.ValueInfoProto{Name: proto.String(name), Type: v.Type, DocString: v.DocString}
	}
	if t.Elem == 0 {
		t.Elem = onnx.TensorProto_FLOAT
	}
	return t.ValueInfo(name)
}

// Cut returns the part of the model above sublayer s: the graph that computes the encoder's
// outputs (enc.Outputs) from sublayer s's hidden-state input enc.SublayerInput(s), which becomes
// its first graph input ([batch, seq, D]); the original inputs it still needs (attention_mask,
// and any input a shape computation reads) follow.
func Cut(m *onnx.ModelProto, enc *Encoder, s int) (*onnx.ModelProto, error) {
	if enc == nil {
		return nil, fmt.Errorf("cut: nil encoder")
	}
	if s < 0 || s >= enc.NumSublayers() {
		return nil, fmt.Errorf("cut: sublayer %d is out of range (the encoder has %d sublayers)", s, enc.NumSublayers())
	}
	return Extract(m, []string{enc.SublayerInput(s)}, enc.Outputs)
}

// AddOutputs returns m with the named tensors appended to its graph outputs (names that already
// are outputs are skipped). Each new output's value info carries the element type and shape as
// far as inference knows them (an untyped float when nothing is known, for onnxruntime to infer).
// Names that are not tensors of the graph are added all the same: onnxruntime will reject them.
func AddOutputs(m *onnx.ModelProto, names ...string) *onnx.ModelProto {
	ix := NewIndex(m.GetGraph())
	nm := onnx.ShallowCopy(m)
	g := nm.Graph
	info := lazyShapes(ix.Graph)
	seen := map[string]bool{}
	for _, v := range g.Output {
		seen[v.GetName()] = true
	}
	for _, n := range names {
		if seen[n] || n == "" {
			continue
		}
		seen[n] = true
		g.Output = append(g.Output, valueInfoFor(ix, info, n))
	}
	return nm
}

// editor is a copy-on-write editor over a model: it clones the nodes it changes, inserts new
// nodes next to existing ones, replaces and adds initializers, and finally builds a new model
// sharing everything untouched with the original.
type editor struct {
	src    *onnx.ModelProto
	ix     *Index
	clones map[*onnx.NodeProto]*onnx.NodeProto
	before map[*onnx.NodeProto][]*onnx.NodeProto
	after  map[*onnx.NodeProto][]*onnx.NodeProto
	inits  map[string]*onnx.TensorProto // replaced or added, by name
	added  []string                     // names of added initializers, in order
	inputs []*onnx.ValueInfoProto       // added graph inputs
	names  map[string]bool
	stale  map[string]bool   // tensors whose value info must be dropped
	shapes map[string]string // rewritten Reshape shapes: (tensor, entry, value) -> new tensor
}

func newEditor(m *onnx.ModelProto, ix *Index) *editor {
	e := &editor{src: m, ix: ix, clones: map[*onnx.NodeProto]*onnx.NodeProto{},
		before: map[*onnx.NodeProto][]*onnx.NodeProto{}, after: map[*onnx.NodeProto][]*onnx.NodeProto{},
		inits: map[string]*onnx.TensorProto{}, names: map[string]bool{}, stale: map[string]bool{}}
	g := m.GetGraph()
	for _, n := range g.GetNode() {
		e.names[n.GetName()] = true
		for _, o := range n.GetOutput() {
			e.names[o] = true
		}
		for _, i := range n.GetInput() {
			e.names[i] = true
		}
	}
	for _, t := range g.GetInitializer() {
		e.names[t.GetName()] = true
	}
	for _, v := range g.GetInput() {
		e.names[v.GetName()] = true
	}
	for _, v := range g.GetOutput() {
		e.names[v.GetName()] = true
	}
	return e
}

// fresh returns an unused tensor/node name derived from base and reserves it.
func (e *editor) fresh(base string) string {
	base = strings.TrimSpace(base)
	if base == "" {
		base = "kprune"
	}
	name := base
	for i := 1; e.names[name]; i++ {
		name = fmt.Sprintf("%s_%d", base, i)
	}
	e.names[name] = true
	return name
}

// node returns the editable clone of original node n (cloning it on first use).
func (e *editor) node(n *onnx.NodeProto) *onnx.NodeProto {
	if c, ok := e.clones[n]; ok {
		return c
	}
	c := cloneNode(n)
	e.clones[n] = c
	return c
}

// replaceInput makes the (clone of) node n read to instead of from.
func (e *editor) replaceInput(n *onnx.NodeProto, from, to string) {
	c := e.node(n)
	for i, in := range c.Input {
		if in == from {
			c.Input[i] = to
		}
	}
}

// insertBefore places nodes just before the original node at.
func (e *editor) insertBefore(at *onnx.NodeProto, nodes ...*onnx.NodeProto) {
	e.before[at] = append(e.before[at], nodes...)
}

// insertAfter places nodes just after the original node at.
func (e *editor) insertAfter(at *onnx.NodeProto, nodes ...*onnx.NodeProto) {
	e.after[at] = append(e.after[at], nodes...)
}

// setInit replaces the initializer called t.Name, or adds it when new.
func (e *editor) setInit(t *onnx.TensorProto) {
	name := t.GetName()
	if _, ok := e.inits[name]; !ok && e.ix.Initializer(name) == nil {
		e.added = append(e.added, name)
	}
	e.inits[name] = t
	e.names[name] = true
}

// init returns the current value of initializer name (replaced or original).
func (e *editor) init(name string) *onnx.TensorProto {
	if t, ok := e.inits[name]; ok {
		return t
	}
	return e.ix.Initializer(name)
}

// build returns the edited model, with dead nodes and unused initializers removed.
func (e *editor) build(keepInputs bool) *onnx.ModelProto {
	src := e.src.GetGraph()
	nm := onnx.ShallowCopy(e.src)
	g := nm.Graph
	g.Node = g.Node[:0:0]
	for _, n := range src.GetNode() {
		g.Node = append(g.Node, e.before[n]...)
		if c, ok := e.clones[n]; ok {
			g.Node = append(g.Node, c)
		} else {
			g.Node = append(g.Node, n)
		}
		g.Node = append(g.Node, e.after[n]...)
	}
	for i, t := range g.Initializer {
		if r, ok := e.inits[t.GetName()]; ok {
			g.Initializer[i] = r
		}
	}
	for _, name := range e.added {
		g.Initializer = append(g.Initializer, e.inits[name])
	}
	// Initializers also listed as graph inputs must keep a matching declaration.
	for i, v := range g.Input {
		if r, ok := e.inits[v.GetName()]; ok && e.ix.Initializer(v.GetName()) != nil {
			g.Input[i] = initValueInfo(r)
		}
	}
	g.Input = append(g.Input, e.inputs...)
	if len(e.stale) > 0 {
		var vi []*onnx.ValueInfoProto
		for _, v := range g.ValueInfo {
			if !e.stale[v.GetName()] {
				vi = append(vi, v)
			}
		}
		g.ValueInfo = vi
		for i, v := range g.Output {
			if e.stale[v.GetName()] {
				elem, _, _ := onnx.ValueInfoShape(v)
				g.Output[i] = onnx.NewValueInfo(v.GetName(), onnx.TensorProto_DataType(elem), nil)
			}
		}
	}
	pruneDead(g, keepInputs)
	return nm
}

func initValueInfo(t *onnx.TensorProto) *onnx.ValueInfoProto {
	shape := make([]onnx.Dim, len(t.GetDims()))
	for i, d := range t.GetDims() {
		shape[i] = onnx.Dim{Value: d}
	}
	return onnx.NewValueInfo(t.GetName(), onnx.TensorProto_DataType(t.GetDataType()), shape)
}
