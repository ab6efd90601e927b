package autodiff

import (
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/kprune/kprune/graph"
	"github.com/kprune/kprune/graph/infer"
	"github.com/kprune/kprune/onnx"
)

// DefaultTemperature is the distillation temperature K-prune uses (T = 2).
const DefaultTemperature = 2.0

// Names of the graph inputs and outputs AddLoss creates.
const (
	// LossName is the loss output: a float tensor of shape [1]. (onnxruntime's Go binding cannot
	// return 0-D tensors, so the loss is a 1-element vector rather than a scalar.)
	LossName = "kprune_loss"
	// TargetProbs is the teacher's class probabilities softmax(z_T / T), [batch, labels].
	TargetProbs = "kprune_teacher_probs"
	// TargetStartProbs and TargetEndProbs are the teacher's span probabilities over positions,
	// [batch, seq], zero at padding (see MaskedSoftmaxTargets).
	TargetStartProbs = "kprune_teacher_start_probs"
	TargetEndProbs   = "kprune_teacher_end_probs"
	// TargetTokenProbs is the teacher's per-token label probabilities, [batch, seq, labels].
	TargetTokenProbs = "kprune_teacher_token_probs"
	// TargetValues is the teacher's regression output, [batch, outputs].
	TargetValues = "kprune_teacher_values"
	// TargetEmbedding is the teacher's mean-pooled last hidden state, [batch, hidden]
	// (see MeanPool).
	TargetEmbedding = "kprune_teacher_embedding"
)

// maskedLogit is the logit given to padded positions of span heads: exp of it underflows to an
// exact zero in float32 and float64.
const maskedLogit = -1e9

// LossOptions configure AddLoss.
type LossOptions struct {
	// Temperature T of the distillation KL (0 selects DefaultTemperature). Regression and
	// embedding losses do not use it.
	Temperature float64
	// Pooling is how a model without a head (hidden states only) turns the last hidden state
	// into the embedding the loss compares: PoolMean ("" too) or PoolCLS, followed by NormSuffix
	// when the embedding is L2-normalised (see ParsePooling).
	Pooling string
}

// Poolings of the last hidden state for models without a head (LossOptions.Pooling).
const (
	// PoolMean averages the non-padding tokens (sentence-transformers' default).
	PoolMean = "mean"
	// PoolCLS takes the first token ([CLS] or <s>), as BGE/E5-style models do.
	PoolCLS = "cls"
	// NormSuffix after a pooling ("mean+norm", "cls+norm") L2-normalises the pooled embedding,
	// x / max(||x||, 1e-12), as sentence-transformers' Normalize module does; the squared
	// distance of normalised embeddings is 2 - 2 cos.
	NormSuffix = "+norm"
)

// ParsePooling splits a pooling into its base (PoolMean for "", or PoolCLS) and whether it is
// normalised (NormSuffix), or returns an error for an unknown pooling.
func ParsePooling(p string) (base string, normalize bool, err error) {
	base, normalize = strings.CutSuffix(p, NormSuffix)
	switch base {
	case "", PoolMean:
		return PoolMean, normalize, nil
	case PoolCLS:
		return PoolCLS, normalize, nil
	}
	return "", false, fmt.Errorf("unknown pooling %q (want mean or cls, optionally followed by %s)", p, NormSuffix)
}

// CheckPooling validates a pooling name (see ParsePooling).
func CheckPooling(p string) error {
	_, _, err := ParsePooling(p)
	return err
}

// Loss names what AddLoss added to a model.
type Loss struct {
	// Name is the loss tensor, shape [1], a graph output.
	Name string
	// Targets are the graph inputs holding the teacher's targets, in the order the head's
	// outputs come (enc.Outputs): one for classification, regression, token and none heads; start
	// then end for span heads. They have the element type of the model's outputs.
	Targets []string
	// Kind is the head kind the loss was built for.
	Kind graph.HeadKind
	// Temperature is the temperature used (1 for regression and none).
	Temperature float64
}

