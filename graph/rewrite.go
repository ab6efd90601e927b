package graph

import (
	"fmt"
	"strings"

	"github.com/kprune/kprune/graph/infer"
	"github.com/kprune/kprune/onnx"
)

// MaskOptions configure InsertMasks.
type MaskOptions struct {
	// PerExample gives each mask a batch axis: shape [batch, 1, W] instead of [W], so that the
	// gradient with respect to it is per example.
	PerExample bool
}

// MaskName returns the name of the graph input InsertMasks adds for sublayer s.
func MaskName(s int) string { return fmt.Sprintf("kprune_mask_%d", s) }

// Plan says which units Prune keeps. Heads[l] and Neurons[l] list the kept head and neuron
// indices of layer l in strictly ascending order: a nil entry keeps everything, an empty non-nil
// entry keeps nothing (the sublayer is removed). A nil or empty Heads or Neurons slice keeps all
// units of that kind in every layer; otherwise it must have one entry per layer.
type Plan struct{ Heads, Neurons [][]int }

// PruneOptions configure Prune.
type PruneOptions struct {
	// KeepBias makes a sublayer that keeps no unit compute LN(x + b_out), the exact value of the
	// emptied sublayer, instead of the K-prune reference's LN(x).
	KeepBias bool
}

// clone returns a deep copy of the encoder description.
func (e *Encoder) clone() *Encoder {
	c := *e
	c.Layers = make([]Layer, len(e.Layers))
	for i, l := range e.Layers {
		c.Layers[i] = l
		if l.MHA != nil {
			m := *l.MHA
			c.Layers[i].MHA = &m
		}
		if l.FFN != nil {
			f := *l.FFN
			c.Layers[i].FFN = &f
		}
	}
	c.Outputs = append([]string(nil), e.Outputs...)
	return &c
}

// sublayerOf re-recognises sublayer s of enc in d's graph from the tensors enc names (so it also
// works on graphs cut by Cut or Extract) and checks that it matches enc.
func (d *disc) sublayerOf(enc *Encoder, s int) (*sublayer, error) {
	if enc == nil {
		return nil, fmt.Errorf("nil encoder")
	}
	if s < 0 || s >= enc.NumSublayers() {
		return nil, fmt.Errorf("sublayer %d is out of range (the encoder has %d sublayers)", s, enc.NumSublayers())
	}
	l := enc.Layers[s/2]
	var preLN, x string
	var ln LayerNorm
	if s%2 == 0 {
		if l.MHA == nil {
			return nil, fmt.Errorf("sublayer %d (layer %d attention) was removed", s, s/2)
		}
		preLN, x, ln = l.MHA.PreLN, l.MHA.Input, l.MHA.LN
	} else {
		if l.FFN == nil {
			return nil, fmt.Errorf("sublayer %d (layer %d feed-forward) was removed", s, s/2)
		}
		preLN, x, ln = l.FFN.PreLN, l.FFN.Input, l.FFN.LN
	}
	add := d.ix.Producer(preLN)
	if add == nil || add.GetOpType() != "Add" || len(add.GetInput()) != 2 {
		return nil, fmt.Errorf("sublayer %d: the encoder description does not match the model: tensor %q is not produced by a residual Add", s, preLN)
	}
	var y string
	switch x {
	case d.skipIdentity(add.GetInput()[0]):
		y = add.GetInput()[1]
	case d.skipIdentity(add.GetInput()[1]):
		y = add.GetInput()[0]
	default:
		return nil, fmt.Errorf("sublayer %d: the encoder description does not match the model: residual Add %q does not read the sublayer input %q", s, add.GetName(), x)
	}
	var sub *sublayer
	var err error
	if s%2 == 0 {
		sub, err = d.parseMHA(x, y)
	} else {
		sub, err = d.parseFFN(x, y)
	}
	if err != nil {
		return nil, fmt.Errorf("sublayer %d (layer %d): %w", s, s/2, err)
	}
	sub.add = add
	var want, got []Linear
	if s%2 == 0 {
		sub.mha.PreLN, sub.mha.LN = preLN, ln
		want = []Linear{l.MHA.Q, l.MHA.K, l.MHA.V, l.MHA.O}
		got = []Linear{sub.mha.Q, sub.mha.K, sub.mha.V, sub.mha.O}
		if sub.mha.Heads != l.MHA.Heads || sub.mha.Context != l.MHA.Context {
			return nil, fmt.Errorf("sublayer %d: the encoder description does not match the model: it says %d heads and context %q, the graph has %d heads and context %q", s, l.MHA.Heads, l.MHA.Context, sub.mha.Heads, sub.mha.Context)
		}
	} else {
		sub.ffn.PreLN, sub.ffn.LN = preLN, ln
		want = []Linear{l.FFN.W1, l.FFN.W2}
		got = []Linear{sub.ffn.W1, sub.ffn.W2}
		if sub.ffn.Width != l.FFN.Width || sub.ffn.Act != l.FFN.Act {
			return nil, fmt.Errorf("sublayer %d: the encoder description does not match the model: it says width %d and activation tensor %q, the graph has %d and %q", s, l.FFN.Width, l.FFN.Act, sub.ffn.Width, sub.ffn.Act)
		}
	}
	for i := range want {
		if want[i].Weight != got[i].Weight || want[i].Bias != got[i].Bias || want[i].Orient != got[i].Orient {
			return nil, fmt.Errorf("sublayer %d: the encoder description does not match the model: it names weight %q and bias %q, the graph uses %q and %q (was the description discovered on another model?)", s, want[i].Weight, want[i].Bias, got[i].Weight, got[i].Bias)
		}
	}
	return sub, nil
}

