package onnx

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"
)

// cancelAfter is a context that reports itself cancelled from its n-th Err call on: a
// cancellation that arrives in the middle of a write.
type cancelAfter struct {
	context.Context
	n, calls atomic.Int32
}

func (c *cancelAfter) Err() error {
	if c.calls.Add(1) >= c.n.Load() {
		return context.Canceled
	}
	return nil
}

func listDir(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}

// TestWriteFileAtomicContextCancels: a cancellation before or during the write leaves neither
// the file nor a temporary file, and an existing file keeps its content.
func TestWriteFileAtomicContextCancels(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "out.onnx")
	big := make([]byte, 3*writeChunk+5)
	for n := int32(1); n <= 5; n++ {
		ctx := &cancelAfter{Context: context.Background()}
		ctx.n.Store(n)
		err := WriteFileAtomicContext(ctx, path, big)
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("cancelled at check %d: %v", n, err)
		}
		if left := listDir(t, dir); len(left) != 0 {
			t.Fatalf("cancelled at check %d: left %v", n, left)
		}
	}
	if err := os.WriteFile(path, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx := &cancelAfter{Context: context.Background()}
	ctx.n.Store(3)
	if err := WriteFileAtomicContext(ctx, path, big); err == nil {
		t.Fatal("no error")
	}
	if b, _ := os.ReadFile(path); string(b) != "old" {
		t.Fatalf("existing file changed to %d bytes", len(b))
	}
	if left := listDir(t, dir); len(left) != 1 {
		t.Fatalf("left %v", left)
	}
	if err := WriteFileAtomicContext(context.Background(), path, big); err != nil {
		t.Fatal(err)
	}
	if st, _ := os.Stat(path); st.Size() != int64(len(big)) {
		t.Fatalf("size %d", st.Size())
	}
}

// TestStaleTempFiles lists exactly the temporary files of our own pattern, for the path and
// its data file, older than the given time.
func TestStaleTempFiles(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "m.onnx")
	old := time.Now().Add(-time.Hour)
	files := map[string]bool{
		".m.onnx.tmp-123":      true,
		".m.onnx.data.tmp-9":   true,
		".m.onnx.tmp-12x":      false, // not digits
		"m.onnx.tmp-123":       false, // not hidden
		".other.onnx.tmp-1":    false, // another output
		".m.onnx.tmp-":         false,
		".m.onnx.tmp-5.keep":   false,
		".m.onnx.tmp-77-fresh": false,
	}
	for n := range files {
		p := filepath.Join(dir, n)
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, old, old); err != nil {
			t.Fatal(err)
		}
	}
	fresh := filepath.Join(dir, ".m.onnx.tmp-456") // a write in progress
	if err := os.WriteFile(fresh, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := StaleTempFiles(path, time.Now().Add(-time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{}
	for n, stale := range files {
		if stale {
			want[filepath.Join(dir, n)] = true
		}
	}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for _, g := range got {
		if !want[g] {
			t.Fatalf("got %v, want %v", got, want)
		}
	}
}
