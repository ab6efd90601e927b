package pipeline

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/kprune/kprune/bench"
	"github.com/kprune/kprune/compare"
	"github.com/kprune/kprune/data"
	"github.com/kprune/kprune/eval"
	"github.com/kprune/kprune/onnx"
	"github.com/kprune/kprune/output"
	"github.com/kprune/kprune/prune"
	"github.com/kprune/kprune/quantize"
)

// QuantizeData are the data files of a quantization (`kprune quantize`): the calibration set of
// static mode and the held-out examples on which the float and int8 models are compared.
type QuantizeData struct {
	// Data says how the files are read (Batch: calibration batch size).
	Data Data
	// CalibPath is the calibration file ("" for none); EvalPath the held-out file (""
	// for up to 512 rows of CalibPath that the calibration set did not draw).
	CalibPath, EvalPath string
	// Static draws a calibration set of Samples sequences (at most the file's rows, without
	// replacement, seeded by Seed) from CalibPath.
	Static  bool
	Samples int
	Seed    uint64
}

// Load reads the calibration batches of static mode (nil otherwise) and the held-out examples
// of the float/int8 comparison of model m (read from modelPath): EvalPath, else the rows of
// CalibPath not used for calibration. Without either file it returns nothing.
func (q *QuantizeData) Load(m *onnx.ModelProto, modelPath string) ([]data.Batch, compare.HeldOut, error) {
	var ho compare.HeldOut
	if q.CalibPath == "" && q.EvalPath == "" {
		return nil, ho, nil
	}
	df := &q.Data
	tok, err := prune.OpenTokenizer(df.Tokenizer, modelPath)
	if err != nil {
		return nil, ho, err
	}
	std, enc, _, _, err := prune.Structure(m)
	if err != nil {
		return nil, ho, fmt.Errorf("%s: reading the encoder for the calibration/evaluation data: %w", modelPath, err)
	}
	if err := prune.CheckTokenizer(tok, std, enc); err != nil {
		return nil, ho, fmt.Errorf("tokenizer does not fit model %s: %w", modelPath, err)
	}
	if err := df.fit(modelPath, std, enc); err != nil {
		return nil, ho, err
	}
	var calib []data.Batch
	var used []int
	var encs []data.Encoding
	if q.CalibPath != "" {
		if _, encs, err = prune.ReadEncoded(tok, q.CalibPath, nil, NoLabels(df.Read), df.MaxLen); err != nil {
			return nil, ho, err
		}
		if q.Static {
			cs, err := data.BuildCalibration(encs, data.CalibOptions{SampleOptions: data.SampleOptions{N: min(q.Samples, len(encs)), Seed: q.Seed}, BatchSize: df.Batch, Padding: prune.Padding(tok)})
			if err != nil {
				return nil, ho, fmt.Errorf("%s: %w", q.CalibPath, err)
			}
			calib, used = cs.Batches, cs.Indices
		}
	}
	src, rows := q.EvalPath, 0
	var order []int
	if q.EvalPath != "" {
		if _, encs, err = prune.ReadEncoded(tok, q.EvalPath, nil, NoLabels(df.Read), df.MaxLen); err != nil {
			return nil, ho, err
		}
		rows, order = len(encs), seqOrder(len(encs))
		ho.Source = q.EvalPath
	} else {
		src, rows = q.CalibPath, len(encs)
		order = eval.Unsampled(len(encs), used, 512)
		ho.Source = fmt.Sprintf("%d rows of %s not used for calibration", len(order), q.CalibPath)
	}
	if len(order) > 0 {
		if ho.Batches, err = data.MakeBatches(encs, order, 64, prune.Padding(tok)); err != nil {
			return nil, ho, err
		}
		ho.Labels, ho.Scores = eval.Targets(src, df.Read, rows, order)
	}
	return calib, ho, nil
}

// Quantization is the JSON report of a quantization run (`kprune quantize`).
type Quantization struct {
	InputModel   string               `json:"input_model"`
	OutputModel  string               `json:"output_model"`
	Quantization *quantize.Report     `json:"quantization"`
	Models       []prune.ModelFigures `json:"models"`
	// HeldOut says which examples the metric and agreement were measured on.
	HeldOut string         `json:"held_out,omitempty"`
	Seconds float64        `json:"seconds"`
	Version prune.Versions `json:"versions"`
}

// Quantize is a quantization run of a float model file: the int8 model and its JSON report
// (a Quantization) are written all or nothing.
type Quantize struct {
	// ModelPath is the float model (never modified), OutPath the int8 model and ReportPath the
	// JSON report; Force overwrites them.
	ModelPath, OutPath, ReportPath string
	Force                          bool
	// Mode and Options are the quantization's; Data its data files.
	Mode    quantize.Mode
	Options quantize.Options
	Data    QuantizeData
	// Latency is how the float and int8 models are timed side by side (nil: not timed);
	// Threads the onnxruntime threads of calibration and evaluation.
	Latency *bench.LatencyOptions
	Threads int
	// Versions go into the report.
	Versions prune.Versions
}

// Run loads and quantizes the model, writes the int8 model, measures the float and int8 models
// side by side (compare.SideBySide) and writes the report. It also returns the sequence length
// at which latency was measured (0 when it was not), even with an error.
func (q *Quantize) Run(ctx context.Context) (*Quantization, int, error) {
	t0 := time.Now()
	m, err := onnx.Load(q.ModelPath)
	if err != nil {
		return nil, 0, err
	}
	if quantize.IsQuantized(m) {
		return nil, 0, fmt.Errorf("%s: %w: quantize the float model (kprune quantize reads float32 models only)", q.ModelPath, quantize.ErrAlreadyQuantized)
	}
	calib, ho, err := q.Data.Load(m, q.ModelPath)
	if err != nil {
		return nil, 0, err
	}
	qm, qrep, err := quantize.Quantize(ctx, m, q.Mode, q.Options, calib)
	if err != nil {
		return nil, 0, fmt.Errorf("%s: %w", q.ModelPath, err)
	}
	tx := &output.Tx{}
	done := false
	defer func() {
		if !done {
			tx.Rollback()
		}
	}()
	if err := tx.SaveModel(ctx, q.OutPath, qm, q.Force); err != nil {
		return nil, 0, err
	}
	figs, seq, err := compare.SideBySide(ctx, []compare.Model{{Name: "float", Path: q.ModelPath, Model: m}, {Name: "int8", Path: q.OutPath, Model: qm}}, ho, q.Latency, q.Threads)
	if err != nil {
		return nil, seq, err
	}
	run := &Quantization{InputModel: q.ModelPath, OutputModel: q.OutPath, Quantization: qrep, Models: figs, HeldOut: ho.Source, Version: q.Versions}
	run.Seconds = time.Since(t0).Seconds()
	b, err := json.MarshalIndent(run, "", "  ")
	if err != nil {
		return nil, seq, err
	}
	if err := tx.WriteFile(ctx, q.ReportPath, append(b, '\n')); err != nil {
		return nil, seq, err
	}
	if err := ctx.Err(); err != nil {
		return nil, seq, err
	}
	done = true
	return run, seq, nil
}
