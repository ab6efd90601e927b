package prune_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"os/signal"

	"github.com/kprune/kprune/bench"
	"github.com/kprune/kprune/data"
	"github.com/kprune/kprune/demo"
	"github.com/kprune/kprune/eval"
	"github.com/kprune/kprune/prune"
)

// Loading a model and discovering its encoder: the structure K-prune works on.
func ExampleStructure() {
	m, err := demo.LoadModel() // or onnx.Load("model.onnx"); prune.Load also finds its tokenizer
	if err != nil {
		log.Fatal(err)
	}
	_, enc, _, _, err := prune.Structure(m)
	if err != nil {
		log.Fatal(err)
	}
	heads, neurons := prune.Units(enc)
	fmt.Printf("%d layers, hidden %d, heads %v of %d, FFN %v, %s head\n", len(enc.Layers), enc.Hidden, heads, enc.HeadDim, neurons, enc.Head)
	// Output:
	// 2 layers, hidden 128, heads [2 2] of 64, FFN [512 512], classification head
}

// must stops the example on an error.
func must[T any](v T, err error) T {
	if err != nil {
		log.Fatal(err)
	}
	return v
}

// The whole pipeline on the built-in demo model: prune half of its FLOPs with K-prune on a small
// calibration sample, evaluate it on SST-2 dev against the original, and time both. Ctrl-C
// cancels it; "kwon" or "magnitude" in place of "kprune" runs the other methods.
func Example_pipeline() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	m, tok := must(demo.LoadModel()), must(demo.Tokenizer())
	method := must(prune.NewMethod("kprune"))
	ds, encs, err := prune.ReadEncoded(tok, "sst2-calib.tsv", demo.CalibTSV, data.ReadOptions{}, demo.MaxLen)
	cs := must(prune.BuildCalibration(tok, must(encs, err), prune.CalibOptions{Samples: 128}))
	calib := prune.Calibration{Batches: cs.Batches}
	if prune.NeedsTargets(method) { // Kwon et al. tune on the true labels
		calib.Labels, calib.Scores, err = prune.CalibrationTargets(ds, cs.Batches)
		must(0, err)
	}
	progress := func(p prune.Progress) { fmt.Fprintf(os.Stderr, "\r%s %d/%d", p.Phase, p.Done, p.Total) }
	res := must(method.Prune(ctx, m, calib, prune.Budget{Reduction: 0.5}, progress))
	ev := must(eval.Evaluate(ctx, "pruned", res.Model, m, eval.Data{Path: "sst2-dev.tsv", Raw: demo.DevTSV},
		eval.Options{Tokenizer: tok, MaxLen: demo.MaxLen, Batch: 64}))
	lat := must(bench.MeasurePair(ctx, m, res.Model, 32, demo.MaxLen, 0, 2, 10))
	fmt.Fprintf(os.Stderr, "\n%s: %.1f%% of FLOPs removed, accuracy %.4f, agreement %.4f, %.2fx faster\n", method.Name(),
		100*res.Report.AchievedReduction, *ev.Accuracy, *ev.Agreement, float64(lat[0].P50)/float64(lat[1].P50))
	fmt.Println("budget met:", res.Report.AchievedReduction >= 0.5, "- evaluated on", ev.Examples, "examples")
	// Output:
	// budget met: true - evaluated on 872 examples
}
