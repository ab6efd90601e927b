package prune

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"
)

// Gram accumulates the normal equations of a least-squares problem A @ W ~ R over batches, in
// float64: AA = A^T A (n x n) and AR = A^T R (n x m).
type Gram struct {
	N, M int
	AA   []float64 // row-major n x n
	AR   []float64 // row-major n x m
}

// NewGram returns an empty accumulator for n unknown rows and m right-hand sides.
func NewGram(n, m int) *Gram {
	return &Gram{N: n, M: m, AA: make([]float64, n*n), AR: make([]float64, n*m)}
}

// Add adds one batch's float32 A^T A and A^T R (as computed by onnxruntime).
func (g *Gram) Add(aa, ar []float32) error {
	if len(aa) != len(g.AA) || len(ar) != len(g.AR) {
		return fmt.Errorf("gram: got %d and %d values, want %d x %d and %d x %d", len(aa), len(ar), g.N, g.N, g.N, g.M)
	}
	for i, v := range aa {
		g.AA[i] += float64(v)
	}
	for i, v := range ar {
		g.AR[i] += float64(v)
	}
	return nil
}

// SolveResult is the solution of a restricted least-squares problem.
type SolveResult struct {
	W     []float32 // row-major len(keep) x M, in y = A @ W orientation
	Ridge float64   // the ridge added to the diagonal (0 when the system was solved exactly)
}

// Solve returns W* = argmin ||A[:, keep] @ W - R||_F^2 from the accumulated normal equations,
// with a Cholesky factorisation in float64. If A[:, keep]^T A[:, keep] is not positive definite,
// it retries with a ridge of 1e-8, 1e-6, ... times the mean diagonal and reports the ridge used.
func (g *Gram) Solve(keep []int) (SolveResult, error) {
	k := len(keep)
	if k == 0 {
		return SolveResult{}, nil
	}
	for _, i := range keep {
		if i < 0 || i >= g.N {
			return SolveResult{}, fmt.Errorf("solve: kept index %d out of range [0, %d)", i, g.N)
		}
	}
	a := mat.NewSymDense(k, nil)
	meanDiag := 0.0
	for r, i := range keep {
		for c := r; c < k; c++ {
			a.SetSym(r, c, g.AA[i*g.N+keep[c]])
		}
		meanDiag += g.AA[i*g.N+i]
	}
	meanDiag /= float64(k)
	b := mat.NewDense(k, g.M, nil)
	for r, i := range keep {
		copy(b.RawRowView(r), g.AR[i*g.M:(i+1)*g.M])
	}
	if meanDiag <= 0 || math.IsNaN(meanDiag) {
		return SolveResult{}, fmt.Errorf("solve: the activations of the kept units are all zero (mean diagonal %v)", meanDiag)
	}
	ridge := 0.0
	for attempt := 0; attempt < 8; attempt++ {
		sys := a
		if ridge > 0 {
			sys = mat.NewSymDense(k, nil)
			sys.CopySym(a)
			for i := 0; i < k; i++ {
				sys.SetSym(i, i, sys.At(i, i)+ridge)
			}
		}
		var ch mat.Cholesky
		if ch.Factorize(sys) && ch.Cond() < 1e14 {
			var x mat.Dense
			if err := ch.SolveTo(&x, b); err == nil {
				w := make([]float32, k*g.M)
				ok := true
				for r := 0; r < k; r++ {
					for c := 0; c < g.M; c++ {
						v := x.At(r, c)
						if math.IsNaN(v) || math.IsInf(v, 0) {
							ok = false
						}
						w[r*g.M+c] = float32(v)
					}
				}
				if ok {
					return SolveResult{W: w, Ridge: ridge}, nil
				}
			}
		}
		if ridge == 0 {
			ridge = 1e-8 * meanDiag
		} else {
			ridge *= 100
		}
	}
	return SolveResult{}, fmt.Errorf("solve: the %d x %d system stayed singular even with a ridge of %g", k, k, ridge)
}
