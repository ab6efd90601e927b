package fused

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/kprune/kprune/graph"
	"github.com/kprune/kprune/graph/infer"
	"github.com/kprune/kprune/onnx"
	"google.golang.org/protobuf/proto"
)

// minOpset is the lowest default-domain opset the replacements are written for (Range needs 11).
const minOpset = 11

// newOpset is the default-domain opset given to a model that imports none.
const newOpset = 17

// Report tells what Unfuse replaced.
type Report struct {
	// Unfused counts the replaced com.microsoft nodes by op type.
	Unfused map[string]int
	// Added is the number of standard nodes that replaced them.
	Added int
}

// Total returns the number of replaced nodes.
func (r Report) Total() int {
	n := 0
	for _, c := range r.Unfused {
		n += c
	}
	return n
}

// String renders the report as "Attention×2, SkipLayerNormalization×4 (36 nodes added)", or
// "nothing to unfuse".
func (r Report) String() string {
	if r.Total() == 0 {
		return "nothing to unfuse"
	}
	ops := make([]string, 0, len(r.Unfused))
	for op := range r.Unfused {
		ops = append(ops, op)
	}
	sort.Strings(ops)
	parts := make([]string, len(ops))
	for i, op := range ops {
		parts[i] = fmt.Sprintf("%s×%d", op, r.Unfused[op])
	}
	return fmt.Sprintf("%s (%d nodes added)", strings.Join(parts, ", "), r.Added)
}

// Count returns the number of com.microsoft nodes in m by op type, subgraphs included.
func Count(m *onnx.ModelProto) map[string]int {
	counts := map[string]int{}
	walkNodes(m.GetGraph(), func(n *onnx.NodeProto, _ bool) {
		if n.GetDomain() == Domain {
			counts[n.GetOpType()]++
		}
	})
	return counts
}

// hasFused tells whether m has a node Unfuse replaces or refuses: a com.microsoft node, or one of
// onnxruntime's default-domain schemas that standard ONNX lacks at the model's opset.
func hasFused(m *onnx.ModelProto) bool {
	found := false
	opset := onnx.Opset(m)
	walkNodes(m.GetGraph(), func(n *onnx.NodeProto, _ bool) {
		if r, ok := ruleFor(n, opset); r != nil || !ok {
			found = true
		}
	})
	return found
}

// walkNodes calls fn for every node of g and of its subgraphs (sub is true inside a subgraph).
func walkNodes(g *onnx.GraphProto, fn func(n *onnx.NodeProto, sub bool)) {
	var walk func(g *onnx.GraphProto, sub bool)
	walk = func(g *onnx.GraphProto, sub bool) {
		for _, n := range g.GetNode() {
			fn(n, sub)
			for _, a := range n.GetAttribute() {
				if a.G != nil {
					walk(a.G, true)
				}
				for _, sg := range a.GetGraphs() {
					walk(sg, true)
				}
			}
		}
	}
	walk(g, false)
}

// Unfuse returns a copy of m in which every com.microsoft node is replaced by an equivalent
// subgraph of standard ONNX ops of the model's default opset, and a report of what was replaced.
// The replacements keep the fused nodes' output names; initializers only the fused nodes read
// (packed QKV weights) are dropped, and the com.microsoft opset import goes when no such node is
// left. A model without fused nodes comes back as it is, with an empty report.
//
// m is not modified; the result shares the nodes and tensors it did not change (see the package
// documentation). The error wraps ErrUnsupportedFused for op types or forms this package cannot
// unfuse and ErrMalformedFused for nodes that break their op's specification, and names the node.
func Unfuse(m *onnx.ModelProto) (_ *onnx.ModelProto, _ Report, err error) {
	rep := Report{Unfused: map[string]int{}}
	if m == nil || m.GetGraph() == nil {
		return nil, rep, errors.New("unfuse: the model has no graph")
	}
	if !hasFused(m) {
		return m, rep, nil
	}
	if err := checkFusedModel(m); err != nil {
		return nil, rep, fmt.Errorf("unfuse: %w", err)
	}
	u, err := newUnfuser(m)
	if err != nil {
		return nil, rep, fmt.Errorf("unfuse: %w", err)
	}
	defer func() {
		// A rule indexing past a malformed node's data must not take the caller down.
		if r := recover(); r != nil {
			err = fmt.Errorf("unfuse: internal error: %v: %w", r, ErrMalformedFused)
		}
	}()
	for _, n := range u.ix.Topo() {
		r, _ := ruleFor(n, u.opset)
		if r == nil {
			u.out = append(u.out, n)
			continue
		}
		b, err := u.apply(n, r)
		if err != nil {
			return nil, rep, fmt.Errorf("unfuse: %w", err)
		}
		u.out = append(u.out, b.nodes...)
		u.added = append(u.added, b.inits...)
		u.shapes = nil
		rep.Unfused[n.GetOpType()]++
		rep.Added += len(b.nodes)
	}
	return u.build(), rep, nil
}

