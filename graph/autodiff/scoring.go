package autodiff

import (
	"errors"
	"fmt"

	"github.com/kprune/kprune/graph"
	"github.com/kprune/kprune/graph/infer"
	"github.com/kprune/kprune/onnx"
)

// Names of the inputs and outputs BuildScoring adds (besides the masks, see graph.MaskName, and
// the loss targets, see AddLoss).
const (
	// TeacherPreLNName is the input holding the teacher's pre-LayerNorm sum at sublayer s.
	TeacherPreLNName = "kprune_teacher_preln"
	// GramAAName and GramARName are the Gram outputs A^T A and A^T R.
	GramAAName = "kprune_gram_aa"
	GramARName = "kprune_gram_ar"
)

// SqSumName returns the name of the output holding sublayer s's per-unit sum of squared
// output-projection inputs.
func SqSumName(s int) string { return fmt.Sprintf("kprune_sqsum_%d", s) }

// GradName returns the name of the output holding d loss / d mask of sublayer s.
func GradName(s int) string { return fmt.Sprintf("kprune_grad_%d", s) }

// ScoringOptions configure BuildScoring.
type ScoringOptions struct {
	// Temperature of the distillation loss (0 selects DefaultTemperature).
	Temperature float64
	// Pooling of the last hidden state for models without a head (see LossOptions.Pooling).
	Pooling string
	// PerExample gives masks a batch axis ([batch, 1, W]) so that the gradients are per example.
	PerExample bool
	// Gram adds the teacher pre-LN input and the Gram outputs of sublayer s.
	Gram bool
}

// Scoring is the graph K-prune's knowledge measurement runs once per calibration batch for
// sublayer s, with the names of everything to feed and read.
type Scoring struct {
	// Model is the ONNX graph to run.
	Model *onnx.ModelProto
	// Sublayer is s.
	Sublayer int
	// Sublayers lists the masked sublayers (every present sublayer >= s), ascending.
	Sublayers []int

	// Inputs.

	// Hidden is the student's hidden state entering sublayer s, [batch, seq, D].
	Hidden string
	// AttentionMask is the int64 [batch, seq] attention mask input ("" when the model has none).
	AttentionMask string
	// Masks maps each masked sublayer to its mask input: [W], or [batch, 1, W] with PerExample.
	// Feed ones to measure the unpruned student.
	Masks map[int]string
	// Widths maps each masked sublayer to W (Heads*HeadDim for attention, Width for FFN).
	Widths map[int]int
	// Targets are the teacher-target inputs of the loss (see AddLoss and Loss.Targets).
	Targets []string
	// TeacherPreLN is the teacher's pre-LayerNorm sum X_T + Sub_T(X_T) at sublayer s,
	// [batch, seq, D] (Gram only; "" otherwise).
	TeacherPreLN string
	// Inputs lists every graph input in order (others than the above are original model inputs a
	// shape computation still reads, such as input_ids).
	Inputs []string

	// Outputs.

	// Loss is the per-batch loss, shape [1].
	Loss string
	// LossInfo describes the loss (kind, temperature).
	LossInfo Loss
	// Grads maps each masked sublayer to d loss / d mask (the mask's shape).
	Grads map[int]string
	// SqSums maps each masked sublayer to the per-unit sum over non-padding tokens of the
	// squared output-projection input A: [W].
	SqSums map[int]string
	// GramAA is A^T A [W, W] and GramAR is A^T R [W, D] for sublayer s, with A its
	// output-projection input and R = TeacherPreLN - Hidden - b_out, both over the batch's
	// non-padding tokens (Gram only; "" otherwise).
	GramAA, GramAR string
	// HeadOutputs are the model's own outputs (enc.Outputs), also returned.
	HeadOutputs []string
	// Outputs lists every graph output in order: Loss, the Grads by sublayer, the SqSums by
	// sublayer, GramAA and GramAR when present, then HeadOutputs.
	Outputs []string
}

