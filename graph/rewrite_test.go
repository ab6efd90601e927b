package graph_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/kprune/kprune/graph"
	"github.com/kprune/kprune/onnx"
	ort "github.com/kprune/kprune/runtime"
)

const rtol = 1e-5

func allSublayers(enc *graph.Encoder) []int {
	var s []int
	for i := range enc.NumSublayers() {
		if (i%2 == 0 && enc.Layers[i/2].MHA != nil) || (i%2 == 1 && enc.Layers[i/2].FFN != nil) {
			s = append(s, i)
		}
	}
	return s
}

func ones(n int) []float64 {
	v := make([]float64, n)
	for i := range v {
		v[i] = 1
	}
	return v
}

func widths(enc *graph.Encoder) map[int]int {
	w := map[int]int{}
	for l, layer := range enc.Layers {
		if layer.MHA != nil {
			w[2*l] = layer.MHA.Heads * layer.MHA.HeadDim
		}
		if layer.FFN != nil {
			w[2*l+1] = layer.FFN.Width
		}
	}
	return w
}

// checkMasksOnes: all-ones masks (shared and per-example) leave the outputs unchanged.
func checkMasksOnes(t *testing.T, m *onnx.ModelProto, enc *graph.Encoder, in map[string]*ort.Tensor, batch int) {
	t.Helper()
	before := encode(t, m)
	want := run(t, m, in)
	elem := modelElem(t, m, enc)
	for _, per := range []bool{false, true} {
		mm, err := graph.InsertMasks(m, enc, allSublayers(enc), graph.MaskOptions{PerExample: per})
		if err != nil {
			t.Fatalf("InsertMasks(per-example %v): %v", per, err)
		}
		unchanged(t, "InsertMasks", m, before)
		masks := map[int][]float64{}
		for s, w := range widths(enc) {
			masks[s] = ones(w)
		}
		b := 0
		if per {
			b = batch
		}
		got := run(t, mm, withMasks(in, maskInputs(masks, elem, b)))
		assertClose(t, fmt.Sprintf("all-ones masks (per-example %v)", per), got, want, rtol)
		// Context and Act still name the unmasked tensors, which the masked graph can expose.
		if len(enc.Layers) > 0 && enc.Layers[0].MHA != nil {
			ctx := enc.Layers[0].MHA.Context
			got := run(t, mm, withMasks(in, maskInputs(masks, elem, b)), ctx)
			if got[ctx] == nil || got[ctx].Len() == 0 {
				t.Errorf("context %q not computable in the masked graph", ctx)
			}
		}
	}
}