// checkFusedModel rejects, before any work, models whose fused nodes cannot be unfused whatever
// their op: fused nodes inside subgraphs, unknown op types, and non-float32 floating-point graphs.
func checkFusedModel(m *onnx.ModelProto) error {
	var err error
	walkNodes(m.GetGraph(), func(n *onnx.NodeProto, sub bool) {
		if err != nil || n.GetDomain() != Domain {
			return
		}
		switch _, ok := ruleFor(n, onnx.Opset(m)); {
		case sub:
			err = fmt.Errorf("node %q (%s) is inside a subgraph (If/Loop/Scan body): %w", n.GetName(), n.GetOpType(), ErrUnsupportedFused)
		case !ok:
			err = fmt.Errorf("node %q (%s): %w: no rule for %s.%s (supported: %s)", n.GetName(), n.GetOpType(), ErrUnsupportedFused, Domain, n.GetOpType(), strings.Join(Supported(), ", "))
		}
	})
	if err != nil {
		return err
	}
	g := m.GetGraph()
	check := func(what, name string, dt int32) error {
		switch onnx.TensorProto_DataType(dt) {
		case onnx.TensorProto_FLOAT16, onnx.TensorProto_BFLOAT16, onnx.TensorProto_DOUBLE:
			return fmt.Errorf("%s %q is %s; only float32 models can be unfused: %w", what, name, onnx.DataTypeName(dt), ErrUnsupportedFused)
		}
		return nil
	}
	for _, t := range g.GetInitializer() {
		if err := check("initializer", t.GetName(), t.GetDataType()); err != nil {
			return err
		}
	}
	for _, v := range append(append([]*onnx.ValueInfoProto{}, g.GetInput()...), g.GetOutput()...) {
		elem, _, _ := onnx.ValueInfoShape(v)
		if err := check("graph input or output", v.GetName(), elem); err != nil {
			return err
		}
	}
	if o := onnx.Opset(m); o != 0 && o < minOpset {
		return fmt.Errorf("the model's default opset is %d; unfusing needs opset %d or newer (re-export the model): %w", o, minOpset, ErrUnsupportedFused)
	}
	return nil
}

// unfuser carries one Unfuse: the original graph's index, the nodes written so far, and the names
// in use.
type unfuser struct {
	src   *onnx.ModelProto
	ix    *graph.Index
	opset int64
	names map[string]bool
	out   []*onnx.NodeProto   // the new node list, in topological order
	added []*onnx.TensorProto // new initializers
	// masks are the additive attention masks built so far, by mask input and filter value, so
	// that every layer reads the same one.
	masks map[string]string
	// shapes is inferred on demand over out (nil when stale).
	shapes map[string]infer.Info
}

func newUnfuser(m *onnx.ModelProto) (*unfuser, error) {
	g := m.GetGraph()
	ix := graph.NewIndex(g)
	if err := ix.TopoErr(); err != nil {
		return nil, err
	}
	u := &unfuser{src: m, ix: ix, opset: onnx.Opset(m), names: map[string]bool{}, masks: map[string]string{}}
	if u.opset == 0 {
		u.opset = newOpset
	}
	walkNodes(g, func(n *onnx.NodeProto, _ bool) {
		u.names[n.GetName()] = true
		for _, s := range n.GetInput() {
			u.names[s] = true
		}
		for _, s := range n.GetOutput() {
			u.names[s] = true
		}
	})
	for _, t := range g.GetInitializer() {
		u.names[t.GetName()] = true
	}
	for _, v := range g.GetInput() {
		u.names[v.GetName()] = true
	}
	for _, v := range g.GetOutput() {
		u.names[v.GetName()] = true
	}
	for _, v := range g.GetValueInfo() {
		u.names[v.GetName()] = true
	}
	return u, nil
}

