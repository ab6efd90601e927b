package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/kprune/kprune/onnx"
)

// processStart is when this process started: our temporary files older than it were left by an
// earlier run that was killed mid-write.
var processStart = time.Now()

// checkOutputs runs before any long work on the files a command will write: each one's folder
// must exist and be writable (a temporary file is created and removed there), and a file that
// exists is an error unless force. Temporary files that an earlier, killed run left for these
// outputs (onnx.StaleTempFiles) are removed, and said so on w.
func checkOutputs(w io.Writer, force bool, paths ...string) error {
	checked := map[string]bool{}
	for _, p := range paths {
		dir := filepath.Dir(p)
		if !checked[dir] {
			checked[dir] = true
			if st, err := os.Stat(dir); err != nil || !st.IsDir() {
				return fmt.Errorf("output folder %s does not exist", dir)
			}
			if err := checkWritable(dir); err != nil {
				return err
			}
		}
		if st, err := os.Stat(p); err == nil {
			if st.IsDir() {
				return fmt.Errorf("output %s is a folder", p)
			}
			if !force {
				return fmt.Errorf("%s already exists (use --force to overwrite)", p)
			}
		}
		stale, _ := onnx.StaleTempFiles(p, processStart)
		for _, s := range stale {
			if err := os.Remove(s); err == nil {
				fmt.Fprintf(w, "removed %s, a temporary file left by an interrupted run\n", s)
			}
		}
	}
	return nil
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

// outputTx writes a command's outputs all or nothing: each file atomically, and on failure
// (rollback) the files already written are removed, so that a failed or interrupted run leaves
// none of its outputs (an output it replaced under --force is then gone too).
type outputTx struct {
	written []string
}

// saveModel saves m to path (and its external data file when onnx.Save makes one).
func (tx *outputTx) saveModel(ctx context.Context, path string, m *onnx.ModelProto, force bool) error {
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

// writeFile writes b to path.
func (tx *outputTx) writeFile(ctx context.Context, path string, b []byte) error {
	if err := onnx.WriteFileAtomicContext(ctx, path, b); err != nil {
		return err
	}
	tx.written = append(tx.written, path)
	return nil
}

// rollback removes every file written so far.
func (tx *outputTx) rollback() {
	for _, p := range tx.written {
		os.Remove(p)
	}
	tx.written = nil
}
