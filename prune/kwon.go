package prune

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sort"
	"time"

	"github.com/kprune/kprune/data"
	"github.com/kprune/kprune/graph"
	"github.com/kprune/kprune/graph/autodiff"
	"github.com/kprune/kprune/onnx"
	ort "github.com/kprune/kprune/runtime"
)

// KwonOptions configure Kwon.
type KwonOptions struct {
	// Reduction is the fraction of encoder MACs to remove, in [0, 1): c_keep = 1 - Reduction.
	// Kwon et al.'s MAC costs (kprune-spec section 5) are exactly half of the section 2 FLOPs of
	// the same unit, so at the same costing length the MAC and FLOPs reductions are equal.
	Reduction float64
	// SeqLen is the costing sequence length; 0 means the calibration set's average length (the
	// reference uses the task's average length too).
	SeqLen float64
	// Scores are the true targets of a regression head, per batch and row (labels are then not
	// needed). Classification heads take the labels argument instead.
	Scores [][]float64
	// OriginalTeacher tunes the masks against the unpruned model instead of the reference's
	// teacher, the model pruned (by the same search) to keep sqrt(c_keep) of the MACs.
	OriginalTeacher bool
	// NoRearrange skips the mask rearrangement (step 3); NoTuning skips the mask tuning (step 4).
	NoRearrange, NoTuning bool
	// Runtime holds the onnxruntime knobs; Kwon uses Threads and Provider (MicroBatch and
	// LowMemory apply to K-prune's gradient pass only).
	Runtime
	// Info, when not nil, receives the details of the run that Report has no place for.
	Info *KwonInfo
}

// KwonInfo describes a Kwon run beyond its Report.
type KwonInfo struct {
	// Keep is c_keep, TeacherKeep the MAC fraction the tuning teacher keeps (sqrt(c_keep), or 1
	// with OriginalTeacher).
	Keep        float64 `json:"keep"`
	TeacherKeep float64 `json:"teacher_keep"`
	// MACsBefore and MACsAfter are Kwon et al.'s MAC counts of the input and pruned encoders;
	// MACReduction = 1 - MACsAfter/MACsBefore is the reduction in the method's own cost model.
	MACsBefore   float64 `json:"macs_before"`
	MACsAfter    float64 `json:"macs_after"`
	MACReduction float64 `json:"mac_reduction"`
	// Heads and Neurons are the kept totals; Importance is the summed Fisher importance of the
	// searched (pre-rearrangement) selection.
	Heads      int     `json:"heads"`
	Neurons    int     `json:"neurons"`
	Importance float64 `json:"importance"`
	// MeanLoss is the mean task loss (cross-entropy or MSE on the true labels) over the
	// calibration batches of the unpruned model.
	MeanLoss float64 `json:"mean_loss"`
	// Swapped counts units whose keep/prune decision the rearrangement changed; ObjectiveBefore
	// and ObjectiveAfter are the summed rearrangement objectives (squared norms of the summed
	// gradient vectors of the pruned units) over layers and unit types.
	Swapped         int     `json:"swapped"`
	ObjectiveBefore float64 `json:"objective_before"`
	ObjectiveAfter  float64 `json:"objective_after"`
	// Tuned lists the sublayers whose scales were solved and folded in. StoppedAt is the
	// sublayer where tuning stopped early (-1 when it did not) and StopReason says why.
	Tuned      []int  `json:"tuned"`
	StoppedAt  int    `json:"stopped_at"`
	StopReason string `json:"stop_reason,omitempty"`
	// ScaleMin and ScaleMax are the extreme folded scales (1 and 1 when nothing was tuned).
	ScaleMin float64 `json:"scale_min"`
	ScaleMax float64 `json:"scale_max"`
	// Seconds per phase.
	GradientSeconds float64 `json:"gradient_seconds"`
	SearchSeconds   float64 `json:"search_seconds"`
	TuneSeconds     float64 `json:"tune_seconds"`
}

