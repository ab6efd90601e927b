package graph

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/kprune/kprune/graph/infer"
	"github.com/kprune/kprune/onnx"
)

// disc carries one discovery: the index, inferred shapes and LayerNorms of a graph.
type disc struct {
	m   *onnx.ModelProto
	ix  *Index
	si  infer.Map
	lns []*lnMatch
	by  map[string]*lnMatch // LayerNorm by output tensor
}

// lnMatch is a LayerNorm found in the graph.
type lnMatch struct {
	LayerNorm
	node *onnx.NodeProto // the LayerNormalization node, or the first node of the decomposition
}

// linear is a Linear plus the nodes a rewrite needs.
type linear struct {
	Linear
	wUser   *onnx.NodeProto // node reading the weight initializer (the MatMul/Gemm, or a Transpose)
	bUser   *onnx.NodeProto // node reading the bias, nil without bias
	node    *onnx.NodeProto // the MatMul or Gemm
	flatten *onnx.NodeProto // Reshape/Flatten turning the 3-D input to 2-D before a Gemm, or nil
}

// sublayer is what a rewrite needs to know about one present sublayer.
type sublayer struct {
	kind   SublayerKind
	x, y   string          // residual input, sublayer output (the residual Add's other input)
	add    *onnx.NodeProto // the residual Add producing PreLN
	outLin linear          // O or W2
	inLins []linear        // Q, K, V or W1
	width  int             // H*d_h or N
	unit   int             // d_h for MHA, 1 for FFN
	// heads are the Reshapes splitting Q, K, V into heads: [b, s, H, d_h], heads at index 2.
	headReshapes []*onnx.NodeProto
	// widthReshapes are Reshapes on the sublayer's inner paths whose last entry is the width.
	widthReshapes []*onnx.NodeProto
	// scoreTerms are per-head tensors added to the attention scores (a relative position bias
	// [b, H, s, s]): pruning heads gathers their kept heads.
	scoreTerms []scoreTerm
	// consumer is the node reading Context/Act on the way to the output projection.
	consumer *onnx.NodeProto
	inner    string // Context or Act
	mha      *MHA
	ffn      *FFN
}

func newDisc(m *onnx.ModelProto) (*disc, error) {
	if m == nil || m.GetGraph() == nil {
		return nil, errors.New("the model has no graph")
	}
	// Work on the live part of the graph: nodes no output needs (leftovers of an edit) must not
	// disturb the structure.
	g := shallowGraph(m.GetGraph())
	pruneDead(g, true)
	if len(g.GetNode()) == len(m.GetGraph().GetNode()) {
		g = m.GetGraph()
	}
	if err := checkArity(g); err != nil {
		return nil, err
	}
	ix := NewIndex(g)
	if err := ix.TopoErr(); err != nil {
		return nil, err
	}
	d := &disc{m: m, ix: ix, by: map[string]*lnMatch{}}
	d.si = infer.Partial(g)
	return d, nil
}

// Discover finds the BERT-family encoder in m by graph structure (never by tensor names): the
// embedding LayerNorm, then per layer an attention and a feed-forward sublayer, each closed by a
// residual Add and a LayerNorm, then the output head. It accepts unfused exports at opsets 11 to
// 17+ (decomposed LayerNorm or LayerNormalization; MatMul+Add or Gemm in either weight
// orientation, Gemm on a Reshape to 2-D; Reshape shapes as constants, Concat-built or with -1;
// erf or tanh GELU, ReLU or a Gelu op) and models pruned by this package (heterogeneous head
// counts; removed sublayers whose output is LN(x) or LN(x + b)).
//
// A graph that is not such an encoder, or uses a pattern Discover does not understand, gives an
// error naming the node or tensor and what was expected. Graphs with onnxruntime's fused
// com.microsoft operators are refused.
func Discover(m *onnx.ModelProto) (enc *Encoder, err error) {
	defer recoverErr("discover", &err)
	d, err := newDisc(m)
	if err != nil {
		return nil, fmt.Errorf("discover: %w", err)
	}
	enc, _, err = d.discover()
	if err != nil {
		return nil, fmt.Errorf("discover: %w", err)
	}
	return enc, nil
}

// minInputs is the least number of inputs of the default-domain ops discovery looks into.
var minInputs = map[string]int{
	"Add": 2, "Sub": 2, "Mul": 2, "Div": 2, "Pow": 2, "MatMul": 2, "Gemm": 2, "Reshape": 2, "Gather": 2,
	"Expand": 2, "Where": 3, "Equal": 2, "LayerNormalization": 2, "Transpose": 1, "Softmax": 1, "Identity": 1,
	"Dropout": 1, "Cast": 1, "Shape": 1, "Erf": 1, "Tanh": 1, "Relu": 1, "Sqrt": 1, "Sigmoid": 1, "Gelu": 1,
	"ReduceMean": 1, "ReduceSum": 1, "Squeeze": 1, "Unsqueeze": 1, "Split": 1, "Slice": 1, "Concat": 1,
	"Flatten": 1, "Reciprocal": 1, "Range": 3, "ConstantOfShape": 1, "Neg": 1, "Tile": 2, "Size": 1,
}

// checkArity rejects nodes with fewer inputs or outputs than their op needs, so that a malformed
// graph gives an error naming the node instead of confusing the pattern matching.
func checkArity(g *onnx.GraphProto) error {
	for _, n := range g.GetNode() {
		if len(n.GetOutput()) == 0 || n.GetOutput()[0] == "" {
			return fmt.Errorf("node %q (%s) has no output", n.GetName(), n.GetOpType())
		}
		if !isDefaultDomain(n) {
			continue
		}
		if k := minInputs[n.GetOpType()]; len(n.GetInput()) < k || (k > 0 && n.GetInput()[0] == "") {
			return fmt.Errorf("node %q (%s) has %d inputs, expected at least %d", n.GetName(), n.GetOpType(), len(n.GetInput()), k)
		}
	}
	return nil
}

// recoverErr turns a panic in pattern matching over a malformed graph into an error, as a last
// line of defence: the package must not crash on user input.
func recoverErr(op string, err *error) {
	if r := recover(); r != nil {
		*err = fmt.Errorf("%s: the graph is malformed or uses a pattern kprune does not handle (internal error: %v)", op, r)
	}
}

