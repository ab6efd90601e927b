package main

import (
	"context"
	"fmt"
	"io"
	goruntime "runtime"
	"runtime/debug"

	"github.com/kprune/kprune/runtime"
)

// Version is kprune's version, set at build time with -ldflags "-X main.Version=...".
var Version = "0.1.0-dev"

func cmdVersion(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("version", stderr)
	setUsage(fs, stderr, "kprune version", "Prints kprune's version and the onnxruntime library it uses.")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Sprintf("unexpected arguments %q", fs.Args())}
	}
	fmt.Fprintf(stdout, "kprune %s (%s, %s/%s)\n", Version, goruntime.Version(), goruntime.GOOS, goruntime.GOARCH)
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" {
				fmt.Fprintf(stdout, "revision %s\n", s.Value)
			}
		}
	}
	if err := runtime.Init(); err != nil {
		fmt.Fprintf(stdout, "onnxruntime: not available: %v\n", err)
		return nil
	}
	path, v := runtime.Library()
	fmt.Fprintf(stdout, "onnxruntime %s (%s)\n", v, path)
	return nil
}