// InsertMasks returns m with a multiplicative mask on the input of the output projection of each
// listed sublayer: a new float graph input MaskName(s) of shape [W] ([batch, 1, W] with
// PerExample) multiplies the attention context (W = Heads*HeadDim, HeadDim entries per head,
// head-major) or the FFN activation (W = Width) just before the projection. The element type is
// the model's (float or double). With all-ones masks the outputs are unchanged. enc's tensor
// names stay valid: Context and Act name the unmasked tensors. m may be a model cut by Cut.
func InsertMasks(m *onnx.ModelProto, enc *Encoder, sublayers []int, opts MaskOptions) (_ *onnx.ModelProto, err error) {
	defer recoverErr("insert masks", &err)
	d, err := newDisc(m)
	if err != nil {
		return nil, fmt.Errorf("insert masks: %w", err)
	}
	e := newEditor(m, d.ix)
	seen := map[int]bool{}
	for _, s := range sublayers {
		if seen[s] {
			return nil, fmt.Errorf("insert masks: sublayer %d is listed twice", s)
		}
		seen[s] = true
		sub, err := d.sublayerOf(enc, s)
		if err != nil {
			return nil, fmt.Errorf("insert masks: %w", err)
		}
		name := MaskName(s)
		if e.names[name] {
			return nil, fmt.Errorf("insert masks: the model already has a tensor called %q", name)
		}
		e.names[name] = true
		w := d.ix.Initializer(sub.outLin.Weight)
		elem := onnx.TensorProto_DataType(w.GetDataType())
		shape := []onnx.Dim{{Value: int64(sub.width)}}
		if opts.PerExample {
			if r := d.si.Of(sub.inner).Rank; r >= 0 && r != 3 {
				return nil, fmt.Errorf("insert masks: sublayer %d: per-example masks need the projection input %q to be [batch, seq, width], it has rank %d", s, sub.inner, r)
			}
			batch := onnx.Dim{Param: "batch"}
			if t := d.si.Of(sub.x); t.Rank >= 1 {
				if b := t.Dim(0); b.Known {
					batch = onnx.Dim{Value: b.V}
				} else if b.Named() && !strings.HasPrefix(b.Sym, "unk__") {
					batch = onnx.Dim{Param: b.Sym}
				}
			}
			shape = []onnx.Dim{batch, {Value: 1}, {Value: int64(sub.width)}}
		}
		e.inputs = append(e.inputs, onnx.NewValueInfo(name, elem, shape))
		masked := e.fresh(sub.inner + "_masked")
		mul := onnx.NewNode("Mul", e.fresh(fmt.Sprintf("kprune_mask_mul_%d", s)), []string{sub.inner, name}, []string{masked})
		e.insertBefore(sub.consumer, mul)
		e.replaceInput(sub.consumer, sub.inner, masked)
	}
	return e.build(true), nil
}

