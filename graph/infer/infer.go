// Package infer is kprune's shape inference: it computes the element type, rank and static
// dimensions of every tensor of an ONNX graph, for the operators BERT-family exports use. It is
// the one shape engine of the module: encoder discovery and the rewrites of package graph (head
// counts hidden in Concat-built Reshape shapes, output ranks, value infos of extracted
// sub-models), the gradient graphs of graph/autodiff and the unfusing of graph/fused all read it.
//
// Dimensions that are only known at run time (batch, sequence length) are kept as symbols: two
// dimensions carrying the same symbol are equal at run time, which is what gradient code needs to
// decide whether broadcasting happened. Symbols the graph names (dim_params) keep their names;
// inference makes up "?1", "?2"... for the others.
//
// Small integer tensors computed from shapes (Shape, Gather, Unsqueeze, Concat, Range, Equal,
// Where, ...) are folded in Go, element by element, keeping symbols where values are only known
// symbolically, so that Reshape and Expand targets built at run time still give static or
// symbolic output shapes.
//
// Each operator has one rule (see registry.go), as in onnxruntime's kernel registry. Operators
// without a rule produce tensors of unknown rank; that is not an error. Shapes reports graphs
// that contradict themselves; Partial, for graphs being edited or checked, never fails.
package infer

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/kprune/kprune/onnx"
)

// maxFold is the largest number of elements of an integer tensor whose values are tracked.
const maxFold = 4096

// maxFloatConst is the largest number of elements of a float constant whose values are kept.
const maxFloatConst = 64

// SymInt is one element of a partially known integer tensor (or one dimension): either a known
// value, or a symbol naming an unknown non-negative value ("" when nothing is known).
type SymInt struct {
	Known bool
	V     int64
	Sym   string
}

// Info is what is statically known about one tensor.
type Info struct {
	// Elem is the element type (0 when unknown).
	Elem onnx.TensorProto_DataType
	// Rank is the number of dimensions, -1 when unknown.
	Rank int
	// Dims has Rank entries: the size, or -1 when it is only known at run time.
	Dims []int64
	// Syms has Rank entries: for a dimension of unknown size, a symbol ("" when nothing is
	// known). Two dimensions with the same symbol are equal at run time. Graph-input dimensions
	// keep their dim_param names (e.g. "batch").
	Syms []string
	// Value holds the values (row-major) of a small integer or boolean tensor known at build time,
	// nil otherwise.
	Value []int64
	// Parts holds the elements of a small 0-D or 1-D integer tensor when at least some are known
	// or symbolic (typically a shape built at run time); nil otherwise.
	Parts []SymInt
	// Float holds the values of a small floating-point constant (an initializer or a Constant
	// node, possibly through Identity or Cast), nil otherwise.
	Float []float64
}

// Unknown returns an Info of unknown rank with the given element type.
func Unknown(elem onnx.TensorProto_DataType) Info { return Info{Elem: elem, Rank: -1} }

// KnownRank reports whether the rank is known.
func (i Info) KnownRank() bool { return i.Rank >= 0 }

// Static reports whether the rank and every dimension are known.
func (i Info) Static() bool {
	if i.Rank < 0 {
		return false
	}
	for _, d := range i.Dims {
		if d < 0 {
			return false
		}
	}
	return true
}

// Dim returns dimension k (negative k counts from the end) as a SymInt.
func (i Info) Dim(k int) SymInt {
	if k < 0 {
		k += i.Rank
	}
	if k < 0 || k >= i.Rank {
		return SymInt{}
	}
	if i.Dims[k] >= 0 {
		return SymInt{Known: true, V: i.Dims[k]}
	}
	return SymInt{Sym: i.Syms[k]}
}

// NumElements returns the number of elements when every dimension is known, else -1.
func (i Info) NumElements() int64 {
	if !i.Static() {
		return -1
	}
	return onnx.NumElements(i.Dims)
}

// SameDim reports whether dimension a of i and dimension b of j are provably equal at run time.
func SameDim(i Info, a int, j Info, b int) bool {
	return i.Dim(a).Same(j.Dim(b))
}

// Same reports whether two SymInts are provably equal.
func (s SymInt) Same(t SymInt) bool {
	if s.Known || t.Known {
		return s.Known && t.Known && s.V == t.V
	}
	return s.Sym != "" && s.Sym == t.Sym
}

// Named reports whether s is a symbol the graph itself names (a dim_param such as "batch"),
// rather than a value, nothing, or a symbol inference made up ("?1", "?2"...).
func (s SymInt) Named() bool { return !s.Known && s.Sym != "" && !strings.HasPrefix(s.Sym, "?") }

