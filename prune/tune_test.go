package prune

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestSolveNormalEquations builds A (tokens x n) and R, accumulates the Gram matrices in two
// batches, solves for a subset of columns and checks the optimality condition
// A_K^T (A_K W - R) = 0 computed directly from A and R.
func TestSolveNormalEquations(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	const tokens, n, m = 200, 12, 5
	a := make([]float64, tokens*n)
	r := make([]float64, tokens*m)
	for i := range a {
		a[i] = rng.NormFloat64()
	}
	for i := range r {
		r[i] = rng.NormFloat64()
	}
	g := NewGram(n, m)
	for _, half := range [][2]int{{0, tokens / 2}, {tokens / 2, tokens}} {
		aa := make([]float32, n*n)
		ar := make([]float32, n*m)
		for t0 := half[0]; t0 < half[1]; t0++ {
			for i := 0; i < n; i++ {
				for j := 0; j < n; j++ {
					aa[i*n+j] += float32(a[t0*n+i] * a[t0*n+j])
				}
				for j := 0; j < m; j++ {
					ar[i*m+j] += float32(a[t0*n+i] * r[t0*m+j])
				}
			}
		}
		if err := g.Add(aa, ar); err != nil {
			t.Fatal(err)
		}
	}
	keep := []int{0, 3, 4, 7, 11}
	res, err := g.Solve(keep)
	if err != nil {
		t.Fatal(err)
	}
	if res.Ridge != 0 {
		t.Fatalf("well-conditioned system solved with ridge %v", res.Ridge)
	}
	// residual E = A_K W - R; gradient A_K^T E must vanish relative to A_K^T R.
	for ki, i := range keep {
		for j := 0; j < m; j++ {
			grad, scale := 0.0, 0.0
			for t0 := 0; t0 < tokens; t0++ {
				pred := 0.0
				for kk, c := range keep {
					pred += a[t0*n+c] * float64(res.W[kk*m+j])
				}
				grad += a[t0*n+i] * (pred - r[t0*m+j])
				scale += math.Abs(a[t0*n+i] * r[t0*m+j])
			}
			if math.Abs(grad) > 1e-4*scale {
				t.Fatalf("optimality violated at kept row %d (unit %d), column %d: %v (scale %v)", ki, i, j, grad, scale)
			}
		}
	}
}

func TestSolveSingularFallsBackToRidge(t *testing.T) {
	// Two identical columns: A^T A is singular.
	g := NewGram(2, 1)
	g.Add([]float32{4, 4, 4, 4}, []float32{2, 2})
	res, err := g.Solve([]int{0, 1})
	if err != nil {
		t.Fatal(err)
	}
	if res.Ridge <= 0 {
		t.Fatal("singular system solved without reporting a ridge")
	}
	// The minimum-norm solution is w = [0.25, 0.25]; a tiny ridge gets close to it.
	if math.Abs(float64(res.W[0])-0.25) > 1e-3 || math.Abs(float64(res.W[1])-0.25) > 1e-3 {
		t.Fatalf("W = %v, want about [0.25 0.25]", res.W)
	}
	if _, err := NewGram(2, 1).Solve([]int{0}); err == nil {
		t.Fatal("all-zero activations: want an error")
	}
}