// discover runs the whole discovery and returns the encoder with the details of every present
// sublayer (indexed by sublayer number; nil for removed ones).
func (d *disc) discover() (*Encoder, []*sublayer, error) {
	d.findLayerNorms()
	if err := d.refuse(); err != nil {
		return nil, nil, err
	}
	if len(d.lns) == 0 {
		return nil, nil, errors.New("no LayerNorm found (neither a LayerNormalization node nor the ReduceMean/Sub/Pow/ReduceMean/Add/Sqrt/Div/Mul/Add decomposition): this is not a post-LN BERT-family encoder")
	}
	// The residual input each LayerNorm closes, if any.
	type res struct {
		r    string // residual input (an LN output), "" if none
		y    string // sublayer output or bias ("" when LN(x))
		add  *onnx.NodeProto
		bias bool
	}
	rs := map[*lnMatch]res{}
	for _, ln := range d.lns {
		p := d.skipIdentity(ln.Input)
		if d.by[p] != nil {
			rs[ln] = res{r: p}
			continue
		}
		n := d.ix.Producer(p)
		if n == nil || n.GetOpType() != "Add" || len(n.GetInput()) != 2 {
			continue
		}
		a, b := d.skipIdentity(n.GetInput()[0]), d.skipIdentity(n.GetInput()[1])
		var r, y string
		switch {
		case d.by[a] != nil && d.by[b] != nil:
			return nil, nil, fmt.Errorf("the input of LayerNorm %s is Add node %q of two LayerNorm outputs (%q and %q): expected Add(residual, sublayer output)", d.lnName(ln), n.GetName(), a, b)
		case d.by[a] != nil:
			r, y = a, n.GetInput()[1]
		case d.by[b] != nil:
			r, y = b, n.GetInput()[0]
		default:
			continue
		}
		rs[ln] = res{r: r, y: y, add: n, bias: d.ix.IsConstant(y)}
	}
	// The chain starts at the first LayerNorm (in graph order) that is not itself a residual step
	// but whose output is the residual input of another: the embedding LayerNorm.
	residualOf := map[string][]*lnMatch{}
	for _, ln := range d.lns {
		if r, ok := rs[ln]; ok {
			residualOf[r.r] = append(residualOf[r.r], ln)
		}
	}
	// x0 is the first sublayer's residual input: normally the embedding LayerNorm's output. The
	// first attention sublayer may read another tensor though: a projection of the embeddings
	// (ELECTRA-small) or a graph input (a graph cut at an attention sublayer). Such a sublayer's
	// LayerNorm closes no residual from a LayerNorm but reads Add(x0, Attention(x0)).
	var x0 string
	var embLN *lnMatch
	for _, ln := range d.lns {
		if _, ok := rs[ln]; ok {
			continue
		}
		// The first attention sublayer was removed: LN(x0) (or LN(x0 + b)) with x0 the output of
		// the embedding projection and the chain going on from this LayerNorm.
		if x, y, add, ok := d.removedFirstSublayer(ln); ok && len(residualOf[ln.Output]) > 0 {
			x0 = x
			rs[ln] = res{r: x, y: y, add: add, bias: y != ""}
			residualOf[x] = []*lnMatch{ln}
			break
		}
		n := d.ix.Producer(d.skipIdentity(ln.Input))
		if n == nil || n.GetOpType() != "Add" || len(n.GetInput()) != 2 {
			continue
		}
		for i := range 2 {
			x, y := d.skipIdentity(n.GetInput()[i]), n.GetInput()[1-i]
			if d.ix.IsConstant(x) || d.ix.IsConstant(y) || d.computedByOp(x, "Softmax") {
				continue // an attention before x0 means x0 is inside the encoder
			}
			if _, err := d.parseMHA(x, y); err == nil {
				x0 = x
				rs[ln] = res{r: x, y: y, add: n}
				residualOf[x] = []*lnMatch{ln}
				break
			}
		}
		if x0 != "" {
			break
		}
	}
	if x0 == "" {
		for _, ln := range d.lns {
			if _, ok := rs[ln]; !ok && len(residualOf[ln.Output]) > 0 {
				embLN, x0 = ln, ln.Output
				break
			}
		}
	}
	if x0 == "" {
		ln := d.lns[0]
		return nil, nil, fmt.Errorf("no encoder layer found: no LayerNorm output (e.g. %q of LayerNorm %s) feeds a residual Add closed by another LayerNorm; expected embeddings -> LayerNorm -> [attention, Add, LayerNorm, feed-forward, Add, LayerNorm] per layer", ln.Output, d.lnName(ln))
	}
	chain := []*lnMatch{}
	onChain := map[*lnMatch]bool{}
	if embLN != nil {
		onChain[embLN] = true
	} else {
		// LayerNorms among the embeddings (before x0) are not on the chain.
		for _, ln := range d.lns {
			if d.dependsOn(x0, ln.Output) {
				onChain[ln] = true
			}
		}
	}
	for cur := x0; ; {
		next := residualOf[cur]
		if len(next) == 0 {
			break
		}
		if len(next) > 1 {
			return nil, nil, fmt.Errorf("tensor %q is the residual input of two LayerNorms (%s and %s): expected one chain of sublayers", cur, d.lnName(next[0]), d.lnName(next[1]))
		}
		chain = append(chain, next[0])
		onChain[next[0]] = true
		cur = next[0].Output
	}
	end := x0
	if len(chain) > 0 {
		end = chain[len(chain)-1].Output
	}
	for _, ln := range d.lns {
		if !onChain[ln] {
			p := d.ix.Producer(d.skipIdentity(ln.Input))
			found := "a graph input"
			if p != nil {
				found = fmt.Sprintf("%s node %q", p.GetOpType(), p.GetName())
			}
			return nil, nil, fmt.Errorf("LayerNorm %s (reading %q) is not on the encoder's residual chain, which ends after %d sublayers at %q: expected its input to be Add(previous LayerNorm output, sublayer output), found %s", d.lnName(ln), ln.Input, len(chain), end, found)
		}
	}
	if len(chain) == 0 {
		return nil, nil, fmt.Errorf("no encoder layer found after %q", x0)
	}
	if len(chain)%2 != 0 {
		return nil, nil, fmt.Errorf("found %d residual sublayers after the embeddings: expected pairs of attention and feed-forward sublayers (the last LayerNorm is %s)", len(chain), d.lnName(chain[len(chain)-1]))
	}
	hidden := d.lnWidth(chain[0])
	if embLN != nil && d.lnWidth(embLN) != hidden {
		return nil, nil, fmt.Errorf("the embedding LayerNorm %s has width %d but the first sublayer's LayerNorm %s has %d", d.lnName(embLN), d.lnWidth(embLN), d.lnName(chain[0]), hidden)
	}
	enc := &Encoder{Hidden: hidden}
	subs := make([]*sublayer, len(chain))
	prev := x0
	for s, ln := range chain {
		l := s / 2
		if l >= len(enc.Layers) {
			enc.Layers = append(enc.Layers, Layer{})
		}
		L := &enc.Layers[l]
		r := rs[ln]
		if s%2 == 0 {
			L.MHAInput, L.MHAOutput = prev, ln.Output
		} else {
			L.FFNInput, L.FFNOutput = prev, ln.Output
		}
		prev = ln.Output
		if r.y == "" || r.bias {
			continue // removed sublayer: LN(x) or LN(x + b)
		}
		sub, err := d.parseSublayer(SublayerKind(s%2), r.r, r.y, r.add, ln)
		if err != nil {
			return nil, nil, fmt.Errorf("layer %d: %w", l, err)
		}
		subs[s] = sub
		if sub.mha != nil {
			L.MHA = sub.mha
		} else {
			L.FFN = sub.ffn
		}
	}
	for l := range enc.Layers {
		if m := enc.Layers[l].MHA; m != nil {
			if enc.HeadDim == 0 {
				enc.HeadDim = m.HeadDim
			} else if m.HeadDim != enc.HeadDim {
				return nil, nil, fmt.Errorf("layer %d has attention heads of width %d but earlier layers have %d: expected one head width", l, m.HeadDim, enc.HeadDim)
			}
		}
	}
	for l, L := range enc.Layers {
		var in []Linear
		if L.MHA != nil {
			in = append(in, L.MHA.Q, L.MHA.K, L.MHA.V)
			if L.MHA.O.Out != enc.Hidden {
				return nil, nil, fmt.Errorf("layer %d: output projection %q has %d outputs, expected the hidden size %d", l, L.MHA.O.Node, L.MHA.O.Out, enc.Hidden)
			}
		}
		if L.FFN != nil {
			in = append(in, L.FFN.W1)
			if L.FFN.W2.Out != enc.Hidden {
				return nil, nil, fmt.Errorf("layer %d: projection %q has %d outputs, expected the hidden size %d", l, L.FFN.W2.Node, L.FFN.W2.Out, enc.Hidden)
			}
		}
		for _, lin := range in {
			if lin.In != enc.Hidden {
				return nil, nil, fmt.Errorf("layer %d: projection %q reads width %d, expected the hidden size %d", l, lin.Node, lin.In, enc.Hidden)
			}
		}
	}
	if err := refuseSharedLayers(enc); err != nil {
		return nil, nil, err
	}
	d.findInputs(enc, x0)
	if err := d.parseHead(enc, prev); err != nil {
		return nil, nil, err
	}
	return enc, subs, nil
}

// removedFirstSublayer recognises the LayerNorm of a removed first attention sublayer whose
// residual input is not a LayerNorm output but a projection of the embeddings (ELECTRA): its
// input is x (through Identity) or Add(x, b) with b a constant, and x is a linear projection's
// output. It returns x, b ("" without) and the Add (nil without).
func (d *disc) removedFirstSublayer(ln *lnMatch) (x, b string, add *onnx.NodeProto, ok bool) {
	x = d.skipIdentity(ln.Input)
	if d.by[x] != nil {
		return "", "", nil, false
	}
	if _, err := d.parseLinear(x); err == nil {
		return x, "", nil, true
	}
	if p := d.ix.Producer(x); p != nil && p.GetOpType() == "Add" && len(p.GetInput()) == 2 {
		for i := range 2 {
			if d.ix.IsConstant(p.GetInput()[1-i]) && !d.ix.IsConstant(p.GetInput()[i]) {
				if _, err := d.parseLinear(d.skipIdentity(p.GetInput()[i])); err == nil {
					return p.GetInput()[i], p.GetInput()[1-i], p, true
				}
			}
		}
	}
	return "", "", nil, false
}

