package prune

import (
	"time"
)

// ModelFigures are one model's measured figures, for the side-by-side table of a run that
// prunes and quantizes (original float, pruned float, pruned int8) or only quantizes (float,
// int8).
type ModelFigures struct {
	// Name labels the model ("original float", "pruned float", "pruned int8"); Path is its file.
	Name string `json:"name"`
	Path string `json:"path,omitempty"`
	// Bytes is the size on disk (external data included).
	Bytes int64 `json:"bytes"`
	// Params and Int8Params count the floating-point and 8-bit integer parameters.
	Params     int64 `json:"params"`
	Int8Params int64 `json:"int8_params,omitempty"`
	// Metrics are the task metrics on the held-out examples, when they have labels.
	Metrics *Metrics `json:"metrics,omitempty"`
	// Agreement compares the model with the first model of the table (the original) on the
	// held-out examples; nil for the first model itself.
	Agreement *SelfCheck `json:"agreement,omitempty"`
	// Latency holds one measurement per thread count, all models interleaved in one run.
	Latency []ModelLatency `json:"latency,omitempty"`
}

// Metrics are task metrics of predictions against gold labels or scores (computed by
// eval.Score; declared here because the run report holds them).
type Metrics struct {
	Accuracy *float64 `json:"accuracy,omitempty"`
	F1       *float64 `json:"f1,omitempty"`
	Matthews *float64 `json:"matthews,omitempty"`
	Pearson  *float64 `json:"pearson,omitempty"`
	Spearman *float64 `json:"spearman,omitempty"`
}

// ModelLatency is a model's onnxruntime latency on a synthetic batch at one thread count.
type ModelLatency struct {
	Batch   int           `json:"batch"`
	Seq     int           `json:"seq"`
	Threads int           `json:"threads"` // 0: onnxruntime's default
	Runs    int           `json:"runs"`
	Mean    time.Duration `json:"mean_ns"`
	P50     time.Duration `json:"p50_ns"`
	P90     time.Duration `json:"p90_ns"`
	// Speedup is the first model's p50 latency over this one's, measured in the same run.
	Speedup float64 `json:"speedup"`
}
