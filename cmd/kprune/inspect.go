package main

import (
	"context"
	"fmt"
	"io"

	"github.com/kprune/kprune/inspect"
	"github.com/kprune/kprune/onnx"
)

func cmdInspect(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("inspect", stderr)
	asJSON := fs.Bool("json", false, "print a JSON report")
	seq := fs.Int("seq", 128, "sequence `LENGTH` for the FLOPs of each sublayer")
	setUsage(fs, stderr, "kprune inspect [--json] [--seq N] MODEL.onnx")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usageError{"want exactly one MODEL.onnx argument"}
	}
	if *seq <= 0 {
		return usageError{fmt.Sprintf("--seq must be positive, got %d", *seq)}
	}
	path := fs.Arg(0)
	m, err := onnx.Load(path)
	if err != nil {
		return err
	}
	r := inspect.Describe(path, m)
	if e, err := inspect.DescribeEncoder(m, *seq); err != nil {
		r.EncoderError = err.Error()
	} else {
		r.Encoder = e
	}
	return printResult(stdout, *asJSON, r)
}
