package main

import (
	"encoding/json"
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

// printResult writes v to w as indented JSON with asJSON, else as text (its WriteText).
func printResult(w io.Writer, asJSON bool, v interface{ WriteText(io.Writer) }) error {
	if !asJSON {
		v.WriteText(w)
		return nil
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
