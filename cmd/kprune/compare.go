package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/kprune/kprune/data"
	"github.com/kprune/kprune/graph"
	"github.com/kprune/kprune/onnx"
	"github.com/kprune/kprune/prune"
	"github.com/kprune/kprune/report"
)

// pruneMethods are the pruning methods `kprune prune --method` and `kprune compare --methods`
// accept, in their canonical order.
var pruneMethods = []string{"kprune", "kwon", "magnitude"}

// checkMethod rejects an unknown pruning method.
func checkMethod(method string) error {
	for _, m := range pruneMethods {
		if m == method {
			return nil
		}
	}
	return fmt.Errorf("unknown pruning method %q (want one of %s)", method, strings.Join(pruneMethods, ", "))
}

// runMethod prunes m with one method: K-prune with opts, Kwon et al. with the true labels (or
// scores, for regression heads) of the calibration batches, or magnitude pruning (which uses the
// batches only for the costing length); "" means kprune. kwon, when not nil, receives the
// details of a kwon run.
func runMethod(ctx context.Context, method string, m *onnx.ModelProto, batches []data.Batch, labels [][]int, scores [][]float64, opts prune.Options, kwon *prune.KwonInfo, progress func(prune.Progress)) (*prune.Result, error) {
	switch method {
	case "kprune", "":
		return prune.KPrune(ctx, m, batches, opts, progress)
	case "kwon":
		return prune.Kwon(ctx, m, batches, labels, prune.KwonOptions{Reduction: opts.Reduction, SeqLen: opts.SeqLen, Scores: scores,
			Threads: opts.Threads, Provider: opts.Provider, Info: kwon}, progress)
	case "magnitude":
		return prune.Magnitude(ctx, m, prune.MagnitudeOptions{Reduction: opts.Reduction, SeqLen: opts.SeqLen, Calibration: batches, KeepBias: opts.KeepBias})
	}
	return nil, checkMethod(method)
}

// calibTargets returns the true labels (classification) or scores (regression) of the rows of
// the calibration batches, read from the dataset they were drawn from (Batch.Index maps rows to
// records). It fails, naming the file, when the dataset has no labels.
func calibTargets(ds *data.Dataset, batches []data.Batch) (labels [][]int, scores [][]float64, err error) {
	switch ds.Labels {
	case data.LabelClass:
		labels = make([][]int, len(batches))
		for i, b := range batches {
			labels[i] = make([]int, len(b.Index))
			for r, k := range b.Index {
				labels[i][r] = ds.Records[k].Label
			}
		}
	case data.LabelScore:
		scores = make([][]float64, len(batches))
		for i, b := range batches {
			scores[i] = make([]float64, len(b.Index))
			for r, k := range b.Index {
				scores[i][r] = ds.Records[k].Score
			}
		}
	default:
		return nil, nil, fmt.Errorf("%s has no label column: Kwon et al. needs the true label (or score) of every calibration example (name the column \"label\" or give --label)", ds.Source)
	}
	return labels, scores, nil
}

