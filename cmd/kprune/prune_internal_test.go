package main

import (
	"flag"
	"io"
	"testing"

	"github.com/kprune/kprune/pipeline"
)

func TestAutoLowMemory(t *testing.T) {
	cases := []struct {
		args  []string
		bytes int64
		want  bool
	}{
		{nil, pipeline.LowMemoryModelBytes - 1, false},
		{nil, pipeline.LowMemoryModelBytes, true},
		{[]string{"--low-memory=false"}, 2 * pipeline.LowMemoryModelBytes, false},
		{[]string{"--low-memory"}, 1, false}, // given: the flag itself applies, nothing automatic
	}
	for _, c := range cases {
		fs := flag.NewFlagSet("prune", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		fs.Bool("low-memory", false, "")
		if err := fs.Parse(c.args); err != nil {
			t.Fatal(err)
		}
		if got := pipeline.AutoLowMemory(!given(fs, "low-memory"), c.bytes); got != c.want {
			t.Errorf("args %v, %d bytes: auto low memory %v, want %v", c.args, c.bytes, got, c.want)
		}
	}
}
