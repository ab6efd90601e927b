// Package autodiff builds reverse-mode gradient graphs of ONNX models, as ONNX, so that
// onnxruntime computes gradients at full speed without a training API.
//
// Gradients appends to a model the backward pass of every node on a path from the tensors to
// differentiate (wrt) to a loss tensor, one small rule per operator type (see Rules). AddLoss
// appends K-prune's distillation losses to an encoder, and BuildScoring assembles the single graph
// K-prune's knowledge measurement runs once per calibration batch: loss, mask gradients and the
// activation statistics of every masked sublayer.
package autodiff

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"

	"github.com/kprune/kprune/graph/infer"
	"github.com/kprune/kprune/onnx"
	"google.golang.org/protobuf/proto"
)

// Gradients returns a copy of m (m is not modified) that also outputs, for each wrt[i], the
// gradient of loss with respect to wrt[i] (of the sum of loss's elements when loss is not a
// scalar), and a map from each wrt name to the output holding its gradient.
//
// Only nodes on a path from a wrt tensor to the loss are differentiated. Integer and boolean
// tensors and shape-like inputs (Reshape shapes, Slice bounds, Gather indices...) stop gradients.
// A tensor consumed several times gets the sum of its consumers' gradients. A wrt tensor that does
// not influence the loss gets a zero gradient. An operator without a rule on the path is an error
// naming the node.
func Gradients(m *onnx.ModelProto, loss string, wrt []string) (*onnx.ModelProto, map[string]string, error) {
	if m == nil || m.GetGraph() == nil {
		return nil, nil, errors.New("gradients: nil model or graph")
	}
	if len(wrt) == 0 {
		return nil, nil, errors.New("gradients: no tensors to differentiate with respect to")
	}
	out := shallowClone(m)
	b, err := newBuilder(out)
	if err != nil {
		return nil, nil, fmt.Errorf("gradients: %w", err)
	}
	grads, err := b.gradients(loss, wrt)
	if err != nil {
		return nil, nil, fmt.Errorf("gradients: %w", err)
	}
	res := map[string]string{}
	for i, w := range wrt {
		name := b.unique("grad_" + w)
		b.emitTo("Identity", []string{grads[i]}, []string{name})
		b.info[name] = b.info[w]
		b.addOutput(name)
		res[w] = name
	}
	if err := b.finish(); err != nil {
		return nil, nil, fmt.Errorf("gradients: %w", err)
	}
	return out, res, nil
}

// builder appends nodes and constants to a model's graph.
type builder struct {
	m      *onnx.ModelProto
	g      *onnx.GraphProto
	opset  int64
	info   map[string]infer.Info
	used   map[string]bool
	nodes  []*onnx.NodeProto
	inits  []*onnx.TensorProto
	consts map[string]string
	shapes map[string]string
	// syms caches, per symbolic dimension, a 1-element tensor holding its run-time value taken
	// from a graph input ("" when no input has it).
	syms map[string]string
	prod map[string]*onnx.NodeProto
	err  error
}

func newBuilder(m *onnx.ModelProto) (*builder, error) {
	g := m.GetGraph()
	info, err := infer.Shapes(g)
	if err != nil {
		return nil, err
	}
	opset := onnx.Opset(m)
	if opset == 0 {
		return nil, errors.New("the model imports no default-domain opset")
	}
	b := &builder{m: m, g: g, opset: opset, info: info, used: map[string]bool{}, consts: map[string]string{},
		shapes: map[string]string{}, prod: map[string]*onnx.NodeProto{}, syms: map[string]string{}}
	for _, t := range g.GetInitializer() {
		b.used[t.GetName()] = true
	}
	for _, v := range g.GetInput() {
		b.used[v.GetName()] = true
	}
	for _, n := range g.GetNode() {
		b.used[n.GetName()] = true
		for _, o := range n.GetOutput() {
			b.used[o] = true
			b.prod[o] = n
		}
	}
	return b, nil
}