// lnName names a LayerNorm for messages.
func (d *disc) lnName(ln *lnMatch) string {
	return fmt.Sprintf("%q (output %q)", ln.node.GetName(), ln.Output)
}

func (d *disc) lnWidth(ln *lnMatch) int {
	if t := d.ix.Constant(ln.Scale); t != nil {
		return int(onnx.NumElements(t.GetDims()))
	}
	if t := d.si.Of(ln.Output); t.Rank > 0 && t.Dims[t.Rank-1] >= 0 {
		return int(t.Dims[t.Rank-1])
	}
	return 0
}

// skipIdentity follows Identity (and eval-mode Dropout) producers back to the source tensor.
func (d *disc) skipIdentity(t string) string {
	for i := 0; i < 64; i++ {
		p := d.ix.Producer(t)
		if p == nil || !isDefaultDomain(p) || len(p.GetInput()) == 0 {
			return t
		}
		switch p.GetOpType() {
		case "Identity":
		case "Dropout":
			if p.GetOutput()[0] != t {
				return t
			}
		default:
			return t
		}
		t = p.GetInput()[0]
	}
	return t
}

// findLayerNorms collects every LayerNorm in topological order.
func (d *disc) findLayerNorms() {
	for _, n := range d.ix.Topo() {
		if !isDefaultDomain(n) {
			continue
		}
		var ln *lnMatch
		switch n.GetOpType() {
		case "LayerNormalization":
			ln = d.matchLNOp(n)
		case "ReduceMean":
			ln = d.matchDecomposedLN(n)
		}
		if ln != nil && d.by[ln.Output] == nil {
			d.lns = append(d.lns, ln)
			d.by[ln.Output] = ln
		}
	}
}

func (d *disc) isLastAxis(axis int64, x string) bool {
	if axis == -1 {
		return true
	}
	r := d.si.Of(x).Rank
	return r > 0 && axis == int64(r-1)
}

func (d *disc) matchLNOp(n *onnx.NodeProto) *lnMatch {
	ins := n.GetInput()
	if len(ins) < 2 || len(n.GetOutput()) == 0 {
		return nil
	}
	if !d.isLastAxis(onnx.AttrIntOr(n, "axis", -1), ins[0]) {
		return nil
	}
	ln := &lnMatch{node: n}
	ln.Input, ln.Output, ln.Scale = ins[0], n.GetOutput()[0], ins[1]
	if len(ins) > 2 {
		ln.Bias = ins[2]
	}
	ln.Eps = onnx.AttrFloatOr(n, "epsilon", 1e-5)
	return ln
}

// reducesLastAxis tells whether a Reduce node reduces only the last axis of its input, keeping dims.
func (d *disc) reducesLastAxis(n *onnx.NodeProto) bool {
	if n.GetOpType() != "ReduceMean" || onnx.AttrIntOr(n, "keepdims", 1) == 0 || len(n.GetInput()) == 0 {
		return false
	}
	axes, ok := infer.Axes(n, d.ins(n), 1)
	return ok && len(axes) == 1 && d.isLastAxis(axes[0], n.GetInput()[0])
}

// scalarConst returns the value of a constant holding one number.
func (d *disc) scalarConst(t string) (float64, bool) {
	c := d.ix.Constant(t)
	if c == nil || onnx.NumElements(c.GetDims()) != 1 {
		return 0, false
	}
	if infer.IsFloat(onnx.TensorProto_DataType(c.GetDataType())) {
		v, err := onnx.Float64s(c)
		if err != nil {
			return 0, false
		}
		return v[0], true
	}
	v, err := onnx.Int64s(c)
	if err != nil {
		return 0, false
	}
	return float64(v[0]), true
}

// otherInput returns the input of a two-input node that is not t, and whether t was an input.
func otherInput(n *onnx.NodeProto, t string) (string, bool) {
	ins := n.GetInput()
	if len(ins) != 2 {
		return "", false
	}
	switch t {
	case ins[0]:
		return ins[1], true
	case ins[1]:
		return ins[0], true
	}
	return "", false
}

// consumer returns the only consumer of t with the given op whose other input satisfies ok.
func (d *disc) consumerOp(t, op string) []*onnx.NodeProto {
	var out []*onnx.NodeProto
	for _, c := range d.ix.Consumers(t) {
		if c.GetOpType() == op && isDefaultDomain(c) {
			out = append(out, c)
		}
	}
	return out
}

// matchDecomposedLN matches torch's LayerNorm decomposition starting at its first ReduceMean:
// mean = ReduceMean(x); d = Sub(x, mean); var = ReduceMean(Pow(d, 2) or Mul(d, d));
// y = Div(d, Sqrt(Add(var, eps))) (or Mul(d, Reciprocal(Sqrt(...)))); out = Add(Mul(y, g), b).
func (d *disc) matchDecomposedLN(r1 *onnx.NodeProto) *lnMatch {
	if !d.reducesLastAxis(r1) || len(r1.GetOutput()) == 0 {
		return nil
	}
	x, mean := r1.GetInput()[0], r1.GetOutput()[0]
	var dev string
	for _, s := range d.consumerOp(mean, "Sub") {
		if len(s.GetInput()) == 2 && s.GetInput()[0] == x && s.GetInput()[1] == mean {
			dev = s.GetOutput()[0]
		}
	}
	if dev == "" {
		return nil
	}
	// The variance path, from dev.
	variance := ""
	for _, c := range d.ix.Consumers(dev) {
		sq := ""
		switch c.GetOpType() {
		case "Pow":
			if c.GetInput()[0] == dev {
				if v, ok := d.scalarConst(c.GetInput()[1]); ok && v == 2 {
					sq = c.GetOutput()[0]
				}
			}
		case "Mul":
			if len(c.GetInput()) == 2 && c.GetInput()[0] == dev && c.GetInput()[1] == dev {
				sq = c.GetOutput()[0]
			}
		}
		if sq == "" {
			continue
		}
		for _, r2 := range d.consumerOp(sq, "ReduceMean") {
			if d.reducesLastAxis(r2) {
				variance = r2.GetOutput()[0]
			}
		}
	}
	if variance == "" {
		return nil
	}
	var eps float64
	std := ""
	for _, a := range d.consumerOp(variance, "Add") {
		o, _ := otherInput(a, variance)
		if v, ok := d.scalarConst(o); ok {
			eps = v
			for _, s := range d.consumerOp(a.GetOutput()[0], "Sqrt") {
				std = s.GetOutput()[0]
			}
		}
	}
	if std == "" {
		return nil
	}
	norm := ""
	for _, c := range d.ix.Consumers(dev) {
		switch c.GetOpType() {
		case "Div":
			if c.GetInput()[0] == dev && c.GetInput()[1] == std {
				norm = c.GetOutput()[0]
			}
		case "Mul":
			o, ok := otherInput(c, dev)
			if !ok {
				continue
			}
			if p := d.ix.Producer(o); p != nil && p.GetOpType() == "Reciprocal" && p.GetInput()[0] == std {
				norm = c.GetOutput()[0]
			}
		}
	}
	if norm == "" {
		return nil
	}
	ln := &lnMatch{node: r1}
	ln.Input, ln.Eps = x, float32(eps)
	out := norm
	if muls := d.consumerOp(norm, "Mul"); len(muls) == 1 {
		if g, ok := otherInput(muls[0], norm); ok && d.ix.IsConstant(g) {
			ln.Scale = g
			out = muls[0].GetOutput()[0]
		}
	}
	if adds := d.consumerOp(out, "Add"); len(adds) == 1 {
		if b, ok := otherInput(adds[0], out); ok && d.ix.IsConstant(b) {
			ln.Bias = b
			out = adds[0].GetOutput()[0]
		}
	}
	if ln.Scale == "" {
		return nil
	}
	ln.Output = out
	return ln
}

