package prune

import (
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"

	"github.com/kprune/kprune/data"
	"github.com/kprune/kprune/graph"
	"github.com/kprune/kprune/onnx"
	"github.com/kprune/kprune/quantize"
)

// Report is the machine-readable account of a pruning run (written as JSON by the CLI).
type Report struct {
	Method             string  `json:"method"`
	InputModel         string  `json:"input_model,omitempty"`
	OutputModel        string  `json:"output_model,omitempty"`
	InputBytes         int64   `json:"input_bytes,omitempty"`
	OutputBytes        int64   `json:"output_bytes,omitempty"`
	RequestedReduction float64 `json:"requested_flops_reduction"`
	AchievedReduction  float64 `json:"achieved_flops_reduction"`
	// Hidden and HeadDim are the encoder's width D and head width d_h.
	Hidden  int `json:"hidden"`
	HeadDim int `json:"head_dim"`
	// Unfused counts the onnxruntime operators (by type) turned back into standard ONNX before
	// pruning; the pruned model is written in standard ONNX.
	Unfused map[string]int `json:"unfused_ops,omitempty"`
	// Head is the kind of output head, HeadOutputs the graph outputs it produces, and Loss says
	// which output the predictive loss is taken on and how.
	Head        string   `json:"head"`
	HeadOutputs []string `json:"head_outputs"`
	Loss        string   `json:"loss"`
	// SeqLen is the costing sequence length of the FLOPs model.
	SeqLen       float64      `json:"costing_seq_len"`
	FLOPsBefore  float64      `json:"flops_before"`
	FLOPsAfter   float64      `json:"flops_after"`
	ParamsBefore int64        `json:"params_before"`
	ParamsAfter  int64        `json:"params_after"`
	Layers       []LayerUnits `json:"layers"`
	// LayersBefore describes the input model in the same way.
	LayersBefore     []LayerUnits `json:"layers_before"`
	RemovedSublayers []int        `json:"removed_sublayers"`
	Iterations       []Iteration  `json:"iterations,omitempty"`
	Calibration      CalibStats   `json:"calibration"`
	Options          Options      `json:"options"`
	// Setting names K-prune's setting ([Options.Setting]): "default", "faithful" (the paper's
	// exact setting) or "custom: ..."; empty for the other methods.
	Setting        string  `json:"setting,omitempty"`
	TeacherSeconds float64 `json:"teacher_seconds"`
	TotalSeconds   float64 `json:"total_seconds"`
	ORTSeconds     float64 `json:"ort_seconds"`
	// PeakRSSBytes is the peak resident set size during the run (Linux; the process's lifetime
	// peak where the counter cannot be reset).
	PeakRSSBytes int64 `json:"peak_rss_bytes"`
	// TeacherPeakRSSBytes is the peak during the teacher pass (K-prune only).
	TeacherPeakRSSBytes int64      `json:"teacher_peak_rss_bytes,omitempty"`
	Versions            Versions   `json:"versions"`
	SelfCheck           *SelfCheck `json:"self_check,omitempty"`
	// Task is the task metric of the original and the pruned model on labelled held-out data
	// (prune --eval with labels or scores), when measured.
	Task *TaskMetric `json:"task,omitempty"`
	// Warnings are signs that the result may be poor (see QualityWarnings); the pruning
	// functions leave them empty, a caller that has finished the run (self-check included) sets
	// them.
	Warnings []Warning `json:"warnings,omitempty"`
	// Quantization describes the int8 quantization of the pruned model (kprune prune
	// --quantize), and Models the original float, pruned float and pruned int8 models side by
	// side (metric, agreement, size on disk, latency).
	Quantization *quantize.Report `json:"quantization,omitempty"`
	Models       []ModelFigures   `json:"models,omitempty"`
}

// Warning is a sign that a run's result may be poor: the run succeeded, but its calibration or
// its check says not to trust it blindly.
type Warning struct {
	// Code identifies the warning: "few-calibration-sequences", "no-self-check" or
	// "low-agreement".
	Code string `json:"code"`
	// Message says what was found and what to do, in one sentence.
	Message string `json:"message"`
}

// Thresholds of QualityWarnings.
const (
	// MinDistinctSequences is the fewest distinct calibration sequences that do not warn: with
	// fewer, the knowledge measured depends on a handful of sentences (the reference draws
	// thousands).
	MinDistinctSequences = 32
	// MinAgreement is the lowest self-check agreement with the original model that does not
	// warn.
	MinAgreement = 0.9
	// MaxTaskDrop is the largest fall of the task metric (accuracy or Spearman, absolute) on
	// labelled evaluation data that does not warn.
	MaxTaskDrop = 0.02
)

