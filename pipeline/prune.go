package pipeline

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/kprune/kprune/bench"
	"github.com/kprune/kprune/compare"
	"github.com/kprune/kprune/data"
	"github.com/kprune/kprune/eval"
	"github.com/kprune/kprune/graph"
	"github.com/kprune/kprune/onnx"
	"github.com/kprune/kprune/output"
	"github.com/kprune/kprune/prune"
	"github.com/kprune/kprune/quantize"
)

// LowMemoryModelBytes is the model size from which Prune.AutoLowMemory turns
// prune.Options.LowMemory on: on a generated 4-layer, 768-wide model (211 MB) the default mode
// peaked at 2.7 GB against 0.7 GB with LowMemory, for 14% more time.
const LowMemoryModelBytes = 256 << 20

// AutoLowMemory reports whether a run switches prune.Options.LowMemory on by itself: auto (the
// caller left the choice to the run) and the model file has at least LowMemoryModelBytes.
func AutoLowMemory(auto bool, modelBytes int64) bool {
	return auto && modelBytes >= LowMemoryModelBytes
}

// Prune is one pruning run of a model file on a calibration file, set up by its exported fields,
// then Load, then Run.
type Prune struct {
	// ModelPath is the model to prune (never modified); Method the pruning method's name
	// (prune.MethodNames) and Options its options.
	ModelPath, Method string
	Options           prune.Options
	// Data says how the data files are read.
	Data Data
	// CalibPath is the calibration data file; Calib how the calibration set is drawn from it
	// (its Source is CalibPath).
	CalibPath string
	Calib     prune.CalibOptions
	// EvalPath is the held-out data of the self-check; "": up to 512 calibration-file rows the
	// calibration set did not draw.
	EvalPath string
	// ExplicitFisher says the caller asked for Options.Fisher itself (not through a preset): Load
	// then refuses a model without a classification head instead of running without it.
	ExplicitFisher bool
	// AutoLowMemory turns Options.LowMemory on for K-prune when the model file has
	// LowMemoryModelBytes or more (LowMemory was not the caller's choice).
	AutoLowMemory bool
	// Versions go into the report.
	Versions prune.Versions

	// Set by Load: the model (its encoder) and the operators unfused when it was read, the calibration set
	// (CalibSet; with the targets the method needs in Targets) and its file's row count, the
	// held-out batches of the self-check, and whether AutoLowMemory turned LowMemory on.
	Model           *onnx.ModelProto
	Encoder         *graph.Encoder
	tokenizer       *data.Tokenizer
	Unfused         map[string]int
	CalibSet        *data.CalibSet
	Targets         prune.Calibration
	CalibRows       int
	HeldOut         []data.Batch
	LowMemorySwitch bool
	// PoolingSource is the sentence-transformers configuration Load read Options.Pooling from
	// (prune.ResolvePooling; "" when the caller chose it, or the model has none).
	PoolingSource string
}