// describe names the node producing t for messages.
func (d *disc) describe(t string) string {
	p := d.ix.Producer(t)
	switch {
	case p != nil:
		return fmt.Sprintf("%s node %q", p.GetOpType(), p.GetName())
	case d.ix.IsInput(t):
		return fmt.Sprintf("graph input %q", t)
	case d.ix.Initializer(t) != nil:
		return fmt.Sprintf("initializer %q", t)
	}
	return fmt.Sprintf("undefined tensor %q", t)
}

// weightOf returns the initializer behind a weight input: the initializer itself (orientation
// InOut unless transposed says otherwise) or an initializer through a Transpose.
func (d *disc) weightOf(t string, user *onnx.NodeProto) (name string, wUser *onnx.NodeProto, transposed bool, err error) {
	if w, u := d.initOf(t, user); w != "" {
		return w, u, false, nil
	}
	if p := d.ix.Producer(d.skipIdentity(t)); p != nil && p.GetOpType() == "Transpose" {
		if w, u := d.initOf(p.GetInput()[0], p); w != "" {
			perm := onnx.AttrIntsOr(p, "perm", []int64{1, 0})
			if len(perm) == 2 && perm[0] == 1 && perm[1] == 0 {
				return w, u, true, nil
			}
		}
	}
	if d.ix.IsConstant(t) {
		return "", nil, false, fmt.Errorf("the weight of %s node %q is produced by %s; expected an initializer (re-export with constant folding and initializers)", user.GetOpType(), user.GetName(), d.describe(t))
	}
	return "", nil, false, fmt.Errorf("the weight of %s node %q is %s, not a constant initializer", user.GetOpType(), user.GetName(), d.describe(t))
}

// flatInput returns the 3-D tensor behind a 2-D linear input made by a Reshape or Flatten.
func (d *disc) flatInput(t string) (string, *onnx.NodeProto) {
	p := d.ix.Producer(t)
	if p == nil || (p.GetOpType() != "Reshape" && p.GetOpType() != "Flatten") {
		return t, nil
	}
	if d.si.Of(t).Rank == 2 && d.si.Of(p.GetInput()[0]).Rank == 3 {
		return p.GetInput()[0], p
	}
	return t, nil
}

// parseLinear recognises the projection producing t: Add(MatMul(x, W), b) (either Add order),
// MatMul(x, W), or Gemm(x, W, b) (transB either way); W may be an initializer or the Transpose of
// one. A 2-D input made by reshaping a 3-D tensor is looked through.
func (d *disc) parseLinear(t string) (linear, error) {
	var lin linear
	p := d.ix.Producer(t)
	if p == nil {
		return lin, fmt.Errorf("expected a linear projection (MatMul+Add or Gemm) producing %q, found %s", t, d.describe(t))
	}
	switch p.GetOpType() {
	case "Add":
		ins := p.GetInput()
		if len(ins) != 2 {
			break
		}
		bi, mi := -1, -1
		for i := range 2 {
			if d.ix.Initializer(ins[i]) != nil || d.ix.IsConstant(ins[i]) {
				bi = i
			} else if q := d.ix.Producer(ins[i]); q != nil && q.GetOpType() == "MatMul" {
				mi = i
			}
		}
		if bi < 0 || mi < 0 || bi == mi {
			break
		}
		mm := d.ix.Producer(ins[mi])
		var err error
		lin, err = d.parseMatMul(mm)
		if err != nil {
			return lin, err
		}
		bn, bu := d.initOf(ins[bi], p)
		if bn == "" {
			return lin, fmt.Errorf("the bias of Add node %q is %s; expected an initializer", p.GetName(), d.describe(ins[bi]))
		}
		b := d.ix.Initializer(bn)
		if !isVector(b.GetDims(), lin.Out) {
			return lin, fmt.Errorf("the bias %q of Add node %q has shape %v; expected [%d] for MatMul node %q", ins[bi], p.GetName(), b.GetDims(), lin.Out, mm.GetName())
		}
		lin.Bias, lin.bUser, lin.Output = bn, bu, t
		return lin, nil
	case "MatMul":
		lin, err := d.parseMatMul(p)
		if err != nil {
			return lin, err
		}
		return lin, nil
	case "Gemm":
		return d.parseGemm(p)
	}
	return lin, fmt.Errorf("expected a linear projection (MatMul+Add or Gemm with a constant weight) producing %q, found %s", t, d.describe(t))
}

func isVector(dims []int64, n int) bool {
	if onnx.NumElements(dims) != int64(n) {
		return false
	}
	for i, d := range dims {
		if i < len(dims)-1 && d != 1 {
			return false
		}
	}
	return len(dims) >= 1
}

func (d *disc) parseMatMul(mm *onnx.NodeProto) (linear, error) {
	var lin linear
	if len(mm.GetInput()) != 2 {
		return lin, fmt.Errorf("MatMul node %q has %d inputs", mm.GetName(), len(mm.GetInput()))
	}
	w, wUser, tr, err := d.weightOf(mm.GetInput()[1], mm)
	if err != nil {
		return lin, err
	}
	dims := d.ix.Initializer(w).GetDims()
	if len(dims) != 2 {
		return lin, fmt.Errorf("the weight %q of MatMul node %q has shape %v; expected a matrix", w, mm.GetName(), dims)
	}
	lin.Node, lin.Weight, lin.wUser, lin.node = mm.GetName(), w, wUser, mm
	lin.Output = mm.GetOutput()[0]
	if tr {
		lin.Orient, lin.Out, lin.In = OutIn, int(dims[0]), int(dims[1])
	} else {
		lin.Orient, lin.In, lin.Out = InOut, int(dims[0]), int(dims[1])
	}
	lin.Input, lin.flatten = d.flatInput(mm.GetInput()[0])
	return lin, nil
}

func (d *disc) parseGemm(g *onnx.NodeProto) (linear, error) {
	var lin linear
	ins := g.GetInput()
	if len(ins) < 2 {
		return lin, fmt.Errorf("gemm node %q has %d inputs", g.GetName(), len(ins))
	}
	if onnx.AttrIntOr(g, "transA", 0) != 0 {
		return lin, fmt.Errorf("gemm node %q has transA=1; expected the activations as its first input untransposed", g.GetName())
	}
	if onnx.AttrFloatOr(g, "alpha", 1) != 1 || (len(ins) > 2 && ins[2] != "" && onnx.AttrFloatOr(g, "beta", 1) != 1) {
		return lin, fmt.Errorf("gemm node %q has alpha or beta different from 1; expected a plain linear layer", g.GetName())
	}
	w, wUser, tr, err := d.weightOf(ins[1], g)
	if err != nil {
		return lin, err
	}
	dims := d.ix.Initializer(w).GetDims()
	if len(dims) != 2 {
		return lin, fmt.Errorf("the weight %q of Gemm node %q has shape %v; expected a matrix", w, g.GetName(), dims)
	}
	transB := onnx.AttrIntOr(g, "transB", 0) != 0
	if transB != tr { // stored [out, in]
		lin.Orient, lin.Out, lin.In = OutIn, int(dims[0]), int(dims[1])
	} else {
		lin.Orient, lin.In, lin.Out = InOut, int(dims[0]), int(dims[1])
	}
	lin.Node, lin.Weight, lin.wUser, lin.node, lin.Output = g.GetName(), w, wUser, g, g.GetOutput()[0]
	if len(ins) > 2 && ins[2] != "" {
		bn, bu := d.initOf(ins[2], g)
		b := d.ix.Initializer(bn)
		if bn == "" {
			return lin, fmt.Errorf("the bias of Gemm node %q is %s; expected an initializer", g.GetName(), d.describe(ins[2]))
		}
		if !isVector(b.GetDims(), lin.Out) {
			return lin, fmt.Errorf("the bias %q of Gemm node %q has shape %v; expected [%d]", ins[2], g.GetName(), b.GetDims(), lin.Out)
		}
		lin.Bias, lin.bUser = bn, bu
	}
	lin.Input, lin.flatten = d.flatInput(ins[0])
	return lin, nil
}

// unReshape returns the input of a Reshape producing t (a linear's 2-D output reshaped back to
// 3-D), or t itself.
func (d *disc) unReshape(t string) string {
	if p := d.ix.Producer(t); p != nil && p.GetOpType() == "Reshape" {
		return p.GetInput()[0]
	}
	return t
}