// QualityWarnings returns the warnings a finished run deserves: fewer than
// MinDistinctSequences distinct calibration sequences (methods that read data); then, when the
// run measured the task metric on labelled data (Task), a fall of more than MaxTaskDrop;
// otherwise no self-check (SelfCheck nil), or a self-check agreement below MinAgreement (for
// regression heads the share of outputs within 0.5, for embedding models the mean cosine). r is
// not modified.
func (r *Report) QualityWarnings() []Warning {
	var ws []Warning
	// Magnitude pruning reads no data: its calibration set only gives the costing length.
	if c := r.Calibration; r.Method != "magnitude" && c.Sequences > 0 && c.Distinct < MinDistinctSequences {
		ws = append(ws, Warning{Code: "few-calibration-sequences", Message: fmt.Sprintf(
			"the calibration set has only %d distinct sequences (%d draws); use at least %d different examples, ideally thousands", c.Distinct, c.Sequences, MinDistinctSequences)})
	}
	if t := r.Task; t != nil {
		// Labelled evaluation data: the task metric, not agreement, says whether quality held
		// (an embedding's cosine can drift while the ranking it serves stays).
		if t.Pruned < t.Original-MaxTaskDrop || math.IsNaN(t.Pruned) {
			ws = append(ws, Warning{Code: "task-drop", Message: fmt.Sprintf(
				"the pruned model's %s fell from %.4f to %.4f on %s (more than %.2f); prune less or check the calibration data", t.Metric, t.Original, t.Pruned, t.Data, MaxTaskDrop)})
		}
	} else if r.SelfCheck == nil {
		ws = append(ws, Warning{Code: "no-self-check", Message: "the pruned model was not checked against the original: no held-out data (give evaluation data, or more calibration rows than are sampled)"})
	} else if a := r.SelfCheck.Agreement; (a < MinAgreement || math.IsNaN(a)) && r.SelfCheck.Cosine != 0 {
		ws = append(ws, Warning{Code: "low-agreement", Message: fmt.Sprintf(
			"the pruned model's outputs have a mean cosine similarity of only %.4f with the original's on %d held-out examples (below %.2f); prune less or check the calibration data", a, r.SelfCheck.Examples, MinAgreement)})
	} else if a < MinAgreement || math.IsNaN(a) {
		ws = append(ws, Warning{Code: "low-agreement", Message: fmt.Sprintf(
			"the pruned model agrees with the original on only %.2f%% of %d held-out examples (below %.0f%%); prune less or check the calibration data", 100*a, r.SelfCheck.Examples, 100*MinAgreement)})
	}
	return ws
}

// LayerUnits is the number of heads and FFN neurons of one layer.
type LayerUnits struct {
	Heads int `json:"heads"`
	FFN   int `json:"ffn"`
}

// Iteration records one sublayer's K-prune iteration.
type Iteration struct {
	Sublayer int    `json:"sublayer"`
	Layer    int    `json:"layer"`
	Kind     string `json:"kind"`
	Units    int    `json:"units"`
	Kept     int    `json:"kept"`
	Removed  bool   `json:"removed"`
	// MeanLoss is the mean predictive loss over the calibration batches.
	MeanLoss float64 `json:"mean_loss"`
	// PredMass and RepMass are the summed predictive and (unweighted) representational knowledge
	// over all candidates; Lambda is the weight used on the latter.
	PredMass       float64 `json:"pred_mass"`
	RepMass        float64 `json:"rep_mass"`
	Lambda         float64 `json:"lambda"`
	Ridge          float64 `json:"ridge"`
	MeasureSeconds float64 `json:"measure_seconds"`
	SearchSeconds  float64 `json:"search_seconds"`
	TuneSeconds    float64 `json:"tune_seconds"`
	RewriteSeconds float64 `json:"rewrite_seconds"`
	AdvanceSeconds float64 `json:"advance_seconds"`
	ORTSeconds     float64 `json:"ort_seconds"`
	// GoHeapBytes is the Go heap in use at the end of the iteration (the rest of the process's
	// memory is onnxruntime's and the allocator's).
	GoHeapBytes int64 `json:"go_heap_bytes"`
	// RowsPerRun is the largest number of sequences the scoring graph ran on at once (the
	// micro-batch; see Options.MicroBatch).
	RowsPerRun int `json:"rows_per_run"`
	// PeakRSSBytes is the process's peak resident set size during the iteration (Linux).
	PeakRSSBytes int64 `json:"peak_rss_bytes,omitempty"`
}

// CalibStats describes the calibration set.
type CalibStats struct {
	Sequences int `json:"sequences"`
	Tokens    int `json:"tokens"`
	// PaddedTokens counts every position fed, padding included.
	PaddedTokens int     `json:"padded_tokens"`
	AvgLen       float64 `json:"avg_len"`
	// Distinct counts the different sequences among Sequences (draws with replacement repeat).
	Distinct int    `json:"distinct_sequences"`
	Batches  int    `json:"batches"`
	Seed     uint64 `json:"seed"`
	Source   string `json:"source,omitempty"`
	// Tokenizer is the tokenizer file the text was tokenized with ("" for token-id data).
	Tokenizer string `json:"tokenizer,omitempty"`
}

// Versions records the software that produced a result.
type Versions struct {
	Kprune      string `json:"kprune,omitempty"`
	Go          string `json:"go,omitempty"`
	ONNXRuntime string `json:"onnxruntime,omitempty"`
}