// unique returns a tensor or node name not used in the graph yet, and reserves it.
func (b *builder) unique(base string) string {
	name := base
	for k := 1; b.used[name]; k++ {
		name = base + "_" + strconv.Itoa(k)
	}
	b.used[name] = true
	return name
}

// fail records the first error.
func (b *builder) fail(format string, args ...any) {
	if b.err == nil {
		b.err = fmt.Errorf(format, args...)
	}
}

// emitTo appends a node with given output names.
func (b *builder) emitTo(op string, inputs, outputs []string, attrs ...*onnx.AttributeProto) {
	b.nodes = append(b.nodes, onnx.NewNode(op, b.unique("kprune_bw/"+op), inputs, outputs, attrs...))
}

// opN appends a node with nout fresh outputs.
func (b *builder) opN(op string, inputs []string, nout int, attrs ...*onnx.AttributeProto) []string {
	outs := make([]string, nout)
	for k := range outs {
		outs[k] = b.unique("kprune_bw/" + op + "_out")
	}
	b.emitTo(op, inputs, outs, attrs...)
	if e := b.outElem(op, inputs, attrs); e != 0 {
		for _, o := range outs {
			b.info[o] = infer.Unknown(e)
		}
	}
	return outs
}

// outElem is the element type of the outputs of an emitted node (0 when unknown).
func (b *builder) outElem(op string, inputs []string, attrs []*onnx.AttributeProto) onnx.TensorProto_DataType {
	switch op {
	case "Shape", "Size":
		return onnx.TensorProto_INT64
	case "Equal", "Less", "Greater", "Not", "And", "Or":
		return onnx.TensorProto_BOOL
	case "Cast", "ConstantOfShape":
		for _, a := range attrs {
			if a.GetName() == "to" {
				return onnx.TensorProto_DataType(a.GetI())
			}
			if a.GetName() == "value" && a.T != nil {
				return onnx.TensorProto_DataType(a.T.GetDataType())
			}
		}
		return 0
	case "Where":
		if len(inputs) > 1 {
			return b.info[inputs[1]].Elem
		}
	}
	if len(inputs) > 0 {
		return b.info[inputs[0]].Elem
	}
	return 0
}

// op appends a node with one fresh output.
func (b *builder) op(op string, inputs []string, attrs ...*onnx.AttributeProto) string {
	return b.opN(op, inputs, 1, attrs...)[0]
}

// addOutput declares a graph output with the tensor's inferred type and shape.
func (b *builder) addOutput(name string) {
	in := b.info[name]
	b.g.Output = append(b.g.Output, valueInfo(name, in))
}

// valueInfo writes an Info as a value info (see infer.Info.ValueInfo).
func valueInfo(name string, in infer.Info) *onnx.ValueInfoProto { return in.ValueInfo(name) }

// finish writes the new nodes and constants into the graph.
func (b *builder) finish() error {
	if b.err != nil {
		return b.err
	}
	b.g.Node = append(b.g.Node, b.nodes...)
	b.g.Initializer = append(b.g.Initializer, b.inits...)
	if b.m.GetIrVersion() < 4 {
		for _, t := range b.inits {
			b.g.Input = append(b.g.Input, onnx.NewValueInfo(t.GetName(), onnx.TensorProto_DataType(t.GetDataType()), dimsOf(t.GetDims())))
		}
	}
	b.nodes, b.inits = nil, nil
	return nil
}

func dimsOf(d []int64) []onnx.Dim {
	out := make([]onnx.Dim, len(d))
	for k, v := range d {
		out[k] = onnx.Dim{Value: v}
	}
	return out
}

