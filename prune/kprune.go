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
	// see predictive knowledge too. Classification heads only: on other heads (no classes to
	// sample) it has no effect, and the report's Setting counts it as off. Labels are drawn per
	// calibration sequence (from FisherSeed and the sequence's index), not per batch.
	Fisher     bool
	FisherSeed uint64
	// Runtime holds the onnxruntime knobs (MicroBatch, LowMemory, Threads, Provider).
	Runtime
}

// Result is a pruned model with its description and run report.
type Result struct {
	Model   *onnx.ModelProto
	Encoder *graph.Encoder
	Report  Report
}

// state is the driver's working state: the teacher, the student, and both frontiers.
type state struct {
	opts    Options
	teacher *onnx.ModelProto
	tenc    *graph.Encoder
	student *onnx.ModelProto
	senc    *graph.Encoder
	batches []data.Batch
	fr      *frontier
	targets [][]*ort.Tensor // teacher targets per batch, in the scoring graph's order
	tokMask [][]float32     // 0/1 per token per batch
	ortOpts ort.Options
	ortTime time.Duration
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
		opts.Fisher = false // classification heads only (see Options.Fisher)
	}
	seqLen := cost.SeqLen
	if progress == nil {
		progress = func(Progress) {}
	}
	st := &state{opts: opts, teacher: m, tenc: enc, student: m, senc: enc, batches: batches,
		ortOpts: ort.Options{IntraOpThreads: opts.Threads, Provider: opts.Provider, NoArena: opts.LowMemory, SharedWeights: true}}
	st.fr = newFrontier(batches, enc.Hidden, enc.NumSublayers(), st.ortOpts, &st.ortTime, progress)
	st.fr.lowMemory = opts.LowMemory
	rep := Report{
		Method: "kprune", RequestedReduction: opts.Reduction, Options: opts, Setting: opts.Setting(enc.Head), SeqLen: seqLen, Unfused: unfused,
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
	st.fr.release()
	st.targets = nil
	rep.fill(cost, enc, st.senc, m, st.student)
	rep.TotalSeconds = time.Since(start).Seconds()
	rep.ORTSeconds = st.ortTime.Seconds()
	rep.PeakRSSBytes = max(peak, peakRSS())
	return &Result{Model: st.student, Encoder: st.senc, Report: rep}, nil
}

// kindName is "MHA" for sublayer s when it is an attention sublayer (even s), "FFN" otherwise.
func kindName(s int) string {
	if s%2 == 0 {
		return "MHA"
	}
	return "FFN"
}

// teacherPass runs the teacher once over the calibration set: it caches the model inputs, the
// loss targets and the hidden state entering sublayer 0 (both frontiers start equal).
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
	st.targets = make([][]*ort.Tensor, n)
	st.tokMask = make([][]float32, n)
	fr := st.fr
	for i := range st.batches {
		fr.collect()
		if err := ctx.Err(); err != nil {
			return err
		}
		b := &st.batches[i]
		fr.inputs[i] = modelInputs(enc, b)
		res, err := sess.run(ctx, fr.inputs[i])
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
			sampleOneHot(tg[0], labelDraws(b, st.opts.FisherSeed, rng))
		}
		st.targets[i] = tg
		x := res[x0].F32
		fr.xt[i] = x
		fr.xs[i] = append([]float32(nil), x...)
		mask := make([]float32, len(b.AttentionMask))
		for k, v := range b.AttentionMask {
			if v != 0 {
				mask[k] = 1
			}
		}
		st.tokMask[i] = mask
		fr.report(PhaseTeacher, -1, i)
	}
	return nil
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

// preLN is the pre-LayerNorm sum (residual + sublayer output) of sublayer s.
func preLN(enc *graph.Encoder, s int) string {
	l := enc.Layers[s/2]
	if s%2 == 0 {
		return l.MHA.PreLN
	}
	return l.FFN.PreLN
}

// iterate performs one K-prune iteration on sublayer s, phase by phase: measure the knowledge of
// the units of sublayers >= s on the current student, score them, search the mask of sublayer s
// under the remaining budget, tune the kept units' output weights, rewrite the student's
// sublayer s, and advance the student's frontier through it.
func (st *state) iterate(ctx context.Context, s int, cost Cost, budget float64) (Iteration, error) {
	it := Iteration{Sublayer: s, Layer: s / 2, Kind: kindName(s)}
	resetPeakRSS()
	if width, _ := unitWidth(st.senc, s); width == 0 {
		return it, fmt.Errorf("internal error: sublayer was removed before its iteration")
	}
	tMeasure := time.Now()
	ortBefore := st.ortTime
	ms, err := st.measure(ctx, s, &it)
	if err != nil {
		return it, err
	}
	cands, scores, err := st.score(ms, cost, &it)
	if err != nil {
		return it, err
	}
	it.MeasureSeconds = time.Since(tMeasure).Seconds()
	kept, err := st.search(s, cands, scores, budget, &it)
	if err != nil {
		return it, err
	}
	newW, err := st.tune(s, kept, ms.gram, &it)
	if err != nil {
		return it, err
	}
	if err := st.rewrite(s, kept, newW, &it); err != nil {
		return it, err
	}
	tAdv := time.Now()
	if err := st.advance(ctx, s); err != nil {
		return it, fmt.Errorf("advancing the student: %w", err)
	}
	it.AdvanceSeconds = time.Since(tAdv).Seconds()
	it.ORTSeconds = (st.ortTime - ortBefore).Seconds()
	var mem goruntime.MemStats
	goruntime.ReadMemStats(&mem)
	it.GoHeapBytes = int64(mem.HeapInuse)
	it.PeakRSSBytes = peakRSS()
	return it, nil
}

