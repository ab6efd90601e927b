package prune

import (
	"context"
	"fmt"

	"github.com/kprune/kprune/graph"
	"github.com/kprune/kprune/graph/autodiff"
	"github.com/kprune/kprune/onnx"
	ort "github.com/kprune/kprune/runtime"
)

// This file holds the measure phase of a K-prune iteration and the knowledge per unit it yields.

// knowledgeSums accumulates one masked sublayer's per-dimension measurements over the
// calibration set: pred sums half the squared mask gradients of the predictive loss, sq the
// squared activations entering the sublayer's output projection.
type knowledgeSums struct{ pred, sq []float64 }

// measurement is what the measure phase of sublayer s collects.
type measurement struct {
	sums    map[int]*knowledgeSums // per masked sublayer (s and above)
	gram    *Gram                  // of sublayer s, for the tuning; nil without it
	nSeq    int                    // sequences measured
	nTok    float64                // real (unpadded) tokens measured
	lossSum float64                // predictive loss summed over batches
}

// scoringRun is the student's scoring graph at sublayer s with its session and reusable buffers.
type scoringRun struct {
	s       int
	sc      *autodiff.Scoring
	sess    *session
	ones    map[int]*ort.Tensor    // all-ones masks: the unpruned student is measured
	gramOut map[string]*ort.Tensor // reused output buffers: the Gram blocks are the largest outputs
}

// measure is the measurement phase of sublayer s: it runs the teacher's sublayer s (advancing the
// teacher's frontier) and the student's scoring graph from s upward over the calibration set,
// and accumulates per masked sublayer the squared mask gradients and squared activations, and,
// when tuning, the Gram matrices of sublayer s against the teacher's pre-LN sum. It sets
// it.MeanLoss and it.RowsPerRun and reports PhaseMeasure per batch. Its sessions are closed
// when it returns, before the solve and the advance.
func (st *state) measure(ctx context.Context, s int, it *Iteration) (*measurement, error) {
	ts, err := st.fr.openTeacher(st.teacher, st.tenc, s, nil)
	if err != nil {
		return nil, err
	}
	defer ts.close()
	run, ms, err := st.openScoring(s)
	if err != nil {
		return nil, err
	}
	defer run.sess.close()
	for i := range st.batches {
		st.fr.collect()
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		b := &st.batches[i]
		ms.nSeq += b.Size
		for _, v := range st.tokMask[i] {
			ms.nTok += float64(v)
		}
		yT, err := ts.step(ctx, i)
		if err != nil {
			return nil, err
		}
		if err := st.measureBatch(ctx, run, ms, i, yT, it); err != nil {
			return nil, err
		}
		st.fr.report(PhaseMeasure, s, i)
	}
	it.MeanLoss = ms.lossSum / float64(len(st.batches))
	return ms, nil
}

// openScoring builds the student's scoring graph at sublayer s and its session, and an empty
// measurement for it.
func (st *state) openScoring(s int) (*scoringRun, *measurement, error) {
	tuning := !st.opts.NoTuning
	sc, err := autodiff.BuildScoring(st.student, st.senc, s, autodiff.ScoringOptions{Temperature: st.lossTemperature(), Gram: tuning, PerExample: st.opts.PerExample, Pooling: st.opts.Pooling})
	if err != nil {
		return nil, nil, fmt.Errorf("building the scoring graph: %w", err)
	}
	sess, err := newSession(sc.Model, st.ortOpts, &st.ortTime)
	if err != nil {
		return nil, nil, fmt.Errorf("scoring session: %w", err)
	}
	run := &scoringRun{s: s, sc: sc, sess: sess, ones: allOnes(sc.Widths)}
	ms := &measurement{sums: map[int]*knowledgeSums{}}
	for s2 := range sc.Masks {
		w, _ := unitWidth(st.senc, s2)
		ms.sums[s2] = &knowledgeSums{pred: make([]float64, w), sq: make([]float64, w)}
	}
	if tuning {
		width, _ := unitWidth(st.senc, s)
		d := st.tenc.Hidden
		ms.gram = NewGram(width, d)
		run.gramOut = map[string]*ort.Tensor{
			sc.GramAA: ort.F32Tensor([]int64{int64(width), int64(width)}, make([]float32, width*width)),
			sc.GramAR: ort.F32Tensor([]int64{int64(width), int64(d)}, make([]float32, width*d)),
		}
	}
	return run, ms, nil
}

