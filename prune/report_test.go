package prune

import (
	"math"
	"slices"
	"testing"
)

// TestQualityWarnings: few distinct calibration sequences always warn; labelled evaluation data
// (Task) decides on quality by the task metric's fall; without it the self-check decides.
func TestQualityWarnings(t *testing.T) {
	enough := CalibStats{Sequences: 1000, Distinct: 900}
	for _, tc := range []struct {
		name string
		r    Report
		want []string
	}{
		{"all fine", Report{Calibration: enough, SelfCheck: &SelfCheck{Agreement: 0.95}}, nil},
		{"few sequences", Report{Calibration: CalibStats{Sequences: 40, Distinct: 5}, SelfCheck: &SelfCheck{Agreement: 0.95}}, []string{"few-calibration-sequences"}},
		{"magnitude reads no data", Report{Method: "magnitude", Calibration: CalibStats{Sequences: 40, Distinct: 5}, SelfCheck: &SelfCheck{Agreement: 0.95}}, nil},
		{"no self-check", Report{Calibration: enough}, []string{"no-self-check"}},
		{"low agreement", Report{Calibration: enough, SelfCheck: &SelfCheck{Agreement: 0.85}}, []string{"low-agreement"}},
		{"low cosine", Report{Calibration: enough, SelfCheck: &SelfCheck{Agreement: 0.79, Cosine: 0.79}}, []string{"low-agreement"}},
		{"NaN agreement", Report{Calibration: enough, SelfCheck: &SelfCheck{Agreement: math.NaN()}}, []string{"low-agreement"}},
		{"task metric held: low cosine does not warn", Report{Calibration: enough, SelfCheck: &SelfCheck{Agreement: 0.79, Cosine: 0.79},
			Task: &TaskMetric{Metric: "spearman", Original: 0.8672, Pruned: 0.8592}}, nil},
		{"task metric fell", Report{Calibration: enough, SelfCheck: &SelfCheck{Agreement: 0.95},
			Task: &TaskMetric{Metric: "accuracy", Original: 0.8761, Pruned: 0.8452}}, []string{"task-drop"}},
		{"task metric NaN", Report{Calibration: enough, SelfCheck: &SelfCheck{Agreement: 0.95},
			Task: &TaskMetric{Metric: "spearman", Original: 0.8, Pruned: math.NaN()}}, []string{"task-drop"}},
		{"both", Report{Calibration: CalibStats{Sequences: 40, Distinct: 5}, Task: &TaskMetric{Original: 0.9, Pruned: 0.5}}, []string{"few-calibration-sequences", "task-drop"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, w := range tc.r.QualityWarnings() {
				got = append(got, w.Code)
				if w.Message == "" {
					t.Errorf("warning %s has no message", w.Code)
				}
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("warnings %v, want %v", got, tc.want)
			}
		})
	}
}
