package prune_test

import (
	"context"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/kprune/kprune/data"
	"github.com/kprune/kprune/demo"
	"github.com/kprune/kprune/eval"
	"github.com/kprune/kprune/graph"
	"github.com/kprune/kprune/prune"
)

// labelsPerBatch splits the labels of a demoSet (file order, batches of 32) by batch.
func labelsPerBatch(t testing.TB, labels []int, batches []data.Batch) [][]int {
	t.Helper()
	out := make([][]int, len(batches))
	off := 0
	for i, b := range batches {
		out[i] = labels[off : off+b.Size]
		off += b.Size
	}
	if off != len(labels) {
		t.Fatalf("%d labels for %d rows", len(labels), off)
	}
	return out
}

func TestKwonRefusesWithoutLabels(t *testing.T) {
	m := demoModel(t)
	calib, labels := demoSet(t, demo.CalibTSV, 64)
	good := labelsPerBatch(t, labels, calib)
	missing := labelsPerBatch(t, append([]int{-1}, labels[1:]...), calib)
	outOfRange := labelsPerBatch(t, append([]int{7}, labels[1:]...), calib)
	cases := []struct {
		name   string
		labels [][]int
		opts   prune.KwonOptions
		want   string
	}{
		{"nil labels", nil, prune.KwonOptions{Reduction: 0.5}, "labels"},
		{"one batch short", good[:1], prune.KwonOptions{Reduction: 0.5}, "labels for 1 batches"},
		{"short batch", [][]int{good[0][:5], good[1]}, prune.KwonOptions{Reduction: 0.5}, "5 labels"},
		{"missing label", missing, prune.KwonOptions{Reduction: 0.5}, "has no label"},
		{"label out of range", outOfRange, prune.KwonOptions{Reduction: 0.5}, "2 classes"},
		{"bad reduction", good, prune.KwonOptions{Reduction: 1}, "[0, 1)"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := prune.Kwon(context.Background(), m, calib, c.labels, c.opts, nil)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want an error mentioning %q", err, c.want)
			}
		})
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := prune.Kwon(ctx, m, calib, good, prune.KwonOptions{Reduction: 0.5}, nil); err == nil {
		t.Error("cancelled context: want an error")
	}
}

// TestBaselinesOnDemo prunes the demo model at 0.5 with Kwon et al. and magnitude pruning and
// checks the budget, the report and that the pruned models run.
func TestBaselinesOnDemo(t *testing.T) {
	m := demoModel(t)
	calib, calibLabels := demoSet(t, demo.CalibTSV, 256)
	labels := labelsPerBatch(t, calibLabels, calib)
	dev, devLabels := demoSet(t, demo.DevTSV, 0)
	tp, err := eval.Predict(context.Background(), m, dev, 2)
	if err != nil {
		t.Fatal(err)
	}
	enc, err := graph.Discover(m)
	if err != nil {
		t.Fatal(err)
	}
	const r = 0.5
	var info prune.KwonInfo
	runs := []struct {
		method string
		run    func() (*prune.Result, error)
	}{
		{"kwon", func() (*prune.Result, error) {
			return prune.Kwon(context.Background(), m, calib, labels, prune.KwonOptions{Reduction: r, Runtime: prune.Runtime{Threads: 2}, Info: &info}, nil)
		}},
		{"magnitude", func() (*prune.Result, error) {
			return prune.Magnitude(context.Background(), m, prune.MagnitudeOptions{Reduction: r, Calibration: calib})
		}},
	}
	for _, run := range runs {
		t.Run(run.method, func(t *testing.T) {
			res, err := run.run()
			if err != nil {
				t.Fatal(err)
			}
			rep := res.Report
			if rep.Method != run.method {
				t.Errorf("report method %q", rep.Method)
			}
			cost, _ := prune.NewCost(enc, rep.SeqLen)
			unit := math.Max(cost.Head(), cost.Neuron()) / rep.FLOPsBefore
			if rep.AchievedReduction < r || rep.AchievedReduction > r+unit+1e-12 {
				t.Errorf("achieved FLOPs reduction %v, want in [%v, %v]", rep.AchievedReduction, r, r+unit)
			}
			if got := cost.Encoder(res.Encoder); math.Abs(got-rep.FLOPsAfter) > 1e-9*got {
				t.Errorf("reported FLOPs %v, recomputed %v", rep.FLOPsAfter, got)
			}
			if rep.ParamsAfter >= rep.ParamsBefore || len(rep.Layers) != len(enc.Layers) {
				t.Errorf("params %d -> %d, %d layers", rep.ParamsBefore, rep.ParamsAfter, len(rep.Layers))
			}
			sp, err := eval.Predict(context.Background(), res.Model, dev, 2)
			if err != nil {
				t.Fatalf("the pruned model does not run: %v", err)
			}
			sc, err := eval.Compare(tp, sp)
			if err != nil {
				t.Fatal(err)
			}
			mt, err := eval.Score(sp, devLabels, nil)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s at %.1f: achieved %.4f, layers %v, dev accuracy %.4f, agreement %.3f", run.method, r, rep.AchievedReduction, rep.Layers, *mt.Accuracy, sc.Agreement)
			if *mt.Accuracy < 0.5 {
				t.Errorf("dev accuracy %v is below chance", *mt.Accuracy)
			}
			if run.method == "kwon" {
				t.Logf("kwon info: %+v", info)
				if math.Abs(info.MACReduction-rep.AchievedReduction) > 1e-12 {
					t.Errorf("MAC reduction %v differs from the FLOPs reduction %v (the costs are proportional)", info.MACReduction, rep.AchievedReduction)
				}
				if info.MACReduction < r {
					t.Errorf("MAC reduction %v below the requested %v", info.MACReduction, r)
				}
				if info.ObjectiveAfter > info.ObjectiveBefore*(1+1e-12) {
					t.Errorf("rearrangement raised the objective from %v to %v", info.ObjectiveBefore, info.ObjectiveAfter)
				}
				if info.StoppedAt < 0 && len(info.Tuned) == 0 {
					t.Error("no sublayer was tuned and tuning did not stop")
				}
				if info.MeanLoss <= 0 || math.IsNaN(info.MeanLoss) {
					t.Errorf("mean calibration cross-entropy %v", info.MeanLoss)
				}
			}
		})
	}
}

