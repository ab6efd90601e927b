package quantize

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/kprune/kprune/graph"
	"github.com/kprune/kprune/graph/fused"
	"github.com/kprune/kprune/onnx"
)

// linear is a MatMul or Gemm with a constant float32 weight, chosen for quantization.
type linear struct {
	node *onnx.NodeProto
	gemm bool
	// x is the activation input, y the node's output, bias the Gemm's C input ("" for MatMul or
	// a Gemm without C).
	x, y, bias string
	// wName names the quantized tensors (the weight input's name, as quantize_dynamic names
	// them); w is the weight as [k, n] = [in, out], row-major (transposed for Gemm transB=1).
	wName string
	w     []float32
	k, n  int
}

// gatherTable is an embedding Gather of a constant float table, chosen for quantization.
type gatherTable struct {
	node  *onnx.NodeProto
	table string
	t     *onnx.TensorProto
}

// plan is what a quantization run works on: the model in standard ONNX and the nodes to
// quantize.
type plan struct {
	m       *onnx.ModelProto
	ix      *graph.Index
	linears []*linear
	gathers []*gatherTable
	rep     *Report
	enc     *graph.Encoder
}

// quantizedOps are operators only quantized models have (onnx's and onnxruntime's).
var quantizedOps = map[string]bool{
	"MatMulInteger": true, "DynamicQuantizeLinear": true, "QuantizeLinear": true, "DequantizeLinear": true,
	"QLinearMatMul": true, "QLinearConv": true, "QLinearAdd": true, "QLinearMul": true, "ConvInteger": true,
	"DynamicQuantizeMatMul": true, "MatMulIntegerToFloat": true, "QAttention": true, "QEmbedLayerNormalization": true,
	"QGemm": true, "QLinearSoftmax": true, "QLinearGlobalAveragePool": true, "QLinearReduceMean": true,
	"DynamicQuantizeLSTM": true, "MatMulNBits": true, "MatMulBnb4": true, "GatherBlockQuantized": true,
	"QOrderedMatMul": true, "QOrderedAttention": true, "QLinearLeakyRelu": true, "QLinearSigmoid": true,
}

// checkNotQuantized refuses models that are quantized already: quantized operators, or int8 and
// uint8 initializers converted to float in the graph (weight-only quantization).
func checkNotQuantized(m *onnx.ModelProto) error {
	g := m.GetGraph()
	for _, n := range g.GetNode() {
		if quantizedOps[n.GetOpType()] {
			return fmt.Errorf("%w: node %q is %s; quantize the float model instead", ErrAlreadyQuantized, n.GetName(), n.GetOpType())
		}
	}
	small := map[string]bool{}
	for _, t := range g.GetInitializer() {
		switch onnx.TensorProto_DataType(t.GetDataType()) {
		case onnx.TensorProto_INT8, onnx.TensorProto_UINT8:
			if onnx.NumElements(t.GetDims()) > 1 {
				small[t.GetName()] = true
			}
		}
	}
	for _, n := range g.GetNode() {
		if n.GetOpType() == "Cast" && len(n.GetInput()) == 1 && small[n.GetInput()[0]] {
			return fmt.Errorf("%w: the integer initializer %q is converted to float by node %q (weight-only quantization); quantize the float model instead", ErrAlreadyQuantized, n.GetInput()[0], n.GetName())
		}
	}
	return nil
}

// prepare checks m, turns onnxruntime-fused operators back into standard ONNX, and chooses the
// nodes to quantize.
func prepare(m *onnx.ModelProto, opts Options, mode Mode) (*plan, error) {
	if m == nil || m.GetGraph() == nil {
		return nil, errors.New("quantize: no model")
	}
	if err := checkNotQuantized(m); err != nil {
		return nil, err
	}
	if err := checkOpset(m, opts, mode); err != nil {
		return nil, err
	}
	p, heads, err := newPlan(m, newReport(opts, mode))
	if err != nil {
		return nil, err
	}
	found, candidates := p.choose(opts, heads)
	if err := p.checkChoice(opts, found, candidates); err != nil {
		return nil, err
	}
	p.countFloatBytes()
	return p, nil
}

