package runtime_test

import (
	"errors"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"

	ort "github.com/kprune/kprune/runtime"
)

// TestErrNoLibrary checks that LibraryPath's errors match ErrNoLibrary (and keep their cause and
// message) when the library is missing.
func TestErrNoLibrary(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "libonnxruntime.so.1")
	cases := []struct {
		name  string
		env   string // KPRUNE_ORT_LIB
		cause error  // also matched by errors.Is (nil: none)
		text  string // the message contains it
	}{
		{"KPRUNE_ORT_LIB names a missing file", missing, fs.ErrNotExist, "onnxruntime library from $" + ort.EnvLibrary + ": "},
		{"no library anywhere", "", nil, "onnxruntime shared library not found: run `make ort`"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv(ort.EnvLibrary, c.env)
			t.Chdir(t.TempDir()) // no .ort folder above the working directory
			p, err := ort.LibraryPath()
			if err == nil {
				t.Skipf("a library was found elsewhere (%s)", p)
			}
			if !errors.Is(err, ort.ErrNoLibrary) {
				t.Errorf("errors.Is(%q, ErrNoLibrary) = false", err)
			}
			if c.cause != nil && !errors.Is(err, c.cause) {
				t.Errorf("errors.Is(%q, %v) = false", err, c.cause)
			}
			if !strings.Contains(err.Error(), c.text) {
				t.Errorf("message %q does not contain %q", err, c.text)
			}
		})
	}
}