// AddLoss returns a copy of m (m is not modified) with K-prune's per-batch distillation loss
// appended as output Loss.Name, computed from the student's head outputs enc.Outputs and teacher
// targets given as new graph inputs:
//
//   - classification: T^2 * (1/B) * sum_i KL(p_i || softmax(z_i / T)), p_i the teacher's
//     probabilities softmax(z_T,i / T) (input TargetProbs [batch, labels]; see SoftmaxTargets).
//   - span: the same KL over sequence positions, for start and end logits separately, averaged:
//     T^2 * (1/B) * sum_i (KL_start,i + KL_end,i) / 2. Padded positions (attention_mask 0) are
//     excluded on both sides: the student's logits there are replaced by -1e9 before the softmax
//     and the teacher targets must be zero there (MaskedSoftmaxTargets does both).
//   - token: the KL over labels per token, T^2 times its mean over non-padding tokens
//     (an extension; the spec does not cover token classification).
//   - regression: (1/B) * sum_i mean_k (z_ik - t_ik)^2, the per-example mean squared error to
//     the teacher's outputs (input TargetValues [batch, outputs]), no temperature. (The reference
//     implementation broadcasts [B,1] against [B] here; this is the intended loss.)
//   - embedding (a sentence embedding pooled in the graph, enc.Outputs[0] [batch, hidden]):
//     (1/B) * sum_i ||e_i - t_i||^2 on the graph's own embedding, input TargetEmbedding [batch,
//     hidden] (the teacher's embedding as is). For L2-normalised embeddings this is 2 - 2 cos,
//     the cosine distance the embedding's users rank by.
//   - none (embedding models): (1/B) * sum_i ||e_i - t_i||^2, the squared L2 distance between the
//     student's and the teacher's pooled embeddings (mean pooling, or the first token with
//     Pooling PoolCLS), pooled over non-padding tokens of the last
//     hidden state (enc.Outputs[0]); input TargetEmbedding [batch, hidden] (see MeanPool). The
//     squared distance keeps the gradient smooth and scale-aware (it sees norm changes a cosine
//     distance ignores) and reduces to MSE times the hidden width.
//
// The KL terms include the teacher's entropy, so the loss is the exact KL (zero when the student
// equals the teacher) and not just the cross-entropy.
func AddLoss(m *onnx.ModelProto, enc *graph.Encoder, opts LossOptions) (*onnx.ModelProto, Loss, error) {
	if m == nil || m.GetGraph() == nil {
		return nil, Loss{}, errors.New("add loss: nil model or graph")
	}
	if enc == nil {
		return nil, Loss{}, errors.New("add loss: nil encoder")
	}
	T := opts.Temperature
	if T == 0 {
		T = DefaultTemperature
	}
	if T < 0 || math.IsNaN(T) || math.IsInf(T, 0) {
		return nil, Loss{}, fmt.Errorf("add loss: temperature %g is not a positive number", T)
	}
	out := shallowClone(m)
	b, err := newBuilder(out)
	if err != nil {
		return nil, Loss{}, fmt.Errorf("add loss: %w", err)
	}
	l := Loss{Kind: enc.Head, Temperature: T}
	if err := b.ensureMask(enc); err != nil {
		return nil, Loss{}, fmt.Errorf("add loss: %w", err)
	}
	for _, o := range enc.Outputs {
		if _, ok := b.info[o]; !ok {
			return nil, Loss{}, fmt.Errorf("add loss: head output %q is not in the graph", o)
		}
	}
	loss, targets, err := b.headLoss(enc, T, opts.Pooling)
	if err != nil {
		return nil, Loss{}, fmt.Errorf("add loss: %w", err)
	}
	l.Targets = targets
	switch enc.Head {
	case graph.HeadRegression, graph.HeadNone, graph.HeadEmbedding:
		l.Temperature = 1 // squared errors, no temperature
	}
	// Give the loss the shape [1] whatever the reductions left.
	name := b.unique(LossName)
	b.emitTo("Reshape", []string{loss, b.constI(1)}, []string{name})
	l.Name = name
	b.info[name] = infoVec1(b.elemOf(enc.Outputs[0]))
	b.addOutput(name)
	if err := b.finish(); err != nil {
		return nil, Loss{}, fmt.Errorf("add loss: %w", err)
	}
	return out, l, nil
}

