// Package testutil holds helpers shared by the tests of every kprune package: locating the
// ../shared folder of models and data (skipping cleanly when it is absent, as in a user's clone)
// and locating the repository root.
//
// It is for tests only; product code must not import it.
package testutil

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// RepoRoot returns the absolute path of the repository root (the folder holding go.mod).
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// SharedDir returns the absolute path of the ../shared folder next to the repository root, or
// "" when it does not exist. The KPRUNE_SHARED environment variable overrides the location.
func SharedDir() string {
	dir := os.Getenv("KPRUNE_SHARED")
	if dir == "" {
		dir = filepath.Join(RepoRoot(), "..", "shared")
	}
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return ""
	}
	return dir
}

// Shared returns the path of rel inside the shared folder, skipping the test with a clear
// message when the shared folder or that file is absent.
func Shared(t testing.TB, rel string) string {
	t.Helper()
	dir := SharedDir()
	if dir == "" {
		t.Skipf("../shared is not present next to the repository (set KPRUNE_SHARED to its path); skipping test that needs %s", rel)
	}
	p := filepath.Join(dir, rel)
	if _, err := os.Stat(p); err != nil {
		t.Skipf("shared file %s is absent: %v", p, err)
	}
	return p
}