// Is reports whether s is known to equal v.
func (s SymInt) Is(v int64) bool { return s.Known && s.V == v }

// String renders a SymInt as its value, its symbol, or "?".
func (s SymInt) String() string {
	switch {
	case s.Known:
		return strconv.FormatInt(s.V, 10)
	case s.Sym != "":
		return s.Sym
	}
	return "?"
}

// String renders the info like "FLOAT[batch,seq,128]".
func (i Info) String() string {
	var b strings.Builder
	if i.Elem != 0 {
		b.WriteString(i.Elem.String())
	}
	if i.Rank < 0 {
		b.WriteString("[rank?]")
		return b.String()
	}
	b.WriteByte('[')
	for k := 0; k < i.Rank; k++ {
		if k > 0 {
			b.WriteByte(',')
		}
		b.WriteString(i.Dim(k).String())
	}
	b.WriteByte(']')
	return b.String()
}

// Shape returns the dimensions as onnx.Dim values, nil when the rank is unknown: known sizes as
// values, symbols as dim_params (inference's own symbols "?n" as "unk_n"). A dimension with no
// symbol comes back as the zero Dim, which onnx.NewValueInfo would write as size 0: use ValueInfo
// to write value infos.
func (i Info) Shape() []onnx.Dim {
	if i.Rank < 0 {
		return nil
	}
	out := make([]onnx.Dim, i.Rank)
	for k := range out {
		switch s := i.Syms[k]; {
		case i.Dims[k] >= 0:
			out[k] = onnx.Dim{Value: i.Dims[k]}
		case strings.HasPrefix(s, "?"):
			out[k] = onnx.Dim{Param: "unk_" + s[1:]}
		case s != "":
			out[k] = onnx.Dim{Param: s}
		}
	}
	return out
}

// ValueInfo writes the info as a tensor value info called name. Symbols given by the graph (such
// as "batch") become dim_params; dimensions known only to inference are left without value or
// name, which onnxruntime reads as "any size".
func (i Info) ValueInfo(name string) *onnx.ValueInfoProto {
	v := onnx.NewValueInfo(name, i.Elem, i.Shape())
	if i.Rank >= 0 {
		for k, d := range v.GetType().GetTensorType().GetShape().GetDim() {
			if i.Dims[k] < 0 && !i.Dim(k).Named() {
				d.Value = nil
			}
		}
	}
	return v
}

// FromDims builds an Info of known rank from SymInt dimensions.
func FromDims(elem onnx.TensorProto_DataType, dims []SymInt) Info {
	in := Info{Elem: elem, Rank: len(dims), Dims: make([]int64, len(dims)), Syms: make([]string, len(dims))}
	for k, d := range dims {
		if d.Known {
			in.Dims[k] = d.V
		} else {
			in.Dims[k] = -1
			in.Syms[k] = d.Sym
		}
	}
	return in
}

// DimList returns the dimensions as SymInts (nil when the rank is unknown).
func (i Info) DimList() []SymInt {
	if i.Rank < 0 {
		return nil
	}
	out := make([]SymInt, i.Rank)
	for k := range out {
		out[k] = i.Dim(k)
	}
	return out
}

// IsFloat reports whether the element type is a floating-point type.
func IsFloat(e onnx.TensorProto_DataType) bool {
	switch e {
	case onnx.TensorProto_FLOAT, onnx.TensorProto_DOUBLE, onnx.TensorProto_FLOAT16, onnx.TensorProto_BFLOAT16:
		return true
	}
	return false
}

func isIntLike(e onnx.TensorProto_DataType) bool {
	switch e {
	case onnx.TensorProto_INT64, onnx.TensorProto_INT32, onnx.TensorProto_INT16, onnx.TensorProto_INT8,
		onnx.TensorProto_UINT8, onnx.TensorProto_UINT16, onnx.TensorProto_UINT32, onnx.TensorProto_UINT64,
		onnx.TensorProto_BOOL:
		return true
	}
	return false
}

// Shapes infers an Info for every tensor of g: graph inputs, initializers and node outputs.
// Graph inputs take their declared shapes (dim_params become symbols); value_info entries fill
// gaps. The error names the node when the graph is malformed (an input no node produces, a
// cycle, incompatible known dimensions).
func Shapes(g *onnx.GraphProto) (map[string]Info, error) {
	return run(g, false)
}

// Map holds the Info of the tensors of a graph by name.
type Map map[string]Info

// Of returns the Info of tensor name, of unknown rank when the map has none.
func (m Map) Of(name string) Info {
	if in, ok := m[name]; ok {
		return in
	}
	return Info{Rank: -1}
}