// Load reads the model, the tokenizer, the calibration set (with its targets when the method
// needs them) and the held-out batches of the self-check.
func (j *Prune) Load() error {
	lm, err := prune.Load(j.ModelPath, j.Data.Tokenizer)
	if err != nil {
		return err
	}
	tok := lm.Tokenizer
	j.tokenizer = tok
	j.Model, j.Unfused, j.Encoder = lm.Model, lm.Unfused, lm.Encoder
	if err := j.Data.fit(j.ModelPath, lm.Model, lm.Encoder); err != nil {
		return err
	}
	if j.Options.Pooling, j.PoolingSource, err = prune.ResolvePooling(j.Options.Pooling, lm.Encoder, j.ModelPath); err != nil {
		return err
	}
	if err := j.Data.classNames(j.ModelPath); err != nil {
		return err
	}
	if st, err := os.Stat(j.ModelPath); err == nil && j.Method == "kprune" && AutoLowMemory(j.AutoLowMemory, st.Size()) {
		j.Options.LowMemory, j.LowMemorySwitch = true, true
	}
	read := j.Data.Read
	if j.Method != "kwon" {
		read = NoLabels(read)
	}
	if j.ExplicitFisher && j.Options.Fisher && lm.Encoder.Head != graph.HeadClassification {
		return fmt.Errorf("--fisher samples class labels, and %s has a %s head, not a classification head: leave it out", j.ModelPath, lm.Encoder.Head)
	}
	cds, encs, err := prune.ReadEncoded(tok, j.CalibPath, nil, read, j.Data.MaxLen)
	if err != nil {
		return err
	}
	if lm.Encoder.Head.Embeds() && j.Method != "kwon" {
		// An embedding model embeds each sentence of a pair on its own: calibrate it so.
		if cds, encs, err = splitPairs(tok, cds, encs, j.Data.MaxLen); err != nil {
			return err
		}
	}
	co := j.Calib
	co.Source = j.CalibPath
	if j.CalibSet, err = prune.BuildCalibration(tok, encs, co); err != nil {
		return err
	}
	if j.Method == "kwon" {
		if j.Targets.Labels, j.Targets.Scores, err = prune.CalibrationTargets(cds, j.CalibSet.Batches); err != nil {
			return err
		}
	}
	j.CalibRows = len(encs)
	if j.EvalPath != "" {
		_, eencs, err := prune.ReadEncoded(tok, j.EvalPath, nil, NoLabels(j.Data.Read), j.Data.MaxLen)
		if err != nil {
			return err
		}
		j.HeldOut, err = prune.InOrder(tok, eencs, 64)
		return err
	}
	j.HeldOut, err = eval.HeldOut(tok, encs, j.CalibSet.Indices, 512)
	return err
}

// Run prunes the loaded model to the budget of Options, reporting progress to progress (nil for
// none); Check then completes the result.
func (j *Prune) Run(ctx context.Context, progress func(prune.Progress)) (*prune.Result, error) {
	method, err := prune.MethodWith(j.Method, j.Options)
	if err != nil {
		return nil, err
	}
	calib := j.Targets
	calib.Batches = j.CalibSet.Batches
	return method.Prune(ctx, j.Model, calib, prune.Budget{Reduction: j.Options.Reduction, SeqLen: j.Options.SeqLen}, progress)
}

// Check self-checks the pruned model of res on the held-out batches and fills its report: paths
// (outPath is the output model), calibration, versions, self-check and quality warnings.
func (j *Prune) Check(ctx context.Context, res *prune.Result, outPath string) error {
	rep := &res.Report
	rep.InputModel, rep.OutputModel = j.ModelPath, outPath
	if len(rep.Unfused) == 0 {
		rep.Unfused = j.Unfused // unfused when the model was loaded
	}
	rep.Calibration.Seed, rep.Calibration.Source = j.Calib.Seed, j.CalibPath
	if j.tokenizer != nil {
		rep.Calibration.Tokenizer = j.tokenizer.Source()
	}
	if j.PoolingSource != "" {
		rep.Loss += fmt.Sprintf(" (pooling read from %s)", j.PoolingSource)
	}
	rep.Versions = j.Versions
	if st, err := os.Stat(j.ModelPath); err == nil {
		rep.InputBytes = st.Size()
	}
	if len(j.HeldOut) > 0 {
		sc, err := eval.SelfCheck(ctx, j.Model, res.Model, j.HeldOut, eval.PredictOptions{Threads: j.Options.Threads, LowMemory: j.Options.LowMemory, Pooling: j.Options.Pooling})
		if err != nil {
			return fmt.Errorf("self-check of the pruned model: %w", err)
		}
		rep.SelfCheck = sc
	}
	if j.EvalPath != "" {
		task, err := j.taskMetric(ctx, res)
		if err != nil {
			return fmt.Errorf("task metric on %s: %w", j.EvalPath, err)
		}
		rep.Task = task
	}
	rep.Warnings = rep.QualityWarnings()
	return nil
}

