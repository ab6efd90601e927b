package main

import (
	"context"
	"io"

	"github.com/kprune/kprune/internal/demo"
	"github.com/kprune/kprune/onnx"
)

func cmdDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("demo", stderr)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	m, err := onnx.Decode(demo.Model)
	if err != nil {
		return err
	}
	printInspect(stdout, describeModel("built-in demo model", m))
	return nil
}