// BuildScoring builds, from the student m (described by enc), the graph of knowledge
// measurement at sublayer s: the student cut at s (graph.Cut), a mask on every present sublayer
// >= s (graph.InsertMasks), the distillation loss (AddLoss), the gradient of the loss with respect
// to every mask (Gradients), per-unit sums of squared projection inputs for every masked
// sublayer, and with opts.Gram the Gram matrices that weight tuning of sublayer s needs. One
// onnxruntime run per batch gives everything. m is not modified.
func BuildScoring(m *onnx.ModelProto, enc *graph.Encoder, s int, opts ScoringOptions) (*Scoring, error) {
	if m == nil || enc == nil {
		return nil, errors.New("build scoring: nil model or encoder")
	}
	if s < 0 || s >= enc.NumSublayers() {
		return nil, fmt.Errorf("build scoring: sublayer %d is out of range (the encoder has %d sublayers)", s, enc.NumSublayers())
	}
	if sublayerInner(enc, s) == "" {
		return nil, fmt.Errorf("build scoring: sublayer %d was removed; there is nothing to measure", s)
	}
	sc := &Scoring{Sublayer: s, Masks: map[int]string{}, Widths: map[int]int{}, Grads: map[int]string{}, SqSums: map[int]string{}}
	for t := s; t < enc.NumSublayers(); t++ {
		if sublayerInner(enc, t) != "" {
			sc.Sublayers = append(sc.Sublayers, t)
		}
	}
	gm, grads, loss, err := maskGradients(m, enc, sc.Sublayers, opts)
	if err != nil {
		return nil, fmt.Errorf("build scoring: %w", err)
	}
	b, err := newBuilder(gm)
	if err != nil {
		return nil, fmt.Errorf("build scoring: %w", err)
	}
	sc.Hidden = enc.SublayerInput(s)
	sc.Loss, sc.LossInfo, sc.Targets = loss.Name, loss, loss.Targets
	sc.HeadOutputs = append([]string{}, enc.Outputs...)
	hi, ok := b.info[sc.Hidden]
	if !ok || hi.Rank != 3 {
		return nil, fmt.Errorf("build scoring: hidden state %q should be a [batch, seq, D] input of the cut graph", sc.Hidden)
	}
	tok := b.tokenMask(sc, enc, hi)
	for _, t := range sc.Sublayers {
		sc.Masks[t] = graph.MaskName(t)
		if err := b.sublayerOutputs(sc, enc, t, grads[sc.Masks[t]], tok, hi, opts.Gram && t == s); err != nil {
			return nil, fmt.Errorf("build scoring: %w", err)
		}
	}
	if err := b.finish(); err != nil {
		return nil, fmt.Errorf("build scoring: %w", err)
	}
	sc.setOutputs(gm, b, opts.Gram)
	sc.Model = gm
	return sc, nil
}

// maskGradients builds the gradient graph of the scoring: m cut at the first of the sublayers,
// masks inserted in each of them, the distillation loss added, and the loss's gradients with
// respect to the masks (by mask name) as outputs.
func maskGradients(m *onnx.ModelProto, enc *graph.Encoder, sublayers []int, opts ScoringOptions) (*onnx.ModelProto, map[string]string, Loss, error) {
	cut, err := graph.Cut(m, enc, sublayers[0])
	if err != nil {
		return nil, nil, Loss{}, err
	}
	cut = shallowClone(cut)
	if err := redeclareInputs(cut, m); err != nil {
		return nil, nil, Loss{}, err
	}
	masked, err := graph.InsertMasks(cut, enc, sublayers, graph.MaskOptions{PerExample: opts.PerExample})
	if err != nil {
		return nil, nil, Loss{}, err
	}
	lm, loss, err := AddLoss(masked, enc, LossOptions{Temperature: opts.Temperature, Pooling: opts.Pooling})
	if err != nil {
		return nil, nil, Loss{}, err
	}
	var masks []string
	for _, t := range sublayers {
		masks = append(masks, graph.MaskName(t))
	}
	gm, grads, err := Gradients(lm, loss.Name, masks)
	if err != nil {
		return nil, nil, Loss{}, err
	}
	return gm, grads, loss, nil
}

// tokenMask returns the 0/1 token mask [batch, seq, 1] of the hidden state's element type
// ("" without an attention mask), declaring the attention mask as an input of the cut graph
// when it is not one already.
func (b *builder) tokenMask(sc *Scoring, enc *graph.Encoder, hi infer.Info) string {
	if enc.AttentionMask == "" {
		return ""
	}
	if _, ok := b.info[enc.AttentionMask]; !ok {
		in := infer.FromDims(onnx.TensorProto_INT64, hi.DimList()[:2])
		b.g.Input = append(b.g.Input, valueInfo(enc.AttentionMask, in))
		b.info[enc.AttentionMask] = in
		b.used[enc.AttentionMask] = true
	}
	sc.AttentionMask = enc.AttentionMask
	return b.unsqueeze(b.op("Cast", []string{enc.AttentionMask}, onnx.AttrInt("to", int64(hi.Elem))), []int{2})
}

