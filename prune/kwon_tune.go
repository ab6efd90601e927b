package prune

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/kprune/kprune/graph"
	"github.com/kprune/kprune/graph/autodiff"
	"github.com/kprune/kprune/onnx"
	ort "github.com/kprune/kprune/runtime"
	"gonum.org/v1/gonum/mat"
)

// kwonScaleLimit is the reference's bound on a tuned scale: beyond it tuning stops.
const kwonScaleLimit = 10

// tune runs the mask tuning of Kwon et al. sublayer by sublayer on the physically pruned student,
// against the original model masked to the teacher's selection. Both frontiers (the hidden states
// entering the current sublayer, per batch) advance together; the teacher's pre-LN sums are used
// batch by batch and never stored for the whole calibration set.
func (k *kwonRun) tune(ctx context.Context, student *onnx.ModelProto, senc *graph.Encoder, teachH, teachN [][]bool, iters []Iteration, info *KwonInfo) (*onnx.ModelProto, *graph.Encoder, error) {
	enc := k.enc
	teacher, tmask, err := k.maskedTeacher(teachH, teachN)
	if err != nil {
		return nil, nil, err
	}
	// Both frontiers start at the embeddings output (replaced, never written in place).
	k.fr.xt = append([][]float32(nil), k.fr.xs...)
	clsMask := k.clsMasks()
	last := enc.NumSublayers() - 1
	for s := 0; s < enc.NumSublayers(); s++ {
		ortBefore := k.ortTime
		tTune := time.Now()
		var cls [][]int64
		if s == last {
			cls = clsMask
		}
		var stop bool
		if student, stop, err = k.tuneSublayer(ctx, teacher, tmask, student, senc, s, cls, info); err != nil {
			return nil, nil, err
		}
		iters[s].TuneSeconds = time.Since(tTune).Seconds()
		if stop {
			iters[s].ORTSeconds = (k.ortTime - ortBefore).Seconds()
			return student, senc, nil
		}
		if s < last {
			tAdv := time.Now()
			if err := k.fr.advanceStudent(ctx, student, senc, s); err != nil {
				return nil, nil, err
			}
			iters[s].AdvanceSeconds = time.Since(tAdv).Seconds()
		}
		iters[s].ORTSeconds = (k.ortTime - ortBefore).Seconds()
	}
	return student, senc, nil
}

// maskedTeacher returns the tuning teacher: the original model with masks on its sublayers that
// are present, and the mask values (1 for the units teachH and teachN keep) to feed them.
func (k *kwonRun) maskedTeacher(teachH, teachN [][]bool) (*onnx.ModelProto, map[string]*ort.Tensor, error) {
	enc := k.enc
	var present []int
	for s := 0; s < enc.NumSublayers(); s++ {
		if outLinear(enc, s) != nil {
			present = append(present, s)
		}
	}
	teacher, err := graph.InsertMasks(k.m, enc, present, graph.MaskOptions{})
	if err != nil {
		return nil, nil, fmt.Errorf("masking the teacher: %w", err)
	}
	tmask := map[string]*ort.Tensor{}
	for _, s := range present {
		w, group := unitWidth(enc, s)
		keep := teachN[s/2]
		if s%2 == 0 {
			keep = teachH[s/2]
		}
		v := make([]float32, w)
		for i := range v {
			if keep[i/group] {
				v[i] = 1
			}
		}
		tmask[graph.MaskName(s)] = ort.F32Tensor([]int64{int64(w)}, v)
	}
	return teacher, tmask, nil
}

// clsMasks returns, for a sequence-level (classification, regression) model with an attention
// mask, per batch an attention mask with only position 0 of every row set, or nil for other
// models. The reference fits the last FFN of such models on the [CLS] token only: this mask gives
// exactly that Gram.
func (k *kwonRun) clsMasks() [][]int64 {
	enc := k.enc
	if (enc.Head != graph.HeadClassification && enc.Head != graph.HeadRegression) || enc.AttentionMask == "" {
		return nil
	}
	clsMask := make([][]int64, len(k.batches))
	for i := range k.batches {
		b := &k.batches[i]
		cm := make([]int64, len(b.AttentionMask))
		for r := 0; r < b.Size; r++ {
			cm[r*b.SeqLen] = b.AttentionMask[r*b.SeqLen]
		}
		clsMask[i] = cm
	}
	return clsMask
}

