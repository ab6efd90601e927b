package data

import (
	"errors"
	"fmt"
	"math"
	"sort"
)

// ErrConstantInput is returned, with a NaN value, by [Pearson] and [Spearman] when one
// of the inputs is constant: the correlation is then undefined (0/0).
var ErrConstantInput = errors.New("constant input: correlation is undefined")

func checkPairs(n, m int, what string) error {
	if n != m {
		return fmt.Errorf("%s: %d predictions for %d references", what, n, m)
	}
	if n == 0 {
		return fmt.Errorf("%s: no examples", what)
	}
	return nil
}

// Accuracy returns the fraction of positions where pred equals gold.
func Accuracy(pred, gold []int) (float64, error) {
	if err := checkPairs(len(pred), len(gold), "accuracy"); err != nil {
		return 0, err
	}
	ok := 0
	for i := range pred {
		if pred[i] == gold[i] {
			ok++
		}
	}
	return float64(ok) / float64(len(pred)), nil
}

// F1 returns the binary F1 score with class 1 as the positive class:
// 2·TP / (2·TP + FP + FN). Labels must be 0 or 1. When there are no positives at all
// (no true and no predicted 1s) it returns 0, like scikit-learn.
func F1(pred, gold []int) (float64, error) {
	if err := checkPairs(len(pred), len(gold), "F1"); err != nil {
		return 0, err
	}
	var tp, fp, fn int
	for i := range pred {
		p, g := pred[i], gold[i]
		if (p != 0 && p != 1) || (g != 0 && g != 1) {
			return 0, fmt.Errorf("F1: labels must be 0 or 1, got prediction %d and reference %d at %d", p, g, i)
		}
		switch {
		case p == 1 && g == 1:
			tp++
		case p == 1:
			fp++
		case g == 1:
			fn++
		}
	}
	if tp+fp+fn == 0 {
		return 0, nil
	}
	return 2 * float64(tp) / float64(2*tp+fp+fn), nil
}

// MatthewsCorrelation returns the Matthews correlation coefficient (the multi-class
// generalisation, equal to the usual formula for two classes). When it is undefined
// because predictions or references hold a single class, it returns 0, like
// scikit-learn.
func MatthewsCorrelation(pred, gold []int) (float64, error) {
	if err := checkPairs(len(pred), len(gold), "Matthews correlation"); err != nil {
		return 0, err
	}
	predCount := map[int]float64{}
	goldCount := map[int]float64{}
	correct := 0.0
	for i := range pred {
		predCount[pred[i]]++
		goldCount[gold[i]]++
		if pred[i] == gold[i] {
			correct++
		}
	}
	s := float64(len(pred))
	var pt, pp, tt float64
	for k, p := range predCount {
		pt += p * goldCount[k]
		pp += p * p
	}
	for _, t := range goldCount {
		tt += t * t
	}
	den := math.Sqrt(s*s-pp) * math.Sqrt(s*s-tt)
	if den == 0 {
		return 0, nil
	}
	return (correct*s - pt) / den, nil
}

// Pearson returns the Pearson correlation of x and y. It needs at least two finite
// values; if x or y is constant it returns NaN and [ErrConstantInput].
func Pearson(x, y []float64) (float64, error) {
	if err := checkPairs(len(x), len(y), "Pearson"); err != nil {
		return 0, err
	}
	if len(x) < 2 {
		return 0, errors.New("Pearson: need at least two examples")
	}
	for i := range x {
		if math.IsNaN(x[i]) || math.IsInf(x[i], 0) || math.IsNaN(y[i]) || math.IsInf(y[i], 0) {
			return 0, fmt.Errorf("Pearson: non-finite value at %d", i)
		}
	}
	return pearson(x, y)
}

func pearson(x, y []float64) (float64, error) {
	n := float64(len(x))
	var mx, my float64
	for i := range x {
		mx += x[i]
		my += y[i]
	}
	mx /= n
	my /= n
	var sxy, sxx, syy float64
	for i := range x {
		dx, dy := x[i]-mx, y[i]-my
		sxy += dx * dy
		sxx += dx * dx
		syy += dy * dy
	}
	if sxx == 0 || syy == 0 {
		return math.NaN(), ErrConstantInput
	}
	r := sxy / math.Sqrt(sxx*syy)
	return max(-1, min(1, r)), nil
}

// Spearman returns the Spearman rank correlation of x and y: the Pearson correlation of
// their ranks, tied values sharing the average of their ranks. If x or y is constant it
// returns NaN and [ErrConstantInput].
func Spearman(x, y []float64) (float64, error) {
	if err := checkPairs(len(x), len(y), "Spearman"); err != nil {
		return 0, err
	}
	if len(x) < 2 {
		return 0, errors.New("Spearman: need at least two examples")
	}
	for i := range x {
		if math.IsNaN(x[i]) || math.IsNaN(y[i]) {
			return 0, fmt.Errorf("Spearman: NaN at %d", i)
		}
	}
	return pearson(ranks(x), ranks(y))
}