// headLoss emits the loss of enc's head kind at temperature T (pooling: see LossOptions) and
// returns it with the target inputs it reads.
func (b *builder) headLoss(enc *graph.Encoder, T float64, pooling string) (string, []string, error) {
	k := 1
	if enc.Head == graph.HeadSpan {
		k = 2
	}
	switch enc.Head {
	case graph.HeadClassification, graph.HeadSpan, graph.HeadToken, graph.HeadRegression, graph.HeadNone, graph.HeadEmbedding:
		if len(enc.Outputs) < k {
			return "", nil, fmt.Errorf("a %s head needs %d outputs, the encoder names %d", enc.Head, k, len(enc.Outputs))
		}
	}
	switch enc.Head {
	case graph.HeadClassification:
		return b.classificationLoss(enc.Outputs[0], T)
	case graph.HeadSpan:
		return b.spanLoss(enc.Outputs[0], enc.Outputs[1], enc.AttentionMask, T)
	case graph.HeadToken:
		return b.tokenLoss(enc.Outputs[0], enc.AttentionMask, T)
	case graph.HeadRegression:
		return b.regressionLoss(enc.Outputs[0])
	case graph.HeadNone:
		return b.hiddenStateLoss(enc.Outputs[0], enc.AttentionMask, pooling)
	case graph.HeadEmbedding:
		return b.embeddingLoss(enc.Outputs[0])
	}
	return "", nil, fmt.Errorf("unknown head kind %q", enc.Head)
}

// classificationLoss is T² times the batch mean of KL(p || softmax(z/T)) for logits z [batch,
// labels] and teacher probabilities p.
func (b *builder) classificationLoss(z string, T float64) (string, []string, error) {
	if r := b.info[z].Rank; r != 2 {
		return "", nil, fmt.Errorf("classification logits %q have rank %d, want 2 ([batch, labels])", z, r)
	}
	p := b.target(TargetProbs, z)
	kl := b.klRows(z, p, T, "")
	return b.mul(b.reduceMean(kl, []int{0}, true), b.constF(b.elemOf(z), T*T)), []string{p}, nil
}

// spanLoss is T²/2 times the batch mean of the start and end logits' KLs over the (unmasked)
// sequence positions.
func (b *builder) spanLoss(start, end, mask string, T float64) (string, []string, error) {
	var kls, targets []string
	for k, name := range []string{TargetStartProbs, TargetEndProbs} {
		z := []string{start, end}[k]
		if r := b.info[z].Rank; r != 2 {
			return "", nil, fmt.Errorf("span logits %q have rank %d, want 2 ([batch, seq])", z, r)
		}
		p := b.target(name, z)
		targets = append(targets, p)
		kls = append(kls, b.klRows(z, p, T, mask))
	}
	sum := b.add(kls[0], kls[1])
	return b.mul(b.reduceMean(sum, []int{0}, true), b.constF(b.elemOf(start), T*T/2)), targets, nil
}

// tokenLoss is T² times the mean per-token KL over the non-padding tokens (all tokens without
// an attention mask).
func (b *builder) tokenLoss(z, mask string, T float64) (string, []string, error) {
	if r := b.info[z].Rank; r != 3 {
		return "", nil, fmt.Errorf("token logits %q have rank %d, want 3 ([batch, seq, labels])", z, r)
	}
	elem := b.elemOf(z)
	p := b.target(TargetTokenProbs, z)
	kl := b.klRows(z, p, T, "") // [batch, seq]
	if mask == "" {
		return b.mul(b.reduceMean(kl, []int{0, 1}, false), b.constF(elem, T*T)), []string{p}, nil
	}
	mk := b.op("Cast", []string{mask}, onnx.AttrInt("to", int64(elem)))
	num := b.reduceSum(b.mul(kl, mk), []int{0, 1}, false)
	den := b.op("Max", []string{b.reduceSum(mk, []int{0, 1}, false), b.constF(elem, 1)})
	return b.mul(b.div(num, den), b.constF(elem, T*T)), []string{p}, nil
}