// apply runs rule r of fused node n and returns the builder holding its replacement.
func (u *unfuser) apply(n *onnx.NodeProto, r rule) (*builder, error) {
	prefix := n.GetName()
	if prefix == "" {
		prefix = n.GetOpType()
	}
	b := &builder{u: u, n: n, prefix: prefix}
	if err := r(b, n); err != nil {
		return nil, fmt.Errorf("node %q (%s): %w", n.GetName(), n.GetOpType(), err)
	}
	return b, nil
}

// fresh returns an unused name derived from base and reserves it.
func (u *unfuser) fresh(base string) string {
	name := base
	for i := 1; u.names[name]; i++ {
		name = fmt.Sprintf("%s_%d", base, i)
	}
	u.names[name] = true
	return name
}

// consumed tells whether tensor t is read by a node of the original graph or is a graph output.
func (u *unfuser) consumed(t string) bool {
	return t != "" && (len(u.ix.Consumers(t)) > 0 || u.ix.IsOutput(t))
}

// info returns what is statically known about tensor t, inferred over the graph as rewritten so
// far (every fused node before the current one is already replaced by standard ops).
func (u *unfuser) info(t string) (infer.Info, bool) {
	if u.shapes == nil {
		g := u.src.GetGraph()
		partial := &onnx.GraphProto{
			Node:        u.out,
			Initializer: append(append([]*onnx.TensorProto{}, g.GetInitializer()...), u.added...),
			Input:       g.GetInput(),
			ValueInfo:   g.GetValueInfo(),
		}
		s, err := infer.Shapes(partial)
		if err != nil {
			s = map[string]infer.Info{}
		}
		u.shapes = s
	}
	i, ok := u.shapes[t]
	return i, ok && i.Rank >= 0
}

// build assembles the unfused model: new node list and initializers, value infos of tensors that
// no longer exist dropped, initializers only the fused nodes read removed, opset imports updated.
func (u *unfuser) build() *onnx.ModelProto {
	src := u.src.GetGraph()
	produced := map[string]bool{}
	read := map[string]bool{}
	walkNodes(&onnx.GraphProto{Node: u.out}, func(n *onnx.NodeProto, _ bool) {
		for _, o := range n.GetOutput() {
			produced[o] = true
		}
		for _, i := range n.GetInput() {
			read[i] = true
		}
	})
	for _, v := range src.GetOutput() {
		read[v.GetName()] = true
	}
	inputs := map[string]bool{}
	for _, v := range src.GetInput() {
		inputs[v.GetName()] = true
	}
	g := onnx.ShallowCopyGraph(src)
	g.Node, g.Initializer, g.ValueInfo = u.out, nil, nil
	for _, t := range append(append([]*onnx.TensorProto{}, src.GetInitializer()...), u.added...) {
		// Initializers the original graph read elsewhere stay even if now unread (a later
		// clean-up is not this package's business); those only fused nodes read go.
		if read[t.GetName()] || inputs[t.GetName()] || u.readOutsideFused(t.GetName()) {
			g.Initializer = append(g.Initializer, t)
		}
	}
	for _, v := range src.GetValueInfo() {
		if produced[v.GetName()] {
			g.ValueInfo = append(g.ValueInfo, v)
		}
	}
	nm := onnx.ShallowCopy(u.src)
	nm.OpsetImport = u.opsets()
	nm.Graph = g
	return nm
}

// readOutsideFused tells whether a node of the original graph other than a fused one reads t.
func (u *unfuser) readOutsideFused(t string) bool {
	for _, c := range u.ix.Consumers(t) {
		if c.GetDomain() != Domain {
			return true
		}
	}
	return len(u.ix.Consumers(t)) == 0 // never read by a fused node either: not ours to remove
}

// opsets returns the model's opset imports without com.microsoft (no such node is left) and with a
// default-domain import when the model had none.
func (u *unfuser) opsets() []*onnx.OperatorSetIdProto {
	var out []*onnx.OperatorSetIdProto
	hasDefault := false
	for _, o := range u.src.GetOpsetImport() {
		switch o.GetDomain() {
		case Domain:
			continue
		case "", "ai.onnx":
			hasDefault = true
		}
		out = append(out, o)
	}
	if !hasDefault {
		out = append(out, &onnx.OperatorSetIdProto{Domain: proto.String(""), Version: proto.Int64(u.opset)})
	}
	return out
}
