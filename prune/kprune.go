package prune

import (
	"context"
	"fmt"
	"math/rand/v2"
	goruntime "runtime"
	"sort"
	"time"

	"github.com/kprune/kprune/data"
	"github.com/kprune/kprune/graph"
	"github.com/kprune/kprune/graph/autodiff"
	"github.com/kprune/kprune/onnx"
	ort "github.com/kprune/kprune/runtime"
)

// Options configure a K-prune run. Start from [DefaultOptions]: the zero value is not valid (its
// Temperature is 0). The zero value of every [ours] option gives the behaviour of the reference
// implementation. [Options.Validate] checks the values.
type Options struct {
	// Reduction is the fraction of encoder FLOPs to remove, in [0, 1).
	Reduction float64
	// Lambda (>= 0) weighs representational knowledge (default 2.5e-4), Mu (>= 0) multiplies
	// head scores (default 64), Temperature (> 0) softens the predictive loss (default 2). They
	// are used as given: 0 is not a "default" sentinel.
	Lambda, Mu, Temperature float64
	// SeqLen is the costing sequence length; 0 means the calibration set's average length.
	SeqLen float64
	// NoTuning skips the least-squares weight tuning (KPWT).
	NoTuning bool
	// KeepBias [ours]: a removed sublayer computes LN(x + b) instead of the reference's LN(x).
	KeepBias bool
	// AutoLambda [ours]: choose lambda in every iteration so that the predictive and the weighted
	// representational terms carry equal total mass over the candidates (falls back to Lambda when
	// the predictive mass is zero or float noise, below 1e-9 of lambda times the representational
	// mass, as at the first sublayer without Fisher).
	AutoLambda bool
	// PerExample [ours]: masks get a batch axis, so the predictive knowledge sums squared
	// per-example gradients, Kpred = (1/N_seq) * sum_i 0.5 * (B * g_i)^2 (the B undoes the batch
	// mean of the loss), instead of the squared batch gradient of the reference.
	PerExample bool
	// Pooling [ours] is how the last hidden state of a model without a head (an embedding
	// model exported without its pooling) is pooled for the predictive loss: "mean" (default,
	// sentence-transformers' usual pooling) or "cls" (the first token, as BGE/E5-style models).
	// Models with the pooling in the graph (HeadEmbedding) use their own output.
	Pooling string `json:",omitempty"`
	// RoundTo [ours], when > 1, rounds the number of heads and neurons kept in each sublayer to
	// the nearest multiple of RoundTo (keeping the best-scoring units), for kernels that prefer
	// aligned widths; later sublayers absorb the difference through the remaining budget.
	RoundTo int
	// Fisher [ours] replaces the distillation loss of the predictive knowledge by the
	// cross-entropy with labels sampled from the teacher's distribution (temperature 1, seeded by
	// FisherSeed): the empirical Fisher of the teacher's predictive distribution. Unlike the KL, its
	// gradient is not zero when the student equals the teacher, so the first sublayers' decisions
	// see predictive knowledge too. Classification heads only.
	Fisher     bool
	FisherSeed uint64
	// Runtime holds the onnxruntime knobs (MicroBatch, LowMemory, Threads, Provider).
	Runtime
}

// Progress reports the driver's position; the CLI renders it.
type Progress struct {
	Phase     string // "teacher", "measure", "tune", "advance"
	Sublayer  int    // current sublayer s (-1 during the teacher pass)
	Sublayers int    // 2L
	Done      int    // batches done in this phase
	Total     int    // batches in this phase
}

// Result is a pruned model with its description and run report.
type Result struct {
	Model   *onnx.ModelProto
	Encoder *graph.Encoder
	Report  Report
}

// state is the driver's working state: the teacher, the student, and both frontiers.
type state struct {
	opts     Options
	teacher  *onnx.ModelProto
	tenc     *graph.Encoder
	student  *onnx.ModelProto
	senc     *graph.Encoder
	batches  []data.Batch
	inputs   []map[string]*ort.Tensor // model inputs per batch (ids, mask, token types)
	targets  [][]*ort.Tensor          // teacher targets per batch, in the scoring graph's order
	xs, xt   [][]float32              // student and teacher frontiers per batch [B, T, D]
	tokMask  [][]float32              // 0/1 per token per batch
	ortOpts  ort.Options
	ortTime  time.Duration
	progress func(Progress)
}