// checkOpset refuses models whose default opset lacks the operators mode needs.
func checkOpset(m *onnx.ModelProto, opts Options, mode Mode) error {
	if v := onnx.Opset(m); v < 11 {
		return fmt.Errorf("%w: its default-domain opset is %d; DynamicQuantizeLinear needs opset 11 or later: export the model again with opset >= 11", ErrUnsupported, v)
	} else if mode == ModeStatic && opts.PerChannel && v < 13 {
		return fmt.Errorf("%w: per-channel QDQ needs DequantizeLinear's axis, from opset 13; the model has opset %d: export it again with opset >= 13, or quantize per tensor", ErrUnsupported, v)
	}
	return nil
}

// newReport returns the report of a quantization with opts in mode, before any node is chosen.
func newReport(opts Options, mode Mode) *Report {
	rep := &Report{Mode: mode, PerChannel: opts.PerChannel, ReduceRange: opts.ReduceRange,
		WeightType: "int8", WeightSymmetric: true, ActivationType: "uint8", KeptFloat: []Kept{}, Quantized: []QuantizedLinear{}}
	qmin, qmax := int8Range(opts.ReduceRange)
	rep.WeightRange = [2]int{qmin, qmax}
	if mode == ModeDynamic {
		rep.Format = "QOperator: DynamicQuantizeLinear + MatMulInteger + Cast + Mul (onnxruntime's quantize_dynamic)"
	} else {
		rep.Format = "QDQ: QuantizeLinear/DequantizeLinear on activations, int8 weights behind DequantizeLinear"
	}
	return rep
}

// newPlan unfuses m and indexes it, and returns the plan with the final projections of the
// task head (none when the model is not an encoder discovery understands, or embeds).
func newPlan(m *onnx.ModelProto, rep *Report) (*plan, map[*onnx.NodeProto]bool, error) {
	sm, urep, err := fused.Unfuse(m)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrUnsupported, err)
	}
	if len(urep.Unfused) > 0 {
		rep.Unfused = urep.Unfused
	}
	p := &plan{m: sm, ix: graph.NewIndex(sm.GetGraph()), rep: rep}
	if err := p.ix.TopoErr(); err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrUnsupported, err)
	}
	heads := map[*onnx.NodeProto]bool{}
	if enc, err := graph.Discover(sm); err != nil {
		rep.Encoder = err.Error()
	} else {
		p.enc = enc
		rep.Head = string(enc.Head)
		if !enc.Head.Embeds() {
			heads = p.finalProjections(enc.Outputs)
		}
	}
	return p, heads, nil
}

// keep records that node n stays in float, and why.
func (p *plan) keep(n *onnx.NodeProto, reason string) {
	p.rep.KeptFloat = append(p.rep.KeptFloat, Kept{Node: n.GetName(), Op: n.GetOpType(), Reason: reason})
}

// choose picks the MatMul and Gemm nodes with constant weights and (with opts.Embeddings) the
// embedding Gathers to quantize, records the others in the report, and returns the nodes
// opts.Exclude may name (true when excluded) and the number of projections with a weight.
func (p *plan) choose(opts Options, heads map[*onnx.NodeProto]bool) (found map[string]bool, candidates int) {
	excluded := map[string]bool{}
	for _, n := range opts.Exclude {
		excluded[n] = true
	}
	found = map[string]bool{}
	weights := map[string]*linear{}
	for _, n := range p.ix.Topo() {
		if n.GetDomain() != "" && n.GetDomain() != "ai.onnx" {
			continue
		}
		switch n.GetOpType() {
		case "MatMul", "Gemm":
			if len(n.GetInput()) < 2 {
				continue
			}
			found[n.GetName()] = excluded[n.GetName()]
			if p.chooseLinear(n, weights, excluded[n.GetName()], heads[n] && !opts.Head) {
				candidates++
			}
		case "Gather":
			t := p.embeddingTable(n)
			if t == nil {
				continue
			}
			found[n.GetName()] = excluded[n.GetName()]
			switch {
			case excluded[n.GetName()]:
				p.keep(n, "excluded by the caller")
			case !opts.Embeddings:
				p.keep(n, "embedding table (kept in float unless asked)")
			default:
				p.gathers = append(p.gathers, &gatherTable{node: n, table: n.GetInput()[0], t: t})
				p.rep.Embeddings = append(p.rep.Embeddings, n.GetInput()[0])
			}
		}
	}
	return found, candidates
}