// ranks returns 1-based ranks, ties getting the average rank.
func ranks(v []float64) []float64 {
	idx := make([]int, len(v))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return v[idx[a]] < v[idx[b]] })
	r := make([]float64, len(v))
	for i := 0; i < len(idx); {
		j := i + 1
		for j < len(idx) && v[idx[j]] == v[idx[i]] {
			j++
		}
		avg := float64(i+j+1) / 2 // mean of ranks i+1 .. j
		for k := i; k < j; k++ {
			r[idx[k]] = avg
		}
		i = j
	}
	return r
}

// Argmax returns the index of the largest value of each row of logits, a flat row-major
// [rows][classes] slice; ties go to the lowest index.
func Argmax(logits []float32, classes int) ([]int, error) {
	if classes <= 0 || len(logits)%classes != 0 {
		return nil, fmt.Errorf("argmax: %d values do not form rows of %d classes", len(logits), classes)
	}
	out := make([]int, len(logits)/classes)
	for r := range out {
		row := logits[r*classes : (r+1)*classes]
		best := 0
		for c, v := range row {
			if v > row[best] {
				best = c
			}
		}
		out[r] = best
	}
	return out, nil
}

// Agreement compares the outputs of two models on the same inputs.
type Agreement struct {
	// N is the number of rows compared.
	N int
	// Top1 is the fraction of rows whose argmax classes match.
	Top1 float64
	// MeanKL is the mean over rows of KL(p||q), with p and q the softmax distributions of
	// the two models' logits divided by the temperature (natural log, in nats).
	MeanKL float64
}

// CompareLogits measures how well model q (e.g. the pruned model) agrees with model p
// (the reference) on the same rows. p and q are flat row-major [rows][classes] logits;
// temperature must be positive (1 for the plain softmax).
func CompareLogits(p, q []float32, classes int, temperature float64) (Agreement, error) {
	if len(p) != len(q) {
		return Agreement{}, fmt.Errorf("compare logits: %d values vs %d", len(p), len(q))
	}
	if classes <= 0 || len(p) == 0 || len(p)%classes != 0 {
		return Agreement{}, fmt.Errorf("compare logits: %d values do not form rows of %d classes", len(p), classes)
	}
	if !(temperature > 0) || math.IsInf(temperature, 0) {
		return Agreement{}, fmt.Errorf("compare logits: temperature %v must be positive and finite", temperature)
	}
	for i := range p {
		if !isFinite32(p[i]) || !isFinite32(q[i]) {
			return Agreement{}, fmt.Errorf("compare logits: non-finite logit in row %d", i/classes)
		}
	}
	pa, _ := Argmax(p, classes)
	qa, _ := Argmax(q, classes)
	rows := len(pa)
	match := 0
	kl := 0.0
	lp := make([]float64, classes)
	lq := make([]float64, classes)
	for r := 0; r < rows; r++ {
		if pa[r] == qa[r] {
			match++
		}
		logSoftmax(lp, p[r*classes:(r+1)*classes], temperature)
		logSoftmax(lq, q[r*classes:(r+1)*classes], temperature)
		d := 0.0
		for c := range lp {
			if pc := math.Exp(lp[c]); pc > 0 {
				d += pc * (lp[c] - lq[c])
			}
		}
		kl += max(d, 0) // clamp rounding below zero
	}
	return Agreement{N: rows, Top1: float64(match) / float64(rows), MeanKL: kl / float64(rows)}, nil
}

func isFinite32(v float32) bool { return !math.IsNaN(float64(v)) && !math.IsInf(float64(v), 0) }

// logSoftmax writes log softmax(x/t) into dst.
func logSoftmax(dst []float64, x []float32, t float64) {
	m := math.Inf(-1)
	for i, v := range x {
		dst[i] = float64(v) / t
		m = max(m, dst[i])
	}
	s := 0.0
	for _, v := range dst {
		s += math.Exp(v - m)
	}
	lse := m + math.Log(s)
	for i := range dst {
		dst[i] -= lse
	}
}

// MeanCosine returns the mean cosine similarity between corresponding rows of a and b,
// flat row-major [rows][dim] embeddings. A row pair where both vectors are zero counts
// as 1 (identical), one where only one is zero as 0.
func MeanCosine(a, b []float32, dim int) (float64, error) {
	if len(a) != len(b) {
		return 0, fmt.Errorf("mean cosine: %d values vs %d", len(a), len(b))
	}
	if dim <= 0 || len(a) == 0 || len(a)%dim != 0 {
		return 0, fmt.Errorf("mean cosine: %d values do not form rows of %d", len(a), dim)
	}
	rows := len(a) / dim
	sum := 0.0
	for r := 0; r < rows; r++ {
		var dot, na, nb float64
		for i := r * dim; i < (r+1)*dim; i++ {
			x, y := float64(a[i]), float64(b[i])
			if math.IsNaN(x) || math.IsInf(x, 0) || math.IsNaN(y) || math.IsInf(y, 0) {
				return 0, fmt.Errorf("mean cosine: non-finite value in row %d", r)
			}
			dot += x * y
			na += x * x
			nb += y * y
		}
		switch {
		case na == 0 && nb == 0:
			sum++
		case na == 0 || nb == 0:
		default:
			sum += max(-1, min(1, dot/(math.Sqrt(na)*math.Sqrt(nb))))
		}
	}
	return sum / float64(rows), nil
}
