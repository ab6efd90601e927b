package graph

import (
	"errors"
	"fmt"
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
// counts; removed sublayers whose output is LN(x) or LN(x + b)). Parameters may be reached through
// Identity aliases; attention probabilities through Where guards; scores may carry per-head terms
// (relative position biases); Reshapes may take their targets from run-time shapes. Whatever
// follows the last hidden state is the head (see HeadKind), pooled sentence embeddings included.
//
// A graph that is not such an encoder, or uses a pattern Discover does not understand, gives an
// error naming the node or tensor and what was expected: one matching ErrNotEncoder when there is
// no encoder chain at all, an *UnsupportedError for many nodes in a form Discover does not
// handle. Models kprune cannot prune are refused first with ErrQuantized or ErrUnsupportedModel
// (quantized, float16, DeBERTa, ALBERT), and graphs with onnxruntime's com.microsoft operators
// with ErrFused: turn them back into standard ONNX with graph/fused.Unfuse (or
// prune.Standardize) first.
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
		return nil, nil, notEncoder("no LayerNorm found (neither a LayerNormalization node nor the ReduceMean/Sub/Pow/ReduceMean/Add/Sqrt/Div/Mul/Add decomposition): this is not a post-LN BERT-family encoder")
	}
	rs, err := d.residuals()
	if err != nil {
		return nil, nil, err
	}
	// The chain starts at the first LayerNorm (in graph order) that is not itself a residual step
	// but whose output is the residual input of another: the embedding LayerNorm.
	residualOf := map[string][]*lnMatch{}
	for _, ln := range d.lns {
		if r, ok := rs[ln]; ok {
			residualOf[r.r] = append(residualOf[r.r], ln)
		}
	}
	x0, embLN := d.chainStart(rs, residualOf)
	if x0 == "" {
		ln := d.lns[0]
		return nil, nil, notEncoder("no encoder layer found: no LayerNorm output (e.g. %q of LayerNorm %s) feeds a residual Add closed by another LayerNorm; expected embeddings -> LayerNorm -> [attention, Add, LayerNorm, feed-forward, Add, LayerNorm] per layer", ln.Output, d.lnName(ln))
	}
	chain, err := d.residualChain(x0, embLN, residualOf)
	if err != nil {
		return nil, nil, err
	}
	hidden := d.lnWidth(chain[0])
	if embLN != nil && d.lnWidth(embLN) != hidden {
		return nil, nil, fmt.Errorf("the embedding LayerNorm %s has width %d but the first sublayer's LayerNorm %s has %d", d.lnName(embLN), d.lnWidth(embLN), d.lnName(chain[0]), hidden)
	}
	enc := &Encoder{Hidden: hidden}
	subs, err := d.parseSublayers(enc, chain, rs, x0)
	if err != nil {
		return nil, nil, err
	}
	if err := checkWidths(enc); err != nil {
		return nil, nil, err
	}
	if err := refuseSharedLayers(enc); err != nil {
		return nil, nil, err
	}
	d.findInputs(enc, x0)
	if err := d.parseHead(enc, chain[len(chain)-1].Output); err != nil {
		return nil, nil, err
	}
	return enc, subs, nil
}

// residual is what a LayerNorm on the encoder's chain closes: LN(r + y), with y the sublayer's
// output, or a removed sublayer's LN(r) (y "") or LN(r + b) (bias).
type residual struct {
	r    string // residual input (an LN output), "" if none
	y    string // sublayer output or bias ("" when LN(x))
	add  *onnx.NodeProto
	bias bool
}

// residuals finds, for every LayerNorm reading another LayerNorm's output directly or through
// Add(residual, y), the residual it closes.
func (d *disc) residuals() (map[*lnMatch]residual, error) {
	rs := map[*lnMatch]residual{}
	for _, ln := range d.lns {
		p := d.skipIdentity(ln.Input)
		if d.by[p] != nil {
			rs[ln] = residual{r: p}
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
			return nil, unsupported(n, "the input of LayerNorm %s is Add node %q of two LayerNorm outputs (%q and %q): expected Add(residual, sublayer output)", d.lnName(ln), n.GetName(), a, b)
		case d.by[a] != nil:
			r, y = a, n.GetInput()[1]
		case d.by[b] != nil:
			r, y = b, n.GetInput()[0]
		default:
			continue
		}
		rs[ln] = residual{r: r, y: y, add: n, bias: d.ix.IsConstant(y)}
	}
	return rs, nil
}

// chainStart finds x0, the first sublayer's residual input, and the embedding LayerNorm producing
// it (nil when x0 is not a LayerNorm output); x0 is "" when there is no chain. x0 is normally the
// embedding LayerNorm's output. The first attention sublayer may read another tensor though: a
// projection of the embeddings (ELECTRA-small) or a graph input (a graph cut at an attention
// sublayer). Such a sublayer's LayerNorm closes no residual from a LayerNorm but reads
// Add(x0, Attention(x0)); chainStart then records that residual in rs and residualOf.
func (d *disc) chainStart(rs map[*lnMatch]residual, residualOf map[string][]*lnMatch) (string, *lnMatch) {
	for _, ln := range d.lns {
		if _, ok := rs[ln]; ok {
			continue
		}
		// The first attention sublayer was removed: LN(x0) (or LN(x0 + b)) with x0 the output of
		// the embedding projection and the chain going on from this LayerNorm.
		if x, y, add, ok := d.removedFirstSublayer(ln); ok && len(residualOf[ln.Output]) > 0 {
			rs[ln] = residual{r: x, y: y, add: add, bias: y != ""}
			residualOf[x] = []*lnMatch{ln}
			return x, nil
		}
		if x, y, add := d.projectedFirstSublayer(ln); x != "" {
			rs[ln] = residual{r: x, y: y, add: add}
			residualOf[x] = []*lnMatch{ln}
			return x, nil
		}
	}
	for _, ln := range d.lns {
		if _, ok := rs[ln]; !ok && len(residualOf[ln.Output]) > 0 {
			return ln.Output, ln
		}
	}
	return "", nil
}

