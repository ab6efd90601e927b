package report

import (
	"bytes"
	"testing"

	"github.com/kprune/kprune/prune"
)

// TestWriteSummary pins the text of a run summary and its warnings (what kprune prune prints).
func TestWriteSummary(t *testing.T) {
	var b bytes.Buffer
	r := &prune.Report{RequestedReduction: 0.5, AchievedReduction: 0.4987, SeqLen: 41.5, ParamsBefore: 1000, ParamsAfter: 600,
		Layers: []prune.LayerUnits{{Heads: 1, FFN: 100}, {Heads: 2, FFN: 0}}, LayersBefore: []prune.LayerUnits{{Heads: 2, FFN: 512}, {Heads: 2, FFN: 512}},
		RemovedSublayers: []int{3}, Head: "classification", Loss: "cross-entropy", Unfused: map[string]int{"SkipLayerNormalization": 4, "Attention": 2},
		Calibration: prune.CalibStats{Sequences: 100, Tokens: 4150, Batches: 4}, TotalSeconds: 3.25, ORTSeconds: 1.5, PeakRSSBytes: 123456789,
		SelfCheck: &prune.SelfCheck{Agreement: 0.975, Examples: 200, MeanKL: 0.0123}}
	WriteSummary(&b, r)
	WriteWarnings(&b, []prune.Warning{{Message: "only 3 distinct sequences"}})
	if got, want := b.String(), "  layer  heads       FFN neurons       \n      0      1  / 2          100  / 512\n      1      2  / 2            0  / 512\nFLOPs reduction  requested 50.0%, achieved 49.87% (costing length 41.5)\nparameters       1000 -> 600 (40.0% fewer)\nremoved sublayers [3]\nloss             classification head: cross-entropy\nunfused          onnxruntime operators read as standard ONNX: Attention=2 SkipLayerNormalization=4\ncalibration      100 sequences, 4150 tokens in 4 batches\ntime             3.2s (onnxruntime 1.5s), peak RSS 123 MB\nself-check       agreement with the original 97.50% on 200 held-out examples (mean KL 0.0123)\nwarning: only 3 distinct sequences\n"; got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}