// gradients emits the backward pass and returns, for each wrt, the tensor holding its gradient.
func (b *builder) gradients(loss string, wrt []string) ([]string, error) {
	wrtSet, err := b.checkTargets(loss, wrt)
	if err != nil {
		return nil, err
	}
	order, err := infer.TopoSort(b.g)
	if err != nil {
		return nil, err
	}
	active := b.activeTensors(order, wrtSet)
	path, needed := backwardPath(order, active, loss)
	// contrib holds, per tensor, the gradient contributions of its consumers.
	contrib := map[string][]string{}
	if active[loss] {
		contrib[loss] = []string{b.ones(loss)}
	}
	for _, n := range path {
		if err := b.backpropNode(n, contrib, active, needed); err != nil {
			return nil, err
		}
	}
	res := make([]string, len(wrt))
	for i, w := range wrt {
		if c := contrib[w]; len(c) > 0 {
			res[i] = b.sum(w, c)
		} else {
			res[i] = b.zerosLike(w)
		}
	}
	return res, b.err
}

// checkTargets checks that loss and the wrt tensors are floating-point tensors of the graph and
// returns the set of wrt tensors.
func (b *builder) checkTargets(loss string, wrt []string) (map[string]bool, error) {
	li, ok := b.info[loss]
	if !ok {
		return nil, fmt.Errorf("loss tensor %q is not in the graph", loss)
	}
	if !infer.IsFloat(li.Elem) {
		return nil, fmt.Errorf("loss tensor %q has element type %s, want a floating-point type", loss, li.Elem)
	}
	wrtSet := map[string]bool{}
	for _, w := range wrt {
		wi, ok := b.info[w]
		if !ok {
			return nil, fmt.Errorf("tensor %q to differentiate with respect to is not in the graph", w)
		}
		if !infer.IsFloat(wi.Elem) {
			return nil, fmt.Errorf("tensor %q to differentiate with respect to has element type %s, want a floating-point type", w, wi.Elem)
		}
		wrtSet[w] = true
	}
	return wrtSet, nil
}

// activeTensors returns the tensors that depend on a wrt tensor through floating-point values
// (the forward sweep over the nodes in topological order).
func (b *builder) activeTensors(order []*onnx.NodeProto, wrtSet map[string]bool) map[string]bool {
	active := map[string]bool{}
	for w := range wrtSet {
		active[w] = true
	}
	for _, n := range order {
		if !slices.ContainsFunc(n.GetInput(), func(in string) bool { return active[in] }) {
			continue
		}
		for _, o := range n.GetOutput() {
			if o != "" && infer.IsFloat(b.info[o].Elem) {
				active[o] = true
			}
		}
	}
	return active
}

// backwardPath returns the nodes with an active input whose outputs reach the loss, in reverse
// topological order, and the tensors whose gradient the loss needs.
func backwardPath(order []*onnx.NodeProto, active map[string]bool, loss string) ([]*onnx.NodeProto, map[string]bool) {
	needed := map[string]bool{loss: active[loss]}
	var path []*onnx.NodeProto
	for i := len(order) - 1; i >= 0; i-- {
		n := order[i]
		if !slices.ContainsFunc(n.GetOutput(), func(o string) bool { return needed[o] }) {
			continue
		}
		hasActive := false
		for _, in := range n.GetInput() {
			if active[in] {
				hasActive = true
				needed[in] = true
			}
		}
		if hasActive {
			path = append(path, n)
		}
	}
	return path, needed
}