// tuneSublayer runs the masked teacher's sublayer s over the calibration set, advancing the
// teacher's frontier, and, when the student's sublayer s is tuned (it is present and is not the
// MHA of layer 0, which the reference does not tune), accumulates its Gram matrices (on the
// attention masks cls when not nil), solves for the scales and folds them into the student's
// output weight. stop is true when the reference stops tuning here (info says why).
func (k *kwonRun) tuneSublayer(ctx context.Context, teacher *onnx.ModelProto, tmask map[string]*ort.Tensor, student *onnx.ModelProto, senc *graph.Encoder, s int, cls [][]int64, info *KwonInfo) (_ *onnx.ModelProto, stop bool, err error) {
	var acc *gramPass
	if s > 0 && outLinear(senc, s) != nil {
		if acc, err = k.newGramPass(student, senc, s, cls); err != nil {
			return nil, false, err
		}
	}
	if err := k.teacherStep(ctx, teacher, tmask, s, acc); err != nil {
		return nil, false, err
	}
	if acc == nil {
		return student, false, nil
	}
	scales, reason, err := acc.solve(student, senc)
	if err != nil {
		return nil, false, err
	}
	if reason != "" {
		info.StoppedAt, info.StopReason = s, reason
		return student, true, nil
	}
	if student, err = foldScales(student, senc, s, scales); err != nil {
		return nil, false, err
	}
	for _, v := range scales {
		if !k.scaled {
			info.ScaleMin, info.ScaleMax, k.scaled = v, v, true
		}
		info.ScaleMin, info.ScaleMax = math.Min(info.ScaleMin, v), math.Max(info.ScaleMax, v)
	}
	info.Tuned = append(info.Tuned, s)
	return student, false, nil
}

// foldScales multiplies the rows of the student's output weight of sublayer s by the scales of
// their units.
func foldScales(student *onnx.ModelProto, senc *graph.Encoder, s int, scales []float64) (*onnx.ModelProto, error) {
	lin := outLinear(senc, s)
	w, err := lin.WeightInOut(student)
	if err != nil {
		return nil, fmt.Errorf("sublayer %d output weight: %w", s, err)
	}
	_, group := unitWidth(senc, s)
	nw := make([]float32, len(w))
	for p := 0; p < lin.In; p++ {
		f := float32(scales[p/group])
		for j := 0; j < lin.Out; j++ {
			nw[p*lin.Out+j] = w[p*lin.Out+j] * f
		}
	}
	student, err = graph.ReplaceOutputWeight(student, senc, s, nw, nil)
	if err != nil {
		return nil, fmt.Errorf("writing the tuned weights of sublayer %d: %w", s, err)
	}
	return student, nil
}

// teacherStep runs the masked teacher's sublayer s on every batch: it advances the teacher's
// frontier and, when acc is not nil, feeds the teacher's pre-LN sum together with the student's
// frontier to the Gram accumulation (and closes acc's session when done). It reports PhaseTune
// when it feeds acc, PhaseTeacher otherwise.
func (k *kwonRun) teacherStep(ctx context.Context, teacher *onnx.ModelProto, tmask map[string]*ort.Tensor, s int, acc *gramPass) error {
	if acc != nil {
		defer acc.sess.close()
	}
	ts, err := k.fr.openTeacher(teacher, k.enc, s, tmask)
	if err != nil {
		return err
	}
	defer ts.close()
	phase := PhaseTeacher
	if acc != nil {
		phase = PhaseTune
	}
	for i := range k.batches {
		if err := ctx.Err(); err != nil {
			return err
		}
		yT, err := ts.step(ctx, i)
		if err != nil {
			return err
		}
		if acc != nil {
			if err := acc.add(ctx, i, k.fr.xs[i], yT); err != nil {
				return err
			}
		}
		k.fr.report(phase, s, i)
	}
	return nil
}

// gramPass accumulates, for student sublayer s, the Gram matrices A^T A and A^T R of its
// output-projection input A and the residual R = teacher pre-LN sum - student input - bias, with
// the scoring graph of K-prune (whose gradients are not needed here).
type gramPass struct {
	k    *kwonRun
	s    int
	sc   *autodiff.Scoring
	sess *session
	ones map[int]*ort.Tensor
	cls  [][]int64
	gram *Gram
}

func (k *kwonRun) newGramPass(student *onnx.ModelProto, senc *graph.Encoder, s int, cls [][]int64) (*gramPass, error) {
	sc, err := autodiff.BuildScoring(student, senc, s, autodiff.ScoringOptions{Temperature: 1, Gram: true})
	if err != nil {
		return nil, fmt.Errorf("building the Gram graph of sublayer %d: %w", s, err)
	}
	sess, err := newSession(sc.Model, k.ortOpts, &k.ortTime)
	if err != nil {
		return nil, fmt.Errorf("Gram session of sublayer %d: %w", s, err)
	}
	g := &gramPass{k: k, s: s, sc: sc, sess: sess, ones: allOnes(sc.Widths), cls: cls}
	width, _ := unitWidth(senc, s)
	g.gram = NewGram(width, k.enc.Hidden)
	return g, nil
}

// add accumulates batch i, given the student's input xs and the teacher's pre-LN sum yT.
func (g *gramPass) add(ctx context.Context, i int, xs, yT []float32) error {
	k, sc := g.k, g.sc
	hshape := k.fr.hiddenShape(i)
	in := k.fr.feed(i)
	if g.cls != nil {
		in[k.enc.AttentionMask] = ort.I64Tensor(k.batches[i].Shape(), g.cls[i])
	}
	in[sc.Hidden] = ort.F32Tensor(hshape, xs)
	in[sc.TeacherPreLN] = ort.F32Tensor(hshape, yT)
	for s2, name := range sc.Masks {
		in[name] = g.ones[s2]
	}
	for t, name := range sc.Targets {
		in[name] = k.targets[i][t]
	}
	out, err := g.sess.run(ctx, in)
	if err != nil {
		return fmt.Errorf("Gram graph of sublayer %d, batch %d: %w", g.s, i, err)
	}
	if err := g.gram.Add(out[sc.GramAA].F32, out[sc.GramAR].F32); err != nil {
		return fmt.Errorf("sublayer %d, batch %d: %w", g.s, i, err)
	}
	return nil
}