// checkPruneEqualsMasks: random 0/1 masks on heads and neurons give the outputs of Prune with the
// corresponding plan; the returned encoder is what Discover finds in the pruned model.
func checkPruneEqualsMasks(t *testing.T, m *onnx.ModelProto, enc *graph.Encoder, in map[string]*ort.Tensor, seed uint64) {
	t.Helper()
	before := encode(t, m)
	plan, masks := randomPlan(enc, 0.5, seed, false)
	mm, err := graph.InsertMasks(m, enc, sublayerList(masks), graph.MaskOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := run(t, mm, withMasks(in, maskInputs(masks, modelElem(t, m, enc), 0)))
	pm, penc, err := graph.Prune(m, enc, plan, graph.PruneOptions{})
	if err != nil {
		t.Fatalf("Prune: %v", err)
	}
	unchanged(t, "Prune", m, before)
	assertClose(t, "pruned vs masked", run(t, pm, in), want, rtol)
	again := discover(t, pm)
	sameStructure(t, "Discover(pruned) vs Prune's encoder", again, penc)
	for l, layer := range penc.Layers {
		if layer.MHA != nil && layer.MHA.Heads != len(plan.Heads[l]) {
			t.Errorf("layer %d: %d heads after pruning, plan keeps %d", l, layer.MHA.Heads, len(plan.Heads[l]))
		}
		if layer.FFN != nil && layer.FFN.Width != len(plan.Neurons[l]) {
			t.Errorf("layer %d: FFN width %d after pruning, plan keeps %d", l, layer.FFN.Width, len(plan.Neurons[l]))
		}
	}
	// Smaller by exactly the removed parameters (plus a few bytes of new shape constants).
	removed := int64(0)
	for l, layer := range enc.Layers {
		if layer.MHA != nil {
			d := int64(layer.MHA.Heads-len(plan.Heads[l])) * int64(layer.MHA.HeadDim)
			removed += d * (4*int64(enc.Hidden) + 3)
		}
		if layer.FFN != nil {
			removed += int64(layer.FFN.Width-len(plan.Neurons[l])) * (2*int64(enc.Hidden) + 1)
		}
	}
	es := int64(4)
	if modelElem(t, m, enc) == onnx.TensorProto_DOUBLE {
		es = 8
	}
	saved := int64(len(before)) - int64(len(encode(t, pm)))
	if sharedWeights(enc) {
		return // shared weights are copied when their users keep different units
	}
	if saved < removed*es-2048 || saved > removed*es+2048 {
		t.Errorf("pruned model is %d bytes smaller, want %d (%d parameters removed)", saved, removed*es, removed)
	}
}

// checkRemoveSublayers: removing every head of some layers and every neuron of others matches the
// masked graph with those masks zero (KeepBias), and LN(x) without KeepBias matches the masked
// graph with the output bias set to zero by ReplaceOutputWeight.
func checkRemoveSublayers(t *testing.T, m *onnx.ModelProto, enc *graph.Encoder, in map[string]*ort.Tensor) {
	t.Helper()
	before := encode(t, m)
	L := len(enc.Layers)
	plan := graph.Plan{Heads: make([][]int, L), Neurons: make([][]int, L)}
	masks := map[int][]float64{}
	for l, layer := range enc.Layers {
		switch {
		case l%2 == 0 && layer.MHA != nil:
			plan.Heads[l] = []int{}
			masks[2*l] = make([]float64, layer.MHA.Heads*layer.MHA.HeadDim)
		case l%2 == 1 && layer.FFN != nil:
			plan.Neurons[l] = []int{}
			masks[2*l+1] = make([]float64, layer.FFN.Width)
		}
	}
	if L == 1 && enc.Layers[0].FFN != nil { // also empty the FFN of a single layer
		plan.Neurons[0] = []int{}
		masks[1] = make([]float64, enc.Layers[0].FFN.Width)
	}
	elem := modelElem(t, m, enc)
	mm, err := graph.InsertMasks(m, enc, sublayerList(masks), graph.MaskOptions{})
	if err != nil {
		t.Fatal(err)
	}
	mi := withMasks(in, maskInputs(masks, elem, 0))
	want := run(t, mm, mi)
	pm, penc, err := graph.Prune(m, enc, plan, graph.PruneOptions{KeepBias: true})
	if err != nil {
		t.Fatalf("Prune(KeepBias): %v", err)
	}
	assertClose(t, "sublayers removed with KeepBias vs zero masks", run(t, pm, in), want, rtol)
	sameStructure(t, "Discover(sublayers removed, KeepBias)", discover(t, pm), penc)
	for s := range masks {
		if (s%2 == 0 && penc.Layers[s/2].MHA != nil) || (s%2 == 1 && penc.Layers[s/2].FFN != nil) {
			t.Errorf("sublayer %d still present after removing all its units", s)
		}
		if penc.SublayerInput(s) != enc.SublayerInput(s) || penc.SublayerOutput(s) != enc.SublayerOutput(s) {
			t.Errorf("sublayer %d: tensor names changed", s)
		}
	}
	// Without KeepBias: LN(x), i.e. the masked graph with a zero output bias.
	zb := mm
	for s := range masks {
		lin := enc.Layers[s/2].MHA
		var o graph.Linear
		if s%2 == 0 {
			o = lin.O
		} else {
			o = enc.Layers[s/2].FFN.W2
		}
		w := weightInOut(t, m, o)
		zb, err = graph.ReplaceOutputWeight(zb, enc, s, w, make([]float32, o.Out))
		if err != nil {
			t.Fatalf("ReplaceOutputWeight: %v", err)
		}
	}
	want = run(t, zb, mi)
	pm2, penc2, err := graph.Prune(m, enc, plan, graph.PruneOptions{})
	if err != nil {
		t.Fatalf("Prune: %v", err)
	}
	assertClose(t, "sublayers removed (LN(x)) vs zero masks and zero bias", run(t, pm2, in), want, rtol)
	sameStructure(t, "Discover(sublayers removed)", discover(t, pm2), penc2)
	unchanged(t, "Prune/ReplaceOutputWeight", m, before)
	// A pruned model can be pruned again: remove the remaining heads of layer... and re-prune.
	plan2, _ := randomPlan(penc2, 0.5, 99, false)
	pm3, penc3, err := graph.Prune(pm2, penc2, plan2, graph.PruneOptions{})
	if err != nil {
		t.Fatalf("re-pruning a pruned model: %v", err)
	}
	sameStructure(t, "Discover(re-pruned)", discover(t, pm3), penc3)
}

// sharedWeights tells whether two projections use the same weight or bias tensor.
func sharedWeights(enc *graph.Encoder) bool {
	seen := map[string]bool{}
	for _, l := range enc.Layers {
		var lins []graph.Linear
		if l.MHA != nil {
			lins = append(lins, l.MHA.Q, l.MHA.K, l.MHA.V, l.MHA.O)
		}
		if l.FFN != nil {
			lins = append(lins, l.FFN.W1, l.FFN.W2)
		}
		for _, lin := range lins {
			for _, n := range []string{lin.Weight, lin.Bias} {
				if n != "" && seen[n] {
					return true
				}
				seen[n] = true
			}
		}
	}
	return false
}

// weightInOut returns a projection's weight as row-major [in, out] float32.
func weightInOut(t testing.TB, m *onnx.ModelProto, lin graph.Linear) []float32 {
	t.Helper()
	ix := graph.NewIndex(m.GetGraph())
	w, err := onnx.Float32s(ix.Initializer(lin.Weight))
	if err != nil {
		t.Fatal(err)
	}
	if lin.Orient == graph.InOut {
		return w
	}
	out := make([]float32, len(w))
	for o := range lin.Out {
		for i := range lin.In {
			out[i*lin.Out+o] = w[o*lin.In+i]
		}
	}
	return out
}

// checkCut: the graph cut at each sublayer, fed with the hidden state captured from the full
// graph, gives the full graph's outputs; a single extracted sublayer gives the captured output.
func checkCut(t *testing.T, m *onnx.ModelProto, enc *graph.Encoder, in map[string]*ort.Tensor, sublayers []int) {
	t.Helper()
	before := encode(t, m)
	var names []string
	for _, s := range sublayers {
		names = append(names, enc.SublayerInput(s), enc.SublayerOutput(s))
	}
	names = append(names, enc.Outputs...)
	full := run(t, m, in, names...)
	want := map[string]*ort.Tensor{}
	for _, o := range enc.Outputs {
		want[o] = full[o]
	}
	for _, s := range sublayers {
		cm, err := graph.Cut(m, enc, s)
		if err != nil {
			t.Fatalf("Cut(%d): %v", s, err)
		}
		unchanged(t, "Cut", m, before)
		x := enc.SublayerInput(s)
		ci := cutInputs(t, cm, in, x, full[x])
		assertClose(t, fmt.Sprintf("Cut(%d)", s), run(t, cm, ci), want, rtol)
		// The first input is the hidden state, typed [batch, seq, D] float.
		v := cm.GetGraph().GetInput()[0]
		elem, shape, ok := onnx.ValueInfoShape(v)
		if v.GetName() != x || !ok || len(shape) != 3 || shape[2].Value != int64(enc.Hidden) || shape[0].Param == "" || shape[1].Param == "" ||
			(elem != int32(onnx.TensorProto_FLOAT) && elem != int32(onnx.TensorProto_DOUBLE)) {
			t.Errorf("Cut(%d): hidden input %q declared %s %s", s, v.GetName(), onnx.DataTypeName(elem), onnx.FormatShape(shape))
		}
		// Masks can be inserted into the cut graph for the sublayers it holds.
		if _, err := graph.InsertMasks(cm, enc, []int{s}, graph.MaskOptions{PerExample: true}); err != nil {
			t.Errorf("InsertMasks on Cut(%d): %v", s, err)
		}
		y := enc.SublayerOutput(s)
		em, err := graph.Extract(m, []string{x}, []string{y})
		if err != nil {
			t.Fatalf("Extract(%d): %v", s, err)
		}
		for _, n := range em.GetGraph().GetNode() {
			if n.GetOutput()[0] == x {
				t.Fatalf("Extract(%d) kept the producer of its input", s)
			}
		}
		got := run(t, em, cutInputs(t, em, in, x, full[x]))
		assertClose(t, fmt.Sprintf("Extract(sublayer %d)", s), got, map[string]*ort.Tensor{y: full[y]}, rtol)
	}
}

// cutInputs returns the inputs a cut model declares: the hidden state and the original inputs
// it still needs.
func cutInputs(t testing.TB, cm *onnx.ModelProto, in map[string]*ort.Tensor, x string, hidden *ort.Tensor) map[string]*ort.Tensor {
	out := map[string]*ort.Tensor{x: hidden}
	for _, v := range cm.GetGraph().GetInput() {
		if v.GetName() != x {
			if in[v.GetName()] == nil {
				t.Fatalf("cut model needs input %q", v.GetName())
			}
			out[v.GetName()] = in[v.GetName()]
		}
	}
	return out
}

// checkReplaceOutputWeight: writing back the same weight changes nothing; writing 2*W equals a
// mask of 2 on that sublayer; the bias is replaced when given.
func checkReplaceOutputWeight(t *testing.T, m *onnx.ModelProto, enc *graph.Encoder, in map[string]*ort.Tensor) {
	t.Helper()
	before := encode(t, m)
	want := run(t, m, in)
	elem := modelElem(t, m, enc)
	for _, s := range allSublayers(enc)[:2] {
		var o graph.Linear
		if s%2 == 0 {
			o = enc.Layers[s/2].MHA.O
		} else {
			o = enc.Layers[s/2].FFN.W2
		}
		w := weightInOut(t, m, o)
		same, err := graph.ReplaceOutputWeight(m, enc, s, w, nil)
		if err != nil {
			t.Fatal(err)
		}
		unchanged(t, "ReplaceOutputWeight", m, before)
		assertClose(t, fmt.Sprintf("sublayer %d: same weight written back", s), run(t, same, in), want, rtol)
		w2 := make([]float32, len(w))
		for i, v := range w {
			w2[i] = 2 * v
		}
		doubled, err := graph.ReplaceOutputWeight(m, enc, s, w2, nil)
		if err != nil {
			t.Fatal(err)
		}
		mm, err := graph.InsertMasks(m, enc, []int{s}, graph.MaskOptions{})
		if err != nil {
			t.Fatal(err)
		}
		two := make([]float64, o.In)
		for i := range two {
			two[i] = 2
		}
		ref := run(t, mm, withMasks(in, maskInputs(map[int][]float64{s: two}, elem, 0)))
		assertClose(t, fmt.Sprintf("sublayer %d: 2W vs mask 2", s), run(t, doubled, in), ref, rtol)
		if _, err := graph.ReplaceOutputWeight(m, enc, s, w[:len(w)-1], nil); err == nil {
			t.Error("a weight of the wrong size was accepted")
		}
		if _, err := graph.ReplaceOutputWeight(m, enc, s, w, make([]float32, o.Out+1)); err == nil {
			t.Error("a bias of the wrong size was accepted")
		}
	}
}

func TestRewritesSharedModels(t *testing.T) {
	for _, c := range []struct {
		model string
		cut   []int // sublayers to cut at (all when nil)
	}{
		{tiny14, nil},
		{tiny17, []int{0, 3}},
		{l4op14, []int{2, 5}},
		{l4op17, []int{1, 6}},
	} {
		t.Run(c.model, func(t *testing.T) {
			m := loadModel(t, c.model)
			enc := discover(t, m)
			in := sharedInputs(t, m, enc, 3, 12, 1)
			t.Run("masks-ones", func(t *testing.T) { checkMasksOnes(t, m, enc, in, 3) })
			t.Run("prune-vs-masks", func(t *testing.T) { checkPruneEqualsMasks(t, m, enc, in, 5) })
			t.Run("remove-sublayers", func(t *testing.T) { checkRemoveSublayers(t, m, enc, in) })
			cut := c.cut
			if cut == nil {
				cut = allSublayers(enc)
			}
			t.Run("cut", func(t *testing.T) { checkCut(t, m, enc, in, cut) })
			t.Run("replace-output-weight", func(t *testing.T) { checkReplaceOutputWeight(t, m, enc, in) })
		})
	}
}

func TestRewriteErrors(t *testing.T) {
	m := loadModel(t, tiny14)
	enc := discover(t, m)
	other := discover(t, loadModel(t, l4op14))
	cases := []struct {
		name string
		err  func() error
		want string
	}{
		{"mask out of range", func() error { _, err := graph.InsertMasks(m, enc, []int{4}, graph.MaskOptions{}); return err }, "out of range"},
		{"mask twice", func() error { _, err := graph.InsertMasks(m, enc, []int{1, 1}, graph.MaskOptions{}); return err }, "twice"},
		{"encoder of another model", func() error { _, err := graph.InsertMasks(m, other, []int{0}, graph.MaskOptions{}); return err }, "does not match"},
		{"plan length", func() error {
			_, _, err := graph.Prune(m, enc, graph.Plan{Heads: [][]int{nil}}, graph.PruneOptions{})
			return err
		}, "2 layers"},
		{"head out of range", func() error {
			_, _, err := graph.Prune(m, enc, graph.Plan{Heads: [][]int{{0, 2}, nil}}, graph.PruneOptions{})
			return err
		}, "out of range"},
		{"unsorted neurons", func() error {
			_, _, err := graph.Prune(m, enc, graph.Plan{Neurons: [][]int{{3, 1}, nil}}, graph.PruneOptions{})
			return err
		}, "ascending"},
		{"extract unknown input", func() error { _, err := graph.Extract(m, []string{"nope"}, enc.Outputs); return err }, "nope"},
		{"extract unknown output", func() error { _, err := graph.Extract(m, nil, []string{"nope"}); return err }, "nope"},
		{"cut out of range", func() error { _, err := graph.Cut(m, enc, -1); return err }, "out of range"},
		{"replace removed sublayer", func() error {
			pm, penc, err := graph.Prune(m, enc, graph.Plan{Heads: [][]int{{}, nil}}, graph.PruneOptions{})
			if err != nil {
				return nil
			}
			_, err = graph.ReplaceOutputWeight(pm, penc, 0, make([]float32, 128*128), nil)
			return err
		}, "removed"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.err()
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("got error %v, want one mentioning %q", err, c.want)
			}
		})
	}
}