// parseSublayer recognises the sublayer closed by the residual Add `add` = x + y and LayerNorm ln.
func (d *disc) parseSublayer(kind SublayerKind, x, y string, add *onnx.NodeProto, ln *lnMatch) (*sublayer, error) {
	var sub *sublayer
	var err error
	if kind == KindMHA {
		sub, err = d.parseMHA(x, y)
		if err != nil {
			if _, ferr := d.parseFFN(x, y); ferr == nil {
				return nil, fmt.Errorf("expected the attention sublayer before LayerNorm %s, found a feed-forward sublayer", d.lnName(ln))
			}
			return nil, fmt.Errorf("attention sublayer closed by LayerNorm %s: %w", d.lnName(ln), err)
		}
		sub.mha.PreLN, sub.mha.LN = ln.Input, ln.LayerNorm
	} else {
		sub, err = d.parseFFN(x, y)
		if err != nil {
			if _, merr := d.parseMHA(x, y); merr == nil {
				return nil, fmt.Errorf("expected the feed-forward sublayer before LayerNorm %s, found an attention sublayer", d.lnName(ln))
			}
			return nil, fmt.Errorf("feed-forward sublayer closed by LayerNorm %s: %w", d.lnName(ln), err)
		}
		sub.ffn.PreLN, sub.ffn.LN = ln.Input, ln.LayerNorm
	}
	sub.add = add
	return sub, nil
}

// transparent ops pass a tensor on unchanged (in eval mode).
func isTransparent(n *onnx.NodeProto) bool {
	switch n.GetOpType() {
	case "Identity", "Dropout", "Cast":
		return true
	}
	return false
}

// walkHeadPath walks back from a per-head tensor (Q, K or V heads) to its projection, through
// Transpose, Reshape, scalar scaling and transparent ops, collecting the Reshapes.
func (d *disc) walkHeadPath(t string, sub *sublayer) (linear, error) {
	for range 32 {
		p := d.ix.Producer(t)
		if p == nil {
			return linear{}, fmt.Errorf("expected the attention input path to lead to a projection, found %s", d.describe(t))
		}
		switch op := p.GetOpType(); {
		case op == "Transpose" || isTransparent(p):
			t = p.GetInput()[0]
		case op == "Reshape":
			out := p.GetOutput()[0]
			if d.adaptiveReshape(p) {
				// Follows its input's own shape: nothing to rewrite.
			} else if d.si.Of(out).Rank == 4 {
				sub.headReshapes = append(sub.headReshapes, p)
			} else {
				sub.widthReshapes = append(sub.widthReshapes, p)
			}
			t = p.GetInput()[0]
		case (op == "Mul" || op == "Div") && len(p.GetInput()) == 2:
			a, b := p.GetInput()[0], p.GetInput()[1]
			switch {
			case d.isScalarFactor(b):
				t = a
			case op == "Mul" && d.isScalarFactor(a):
				t = b
			default:
				if lin, err := d.parseLinear(t); err == nil {
					return lin, nil
				}
				return linear{}, fmt.Errorf("expected a scaling by a constant scalar at %s node %q", op, p.GetName())
			}
		default:
			return d.parseLinear(t)
		}
	}
	return linear{}, fmt.Errorf("attention input path too long at %q", t)
}

func (d *disc) isScalarConst(t string) bool {
	c := d.ix.Constant(t)
	return c != nil && onnx.NumElements(c.GetDims()) == 1
}

// isScalarFactor tells whether t is a scalar computed from constants and tensor shapes only,
// such as the 1/sqrt(sqrt(head_dim)) that torch's scaled_dot_product_attention export computes
// from Shape(query). Pruning heads does not change it.
func (d *disc) isScalarFactor(t string) bool {
	if d.isScalarConst(t) {
		return true
	}
	if ti := d.si.Of(t); ti.Rank < 0 || (ti.Rank > 0 && !(ti.Rank == 1 && ti.Dims[0] == 1)) {
		return false
	}
	seen := map[string]bool{}
	stack := []string{t}
	for len(stack) > 0 {
		x := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if seen[x] {
			continue
		}
		seen[x] = true
		if d.ix.IsConstant(x) {
			continue
		}
		p := d.ix.Producer(x)
		if p == nil || len(seen) > 64 {
			return false
		}
		if p.GetOpType() == "Shape" || p.GetOpType() == "Size" {
			continue
		}
		stack = append(stack, p.GetInput()...)
	}
	return true
}

// outputProjection recognises the output projection producing sub.y (W_O or W_2), records it
// and the node that consumes its input (the projection, a flattening Reshape, or an inserted mask
// Mul), and returns the unmasked projection input (the attention context or FFN activation).
func (d *disc) outputProjection(sub *sublayer, what string) (string, error) {
	lin, err := d.parseLinear(d.unReshape(sub.y))
	if err != nil {
		return "", fmt.Errorf("%s: %w", what, err)
	}
	lin.Output = sub.y
	sub.outLin = lin
	in := lin.Input
	if lin.flatten != nil {
		sub.consumer = lin.flatten
		sub.widthReshapes = append(sub.widthReshapes, lin.flatten)
	} else {
		sub.consumer = lin.node
	}
	if u, mul := d.unmask(in); mul != nil {
		in, sub.consumer = u, mul
	}
	sub.inner = in
	return in, nil
}

// parseMHA recognises y = Attention(x) @ W_O + b_O.
func (d *disc) parseMHA(x, y string) (*sublayer, error) {
	sub := &sublayer{kind: KindMHA, x: x, y: y}
	ctx, err := d.outputProjection(sub, "output projection")
	if err != nil {
		return nil, err
	}
	o := sub.outLin
	// Back from the context to the MatMul of probabilities and values.
	t := ctx
	var av *onnx.NodeProto
	for range 16 {
		p := d.ix.Producer(t)
		if p == nil {
			return nil, fmt.Errorf("expected the attention context before the output projection %q, found %s", o.Node, d.describe(t))
		}
		op := p.GetOpType()
		if op == "MatMul" && !d.ix.IsConstant(p.GetInput()[1]) {
			av = p
			break
		}
		switch {
		case op == "Reshape" || op == "Flatten":
			if !d.adaptiveReshape(p) {
				sub.widthReshapes = append(sub.widthReshapes, p)
			}
		case op == "Transpose" || isTransparent(p):
		default:
			return nil, fmt.Errorf("expected the attention context (MatMul of attention probabilities and values, then Transpose and Reshape) feeding the output projection %q, found %s", o.Node, d.describe(t))
		}
		t = p.GetInput()[0]
	}
	if av == nil {
		return nil, fmt.Errorf("no attention MatMul found before the output projection %q", o.Node)
	}
	probs := d.skipGuards(av.GetInput()[0])
	sm := d.ix.Producer(probs)
	if sm == nil || sm.GetOpType() != "Softmax" {
		return nil, fmt.Errorf("expected Softmax probabilities as the first input of the attention MatMul %q, found %s", av.GetName(), d.describe(probs))
	}
	v, err := d.walkHeadPath(av.GetInput()[1], sub)
	if err != nil {
		return nil, fmt.Errorf("value path of MatMul %q: %w", av.GetName(), err)
	}
	qk, err := d.findScoresMatMul(sm)
	if err != nil {
		return nil, err
	}
	nHeadBefore := len(sub.headReshapes)
	q, err := d.walkHeadPath(qk.GetInput()[0], sub)
	if err != nil {
		return nil, fmt.Errorf("query path of MatMul %q: %w", qk.GetName(), err)
	}
	qHead := sub.headReshapes[nHeadBefore:]
	k, err := d.walkHeadPath(qk.GetInput()[1], sub)
	if err != nil {
		return nil, fmt.Errorf("key path of MatMul %q: %w", qk.GetName(), err)
	}
	for _, lin := range []struct {
		name string
		l    linear
	}{{"query", q}, {"key", k}, {"value", v}} {
		if lin.l.Input != x {
			return nil, fmt.Errorf("the %s projection %q reads %q; expected the sublayer's residual input %q", lin.name, lin.l.Node, lin.l.Input, x)
		}
	}
	if len(sub.headReshapes) == 0 {
		return nil, fmt.Errorf("no Reshape splitting the heads ([batch, seq, heads, head_dim]) found on the query, key and value paths of MatMul %q", qk.GetName())
	}
	heads, hd, err := d.headCount(q.Out, qHead, sub.headReshapes)
	if err == nil {
		sub.scoreTerms, err = d.scoreTerms(sm, qk, heads)
	}
	if err != nil {
		return nil, err
	}
	w := heads * hd
	if q.Out != w || k.Out != w || v.Out != w || o.In != w {
		return nil, fmt.Errorf("projection widths Q %d, K %d, V %d, O input %d do not match %d heads of width %d", q.Out, k.Out, v.Out, o.In, heads, hd)
	}
	sub.inLins = []linear{q, k, v}
	sub.width, sub.unit = w, hd
	sub.mha = &MHA{Q: q.Linear, K: k.Linear, V: v.Linear, O: o.Linear, Heads: heads, HeadDim: hd, Context: ctx, Input: x}
	return sub, nil
}