// backpropNode emits the gradient rule of node n: from the summed contributions to its outputs'
// gradients it adds contributions to the gradients of its needed inputs.
func (b *builder) backpropNode(n *onnx.NodeProto, contrib map[string][]string, active, needed map[string]bool) error {
	r, ok := lookupRule(n)
	if !ok {
		return fmt.Errorf("node %q: no gradient rule for operator %s%s (it lies between the differentiated tensors and the loss)", n.GetName(), domainPrefix(n), n.GetOpType())
	}
	gy := make([]string, len(n.GetOutput()))
	anyGrad := false
	for k, o := range n.GetOutput() {
		if o == "" {
			continue
		}
		gy[k] = b.sum(o, contrib[o])
		if gy[k] != "" {
			anyGrad = true
		}
	}
	if !anyGrad {
		return nil
	}
	need := make([]bool, len(n.GetInput()))
	for k, in := range n.GetInput() {
		if !active[in] || !needed[in] {
			continue
		}
		if !r.differentiable(n, k) {
			return fmt.Errorf("node %q (%s): input %d (%q) depends on the differentiated tensors, but the %s gradient rule does not propagate through that input", n.GetName(), n.GetOpType(), k, in, n.GetOpType())
		}
		need[k] = true
	}
	gx, err := r.grad(b, n, gy, need)
	if err == nil && b.err != nil {
		err = b.err
	}
	if err != nil {
		return fmt.Errorf("node %q (%s): %w", n.GetName(), n.GetOpType(), err)
	}
	for k, in := range n.GetInput() {
		if !need[k] || k >= len(gx) || gx[k] == "" {
			continue
		}
		if _, ok := b.info[gx[k]]; !ok || b.info[gx[k]].Rank < 0 {
			b.info[gx[k]] = b.info[in]
		}
		contrib[in] = append(contrib[in], gx[k])
	}
	return nil
}

func domainPrefix(n *onnx.NodeProto) string {
	if d := n.GetDomain(); d != "" && d != "ai.onnx" {
		return d + "."
	}
	return ""
}

// sum returns the sum of gradient contributions to tensor t ("" when there are none).
func (b *builder) sum(t string, c []string) string {
	switch len(c) {
	case 0:
		return ""
	case 1:
		return c[0]
	}
	s := b.op("Sum", c)
	b.info[s] = b.info[t]
	return s
}

// ones returns a tensor of ones shaped like t (the seed gradient of the loss).
func (b *builder) ones(t string) string {
	in := b.info[t]
	if in.Rank == 0 {
		return b.constF(in.Elem, 1)
	}
	if nel := in.NumElements(); nel >= 0 && nel <= 4096 {
		vals := make([]float64, nel)
		for k := range vals {
			vals[k] = 1
		}
		return b.constTensor(in.Elem, in.Dims, vals)
	}
	return b.fill(b.shapeOf(t), in.Elem, 1)
}

// zerosLike returns a tensor of zeros shaped like t.
func (b *builder) zerosLike(t string) string {
	in := b.info[t]
	z := b.fill(b.shapeOf(t), in.Elem, 0)
	b.info[z] = in
	return z
}

// fill emits ConstantOfShape(shape) with value v of type elem.
func (b *builder) fill(shape string, elem onnx.TensorProto_DataType, v float64) string {
	t := b.tensor(elem, []int64{1}, []float64{v})
	if t == nil {
		return ""
	}
	t.Name = proto.String("value")
	return b.op("ConstantOfShape", []string{shape}, onnx.AttrTensor("value", t))
}

// tensor builds a float tensor proto of type elem.
func (b *builder) tensor(elem onnx.TensorProto_DataType, dims []int64, vals []float64) *onnx.TensorProto {
	switch elem {
	case onnx.TensorProto_FLOAT:
		f := make([]float32, len(vals))
		for k, v := range vals {
			f[k] = float32(v)
		}
		return onnx.NewFloatTensor("", dims, f)
	case onnx.TensorProto_DOUBLE:
		return onnx.NewDoubleTensor("", dims, vals)
	}
	b.fail("element type %s is not supported in gradient graphs (want FLOAT or DOUBLE)", elem)
	return nil
}

// constTensor adds a float initializer of type elem (cached by content).
func (b *builder) constTensor(elem onnx.TensorProto_DataType, dims []int64, vals []float64) string {
	key := fmt.Sprint("f", elem, dims, vals)
	if name, ok := b.consts[key]; ok {
		return name
	}
	t := b.tensor(elem, dims, vals)
	if t == nil {
		return ""
	}
	name := b.unique("kprune_c/f")
	t.Name = proto.String(name)
	b.inits = append(b.inits, t)
	b.consts[key] = name
	ds := make([]infer.SymInt, len(dims))
	for k, d := range dims {
		ds[k] = infer.SymInt{Known: true, V: d}
	}
	in := infer.FromDims(elem, ds)
	if len(vals) <= 64 {
		in.Float = vals
	}
	b.info[name] = in
	return name
}

