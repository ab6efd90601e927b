package runtime_test

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/kprune/kprune/internal/demo"
	"github.com/kprune/kprune/onnx"
	"github.com/kprune/kprune/runtime"
)

// TestNoRuntimeLogLines runs, in a child process, a session that fails inside onnxruntime (a
// position Gather out of range: 600 tokens for a 512-position model): the error comes back as a
// Go error, and onnxruntime writes nothing of its own to stderr (its default logger prints
// coloured "[E:onnxruntime:...]" lines even when stderr is not a terminal).
func TestNoRuntimeLogLines(t *testing.T) {
	if os.Getenv("KPRUNE_TEST_CHILD") == "ortlog" {
		m, err := onnx.Decode(demo.Model)
		if err != nil {
			panic(err)
		}
		s, err := runtime.NewSession(m, runtime.Options{IntraOpThreads: 1})
		if err != nil {
			panic(err)
		}
		defer s.Close()
		rows := [][]int64{make([]int64, 600)}
		for i := range rows[0] {
			rows[0][i] = 1000
		}
		if _, err := s.Run(context.Background(), batchInputs(rows)); err == nil {
			os.Stdout.WriteString("no error\n")
		} else {
			os.Stdout.WriteString("go error: " + err.Error() + "\n")
		}
		os.Exit(0)
	}
	if _, err := runtime.LibraryPath(); err != nil {
		t.Skipf("onnxruntime library not installed: %v", err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestNoRuntimeLogLines$")
	cmd.Env = append(os.Environ(), "KPRUNE_TEST_CHILD=ortlog")
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("child: %v\n%s%s", err, stdout.String(), stderr.String())
	}
	if !strings.Contains(stdout.String(), "go error:") {
		t.Fatalf("the run did not fail: %s", stdout.String())
	}
	if strings.Contains(stderr.String(), "onnxruntime") || strings.Contains(stderr.String(), "\x1b[") {
		t.Fatalf("onnxruntime wrote to stderr:\n%q", stderr.String())
	}
}
