package prune

import (
	"context"
	"fmt"
	"strings"

	"github.com/kprune/kprune/data"
	"github.com/kprune/kprune/onnx"
)

// Runtime holds the onnxruntime knobs that every pruning method shares. It is embedded in
// [Options] and [KwonOptions], so its fields read as theirs (opts.Threads) and keep their JSON
// names in the run report.
type Runtime struct {
	// MicroBatch, when > 0, runs the scoring graph on at most MicroBatch sequences at a time and
	// combines the runs' results (the batch's mask gradient is the row-weighted sum of the
	// micro-batch gradients), so that the memory of the backward pass shrinks with the rows per
	// run. 0 chooses per batch from an estimate of the activations: as many rows as fit about
	// 1 GB (128 MB with LowMemory), so small models run whole batches.
	//
	// The combination is exact in arithmetic but not bit for bit: onnxruntime sums the gradients,
	// squared activations and Gram matrices over a run's rows in float32, so other groupings
	// round differently. The knowledge measured agrees to about 1e-6 relative and the kept units
	// are the same unless two scores are that close; the least-squares tuning amplifies the
	// rounding, and tuned weights differ by a few 1e-4 of the tensor's largest weight (measured
	// on the demo model: up to 6.3e-4 between whole batches and 1, 4 or 5 rows per run; the test
	// allows 2e-3).
	// Bit-identical results would need the row sums in float64 outside onnxruntime.
	// K-prune only.
	MicroBatch int
	// LowMemory runs onnxruntime without its memory arena (see runtime.Options.NoArena): the
	// scoring graph's backward pass then holds only live tensors, at some cost in speed. Unless
	// MicroBatch is set, it also runs the scoring graph on as many rows at a time as keep its
	// estimated activations under 128 MB (results as with MicroBatch: equal up to float32
	// rounding), and it collects Go garbage after every batch. K-prune only.
	LowMemory bool
	// Threads is onnxruntime's intra-op thread count (0 = onnxruntime's default); Provider is the
	// execution provider ("cpu" or "cuda").
	Threads  int
	Provider string
}

// Calibration is the data a pruning method reads: the calibration batches and, for methods
// that need them (Kwon et al.), the true targets of their rows.
type Calibration struct {
	Batches []data.Batch
	// Labels are the class labels of a classification head, per batch and row; Scores the
	// targets of a regression head. Only methods whose NeedsTargets is true read them.
	Labels [][]int
	Scores [][]float64
}

// Budget is what a pruning run must reach.
type Budget struct {
	// Reduction is the fraction of encoder FLOPs to remove, in [0, 1).
	Reduction float64
	// SeqLen is the costing sequence length of the FLOPs model; 0 means the calibration set's
	// average length.
	SeqLen float64
}

// Method is a pruning method: K-prune ([KPruneMethod]), Kwon et al. ([KwonMethod]) or
// magnitude pruning ([MagnitudeMethod]). Every method takes the same inputs and returns the same
// result, so that callers (the CLI, package compare) can swap them by name.
type Method interface {
	// Name is the method's name as [NewMethod] takes it: "kprune", "kwon" or "magnitude".
	Name() string
	// Prune prunes m (which is not modified) to the budget using the calibration data;
	// progress, when not nil, receives the method's position (magnitude pruning reports none).
	Prune(ctx context.Context, m *onnx.ModelProto, calib Calibration, budget Budget, progress func(Progress)) (*Result, error)
}

// MethodNames are the names [NewMethod] accepts, in their canonical order.
var MethodNames = []string{"kprune", "kwon", "magnitude"}

// CheckMethod returns an error when name is not one of [MethodNames].
func CheckMethod(name string) error {
	for _, m := range MethodNames {
		if m == name {
			return nil
		}
	}
	return fmt.Errorf("unknown pruning method %q (want one of %s)", name, strings.Join(MethodNames, ", "))
}

// NewMethod returns the method called name ("kprune", "kwon" or "magnitude"; "" is kprune) with
// its default options.
func NewMethod(name string) (Method, error) {
	return MethodWith(name, DefaultOptions())
}