// constF returns a scalar constant of type elem.
func (b *builder) constF(elem onnx.TensorProto_DataType, v float64) string {
	return b.constTensor(elem, nil, []float64{v})
}

// constI returns a 1-D int64 constant.
func (b *builder) constI(vals ...int64) string {
	return b.constInt(false, vals)
}

func (b *builder) constInt(scalar bool, vals []int64) string {
	key := fmt.Sprint("i", scalar, vals)
	if name, ok := b.consts[key]; ok {
		return name
	}
	dims := []int64{int64(len(vals))}
	if scalar {
		dims = nil
	}
	name := b.unique("kprune_c/i")
	b.inits = append(b.inits, onnx.NewInt64Tensor(name, dims, vals))
	b.consts[key] = name
	ds := make([]infer.SymInt, len(dims))
	for k, d := range dims {
		ds[k] = infer.SymInt{Known: true, V: d}
	}
	in := infer.FromDims(onnx.TensorProto_INT64, ds)
	in.Value = vals
	b.info[name] = in
	return name
}

// shapeOf returns a 1-D int64 tensor holding t's shape: a constant when it is static.
func (b *builder) shapeOf(t string) string {
	in := b.info[t]
	if in.Static() {
		return b.constI(in.Dims...)
	}
	if s, ok := b.shapes[t]; ok {
		return s
	}
	// Prefer assembling the shape from graph inputs that carry the same symbolic dimensions
	// (batch, seq): a Shape of t itself would keep t alive until the backward pass reads it.
	if in.Rank > 0 {
		parts := make([]string, in.Rank)
		ok := true
		for k := range parts {
			d := in.Dim(k)
			switch {
			case d.Known:
				parts[k] = b.constI(d.V)
			case b.symSource(d.Sym) != "":
				parts[k] = b.symSource(d.Sym)
			default:
				ok = false
			}
		}
		if ok {
			s := b.concatDims(parts)
			b.shapes[t] = s
			return s
		}
	}
	s := b.op("Shape", []string{t})
	b.shapes[t] = s
	b.info[s] = infer.FromDims(onnx.TensorProto_INT64, []infer.SymInt{{Known: in.Rank >= 0, V: int64(in.Rank)}})
	return s
}

// dimOf returns a 1-element int64 tensor holding dimension k of t.
func (b *builder) dimOf(t string, k int) string {
	in := b.info[t]
	d := in.Dim(k)
	if d.Known {
		return b.constI(d.V)
	}
	if src := b.symSource(d.Sym); src != "" {
		return src
	}
	return b.op("Gather", []string{b.shapeOf(t), b.constI(int64(k))}, onnx.AttrInt("axis", 0))
}

// axesOp emits an operator whose axes are an attribute before opset `since` and an input from it.
func (b *builder) axesOp(op string, since int64, x string, axes []int64, attrs ...*onnx.AttributeProto) string {
	if b.opset >= since {
		return b.op(op, []string{x, b.constI(axes...)}, attrs...)
	}
	return b.op(op, []string{x}, append(attrs, onnx.AttrInts("axes", axes...))...)
}

func ints(a []int) []int64 {
	out := make([]int64, len(a))
	for k, v := range a {
		out[k] = int64(v)
	}
	return out
}

func keepAttr(keep bool) *onnx.AttributeProto {
	if keep {
		return onnx.AttrInt("keepdims", 1)
	}
	return onnx.AttrInt("keepdims", 0)
}

// reduceSum sums x over axes.
func (b *builder) reduceSum(x string, axes []int, keep bool) string {
	return b.axesOp("ReduceSum", 13, x, ints(axes), keepAttr(keep))
}

