// Package compare runs a sweep of pruning methods x FLOPs reductions on one model and one
// calibration set and measures every pruned model the same way: FLOPs and MAC reductions, the
// task metric on an evaluation set (accuracy, Spearman, or the agreement with the unpruned model
// when the data has no labels), parameters and the latency speed-up; and writes the sweep as
// compare.csv, compare.json and compare.svg. SideBySide puts a few given models (original float,
// pruned float, int8) side by side on held-out examples in the same way.
//
// It is not for one pruning run (package prune) nor for reading flags (cmd/kprune).
package compare

import (
	"context"
	"fmt"
	"time"

	"github.com/kprune/kprune/bench"
	"github.com/kprune/kprune/data"
	"github.com/kprune/kprune/eval"
	"github.com/kprune/kprune/graph"
	"github.com/kprune/kprune/onnx"
	"github.com/kprune/kprune/prune"
)

// Row is one pruned model (or the unpruned reference) in compare.csv and compare.json.
type Row struct {
	Method             string  `json:"method"`
	RequestedReduction float64 `json:"requested_reduction"`
	// AchievedFLOPs is the FLOPs reduction of kprune-spec section 2; AchievedMACs is the same in
	// Kwon et al.'s MAC model (section 5), both at the run's costing length.
	AchievedFLOPs float64 `json:"achieved_flops_reduction"`
	AchievedMACs  float64 `json:"achieved_mac_reduction"`
	SeqLen        float64 `json:"costing_seq_len"`
	// Metric names Value (accuracy, spearman, or agreement when the data has no labels).
	Metric  string       `json:"metric"`
	Value   float64      `json:"value"`
	Metrics eval.Metrics `json:"metrics"`
	// Agreement is the top-1 agreement with the unpruned model on the evaluation set (the share
	// within 0.5 for regression, the mean cosine for embeddings); MeanKL its mean KL.
	Agreement    float64            `json:"agreement"`
	MeanKL       float64            `json:"mean_kl"`
	Params       int64              `json:"params"`
	Layers       []prune.LayerUnits `json:"layers,omitempty"`
	LatencyMs    float64            `json:"latency_ms,omitempty"`
	BaseMs       float64            `json:"original_latency_ms,omitempty"`
	SpeedUp      float64            `json:"speedup,omitempty"`
	PruneSeconds float64            `json:"prune_seconds"`
	Model        string             `json:"model_file,omitempty"`
	Kwon         *prune.KwonInfo    `json:"kwon,omitempty"`
	Error        string             `json:"error,omitempty"`
}

// Latency is the shape of the latency measurement; Runs 0 skips it.
type Latency struct {
	Batch int `json:"batch"`
	Seq   int `json:"seq"`
	Runs  int `json:"runs"`
}

// Result is compare.json.
type Result struct {
	Model       string           `json:"model"`
	Calibration prune.CalibStats `json:"calibration"`
	Eval        string           `json:"eval"`
	Examples    int              `json:"eval_examples"`
	Metric      string           `json:"metric"`
	Latency     Latency          `json:"latency"`
	Unpruned    Row              `json:"unpruned"`
	Rows        []Row            `json:"rows"`
	Versions    prune.Versions   `json:"versions"`
}

// Failed counts the rows whose run failed.
func (r *Result) Failed() int {
	n := 0
	for i := range r.Rows {
		if r.Rows[i].Error != "" {
			n++
		}
	}
	return n
}

// EvalSet is the evaluation data with the unpruned model's predictions on it.
type EvalSet struct {
	batches []data.Batch
	labels  []int
	scores  []float64
	teacher *eval.Predictions
	// Metric names the headline metric (eval.Headline); BaseValue is the unpruned model's value
	// of it, BaseMetrics its task metrics.
	Metric      string
	BaseValue   float64
	BaseMetrics eval.Metrics
}

// Examples is the number of evaluation examples.
func (ev *EvalSet) Examples() int { return ev.teacher.Rows }