// Partial is Shapes for graphs that may be malformed or that inference cannot fully follow; it
// never fails. An input no node produces is of unknown rank; a node whose inputs contradict its
// operator keeps what its rule could still tell (the rank, the dimensions that agree), unknown
// otherwise, filled from value_info entries like any other; on a cycle, the nodes are visited in
// graph order. On a graph Shapes accepts, Partial gives the same result.
func Partial(g *onnx.GraphProto) Map {
	info, _ := run(g, true)
	return info
}

// run is Shapes, or Partial when lenient.
func run(g *onnx.GraphProto, lenient bool) (Map, error) {
	st := &state{info: map[string]Info{}, assumeValid: lenient, inputSyms: map[string]bool{}}
	for _, t := range g.GetInitializer() {
		st.info[t.GetName()] = tensorInfo(t)
	}
	for _, v := range g.GetInput() {
		if _, ok := st.info[v.GetName()]; ok {
			continue
		}
		in := st.fromValueInfo(v)
		for _, s := range in.Syms {
			if s != "" {
				st.inputSyms[s] = true
			}
		}
		st.info[v.GetName()] = in
	}
	hints := map[string]*onnx.ValueInfoProto{}
	for _, v := range g.GetValueInfo() {
		hints[v.GetName()] = v
	}
	for _, v := range g.GetOutput() {
		hints[v.GetName()] = v
	}
	order, err := TopoSort(g)
	if err != nil {
		if !lenient {
			return nil, err
		}
		order = g.GetNode()
	}
	for _, n := range order {
		ins := make([]Info, len(n.GetInput()))
		for k, name := range n.GetInput() {
			if name == "" {
				ins[k] = Info{Rank: -1}
				continue
			}
			in, ok := st.info[name]
			if !ok {
				if lenient {
					ins[k] = Info{Rank: -1}
					continue
				}
				return nil, fmt.Errorf("node %q (%s): input %q is not a graph input, an initializer or the output of an earlier node", n.GetName(), n.GetOpType(), name)
			}
			ins[k] = in
		}
		var outs []Info
		if lenient {
			outs = st.tryNode(n, ins)
		} else if outs, err = st.node(n, ins); err != nil {
			return nil, fmt.Errorf("node %q (%s): %w", n.GetName(), n.GetOpType(), err)
		}
		for k, name := range n.GetOutput() {
			if name == "" {
				continue
			}
			o := Info{Rank: -1}
			if k < len(outs) {
				o = outs[k]
			}
			if o.Rank >= 0 && (len(o.Dims) != o.Rank || len(o.Syms) != o.Rank) {
				o = FromDims(o.Elem, o.DimList())
			}
			if h := hints[name]; h != nil {
				o = st.merge(o, h)
			}
			for k := range o.Syms {
				if o.Dims[k] < 0 && o.Syms[k] == "" {
					o.Syms[k] = st.fresh()
				}
			}
			st.info[name] = o
		}
	}
	return st.info, nil
}

// tryNode is node for Partial: a node whose rule fails keeps what the rule could tell; one whose
// rule panics on inputs it does not expect gets no outputs.
func (st *state) tryNode(n *onnx.NodeProto, ins []Info) (outs []Info) {
	defer func() {
		if recover() != nil {
			outs = nil
		}
	}()
	outs, _ = st.node(n, ins)
	return outs
}

// TopoSort returns the nodes of g in an order where every node comes after the producers of its
// inputs. It keeps the given order when it is already topological.
func TopoSort(g *onnx.GraphProto) ([]*onnx.NodeProto, error) {
	nodes := g.GetNode()
	producer := map[string]int{}
	for i, n := range nodes {
		for _, o := range n.GetOutput() {
			if o != "" {
				producer[o] = i
			}
		}
	}
	state := make([]uint8, len(nodes)) // 0 new, 1 visiting, 2 done
	order := make([]*onnx.NodeProto, 0, len(nodes))
	visit := func(root int) error {
		type frame struct{ i, next int }
		stack := []frame{{root, 0}}
		state[root] = 1
		for len(stack) > 0 {
			f := &stack[len(stack)-1]
			n := nodes[f.i]
			if f.next < len(n.GetInput()) {
				in := n.GetInput()[f.next]
				f.next++
				p, ok := producer[in]
				if !ok || in == "" {
					continue
				}
				switch state[p] {
				case 1:
					return fmt.Errorf("node %q (%s): the graph has a cycle through tensor %q", n.GetName(), n.GetOpType(), in)
				case 0:
					state[p] = 1
					stack = append(stack, frame{p, 0})
				}
				continue
			}
			state[f.i] = 2
			order = append(order, n)
			stack = stack[:len(stack)-1]
		}
		return nil
	}
	for i := range nodes {
		if state[i] == 0 {
			if err := visit(i); err != nil {
				return nil, err
			}
		}
	}
	return order, nil
}