// compareRow is one pruned model (or the unpruned reference) in compare.csv and compare.json.
type compareRow struct {
	Method             string  `json:"method"`
	RequestedReduction float64 `json:"requested_reduction"`
	// AchievedFLOPs is the FLOPs reduction of kprune-spec section 2; AchievedMACs is the same in
	// Kwon et al.'s MAC model (section 5), both at the run's costing length.
	AchievedFLOPs float64 `json:"achieved_flops_reduction"`
	AchievedMACs  float64 `json:"achieved_mac_reduction"`
	SeqLen        float64 `json:"costing_seq_len"`
	// Metric names Value (accuracy, spearman, or agreement when the data has no labels).
	Metric  string        `json:"metric"`
	Value   float64       `json:"value"`
	Metrics prune.Metrics `json:"metrics"`
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

// compareResult is compare.json.
type compareResult struct {
	Model       string           `json:"model"`
	Calibration prune.CalibStats `json:"calibration"`
	Eval        string           `json:"eval"`
	Examples    int              `json:"eval_examples"`
	Metric      string           `json:"metric"`
	Latency     struct {
		Batch int `json:"batch"`
		Seq   int `json:"seq"`
		Runs  int `json:"runs"`
	} `json:"latency"`
	Unpruned compareRow     `json:"unpruned"`
	Rows     []compareRow   `json:"rows"`
	Versions prune.Versions `json:"versions"`
}

func cmdCompare(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("compare", stderr)
	var df dataFlags
	modelPath := fs.String("model", "", "ONNX `MODEL` to prune (never modified)")
	calibPath := fs.String("calib", "", "calibration data `FILE` (the training split; kwon needs its labels)")
	evalPath := fs.String("eval", "", "labelled evaluation data `FILE` (the dev split)")
	methodList := fs.String("methods", strings.Join(pruneMethods, ","), "comma-separated pruning `METHODS`: "+strings.Join(pruneMethods, ", "))
	reductionList := fs.String("reductions", "0.4,0.5,0.6,0.7,0.8", "comma-separated FLOPs `REDUCTIONS` to run, each in [0, 1)")
	samples := fs.Int("samples", 0, "number of calibration sequences, the same for every method (default: int(100000 / average length), K-prune's reference)")
	bucket := fs.Bool("bucket", false, "[ours] batch calibration sequences of similar length together (less padding, faster)")
	seed := fs.Uint64("seed", 0, "calibration sampling seed")
	seqLen := fs.Float64("seq-len", 0, "costing sequence length of the FLOPs model (default: calibration average)")
	outDir := fs.String("out", "kprune-compare", "`FOLDER` for compare.csv, compare.json and compare.svg (created if missing)")
	saveModels := fs.Bool("save-models", false, "also write every pruned model to FOLDER/METHOD-PCT.onnx")
	latBatch := fs.Int("latency-batch", 32, "latency batch size")
	latSeq := fs.Int("latency-seq", 128, "latency sequence length (at most --max-len)")
	latRuns := fs.Int("latency-runs", 10, "timed latency runs per model, interleaved with the original (0: skip latency)")
	threads := fs.Int("threads", 0, "onnxruntime intra-op threads (0: all cores)")
	force := fs.Bool("force", false, "overwrite existing compare.* files in FOLDER")
	fs.StringVar(&df.tokenizer, "tokenizer", "", "the model's tokenizer.json or vocab.txt (default: next to the model)")
	fs.StringVar(&df.columns, "columns", "", "text columns `a,b` by header name or 0-based index (default: GLUE conventions)")
	fs.StringVar(&df.label, "label", "", "label or score column by name or index (default: label/score or the last column)")
	fs.StringVar(&df.format, "format", "", formatUsage+"; applies to --calib and --eval")
	fs.StringVar(&df.header, "header", "auto", headerUsage)
	fs.IntVar(&df.maxLen, "max-len", 128, "maximum sequence length in tokens")
	fs.IntVar(&df.batch, "batch", 32, "calibration batch size (sequences)")
	setUsage(fs, stderr, "kprune compare --model M.onnx --calib TRAIN --eval DEV [--methods kprune,kwon,magnitude] [--reductions 0.4,...] [flags]")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	df.maxLenGiven = given(fs, "max-len")
	if fs.NArg() > 0 {
		return usageError{fmt.Sprintf("unexpected arguments %q", fs.Args())}
	}
	if *modelPath == "" || *calibPath == "" || *evalPath == "" {
		return usageError{"--model, --calib and --eval are required"}
	}
	methods, err := parseMethods(*methodList)
	if err != nil {
		return usageError{"--methods: " + err.Error()}
	}
	reductions, err := parseReductions(*reductionList)
	if err != nil {
		return usageError{"--reductions: " + err.Error()}
	}
	opts := prune.DefaultOptions()
	opts.SeqLen, opts.Threads = *seqLen, *threads
	for _, r := range reductions {
		opts.Reduction = r
		if err := opts.Validate(); err != nil {
			return optionUsageError(err)
		}
	}
	if err := df.check(); err != nil {
		return err
	}
	if *samples < 0 || df.batch <= 0 || df.maxLen <= 2 || *latBatch <= 0 || *latSeq <= 0 || *latRuns < 0 || *seqLen < 0 {
		return usageError{"--samples, --seq-len and --latency-runs must not be negative; --batch, --latency-batch and --latency-seq must be positive; --max-len above 2"}
	}
	if err := os.MkdirAll(*outDir, 0o755); err != nil {
		return err
	}
	files := map[string]string{}
	for _, ext := range []string{"csv", "json", "svg"} {
		files[ext] = filepath.Join(*outDir, "compare."+ext)
	}
	outputs := []string{files["csv"], files["json"], files["svg"]}
	if *saveModels {
		for _, method := range methods {
			for _, r := range reductions {
				outputs = append(outputs, compareModelPath(*outDir, method, r))
			}
		}
	}
	if err := checkOutputs(stderr, *force, outputs...); err != nil {
		return err
	}

	lm, err := loadModelAndTokenizer(*modelPath, df.tokenizer)
	if err != nil {
		return err
	}
	m, enc, tok := lm.m, lm.enc, lm.tok
	if err := df.fitMaxLen(*modelPath, m, enc); err != nil {
		return err
	}
	if err := checkSeqLen("--latency-seq", min(*latSeq, df.maxLen), *modelPath, m, enc); err != nil {
		return err
	}

	// One calibration set for every method; labels only when kwon runs.
	needLabels := false
	for _, mt := range methods {
		needLabels = needLabels || mt == "kwon"
	}
	cds, cencs, err := loadEncoded(tok, *calibPath, nil, df.readOptions(needLabels), df.maxLen)
	if err != nil {
		return err
	}
	job := &pruneJob{calibSource: *calibPath, seed: *seed}
	if err := job.buildCalibration(tok, cencs, *samples, 0, true, *bucket, df.batch); err != nil {
		return err
	}
	var labels [][]int
	var scores [][]float64
	if needLabels {
		if labels, scores, err = calibTargets(cds, job.calib.Batches); err != nil {
			return err
		}
	}

	// The evaluation set, the reference predictions and the unpruned metric.
	ev, err := loadEvalSet(ctx, m, enc, tok, *evalPath, df, *threads)
	if err != nil {
		return err
	}
	latencySeq := min(*latSeq, df.maxLen)
	st := job.calib.Stats
	res := compareResult{Model: *modelPath, Eval: *evalPath, Examples: ev.teacher.Rows, Metric: ev.metric, Versions: versions(),
		Calibration: prune.CalibStats{Sequences: st.Sequences, Tokens: st.Tokens, PaddedTokens: st.PaddedTokens, AvgLen: st.AvgLen,
			Distinct: st.Distinct, Batches: len(job.calib.Batches), Seed: *seed, Source: *calibPath}}
	res.Latency.Batch, res.Latency.Seq, res.Latency.Runs = *latBatch, latencySeq, *latRuns
	res.Unpruned = compareRow{Method: "unpruned", Metric: ev.metric, Value: ev.baseValue, Metrics: ev.baseMetrics, Agreement: 1,
		Params: prune.Params(m), Layers: layersOf(enc), SpeedUp: 1}
	fmt.Fprintf(stderr, "compare: %s, %d calibration sequences (average length %.1f), %d evaluation examples; unpruned %s %.4f\n",
		filepath.Base(*modelPath), st.Sequences, st.AvgLen, ev.teacher.Rows, ev.metric, ev.baseValue)

	failed := 0
	for _, method := range methods {
		for _, r := range reductions {
			row := compareRow{Method: method, RequestedReduction: r, Metric: ev.metric}
			var kinfo *prune.KwonInfo
			if method == "kwon" {
				kinfo = &prune.KwonInfo{}
			}
			bar := newProgressBar(stderr)
			t0 := time.Now()
			opts.Reduction = r
			pr, err := runMethod(ctx, method, m, job.calib.Batches, labels, scores, opts, kinfo, bar.update)
			bar.done()
			row.PruneSeconds = time.Since(t0).Seconds()
			if err == nil {
				row.Kwon = kinfo
				err = ev.measure(ctx, m, enc, pr, &row, *latBatch, latencySeq, *latRuns, *threads)
			}
			if err == nil && *saveModels {
				row.Model = compareModelPath(*outDir, method, r)
				err = onnx.SaveContext(ctx, row.Model, pr.Model, onnx.SaveOptions{Overwrite: *force})
			}
			if err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				row.Error = err.Error()
				failed++
				fmt.Fprintf(stderr, "compare: %s at %.0f%% failed: %v\n", method, 100*r, err)
			} else {
				fmt.Fprintf(stderr, "compare: %s at %.0f%%: achieved %.2f%%, %s %.4f, %.1fs\n", method, 100*r, 100*row.AchievedFLOPs, ev.metric, row.Value, row.PruneSeconds)
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
	res.Unpruned.SeqLen = *seqLen
	if res.Unpruned.SeqLen == 0 {
		res.Unpruned.SeqLen = st.AvgLen
	}
	if err := writeCompare(ctx, files, &res); err != nil {
		return err
	}
	printCompare(stdout, &res)
	fmt.Fprintf(stdout, "wrote %s, %s and %s\n", files["csv"], files["json"], files["svg"])
	if failed > 0 {
		return fmt.Errorf("%d of %d runs failed (see the error column of %s)", failed, len(res.Rows), files["csv"])
	}
	return nil
}

// compareModelPath is where --save-models writes the model of method at reduction r.
func compareModelPath(dir, method string, r float64) string {
	return filepath.Join(dir, fmt.Sprintf("%s-%02.0f.onnx", method, 100*r))
}

// parseMethods splits a comma-separated method list, checking and de-duplicating it.
func parseMethods(s string) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if err := checkMethod(f); err != nil {
			return nil, err
		}
		if !seen[f] {
			seen[f] = true
			out = append(out, f)
		}
	}
	if len(out) == 0 {
		return nil, errors.New("no method given")
	}
	return out, nil
}

// parseReductions splits a comma-separated list of FLOPs reductions, each in [0, 1).
func parseReductions(s string) ([]float64, error) {
	var out []float64
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		v, err := strconv.ParseFloat(f, 64)
		if err != nil {
			return nil, fmt.Errorf("%q is not a number", f)
		}
		if err := prune.CheckReduction(v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	if len(out) == 0 {
		return nil, errors.New("no reduction given")
	}
	return out, nil
}

func layersOf(enc *graph.Encoder) []prune.LayerUnits {
	h, n := prune.Units(enc)
	out := make([]prune.LayerUnits, len(h))
	for i := range h {
		out[i] = prune.LayerUnits{Heads: h[i], FFN: n[i]}
	}
	return out
}

// evalSet is the evaluation data with the unpruned model's predictions on it.
type evalSet struct {
	batches     []data.Batch
	labels      []int
	scores      []float64
	teacher     *prune.Predictions
	metric      string
	baseValue   float64
	baseMetrics prune.Metrics
}

// loadEvalSet reads and batches the evaluation file once and scores the unpruned model on it.
func loadEvalSet(ctx context.Context, m *onnx.ModelProto, enc *graph.Encoder, tok *data.Tokenizer, path string, df dataFlags, threads int) (*evalSet, error) {
	if enc.Head.Embeds() {
		return nil, fmt.Errorf("compare needs a model with a task head (classification, regression, span or token); this one outputs embeddings")
	}
	ropts := df.readOptions(true)
	if enc.Head == graph.HeadRegression {
		ropts.Labels = data.LabelScore
	}
	ds, encs, err := loadEncoded(tok, path, nil, ropts, df.maxLen)
	if err != nil {
		return nil, err
	}
	ev := &evalSet{metric: "agreement"}
	if ev.batches, err = evalBatches(tok, encs, 64); err != nil {
		return nil, err
	}
	if ev.teacher, err = prune.Predict(ctx, m, ev.batches, threads); err != nil {
		return nil, fmt.Errorf("the unpruned model on %s: %w", path, err)
	}
	switch {
	case ds.Labels == data.LabelClass && enc.Head == graph.HeadClassification:
		ev.labels, ev.metric = ds.ClassLabels(), "accuracy"
	case ds.Labels == data.LabelScore && enc.Head == graph.HeadRegression:
		ev.scores, ev.metric = ds.Scores(), "spearman"
	}
	ev.baseValue = 1
	if ev.metric != "agreement" {
		if ev.baseMetrics, ev.baseValue, err = ev.score(ev.teacher); err != nil {
			return nil, err
		}
	}
	return ev, nil
}

// score returns the task metrics of predictions and the value of the chosen metric.
func (ev *evalSet) score(p *prune.Predictions) (prune.Metrics, float64, error) {
	mt, err := prune.Score(p, ev.labels, ev.scores)
	if err != nil {
		return mt, 0, err
	}
	switch ev.metric {
	case "accuracy":
		return mt, *mt.Accuracy, nil
	case "spearman":
		return mt, *mt.Spearman, nil
	}
	return mt, 0, fmt.Errorf("internal error: unknown metric %q", ev.metric)
}

// measure fills a row from a pruning result: reductions, metric, agreement, parameters and the
// latency speed-up over the original (interleaved runs; skipped when runs is 0).
func (ev *evalSet) measure(ctx context.Context, m *onnx.ModelProto, enc *graph.Encoder, pr *prune.Result, row *compareRow, batch, seq, runs, threads int) error {
	rep := &pr.Report
	row.AchievedFLOPs, row.SeqLen = rep.AchievedReduction, rep.SeqLen
	if before := prune.KwonMACs(enc, rep.SeqLen); before > 0 {
		row.AchievedMACs = 1 - prune.KwonMACs(pr.Encoder, rep.SeqLen)/before
	}
	row.Params, row.Layers = rep.ParamsAfter, rep.Layers
	p, err := prune.Predict(ctx, pr.Model, ev.batches, threads)
	if err != nil {
		return fmt.Errorf("the pruned model on the evaluation set: %w", err)
	}
	sc, err := prune.Compare(ev.teacher, p)
	if err != nil {
		return err
	}
	row.Agreement, row.MeanKL = sc.Agreement, sc.MeanKL
	if ev.metric == "agreement" {
		row.Value = sc.Agreement
	} else if row.Metrics, row.Value, err = ev.score(p); err != nil {
		return err
	}
	if runs > 0 {
		lat, err := measurePair(ctx, m, pr.Model, batch, seq, threads, 3, runs)
		if err != nil {
			return fmt.Errorf("latency: %w", err)
		}
		row.BaseMs, row.LatencyMs = ms(lat[0].P50), ms(lat[1].P50)
		if lat[1].P50 > 0 {
			row.SpeedUp = float64(lat[0].P50) / float64(lat[1].P50)
		}
	}
	return nil
}

// compareHeader is the column list of compare.csv.
var compareHeader = []string{"method", "requested_reduction", "achieved_flops_reduction", "achieved_mac_reduction", "costing_seq_len",
	"metric", "value", "agreement", "mean_kl", "params", "layers", "latency_ms", "original_latency_ms", "speedup", "prune_seconds", "error"}

func (r *compareRow) csv() []string {
	f := func(v float64) string { return strconv.FormatFloat(v, 'g', 6, 64) }
	var layers []string
	for _, l := range r.Layers {
		layers = append(layers, fmt.Sprintf("%d/%d", l.Heads, l.FFN))
	}
	return []string{r.Method, f(r.RequestedReduction), f(r.AchievedFLOPs), f(r.AchievedMACs), f(r.SeqLen), r.Metric, f(r.Value), f(r.Agreement),
		f(r.MeanKL), strconv.FormatInt(r.Params, 10), strings.Join(layers, " "), f(r.LatencyMs), f(r.BaseMs), f(r.SpeedUp), f(r.PruneSeconds), r.Error}
}

// writeCompare writes compare.csv (the unpruned row first), compare.json and compare.svg, all
// or none.
func writeCompare(ctx context.Context, files map[string]string, res *compareResult) error {
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	w.Write(compareHeader)
	w.Write(res.Unpruned.csv())
	for i := range res.Rows {
		w.Write(res.Rows[i].csv())
	}
	w.Flush()
	if err := w.Error(); err != nil {
		return err
	}
	csvBytes := append([]byte(nil), b.Bytes()...)
	js, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return err
	}
	b.Reset()
	if err := report.PlotSVG(&b, comparePlot(res)); err != nil {
		return fmt.Errorf("plot: %w", err)
	}
	tx := &outputTx{}
	for _, f := range []struct {
		path string
		b    []byte
	}{{files["csv"], csvBytes}, {files["json"], append(js, '\n')}, {files["svg"], b.Bytes()}} {
		if err := tx.writeFile(ctx, f.path, f.b); err != nil {
			tx.rollback()
			return err
		}
	}
	return nil
}

// comparePlot is the metric-versus-achieved-FLOPs-reduction chart: one line per method (runs
// that failed are left out) and the unpruned model as the reference line.
func comparePlot(res *compareResult) report.Plot {
	p := report.Plot{
		Title:     fmt.Sprintf("%s on %s vs FLOPs reduction", res.Metric, filepath.Base(res.Eval)),
		YLabel:    res.Metric,
		Reference: &report.Line{Label: "unpruned", Y: res.Unpruned.Value},
	}
	var order []string
	byMethod := map[string][]report.Point{}
	for _, r := range res.Rows {
		if r.Error != "" {
			continue
		}
		if _, ok := byMethod[r.Method]; !ok {
			order = append(order, r.Method)
		}
		byMethod[r.Method] = append(byMethod[r.Method], report.Point{X: r.AchievedFLOPs, Y: r.Value})
	}
	for _, mt := range order {
		p.Series = append(p.Series, report.Series{Name: methodLabel(mt), Points: byMethod[mt]})
	}
	return p
}

func methodLabel(m string) string {
	switch m {
	case "kprune":
		return "K-prune"
	case "kwon":
		return "Kwon et al."
	}
	return m
}

// printCompare prints the comparison table.
func printCompare(w io.Writer, res *compareResult) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "method\trequested\tachieved\t%s\tagreement\tparams\tspeed-up\tseconds\t\n", res.Metric)
	line := func(r *compareRow, requested, speed, secs string) {
		if r.Error != "" {
			fmt.Fprintf(tw, "%s\t%s\tfailed\t\t\t\t\t%s\t\n", r.Method, requested, secs)
			return
		}
		fmt.Fprintf(tw, "%s\t%s\t%.2f%%\t%.4f\t%.2f%%\t%d\t%s\t%s\t\n", r.Method, requested, 100*r.AchievedFLOPs, r.Value, 100*r.Agreement, r.Params, speed, secs)
	}
	line(&res.Unpruned, "-", "1.00x", "-")
	for i := range res.Rows {
		r := &res.Rows[i]
		speed := "-"
		if r.SpeedUp > 0 {
			speed = fmt.Sprintf("%.2fx", r.SpeedUp)
		}
		line(r, fmt.Sprintf("%.0f%%", 100*r.RequestedReduction), speed, fmt.Sprintf("%.1f", r.PruneSeconds))
	}
	tw.Flush()
	if res.Latency.Runs > 0 {
		fmt.Fprintf(w, "speed-up: onnxruntime p50 latency of the original over the pruned model at batch %d x %d tokens, %d interleaved runs\n", res.Latency.Batch, res.Latency.Seq, res.Latency.Runs)
	}
}