// regressionLoss is the mean squared error of output z against the teacher's values.
func (b *builder) regressionLoss(z string) (string, []string, error) {
	zi := b.info[z]
	if zi.Rank < 1 {
		return "", nil, fmt.Errorf("regression output %q has unknown rank or is a scalar", z)
	}
	t := b.target(TargetValues, z)
	d := b.sub(z, t)
	axes := make([]int, zi.Rank)
	for k := range axes {
		axes[k] = k
	}
	return b.reduceMean(b.mul(d, d), axes, false), []string{t}, nil
}

// hiddenStateLoss is the batch mean of the squared distance between the embedding pooled from
// the last hidden state h (mean over the non-padding tokens, or the first token) and the
// teacher's.
func (b *builder) hiddenStateLoss(h, mask, pooling string) (string, []string, error) {
	if r := b.info[h].Rank; r != 3 {
		return "", nil, fmt.Errorf("last hidden state %q has rank %d, want 3 ([batch, seq, hidden])", h, r)
	}
	base, normalize, err := ParsePooling(pooling)
	if err != nil {
		return "", nil, err
	}
	var pooled string
	if base == PoolCLS {
		// Slice the first token ([batch, 1, D]) and drop the axis.
		first := b.op("Slice", []string{h, b.constI(0), b.constI(1), b.constI(1)})
		pooled = b.reduceMean(first, []int{1}, false)
	} else {
		pooled = b.meanPool(h, mask)
	}
	if normalize {
		norm := b.op("Sqrt", []string{b.reduceSum(b.mul(pooled, pooled), []int{1}, true)})
		pooled = b.div(pooled, b.op("Max", []string{norm, b.constF(b.elemOf(h), 1e-12)}))
	}
	t := b.targetShaped(TargetEmbedding, h, []int{0, 2})
	d := b.sub(pooled, t)
	return b.reduceMean(b.reduceSum(b.mul(d, d), []int{1}, false), []int{0}, true), []string{t}, nil
}

// embeddingLoss is the batch mean of the squared distance between the sentence embedding e
// [batch, hidden] and the teacher's.
func (b *builder) embeddingLoss(e string) (string, []string, error) {
	if r := b.info[e].Rank; r != 2 {
		return "", nil, fmt.Errorf("sentence embedding %q has rank %d, want 2 ([batch, hidden])", e, r)
	}
	t := b.target(TargetEmbedding, e)
	d := b.sub(e, t)
	return b.reduceMean(b.reduceSum(b.mul(d, d), []int{1}, false), []int{0}, true), []string{t}, nil
}

// target declares a graph input named name (made unique) shaped like tensor like.
func (b *builder) target(name, like string) string {
	li := b.info[like]
	return b.targetShaped(name, like, seq(li.Rank))
}

func seq(n int) []int {
	out := make([]int, max(n, 0))
	for k := range out {
		out[k] = k
	}
	return out
}

// targetShaped declares a graph input shaped like the given axes of tensor like.
func (b *builder) targetShaped(name, like string, axes []int) string {
	li := b.info[like]
	n := b.unique(name)
	dims := li.DimList()
	sel := make([]infer.SymInt, 0, len(axes))
	for _, a := range axes {
		if a < len(dims) {
			sel = append(sel, dims[a])
		}
	}
	in := infer.FromDims(li.Elem, sel)
	b.g.Input = append(b.g.Input, valueInfo(n, in))
	b.info[n] = in
	return n
}

