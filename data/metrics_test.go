package data

import (
	"errors"
	"math"
	"testing"
)

const eps = 1e-9

func near(a, b float64) bool { return math.Abs(a-b) <= eps*max(1, math.Abs(b)) }

func TestClassificationMetrics(t *testing.T) {
	tests := []struct {
		name          string
		pred, gold    []int
		acc, f1, mcc  float64
		f1Err, allErr bool
	}{
		// tp=2 fp=1 fn=1 tn=1: F1 = 4/6, MCC = (2·1-1·1)/sqrt(3·3·2·2) = 1/6.
		{"mixed", []int{1, 1, 0, 0, 1}, []int{1, 0, 0, 1, 1}, 0.6, 4.0 / 6, 1.0 / 6, false, false},
		{"perfect", []int{0, 1, 1, 0}, []int{0, 1, 1, 0}, 1, 1, 1, false, false},
		{"inverted", []int{1, 0, 0, 1}, []int{0, 1, 1, 0}, 0, 0, -1, false, false},
		{"constant prediction", []int{1, 1, 1, 1}, []int{1, 0, 1, 0}, 0.5, 2.0 / 3, 0, false, false},
		{"no positives", []int{0, 0, 0}, []int{0, 0, 0}, 1, 0, 0, false, false},
		// Three classes: c=4 s=6 t=(2,1,3) p=(3,0,3): (4·6-15)/sqrt((36-18)(36-14)) = 9/sqrt(396).
		{"multiclass", []int{0, 0, 2, 2, 0, 2}, []int{2, 0, 2, 2, 0, 1}, 4.0 / 6, 0, 9 / math.Sqrt(396), true, false},
		{"length mismatch", []int{1}, []int{1, 0}, 0, 0, 0, true, true},
		{"empty", nil, nil, 0, 0, 0, true, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			acc, err := Accuracy(tc.pred, tc.gold)
			if (err != nil) != tc.allErr || (err == nil && !near(acc, tc.acc)) {
				t.Errorf("Accuracy = %v, %v; want %v", acc, err, tc.acc)
			}
			f1, err := F1(tc.pred, tc.gold)
			if (err != nil) != tc.f1Err || (err == nil && !near(f1, tc.f1)) {
				t.Errorf("F1 = %v, %v; want %v", f1, err, tc.f1)
			}
			mcc, err := MatthewsCorrelation(tc.pred, tc.gold)
			if (err != nil) != tc.allErr || (err == nil && !near(mcc, tc.mcc)) {
				t.Errorf("MCC = %v, %v; want %v", mcc, err, tc.mcc)
			}
		})
	}
}

func TestCorrelations(t *testing.T) {
	tests := []struct {
		name              string
		x, y              []float64
		pearson, spearman float64
		err               error // expected from both (nil: none)
		anyErr            bool
	}{
		// Pearson: dx=(-2,-1,0,1,2) dy=(-2,0,1,0,1): 6/sqrt(10·6).
		// Spearman: ranks of y with ties = (1,2.5,4.5,2.5,4.5): 7/sqrt(10·9).
		{"ties", []float64{1, 2, 3, 4, 5}, []float64{2, 4, 5, 4, 5}, 6 / math.Sqrt(60), 7 / math.Sqrt(90), nil, false},
		{"monotone non-linear", []float64{1, 2, 3, 4}, []float64{1, 8, 27, 64}, 104 / math.Sqrt(5*2390), 1, nil, false}, // dx=(-1.5,-.5,.5,1.5) dy=(-24,-17,2,39)
		{"anti", []float64{1, 2, 3}, []float64{3, 2, 1}, -1, -1, nil, false},
		{"all tied ranks both", []float64{1, 1, 2, 2}, []float64{5, 5, 7, 7}, 1, 1, nil, false},
		{"constant x", []float64{3, 3, 3}, []float64{1, 2, 3}, math.NaN(), math.NaN(), ErrConstantInput, true},
		{"constant y", []float64{1, 2, 3}, []float64{0, 0, 0}, math.NaN(), math.NaN(), ErrConstantInput, true},
		{"one point", []float64{1}, []float64{2}, 0, 0, nil, true},
		{"mismatch", []float64{1, 2}, []float64{1}, 0, 0, nil, true},
		{"nan", []float64{1, math.NaN()}, []float64{1, 2}, 0, 0, nil, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, m := range []struct {
				name string
				f    func(x, y []float64) (float64, error)
				want float64
			}{{"Pearson", Pearson, tc.pearson}, {"Spearman", Spearman, tc.spearman}} {
				got, err := m.f(tc.x, tc.y)
				if (err != nil) != tc.anyErr {
					t.Errorf("%s error %v, want error %v", m.name, err, tc.anyErr)
					continue
				}
				if tc.err != nil && !errors.Is(err, tc.err) {
					t.Errorf("%s error %v, want %v", m.name, err, tc.err)
				}
				if math.IsNaN(m.want) {
					if !math.IsNaN(got) {
						t.Errorf("%s = %v, want NaN", m.name, got)
					}
				} else if err == nil && math.Abs(got-m.want) > 1e-6 {
					t.Errorf("%s = %v, want %v", m.name, got, m.want)
				}
			}
		})
	}
}