// sublayerOutputs adds the outputs of masked sublayer t: the mask's gradient (grad), the sums
// of squares of the projection input's (non-padding) activations and, with gram, the Gram
// matrices of sublayer s.
func (b *builder) sublayerOutputs(sc *Scoring, enc *graph.Encoder, t int, grad, tok string, hi infer.Info, gram bool) error {
	a := sublayerInner(enc, t)
	ai := b.info[a]
	if ai.Rank != 3 && ai.Rank != 2 {
		return fmt.Errorf("sublayer %d: projection input %q has rank %d, want 3 ([batch, seq, W]) or 2 ([batch*seq, W])", t, a, ai.Rank)
	}
	w := ai.Dim(-1)
	if !w.Known {
		return fmt.Errorf("sublayer %d: the width of projection input %q is not static", t, a)
	}
	sc.Widths[t] = int(w.V)
	am := a
	if tok != "" {
		tm := tok
		if ai.Rank == 2 {
			tm = b.op("Reshape", []string{tok, b.constI(-1, 1)})
		}
		am = b.mul(a, tm)
	}
	axes := []int{0, 1}
	if ai.Rank == 2 {
		axes = []int{0}
	}
	sq := b.reduceSum(b.mul(am, am), axes, false)
	sc.SqSums[t] = b.rename(sq, SqSumName(t), infer.FromDims(hi.Elem, []infer.SymInt{w}))
	sc.Grads[t] = b.rename(grad, GradName(t), b.info[sc.Masks[t]])
	if gram {
		b.gramOutputs(sc, enc, am, tok, hi, w)
	}
	return nil
}

// gramOutputs adds the teacher pre-LN input of sublayer sc.Sublayer and the Gram matrices
// A^T A and A^T R of its masked projection input am [.., W] and the residual R the sublayer must
// reproduce (teacher pre-LN minus hidden state and output bias).
func (b *builder) gramOutputs(sc *Scoring, enc *graph.Encoder, am, tok string, hi infer.Info, w infer.SymInt) {
	tp := b.unique(TeacherPreLNName)
	b.g.Input = append(b.g.Input, valueInfo(tp, hi))
	b.info[tp] = hi
	sc.TeacherPreLN = tp
	r := b.sub(tp, sc.Hidden)
	if bias := sublayerOutBias(enc, sc.Sublayer); bias != "" {
		r = b.sub(r, bias)
	}
	if tok != "" {
		r = b.mul(r, tok)
	}
	a2 := b.op("Reshape", []string{am, b.constI(-1, w.V)})
	r2 := b.op("Reshape", []string{r, b.constI(-1, int64(enc.Hidden))})
	aa := b.gemm2(a2, a2, true, false, 1)
	ar := b.gemm2(a2, r2, true, false, 1)
	sc.GramAA = b.rename(aa, GramAAName, infer.FromDims(hi.Elem, []infer.SymInt{w, w}))
	sc.GramAR = b.rename(ar, GramARName, infer.FromDims(hi.Elem, []infer.SymInt{w, {Known: true, V: int64(enc.Hidden)}}))
}

// setOutputs sets the outputs of gm in a fixed order (loss, gradients, sums of squares, Gram
// matrices with gram, head outputs) and records them and gm's inputs in sc.
func (sc *Scoring) setOutputs(gm *onnx.ModelProto, b *builder, gram bool) {
	sc.Outputs = append(sc.Outputs, sc.Loss)
	for _, t := range sc.Sublayers {
		sc.Outputs = append(sc.Outputs, sc.Grads[t])
	}
	for _, t := range sc.Sublayers {
		sc.Outputs = append(sc.Outputs, sc.SqSums[t])
	}
	if gram {
		sc.Outputs = append(sc.Outputs, sc.GramAA, sc.GramAR)
	}
	sc.Outputs = append(sc.Outputs, sc.HeadOutputs...)
	byName := map[string]*onnx.ValueInfoProto{}
	for _, v := range gm.GetGraph().GetOutput() {
		byName[v.GetName()] = v
	}
	outs := make([]*onnx.ValueInfoProto, 0, len(sc.Outputs))
	for _, o := range sc.Outputs {
		v := byName[o]
		if v == nil {
			v = valueInfo(o, b.info[o])
		}
		outs = append(outs, v)
	}
	gm.Graph.Output = outs
	for _, v := range gm.GetGraph().GetInput() {
		sc.Inputs = append(sc.Inputs, v.GetName())
	}
}

// rename gives tensor t the output name (made unique) through an Identity and records its info.
func (b *builder) rename(t, name string, in infer.Info) string {
	n := b.unique(name)
	b.emitTo("Identity", []string{t}, []string{n})
	b.info[n] = in
	return n
}

// sublayerInner returns the output-projection input of sublayer s ("" when it was removed).
func sublayerInner(enc *graph.Encoder, s int) string {
	l := enc.Layers[s/2]
	if s%2 == 0 {
		if l.MHA == nil {
			return ""
		}
		return l.MHA.Context
	}
	if l.FFN == nil {
		return ""
	}
	return l.FFN.Act
}

// sublayerOutBias returns the output projection's bias initializer of sublayer s ("" for none).
func sublayerOutBias(enc *graph.Encoder, s int) string {
	l := enc.Layers[s/2]
	if s%2 == 0 {
		return l.MHA.O.Bias
	}
	return l.FFN.W2.Bias
}