// score is the scoring phase: from the measurement it computes the knowledge per unit, chooses
// lambda (AutoLambda), and scores every unit of the masked sublayers as its knowledge per unit of
// cost (heads weighted by Mu). It returns all units as search candidates and the scores per
// sublayer, and sets it.PredMass, it.RepMass and it.Lambda.
func (st *state) score(ms *measurement, cost Cost, it *Iteration) ([]Candidate, map[int][]float64, error) {
	know, predMass, repMass, err := st.knowledge(ms)
	if err != nil {
		return nil, nil, err
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
	return cands, scores, nil
}

// search is the mask search phase: the threshold that fits the candidates into budget decides
// which units of sublayer s are kept (rounded to multiples of RoundTo when asked). It returns
// their indices ascending and sets it.Units, it.Kept and it.SearchSeconds.
func (st *state) search(s int, cands []Candidate, scores map[int][]float64, budget float64, it *Iteration) ([]int, error) {
	tSearch := time.Now()
	thr, err := Threshold(cands, budget)
	if err != nil {
		return nil, fmt.Errorf("mask search (lambda %g, mu %g): %w", it.Lambda, st.opts.Mu, err)
	}
	kept := Kept(scores[s], thr)
	if st.opts.RoundTo > 1 {
		kept = roundKept(scores[s], kept, st.opts.RoundTo)
	}
	it.Units = len(scores[s])
	it.Kept = len(kept)
	it.SearchSeconds = time.Since(tSearch).Seconds()
	return kept, nil
}

// tune is the weight tuning phase: it solves the least-squares problem of the kept columns of
// sublayer s's output projection from the measured Gram matrices and returns the new weight
// ([kept columns, D], y = x @ W), or nil when nothing is tuned (no tuning, or nothing kept). It
// sets it.Ridge and it.TuneSeconds.
func (st *state) tune(s int, kept []int, gram *Gram, it *Iteration) ([]float32, error) {
	if gram == nil || len(kept) == 0 {
		return nil, nil
	}
	tTune := time.Now()
	_, group := unitWidth(st.senc, s)
	cols := make([]int, 0, len(kept)*group)
	for _, u := range kept {
		for d := u * group; d < (u+1)*group; d++ {
			cols = append(cols, d)
		}
	}
	res, err := gram.Solve(cols)
	if err != nil {
		return nil, fmt.Errorf("weight tuning: %w", err)
	}
	it.Ridge = res.Ridge
	it.TuneSeconds = time.Since(tTune).Seconds()
	return res.W, nil
}

// rewrite is the physical rewrite phase: the student's sublayer s keeps only the units kept (it
// is removed when none is) and, when newW is not nil, gets the tuned output weight. It sets
// it.Removed and it.RewriteSeconds.
func (st *state) rewrite(s int, kept []int, newW []float32, it *Iteration) error {
	tRewrite := time.Now()
	plan := graph.Plan{Heads: make([][]int, len(st.senc.Layers)), Neurons: make([][]int, len(st.senc.Layers))}
	if s%2 == 0 {
		plan.Heads[s/2] = kept
	} else {
		plan.Neurons[s/2] = kept
	}
	pm, penc, err := graph.Prune(st.student, st.senc, plan, graph.PruneOptions{KeepBias: st.opts.KeepBias})
	if err != nil {
		return fmt.Errorf("pruning: %w", err)
	}
	if newW != nil {
		pm, err = graph.ReplaceOutputWeight(pm, penc, s, newW, nil)
		if err != nil {
			return fmt.Errorf("writing the tuned weights: %w", err)
		}
	}
	st.student, st.senc = pm, penc
	it.Removed = len(kept) == 0
	it.RewriteSeconds = time.Since(tRewrite).Seconds()
	return nil
}

// advance is the last phase: the student's frontier moves through its (now final) sublayer s.
func (st *state) advance(ctx context.Context, s int) error {
	return st.fr.advanceStudent(ctx, st.student, st.senc, s)
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
	if err := CheckBatches(batches, enc.VocabRows(m)); err != nil {
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

// labelDraws returns one uniform number in [0, 1) per row of b for sampling its Fisher label.
// Each is a function of the seed and the row's calibration sequence (b.Index, its encoding), not
// of the row's batch or position, so the sampled labels, and with PerExample the whole knowledge
// measurement, do not depend on how the sequences are grouped into batches. Batches without an
// Index draw from rng in row order.
func labelDraws(b *data.Batch, seed uint64, rng *rand.Rand) []float64 {
	u := make([]float64, b.Size)
	for r := range u {
		if len(b.Index) == b.Size {
			u[r] = rand.New(rand.NewPCG(seed, 0x666973686572^uint64(b.Index[r]))).Float64()
		} else {
			u[r] = rng.Float64()
		}
	}
	return u
}

// sampleOneHot replaces each row r of a [batch, classes] probability tensor by a one-hot row of a
// class drawn from it with the uniform number u[r].
func sampleOneHot(p *ort.Tensor, u []float64) {
	classes := int(p.Shape[len(p.Shape)-1])
	for r := 0; r+classes <= len(p.F32); r += classes {
		row := p.F32[r : r+classes]
		acc, pick := 0.0, classes-1
		u := u[r/classes]
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