// KPrune prunes m to remove opts.Reduction of its encoder FLOPs with K-prune, calibrating on
// batches (padded, fixed order). opts must be valid ([Options.Validate]; start from
// [DefaultOptions]). m is not modified. progress may be nil.
func KPrune(ctx context.Context, m *onnx.ModelProto, batches []data.Batch, opts Options, progress func(Progress)) (*Result, error) {
	m, unfused, err := Standardize(m)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	if err := opts.Validate(); err != nil {
		return nil, fmt.Errorf("invalid options: %w", err)
	}
	resetPeakRSS()
	enc, stats, cost, err := setup(m, batches, opts.Reduction, opts.SeqLen)
	if err != nil {
		return nil, err
	}
	if opts.Fisher && enc.Head != graph.HeadClassification {
		return nil, fmt.Errorf("the Fisher option needs a classification head; this model's head is %q", enc.Head)
	}
	seqLen := cost.SeqLen
	if progress == nil {
		progress = func(Progress) {}
	}
	st := &state{opts: opts, teacher: m, tenc: enc, student: m, senc: enc, batches: batches, progress: progress,
		ortOpts: ort.Options{IntraOpThreads: opts.Threads, Provider: opts.Provider, NoArena: opts.LowMemory, SharedWeights: true}}
	rep := Report{
		Method: "kprune", RequestedReduction: opts.Reduction, Options: opts, SeqLen: seqLen, Unfused: unfused,
		Calibration: calibStats(stats, len(batches)),
	}
	budget := (1 - opts.Reduction) * cost.Encoder(enc)

	t0 := time.Now()
	if err := st.teacherPass(ctx); err != nil {
		return nil, fmt.Errorf("teacher pass: %w", err)
	}
	rep.TeacherSeconds = time.Since(t0).Seconds()
	rep.TeacherPeakRSSBytes = peakRSS()
	peak := rep.TeacherPeakRSSBytes

	for s := 0; s < enc.NumSublayers(); s++ {
		it, err := st.iterate(ctx, s, cost, budget)
		if err != nil {
			return nil, fmt.Errorf("sublayer %d (%s of layer %d): %w", s, kindName(s), s/2, err)
		}
		budget -= float64(it.Kept) * cost.Unit(s)
		rep.Iterations = append(rep.Iterations, it)
		peak = max(peak, it.PeakRSSBytes)
	}
	st.frontiersDone()
	rep.fill(cost, enc, st.senc, m, st.student)
	rep.TotalSeconds = time.Since(start).Seconds()
	rep.ORTSeconds = st.ortTime.Seconds()
	rep.PeakRSSBytes = max(peak, peakRSS())
	return &Result{Model: st.student, Encoder: st.senc, Report: rep}, nil
}

func kindName(s int) string {
	if s%2 == 0 {
		return "MHA"
	}
	return "FFN"
}