// measureBatch runs the scoring graph on batch i, given the teacher's pre-LN sum yT of sublayer
// s, and adds the results to ms. The graph runs on micro-batches of rows when asked (memory grows
// with the rows of one run); the batch's mask gradient is rebuilt exactly as the row-weighted sum
// of the micro-batch gradients of their batch-mean losses, then squared.
func (st *state) measureBatch(ctx context.Context, run *scoringRun, ms *measurement, i int, yT []float32, it *Iteration) error {
	b := &st.batches[i]
	batchGrad := map[int][]float64{}
	for s2, a := range ms.sums {
		batchGrad[s2] = make([]float64, len(a.pred))
	}
	mb := microBatchRows(&st.opts, st.senc, run.s, b.Size, b.SeqLen)
	it.RowsPerRun = max(it.RowsPerRun, mb)
	for r0 := 0; r0 < b.Size; r0 += mb {
		if err := st.measureRows(ctx, run, ms, i, r0, min(r0+mb, b.Size), yT, batchGrad); err != nil {
			return err
		}
	}
	if !st.opts.PerExample {
		for s2, a := range ms.sums {
			for k, v := range batchGrad[s2] {
				a.pred[k] += 0.5 * v * v
			}
		}
	}
	return nil
}

// measureRows runs the scoring graph on rows [r0, r1) of batch i. It adds the loss, the squared
// activations, the Gram matrices and (per example) the squared gradients to ms; batch gradients
// (without PerExample) go into batchGrad, weighted by the rows' share of the batch.
func (st *state) measureRows(ctx context.Context, run *scoringRun, ms *measurement, i, r0, r1 int, yT []float32, batchGrad map[int][]float64) error {
	sc, b, n := run.sc, &st.batches[i], r1-r0
	hshape := st.fr.hiddenShape(i)
	in := map[string]*ort.Tensor{}
	for k, v := range st.fr.inputs[i] {
		in[k] = sliceRows(v, r0, r1)
	}
	in[sc.Hidden] = sliceRows(ort.F32Tensor(hshape, st.fr.xs[i]), r0, r1)
	for s2, name := range sc.Masks {
		in[name] = run.ones[s2]
		if st.opts.PerExample {
			in[name] = perExampleOnes(n, run.ones[s2].Len())
		}
	}
	for k, name := range sc.Targets {
		in[name] = sliceRows(st.targets[i][k], r0, r1)
	}
	if ms.gram != nil {
		in[sc.TeacherPreLN] = sliceRows(ort.F32Tensor(hshape, yT), r0, r1)
	}
	out, err := run.sess.runInto(ctx, in, run.gramOut)
	if err != nil {
		return fmt.Errorf("scoring graph, batch %d: %w", i, err)
	}
	weight := float64(n) / float64(b.Size)
	ms.lossSum += weight * float64(out[sc.Loss].F32[0])
	for s2, a := range ms.sums {
		g := out[sc.Grads[s2]].F32
		sq := out[sc.SqSums[s2]].F32
		if st.opts.PerExample {
			g = perExampleSquares(g, n, len(a.pred))
		}
		if len(g) != len(a.pred) || len(sq) != len(a.sq) {
			return fmt.Errorf("scoring graph, batch %d: sublayer %d outputs have %d and %d values, want %d", i, s2, len(g), len(sq), len(a.pred))
		}
		bg := batchGrad[s2]
		for k := range g {
			if st.opts.PerExample {
				a.pred[k] += 0.5 * float64(g[k]) // already squared and summed over examples
			} else {
				bg[k] += weight * float64(g[k])
			}
			a.sq[k] += float64(sq[k])
		}
	}
	if ms.gram != nil {
		if err := ms.gram.Add(out[sc.GramAA].F32, out[sc.GramAR].F32); err != nil {
			return fmt.Errorf("batch %d: %w", i, err)
		}
	}
	return nil
}

// unitKnowledge is the predictive and the representational knowledge of every unit of a sublayer.
type unitKnowledge struct{ pred, rep []float64 }