func TestArgmax(t *testing.T) {
	got, err := Argmax([]float32{0.1, 0.9, 3, -1, 2, 2}, 2)
	if err != nil || len(got) != 3 || got[0] != 1 || got[1] != 0 || got[2] != 0 {
		t.Errorf("Argmax = %v, %v", got, err)
	}
	if _, err := Argmax([]float32{1, 2, 3}, 2); err == nil {
		t.Error("ragged logits: no error")
	}
}

func TestCompareLogits(t *testing.T) {
	ln3 := float32(math.Log(3))
	// KL((0.5,0.5) || (0.75,0.25)) = 0.5 ln(2/3) + 0.5 ln 2.
	kl := 0.5*math.Log(2.0/3) + 0.5*math.Log(2)
	tests := []struct {
		name   string
		p, q   []float32
		c      int
		temp   float64
		top1   float64
		klWant float64
		err    bool
	}{
		{"identical", []float32{1, 2, 3, 0}, []float32{1, 2, 3, 0}, 2, 1, 1, 0, false},
		{"shifted logits are identical", []float32{1, 2}, []float32{11, 12}, 2, 1, 1, 0, false},
		{"known KL", []float32{0, 0}, []float32{ln3, 0}, 2, 1, 1, kl, false},
		{"temperature", []float32{0, 0}, []float32{2 * ln3, 0}, 2, 2, 1, kl, false},
		{"two rows, one disagreement", []float32{0, 0, 5, 0}, []float32{ln3, 0, 0, 5}, 2, 1, 0.5, (kl + 5*(1-math.Exp(-5))/(1+math.Exp(-5))) / 2, false},
		{"bad temperature", []float32{0, 0}, []float32{0, 0}, 2, 0, 0, 0, true},
		{"mismatch", []float32{0, 0}, []float32{0}, 2, 1, 0, 0, true},
		{"ragged", []float32{0, 0, 0}, []float32{0, 0, 0}, 2, 1, 0, 0, true},
		{"inf", []float32{float32(math.Inf(1)), 0}, []float32{0, 0}, 2, 1, 0, 0, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, err := CompareLogits(tc.p, tc.q, tc.c, tc.temp)
			if (err != nil) != tc.err {
				t.Fatalf("err = %v", err)
			}
			if err != nil {
				return
			}
			if a.N != len(tc.p)/tc.c || a.Top1 != tc.top1 || math.Abs(a.MeanKL-tc.klWant) > 1e-6 {
				t.Errorf("got %+v, want top1 %v KL %v", a, tc.top1, tc.klWant)
			}
		})
	}
}

func TestMeanCosine(t *testing.T) {
	tests := []struct {
		name string
		a, b []float32
		dim  int
		want float64
		err  bool
	}{
		{"same", []float32{1, 2, 3}, []float32{2, 4, 6}, 3, 1, false},
		{"orthogonal and opposite", []float32{1, 0, 1, 1}, []float32{0, 1, -1, -1}, 2, -0.5, false},
		{"45 degrees", []float32{1, 0}, []float32{1, 1}, 2, 1 / math.Sqrt2, false},
		{"zero vectors", []float32{0, 0, 0, 0}, []float32{0, 0, 1, 0}, 2, 0.5, false},
		{"mismatch", []float32{1}, []float32{1, 2}, 1, 0, true},
		{"bad dim", []float32{1, 2, 3}, []float32{1, 2, 3}, 2, 0, true},
		{"nan", []float32{float32(math.NaN())}, []float32{1}, 1, 0, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := MeanCosine(tc.a, tc.b, tc.dim)
			if (err != nil) != tc.err {
				t.Fatalf("err = %v", err)
			}
			if err == nil && math.Abs(got-tc.want) > 1e-6 {
				t.Errorf("MeanCosine = %v, want %v", got, tc.want)
			}
		})
	}
}