// Kwon prunes m with the post-training pruning framework of Kwon et al. (NeurIPS 2022), as
// kprune-spec section 5 describes it, to remove opts.Reduction of the encoder's MACs:
//
//  1. Fisher importance from mask gradients of the task loss on the TRUE labels: labels[b][r] is
//     the class of row r of batch b (regression heads take opts.Scores instead). The gradient
//     graph is K-prune's scoring graph at sublayer 0 with temperature 1 and one-hot targets, whose
//     loss, the mean KL(one-hot || softmax(z)), is exactly the cross-entropy. A head's gradient is
//     the sum of its d_h per-dimension mask gradients; importance = sum over batches of g^2.
//  2. Search under c_keep = 1 - Reduction with the MAC costs of section 5: heads and neurons are
//     sorted separately; for every number of kept heads >= 1 the rest of the budget is filled
//     with the best neurons, and the split with the largest total importance wins.
//  3. Mask rearrangement per layer and unit type (same count): a greedy swap so that the pruned
//     set minimises the squared norm of the summed per-batch gradient vectors of its units.
//  4. Mask tuning, sublayer by sublayer bottom-up: one scale per kept head/neuron, solved by
//     LSMR with damping 1 around scale 1 so that the sublayer's pre-LayerNorm output matches the
//     teacher's (the model pruned to keep sqrt(c_keep) of the MACs); the scales are folded into
//     the rows of W_O / W_2. A failed solve or a scale outside [-10, 10] stops all tuning.
//
// Details that follow the reference implementation (WoosukKwon/retraining-free-pruning) rather
// than the paper: the teacher masks are searched but not rearranged; the MHA of layer 0 is not
// tuned; the last FFN of a classification or regression model is tuned on the [CLS] token only;
// LSMR uses cupy's defaults (atol = btol = 1e-6, conlim = 1e8, at most 5n iterations) and a
// single unit is solved without damping; a sublayer that keeps nothing computes LN(x + b) (a zero
// mask keeps the bias). Deliberate departures: the search never exceeds the budget (the
// reference can keep more heads than it allows, with zero neurons); the MHA least-squares problem
// lacks the reference's extra all-ones column (a free offset whose value is discarded: it needs
// column sums of A that the Gram graph does not give); the Gram sums and the solve are float64
// (the reference's are float32 on a GPU). The pruned model keeps every input of m (attention_mask
// stays even when no attention is left). m is not modified; progress may be nil.
func Kwon(ctx context.Context, m *onnx.ModelProto, batches []data.Batch, labels [][]int, opts KwonOptions, progress func(Progress)) (*Result, error) {
	m, unfused, err := Standardize(m)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	if err := opts.Validate(); err != nil {
		return nil, fmt.Errorf("invalid options: %w", err)
	}
	enc, stats, cost, err := setup(m, batches, opts.Reduction, opts.SeqLen)
	if err != nil {
		return nil, err
	}
	seqLen := cost.SeqLen
	targets, err := kwonTargets(enc, batches, labels, opts.Scores)
	if err != nil {
		return nil, err
	}
	if progress == nil {
		progress = func(Progress) {}
	}
	info := opts.Info
	if info == nil {
		info = &KwonInfo{}
	}
	*info = KwonInfo{StoppedAt: -1, ScaleMin: 1, ScaleMax: 1}
	k := &kwonRun{m: m, enc: enc, batches: batches, targets: targets,
		ortOpts: ort.Options{IntraOpThreads: opts.Threads, Provider: opts.Provider, SharedWeights: true}}
	k.fr = newFrontier(batches, enc.Hidden, enc.NumSublayers(), k.ortOpts, &k.ortTime, progress)

	// 1. Fisher importance.
	t0 := time.Now()
	if err := k.gradients(ctx); err != nil {
		return nil, fmt.Errorf("mask gradients: %w", err)
	}
	info.MeanLoss = k.meanLoss
	info.GradientSeconds = time.Since(t0).Seconds()

	// 2. Search, for the student and the tuning teacher; 3. rearrangement (student only, as in
	// the reference).
	t0 = time.Now()
	keepH, keepN, teachH, teachN := k.searchMasks(cost, opts, info)
	if !opts.NoRearrange {
		k.rearrangeMasks(keepH, keepN, info)
	}
	for l := range enc.Layers {
		info.Heads += count(keepH[l])
		info.Neurons += count(keepN[l])
	}
	info.SearchSeconds = time.Since(t0).Seconds()

	// 4. Physical pruning and mask tuning.
	student, senc, err := graph.Prune(m, enc, keepPlan(keepH, keepN), graph.PruneOptions{KeepBias: true})
	if err != nil {
		return nil, fmt.Errorf("pruning: %w", err)
	}
	iters := kwonIterations(enc, senc, keepH, keepN)
	if !opts.NoTuning {
		t0 = time.Now()
		student, senc, err = k.tune(ctx, student, senc, teachH, teachN, iters, info)
		if err != nil {
			return nil, fmt.Errorf("mask tuning: %w", err)
		}
		info.TuneSeconds = time.Since(t0).Seconds()
	}
	k.fr.release()

	info.MACsAfter = KwonMACs(senc, seqLen)
	info.MACReduction = 1 - info.MACsAfter/info.MACsBefore
	rep := Report{
		Method: "kwon", RequestedReduction: opts.Reduction, SeqLen: seqLen, Iterations: iters, Unfused: unfused,
		Options: Options{Reduction: opts.Reduction, SeqLen: opts.SeqLen, Temperature: 1, KeepBias: true,
			NoTuning: opts.NoTuning, Runtime: Runtime{Threads: opts.Threads, Provider: opts.Provider}},
		Calibration: calibStats(stats, len(batches)),
	}
	rep.fill(cost, enc, senc, m, student)
	rep.TotalSeconds = time.Since(start).Seconds()
	rep.ORTSeconds = k.ortTime.Seconds()
	rep.PeakRSSBytes = peakRSS()
	return &Result{Model: student, Encoder: senc, Report: rep}, nil
}