// putInit stores t as the new value of initializer name for the node user. When user is the
// only reader, the initializer is replaced under its name; otherwise t gets a fresh name and only
// user is rewired to it. It returns the name t is stored under.
func (e *editor) putInit(name string, user *onnx.NodeProto, t *onnx.TensorProto) string {
	cons := e.ix.Consumers(name)
	if len(cons) == 1 && cons[0] == user && !e.ix.IsOutput(name) {
		t.Name = &name
		e.setInit(t)
		return name
	}
	nn := e.fresh(name + "_kprune")
	t.Name = &nn
	e.setInit(t)
	e.replaceInput(user, name, nn)
	return nn
}

// unitColumns expands kept unit indices into column indices of width unit each.
func unitColumns(keep []int, unit int) []int {
	cols := make([]int, 0, len(keep)*unit)
	for _, k := range keep {
		for j := range unit {
			cols = append(cols, k*unit+j)
		}
	}
	return cols
}

// Prune physically removes the units plan does not keep: per removed head, its d_h columns of
// W_Q, W_K, W_V (and bias entries) and d_h rows of W_O; per removed neuron, its column of W_1 (and
// b_1 entry) and row of W_2 (in y = x @ W orientation; stored orientations are handled). It writes
// the new head count into every Reshape shape on the attention paths (constants are cloned, never
// edited; Concat-built shapes get a new constant piece; -1 entries stay), the new widths into the
// Reshapes of Gemm-style graphs, drops stale value infos, and removes sublayers that keep nothing:
// their LayerNorm then reads x (or x + b_out with KeepBias) through an Identity (or Add) that
// keeps the pre-LN tensor's name. Dead nodes and unused initializers are removed; the graph
// inputs are kept.
//
// It returns the new model and its Encoder: the same tensor names (SublayerInput/Output,
// Context, Act, PreLN) with updated head counts and widths, nil for removed sublayers, and new
// weight names only where a weight was shared with another node and had to be copied.
func Prune(m *onnx.ModelProto, enc *Encoder, plan Plan, opts PruneOptions) (_ *onnx.ModelProto, _ *Encoder, err error) {
	defer recoverErr("prune", &err)
	if enc == nil {
		return nil, nil, fmt.Errorf("prune: nil encoder")
	}
	nl := len(enc.Layers)
	if len(plan.Heads) != 0 && len(plan.Heads) != nl {
		return nil, nil, fmt.Errorf("prune: the plan has head lists for %d layers, the encoder has %d layers", len(plan.Heads), nl)
	}
	if len(plan.Neurons) != 0 && len(plan.Neurons) != nl {
		return nil, nil, fmt.Errorf("prune: the plan has neuron lists for %d layers, the encoder has %d layers", len(plan.Neurons), nl)
	}
	d, err := newDisc(m)
	if err != nil {
		return nil, nil, fmt.Errorf("prune: %w", err)
	}
	e := newEditor(m, d.ix)
	out := enc.clone()
	var checks []reshapeCheck
	for l := range nl {
		for kind := range 2 {
			keep := plan.kept(l, SublayerKind(kind))
			if keep == nil {
				continue
			}
			c, err := e.pruneSublayer(d, enc, out, 2*l+kind, keep, opts)
			if err != nil {
				return nil, nil, fmt.Errorf("prune: %w", err)
			}
			checks = append(checks, c...)
		}
	}
	nm := e.build(true)
	if err := checkReshapes(nm, checks); err != nil {
		return nil, nil, fmt.Errorf("prune: %w", err)
	}
	return nm, out, nil
}