func TestMagnitudeBadInput(t *testing.T) {
	m := demoModel(t)
	cases := []struct {
		name string
		opts prune.MagnitudeOptions
		want string
	}{
		{"no costing length", prune.MagnitudeOptions{Reduction: 0.5}, "SeqLen"},
		{"negative length", prune.MagnitudeOptions{Reduction: 0.5, SeqLen: -3}, "SeqLen"},
		{"reduction 1", prune.MagnitudeOptions{Reduction: 1, SeqLen: 20}, "[0, 1)"},
	}
	for _, c := range cases {
		if _, err := prune.Magnitude(context.Background(), m, c.opts); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want an error mentioning %q", c.name, err, c.want)
		}
	}
}

// TestMagnitudeMeetsTheBudget checks magnitude pruning at several reductions and costing lengths:
// achieved FLOPs reduction >= requested and within one unit of it.
func TestMagnitudeMeetsTheBudget(t *testing.T) {
	m := demoModel(t)
	enc, err := graph.Discover(m)
	if err != nil {
		t.Fatal(err)
	}
	for _, seq := range []float64{8, 24, 64} {
		for _, r := range []float64{0, 0.3, 0.5, 0.7, 0.9} {
			res, err := prune.Magnitude(context.Background(), m, prune.MagnitudeOptions{Reduction: r, SeqLen: seq})
			if err != nil {
				t.Fatalf("seq %v, reduction %v: %v", seq, r, err)
			}
			cost, _ := prune.NewCost(enc, seq)
			unit := math.Max(cost.Head(), cost.Neuron()) / cost.Encoder(enc)
			got := res.Report.AchievedReduction
			if got < r || (r > 0 && got > r+unit+1e-12) || (r == 0 && got != 0) {
				t.Errorf("seq %v, reduction %v: achieved %v", seq, r, got)
			}
		}
	}
}

// TestKwonZeroReduction: keeping everything, the teacher equals the student, so every tuned
// scale must be 1 and the model must be unchanged; and the gradient pass's loss must be the
// cross-entropy of the model's own logits on the true labels.
func TestKwonZeroReduction(t *testing.T) {
	m := demoModel(t)
	calib, calibLabels := demoSet(t, demo.CalibTSV, 160)
	labels := labelsPerBatch(t, calibLabels, calib)
	var info prune.KwonInfo
	res, err := prune.Kwon(context.Background(), m, calib, labels, prune.KwonOptions{Runtime: prune.Runtime{Threads: 2}, Info: &info}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Report.AchievedReduction != 0 || info.StoppedAt != -1 {
		t.Fatalf("achieved %v, tuning stopped at %d (%s)", res.Report.AchievedReduction, info.StoppedAt, info.StopReason)
	}
	// Sublayer 0 (MHA of layer 0) is not tuned, as in the reference.
	if fmt.Sprint(info.Tuned) != "[1 2 3]" {
		t.Errorf("tuned sublayers %v, want [1 2 3]", info.Tuned)
	}
	if math.Abs(info.ScaleMin-1) > 1e-3 || math.Abs(info.ScaleMax-1) > 1e-3 {
		t.Errorf("scales in [%v, %v], want 1", info.ScaleMin, info.ScaleMax)
	}
	tp, _, maxDiff := comparePredictions(t, m, res.Model, calib)
	if maxDiff > 1e-3 {
		t.Errorf("logits moved by %v at zero reduction", maxDiff)
	}
	// Mean over batches of the batch-mean cross-entropy.
	var ce float64
	row := 0
	for _, b := range calib {
		var sum float64
		for r := 0; r < b.Size; r, row = r+1, row+1 {
			z := tp.Values[row*2 : row*2+2]
			mx := math.Max(float64(z[0]), float64(z[1]))
			lse := mx + math.Log(math.Exp(float64(z[0])-mx)+math.Exp(float64(z[1])-mx))
			sum += lse - float64(z[calibLabels[row]])
		}
		ce += sum / float64(b.Size)
	}
	ce /= float64(len(calib))
	if math.Abs(info.MeanLoss-ce) > 1e-4*ce {
		t.Errorf("gradient-pass loss %v, cross-entropy of the logits %v", info.MeanLoss, ce)
	}
}