// unmask looks through a mask multiplication Mul(t, mask) with mask a graph input (as
// InsertMasks adds); it returns t and the Mul, or the tensor itself and nil.
func (d *disc) unmask(t string) (string, *onnx.NodeProto) {
	p := d.ix.Producer(t)
	if p == nil || p.GetOpType() != "Mul" || !isDefaultDomain(p) || len(p.GetInput()) != 2 {
		return t, nil
	}
	a, b := p.GetInput()[0], p.GetInput()[1]
	switch {
	case d.ix.IsInput(b) && !d.ix.IsInput(a) && !d.ix.IsConstant(a):
		return a, p
	case d.ix.IsInput(a) && !d.ix.IsInput(b) && !d.ix.IsConstant(b):
		return b, p
	}
	return t, nil
}

// skipGuards follows transparent ops and guards back from the attention probabilities to the
// Softmax: Where(cond, c, p) or Where(cond, p, c) with c a constant, as torch's
// scaled_dot_product_attention export writes Where(IsNaN(p), 0, p) and masked exports zero
// fully masked rows. A guard is elementwise over heads, so pruning heads leaves it valid.
func (d *disc) skipGuards(t string) string {
	for range 16 {
		t = d.skipTransparent(t)
		p := d.ix.Producer(t)
		if p == nil || !isDefaultDomain(p) || p.GetOpType() != "Where" || len(p.GetInput()) != 3 {
			return t
		}
		a, b := p.GetInput()[1], p.GetInput()[2]
		switch {
		case d.ix.IsConstant(a) && !d.ix.IsConstant(b):
			t = b
		case d.ix.IsConstant(b) && !d.ix.IsConstant(a):
			t = a
		default:
			return t
		}
	}
	return t
}

// skipTransparent follows Identity/Dropout/Cast producers back.
func (d *disc) skipTransparent(t string) string {
	for range 16 {
		p := d.ix.Producer(t)
		if p == nil || !isTransparent(p) {
			return t
		}
		t = p.GetInput()[0]
	}
	return t
}

// findScoresMatMul finds the MatMul of queries and keys behind the Softmax, looking back through
// the scaling, the mask addition and transparent ops.
func (d *disc) findScoresMatMul(sm *onnx.NodeProto) (*onnx.NodeProto, error) {
	var found []*onnx.NodeProto
	seen := map[string]bool{}
	type item struct {
		t     string
		depth int
	}
	queue := []item{{sm.GetInput()[0], 0}}
	for len(queue) > 0 {
		it := queue[0]
		queue = queue[1:]
		if seen[it.t] || it.depth > 8 {
			continue
		}
		seen[it.t] = true
		p := d.ix.Producer(it.t)
		if p == nil {
			continue
		}
		switch p.GetOpType() {
		case "MatMul":
			if !d.ix.IsConstant(p.GetInput()[0]) && !d.ix.IsConstant(p.GetInput()[1]) {
				found = append(found, p)
			}
			continue
		case "Add", "Sub", "Mul", "Div", "Where", "Cast", "Identity", "Dropout", "Max", "Min", "Clip":
		default:
			continue
		}
		for _, in := range p.GetInput() {
			if in != "" && !d.ix.IsConstant(in) {
				queue = append(queue, item{in, it.depth + 1})
			}
		}
	}
	if len(found) != 1 {
		return nil, fmt.Errorf("expected one MatMul of queries and keys behind Softmax node %q, found %d", sm.GetName(), len(found))
	}
	return found[0], nil
}

// headCount reads the number of heads and their width from the head-splitting Reshapes.
func (d *disc) headCount(qOut int, qHead, all []*onnx.NodeProto) (int, int, error) {
	try := func(r *onnx.NodeProto) (int, int, bool) {
		t := d.si.Of(r.GetOutput()[0])
		if t.Rank != 4 {
			return 0, 0, false
		}
		h, hd := t.Dim(2), t.Dim(3)
		if !h.Known || !hd.Known {
			// Fall back on the shape values (e.g. [b, s, H, -1] with the input width unknown).
			if s := d.si.Of(r.GetInput()[1]); len(s.Parts) == 4 {
				if s.Parts[2].Known && s.Parts[2].V > 0 {
					h = s.Parts[2]
				}
				if s.Parts[3].Known && s.Parts[3].V > 0 {
					hd = s.Parts[3]
				}
			}
		}
		switch {
		case h.Known && h.V > 0 && (!hd.Known || hd.V <= 0) && qOut%int(h.V) == 0:
			return int(h.V), qOut / int(h.V), true
		case hd.Known && hd.V > 0 && (!h.Known || h.V <= 0) && qOut%int(hd.V) == 0:
			return qOut / int(hd.V), int(hd.V), true
		case h.Known && hd.Known && h.V > 0 && hd.V > 0:
			return int(h.V), int(hd.V), true
		}
		return 0, 0, false
	}
	heads, hd := 0, 0
	for _, r := range append(append([]*onnx.NodeProto{}, qHead...), all...) {
		h, w, ok := try(r)
		if !ok {
			continue
		}
		if heads == 0 {
			heads, hd = h, w
		} else if h != heads || w != hd {
			return 0, 0, fmt.Errorf("Reshape node %q splits into %d heads of width %d, another path into %d of width %d", r.GetName(), h, w, heads, hd)
		}
	}
	if heads == 0 {
		return 0, 0, fmt.Errorf("cannot determine the number of heads from Reshape node %q (shape %s): expected [batch, seq, heads, head_dim] with heads or head_dim constant", all[0].GetName(), partsString(d.si.Of(all[0].GetInput()[1])))
	}
	return heads, hd, nil
}

// partsString renders the elements of a small integer tensor for messages, "unknown" when
// inference does not know them.
func partsString(t infer.Info) string {
	if t.Parts == nil {
		return "unknown"
	}
	return "[" + strings.Join(symStrings(t.Parts), ",") + "]"
}

// shapeString renders a tensor's shape for messages: "[batch,seq,768]", "[?]" when the rank is
// unknown.
func shapeString(t infer.Info) string {
	if t.Rank < 0 {
		return "[?]"
	}
	return "[" + strings.Join(symStrings(t.DimList()), ",") + "]"
}

// symStrings renders dimensions or elements: values, the graph's symbols, "?" otherwise.
func symStrings(s []infer.SymInt) []string {
	out := make([]string, len(s))
	for i, v := range s {
		out[i] = "?"
		if v.Known || v.Named() {
			out[i] = v.String()
		}
	}
	return out
}

// ins returns what inference knows of n's inputs.
func (d *disc) ins(n *onnx.NodeProto) []infer.Info {
	out := make([]infer.Info, len(n.GetInput()))
	for i, t := range n.GetInput() {
		out[i] = d.si.Of(t)
	}
	return out
}

// activationOps are the elementwise ops an FFN activation may be built from.
var activationOps = map[string]bool{
	"Mul": true, "Add": true, "Div": true, "Sub": true, "Pow": true, "Erf": true, "Tanh": true, "Relu": true,
	"Gelu": true, "Sigmoid": true, "Sqrt": true, "Identity": true, "Dropout": true, "Cast": true, "Neg": true,
	"Exp": true, "Clip": true, "LeakyRelu": true, "Softplus": true, "Max": true, "Min": true, "HardSigmoid": true,
}

