package main

import (
	"fmt"
	"io"

	"github.com/kprune/kprune/output"
)

// checkOutputs checks the files a command will write before any long work (output.Check) and
// says on w which temporary files of an interrupted run it removed.
func checkOutputs(w io.Writer, force bool, paths ...string) error {
	removed, err := output.Check(force, paths...)
	for _, s := range removed {
		fmt.Fprintf(w, "removed %s, a temporary file left by an interrupted run\n", s)
	}
	return err
}