// kept returns the units the plan keeps in layer l's sublayer of the given kind (nil: all).
func (p Plan) kept(l int, kind SublayerKind) []int {
	if kind == KindMHA && len(p.Heads) > 0 {
		return p.Heads[l]
	} else if kind == KindFFN && len(p.Neurons) > 0 {
		return p.Neurons[l]
	}
	return nil
}

// reshapeCheck is a rewritten Reshape that must produce want at axis pos (negative: from the end).
type reshapeCheck struct {
	r    *onnx.NodeProto
	pos  int
	want int64
}

// pruneSublayer edits sublayer s of enc to keep only the units keep (ascending indices), or
// removes it when keep is empty, and updates its description in out. It returns the Reshapes
// whose new target shapes checkReshapes must verify.
func (e *editor) pruneSublayer(d *disc, enc, out *Encoder, s int, keep []int, opts PruneOptions) ([]reshapeCheck, error) {
	l, kind := s/2, s%2
	unitName := map[int]string{0: "head", 1: "neuron"}[kind]
	removed := (kind == 0 && enc.Layers[l].MHA == nil) || (kind == 1 && enc.Layers[l].FFN == nil)
	if removed {
		if len(keep) > 0 {
			return nil, fmt.Errorf("layer %d: the plan keeps %d %ss of a sublayer that was already removed", l, len(keep), unitName)
		}
		return nil, nil
	}
	sub, err := d.sublayerOf(enc, s)
	if err != nil {
		return nil, err
	}
	units := sub.width / sub.unit
	for i, k := range keep {
		if k < 0 || k >= units {
			return nil, fmt.Errorf("layer %d: kept %s index %d is out of range [0, %d)", l, unitName, k, units)
		}
		if i > 0 && k <= keep[i-1] {
			return nil, fmt.Errorf("layer %d: kept %s indices must be strictly ascending, found %d after %d", l, unitName, k, keep[i-1])
		}
	}
	if len(keep) == units {
		return nil, nil
	}
	e.markStale(d, sub)
	if len(keep) == 0 {
		e.removeSublayer(sub, opts.KeepBias)
		if kind == 0 {
			out.Layers[l].MHA = nil
		} else {
			out.Layers[l].FFN = nil
		}
		return nil, nil
	}
	cols := unitColumns(keep, sub.unit)
	names, err := e.sliceSublayer(d, sub, cols)
	if err != nil {
		return nil, fmt.Errorf("layer %d: %w", l, err)
	}
	for _, st := range sub.scoreTerms {
		e.gatherHeads(st, keep)
	}
	var checks []reshapeCheck
	for _, r := range sub.headReshapes {
		if err := e.setShapeEntry(d, r, 2, int64(len(keep))); err != nil {
			return nil, fmt.Errorf("layer %d: %w", l, err)
		}
		checks = append(checks, reshapeCheck{r, 2, int64(len(keep))})
	}
	for _, r := range sub.widthReshapes {
		if err := e.setShapeEntry(d, r, -1, int64(len(cols))); err != nil {
			return nil, fmt.Errorf("layer %d: %w", l, err)
		}
		checks = append(checks, reshapeCheck{r, -1, int64(len(cols))})
	}
	w := len(cols)
	if kind == 0 {
		h := out.Layers[l].MHA
		h.Heads = len(keep)
		for i, lin := range []*Linear{&h.Q, &h.K, &h.V} {
			lin.Out, lin.Weight, lin.Bias = w, names[2*i], names[2*i+1]
		}
		h.O.In, h.O.Weight = w, names[6]
	} else {
		f := out.Layers[l].FFN
		f.Width = w
		f.W1.Out, f.W1.Weight, f.W1.Bias = w, names[0], names[1]
		f.W2.In, f.W2.Weight = w, names[2]
	}
	return checks, nil
}