// chooseLinear quantizes the MatMul or Gemm node n unless it has no usable constant weight, is
// excluded, or is a head projection kept in float (keepHead). weights holds the linears chosen
// so far by weight name. It reports whether n is a projection with a constant weight.
func (p *plan) chooseLinear(n *onnx.NodeProto, weights map[string]*linear, excluded, keepHead bool) bool {
	w, reason := p.weight(n)
	if w == nil {
		if reason != "" {
			p.keep(n, reason)
		}
		return reason != ""
	}
	switch {
	case excluded:
		p.keep(n, "excluded by the caller")
		return true
	case keepHead:
		p.keep(n, "the head's final projection (kept in float unless asked)")
		return true
	}
	if prev := weights[w.wName]; prev != nil && (prev.k != w.k || prev.n != w.n || !slices.Equal(prev.w, w.w)) {
		// The same tensor name read two ways (a Gemm transposing a weight a MatMul also
		// reads): give the second its own quantized tensors.
		w.wName += "_" + sanitize(n.GetName())
	}
	weights[w.wName] = w
	p.linears = append(p.linears, w)
	p.rep.Quantized = append(p.rep.Quantized, QuantizedLinear{Node: n.GetName(), Op: n.GetOpType(), Weight: w.wName, In: w.k, Out: w.n})
	return true
}