// isLinearAdd tells whether Add node n is a projection's bias addition.
func (d *disc) isLinearAdd(n *onnx.NodeProto) bool {
	if n.GetOpType() != "Add" || len(n.GetInput()) != 2 {
		return false
	}
	for i := range 2 {
		c, _ := d.initOf(n.GetInput()[i], n)
		p := d.ix.Producer(n.GetInput()[1-i])
		// A bias of a projection to a single output (an FFN pruned to one neuron) has one
		// element: what tells it from an activation's scalar constant is the MatMul feeding it.
		if c != "" && p != nil && p.GetOpType() == "MatMul" {
			return true
		}
	}
	return false
}

// parseFFN recognises y = act(x @ W_1 + b_1) @ W_2 + b_2.
func (d *disc) parseFFN(x, y string) (*sublayer, error) {
	sub := &sublayer{kind: KindFFN, x: x, y: y, unit: 1}
	act, err := d.outputProjection(sub, "second projection")
	if err != nil {
		return nil, err
	}
	w2 := sub.outLin
	// The activation: an elementwise region from one tensor h (W_1's output) to act.
	leaves := map[string]bool{}
	ops := map[string]bool{}
	seen := map[string]bool{}
	stack := []string{act}
	for len(stack) > 0 {
		t := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if seen[t] {
			continue
		}
		seen[t] = true
		p := d.ix.Producer(t)
		if p == nil || !isDefaultDomain(p) || !activationOps[p.GetOpType()] || d.isLinearAdd(p) {
			leaves[t] = true
			continue
		}
		ops[p.GetOpType()] = true
		if p.GetOpType() == "Gelu" && onnx.FindAttr(p, "approximate") != nil && string(onnx.FindAttr(p, "approximate").GetS()) == "tanh" {
			ops["Tanh"] = true
		}
		for i, in := range p.GetInput() {
			if in == "" || (p.GetOpType() == "Dropout" && i > 0) {
				continue
			}
			if c := d.ix.Constant(in); c != nil {
				if onnx.NumElements(c.GetDims()) != 1 {
					return nil, fmt.Errorf("the activation's %s node %q uses the constant %q of shape %v; expected scalars only (a per-neuron constant cannot be pruned)", p.GetOpType(), p.GetName(), in, c.GetDims())
				}
				continue
			}
			stack = append(stack, in)
		}
	}
	if len(leaves) != 1 {
		names := sortedKeys(leaves)
		return nil, fmt.Errorf("expected an activation of one tensor (the first projection's output) feeding the second projection %q; it reads %d tensors: %s", w2.Node, len(names), strings.Join(quoteAll(names), ", "))
	}
	var h string
	for t := range leaves {
		h = t
	}
	var actName string
	switch {
	case ops["Gelu"] && ops["Tanh"]:
		actName = "gelu_tanh"
	case ops["Gelu"]:
		actName = "gelu"
	case ops["Erf"]:
		actName = "gelu_erf"
	case ops["Tanh"]:
		actName = "gelu_tanh"
	case ops["Relu"]:
		actName = "relu"
	case ops["Sigmoid"]:
		actName = "silu"
	default:
		return nil, fmt.Errorf("expected an activation (GELU, ReLU) between the projections feeding %q; found %s", w2.Node, d.describe(act))
	}
	// From h back through Reshapes to W_1.
	t := h
	for range 8 {
		p := d.ix.Producer(t)
		if p == nil || (p.GetOpType() != "Reshape" && !isTransparent(p)) {
			break
		}
		if p.GetOpType() == "Reshape" && !d.adaptiveReshape(p) {
			sub.widthReshapes = append(sub.widthReshapes, p)
		}
		t = p.GetInput()[0]
	}
	w1, err := d.parseLinear(t)
	if err != nil {
		return nil, fmt.Errorf("first projection: %w", err)
	}
	if w1.Input != x {
		return nil, fmt.Errorf("the first projection %q reads %q; expected the sublayer's residual input %q", w1.Node, w1.Input, x)
	}
	if w2.In != w1.Out {
		return nil, fmt.Errorf("the first projection %q has %d outputs but the second %q reads %d", w1.Node, w1.Out, w2.Node, w2.In)
	}
	sub.inLins = []linear{w1}
	sub.width = w1.Out
	sub.ffn = &FFN{W1: w1.Linear, W2: w2.Linear, Width: w1.Out, Activation: actName, Act: act, Input: x}
	return sub, nil
}

func quoteAll(s []string) []string {
	out := make([]string, len(s))
	for i, x := range s {
		out[i] = fmt.Sprintf("%q", x)
	}
	return out
}

// findInputs names the model inputs by their role in the embeddings.
func (d *disc) findInputs(enc *Encoder, x0 string) {
	type emb struct {
		input string
		rows  int64
	}
	var embs []emb
	seen := map[string]bool{}
	stack := []string{x0}
	for len(stack) > 0 {
		t := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if seen[t] {
			continue
		}
		seen[t] = true
		p := d.ix.Producer(t)
		if p == nil {
			continue
		}
		if p.GetOpType() == "Gather" {
			if tab := d.ix.Initializer(p.GetInput()[0]); tab != nil && len(tab.GetDims()) == 2 && infer.IsFloat(onnx.TensorProto_DataType(tab.GetDataType())) {
				idx := d.skipTransparent(p.GetInput()[1])
				if d.ix.IsInput(idx) {
					embs = append(embs, emb{idx, tab.GetDims()[0]})
				}
				continue
			}
		}
		for _, in := range p.GetInput() {
			if in != "" && !d.ix.IsConstant(in) {
				stack = append(stack, in)
			}
		}
	}
	sort.SliceStable(embs, func(i, j int) bool { return embs[i].rows > embs[j].rows })
	claimed := map[string]bool{x0: true}
	if len(embs) > 0 {
		enc.InputIDs = embs[0].input
		claimed[embs[0].input] = true
	}
	for i := len(embs) - 1; i >= 1; i-- {
		if embs[i].rows <= 16 && !claimed[embs[i].input] {
			enc.TokenTypeIDs = embs[i].input
			claimed[embs[i].input] = true
			break
		}
	}
	for _, e := range embs {
		claimed[e.input] = true // position ids given as an input
	}
	var rest, unused []string
	for _, v := range d.ix.Inputs() {
		if claimed[v.GetName()] {
			continue
		}
		if len(d.ix.Consumers(v.GetName())) > 0 {
			rest = append(rest, v.GetName())
		} else {
			unused = append(unused, v.GetName())
		}
	}
	switch len(rest) {
	case 0:
		// Every attention sublayer was removed: the mask input is still declared (callers keep
		// feeding it) but nothing reads it.
		if len(unused) == 1 {
			enc.AttentionMask = unused[0]
		}
	case 1:
		enc.AttentionMask = rest[0]
	default:
		for _, r := range rest {
			if d.reaches(r, "Softmax") {
				enc.AttentionMask = r
				break
			}
		}
	}
}

// dependsOn tells whether tensor t is computed from tensor u (or is u).
func (d *disc) dependsOn(t, u string) bool {
	return d.walk(t, false, func(x string, _ *onnx.NodeProto) bool { return x == u })
}

// computedByOp tells whether a node of the given op is upstream of t.
func (d *disc) computedByOp(t, op string) bool {
	return d.walk(t, false, func(_ string, n *onnx.NodeProto) bool { return n != nil && n.GetOpType() == op })
}

// reaches tells whether a node of the given op is downstream of t.
func (d *disc) reaches(t, op string) bool {
	return d.walk(t, true, func(_ string, n *onnx.NodeProto) bool { return n != nil && n.GetOpType() == op })
}

// walk visits the tensors upstream of t (through producers) or downstream of it (through
// consumers), each once, and reports whether found holds for a visited tensor or a node met on
// the way (found gets the tensor with a nil node, then each node crossed from it).
func (d *disc) walk(t string, down bool, found func(tensor string, n *onnx.NodeProto) bool) bool {
	seen := map[string]bool{}
	stack := []string{t}
	for len(stack) > 0 {
		x := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if seen[x] {
			continue
		}
		seen[x] = true
		if found(x, nil) {
			return true
		}
		if down {
			for _, c := range d.ix.Consumers(x) {
				if found(x, c) {
					return true
				}
				stack = append(stack, c.GetOutput()...)
			}
		} else if p := d.ix.Producer(x); p != nil {
			if found(x, p) {
				return true
			}
			stack = append(stack, nodeInputs(p)...)
		}
	}
	return false
}