// checkReshapes verifies that every rewritten Reshape of nm now produces the new width.
func checkReshapes(nm *onnx.ModelProto, checks []reshapeCheck) error {
	if len(checks) == 0 {
		return nil
	}
	si := infer.Partial(nm.GetGraph())
	for _, c := range checks {
		t := si.Of(c.r.GetOutput()[0])
		if t.Rank < 1 {
			continue
		}
		pos := c.pos
		if pos < 0 {
			pos += t.Rank
		}
		if pos >= 0 && pos < t.Rank && t.Dims[pos] >= 0 && t.Dims[pos] != c.want {
			return unsupported(c.r, "Reshape node %q produces %s after the rewrite, expected %d at axis %d; its target shape is computed in a way kprune cannot rewrite", c.r.GetName(), shapeString(t), c.want, pos)
		}
	}
	return nil
}

// markStale records the tensors inside a sublayer (between its input and the output
// projection's input) whose value infos a rewrite invalidates.
func (e *editor) markStale(d *disc, sub *sublayer) {
	starts := []string{sub.inner}
	for _, lin := range sub.inLins {
		starts = append(starts, lin.Output, lin.node.GetOutput()[0])
	}
	VisitTensors(starts, map[string]bool{sub.x: true, "": true}, func(t string) ([]string, bool) {
		p := d.ix.Producer(t)
		if p == nil {
			return nil, false
		}
		e.stale[t] = true
		return p.GetInput(), false
	})
	if sub.consumer != nil && sub.consumer != sub.outLin.node {
		for _, o := range sub.consumer.GetOutput() {
			e.stale[o] = true
		}
	}
}

// removeSublayer turns the residual Add x + y into Identity(x), or Add(x, b_out) with keepBias.
func (e *editor) removeSublayer(sub *sublayer, keepBias bool) {
	xIn, _ := otherInput(sub.add, sub.y)
	a := e.node(sub.add)
	if keepBias && sub.outLin.Bias != "" {
		a.Input = []string{xIn, sub.outLin.Bias}
		return
	}
	op := "Identity"
	a.OpType = &op
	a.Input = []string{xIn}
	a.Attribute = nil
}

// sliceSublayer keeps the given columns of the inner width: columns of the input projections
// (and their biases) and rows of the output projection. It returns the weight and bias names
// used afterwards: Q.W, Q.b, K.W, K.b, V.W, V.b, O.W for attention; W1, b1, W2 for FFN.
func (e *editor) sliceSublayer(d *disc, sub *sublayer, cols []int) ([]string, error) {
	var names []string
	for _, lin := range sub.inLins {
		w := e.init(lin.Weight)
		var nw *onnx.TensorProto
		var err error
		if lin.Orient == InOut {
			nw, err = selectCols(w, cols)
		} else {
			nw, err = selectRows(w, cols)
		}
		if err != nil {
			return nil, err
		}
		names = append(names, e.putInit(lin.Weight, lin.wUser, nw))
		if lin.Bias == "" {
			names = append(names, "")
			continue
		}
		nb, err := selectCols(e.init(lin.Bias), cols)
		if err != nil {
			return nil, err
		}
		names = append(names, e.putInit(lin.Bias, lin.bUser, nb))
	}
	o := sub.outLin
	w := e.init(o.Weight)
	var nw *onnx.TensorProto
	var err error
	if o.Orient == InOut {
		nw, err = selectRows(w, cols)
	} else {
		nw, err = selectCols(w, cols)
	}
	if err != nil {
		return nil, err
	}
	names = append(names, e.putInit(o.Weight, o.wUser, nw))
	return names, nil
}