// TaskMetric compares the original and the pruned model on labelled data: Metric is "accuracy"
// (classification) or "spearman" (regression, and sentence embeddings on scored pairs: the
// Spearman correlation of the pairs' cosine similarity with the gold scores, as STS-B).
type TaskMetric struct {
	Data     string  `json:"data"`
	Examples int     `json:"examples"`
	Metric   string  `json:"metric"`
	Original float64 `json:"original"`
	Pruned   float64 `json:"pruned"`
}

// SelfCheck is the verification of a pruned model against its teacher on held-out data.
type SelfCheck struct {
	Loaded    bool    `json:"loaded"`
	Examples  int     `json:"examples"`
	Agreement float64 `json:"agreement"`        // top-1 match rate (classification/span/token)
	MeanKL    float64 `json:"mean_kl"`          // KL(teacher || student) of softmax outputs
	MaxAbs    float64 `json:"max_abs_diff"`     // largest absolute output difference
	Cosine    float64 `json:"cosine,omitempty"` // mean cosine of outputs (regression/embeddings)
}

// calibStats describes a calibration set of n batches with statistics stats.
func calibStats(stats data.Stats, n int) CalibStats {
	return CalibStats{Sequences: stats.Sequences, Tokens: stats.Tokens, PaddedTokens: stats.PaddedTokens, AvgLen: stats.AvgLen,
		Distinct: stats.Distinct, Batches: n}
}

// layerUnits lists heads and neurons per layer.
func layerUnits(enc *graph.Encoder) []LayerUnits {
	h, n := Units(enc)
	out := make([]LayerUnits, len(h))
	for i := range h {
		out[i] = LayerUnits{Heads: h[i], FFN: n[i]}
	}
	return out
}

// RemovedSublayers lists the sublayers of enc that were removed entirely.
func RemovedSublayers(enc *graph.Encoder) []int {
	out := []int{}
	for l, layer := range enc.Layers {
		if layer.MHA == nil {
			out = append(out, 2*l)
		}
		if layer.FFN == nil {
			out = append(out, 2*l+1)
		}
	}
	return out
}

// Params counts the floating-point parameters of a model.
func Params(m *onnx.ModelProto) int64 {
	var n int64
	for _, t := range m.GetGraph().GetInitializer() {
		switch onnx.TensorProto_DataType(t.GetDataType()) {
		case onnx.TensorProto_FLOAT, onnx.TensorProto_DOUBLE, onnx.TensorProto_FLOAT16, onnx.TensorProto_BFLOAT16:
			n += onnx.NumElements(t.GetDims())
		}
	}
	return n
}

func (r *Report) fill(cost Cost, before, after *graph.Encoder, mb, ma *onnx.ModelProto) {
	r.Hidden, r.HeadDim = cost.Hidden, cost.HeadDim
	r.Head, r.HeadOutputs = string(before.Head), before.Outputs
	r.Loss = LossDescription(before, r.Options.Temperature, r.Options.Pooling)
	if r.Method == "kprune" && r.Options.Fisher && before.Head == graph.HeadClassification && len(before.Outputs) > 0 {
		r.Loss = fmt.Sprintf("cross-entropy of the student's softmax(logits) on output %q with labels sampled from the teacher's, one per calibration sequence (empirical Fisher) [ours]", before.Outputs[0])
	}
	if r.Method == "kprune" && r.Options.PerExample {
		r.Loss += "; its mask gradients squared per example [ours]"
	}
	r.FLOPsBefore = cost.Encoder(before)
	r.FLOPsAfter = cost.Encoder(after)
	if r.FLOPsBefore > 0 {
		r.AchievedReduction = 1 - r.FLOPsAfter/r.FLOPsBefore
	}
	r.ParamsBefore, r.ParamsAfter = Params(mb), Params(ma)
	r.Layers = layerUnits(after)
	r.LayersBefore = layerUnits(before)
	r.RemovedSublayers = RemovedSublayers(after)
}

// resetPeakRSS restarts the kernel's peak-RSS counter (Linux: "5" into /proc/self/clear_refs)
// so that the report's peak covers the pruning run alone, not what the process did before.
// Where that is not possible the peak is the process's lifetime peak.
func resetPeakRSS() {
	_ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
}

// PeakRSS returns the process's peak resident set size in bytes (Linux VmHWM) since a pruning
// run last reset the kernel's counter (runs reset it when they start, K-prune also at each
// iteration; where it cannot be reset, since the process started), or 0 where unknown. Callers
// that do more work after a run (a self-check, saving) take the maximum with
// Report.PeakRSSBytes to cover the whole job.
func PeakRSS() int64 { return peakRSS() }

// peakRSS returns the process's peak resident set size (VmHWM) in bytes, or 0 where unknown.
func peakRSS() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmHWM:") {
			f := strings.Fields(line)
			if len(f) >= 2 {
				kb, _ := strconv.ParseInt(f[1], 10, 64)
				return kb * 1024
			}
		}
	}
	return 0
}