// searchMasks is step 2: from the Fisher importance it searches the student's masks under
// c_keep = 1 - Reduction and the tuning teacher's under info.TeacherKeep, and fills info's
// MACsBefore, Keep, TeacherKeep and Importance.
func (k *kwonRun) searchMasks(cost Cost, opts KwonOptions, info *KwonInfo) (keepH, keepN, teachH, teachN [][]bool) {
	enc := k.enc
	headMAC, neuronMAC := kwonUnitMACs(cost)
	headImp, neuronImp := make([][]float64, len(enc.Layers)), make([][]float64, len(enc.Layers))
	for l := range enc.Layers {
		headImp[l] = fisher(k.grads[2*l])
		neuronImp[l] = fisher(k.grads[2*l+1])
	}
	info.MACsBefore = KwonMACs(enc, cost.SeqLen)
	info.Keep = 1 - opts.Reduction
	info.TeacherKeep = 1.0
	if !opts.OriginalTeacher {
		info.TeacherKeep = math.Sqrt(info.Keep)
	}
	keepH, keepN, imp := kwonSearch(headImp, neuronImp, headMAC, neuronMAC, info.Keep*info.MACsBefore)
	teachH, teachN, _ = kwonSearch(headImp, neuronImp, headMAC, neuronMAC, info.TeacherKeep*info.MACsBefore)
	info.Importance = imp
	return keepH, keepN, teachH, teachN
}

// rearrangeMasks is step 3: it rearranges the keep masks of every layer and unit type in place
// and adds the swaps and objectives to info.
func (k *kwonRun) rearrangeMasks(keepH, keepN [][]bool, info *KwonInfo) {
	for l := range k.enc.Layers {
		for _, u := range []struct {
			keep  []bool
			grads [][]float64
		}{{keepH[l], k.grads[2*l]}, {keepN[l], k.grads[2*l+1]}} {
			nk, before, after := rearrange(u.keep, u.grads)
			for i := range nk {
				if nk[i] != u.keep[i] {
					info.Swapped++
				}
			}
			copy(u.keep, nk)
			info.ObjectiveBefore += before
			info.ObjectiveAfter += after
		}
	}
}

// kwonIterations returns the report's iterations of the pruned student senc (of enc) before
// tuning: units and kept units per sublayer.
func kwonIterations(enc, senc *graph.Encoder, keepH, keepN [][]bool) []Iteration {
	iters := make([]Iteration, enc.NumSublayers())
	for s := range iters {
		w, g := unitWidth(enc, s)
		kept := keepN[s/2]
		if s%2 == 0 {
			kept = keepH[s/2]
		}
		iters[s] = Iteration{Sublayer: s, Layer: s / 2, Kind: kindName(s), Units: w / g, Kept: count(kept), Removed: outLinear(senc, s) == nil}
	}
	return iters
}

// KwonMACs returns the encoder MACs of Kwon et al.'s cost model at costing length seqLen: per
// head 3*s*D*d_h + 2*s^2*d_h + s*d_h*D, per neuron 2*s*D (kprune-spec section 5).
func KwonMACs(enc *graph.Encoder, seqLen float64) float64 {
	head, neuron := kwonUnitMACs(Cost{Hidden: enc.Hidden, HeadDim: enc.HeadDim, SeqLen: seqLen})
	h, n := Units(enc)
	var total float64
	for l := range h {
		total += float64(h[l])*head + float64(n[l])*neuron
	}
	return total
}