// klRows returns, per row of z (softmax over the last axis), KL(p || softmax(z/T)) with the
// rank of z minus one. When mask names an attention mask, positions where it is 0 are excluded
// (z is [batch, seq] there).
func (b *builder) klRows(z, p string, T float64, mask string) string {
	elem := b.elemOf(z)
	r := b.info[z].Rank
	zt := b.mul(z, b.constF(elem, 1/T))
	if mask != "" {
		keep := b.op("Cast", []string{mask}, onnx.AttrInt("to", int64(onnx.TensorProto_BOOL)))
		zt = b.op("Where", []string{keep, zt, b.constF(elem, maskedLogit)})
	}
	lq := b.op("LogSoftmax", []string{zt}, onnx.AttrInt("axis", int64(r-1)))
	zero := b.constF(elem, 0)
	plogp := b.op("Where", []string{b.op("Greater", []string{p, zero}), b.mul(p, b.op("Log", []string{p})), zero})
	return b.reduceSum(b.sub(plogp, b.mul(p, lq)), []int{r - 1}, false)
}

// meanPool averages h [batch, seq, hidden] over the non-padding tokens of mask (all tokens when
// mask is ""), dividing by max(count, 1e-9) as MeanPool does.
func (b *builder) meanPool(h, mask string) string {
	elem := b.elemOf(h)
	if mask == "" {
		return b.reduceMean(h, []int{1}, false)
	}
	mk := b.unsqueeze(b.op("Cast", []string{mask}, onnx.AttrInt("to", int64(elem))), []int{2})
	sum := b.reduceSum(b.mul(h, mk), []int{1}, false)
	cnt := b.op("Max", []string{b.reduceSum(mk, []int{1}, false), b.constF(elem, 1e-9)})
	return b.div(sum, cnt)
}

// Float is the element type of the pure-Go target helpers.
type Float interface{ ~float32 | ~float64 }

// SoftmaxTargets returns softmax(logits / T) of each row of a row-major [rows, cols] matrix,
// computed in float64: the teacher probabilities of classification (and, per token, token)
// losses. T = 0 selects DefaultTemperature.
func SoftmaxTargets[F Float](logits []F, rows, cols int, T float64) ([]F, error) {
	return MaskedSoftmaxTargets(logits, nil, rows, cols, T)
}

// MaskedSoftmaxTargets is SoftmaxTargets where mask (row-major [rows, cols], nil for none) marks
// the entries that take part: entries with mask 0 get probability 0 and do not count in the
// normalisation. It gives span heads' teacher targets from [batch, seq] logits and the
// attention mask. A row with no entry gets all zeros.
func MaskedSoftmaxTargets[F Float](logits []F, mask []int64, rows, cols int, T float64) ([]F, error) {
	if T == 0 {
		T = DefaultTemperature
	}
	if T < 0 {
		return nil, fmt.Errorf("softmax targets: temperature %g is negative", T)
	}
	if rows < 0 || cols < 0 || len(logits) != rows*cols {
		return nil, fmt.Errorf("softmax targets: %d logits for %d x %d", len(logits), rows, cols)
	}
	if mask != nil && len(mask) != len(logits) {
		return nil, fmt.Errorf("softmax targets: mask has %d entries, want %d", len(mask), len(logits))
	}
	out := make([]F, len(logits))
	for i := 0; i < rows; i++ {
		row := logits[i*cols : (i+1)*cols]
		mx := math.Inf(-1)
		for j, v := range row {
			if mask == nil || mask[i*cols+j] != 0 {
				mx = math.Max(mx, float64(v)/T)
			}
		}
		if math.IsInf(mx, -1) {
			continue
		}
		sum := 0.0
		e := make([]float64, cols)
		for j, v := range row {
			if mask == nil || mask[i*cols+j] != 0 {
				e[j] = math.Exp(float64(v)/T - mx)
				sum += e[j]
			}
		}
		for j := range row {
			out[i*cols+j] = F(e[j] / sum)
		}
	}
	return out, nil
}

