// Package output writes a run's files all or nothing: it checks the outputs before any long
// work (folder exists and is writable, no file overwritten unless forced, temporary files of an
// interrupted run cleared), writes each file atomically, and removes the files already written
// when a later one fails or the run is cancelled; WriteRun writes a pruned model with its JSON
// and HTML reports as one such set.
//
// It is not for reading models (package onnx) nor for rendering reports (package report).
package output

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/kprune/kprune/onnx"
	"github.com/kprune/kprune/prune"
	"github.com/kprune/kprune/report"
)

// processStart is when this process started: our temporary files older than it were left by an
// earlier run that was killed mid-write.
var processStart = time.Now()

// Check runs before any long work on the files a command will write: each one's folder must
// exist and be writable (a temporary file is created and removed there), and a file that exists
// is an error unless force. Temporary files that an earlier, killed run left for these outputs
// (onnx.StaleTempFiles) are removed and returned.
func Check(force bool, paths ...string) (removed []string, err error) {
	checked := map[string]bool{}
	for _, p := range paths {
		dir := filepath.Dir(p)
		if !checked[dir] {
			checked[dir] = true
			if st, err := os.Stat(dir); err != nil || !st.IsDir() {
				return removed, fmt.Errorf("output folder %s does not exist", dir)
			}
			if err := checkWritable(dir); err != nil {
				return removed, err
			}
		}
		if st, err := os.Stat(p); err == nil {
			if st.IsDir() {
				return removed, fmt.Errorf("output %s is a folder", p)
			}
			if !force {
				return removed, fmt.Errorf("%s already exists (use --force to overwrite)", p)
			}
		}
		stale, _ := onnx.StaleTempFiles(p, processStart)
		for _, s := range stale {
			if err := os.Remove(s); err == nil {
				removed = append(removed, s)
			}
		}
	}
	return removed, nil
}

// checkWritable creates and removes a temporary file in dir.
func checkWritable(dir string) error {
	f, err := os.CreateTemp(dir, ".kprune-write-check-*")
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return fmt.Errorf("output folder %s is not writable: %w", dir, err)
	}
	name := f.Name()
	f.Close()
	if err := os.Remove(name); err != nil {
		return fmt.Errorf("output folder %s: %w", dir, err)
	}
	return nil
}

// Tx writes a command's outputs all or nothing: each file atomically, and on failure
// (Rollback) the files already written are removed, so that a failed or interrupted run leaves
// none of its outputs (an output it replaced under force is then gone too).
type Tx struct {
	written []string
}

// SaveModel saves m to path (and its external data file when onnx.Save makes one).
func (tx *Tx) SaveModel(ctx context.Context, path string, m *onnx.ModelProto, force bool) error {
	data := onnx.ExternalDataPath(path)
	_, dataErr := os.Stat(data)
	err := onnx.SaveContext(ctx, path, m, onnx.SaveOptions{Overwrite: force})
	if _, err := os.Stat(data); err == nil && dataErr != nil {
		tx.written = append(tx.written, data)
	}
	if err != nil {
		return err
	}
	tx.written = append(tx.written, path)
	return nil
}

// WriteFile writes b to path.
func (tx *Tx) WriteFile(ctx context.Context, path string, b []byte) error {
	if err := onnx.WriteFileAtomicContext(ctx, path, b); err != nil {
		return err
	}
	tx.written = append(tx.written, path)
	return nil
}

// Rollback removes every file written so far.
func (tx *Tx) Rollback() {
	for _, p := range tx.written {
		os.Remove(p)
	}
	tx.written = nil
}

// FileBytes is the size of a model file and its external data file, or 0.
func FileBytes(path string) int64 {
	if path == "" {
		return 0
	}
	var n int64
	if st, err := os.Stat(path); err == nil {
		n = st.Size()
	}
	if st, err := os.Stat(onnx.ExternalDataPath(path)); err == nil {
		n += st.Size()
	}
	return n
}

// Model is a model to write and its path.
type Model struct {
	Path  string
	Model *onnx.ModelProto
}

// Run is a pruning run's outputs: its models (the pruned one first), the JSON run report and
// the HTML report.
type Run struct {
	Models               []Model
	ReportPath, HTMLPath string
	Report               *prune.Report
	Extra                report.Extra
	// Force overwrites existing files.
	Force bool
	// AfterModels, when not nil, runs once the models are written and before the reports are
	// encoded (to measure the written files into the report); an error rolls back.
	AfterModels func() error
}

// WriteRun writes the models and the reports all or nothing: the reports are encoded before the
// models are written, and if anything fails afterwards (or ctx is cancelled) the files already
// written are removed. It fills Report.OutputBytes (the first model's file) and extends
// Report.PeakRSSBytes to the process's peak so far.
func WriteRun(ctx context.Context, r Run) error {
	rep := r.Report
	reports := func() ([]byte, []byte, error) {
		b, err := json.MarshalIndent(rep, "", "  ")
		if err != nil {
			return nil, nil, fmt.Errorf("run report: %w", err)
		}
		var page bytes.Buffer
		if err := report.HTML(&page, rep, r.Extra); err != nil {
			return nil, nil, fmt.Errorf("HTML report: %w", err)
		}
		return append(b, '\n'), page.Bytes(), nil
	}
	if _, _, err := reports(); err != nil {
		return err
	}
	tx := &Tx{}
	done := false
	defer func() {
		if !done {
			tx.Rollback()
		}
	}()
	for _, m := range r.Models {
		if err := tx.SaveModel(ctx, m.Path, m.Model, r.Force); err != nil {
			return err
		}
	}
	if st, err := os.Stat(r.Models[0].Path); err == nil {
		rep.OutputBytes = st.Size()
	}
	if r.AfterModels != nil {
		if err := r.AfterModels(); err != nil {
			return err
		}
	}
	// The run's peak covers pruning; extend it to the self-check and the save.
	rep.PeakRSSBytes = max(rep.PeakRSSBytes, prune.PeakRSS())
	js, page, err := reports()
	if err != nil {
		return err
	}
	if err := tx.WriteFile(ctx, r.ReportPath, js); err != nil {
		return err
	}
	if err := tx.WriteFile(ctx, r.HTMLPath, page); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	done = true
	return nil
}

// InputError says that an output path is the input model: the same path (SamePath), or another
// path to the same file.
type InputError struct {
	Path     string
	SamePath bool
}

// Error returns "PATH is the input model" (with "; choose another path ..." for the same path).
func (e *InputError) Error() string {
	if e.SamePath {
		return e.Path + " is the input model; choose another path (the input is never overwritten)"
	}
	return e.Path + " is the input model"
}

// NotInput returns an *InputError when one of outs is the input model: the same absolute path,
// or a path to the same file (a link). The input is never overwritten.
func NotInput(model string, outs ...string) error {
	in, err := filepath.Abs(model)
	if err != nil {
		return nil
	}
	ist, ierr := os.Stat(model)
	for _, o := range outs {
		if out, err := filepath.Abs(o); err == nil && out == in {
			return &InputError{Path: o, SamePath: true}
		}
		if ierr == nil {
			if ost, err := os.Stat(o); err == nil && os.SameFile(ist, ost) {
				return &InputError{Path: o}
			}
		}
	}
	return nil
}