// knowledge turns the measured sums into the knowledge per unit (heads average their d_h
// dimensions; predictive knowledge is per sequence, representational per token) and returns the
// total masses of both kinds.
func (st *state) knowledge(ms *measurement) (know map[int]unitKnowledge, predMass, repMass float64, err error) {
	know = map[int]unitKnowledge{}
	for s2, a := range ms.sums {
		lin := outLinear(st.senc, s2)
		rows, err := weightRowNorms(st.student, lin, st.tenc.Hidden)
		if err != nil {
			return nil, 0, 0, fmt.Errorf("sublayer %d output weight: %w", s2, err)
		}
		_, g2 := unitWidth(st.senc, s2)
		units := len(a.pred) / g2
		k := unitKnowledge{pred: make([]float64, units), rep: make([]float64, units)}
		for u := 0; u < units; u++ {
			var p, r float64
			for d := u * g2; d < (u+1)*g2; d++ {
				p += a.pred[d]
				r += a.sq[d] * rows[d]
			}
			k.pred[u] = p / float64(g2) / float64(ms.nSeq)
			k.rep[u] = r / float64(g2) / ms.nTok
			predMass += k.pred[u]
			repMass += k.rep[u]
		}
		know[s2] = k
	}
	return know, predMass, repMass, nil
}

// weightRowNorms returns (1/D) * sum_j W[k, j]^2 for each input row k of the output projection
// lin (in y = x @ W orientation).
func weightRowNorms(m *onnx.ModelProto, lin *graph.Linear, hidden int) ([]float64, error) {
	w, err := lin.WeightView(m) // in place: this runs for every sublayer >= s each iteration
	if err != nil {
		return nil, err
	}
	// Both loops add row k's squares in ascending j and read memory in order.
	out := make([]float64, lin.In)
	if lin.Orient == graph.InOut { // [In, Out]
		for k := range out {
			for _, x := range w[k*lin.Out : (k+1)*lin.Out] {
				out[k] += float64(x) * float64(x)
			}
		}
	} else { // [Out, In]
		for j := 0; j < lin.Out; j++ {
			for k, x := range w[j*lin.In : (j+1)*lin.In] {
				out[k] += float64(x) * float64(x)
			}
		}
	}
	for k := range out {
		out[k] /= float64(hidden)
	}
	return out, nil
}

// allOnes returns, for each masked sublayer, an all-ones mask of its width: masks that measure
// the unpruned student.
func allOnes(widths map[int]int) map[int]*ort.Tensor {
	ones := make(map[int]*ort.Tensor, len(widths))
	for s, w := range widths {
		one := make([]float32, w)
		for k := range one {
			one[k] = 1
		}
		ones[s] = ort.F32Tensor([]int64{int64(w)}, one)
	}
	return ones
}

// perExampleOnes is an all-ones per-example mask [batch, 1, w].
func perExampleOnes(batch, w int) *ort.Tensor {
	one := make([]float32, batch*w)
	for k := range one {
		one[k] = 1
	}
	return ort.F32Tensor([]int64{int64(batch), 1, int64(w)}, one)
}

// perExampleSquares turns per-example mask gradients g [batch, 1, w] of a batch-mean loss into
// sum_i (batch * g_i)^2 per mask entry.
func perExampleSquares(g []float32, batch, w int) []float32 {
	if len(g) != batch*w {
		return g // the caller reports the size mismatch
	}
	out := make([]float32, w)
	for i := 0; i < batch; i++ {
		for k := 0; k < w; k++ {
			v := float64(batch) * float64(g[i*w+k])
			out[k] += float32(v * v)
		}
	}
	return out
}

// sliceRows returns rows [r0, r1) of a tensor along its first axis (the tensor itself when that
// is all of it). The data is shared, not copied.
func sliceRows(t *ort.Tensor, r0, r1 int) *ort.Tensor {
	if r0 == 0 && int64(r1) == t.Shape[0] {
		return t
	}
	per := 1
	for _, d := range t.Shape[1:] {
		per *= int(d)
	}
	shape := append([]int64{int64(r1 - r0)}, t.Shape[1:]...)
	out := &ort.Tensor{Name: t.Name, Elem: t.Elem, Shape: shape}
	switch {
	case t.F32 != nil:
		out.F32 = t.F32[r0*per : r1*per]
	case t.F64 != nil:
		out.F64 = t.F64[r0*per : r1*per]
	case t.I64 != nil:
		out.I64 = t.I64[r0*per : r1*per]
	}
	return out
}