// MethodWith returns the method called name ("" is kprune) configured from K-prune options:
// K-prune takes opts as they are; Kwon et al. takes their Runtime; magnitude pruning their
// KeepBias. The budget (Reduction, SeqLen) is given to Prune.
func MethodWith(name string, opts Options) (Method, error) {
	switch name {
	case "kprune", "":
		return KPruneMethod{Options: opts}, nil
	case "kwon":
		return KwonMethod{KwonOptions: KwonOptions{Runtime: Runtime{Threads: opts.Threads, Provider: opts.Provider}}}, nil
	case "magnitude":
		return MagnitudeMethod{MagnitudeOptions: MagnitudeOptions{KeepBias: opts.KeepBias}}, nil
	}
	return nil, CheckMethod(name)
}

// NeedsTargets tells whether method m reads the true targets of the calibration rows
// (Calibration.Labels or Scores): true for Kwon et al.
func NeedsTargets(m Method) bool {
	t, ok := m.(interface{ NeedsTargets() bool })
	return ok && t.NeedsTargets()
}

// KPruneMethod is K-prune (Park et al., ICLR 2024) with its options; Prune sets their Reduction
// and SeqLen from the budget.
type KPruneMethod struct {
	Options
}

// Name returns "kprune".
func (KPruneMethod) Name() string { return "kprune" }

// Prune runs [KPrune].
func (k KPruneMethod) Prune(ctx context.Context, m *onnx.ModelProto, calib Calibration, budget Budget, progress func(Progress)) (*Result, error) {
	opts := k.Options
	opts.Reduction, opts.SeqLen = budget.Reduction, budget.SeqLen
	return KPrune(ctx, m, calib.Batches, opts, progress)
}

// KwonMethod is the method of Kwon et al. (NeurIPS 2022) with its options; Prune sets their
// Reduction and SeqLen from the budget and their Scores from the calibration.
type KwonMethod struct {
	KwonOptions
}

// Name returns "kwon".
func (KwonMethod) Name() string { return "kwon" }

// NeedsTargets returns true: Kwon et al. tune on the true labels (or scores).
func (KwonMethod) NeedsTargets() bool { return true }

// Prune runs [Kwon].
func (k KwonMethod) Prune(ctx context.Context, m *onnx.ModelProto, calib Calibration, budget Budget, progress func(Progress)) (*Result, error) {
	opts := k.KwonOptions
	opts.Reduction, opts.SeqLen, opts.Scores = budget.Reduction, budget.SeqLen, calib.Scores
	return Kwon(ctx, m, calib.Batches, calib.Labels, opts, progress)
}

// MagnitudeMethod is magnitude pruning with its options; Prune sets their Reduction and SeqLen
// from the budget and their Calibration (used for the costing length only) from the calibration.
type MagnitudeMethod struct {
	MagnitudeOptions
}

// Name returns "magnitude".
func (MagnitudeMethod) Name() string { return "magnitude" }

// Prune runs [Magnitude]; it reports no progress.
func (g MagnitudeMethod) Prune(ctx context.Context, m *onnx.ModelProto, calib Calibration, budget Budget, _ func(Progress)) (*Result, error) {
	opts := g.MagnitudeOptions
	opts.Reduction, opts.SeqLen, opts.Calibration = budget.Reduction, budget.SeqLen, calib.Batches
	return Magnitude(ctx, m, opts)
}

// perRow returns value(record) for every row of every batch (Batch.Index maps rows to records).
func perRow[T any](batches []data.Batch, value func(record int) T) [][]T {
	out := make([][]T, len(batches))
	for i, b := range batches {
		out[i] = make([]T, len(b.Index))
		for r, k := range b.Index {
			out[i][r] = value(k)
		}
	}
	return out
}

// CalibrationTargets returns the true labels (classification) or scores (regression) of the rows
// of the calibration batches, read from the dataset they were drawn from (Batch.Index maps rows
// to records). It fails, naming the file, when the dataset has no labels.
func CalibrationTargets(ds *data.Dataset, batches []data.Batch) (labels [][]int, scores [][]float64, err error) {
	switch ds.Labels {
	case data.LabelClass:
		labels = perRow(batches, func(k int) int { return ds.Records[k].Label })
	case data.LabelScore:
		scores = perRow(batches, func(k int) float64 { return ds.Records[k].Score })
	default:
		return nil, nil, fmt.Errorf("%s has no label column: Kwon et al. needs the true label (or score) of every calibration example (name the column \"label\" or give --label)", ds.Source)
	}
	return labels, scores, nil
}