// solve builds the scale problem from the accumulated Gram matrices and the student's output
// weight and solves it. reason is non-empty when the reference would stop tuning here.
func (g *gramPass) solve(student *onnx.ModelProto, senc *graph.Encoder) (scales []float64, reason string, err error) {
	w, err := outLinear(senc, g.s).WeightInOut(student)
	if err != nil {
		return nil, "", fmt.Errorf("sublayer %d output weight: %w", g.s, err)
	}
	width, group := unitWidth(senc, g.s)
	gm, rhs := tuneSystem(g.gram.AA, g.gram.AR, w, width, g.k.enc.Hidden, group)
	x, ok := solveScales(gm, rhs)
	if reason := scalesProblem(g.s, x, ok); reason != "" {
		return nil, reason, nil
	}
	return x, "", nil
}

// scalesProblem returns why the reference would stop tuning at sublayer s given the outcome of
// the solve (x, and whether it converged), or "" when the scales can be folded in.
func scalesProblem(s int, x []float64, converged bool) string {
	if !converged {
		return fmt.Sprintf("the least-squares solve of sublayer %d (%s of layer %d) did not converge", s, kindName(s), s/2)
	}
	for _, v := range x {
		if !(v >= -kwonScaleLimit && v <= kwonScaleLimit) {
			return fmt.Sprintf("a scale of sublayer %d (%s of layer %d) is %.3g, outside [-10, 10]", s, kindName(s), s/2, v)
		}
	}
	return ""
}

// tuneSystem builds the least-squares problem of per-unit scales for one sublayer from the Gram
// matrices of its output-projection input A (aa = A^T A, width x width, row-major) and of A with
// the target residual R (ar = A^T R, width x d) and its output weight w (width x d, y = A @ W).
// Unit u owns group consecutive columns of A (d_h for heads, 1 for neurons). Its contribution to
// the output is C_u = A[:, u] W[u, :], so the normal matrix is G[u][v] = <C_u, C_v> = the sum over
// the (u, v) block of (A^T A) o (W W^T) (Hadamard product) and the right-hand side is
// rhs[u] = <C_u, R> = the sum over u's rows of diag(A^T R W^T).
func tuneSystem(aa, ar []float64, w []float32, width, d, group int) (g, rhs []float64) {
	w64 := make([]float64, len(w))
	for i, v := range w {
		w64[i] = float64(v)
	}
	wm := mat.NewDense(width, d, w64)
	var wwt mat.Dense
	wwt.Mul(wm, wm.T())
	units := width / group
	g = make([]float64, units*units)
	rhs = make([]float64, units)
	for p := 0; p < width; p++ {
		u := p / group
		row := wwt.RawRowView(p)
		for q := 0; q < width; q++ {
			g[u*units+q/group] += aa[p*width+q] * row[q]
		}
		var r float64
		for j := 0; j < d; j++ {
			r += ar[p*d+j] * w64[p*d+j]
		}
		rhs[u] += r
	}
	return g, rhs
}

// solveScales solves for the per-unit scales x as the reference does: LSMR with damping 1 on
// G y = rhs - G 1 with y = x - 1 (i.e. min ||G (x - 1) - (rhs - G 1)||^2 + ||x - 1||^2), where a
// single unit is solved exactly without damping. LSMR runs with cupyx.scipy.sparse.linalg.lsmr's
// defaults (atol = btol = 1e-6, conlim = 1e8, at most 5n iterations; scipy's limit of n
// iterations stops most real problems short). ok is false when the solve did not converge
// (LSMR's istop >= 3, or a zero or non-finite single pivot).
func solveScales(g, rhs []float64) (x []float64, ok bool) {
	n := len(rhs)
	b := make([]float64, n)
	for i := range b {
		var s float64
		for j := 0; j < n; j++ {
			s += g[i*n+j]
		}
		b[i] = rhs[i] - s
	}
	if n == 1 {
		v := b[0]/g[0] + 1
		return []float64{v}, g[0] != 0 && !math.IsNaN(v) && !math.IsInf(v, 0)
	}
	mv := func(dst, v []float64) {
		for i := 0; i < n; i++ {
			dst[i] = dot(g[i*n:(i+1)*n], v)
		}
	}
	y, istop, _ := lsmr(n, n, mv, mv, b, 1, 1e-6, 1e-6, 1e8, 5*n)
	for i := range y {
		y[i]++
		if math.IsNaN(y[i]) || math.IsInf(y[i], 0) {
			return y, false
		}
	}
	return y, istop < 3
}