// setShapeEntry makes Reshape node r's target shape hold v at position pos (negative counts from
// the end). An entry of -1 is left alone. Constant shapes are copied into a new initializer;
// Concat-built shapes get a new Concat with a new constant piece; anything else is patched with
// Slice and Concat.
func (e *editor) setShapeEntry(d *disc, r *onnx.NodeProto, pos int, v int64) error {
	if len(r.GetInput()) < 2 {
		return fmt.Errorf("reshape node %q has no shape input", r.GetName())
	}
	shapeT := r.GetInput()[1]
	si := d.si.Of(shapeT)
	if si.Rank != 1 || si.Dims[0] < 0 {
		return fmt.Errorf("cannot tell the length of the target shape %q of Reshape node %q", shapeT, r.GetName())
	}
	k := int(si.Dims[0])
	if pos < 0 {
		pos += k
	}
	if pos < 0 || pos >= k {
		return fmt.Errorf("reshape node %q: its target shape has %d entries, cannot set entry %d", r.GetName(), k, pos)
	}
	if si.Parts != nil && len(si.Parts) != k {
		return fmt.Errorf("reshape node %q: its target shape %q has inconsistent length (%d entries, %d values)", r.GetName(), shapeT, k, len(si.Parts))
	}
	if si.Parts != nil && si.Parts[pos].Known && (si.Parts[pos].V == -1 || si.Parts[pos].V == v) {
		return nil
	}
	if e.shapes == nil {
		e.shapes = map[string]string{}
	}
	key := fmt.Sprintf("%s\x00%d\x00%d", shapeT, pos, v)
	if nn, ok := e.shapes[key]; ok {
		e.replaceInput(r, shapeT, nn)
		return nil
	}
	nn, cacheable, err := e.rewriteShape(d, shapeT, k, pos, v, r)
	if err != nil {
		return err
	}
	if cacheable {
		e.shapes[key] = nn
	}
	e.replaceInput(r, shapeT, nn)
	return nil
}

func (e *editor) rewriteShape(d *disc, t string, k, pos int, v int64, user *onnx.NodeProto) (string, bool, error) {
	if c := d.ix.Constant(t); c != nil {
		vals, err := onnx.Int64s(c)
		if err != nil {
			return "", false, fmt.Errorf("reshape node %q: %w", user.GetName(), err)
		}
		if pos >= len(vals) {
			return "", false, fmt.Errorf("reshape node %q: its target shape %q has %d values, cannot set entry %d", user.GetName(), t, len(vals), pos)
		}
		vals = append([]int64(nil), vals...)
		vals[pos] = v
		name := e.fresh(t + "_kprune")
		e.setInit(onnx.NewInt64Tensor(name, []int64{int64(len(vals))}, vals))
		return name, true, nil
	}
	p := d.ix.Producer(t)
	if p != nil && p.GetOpType() == "Concat" && isDefaultDomain(p) && len(p.GetOutput()) == 1 {
		off := 0
		for i, in := range p.GetInput() {
			ti := d.si.Of(in)
			if ti.Rank != 1 || ti.Dims[0] < 0 {
				break
			}
			n := int(ti.Dims[0])
			if pos < off+n {
				j := pos - off
				if ti.Parts == nil {
					break
				}
				vals := make([]int64, len(ti.Parts))
				ok := true
				for q, x := range ti.Parts {
					ok = ok && x.Known
					vals[q] = x.V
				}
				if !ok {
					break
				}
				vals[j] = v
				piece := e.fresh(in + "_kprune")
				e.setInit(onnx.NewInt64Tensor(piece, []int64{int64(n)}, vals))
				nc := cloneNode(p)
				name := e.fresh(p.GetName() + "_kprune")
				nc.Name = &name
				nc.Output = []string{e.fresh(t + "_kprune")}
				nc.Input[i] = piece
				e.insertAfter(p, nc)
				return nc.Output[0], true, nil
			}
			off += n
		}
	}
	// Generic patch: Concat(Slice(t, 0, pos), [v], Slice(t, pos+1, k)).
	if onnx.Opset(e.src) != 0 && onnx.Opset(e.src) < 10 {
		return "", false, unsupported(user, "reshape node %q: its target shape %q is computed at run time and opset %d has no Slice with inputs to patch it; export at opset 11 or newer", user.GetName(), t, onnx.Opset(e.src))
	}
	var nodes []*onnx.NodeProto
	var parts []string
	slice := func(from, to int) {
		st := e.fresh(t + "_kprune_start")
		en := e.fresh(t + "_kprune_end")
		e.setInit(onnx.NewInt64Tensor(st, []int64{1}, []int64{int64(from)}))
		e.setInit(onnx.NewInt64Tensor(en, []int64{1}, []int64{int64(to)}))
		out := e.fresh(t + "_kprune_part")
		nodes = append(nodes, onnx.NewNode("Slice", e.fresh(t+"_kprune_slice"), []string{t, st, en}, []string{out}))
		parts = append(parts, out)
	}
	if pos > 0 {
		slice(0, pos)
	}
	c := e.fresh(t + "_kprune_value")
	e.setInit(onnx.NewInt64Tensor(c, []int64{1}, []int64{v}))
	parts = append(parts, c)
	if pos+1 < k {
		slice(pos+1, k)
	}
	out := e.fresh(t + "_kprune")
	nodes = append(nodes, onnx.NewNode("Concat", e.fresh(t+"_kprune_concat"), parts, []string{out}, onnx.AttrInt("axis", 0)))
	if p != nil {
		e.insertAfter(p, nodes...)
		return out, true, nil
	}
	e.insertBefore(user, nodes...)
	return out, false, nil
}