// reduceMean averages x over axes.
func (b *builder) reduceMean(x string, axes []int, keep bool) string {
	return b.axesOp("ReduceMean", 18, x, ints(axes), keepAttr(keep))
}

// squeeze removes axes of size one.
func (b *builder) squeeze(x string, axes []int) string {
	return b.axesOp("Squeeze", 13, x, ints(axes))
}

// unsqueeze inserts axes of size one.
func (b *builder) unsqueeze(x string, axes []int) string {
	return b.axesOp("Unsqueeze", 13, x, ints(axes))
}

// reshapeLike reshapes g to t's shape.
func (b *builder) reshapeLike(g, t string) string {
	r := b.op("Reshape", []string{g, b.shapeOf(t)})
	b.info[r] = b.info[t]
	return r
}

func (b *builder) mul(x, y string) string { return b.op("Mul", []string{x, y}) }
func (b *builder) add(x, y string) string { return b.op("Add", []string{x, y}) }
func (b *builder) sub(x, y string) string { return b.op("Sub", []string{x, y}) }
func (b *builder) div(x, y string) string { return b.op("Div", []string{x, y}) }
func (b *builder) neg(x string) string    { return b.op("Neg", []string{x}) }

// elemOf returns the element type of t, recording an error when it is unknown.
func (b *builder) elemOf(t string) onnx.TensorProto_DataType {
	e := b.info[t].Elem
	if e == 0 {
		b.fail("the element type of %q is unknown", t)
	}
	return e
}

// unbroadcast sums gradient g (shaped like out) down to the shape of x, undoing numpy
// broadcasting: over leading axes x lacks and over axes where x's dimension is 1. Axes where it
// cannot be decided statically are decided at run time (opset >= 13).
func (b *builder) unbroadcast(g string, out infer.Info, x string) string {
	xi := b.info[x]
	if out.Rank < 0 || xi.Rank < 0 {
		b.fail("cannot undo broadcasting onto %q: rank unknown", x)
		return ""
	}
	lead := out.Rank - xi.Rank
	if lead < 0 {
		b.fail("cannot undo broadcasting onto %q: it has rank %d, more than the result's %d", x, xi.Rank, out.Rank)
		return ""
	}
	var static, dyn []int
	for k := 0; k < out.Rank; k++ {
		if k < lead {
			static = append(static, k)
			continue
		}
		xd, od := xi.Dim(k-lead), out.Dim(k)
		switch {
		case xd.Same(od):
		case xd.Is(1):
			static = append(static, k)
		case xd.Known:
		default:
			dyn = append(dyn, k)
		}
	}
	if len(static) == 0 && len(dyn) == 0 {
		return g
	}
	var r string
	if len(dyn) == 0 {
		r = b.reduceSum(g, static, true)
	} else {
		if b.opset < 13 {
			b.fail("undoing broadcasting onto %q needs run-time axes (dimensions %v are not known to match), which ReduceSum supports from opset 13; this model has opset %d", x, dyn, b.opset)
			return ""
		}
		xs := make([]int64, len(dyn))
		for k, d := range dyn {
			xs[k] = int64(d - lead)
		}
		dimsX := b.op("Gather", []string{b.shapeOf(x), b.constI(xs...)}, onnx.AttrInt("axis", 0))
		isOne := b.op("Equal", []string{dimsX, b.constI(1)})
		axes := b.op("Compress", []string{b.constI(ints(dyn)...), isOne}, onnx.AttrInt("axis", 0))
		if len(static) > 0 {
			axes = b.op("Concat", []string{b.constI(ints(static)...), axes}, onnx.AttrInt("axis", 0))
		}
		r = b.op("ReduceSum", []string{g, axes}, onnx.AttrInt("keepdims", 1), onnx.AttrInt("noop_with_empty_axes", 1))
	}
	if lead > 0 {
		lv := make([]int, lead)
		for k := range lv {
			lv[k] = k
		}
		r = b.squeeze(r, lv)
	}
	b.info[r] = xi
	return r
}