// MeanPool averages a row-major [batch, seq, dim] hidden state over the tokens whose mask
// ([batch, seq], nil for all) is non-zero, dividing by max(count, 1e-9): the teacher embedding
// target of the embedding-model loss.
func MeanPool[F Float](hidden []F, mask []int64, batch, seq, dim int) ([]F, error) {
	if batch < 0 || seq < 0 || dim < 0 || len(hidden) != batch*seq*dim {
		return nil, fmt.Errorf("mean pool: %d values for %d x %d x %d", len(hidden), batch, seq, dim)
	}
	if mask != nil && len(mask) != batch*seq {
		return nil, fmt.Errorf("mean pool: mask has %d entries, want %d", len(mask), batch*seq)
	}
	out := make([]F, batch*dim)
	acc := make([]float64, dim)
	for i := 0; i < batch; i++ {
		clear(acc)
		cnt := 0.0
		for t := 0; t < seq; t++ {
			if mask != nil && mask[i*seq+t] == 0 {
				continue
			}
			cnt++
			for d, v := range hidden[(i*seq+t)*dim : (i*seq+t+1)*dim] {
				acc[d] += float64(v)
			}
		}
		for d := range acc {
			out[i*dim+d] = F(acc[d] / math.Max(cnt, 1e-9))
		}
	}
	return out, nil
}

// Pool pools a row-major [batch, seq, dim] hidden state as LossOptions.Pooling says: the
// masked mean (PoolMean or "", see MeanPool) or the first token of each row (PoolCLS), then
// L2-normalised with NormSuffix (see Normalize).
func Pool[F Float](hidden []F, mask []int64, batch, seq, dim int, pooling string) ([]F, error) {
	base, normalize, err := ParsePooling(pooling)
	if err != nil {
		return nil, err
	}
	var out []F
	if base == PoolCLS {
		if batch < 0 || seq < 1 || dim < 0 || len(hidden) != batch*seq*dim {
			return nil, fmt.Errorf("cls pool: %d values for %d x %d x %d", len(hidden), batch, seq, dim)
		}
		out = make([]F, 0, batch*dim)
		for i := 0; i < batch; i++ {
			out = append(out, hidden[i*seq*dim:i*seq*dim+dim]...)
		}
	} else if out, err = MeanPool(hidden, mask, batch, seq, dim); err != nil {
		return nil, err
	}
	if normalize {
		Normalize(out, dim)
	}
	return out, nil
}

// Normalize divides each row of a row-major [rows, dim] matrix by max(its L2 norm, 1e-12), in
// place, as sentence-transformers' Normalize module (torch's F.normalize) does.
func Normalize[F Float](rows []F, dim int) {
	if dim <= 0 {
		return
	}
	for r := 0; r+dim <= len(rows); r += dim {
		var s float64
		for _, v := range rows[r : r+dim] {
			s += float64(v) * float64(v)
		}
		n := max(math.Sqrt(s), 1e-12)
		for k := r; k < r+dim; k++ {
			rows[k] = F(float64(rows[k]) / n)
		}
	}
}

// infoVec1 is the info of a [1] tensor.
func infoVec1(elem onnx.TensorProto_DataType) infer.Info {
	return infer.FromDims(elem, []infer.SymInt{{Known: true, V: 1}})
}

// ensureMask declares the attention mask as a graph input when the loss needs it and the graph
// (typically one cut above the last attention sublayer) no longer reads it. Its shape is
// [batch, seq] taken from the head output.
func (b *builder) ensureMask(enc *graph.Encoder) error {
	if enc.AttentionMask == "" || enc.Head == graph.HeadClassification || enc.Head == graph.HeadRegression || enc.Head == graph.HeadEmbedding {
		return nil
	}
	if _, ok := b.info[enc.AttentionMask]; ok {
		return nil
	}
	if len(enc.Outputs) == 0 {
		return nil
	}
	oi := b.info[enc.Outputs[0]]
	if oi.Rank < 2 {
		return fmt.Errorf("head output %q has rank %d, want at least 2 ([batch, seq, ...])", enc.Outputs[0], oi.Rank)
	}
	in := infer.FromDims(onnx.TensorProto_INT64, oi.DimList()[:2])
	b.g.Input = append(b.g.Input, valueInfo(enc.AttentionMask, in))
	b.info[enc.AttentionMask] = in
	b.used[enc.AttentionMask] = true
	return nil
}