// LoadEvalSet reads and batches the evaluation file once (labels chosen by eval.ReadOptionsFor
// from read) and scores the unpruned model m on it. Models that output embeddings are refused.
func LoadEvalSet(ctx context.Context, m *onnx.ModelProto, enc *graph.Encoder, tok *data.Tokenizer, path string, read data.ReadOptions, maxLen, threads int) (*EvalSet, error) {
	if enc.Head.Embeds() {
		return nil, fmt.Errorf("compare needs a model with a task head (classification, regression, span or token); this one outputs embeddings")
	}
	ds, encs, err := prune.ReadEncoded(tok, path, nil, eval.ReadOptionsFor(enc.Head, read), maxLen)
	if err != nil {
		return nil, err
	}
	ev := &EvalSet{Metric: eval.Headline(enc.Head, ds.Labels)}
	if ev.batches, err = prune.InOrder(tok, encs, 64); err != nil {
		return nil, err
	}
	if ev.teacher, err = eval.Predict(ctx, m, ev.batches, threads); err != nil {
		return nil, fmt.Errorf("the unpruned model on %s: %w", path, err)
	}
	switch ev.Metric {
	case "accuracy":
		ev.labels = ds.ClassLabels()
	case "spearman":
		ev.scores = ds.Scores()
	}
	ev.BaseValue = 1
	if ev.Metric != "agreement" {
		if ev.BaseMetrics, ev.BaseValue, err = ev.score(ev.teacher); err != nil {
			return nil, err
		}
	}
	return ev, nil
}

// score returns the task metrics of predictions and the value of the headline metric.
func (ev *EvalSet) score(p *eval.Predictions) (eval.Metrics, float64, error) {
	mt, err := eval.Score(p, ev.labels, ev.scores)
	if err != nil {
		return mt, 0, err
	}
	v, err := eval.Value(mt, ev.Metric)
	return mt, v, err
}

// measure fills a row from a pruning result: reductions, metric, agreement, parameters and the
// latency speed-up over the original (interleaved runs; skipped when lat.Runs is 0).
func (ev *EvalSet) measure(ctx context.Context, m *onnx.ModelProto, enc *graph.Encoder, pr *prune.Result, row *Row, lat Latency, threads int) error {
	rep := &pr.Report
	row.AchievedFLOPs, row.SeqLen = rep.AchievedReduction, rep.SeqLen
	if before := prune.KwonMACs(enc, rep.SeqLen); before > 0 {
		row.AchievedMACs = 1 - prune.KwonMACs(pr.Encoder, rep.SeqLen)/before
	}
	row.Params, row.Layers = rep.ParamsAfter, rep.Layers
	p, err := eval.Predict(ctx, pr.Model, ev.batches, threads)
	if err != nil {
		return fmt.Errorf("the pruned model on the evaluation set: %w", err)
	}
	sc, err := eval.Compare(ev.teacher, p)
	if err != nil {
		return err
	}
	row.Agreement, row.MeanKL = sc.Agreement, sc.MeanKL
	if ev.Metric == "agreement" {
		row.Value = sc.Agreement
	} else if row.Metrics, row.Value, err = ev.score(p); err != nil {
		return err
	}
	if lat.Runs > 0 {
		l, err := bench.MeasurePair(ctx, m, pr.Model, lat.Batch, lat.Seq, threads, 3, lat.Runs)
		if err != nil {
			return fmt.Errorf("latency: %w", err)
		}
		row.BaseMs, row.LatencyMs = ms(l[0].P50), ms(l[1].P50)
		if l[1].P50 > 0 {
			row.SpeedUp = float64(l[0].P50) / float64(l[1].P50)
		}
	}
	return nil
}

func ms(d time.Duration) float64 { return float64(d) / 1e6 }

// Observer receives a sweep's events; nil fields are skipped.
type Observer struct {
	// Start is called before each run and returns the run's progress callback (nil for none).
	Start func(method string, reduction float64) func(prune.Progress)
	// Pruned is called when a run's pruning ends, before its measurement.
	Pruned func()
	// Done is called with each finished row (Error set when the run failed).
	Done func(row *Row)
}