type state struct {
	info map[string]Info
	n    int
	// assumeValid is set for Partial: see broadcastDims.
	assumeValid bool
	// inputSyms holds the symbols made up for graph-input dimensions the graph does not name.
	inputSyms map[string]bool
}

// fromInput tells whether s is a dimension of a graph input, or derives from one through value
// tracking (a symbol the graph names, or one made up for an unnamed graph-input dimension).
func (st *state) fromInput(s SymInt) bool { return s.Named() || st.inputSyms[s.Sym] }

func (st *state) fresh() string {
	st.n++
	return "?" + strconv.Itoa(st.n)
}

func (st *state) fromValueInfo(v *onnx.ValueInfoProto) Info {
	elem, shape, ok := onnx.ValueInfoShape(v)
	if !ok {
		return Info{Elem: onnx.TensorProto_DataType(elem), Rank: -1}
	}
	dims := make([]SymInt, len(shape))
	for k, d := range shape {
		switch {
		case d.Param != "":
			dims[k] = SymInt{Sym: d.Param}
		case d.Value > 0:
			dims[k] = SymInt{Known: true, V: d.Value}
		default:
			dims[k] = SymInt{Sym: st.fresh()}
		}
	}
	return FromDims(onnx.TensorProto_DataType(elem), dims)
}

// merge fills what inference left unknown in o from a value_info hint.
func (st *state) merge(o Info, h *onnx.ValueInfoProto) Info {
	hi := st.fromValueInfo(h)
	if o.Elem == 0 {
		o.Elem = hi.Elem
	}
	if hi.Rank < 0 {
		return o
	}
	if o.Rank < 0 {
		hi.Elem = o.Elem
		hi.Value, hi.Parts, hi.Float = o.Value, o.Parts, o.Float
		return hi
	}
	if o.Rank != hi.Rank {
		return o
	}
	for k := range o.Dims {
		if o.Dims[k] < 0 && hi.Dims[k] >= 0 {
			o.Dims[k] = hi.Dims[k]
			o.Syms[k] = ""
		}
	}
	return o
}

// tensorInfo describes a constant tensor, with its values when it is small.
func tensorInfo(t *onnx.TensorProto) Info {
	dims := make([]SymInt, len(t.GetDims()))
	for k, d := range t.GetDims() {
		dims[k] = SymInt{Known: true, V: d}
	}
	in := FromDims(onnx.TensorProto_DataType(t.GetDataType()), dims)
	n := onnx.NumElements(t.GetDims())
	switch {
	case isIntLike(in.Elem) && n <= maxFold:
		if v, err := onnx.Int64s(t); err == nil {
			in.Value = v
			in.Parts = partsOf(in)
		}
	case IsFloat(in.Elem) && n <= maxFloatConst:
		if v, err := onnx.Float64s(t); err == nil {
			in.Float = v
		}
	}
	return in
}

// partsOf returns Parts for a 0-D or 1-D tensor with a known Value.
func partsOf(in Info) []SymInt {
	if in.Value == nil || in.Rank > 1 {
		return nil
	}
	p := make([]SymInt, len(in.Value))
	for k, v := range in.Value {
		p[k] = SymInt{Known: true, V: v}
	}
	return p
}

// withValue returns an integer Info with the given shape and values.
func withValue(elem onnx.TensorProto_DataType, dims []int64, v []int64) Info {
	ds := make([]SymInt, len(dims))
	for k, d := range dims {
		ds[k] = SymInt{Known: true, V: d}
	}
	in := FromDims(elem, ds)
	in.Value = v
	in.Parts = partsOf(in)
	return in
}

// withParts returns a 1-D (or 0-D when scalar) integer Info from parts; it sets Value when every
// part is known.
func withParts(elem onnx.TensorProto_DataType, parts []SymInt, scalar bool) Info {
	var in Info
	if scalar {
		in = FromDims(elem, nil)
	} else {
		in = FromDims(elem, []SymInt{{Known: true, V: int64(len(parts))}})
	}
	in.Parts = parts
	all := true
	v := make([]int64, len(parts))
	for k, p := range parts {
		if !p.Known {
			all = false
			break
		}
		v[k] = p.V
	}
	if all {
		in.Value = v
	}
	return in
}