// sortedInts returns a sorted copy.
func sortedInts(a []int) []int {
	c := append([]int{}, a...)
	sort.Ints(c)
	return c
}

// redeclareInputs rewrites, in cut (modified in place), the value infos of the graph inputs that
// are inner tensors of full with the types and shapes inferred on full, so that a graph cut out
// of a bigger one declares its new inputs exactly ([batch, seq, D] for a hidden state).
func redeclareInputs(cut, full *onnx.ModelProto) error {
	info, err := infer.Shapes(full.GetGraph())
	if err != nil {
		return err
	}
	orig := map[string]bool{}
	for _, v := range full.GetGraph().GetInput() {
		orig[v.GetName()] = true
	}
	for k, v := range cut.GetGraph().GetInput() {
		if in, ok := info[v.GetName()]; ok && !orig[v.GetName()] && in.Rank >= 0 && in.Elem != 0 {
			cut.Graph.Input[k] = valueInfo(v.GetName(), in)
		}
	}
	return nil
}

// symSource returns a 1-element int64 tensor holding the run-time value of symbolic dimension
// sym, read from the shape of a graph input that has it, or "" when no graph input does.
func (b *builder) symSource(sym string) string {
	if sym == "" {
		return ""
	}
	if s, ok := b.syms[sym]; ok {
		return s
	}
	src := ""
	inits := map[string]bool{}
	for _, t := range b.g.GetInitializer() {
		inits[t.GetName()] = true
	}
	for _, v := range b.g.GetInput() {
		in := b.info[v.GetName()]
		if inits[v.GetName()] || in.Rank <= 0 {
			continue
		}
		for k := 0; k < in.Rank && src == ""; k++ {
			if in.Dims[k] < 0 && in.Syms[k] == sym {
				s, ok := b.shapes[v.GetName()]
				if !ok {
					s = b.op("Shape", []string{v.GetName()})
					b.shapes[v.GetName()] = s
					b.info[s] = infer.FromDims(onnx.TensorProto_INT64, []infer.SymInt{{Known: true, V: int64(in.Rank)}})
				}
				src = b.op("Gather", []string{s, b.constI(int64(k))}, onnx.AttrInt("axis", 0))
				b.info[src] = infer.FromDims(onnx.TensorProto_INT64, []infer.SymInt{{Known: true, V: 1}})
			}
		}
		if src != "" {
			break
		}
	}
	b.syms[sym] = src
	return src
}

// shallowClone copies a model's structure (the model, its graph and the graph's lists) but shares
// the nodes, initializers and value infos, which this package never modifies: it only appends
// to the lists and replaces list entries. Copying weights would cost a BERT-base's 440 MB per call.
func shallowClone(m *onnx.ModelProto) *onnx.ModelProto {
	c := &onnx.ModelProto{
		IrVersion: m.IrVersion, OpsetImport: m.OpsetImport, ProducerName: m.ProducerName,
		ProducerVersion: m.ProducerVersion, Domain: m.Domain, ModelVersion: m.ModelVersion,
		DocString: m.DocString, MetadataProps: m.MetadataProps, Functions: m.Functions,
	}
	if g := m.GetGraph(); g != nil {
		c.Graph = &onnx.GraphProto{
			Name: g.Name, DocString: g.DocString,
			Node:                   append([]*onnx.NodeProto(nil), g.Node...),
			Initializer:            append([]*onnx.TensorProto(nil), g.Initializer...),
			SparseInitializer:      g.SparseInitializer,
			Input:                  append([]*onnx.ValueInfoProto(nil), g.Input...),
			Output:                 append([]*onnx.ValueInfoProto(nil), g.Output...),
			ValueInfo:              append([]*onnx.ValueInfoProto(nil), g.ValueInfo...),
			QuantizationAnnotation: g.QuantizationAnnotation,
			MetadataProps:          g.MetadataProps,
		}
	}
	return c
}