// ReplaceOutputWeight returns m with the output projection of sublayer s (W_O for s even, W_2
// for s odd) replaced by w, given row-major as [in, out] in the y = x @ W orientation (in is the
// sublayer's current width, out the hidden size); it is transposed into the stored orientation
// and converted to the stored element type. A non-nil bias ([out]) replaces the output bias too.
func ReplaceOutputWeight(m *onnx.ModelProto, enc *Encoder, s int, w []float32, bias []float32) (_ *onnx.ModelProto, err error) {
	defer recoverErr("replace output weight", &err)
	d, err := newDisc(m)
	if err != nil {
		return nil, fmt.Errorf("replace output weight: %w", err)
	}
	sub, err := d.sublayerOf(enc, s)
	if err != nil {
		return nil, fmt.Errorf("replace output weight: %w", err)
	}
	lin := sub.outLin
	if len(w) != lin.In*lin.Out {
		return nil, fmt.Errorf("replace output weight: sublayer %d: w has %d values, want %d x %d = %d ([in, out])", s, len(w), lin.In, lin.Out, lin.In*lin.Out)
	}
	e := newEditor(m, d.ix)
	src := d.ix.Initializer(lin.Weight)
	data, dims := w, []int64{int64(lin.In), int64(lin.Out)}
	if lin.Orient == OutIn {
		data = make([]float32, len(w))
		for i := range lin.In {
			for j := range lin.Out {
				data[j*lin.In+i] = w[i*lin.Out+j]
			}
		}
		dims = []int64{int64(lin.Out), int64(lin.In)}
	}
	nt, err := floatTensorAs(src.GetDataType(), lin.Weight, dims, data)
	if err != nil {
		return nil, fmt.Errorf("replace output weight: %w", err)
	}
	e.putInit(lin.Weight, lin.wUser, nt)
	if bias != nil {
		if lin.Bias == "" {
			return nil, fmt.Errorf("replace output weight: sublayer %d: the output projection %q has no bias to replace", s, lin.Node)
		}
		if len(bias) != lin.Out {
			return nil, fmt.Errorf("replace output weight: sublayer %d: bias has %d values, want %d", s, len(bias), lin.Out)
		}
		b := d.ix.Initializer(lin.Bias)
		nb, err := floatTensorAs(b.GetDataType(), lin.Bias, b.GetDims(), bias)
		if err != nil {
			return nil, fmt.Errorf("replace output weight: %w", err)
		}
		e.putInit(lin.Bias, lin.bUser, nb)
	}
	return e.build(true), nil
}