func kwonUnitMACs(c Cost) (head, neuron float64) {
	s, d, dh := c.SeqLen, float64(c.Hidden), float64(c.HeadDim)
	return 3*s*d*dh + 2*s*s*dh + s*dh*d, 2 * s * d
}

// kwonTargets turns the true labels (or scores) into the scoring graph's loss targets per batch:
// one-hot class probabilities for a classification head (with temperature 1 the KL to them is the
// cross-entropy), the scores themselves for a regression head (the loss is then the MSE).
func kwonTargets(enc *graph.Encoder, batches []data.Batch, labels [][]int, scores [][]float64) ([][]*ort.Tensor, error) {
	out := make([][]*ort.Tensor, len(batches))
	switch enc.Head {
	case graph.HeadClassification:
		if labels == nil {
			return nil, errors.New("Kwon et al. needs the true class labels of the calibration set (labels is nil): give a labelled calibration file")
		}
		if len(labels) != len(batches) {
			return nil, fmt.Errorf("Kwon et al.: labels for %d batches, but the calibration set has %d batches", len(labels), len(batches))
		}
		c := enc.NumLabels
		if c < 2 {
			return nil, fmt.Errorf("Kwon et al.: the classification head has %d outputs", c)
		}
		for i, b := range batches {
			if len(labels[i]) != b.Size {
				return nil, fmt.Errorf("Kwon et al.: batch %d has %d rows but %d labels", i, b.Size, len(labels[i]))
			}
			p := make([]float32, b.Size*c)
			for r, y := range labels[i] {
				if y < 0 {
					return nil, fmt.Errorf("Kwon et al.: row %d of calibration batch %d has no label (every calibration example needs its true class)", r, i)
				}
				if y >= c {
					return nil, fmt.Errorf("Kwon et al.: row %d of calibration batch %d has label %d, but the model has %d classes", r, i, y, c)
				}
				p[r*c+y] = 1
			}
			out[i] = []*ort.Tensor{ort.F32Tensor([]int64{int64(b.Size), int64(c)}, p)}
		}
	case graph.HeadRegression:
		if scores == nil {
			return nil, errors.New("Kwon et al. needs the true scores of the calibration set for a regression head (KwonOptions.Scores is nil): give a calibration file with scores")
		}
		if len(scores) != len(batches) {
			return nil, fmt.Errorf("Kwon et al.: scores for %d batches, but the calibration set has %d batches", len(scores), len(batches))
		}
		if enc.NumLabels != 1 {
			return nil, fmt.Errorf("Kwon et al.: the regression head has %d outputs, want 1", enc.NumLabels)
		}
		for i, b := range batches {
			if len(scores[i]) != b.Size {
				return nil, fmt.Errorf("Kwon et al.: batch %d has %d rows but %d scores", i, b.Size, len(scores[i]))
			}
			t := make([]float32, b.Size)
			for r, v := range scores[i] {
				if math.IsNaN(v) || math.IsInf(v, 0) {
					return nil, fmt.Errorf("Kwon et al.: row %d of calibration batch %d has no valid score (%v)", r, i, v)
				}
				t[r] = float32(v)
			}
			out[i] = []*ort.Tensor{ort.F32Tensor([]int64{int64(b.Size), 1}, t)}
		}
	default:
		return nil, fmt.Errorf("Kwon et al. is implemented for classification and regression heads (it needs a task loss on true labels); this model has a %s head", enc.Head)
	}
	return out, nil
}

// kwonRun is the working state of one Kwon run.
type kwonRun struct {
	m        *onnx.ModelProto
	enc      *graph.Encoder
	batches  []data.Batch
	targets  [][]*ort.Tensor
	fr       *frontier     // xs is the embeddings output after gradients; tune starts xt from it
	grads    [][][]float64 // [sublayer][unit][batch] d loss / d unit mask
	meanLoss float64
	ortOpts  ort.Options
	ortTime  time.Duration
	scaled   bool // a scale was folded in (info.ScaleMin and ScaleMax are set)
}

