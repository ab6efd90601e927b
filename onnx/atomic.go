package onnx

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"time"

	"google.golang.org/protobuf/proto"
)

// Save writes m to path atomically: it writes a temporary file in the same folder, syncs it,
// and renames it over path, so a reader never sees a partial model. m is not modified.
func Save(path string, m *ModelProto, opts SaveOptions) error {
	return SaveContext(context.Background(), path, m, opts)
}

// SaveContext is [Save] that stops when ctx is done: the temporary files are removed, path (and
// its external data file) are left as they were, and the context's error is returned.
func SaveContext(ctx context.Context, path string, m *ModelProto, opts SaveOptions) error {
	if !opts.Overwrite {
		if _, err := os.Stat(path); err == nil {
			return fmt.Errorf("saving model: %s already exists (refusing to overwrite it)", path)
		}
	}
	dir := filepath.Dir(path)
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return fmt.Errorf("saving model: output folder %s does not exist", dir)
	}
	if opts.ExternalData || proto.Size(m) > maxProtoBytes {
		return saveExternal(ctx, path, m, opts)
	}
	b, err := Encode(m)
	if err != nil {
		return fmt.Errorf("saving %s: %w", path, err)
	}
	return WriteFileAtomicContext(ctx, path, b)
}

// ExternalDataPath is the data file [Save] writes next to path when it stores tensors outside the
// model: path with ".data" appended.
func ExternalDataPath(path string) string { return path + ".data" }

func saveExternal(ctx context.Context, path string, m *ModelProto, opts SaveOptions) error {
	threshold := opts.ExternalThreshold
	if threshold <= 0 {
		threshold = 1024
	}
	m = proto.Clone(m).(*ModelProto)
	dataPath := ExternalDataPath(path)
	dataName := filepath.Base(dataPath)
	var data bytes.Buffer
	WalkTensors(m.GetGraph(), func(t *TensorProto) {
		if len(t.RawData) < threshold {
			return
		}
		// Align each tensor to 4 KiB as onnx's own writer does, for mmap-friendly reading.
		if pad := data.Len() % 4096; pad != 0 {
			data.Write(make([]byte, 4096-pad))
		}
		off, n := data.Len(), len(t.RawData)
		data.Write(t.RawData)
		t.RawData = nil
		t.DataLocation = TensorProto_EXTERNAL.Enum()
		t.ExternalData = []*StringStringEntryProto{
			{Key: proto.String("location"), Value: proto.String(dataName)},
			{Key: proto.String("offset"), Value: proto.String(strconv.Itoa(off))},
			{Key: proto.String("length"), Value: proto.String(strconv.Itoa(n))},
		}
	})
	b, err := Encode(m)
	if err != nil {
		return fmt.Errorf("saving %s: %w", path, err)
	}
	if err := WriteFileAtomicContext(ctx, dataPath, data.Bytes()); err != nil {
		return err
	}
	return WriteFileAtomicContext(ctx, path, b)
}

// WriteFileAtomic writes b to path through a temporary file in the same folder and a rename.
func WriteFileAtomic(path string, b []byte) error {
	return WriteFileAtomicContext(context.Background(), path, b)
}

// writeChunk is how much WriteFileAtomicContext writes between two looks at its context.
const writeChunk = 4 << 20

// WriteFileAtomicContext writes b to path through a temporary file in the same folder (named
// ".BASE.tmp-DIGITS", see [StaleTempFiles]), synced and renamed over path, so that path is either
// its old content or all of b. It writes in chunks and stops when ctx is done: the temporary file
// is then removed, path is left as it was, and the context's error is returned.
func WriteFileAtomicContext(ctx context.Context, path string, b []byte) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	tmp := f.Name()
	fail := func(err error) error {
		f.Close()
		os.Remove(tmp)
		return fmt.Errorf("writing %s: %w", path, err)
	}
	for off := 0; off < len(b); off += writeChunk {
		if err := ctx.Err(); err != nil {
			return fail(err)
		}
		if _, err := f.Write(b[off:min(off+writeChunk, len(b))]); err != nil {
			return fail(err)
		}
	}
	if err := f.Sync(); err != nil {
		return fail(err)
	}
	if err := ctx.Err(); err != nil {
		return fail(err)
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := os.Chmod(tmp, 0o644); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

// StaleTempFiles lists the temporary files that writes of path (WriteFileAtomicContext, Save,
// and Save's external data file) leave behind when the process is killed mid-write: files in
// path's folder named exactly ".BASE.tmp-DIGITS" for BASE the name of path or of its data
// file, last modified before `before` (pass the time the current process started, so that
// writes in progress are never listed). Nothing else is ever listed.
func StaleTempFiles(path string, before time.Time) ([]string, error) {
	dir := filepath.Dir(path)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var pats []*regexp.Regexp
	for _, p := range []string{path, ExternalDataPath(path)} {
		pats = append(pats, regexp.MustCompile(`^\.`+regexp.QuoteMeta(filepath.Base(p))+`\.tmp-[0-9]+$`))
	}
	var out []string
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		match := false
		for _, re := range pats {
			match = match || re.MatchString(e.Name())
		}
		if !match {
			continue
		}
		if info, err := e.Info(); err == nil && info.ModTime().Before(before) {
			out = append(out, filepath.Join(dir, e.Name()))
		}
	}
	return out, nil
}
