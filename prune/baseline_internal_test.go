package prune

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"gonum.org/v1/gonum/mat"
)

func randImportance(rng *rand.Rand, layers, units int) [][]float64 {
	out := make([][]float64, layers)
	for l := range out {
		out[l] = make([]float64, units)
		for i := range out[l] {
			v := rng.NormFloat64()
			out[l][i] = v * v * math.Exp(rng.NormFloat64())
		}
	}
	return out
}

// TestKwonSearch checks the search on random importances: the kept MACs are within the budget,
// no other (heads, neurons) split of the budget has more importance, the selection beats random
// selections of the same size, and it reports the importance it kept.
func TestKwonSearch(t *testing.T) {
	cases := []struct {
		layers, heads, neurons int
		seq                    float64
		keep                   float64
	}{
		{2, 2, 512, 14, 0.5},
		{2, 2, 512, 14, 0.2},
		{4, 4, 64, 60, 0.6},
		{12, 12, 300, 128, 0.3},
		{3, 2, 16, 200, 0.05}, // not even one head fits: all the budget goes to neurons
		{2, 4, 32, 20, 0.999},
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("%dx%dx%d_s%.0f_keep%.3f", c.layers, c.heads, c.neurons, c.seq, c.keep), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(c.layers*1000+c.neurons), 7))
			hi, ni := randImportance(rng, c.layers, c.heads), randImportance(rng, c.layers, c.neurons)
			hm, nm := kwonUnitMACs(Cost{Hidden: 64 * c.heads, HeadDim: 64, SeqLen: c.seq})
			total := float64(c.layers) * (float64(c.heads)*hm + float64(c.neurons)*nm)
			budget := c.keep * total
			keepH, keepN, best := kwonSearch(hi, ni, hm, nm, budget)
			var nh, nn int
			var imp float64
			for l := range hi {
				for i, k := range keepH[l] {
					if k {
						nh++
						imp += hi[l][i]
					}
				}
				for i, k := range keepN[l] {
					if k {
						nn++
						imp += ni[l][i]
					}
				}
			}
			if macs := float64(nh)*hm + float64(nn)*nm; macs > budget*(1+1e-12) {
				t.Fatalf("kept %d heads and %d neurons = %v MACs, over the budget %v", nh, nn, macs, budget)
			}
			if math.Abs(imp-best) > 1e-9*math.Abs(best) {
				t.Fatalf("reported importance %v, kept %v", best, imp)
			}
			if hm <= budget && nh == 0 {
				t.Fatal("a head fits the budget but none was kept")
			}
			// Exhaustive check over splits: the best nh heads plus the best neurons that fit.
			sortedDesc := func(imp [][]float64) []float64 {
				var v []float64
				for _, row := range imp {
					v = append(v, row...)
				}
				for i := 1; i < len(v); i++ {
					for j := i; j > 0 && v[j] > v[j-1]; j-- {
						v[j], v[j-1] = v[j-1], v[j]
					}
				}
				return v
			}
			sh, sn := sortedDesc(hi), sortedDesc(ni)
			for h := 1; h <= len(sh); h++ {
				rest := budget - float64(h)*hm
				if rest < 0 {
					break
				}
				n := min(int(rest/nm), len(sn))
				var v float64
				for _, x := range sh[:h] {
					v += x
				}
				for _, x := range sn[:n] {
					v += x
				}
				if v > imp*(1+1e-12) {
					t.Fatalf("split %d heads + %d neurons has importance %v > the search's %v", h, n, v, imp)
				}
			}
			// Random selections of the same size never beat it.
			for trial := 0; trial < 50; trial++ {
				var v float64
				for _, p := range rng.Perm(len(sh))[:nh] {
					v += sh[p]
				}
				for _, p := range rng.Perm(len(sn))[:nn] {
					v += sn[p]
				}
				if v > imp*(1+1e-12) {
					t.Fatalf("a random split of %d heads and %d neurons has importance %v > %v", nh, nn, v, imp)
				}
			}
		})
	}
}