// checkChoice refuses excluded names that are no candidate node, and a choice with no projection
// to quantize (saying why each stays float).
func (p *plan) checkChoice(opts Options, found map[string]bool, candidates int) error {
	var unknown []string
	for _, e := range opts.Exclude {
		if _, ok := found[e]; !ok {
			unknown = append(unknown, e)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return fmt.Errorf("quantize: excluded node(s) %s are not MatMul, Gemm or embedding Gather nodes of the model", strings.Join(unknown, ", "))
	}
	if len(p.linears) > 0 {
		return nil
	}
	if candidates == 0 {
		return fmt.Errorf("%w: the model has no MatMul or Gemm with a constant weight", ErrNoMatMul)
	}
	reasons := []string{}
	for _, k := range p.rep.KeptFloat {
		if k.Op != "Gather" {
			reasons = append(reasons, fmt.Sprintf("%s %q: %s", k.Op, k.Node, k.Reason))
		}
	}
	return fmt.Errorf("%w: every MatMul or Gemm with a constant weight stays float (%s)", ErrNoMatMul, strings.Join(reasons, "; "))
}

// countFloatBytes records the float size of the weights and tables to quantize, each counted
// once however many nodes read it.
func (p *plan) countFloatBytes() {
	counted := map[string]bool{}
	for _, l := range p.linears {
		if !counted[l.wName] {
			counted[l.wName] = true
			p.rep.FloatWeightBytes += int64(4 * len(l.w))
		}
	}
	for _, g := range p.gathers {
		if !counted["\x00table:"+g.table] {
			counted["\x00table:"+g.table] = true
			p.rep.FloatWeightBytes += 4 * onnx.NumElements(g.t.GetDims())
		}
	}
}

// weight returns the MatMul or Gemm node n as a linear to quantize, or nil and why not ("" when
// the node is not a projection at all: its second input is not a constant).
func (p *plan) weight(n *onnx.NodeProto) (*linear, string) {
	in := n.GetInput()
	wt, transposed := p.constWeight(in[1])
	if wt == nil {
		return nil, ""
	}
	dt := onnx.TensorProto_DataType(wt.GetDataType())
	if dt != onnx.TensorProto_FLOAT {
		return nil, fmt.Sprintf("weight is %s, not float32", dt)
	}
	dims := wt.GetDims()
	if len(dims) != 2 {
		return nil, fmt.Sprintf("weight has rank %d, not 2", len(dims))
	}
	l := &linear{node: n, x: in[0], y: n.GetOutput()[0], wName: in[1]}
	if n.GetOpType() == "Gemm" {
		if a := onnx.AttrFloatOr(n, "alpha", 1); a != 1 {
			return nil, fmt.Sprintf("Gemm with alpha %g", a)
		}
		if b := onnx.AttrFloatOr(n, "beta", 1); b != 1 && len(in) > 2 && in[2] != "" {
			return nil, fmt.Sprintf("Gemm with beta %g", b)
		}
		if onnx.AttrIntOr(n, "transA", 0) != 0 {
			return nil, "Gemm with transA"
		}
		l.gemm = true
		if len(in) > 2 {
			l.bias = in[2]
		}
		if onnx.AttrIntOr(n, "transB", 0) != 0 {
			transposed = !transposed
		}
	}
	v, err := onnx.Float32s(wt)
	if err != nil {
		return nil, "weight unreadable: " + err.Error()
	}
	r, c := int(dims[0]), int(dims[1])
	if transposed {
		l.k, l.n = c, r
		l.w = make([]float32, len(v))
		for i := range r {
			for j := range c {
				l.w[j*r+i] = v[i*c+j]
			}
		}
	} else {
		l.k, l.n, l.w = r, c, v
	}
	if l.k == 0 || l.n == 0 {
		return nil, "empty weight"
	}
	return l, ""
}

// constWeight returns the constant tensor t reads, seen through Identity aliases and one 2-D
// Transpose (exporters' spellings of a weight), and whether it is transposed.
func (p *plan) constWeight(t string) (*onnx.TensorProto, bool) {
	if c := p.ix.Constant(t); c != nil {
		return c, false
	}
	pr := p.ix.Producer(t)
	if pr == nil || pr.GetOpType() != "Transpose" || len(pr.GetInput()) != 1 {
		return nil, false
	}
	c := p.ix.Constant(pr.GetInput()[0])
	if c == nil || len(c.GetDims()) != 2 {
		return nil, false
	}
	if perm := onnx.AttrIntsOr(pr, "perm", []int64{1, 0}); len(perm) != 2 || perm[0] != 1 || perm[1] != 0 {
		return nil, false
	}
	return c, true
}

// embeddingTable returns the constant float table a Gather (axis 0) reads rows of, or nil.
func (p *plan) embeddingTable(n *onnx.NodeProto) *onnx.TensorProto {
	in := n.GetInput()
	if len(in) != 2 || onnx.AttrIntOr(n, "axis", 0) != 0 {
		return nil
	}
	t := p.ix.Initializer(in[0])
	if t == nil || onnx.TensorProto_DataType(t.GetDataType()) != onnx.TensorProto_FLOAT || len(t.GetDims()) != 2 {
		return nil
	}
	return t
}

// finalProjections returns the MatMul and Gemm nodes with a constant weight that are the last
// ones before the head outputs: walking back from each output through anything else, the first
// projection met on each path.
func (p *plan) finalProjections(outputs []string) map[*onnx.NodeProto]bool {
	ix := p.ix
	res := map[*onnx.NodeProto]bool{}
	graph.VisitTensors(outputs, map[string]bool{"": true}, func(t string) ([]string, bool) {
		n := ix.Producer(t)
		if n == nil || ix.IsConstant(t) {
			return nil, false
		}
		if (n.GetOpType() == "MatMul" || n.GetOpType() == "Gemm") && len(n.GetInput()) >= 2 {
			if w, _ := p.constWeight(n.GetInput()[1]); w != nil {
				res[n] = true
				return nil, false
			}
		}
		return n.GetInput(), false
	})
	return res
}

// sanitize keeps a node name usable inside tensor names.
func sanitize(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '/' || r == ':' || r == ' ' {
			return '_'
		}
		return r
	}, s)
}