func TestAddOutputs(t *testing.T) {
	m := loadModel(t, tiny17)
	enc := discover(t, m)
	before := encode(t, m)
	names := []string{enc.Layers[0].MHA.Context, enc.Layers[1].FFN.Act, enc.Outputs[0]}
	am := graph.AddOutputs(m, names...)
	unchanged(t, "AddOutputs", m, before)
	outs := am.GetGraph().GetOutput()
	if len(outs) != 3 || outs[1].GetName() != names[0] || outs[2].GetName() != names[1] {
		t.Fatalf("outputs: %v", outs)
	}
	_, shape, ok := onnx.ValueInfoShape(outs[1])
	if !ok || onnx.FormatShape(shape) != "[batch,seq,128]" {
		t.Errorf("context value info: %s", onnx.FormatShape(shape))
	}
	in := sharedInputs(t, m, enc, 2, 5, 3)
	got := run(t, am, in)
	if got[names[1]] == nil || fmt.Sprint(got[names[1]].Shape) != "[2 5 512]" {
		t.Errorf("activation output: %v", got[names[1]])
	}
}

// TestCopyOnWrite: rewrites share the tensors they do not change with their input.
func TestCopyOnWrite(t *testing.T) {
	m := loadModel(t, l4op14)
	enc := discover(t, m)
	plan := graph.Plan{Heads: [][]int{{1, 3}, nil, nil, nil}, Neurons: [][]int{nil, nil, nil, {}}}
	pm, penc, err := graph.Prune(m, enc, plan, graph.PruneOptions{})
	if err != nil {
		t.Fatal(err)
	}
	w := weightInOut(t, pm, penc.Layers[1].FFN.W2)
	rm, err := graph.ReplaceOutputWeight(pm, penc, 3, w, nil)
	if err != nil {
		t.Fatal(err)
	}
	orig := map[string]*onnx.TensorProto{}
	for _, x := range m.GetGraph().GetInitializer() {
		orig[x.GetName()] = x
	}
	changed := map[string]bool{}
	for _, lin := range []graph.Linear{enc.Layers[0].MHA.Q, enc.Layers[0].MHA.K, enc.Layers[0].MHA.V, enc.Layers[0].MHA.O} {
		changed[lin.Weight], changed[lin.Bias] = true, true
	}
	changed[enc.Layers[1].FFN.W2.Weight] = true
	for _, res := range []*onnx.ModelProto{pm, rm} {
		for _, x := range res.GetGraph().GetInitializer() {
			o := orig[x.GetName()]
			switch {
			case changed[x.GetName()] && res == rm && x.GetName() != enc.Layers[1].FFN.W2.Weight && x != findInit(pm, x.GetName()):
				t.Errorf("ReplaceOutputWeight copied %q", x.GetName())
			case o != nil && !changed[x.GetName()] && x != o:
				t.Errorf("initializer %q was copied although unchanged", x.GetName())
			}
		}
	}
	if findInit(rm, enc.Layers[1].FFN.W2.Weight) == findInit(pm, enc.Layers[1].FFN.W2.Weight) {
		t.Error("ReplaceOutputWeight did not replace the weight")
	}
}

func findInit(m *onnx.ModelProto, name string) *onnx.TensorProto {
	for _, x := range m.GetGraph().GetInitializer() {
		if x.GetName() == name {
			return x
		}
	}
	return nil
}