// TestRearrangeNeverIncreases runs the greedy rearrangement on random per-batch gradients and
// checks it keeps the count, never raises the objective and reports it correctly; on a
// constructed case it must find the cancelling pair.
func TestRearrangeNeverIncreases(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for trial := 0; trial < 200; trial++ {
		units, batches := 1+rng.IntN(40), 1+rng.IntN(8)
		grads := make([][]float64, units)
		for u := range grads {
			grads[u] = make([]float64, batches)
			for b := range grads[u] {
				grads[u][b] = rng.NormFloat64() * math.Exp(rng.NormFloat64())
			}
		}
		keep := make([]bool, units)
		// The searched mask keeps the most important units of the layer.
		sq := fisher(grads)
		kept := rng.IntN(units + 1)
		for i := 0; i < kept; i++ {
			best := -1
			for u := range keep {
				if !keep[u] && (best < 0 || sq[u] > sq[best]) {
					best = u
				}
			}
			keep[best] = true
		}
		out, before, after := rearrange(keep, grads)
		if count(out) != count(keep) {
			t.Fatalf("trial %d: kept %d units, want %d", trial, count(out), count(keep))
		}
		if want := objective(keep, grads); math.Abs(before-want) > 1e-9*(1+want) {
			t.Fatalf("trial %d: objective before %v, recomputed %v", trial, before, want)
		}
		if got := objective(out, grads); math.Abs(after-got) > 1e-9*(1+got) {
			t.Fatalf("trial %d: objective after %v, recomputed %v", trial, after, got)
		}
		if after > before*(1+1e-12)+1e-300 {
			t.Fatalf("trial %d: rearrangement raised the objective from %v to %v", trial, before, after)
		}
	}
	// Units 0 and 1 have the smallest gradients but add up; unit 2 is larger but cancels them:
	// swapping it in for unit 0 drops the objective from 8 to 0.5.
	grads := [][]float64{{1, 1}, {1, 1}, {-1.5, -1.5}, {10, 10}}
	out, before, after := rearrange([]bool{false, false, true, true}, grads)
	if want := []bool{true, false, false, true}; fmt.Sprint(out) != fmt.Sprint(want) || before != 8 || after != 0.5 {
		t.Fatalf("got keep %v, objective %v -> %v; want keep %v, 8 -> 0.5", out, before, after, want)
	}
}

// synthetic builds a tuning problem: A (tokens x width), W (width x d), unit scales, and
// R = A diag(scales per column) W, the output of the scaled units.
func synthetic(rng *rand.Rand, tokens, units, group, d int, scales []float64) (a, w, r []float64) {
	width := units * group
	a = make([]float64, tokens*width)
	w = make([]float64, width*d)
	for i := range a {
		a[i] = rng.NormFloat64()
	}
	for i := range w {
		w[i] = rng.NormFloat64() / math.Sqrt(float64(d))
	}
	r = make([]float64, tokens*d)
	for t := 0; t < tokens; t++ {
		for p := 0; p < width; p++ {
			f := a[t*width+p] * scales[p/group]
			for j := 0; j < d; j++ {
				r[t*d+j] += f * w[p*d+j]
			}
		}
	}
	return a, w, r
}

func gramOf(a, r []float64, tokens, width, d int) (aa, ar []float64) {
	am := mat.NewDense(tokens, width, a)
	rm := mat.NewDense(tokens, d, r)
	var x, y mat.Dense
	x.Mul(am.T(), am)
	y.Mul(am.T(), rm)
	return x.RawMatrix().Data, y.RawMatrix().Data
}

func f32(v []float64) []float32 {
	out := make([]float32, len(v))
	for i, x := range v {
		out[i] = float32(x)
	}
	return out
}

// TestTuneSystemMatchesDirect checks the Hadamard-Gram identity: G and rhs built from A^T A, A^T R
// and W equal the inner products of the per-unit contribution matrices C_u = A[:, u] W[u, :]
// computed directly, for heads (group > 1) and neurons (group 1).
func TestTuneSystemMatchesDirect(t *testing.T) {
	for _, c := range []struct{ tokens, units, group, d int }{{50, 6, 1, 8}, {40, 3, 4, 12}, {30, 2, 16, 32}} {
		rng := rand.New(rand.NewPCG(uint64(c.units), uint64(c.group)))
		width := c.units * c.group
		a, w, _ := synthetic(rng, c.tokens, c.units, c.group, c.d, make([]float64, c.units))
		r := make([]float64, c.tokens*c.d)
		for i := range r {
			r[i] = rng.NormFloat64()
		}
		w32 := f32(w)
		for i := range w {
			w[i] = float64(w32[i]) // the system sees float32 weights
		}
		aa, ar := gramOf(a, r, c.tokens, width, c.d)
		g, rhs := tuneSystem(aa, ar, w32, width, c.d, c.group)
		contrib := make([][]float64, c.units)
		for u := range contrib {
			cu := make([]float64, c.tokens*c.d)
			for t0 := 0; t0 < c.tokens; t0++ {
				for p := u * c.group; p < (u+1)*c.group; p++ {
					for j := 0; j < c.d; j++ {
						cu[t0*c.d+j] += a[t0*width+p] * w[p*c.d+j]
					}
				}
			}
			contrib[u] = cu
		}
		for u := 0; u < c.units; u++ {
			for v := 0; v < c.units; v++ {
				want := dot(contrib[u], contrib[v])
				if got := g[u*c.units+v]; math.Abs(got-want) > 1e-9*(1+math.Abs(want)) {
					t.Fatalf("%+v: G[%d][%d] = %v, direct %v", c, u, v, got, want)
				}
			}
			if want := dot(contrib[u], r); math.Abs(rhs[u]-want) > 1e-9*(1+math.Abs(want)) {
				t.Fatalf("%+v: rhs[%d] = %v, direct %v", c, u, rhs[u], want)
			}
		}
	}
}