// projectedFirstSublayer recognises the LayerNorm of a first attention sublayer whose residual
// input x is not a LayerNorm output: its input is Add(x, y) with y the attention over x. It
// returns x, y and the Add (x "" when ln is not such a LayerNorm).
func (d *disc) projectedFirstSublayer(ln *lnMatch) (x, y string, add *onnx.NodeProto) {
	n := d.ix.Producer(d.skipIdentity(ln.Input))
	if n == nil || n.GetOpType() != "Add" || len(n.GetInput()) != 2 {
		return "", "", nil
	}
	for i := range 2 {
		x, y := d.skipIdentity(n.GetInput()[i]), n.GetInput()[1-i]
		if d.ix.IsConstant(x) || d.ix.IsConstant(y) || d.computedByOp(x, "Softmax") {
			continue // an attention before x0 means x0 is inside the encoder
		}
		if _, err := d.parseMHA(x, y); err == nil {
			return x, y, n
		}
	}
	return "", "", nil
}

// residualChain follows the residual chain from x0 and returns its LayerNorms, one per sublayer.
// Every LayerNorm of the graph must be on it or among the embeddings (before x0), and it must
// pair attention and feed-forward sublayers.
func (d *disc) residualChain(x0 string, embLN *lnMatch, residualOf map[string][]*lnMatch) ([]*lnMatch, error) {
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
			return nil, fmt.Errorf("tensor %q is the residual input of two LayerNorms (%s and %s): expected one chain of sublayers", cur, d.lnName(next[0]), d.lnName(next[1]))
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
			return nil, fmt.Errorf("LayerNorm %s (reading %q) is not on the encoder's residual chain, which ends after %d sublayers at %q: expected its input to be Add(previous LayerNorm output, sublayer output), found %s", d.lnName(ln), ln.Input, len(chain), end, found)
		}
	}
	if len(chain) == 0 {
		return nil, notEncoder("no encoder layer found after %q", x0)
	}
	if len(chain)%2 != 0 {
		return nil, fmt.Errorf("found %d residual sublayers after the embeddings: expected pairs of attention and feed-forward sublayers (the last LayerNorm is %s)", len(chain), d.lnName(chain[len(chain)-1]))
	}
	return chain, nil
}

// parseSublayers fills enc's layers from the chain of sublayer LayerNorms starting at x0: their
// inputs and outputs, and the attention or feed-forward sublayer each present one holds. It
// returns the details of each sublayer (nil for removed ones).
func (d *disc) parseSublayers(enc *Encoder, chain []*lnMatch, rs map[*lnMatch]residual, x0 string) ([]*sublayer, error) {
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
			return nil, fmt.Errorf("layer %d: %w", l, err)
		}
		subs[s] = sub
		if sub.mha != nil {
			L.MHA = sub.mha
		} else {
			L.FFN = sub.ffn
		}
	}
	return subs, nil
}

// checkWidths sets enc.HeadDim and checks that every layer has heads of that width and
// projections reading and writing the hidden size.
func checkWidths(enc *Encoder) error {
	for l := range enc.Layers {
		if m := enc.Layers[l].MHA; m != nil {
			if enc.HeadDim == 0 {
				enc.HeadDim = m.HeadDim
			} else if m.HeadDim != enc.HeadDim {
				return fmt.Errorf("layer %d has attention heads of width %d but earlier layers have %d: expected one head width", l, m.HeadDim, enc.HeadDim)
			}
		}
	}
	for l, L := range enc.Layers {
		var in []Linear
		if L.MHA != nil {
			in = append(in, L.MHA.Q, L.MHA.K, L.MHA.V)
			if L.MHA.O.Out != enc.Hidden {
				return fmt.Errorf("layer %d: output projection %q has %d outputs, expected the hidden size %d", l, L.MHA.O.Node, L.MHA.O.Out, enc.Hidden)
			}
		}
		if L.FFN != nil {
			in = append(in, L.FFN.W1)
			if L.FFN.W2.Out != enc.Hidden {
				return fmt.Errorf("layer %d: projection %q has %d outputs, expected the hidden size %d", l, L.FFN.W2.Node, L.FFN.W2.Out, enc.Hidden)
			}
		}
		for _, lin := range in {
			if lin.In != enc.Hidden {
				return fmt.Errorf("layer %d: projection %q reads width %d, expected the hidden size %d", l, lin.Node, lin.In, enc.Hidden)
			}
		}
	}
	return nil
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

func quoteAll(s []string) []string {
	out := make([]string, len(s))
	for i, x := range s {
		out[i] = fmt.Sprintf("%q", x)
	}
	return out
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
	return VisitTensors([]string{t}, nil, func(x string) ([]string, bool) {
		if found(x, nil) {
			return nil, true
		}
		var next []string
		if down {
			for _, c := range d.ix.Consumers(x) {
				if found(x, c) {
					return nil, true
				}
				next = append(next, c.GetOutput()...)
			}
		} else if p := d.ix.Producer(x); p != nil {
			if found(x, p) {
				return nil, true
			}
			next = nodeInputs(p)
		}
		return next, false
	})
}