// Sweep is a methods x reductions comparison.
type Sweep struct {
	// Model is the unpruned model (never modified) and Encoder its structure.
	Model   *onnx.ModelProto
	Encoder *graph.Encoder
	// Calibration is the data of every run; Methods the methods and Reductions the FLOPs
	// reductions to run, each method at each reduction; SeqLen the costing length (0: the
	// calibration average).
	Calibration prune.Calibration
	Methods     []prune.Method
	Reductions  []float64
	SeqLen      float64
	// Eval is the evaluation set (LoadEvalSet); Latency the latency measurement; Threads
	// onnxruntime's intra-op threads for evaluation and latency.
	Eval    *EvalSet
	Latency Latency
	Threads int
	// Save, when not nil, writes each pruned model and returns its path (Row.Model).
	Save func(ctx context.Context, method string, reduction float64, m *onnx.ModelProto) (string, error)
	// Result is the header of the result (Model, Eval, Calibration, Versions); Run fills the rest.
	Result Result
	// Observe receives the sweep's events.
	Observe Observer
}

// Run runs every method at every reduction and measures the pruned models. A failed run is
// recorded in its row's Error and the sweep goes on; a cancelled ctx stops it with ctx's error.
func (s *Sweep) Run(ctx context.Context) (*Result, error) {
	res := s.Result
	ev := s.Eval
	res.Examples, res.Metric, res.Latency = ev.Examples(), ev.Metric, s.Latency
	res.Unpruned = Row{Method: "unpruned", Metric: ev.Metric, Value: ev.BaseValue, Metrics: ev.BaseMetrics, Agreement: 1,
		Params: prune.Params(s.Model), Layers: layersOf(s.Encoder), SpeedUp: 1}
	for _, method := range s.Methods {
		for _, r := range s.Reductions {
			row, err := s.run(ctx, method, r)
			if err != nil && ctx.Err() != nil {
				return nil, ctx.Err()
			}
			if s.Observe.Done != nil {
				s.Observe.Done(&row)
			}
			res.Rows = append(res.Rows, row)
		}
	}
	// The unpruned row's latency is the mean of its interleaved measurements.
	var base float64
	nBase := 0
	for _, r := range res.Rows {
		if r.BaseMs > 0 {
			base += r.BaseMs
			nBase++
		}
	}
	if nBase > 0 {
		res.Unpruned.LatencyMs = base / float64(nBase)
		res.Unpruned.BaseMs = res.Unpruned.LatencyMs
	}
	res.Unpruned.SeqLen = s.SeqLen
	if res.Unpruned.SeqLen == 0 {
		res.Unpruned.SeqLen = res.Calibration.AvgLen
	}
	return &res, nil
}

// run prunes with one method at one reduction and measures the result into a row; the error is
// also in the row.
func (s *Sweep) run(ctx context.Context, method prune.Method, r float64) (Row, error) {
	row := Row{Method: method.Name(), RequestedReduction: r, Metric: s.Eval.Metric}
	var kinfo *prune.KwonInfo
	switch k := method.(type) {
	case prune.KwonMethod:
		kinfo = &prune.KwonInfo{}
		k.Info = kinfo
		method = k
	case *prune.KwonMethod:
		kinfo = &prune.KwonInfo{}
		c := *k
		c.Info = kinfo
		method = c
	}
	var progress func(prune.Progress)
	if s.Observe.Start != nil {
		progress = s.Observe.Start(row.Method, r)
	}
	t0 := time.Now()
	pr, err := method.Prune(ctx, s.Model, s.Calibration, prune.Budget{Reduction: r, SeqLen: s.SeqLen}, progress)
	if s.Observe.Pruned != nil {
		s.Observe.Pruned()
	}
	row.PruneSeconds = time.Since(t0).Seconds()
	if err == nil {
		row.Kwon = kinfo
		err = s.Eval.measure(ctx, s.Model, s.Encoder, pr, &row, s.Latency, s.Threads)
	}
	if err == nil && s.Save != nil {
		row.Model, err = s.Save(ctx, row.Method, r, pr.Model)
	}
	if err != nil {
		row.Error = err.Error()
	}
	return row, err
}

func layersOf(enc *graph.Encoder) []prune.LayerUnits {
	h, n := prune.Units(enc)
	out := make([]prune.LayerUnits, len(h))
	for i := range h {
		out[i] = prune.LayerUnits{Heads: h[i], FFN: n[i]}
	}
	return out
}