// taskMetric evaluates the original and the pruned model on the --eval data (eval.Evaluate: the
// metric by head kind, sentence pairs for embedding models); nil when the data has no labels or
// scores, or an embedding model's data are not scored pairs.
func (j *Prune) taskMetric(ctx context.Context, res *prune.Result) (*prune.TaskMetric, error) {
	d := eval.Data{Path: j.EvalPath, Read: j.Data.Read}
	o := eval.Options{Tokenizer: j.tokenizer, MaxLen: j.Data.MaxLen, Batch: 64, Threads: j.Options.Threads, Pooling: j.Options.Pooling}
	before, err := eval.Evaluate(ctx, "original", j.Model, nil, d, o)
	if errors.Is(err, eval.ErrNotPairs) || (err == nil && before.Unlabelled) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	after, err := eval.Evaluate(ctx, "pruned", res.Model, nil, d, o)
	if err != nil {
		return nil, err
	}
	t := &prune.TaskMetric{Data: j.EvalPath, Examples: after.Examples, Metric: "accuracy"}
	switch {
	case before.Accuracy != nil && after.Accuracy != nil:
		t.Original, t.Pruned = *before.Accuracy, *after.Accuracy
	case before.Spearman != nil && after.Spearman != nil:
		t.Metric, t.Original, t.Pruned = "spearman", *before.Spearman, *after.Spearman
	default:
		return nil, nil
	}
	return t, nil
}

// HeldOutFigures are the self-check's held-out batches with their labels or scores, for putting
// models side by side (compare.SideBySide) after Run.
func (j *Prune) HeldOutFigures() compare.HeldOut {
	ho := compare.HeldOut{Batches: j.HeldOut}
	if len(j.HeldOut) == 0 {
		return ho
	}
	if j.EvalPath != "" {
		ho.Source = j.EvalPath
		if ds, err := data.ReadDataset(j.EvalPath, NoLabels(j.Data.Read)); err == nil {
			ho.Labels, ho.Scores = eval.Targets(j.EvalPath, j.Data.Read, ds.Len(), seqOrder(ds.Len()))
		}
		return ho
	}
	order := eval.Unsampled(j.CalibRows, j.CalibSet.Indices, 512)
	ho.Source = fmt.Sprintf("%d rows of %s not used for calibration", len(order), j.CalibPath)
	ho.Labels, ho.Scores = eval.Targets(j.CalibPath, j.Data.Read, j.CalibRows, order)
	return ho
}

// PruneOutputs are the files of a pruning run, written all or nothing: the pruned model, its
// JSON and HTML reports and, with Quantize, the int8 model. Force overwrites them.
type PruneOutputs struct {
	Model, Report, HTML string
	Force               bool
	Quantize            *PruneQuantize
}

// PruneQuantize quantizes the pruned model to Out (quantize.Quantize with Mode and Options, the
// calibration set for static mode) and times the models with Latency (nil: not timed); Seq, if
// not nil, is told the sequence length latency was measured at.
type PruneQuantize struct {
	Out     string
	Mode    quantize.Mode
	Options quantize.Options
	Latency *bench.LatencyOptions
	Seq     func(int)
}

