// Command kprune compresses trained BERT-family encoders stored as ONNX without retraining,
// using K-prune (Park et al., ICLR 2024), and checks the result with onnxruntime.
//
// Run `kprune help` for the subcommands. The command is a thin layer of flags and messages:
// the runs themselves are package pipeline's, and the tables are rendered by the packages whose
// results they show; everything a library user would need lives in the packages it imports.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"

	"github.com/kprune/kprune/pipeline"
)

// command is one subcommand of the CLI.
type command struct {
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

func commands() map[string]command {
	return map[string]command{
		"version":  {"print kprune's and onnxruntime's versions", cmdVersion},
		"inspect":  {"describe an ONNX model: inputs, outputs, ops, parameters, encoder structure", cmdInspect},
		"demo":     {"prune the built-in demo model and evaluate it", cmdDemo},
		"prune":    {"prune an ONNX encoder with K-prune under a FLOPs budget", cmdPrune},
		"eval":     {"evaluate a model on labelled data (and its agreement with a teacher)", cmdEval},
		"bench":    {"measure latency, FLOPs and fusion of a model against a baseline", cmdBench},
		"report":   {"render a JSON run report as a self-contained HTML page", cmdReport},
		"compare":  {"run pruning methods x reductions and compare accuracy, FLOPs and speed", cmdCompare},
		"tokenize": {"tokenize a data file with a model's tokenizer and print ids as JSON lines", cmdTokenize},
		"quantize": {"quantize a float model's MatMul weights to int8 (dynamic or static QDQ) for onnxruntime", cmdQuantize},
	}
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "kprune: retraining-free pruning of ONNX encoder language models (K-prune)")
	fmt.Fprintln(w, "\nusage: kprune COMMAND [flags] [args]\n\ncommands:")
	cmds := commands()
	names := make([]string, 0, len(cmds))
	for n := range cmds {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-9s %s\n", n, cmds[n].summary)
	}
	fmt.Fprintln(w, "\nRun `kprune COMMAND -h` for a command's flags.")
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// run executes the CLI and returns the process exit code: 0 success, 1 failure, 2 usage error,
// 130 interrupted (ctx cancelled, as by Ctrl-C: the command stopped and removed its partial
// outputs).
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(stdout)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	c, ok := commands()[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "kprune: unknown command %q\n\n", args[0])
		usage(stderr)
		return 2
	}
	if err := c.run(ctx, args[1:], stdout, stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		if se := (*pipeline.SeqLenError)(nil); errors.As(err, &se) {
			err = usageError{fmt.Sprintf("--%s %d: %s", seqLenFlags[se.Setting], se.Seq, se.Error())}
		}
		var ue usageError
		if errors.As(err, &ue) {
			fmt.Fprintf(stderr, "kprune %s: %v\nRun 'kprune %s -h' for help.\n", args[0], err, args[0])
			return 2
		}
		if errors.Is(err, context.Canceled) && ctx.Err() != nil {
			fmt.Fprintf(stderr, "kprune %s: interrupted (%v); no output was written\n", args[0], strings.TrimSpace(err.Error()))
			return 130
		}
		fmt.Fprintf(stderr, "kprune %s: %v\n", args[0], strings.TrimSpace(err.Error()))
		return 1
	}
	return 0
}

// seqLenFlags maps pipeline.SeqLenError.Setting to its flag.
var seqLenFlags = map[string]string{"MaxLen": "max-len", "LatencySeq": "latency-seq"}

// usageError marks errors in the command line itself (exit code 2).
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

// newFlags makes a flag set that reports errors instead of exiting.
func newFlags(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("kprune "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// setUsage gives fs the usage text every command shares: "usage: SYNOPSIS", the paragraphs of
// about (if any), then "flags:" and the flag list.
func setUsage(fs *flag.FlagSet, w io.Writer, synopsis string, about ...string) {
	fs.Usage = func() {
		fmt.Fprintf(w, "usage: %s\n", synopsis)
		for _, p := range about {
			fmt.Fprintf(w, "\n%s\n", p)
		}
		fmt.Fprintln(w, "\nflags:")
		fs.PrintDefaults()
	}
}

// parseFlags parses args, flags and positional arguments in any order (`inspect M.onnx --json`
// works; after "--" everything is positional), and leaves the positional arguments in fs.Args().
// A flag error becomes a usage error, printed once by run with a hint, without the flag list;
// -h prints the usage and returns flag.ErrHelp.
func parseFlags(fs *flag.FlagSet, args []string) error {
	out, usage := fs.Output(), fs.Usage
	if usage == nil {
		name := fs.Name()
		usage = func() {
			fmt.Fprintf(out, "usage: %s [flags]\n\nflags:\n", name)
			fs.PrintDefaults()
		}
	}
	// The flag package prints errors and the usage itself; keep it quiet and decide here.
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	defer func() { fs.SetOutput(out); fs.Usage = usage }()
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				fs.SetOutput(out)
				usage()
				return err
			}
			return usageError{err.Error()}
		}
		rest := fs.Args()
		if len(rest) == 0 {
			break
		}
		if n := len(args) - len(rest); n > 0 && args[n-1] == "--" {
			pos = append(pos, rest...)
			break
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
	return fs.Parse(append([]string{"--"}, pos...))
}