// gradients runs the embeddings and the scoring graph at sublayer 0 over the calibration set and
// keeps every batch's per-unit mask gradients.
func (k *kwonRun) gradients(ctx context.Context) error {
	enc := k.enc
	emb, err := graph.Extract(k.m, nil, []string{enc.SublayerInput(0)})
	if err != nil {
		return fmt.Errorf("extracting the embeddings: %w", err)
	}
	es, err := newSession(emb, k.ortOpts, &k.ortTime)
	if err != nil {
		return fmt.Errorf("embeddings session: %w", err)
	}
	defer es.close()
	sc, err := autodiff.BuildScoring(k.m, enc, 0, autodiff.ScoringOptions{Temperature: 1})
	if err != nil {
		return fmt.Errorf("building the gradient graph: %w", err)
	}
	scs, err := newSession(sc.Model, k.ortOpts, &k.ortTime)
	if err != nil {
		return fmt.Errorf("gradient session: %w", err)
	}
	defer scs.close()
	n := len(k.batches)
	k.grads = make([][][]float64, enc.NumSublayers())
	for s := range k.grads {
		w, g := unitWidth(enc, s)
		if outLinear(enc, s) == nil {
			continue
		}
		k.grads[s] = make([][]float64, w/g)
		for u := range k.grads[s] {
			k.grads[s][u] = make([]float64, n)
		}
	}
	ones := allOnes(sc.Widths)
	var loss float64
	for i := range k.batches {
		if err := ctx.Err(); err != nil {
			return err
		}
		b := &k.batches[i]
		k.fr.inputs[i] = modelInputs(enc, b)
		eo, err := es.run(ctx, k.fr.inputs[i])
		if err != nil {
			return fmt.Errorf("embeddings, batch %d: %w", i, err)
		}
		k.fr.xs[i] = eo[enc.SublayerInput(0)].F32
		in := k.fr.feed(i)
		in[sc.Hidden] = ort.F32Tensor(k.fr.hiddenShape(i), k.fr.xs[i])
		for s, name := range sc.Masks {
			in[name] = ones[s]
		}
		for t, name := range sc.Targets {
			in[name] = k.targets[i][t]
		}
		out, err := scs.run(ctx, in)
		if err != nil {
			return fmt.Errorf("gradient graph, batch %d: %w", i, err)
		}
		loss += float64(out[sc.Loss].F32[0])
		for s, name := range sc.Grads {
			g := out[name].F32
			_, group := unitWidth(enc, s)
			if len(g) != len(k.grads[s])*group {
				return fmt.Errorf("gradient graph, batch %d: sublayer %d has %d gradients, want %d", i, s, len(g), len(k.grads[s])*group)
			}
			for u := range k.grads[s] {
				var sum float64
				for _, v := range g[u*group : (u+1)*group] {
					sum += float64(v)
				}
				k.grads[s][u][i] = sum
			}
		}
		k.fr.report(PhaseGradients, -1, i)
	}
	k.meanLoss = loss / float64(n)
	return nil
}

// fisher returns the importance sum_b g_b^2 of every unit from its per-batch gradients.
func fisher(grads [][]float64) []float64 {
	out := make([]float64, len(grads))
	for u, g := range grads {
		for _, v := range g {
			out[u] += v * v
		}
	}
	return out
}

func count(keep []bool) int {
	n := 0
	for _, k := range keep {
		if k {
			n++
		}
	}
	return n
}