// headOps are the ops an output head may use on top of the last hidden state.
var headOps = map[string]bool{
	"MatMul": true, "Gemm": true, "Add": true, "Sub": true, "Mul": true, "Div": true, "Pow": true, "Tanh": true,
	"Erf": true, "Relu": true, "Gelu": true, "Sigmoid": true, "Sqrt": true, "Identity": true, "Dropout": true,
	"Gather": true, "Slice": true, "Squeeze": true, "Unsqueeze": true, "Reshape": true, "Split": true,
	"Cast": true, "Flatten": true, "Shape": true, "Concat": true, "Constant": true, "ReduceMean": true,
	"ReduceSum": true, "Expand": true, "Clip": true, "Max": true, "Min": true, "ReduceL2": true,
	"Neg": true, "Transpose": true, "Softmax": false, "LogSoftmax": true,
}

// rankOf returns the rank of t from inference or the graph's value infos, -1 when unknown.
func (d *disc) rankOf(t string) int {
	if r := d.si.Of(t).Rank; r >= 0 {
		return r
	}
	if v := d.ix.ValueInfo(t); v != nil {
		if _, s, ok := onnx.ValueInfoShape(v); ok {
			return len(s)
		}
	}
	return -1
}

// parseHead recognises the output head on the last hidden state hL.
func (d *disc) parseHead(enc *Encoder, hL string) error {
	// Graph outputs downstream of hL.
	down := map[string]bool{hL: true}
	for _, n := range d.ix.Topo() {
		for _, in := range nodeInputs(n) {
			if down[in] {
				for _, o := range n.GetOutput() {
					down[o] = true
				}
				break
			}
		}
	}
	var outs []string
	for _, v := range d.ix.Graph.GetOutput() {
		if down[v.GetName()] {
			outs = append(outs, v.GetName())
		}
	}
	if len(outs) == 0 {
		return fmt.Errorf("no graph output depends on the last LayerNorm output %q: expected an output head or the last hidden state as an output", hL)
	}
	// Every node between hL and the outputs must be head material.
	var hasLinear bool
	for _, o := range outs {
		seen := map[string]bool{}
		stack := []string{o}
		for len(stack) > 0 {
			t := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			if seen[t] || t == hL || !down[t] {
				continue
			}
			seen[t] = true
			p := d.ix.Producer(t)
			if p == nil {
				continue
			}
			op := p.GetOpType()
			if !headOps[op] || (op == "MatMul" && !d.ix.IsConstant(p.GetInput()[1]) && d.ix.Producer(p.GetInput()[1]) != nil && d.ix.Producer(p.GetInput()[1]).GetOpType() != "Transpose") {
				return fmt.Errorf("output %q: expected an output head (pooler, classifier, span or token projection) on the last encoder LayerNorm output %q, found %s; the graph may have a layer the encoder pattern did not match", o, hL, d.describe(t))
			}
			if op == "MatMul" || op == "Gemm" {
				hasLinear = true
			}
			stack = append(stack, p.GetInput()...)
		}
	}
	// A sentence embedding pooled in the graph ([batch, hidden], no weights after the encoder):
	// the output users consume, even when the hidden states are an output too.
	if !hasLinear {
		for i, o := range outs {
			if d.rankOf(o) == 2 && d.skipIdentity(o) != hL {
				enc.Head = HeadEmbedding
				enc.Outputs = append([]string{o}, append(append([]string{}, outs[:i]...), outs[i+1:]...)...)
				return nil
			}
		}
	}
	// Last hidden state as an output and no output made by a projection (feature extraction,
	// possibly with a pooler output): no task head.
	projected := false
	for _, o := range outs {
		if _, err := d.parseLinear(d.unReshape(d.skipIdentity(o))); err == nil {
			projected = true
		}
	}
	for i, o := range outs {
		if !projected && d.skipIdentity(o) == hL {
			enc.Head = HeadNone
			enc.Outputs = append([]string{o}, append(append([]string{}, outs[:i]...), outs[i+1:]...)...)
			return nil
		}
	}
	if !hasLinear {
		enc.Head, enc.Outputs = HeadNone, outs
		return nil
	}
	rank := d.rankOf
	// Several outputs (logits plus hidden states or pooled features): the task head is the one
	// output a projection produces; the others are kept as they are but not distilled.
	var rest []string
	if len(outs) > 1 {
		var lins []string
		for _, o := range outs {
			if _, err := d.parseLinear(d.unReshape(d.skipIdentity(o))); err == nil {
				lins = append(lins, o)
			} else {
				rest = append(rest, o)
			}
		}
		if len(lins) == 1 {
			outs = lins
		} else {
			rest = nil
		}
	}
	switch len(outs) {
	case 1:
		o := outs[0]
		lin, err := d.parseLinear(d.unReshape(d.skipIdentity(o)))
		if err != nil {
			return fmt.Errorf("output %q: expected the head's last projection: %w", o, err)
		}
		switch rank(o) {
		case 2:
			enc.Head = HeadClassification
			if lin.Out == 1 {
				enc.Head = HeadRegression
			}
		case 3:
			enc.Head = HeadToken
		default:
			return fmt.Errorf("output %q has rank %d: expected [batch, labels] (classification, regression) or [batch, seq, labels] (token classification)", o, rank(o))
		}
		enc.Outputs, enc.NumLabels = append(outs, rest...), lin.Out
		return nil
	case 2:
		type part struct {
			out string
			idx int64
			src string
		}
		var parts []part
		for _, o := range outs {
			src, idx, err := d.spanPart(d.skipIdentity(o))
			if err != nil {
				return fmt.Errorf("output %q: %w", o, err)
			}
			if rank(o) != 2 {
				return fmt.Errorf("output %q has rank %d; expected span logits [batch, seq]", o, rank(o))
			}
			parts = append(parts, part{o, idx, src})
		}
		if parts[0].src != parts[1].src || parts[0].idx == parts[1].idx {
			return fmt.Errorf("outputs %q and %q are not the start and end logits of one [batch, seq, 2] projection", outs[0], outs[1])
		}
		lin, err := d.parseLinear(d.unReshape(parts[0].src))
		if err != nil {
			return fmt.Errorf("span logits: %w", err)
		}
		if lin.Out != 2 {
			return fmt.Errorf("span projection %q has %d outputs; expected 2 (start, end)", lin.Node, lin.Out)
		}
		sort.Slice(parts, func(i, j int) bool { return parts[i].idx < parts[j].idx })
		enc.Head, enc.Outputs = HeadSpan, []string{parts[0].out, parts[1].out}
		return nil
	}
	return fmt.Errorf("%d graph outputs (%s) depend on the last hidden state %q: expected one head output (classification, regression, token), two span logits, or the hidden state itself", len(outs), strings.Join(quoteAll(outs), ", "), hL)
}

// spanPart recognises one of the span logits: Squeeze/Reshape of Split, Slice or Gather on the
// last axis of a [batch, seq, 2] tensor; it returns that tensor and the index taken.
func (d *disc) spanPart(t string) (string, int64, error) {
	for range 8 {
		p := d.ix.Producer(t)
		if p == nil {
			break
		}
		switch p.GetOpType() {
		case "Squeeze", "Reshape", "Identity", "Contiguous":
			t = p.GetInput()[0]
			continue
		case "Split":
			for i, o := range p.GetOutput() {
				if o == t {
					return d.skipIdentity(p.GetInput()[0]), int64(i), nil
				}
			}
		case "Slice":
			s := d.si.Of(p.GetInput()[1])
			if len(s.Parts) == 1 && s.Parts[0].Known {
				return d.skipIdentity(p.GetInput()[0]), s.Parts[0].V, nil
			}
		case "Gather":
			s := d.si.Of(p.GetInput()[1])
			if len(s.Parts) == 1 && s.Parts[0].Known {
				return d.skipIdentity(p.GetInput()[0]), s.Parts[0].V, nil
			}
		}
		break
	}
	return "", 0, fmt.Errorf("expected span logits taken from a [batch, seq, 2] projection by Split, Slice or Gather, found %s", d.describe(t))
}

// sortedKeys returns m's keys sorted.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