// teacherPass runs the teacher once over the calibration set: it caches the loss targets and the
// hidden state entering sublayer 0 (both frontiers start equal).
func (st *state) teacherPass(ctx context.Context) error {
	enc := st.tenc
	x0 := enc.SublayerInput(0)
	outs := append(append([]string{}, enc.Outputs...), x0)
	opts := st.ortOpts
	opts.Outputs = outs
	sess, err := newSession(st.teacher, opts, &st.ortTime)
	if err != nil {
		return err
	}
	defer sess.close()
	n := len(st.batches)
	rng := rand.New(rand.NewPCG(st.opts.FisherSeed, 0x666973686572))
	st.inputs = make([]map[string]*ort.Tensor, n)
	st.targets = make([][]*ort.Tensor, n)
	st.xs = make([][]float32, n)
	st.xt = make([][]float32, n)
	st.tokMask = make([][]float32, n)
	for i := range st.batches {
		st.collect()
		if err := ctx.Err(); err != nil {
			return err
		}
		b := &st.batches[i]
		st.inputs[i] = modelInputs(enc, b)
		res, err := sess.run(ctx, st.inputs[i])
		if err != nil {
			return fmt.Errorf("batch %d: %w", i, err)
		}
		teacherOut := make([]*ort.Tensor, len(enc.Outputs))
		for k, name := range enc.Outputs {
			teacherOut[k] = res[name]
		}
		tg, err := teacherTargets(enc, teacherOut, b.AttentionMask, b.Size, b.SeqLen, st.lossTemperature(), st.opts.Pooling)
		if err != nil {
			return fmt.Errorf("batch %d: teacher targets: %w", i, err)
		}
		if st.opts.Fisher {
			sampleOneHot(tg[0], rng)
		}
		st.targets[i] = tg
		x := res[x0].F32
		st.xt[i] = x
		st.xs[i] = append([]float32(nil), x...)
		mask := make([]float32, len(b.AttentionMask))
		for k, v := range b.AttentionMask {
			if v != 0 {
				mask[k] = 1
			}
		}
		st.tokMask[i] = mask
		st.progress(Progress{Phase: "teacher", Sublayer: -1, Sublayers: enc.NumSublayers(), Done: i + 1, Total: n})
	}
	return nil
}

// collect runs the Go garbage collector between batches in low-memory mode. The live heap holds
// the model, so by default the collector lets garbage grow to about the model's size again
// before it runs; per batch it stays at one batch's outputs.
func (st *state) collect() {
	if st.opts.LowMemory {
		goruntime.GC()
	}
}

func (st *state) frontiersDone() {
	st.xs, st.xt, st.targets, st.inputs = nil, nil, nil, nil
}

// hiddenShape is [B, T, D] of batch i.
func (st *state) hiddenShape(i int) []int64 {
	b := &st.batches[i]
	return []int64{int64(b.Size), int64(b.SeqLen), int64(st.tenc.Hidden)}
}

// unitWidth is the output-projection input width of sublayer s in enc, and d_h for MHA (1 for FFN).
func unitWidth(enc *graph.Encoder, s int) (width, group int) {
	l := enc.Layers[s/2]
	if s%2 == 0 {
		if l.MHA == nil {
			return 0, enc.HeadDim
		}
		return l.MHA.Heads * l.MHA.HeadDim, l.MHA.HeadDim
	}
	if l.FFN == nil {
		return 0, 1
	}
	return l.FFN.Width, 1
}

// outLinear returns the output projection of sublayer s, or nil when it was removed.
func outLinear(enc *graph.Encoder, s int) *graph.Linear {
	l := enc.Layers[s/2]
	if s%2 == 0 {
		if l.MHA == nil {
			return nil
		}
		return &l.MHA.O
	}
	if l.FFN == nil {
		return nil
	}
	return &l.FFN.W2
}

func preLN(enc *graph.Encoder, s int) string {
	l := enc.Layers[s/2]
	if s%2 == 0 {
		return l.MHA.PreLN
	}
	return l.FFN.PreLN
}