// kwonSearch is the mask search of Kwon et al.: heads (headImp[l][h]) and neurons (neuronImp[l][n])
// are ranked separately by importance; for every number of kept heads h >= 1 whose MACs fit the
// budget, the remaining budget keeps the floor((budget - h*headMAC) / neuronMAC) best neurons, and
// the split with the largest total importance is returned with that importance.
//
// Unlike the reference, a head count whose MACs alone exceed the budget is not considered (the
// reference then keeps zero neurons and exceeds the budget). If not even one head fits, no head
// is kept and the budget goes to neurons. Ties in importance rank the lower layer and index first.
func kwonSearch(headImp, neuronImp [][]float64, headMAC, neuronMAC, budget float64) (keepH, keepN [][]bool, best float64) {
	type unit struct {
		l, i int
		v    float64
	}
	rank := func(imp [][]float64) ([]unit, [][]bool) {
		var us []unit
		keep := make([][]bool, len(imp))
		for l, row := range imp {
			keep[l] = make([]bool, len(row))
			for i, v := range row {
				us = append(us, unit{l, i, v})
			}
		}
		sort.SliceStable(us, func(a, b int) bool { return us[a].v > us[b].v })
		return us, keep
	}
	heads, keepH := rank(headImp)
	neurons, keepN := rank(neuronImp)
	prefix := func(us []unit) []float64 {
		p := make([]float64, len(us)+1)
		for i, u := range us {
			p[i+1] = p[i] + u.v
		}
		return p
	}
	ph, pn := prefix(heads), prefix(neurons)
	fill := func(rest float64) int {
		if rest <= 0 || neuronMAC <= 0 {
			return 0
		}
		// The tiny slack keeps a budget of exactly n neurons from rounding down to n-1.
		return min(int(math.Floor(rest/neuronMAC+1e-9)), len(neurons))
	}
	bestH, bestN := 0, fill(budget)
	best = math.Inf(-1)
	if len(heads) == 0 || headMAC > budget {
		best = pn[bestN]
	}
	for nh := 1; nh <= len(heads); nh++ {
		rest := budget - float64(nh)*headMAC
		if rest < 0 {
			break
		}
		nn := fill(rest)
		if v := ph[nh] + pn[nn]; v > best {
			best, bestH, bestN = v, nh, nn
		}
	}
	for _, u := range heads[:bestH] {
		keepH[u.l][u.i] = true
	}
	for _, u := range neurons[:bestN] {
		keepN[u.l][u.i] = true
	}
	return keepH, keepN, best
}

// rearrange is the greedy mask rearrangement of Kwon et al. for the units of one layer and type:
// grads[u] is unit u's per-batch gradient vector. Keeping the number of pruned units p, it starts
// from the p units of smallest sum_b g^2 and, for every other unit in ascending order, adds it to
// the pruned set and drops the member whose removal leaves the smallest squared norm of the summed
// gradient vectors. It returns the new keep mask and that objective before and after. Each step
// can drop the unit it just added, so the objective never increases.
func rearrange(keep []bool, grads [][]float64) ([]bool, float64, float64) {
	out := append([]bool(nil), keep...)
	pruned := len(keep) - count(keep)
	if pruned == 0 || pruned == len(keep) {
		obj := objective(out, grads)
		return out, obj, obj
	}
	sq := fisher(grads)
	order := make([]int, len(keep))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return sq[order[a]] < sq[order[b]] })
	set := append([]int(nil), order[:pruned]...)
	nb := len(grads[0])
	sum := make([]float64, nb)
	for _, u := range set {
		for b, v := range grads[u] {
			sum[b] += v
		}
	}
	before := dot(sum, sum)
	for _, add := range order[pruned:] {
		set = append(set, add)
		for b, v := range grads[add] {
			sum[b] += v
		}
		bestK, bestV := 0, math.Inf(1)
		for k, u := range set {
			var v float64
			for b, g := range grads[u] {
				d := sum[b] - g
				v += d * d
			}
			if v < bestV {
				bestK, bestV = k, v
			}
		}
		for b, v := range grads[set[bestK]] {
			sum[b] -= v
		}
		set = append(set[:bestK], set[bestK+1:]...)
	}
	for i := range out {
		out[i] = true
	}
	for _, u := range set {
		out[u] = false
	}
	return out, before, objective(out, grads)
}

// objective is the squared norm of the summed gradient vectors of the pruned units.
func objective(keep []bool, grads [][]float64) float64 {
	if len(grads) == 0 {
		return 0
	}
	sum := make([]float64, len(grads[0]))
	for u, k := range keep {
		if !k {
			for b, v := range grads[u] {
				sum[b] += v
			}
		}
	}
	return dot(sum, sum)
}

func dot(a, b []float64) float64 {
	var s float64
	for i := range a {
		s += a[i] * b[i]
	}
	return s
}

// keepPlan turns keep masks into a graph.Plan (a layer keeping nothing gets an empty, non-nil list).
func keepPlan(keepH, keepN [][]bool) graph.Plan {
	idx := func(keep []bool) []int {
		out := []int{}
		for i, k := range keep {
			if k {
				out = append(out, i)
			}
		}
		return out
	}
	p := graph.Plan{Heads: make([][]int, len(keepH)), Neurons: make([][]int, len(keepN))}
	for l := range keepH {
		if len(keepH[l]) > 0 {
			p.Heads[l] = idx(keepH[l])
		}
		if len(keepN[l]) > 0 {
			p.Neurons[l] = idx(keepN[l])
		}
	}
	return p
}