// Write writes the pruned model of res and its reports (output.WriteRun). With o.Quantize it
// first quantizes the pruned model, then measures the original float, pruned float and pruned
// int8 models side by side on the held-out examples (HeldOutFigures) into the report's Models
// and Quantization, and returns what the held-out examples are.
func (j *Prune) Write(ctx context.Context, res *prune.Result, o PruneOutputs) (heldOut string, err error) {
	rep := &res.Report
	run := output.Run{Models: []output.Model{{Path: o.Model, Model: res.Model}}, ReportPath: o.Report, HTMLPath: o.HTML, Report: rep, Force: o.Force}
	if q := o.Quantize; q != nil {
		qm, qrep, err := quantize.Quantize(ctx, res.Model, q.Mode, q.Options, j.CalibSet.Batches)
		if err != nil {
			return "", fmt.Errorf("quantizing the pruned model: %w", err)
		}
		rep.Quantization = qrep
		ho := j.HeldOutFigures()
		heldOut = ho.Source
		run.Models = append(run.Models, output.Model{Path: q.Out, Model: qm})
		run.AfterModels = func() error {
			rep.OutputBytes = output.FileBytes(o.Model)
			models := []compare.Model{{Name: "original float", Path: j.ModelPath, Model: j.Model}, {Name: "pruned float", Path: o.Model, Model: res.Model}, {Name: "pruned int8", Path: q.Out, Model: qm}}
			figs, seq, err := compare.SideBySide(ctx, models, ho, q.Latency, j.Options.Threads)
			if q.Seq != nil {
				q.Seq(seq)
			}
			rep.Models = figs
			return err
		}
	}
	return heldOut, output.WriteRun(ctx, run)
}

// splitPairs re-encodes a dataset of sentence pairs as single sentences (data.Dataset.SplitPairs),
// the way an embedding model sees them; datasets without pairs are returned as they are.
func splitPairs(tok *data.Tokenizer, ds *data.Dataset, encs []data.Encoding, maxLen int) (*data.Dataset, []data.Encoding, error) {
	if len(ds.TextColumns) != 2 {
		return ds, encs, nil
	}
	single := ds.SplitPairs()
	encs, err := data.EncodeDataset(tok, single, maxLen)
	if err != nil {
		return nil, nil, err
	}
	return single, encs, nil
}

// DefaultBucket is whether a run of method with opts groups calibration sequences of similar
// length into batches when the caller does not say: yes for K-prune when its knowledge does not
// depend on batch composition (prune.Options.BatchIndependent, true for the default setting),
// where grouping changes nothing but time (about 3x less padding on SST-2); no for the faithful
// setting, whose reference batches in draw order, and for the other methods.
func DefaultBucket(method string, opts *prune.Options) bool {
	return (method == "" || method == "kprune") && opts.BatchIndependent()
}

// ETA returns an estimator of the run's time left (prune.ETA) once Load has run; nil for the
// methods other than K-prune.
func (j *Prune) ETA() *prune.ETA {
	if (j.Method != "" && j.Method != "kprune") || j.Encoder == nil || j.CalibSet == nil {
		return nil
	}
	return prune.NewETA(j.Encoder, j.CalibSet.Stats.AvgLen)
}

// FastCalibrationTokens is the calibration size SlowRunAdvice proposes: about 5x less time
// than the reference's 100,000 tokens, within 0.3 points of it on minilm-l6-sst2 and
// bert-l4-sst2 at 40-80% FLOPs removed, but not on tiny-bert-sst2 at 80% (docs/results/defaults.md).
const FastCalibrationTokens = 20000

// SlowRunAdvice returns a ProgressBar.Advice for this loaded run: when the whole run is
// estimated to take more than 10 minutes on more than FastCalibrationTokens calibration tokens,
// it says how long that many tokens would take. Use it only when the calibration size was not
// the caller's choice. Nil when the calibration set is that small already.
func (j *Prune) SlowRunAdvice() func(total time.Duration) string {
	if j.CalibSet == nil || j.CalibSet.Stats.Tokens <= FastCalibrationTokens {
		return nil
	}
	tokens := j.CalibSet.Stats.Tokens
	return func(total time.Duration) string {
		if total < 10*time.Minute {
			return ""
		}
		fast := time.Duration(float64(total) * FastCalibrationTokens / float64(tokens))
		return fmt.Sprintf(" (%d calibration tokens; --tokens %d would take about %s, at some cost in accuracy at high reductions: docs/results/defaults.md)", tokens, FastCalibrationTokens, RoughDuration(fast))
	}
}
