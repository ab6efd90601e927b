// Package pipeline strings the library's steps together into the runs kprune's commands make, for
// Go callers that want the same run without the CLI: Prune loads a model and its data files,
// builds the calibration set, prunes, self-checks the result, fills its report and writes the
// outputs (optionally quantizing the pruned model); Evaluate evaluates a model file (and its
// agreement with a teacher) on a data file; CompareSweep loads what a compare.Sweep needs;
// Quantize quantizes a model file and compares it with the float one (QuantizeData reads its
// data); Demo prunes and measures the built-in demo model; WriteTokenized prints a data file's
// token ids; ReportPage renders a saved run report as HTML; ProgressBar draws pruning progress
// on a terminal.
//
// It prints nothing by itself: progress goes to the callbacks it is given, text to the writers
// it is given, and results come back as values that the packages they belong to render
// (report.WriteSummary, eval.Result.WriteText, ...). Files are written all or nothing through
// package output. It is not for reading flags (cmd/kprune).
package pipeline

import (
	"fmt"

	"github.com/kprune/kprune/data"
	"github.com/kprune/kprune/graph"
	"github.com/kprune/kprune/onnx"
	"github.com/kprune/kprune/prune"
)

// Data says how a run reads its data files.
type Data struct {
	// Tokenizer is the model's tokenizer.json or vocab.txt ("": next to the model).
	Tokenizer string
	// Read are the read options of a data file with its label column; where a step needs no
	// labels, the label column is dropped (NoLabels).
	Read data.ReadOptions
	// MaxLen is the maximum sequence length in tokens; Batch the batch size in sequences.
	MaxLen, Batch int
	// FitMaxLen lowers MaxLen to the size of the model's position table when that is smaller
	// (MaxLen is a default, not the caller's choice); otherwise a MaxLen above it is a
	// *SeqLenError.
	FitMaxLen bool
}

// classNames sets d.Read.ModelLabels to the class names of the config.json beside modelPaths
// (prune.ClassNames), unless the caller fixed the names (Read.LabelNames).
func (d *Data) classNames(modelPaths ...string) error {
	if d.Read.LabelNames != nil || d.Read.ModelLabels != nil {
		return nil
	}
	names, _, err := prune.ClassNames(modelPaths...)
	d.Read.ModelLabels = names
	return err
}

// NoLabels returns read without a label column: for files read for their text only.
func NoLabels(read data.ReadOptions) data.ReadOptions {
	read.LabelColumn = data.NoColumn
	read.Labels = data.LabelNone
	return read
}

// SeqLenError says that a sequence length exceeds what a model takes: the size of its
// position-embedding table (graph.MaxPositions).
type SeqLenError struct {
	// Setting is the length that is too long: "MaxLen" (Data.MaxLen) or "LatencySeq"
	// (CompareOptions.LatencySeq).
	Setting string
	// Path names the model; Seq is the length asked for and Max the most it takes.
	Path     string
	Seq, Max int
}

// Error returns "PATH takes at most MAX tokens per sequence ...".
func (e *SeqLenError) Error() string {
	return fmt.Sprintf("%s takes at most %d tokens per sequence (the size of its position-embedding table)", e.Path, e.Max)
}

// CheckSeqLen returns a *SeqLenError for setting when sequences of n tokens exceed what model m
// (named name, with encoder enc) takes.
func CheckSeqLen(setting string, n int, name string, m *onnx.ModelProto, enc *graph.Encoder) error {
	if p := graph.MaxPositions(m, enc); p > 0 && n > p {
		return &SeqLenError{Setting: setting, Path: name, Seq: n, Max: p}
	}
	return nil
}

// fit applies FitMaxLen and checks MaxLen against model m (named name, with encoder enc).
func (d *Data) fit(name string, m *onnx.ModelProto, enc *graph.Encoder) error {
	if p := graph.MaxPositions(m, enc); d.FitMaxLen && p > 2 && d.MaxLen > p {
		d.MaxLen = p
	}
	return CheckSeqLen("MaxLen", d.MaxLen, name, m, enc)
}

// seqOrder returns 0, 1, ..., n-1.
func seqOrder(n int) []int {
	o := make([]int, n)
	for i := range o {
		o[i] = i
	}
	return o
}