// iterate performs one K-prune iteration on sublayer s.
func (st *state) iterate(ctx context.Context, s int, cost Cost, budget float64) (Iteration, error) {
	it := Iteration{Sublayer: s, Layer: s / 2, Kind: kindName(s)}
	resetPeakRSS()
	width, group := unitWidth(st.senc, s)
	if width == 0 {
		return it, fmt.Errorf("internal error: sublayer was removed before its iteration")
	}
	tMeasure := time.Now()
	ortBefore := st.ortTime

	// Sessions: the teacher's sublayer s, and the student's scoring graph from s upward.
	tsubModel, err := graph.Extract(st.teacher, []string{st.tenc.SublayerInput(s)}, []string{preLN(st.tenc, s), st.tenc.SublayerOutput(s)})
	if err != nil {
		return it, fmt.Errorf("extracting the teacher's sublayer: %w", err)
	}
	tsub, err := newSession(tsubModel, st.ortOpts, &st.ortTime)
	if err != nil {
		return it, fmt.Errorf("teacher sublayer session: %w", err)
	}
	defer tsub.close()
	tuning := !st.opts.NoTuning
	sc, err := autodiff.BuildScoring(st.student, st.senc, s, autodiff.ScoringOptions{Temperature: st.lossTemperature(), Gram: tuning, PerExample: st.opts.PerExample, Pooling: st.opts.Pooling})
	if err != nil {
		return it, fmt.Errorf("building the scoring graph: %w", err)
	}
	scs, err := newSession(sc.Model, st.ortOpts, &st.ortTime)
	if err != nil {
		return it, fmt.Errorf("scoring session: %w", err)
	}
	defer scs.close()

	// Accumulators per masked sublayer.
	type acc struct{ pred, sq []float64 }
	accs := map[int]*acc{}
	for s2 := range sc.Masks {
		w, _ := unitWidth(st.senc, s2)
		accs[s2] = &acc{pred: make([]float64, w), sq: make([]float64, w)}
	}
	ones := allOnes(sc.Widths)
	var gram *Gram
	var gramOut map[string]*ort.Tensor // reused output buffers: the Gram blocks are the largest outputs
	if tuning {
		gram = NewGram(width, st.tenc.Hidden)
		d := st.tenc.Hidden
		gramOut = map[string]*ort.Tensor{
			sc.GramAA: ort.F32Tensor([]int64{int64(width), int64(width)}, make([]float32, width*width)),
			sc.GramAR: ort.F32Tensor([]int64{int64(width), int64(d)}, make([]float32, width*d)),
		}
	}
	nSeq, nTok := 0, 0.0
	var lossSum float64
	for i := range st.batches {
		st.collect()
		if err := ctx.Err(); err != nil {
			return it, err
		}
		b := &st.batches[i]
		nSeq += b.Size
		for _, v := range st.tokMask[i] {
			nTok += float64(v)
		}
		hshape := st.hiddenShape(i)
		tin := map[string]*ort.Tensor{}
		for k, v := range st.inputs[i] {
			tin[k] = v
		}
		tin[st.tenc.SublayerInput(s)] = ort.F32Tensor(hshape, st.xt[i])
		tout, err := tsub.run(ctx, tin)
		if err != nil {
			return it, fmt.Errorf("teacher sublayer, batch %d: %w", i, err)
		}
		yT := tout[preLN(st.tenc, s)].F32
		st.xt[i] = tout[st.tenc.SublayerOutput(s)].F32

		// The scoring graph runs on micro-batches of rows when asked (memory grows with the rows
		// of one run); the batch's mask gradient is rebuilt exactly as the row-weighted sum of the
		// micro-batch gradients of their batch-mean losses, then squared.
		batchGrad := map[int][]float64{}
		for s2, a := range accs {
			batchGrad[s2] = make([]float64, len(a.pred))
		}
		mb := microBatchRows(&st.opts, st.senc, s, b.Size, b.SeqLen)
		it.RowsPerRun = max(it.RowsPerRun, mb)
		for r0 := 0; r0 < b.Size; r0 += mb {
			r1 := min(r0+mb, b.Size)
			n := r1 - r0
			in := map[string]*ort.Tensor{}
			for k, v := range st.inputs[i] {
				in[k] = sliceRows(v, r0, r1)
			}
			in[sc.Hidden] = sliceRows(ort.F32Tensor(hshape, st.xs[i]), r0, r1)
			for s2, name := range sc.Masks {
				in[name] = ones[s2]
				if st.opts.PerExample {
					in[name] = perExampleOnes(n, ones[s2].Len())
				}
			}
			for k, name := range sc.Targets {
				in[name] = sliceRows(st.targets[i][k], r0, r1)
			}
			if tuning {
				in[sc.TeacherPreLN] = sliceRows(ort.F32Tensor(hshape, yT), r0, r1)
			}
			out, err := scs.runInto(ctx, in, gramOut)
			if err != nil {
				return it, fmt.Errorf("scoring graph, batch %d: %w", i, err)
			}
			weight := float64(n) / float64(b.Size)
			lossSum += weight * float64(out[sc.Loss].F32[0])
			for s2, a := range accs {
				g := out[sc.Grads[s2]].F32
				sq := out[sc.SqSums[s2]].F32
				if st.opts.PerExample {
					g = perExampleSquares(g, n, len(a.pred))
				}
				if len(g) != len(a.pred) || len(sq) != len(a.sq) {
					return it, fmt.Errorf("scoring graph, batch %d: sublayer %d outputs have %d and %d values, want %d", i, s2, len(g), len(sq), len(a.pred))
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
			if tuning {
				if err := gram.Add(out[sc.GramAA].F32, out[sc.GramAR].F32); err != nil {
					return it, fmt.Errorf("batch %d: %w", i, err)
				}
			}
		}
		if !st.opts.PerExample {
			for s2, a := range accs {
				for k, v := range batchGrad[s2] {
					a.pred[k] += 0.5 * v * v
				}
			}
		}
		st.progress(Progress{Phase: "measure", Sublayer: s, Sublayers: st.tenc.NumSublayers(), Done: i + 1, Total: len(st.batches)})
	}
	it.MeanLoss = lossSum / float64(len(st.batches))
	// The sessions are done: free onnxruntime's memory before the solve and the advance.
	scs.close()
	tsub.close()

	// Knowledge per unit, then scores.
	type unitK struct{ pred, rep []float64 }
	know := map[int]unitK{}
	var predMass, repMass float64
	for s2, a := range accs {
		lin := outLinear(st.senc, s2)
		rows, err := weightRowNorms(st.student, lin, st.tenc.Hidden)
		if err != nil {
			return it, fmt.Errorf("sublayer %d output weight: %w", s2, err)
		}
		_, g2 := unitWidth(st.senc, s2)
		units := len(a.pred) / g2
		k := unitK{pred: make([]float64, units), rep: make([]float64, units)}
		for u := 0; u < units; u++ {
			var p, r float64
			for d := u * g2; d < (u+1)*g2; d++ {
				p += a.pred[d]
				r += a.sq[d] * rows[d]
			}
			k.pred[u] = p / float64(g2) / float64(nSeq)
			k.rep[u] = r / float64(g2) / nTok
			predMass += k.pred[u]
			repMass += k.rep[u]
		}
		know[s2] = k
	}
	lambda := st.opts.Lambda
	// The predictive mass counts as zero when it is float noise next to the weighted
	// representational mass (at sublayer 0 the distillation gradient is zero up to rounding).
	if st.opts.AutoLambda && repMass > 0 && predMass > 1e-9*lambda*repMass {
		lambda = predMass / repMass
	}
	it.PredMass, it.RepMass, it.Lambda = predMass, repMass, lambda

	var cands []Candidate
	scores := map[int][]float64{}
	for s2, k := range know {
		// Candidates: for MHA s, heads and neurons of layers >= l; for FFN s, heads of layers > l
		// and neurons of layers >= l. Masked sublayers are exactly those >= s.
		sc := make([]float64, len(k.pred))
		for u := range sc {
			v := k.pred[u] + lambda*k.rep[u]
			if s2%2 == 0 {
				sc[u] = st.opts.Mu * v / cost.Head()
			} else {
				sc[u] = v / cost.Neuron()
			}
			cands = append(cands, Candidate{Sublayer: s2, Unit: u, Score: sc[u], Cost: cost.Unit(s2)})
		}
		scores[s2] = sc
	}
	it.MeasureSeconds = time.Since(tMeasure).Seconds()
	tSearch := time.Now()
	thr, err := Threshold(cands, budget)
	if err != nil {
		return it, fmt.Errorf("mask search (lambda %g, mu %g): %w", lambda, st.opts.Mu, err)
	}
	kept := Kept(scores[s], thr)
	if st.opts.RoundTo > 1 {
		kept = roundKept(scores[s], kept, st.opts.RoundTo)
	}
	it.Units = len(scores[s])
	it.Kept = len(kept)
	it.SearchSeconds = time.Since(tSearch).Seconds()

	// Weight tuning on the kept columns.
	var newW []float32
	if tuning && len(kept) > 0 {
		tTune := time.Now()
		cols := make([]int, 0, len(kept)*group)
		for _, u := range kept {
			for d := u * group; d < (u+1)*group; d++ {
				cols = append(cols, d)
			}
		}
		res, err := gram.Solve(cols)
		if err != nil {
			return it, fmt.Errorf("weight tuning: %w", err)
		}
		newW, it.Ridge = res.W, res.Ridge
		it.TuneSeconds = time.Since(tTune).Seconds()
	}

	// Physical rewrite of sublayer s.
	tRewrite := time.Now()
	plan := graph.Plan{Heads: make([][]int, len(st.senc.Layers)), Neurons: make([][]int, len(st.senc.Layers))}
	if s%2 == 0 {
		plan.Heads[s/2] = kept
	} else {
		plan.Neurons[s/2] = kept
	}
	pm, penc, err := graph.Prune(st.student, st.senc, plan, graph.PruneOptions{KeepBias: st.opts.KeepBias})
	if err != nil {
		return it, fmt.Errorf("pruning: %w", err)
	}
	if newW != nil {
		pm, err = graph.ReplaceOutputWeight(pm, penc, s, newW, nil)
		if err != nil {
			return it, fmt.Errorf("writing the tuned weights: %w", err)
		}
	}
	st.student, st.senc = pm, penc
	it.Removed = len(kept) == 0
	it.RewriteSeconds = time.Since(tRewrite).Seconds()

	// Advance the student's frontier through the pruned sublayer s.
	tAdv := time.Now()
	if err := st.advance(ctx, s); err != nil {
		return it, fmt.Errorf("advancing the student: %w", err)
	}
	it.AdvanceSeconds = time.Since(tAdv).Seconds()
	it.ORTSeconds = (st.ortTime - ortBefore).Seconds()
	var ms goruntime.MemStats
	goruntime.ReadMemStats(&ms)
	it.GoHeapBytes = int64(ms.HeapInuse)
	it.PeakRSSBytes = peakRSS()
	return it, nil
}

// advance pushes the student's frontier through its (now final) sublayer s.
func (st *state) advance(ctx context.Context, s int) error {
	sub, err := graph.Extract(st.student, []string{st.senc.SublayerInput(s)}, []string{st.senc.SublayerOutput(s)})
	if err != nil {
		return err
	}
	sess, err := newSession(sub, st.ortOpts, &st.ortTime)
	if err != nil {
		return err
	}
	defer sess.close()
	for i := range st.batches {
		st.collect()
		if err := ctx.Err(); err != nil {
			return err
		}
		in := map[string]*ort.Tensor{}
		for k, v := range st.inputs[i] {
			in[k] = v
		}
		in[st.senc.SublayerInput(s)] = ort.F32Tensor(st.hiddenShape(i), st.xs[i])
		out, err := sess.run(ctx, in)
		if err != nil {
			return fmt.Errorf("batch %d: %w", i, err)
		}
		st.xs[i] = out[st.senc.SublayerOutput(s)].F32
		st.progress(Progress{Phase: "advance", Sublayer: s, Sublayers: st.tenc.NumSublayers(), Done: i + 1, Total: len(st.batches)})
	}
	return nil
}

// weightRowNorms returns (1/D) * sum_j W[k, j]^2 for each input row k of the output projection
// lin (in y = x @ W orientation).
func weightRowNorms(m *onnx.ModelProto, lin *graph.Linear, hidden int) ([]float64, error) {
	w, err := weightView(m, lin) // in place: this runs for every sublayer >= s each iteration
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

// weightView returns the weight of lin as stored (orientation lin.Orient), read in place where
// possible (onnx.Float32View): callers must not modify it.
func weightView(m *onnx.ModelProto, lin *graph.Linear) ([]float32, error) {
	t := findInitializer(m, lin.Weight)
	if t == nil {
		return nil, fmt.Errorf("initializer %q not found", lin.Weight)
	}
	w, _, err := onnx.Float32View(t)
	if err != nil {
		return nil, err
	}
	if len(w) != lin.In*lin.Out {
		return nil, fmt.Errorf("initializer %q has %d values, want %d x %d", lin.Weight, len(w), lin.In, lin.Out)
	}
	return w, nil
}

// linearWeight returns a copy of the weight of lin, row-major [In, Out] (y = x @ W orientation).
func linearWeight(m *onnx.ModelProto, lin *graph.Linear) ([]float32, error) {
	w, err := weightView(m, lin)
	if err != nil {
		return nil, err
	}
	if lin.Orient == graph.InOut {
		return append([]float32(nil), w...), nil
	}
	tw := make([]float32, len(w))
	for o := 0; o < lin.Out; o++ {
		for i := 0; i < lin.In; i++ {
			tw[i*lin.Out+o] = w[o*lin.In+i]
		}
	}
	return tw, nil
}

func findInitializer(m *onnx.ModelProto, name string) *onnx.TensorProto {
	for _, t := range m.GetGraph().GetInitializer() {
		if t.GetName() == name {
			return t
		}
	}
	return nil
}

// VocabRows returns the number of rows of the word-embedding table feeding input_ids, or 0 when
// it cannot be found.
func VocabRows(m *onnx.ModelProto, enc *graph.Encoder) int {
	if enc.InputIDs == "" {
		return 0
	}
	for _, n := range m.GetGraph().GetNode() {
		if n.GetOpType() == "Gather" && len(n.GetInput()) == 2 && n.GetInput()[1] == enc.InputIDs {
			if t := findInitializer(m, n.GetInput()[0]); t != nil && len(t.GetDims()) == 2 {
				return int(t.GetDims()[0])
			}
		}
	}
	return 0
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

// roundKept rounds the number of kept units to the nearest multiple of n (halves round up),
// keeping the best-scoring units, and returns their indices ascending.
func roundKept(scores []float64, kept []int, n int) []int {
	want := (len(kept) + n/2) / n * n
	want = min(want, len(scores))
	if want == len(kept) {
		return kept
	}
	order := make([]int, len(scores))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return scores[order[a]] > scores[order[b]] })
	out := append([]int(nil), order[:want]...)
	sort.Ints(out)
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

// setup does what every data-driven method starts with, before any long work: it validates the
// reduction, discovers the encoder, checks the batches against it, and builds the cost model at
// seqLen (0: the batches' average length).
func setup(m *onnx.ModelProto, batches []data.Batch, reduction, seqLen float64) (*graph.Encoder, data.Stats, Cost, error) {
	if err := CheckReduction(reduction); err != nil {
		return nil, data.Stats{}, Cost{}, err
	}
	enc, err := graph.Discover(m)
	if err != nil {
		return nil, data.Stats{}, Cost{}, fmt.Errorf("reading the encoder: %w", err)
	}
	if err := CheckBatches(batches, VocabRows(m, enc)); err != nil {
		return nil, data.Stats{}, Cost{}, fmt.Errorf("calibration set: %w", err)
	}
	stats := data.ComputeStats(batches)
	if seqLen == 0 {
		seqLen = stats.AvgLen
	}
	cost, err := NewCost(enc, seqLen)
	if err != nil {
		return nil, data.Stats{}, Cost{}, err
	}
	if cost.Encoder(enc) <= 0 {
		return nil, data.Stats{}, Cost{}, errNoUnits
	}
	return enc, stats, cost, nil
}

// lossTemperature is the temperature of the predictive loss: T, or 1 for the Fisher option.
func (st *state) lossTemperature() float64 {
	if st.opts.Fisher {
		return 1
	}
	return st.opts.Temperature
}

// sampleOneHot replaces each row of a [batch, classes] probability tensor by a one-hot row of a
// class drawn from it.
func sampleOneHot(p *ort.Tensor, rng *rand.Rand) {
	classes := int(p.Shape[len(p.Shape)-1])
	for r := 0; r+classes <= len(p.F32); r += classes {
		row := p.F32[r : r+classes]
		u, acc, pick := rng.Float64(), 0.0, classes-1
		for c, v := range row {
			acc += float64(v)
			if u < acc {
				pick = c
				break
			}
		}
		for c := range row {
			row[c] = 0
		}
		row[pick] = 1
	}
}