// TestSolveScalesRecoversKnownScales builds R from known scales and checks the damped solve finds
// them (the damping toward 1 is negligible next to the Gram's eigenvalues), and that a layer
// already matching the teacher gets scales of exactly about 1.
func TestSolveScalesRecoversKnownScales(t *testing.T) {
	cases := []struct {
		name                    string
		tokens, units, group, d int
		ones                    bool
	}{
		{"neurons", 400, 24, 1, 16, false},
		{"heads", 300, 4, 8, 32, false},
		{"single neuron", 100, 1, 1, 8, false},
		{"already matching", 200, 10, 2, 16, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(11, uint64(c.units)))
			scales := make([]float64, c.units)
			for i := range scales {
				scales[i] = 0.2 + 2.5*rng.Float64()
				if c.ones {
					scales[i] = 1
				}
			}
			width := c.units * c.group
			a, w, r := synthetic(rng, c.tokens, c.units, c.group, c.d, scales)
			w32 := f32(w)
			for i := range w {
				w[i] = float64(w32[i])
			}
			// R from the float32 weights the solve sees.
			for i := range r {
				r[i] = 0
			}
			for t0 := 0; t0 < c.tokens; t0++ {
				for p := 0; p < width; p++ {
					f := a[t0*width+p] * scales[p/c.group]
					for j := 0; j < c.d; j++ {
						r[t0*c.d+j] += f * w[p*c.d+j]
					}
				}
			}
			aa, ar := gramOf(a, r, c.tokens, width, c.d)
			g, rhs := tuneSystem(aa, ar, w32, width, c.d, c.group)
			x, ok := solveScales(g, rhs)
			if !ok {
				t.Fatal("the solve did not converge")
			}
			for i := range x {
				if math.Abs(x[i]-scales[i]) > 1e-3*scales[i] {
					t.Fatalf("scale %d: got %v, want %v (all %v vs %v)", i, x[i], scales[i], x, scales)
				}
			}
		})
	}
}

// TestLSMR checks the LSMR port against the damped normal equations on a random rectangular
// problem, and its failure signal on a hopeless condition limit.
func TestLSMR(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	const m, n = 60, 12
	a := mat.NewDense(m, n, nil)
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			a.Set(i, j, rng.NormFloat64()*float64(j+1))
		}
	}
	b := make([]float64, m)
	for i := range b {
		b[i] = rng.NormFloat64()
	}
	mv := func(dst, x []float64) { mat.NewVecDense(m, dst).MulVec(a, mat.NewVecDense(n, x)) }
	rmv := func(dst, y []float64) { mat.NewVecDense(n, dst).MulVec(a.T(), mat.NewVecDense(m, y)) }
	for _, damp := range []float64{0, 1, 10} {
		x, istop, _ := lsmr(m, n, mv, rmv, b, damp, 1e-10, 1e-10, 1e12, 10*n)
		if istop == 0 || istop >= 3 {
			t.Fatalf("damp %v: istop %d", damp, istop)
		}
		var ata mat.Dense
		ata.Mul(a.T(), a)
		for i := 0; i < n; i++ {
			ata.Set(i, i, ata.At(i, i)+damp*damp)
		}
		var atb, want mat.VecDense
		atb.MulVec(a.T(), mat.NewVecDense(m, b))
		if err := want.SolveVec(&ata, &atb); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < n; i++ {
			if math.Abs(x[i]-want.AtVec(i)) > 1e-6*(1+math.Abs(want.AtVec(i))) {
				t.Fatalf("damp %v: x[%d] = %v, want %v", damp, i, x[i], want.AtVec(i))
			}
		}
	}
	if _, istop, _ := lsmr(m, n, mv, rmv, b, 0, 1e-16, 1e-16, 2, 0); istop != 3 {
		t.Fatalf("condition limit 2: istop %d, want 3", istop)
	}
	if x, istop, _ := lsmr(m, n, mv, rmv, make([]float64, m), 1, 1e-6, 1e-6, 1e8, 0); istop != 0 || norm2(x) != 0 {
		t.Fatalf("b = 0: x = %v, istop %d", x, istop)
	}
}

// TestScalesProblem checks the reference's stopping rule for mask tuning.
func TestScalesProblem(t *testing.T) {
	cases := []struct {
		x         []float64
		converged bool
		want      string
	}{
		{[]float64{1, 0.5, -10, 10}, true, ""},
		{[]float64{1, 10.01}, true, "outside [-10, 10]"},
		{[]float64{-12, 1}, true, "outside [-10, 10]"},
		{[]float64{1, math.NaN()}, true, "outside [-10, 10]"},
		{[]float64{1, 1}, false, "did not converge"},
	}
	for _, c := range cases {
		got := scalesProblem(3, c.x, c.converged)
		if (c.want == "") != (got == "") || (c.want != "" && !strings.Contains(got, c.want)) {
			t.Errorf("scales %v, converged %v: got %q, want %q", c.x, c.converged, got, c.want)
		}
	}
}
