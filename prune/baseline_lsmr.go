package prune

import "math"

// lsmrStop is the reason lsmr stopped, numbered as scipy.sparse.linalg.lsmr's istop:
// 0 x = 0 solves the problem, 1 the residual is small enough (compatible system), 2 a
// least-squares solution was found, 3 the condition estimate exceeded conlim, 4 and 5 as 1 and 2
// at machine precision, 6 the condition number is too large for machine precision, 7 the
// iteration limit was reached.
type lsmrStop int

// lsmr solves min ||A x - b||^2 + damp^2 ||x||^2 for an m x n operator given by matvec (dst = A x,
// len(dst) = m) and rmatvec (dst = A^T y, len(dst) = n), with the LSMR algorithm of Fong and
// Saunders (2011). It is a line-by-line port of scipy.sparse.linalg.lsmr (also cupyx's, which the
// reference implementation of Kwon et al. calls) with x0 = 0, including its stopping rules, so
// that "the solve failed" (istop >= 3) means what it means there. maxiter <= 0 selects min(m, n).
func lsmr(m, n int, matvec, rmatvec func(dst, x []float64), b []float64, damp, atol, btol, conlim float64, maxiter int) ([]float64, lsmrStop, int) {
	if maxiter <= 0 {
		maxiter = min(m, n)
	}
	l := newLSMR(m, n, matvec, rmatvec, b, damp, atol, btol, conlim)
	if l.normar == 0 || l.normb == 0 {
		return l.x, 0, 0
	}
	istop := lsmrStop(0)
	for l.itn < maxiter {
		l.itn++
		l.bidiagonalize()
		r := l.rotate()
		l.estimateNorms(r)
		if istop = l.stop(maxiter); istop > 0 {
			break
		}
	}
	return l.x, istop, l.itn
}

// lsmrState is the state of scipy's lsmr loop, with scipy's variable names.
type lsmrState struct {
	matvec, rmatvec      func(dst, x []float64)
	damp, atol, btol     float64
	ctol, normb          float64
	u, v, x, h, hbar     []float64
	au, atv              []float64 // A v and A^T u
	alpha, beta          float64
	itn                  int
	zetabar, alphabar    float64
	rho, rhobar          float64
	cbar, sbar           float64
	betadd, betad        float64 // estimation of ||r||
	rhodold, tautildeold float64
	thetatilde, zeta, d  float64
	normA2               float64 // estimation of ||A|| and cond(A)
	maxrbar, minrbar     float64
	normA, condA, normx  float64
	normr, normar        float64
}

// newLSMR starts the bidiagonalization: beta*u = b, alpha*v = A^T u.
func newLSMR(m, n int, matvec, rmatvec func(dst, x []float64), b []float64, damp, atol, btol, conlim float64) *lsmrState {
	l := &lsmrState{matvec: matvec, rmatvec: rmatvec, damp: damp, atol: atol, btol: btol}
	l.u = append([]float64(nil), b...)
	l.normb = norm2(b)
	l.x = make([]float64, n)
	l.beta = l.normb
	l.v = make([]float64, n)
	if l.beta > 0 {
		scaleVec(l.u, 1/l.beta)
		rmatvec(l.v, l.u)
		l.alpha = norm2(l.v)
	}
	if l.alpha > 0 {
		scaleVec(l.v, 1/l.alpha)
	}
	l.zetabar = l.alpha * l.beta
	l.alphabar = l.alpha
	l.rho, l.rhobar, l.cbar, l.sbar = 1.0, 1.0, 1.0, 0.0
	l.h = append([]float64(nil), l.v...)
	l.hbar = make([]float64, n)
	l.betadd, l.rhodold = l.beta, 1.0
	l.normA2 = l.alpha * l.alpha
	l.minrbar = 1e100
	if conlim > 0 {
		l.ctol = 1 / conlim
	}
	l.normar = l.alpha * l.beta
	l.au = make([]float64, m)
	l.atv = make([]float64, n)
	return l
}

// bidiagonalize is one Golub-Kahan step: beta*u = A v - alpha*u, alpha*v = A^T u - beta*v.
func (l *lsmrState) bidiagonalize() {
	l.matvec(l.au, l.v)
	for i := range l.u {
		l.u[i] = l.au[i] - l.alpha*l.u[i]
	}
	l.beta = norm2(l.u)
	if l.beta > 0 {
		scaleVec(l.u, 1/l.beta)
		l.rmatvec(l.atv, l.u)
		for i := range l.v {
			l.v[i] = l.atv[i] - l.beta*l.v[i]
		}
		l.alpha = norm2(l.v)
		if l.alpha > 0 {
			scaleVec(l.v, 1/l.alpha)
		}
	}
}

// lsmrRotation holds the values of one iteration's rotations that the norm estimates need.
type lsmrRotation struct {
	chat, shat, c, s   float64
	thetabar, rhotemp  float64
	rhobarold, zetaold float64
}

// rotate applies the iteration's rotations (Qhat_{k,2k+1} for the damping, Q_k turning B_k into
// R_k, Qbar_k turning R_k^T into Rbar_k) and updates h, hbar and x.
func (l *lsmrState) rotate() lsmrRotation {
	var r lsmrRotation
	var alphahat float64
	r.chat, r.shat, alphahat = symOrtho(l.alphabar, l.damp)
	rhoold := l.rho
	r.c, r.s, l.rho = symOrtho(alphahat, l.beta)
	thetanew := r.s * l.alpha
	l.alphabar = r.c * l.alpha
	r.rhobarold = l.rhobar
	r.zetaold = l.zeta
	r.thetabar = l.sbar * l.rho
	r.rhotemp = l.cbar * l.rho
	l.cbar, l.sbar, l.rhobar = symOrtho(l.cbar*l.rho, thetanew)
	l.zeta = l.cbar * l.zetabar
	l.zetabar = -l.sbar * l.zetabar
	// Update h, hbar, x.
	fh := -(r.thetabar * l.rho / (rhoold * r.rhobarold))
	for i := range l.hbar {
		l.hbar[i] = l.hbar[i]*fh + l.h[i]
	}
	fx := l.zeta / (l.rho * l.rhobar)
	for i := range l.x {
		l.x[i] += fx * l.hbar[i]
	}
	fv := -(thetanew / l.rho)
	for i := range l.h {
		l.h[i] = l.h[i]*fv + l.v[i]
	}
	return r
}

// estimateNorms updates the estimates of ||r||, ||A|| and cond(A).
func (l *lsmrState) estimateNorms(r lsmrRotation) {
	betaacute := r.chat * l.betadd
	betacheck := -r.shat * l.betadd
	betahat := r.c * betaacute
	l.betadd = -r.s * betaacute
	thetatildeold := l.thetatilde
	ctildeold, stildeold, rhotildeold := symOrtho(l.rhodold, r.thetabar)
	l.thetatilde = stildeold * l.rhobar
	l.rhodold = ctildeold * l.rhobar
	l.betad = -stildeold*l.betad + ctildeold*betahat
	l.tautildeold = (r.zetaold - thetatildeold*l.tautildeold) / rhotildeold
	taud := (l.zeta - l.thetatilde*l.tautildeold) / l.rhodold
	l.d += betacheck * betacheck
	l.normr = math.Sqrt(l.d + (l.betad-taud)*(l.betad-taud) + l.betadd*l.betadd)
	l.normA2 += l.beta * l.beta
	l.normA = math.Sqrt(l.normA2)
	l.normA2 += l.alpha * l.alpha
	l.maxrbar = math.Max(l.maxrbar, r.rhobarold)
	if l.itn > 1 {
		l.minrbar = math.Min(l.minrbar, r.rhobarold)
	}
	l.condA = math.Max(l.maxrbar, r.rhotemp) / math.Min(l.minrbar, r.rhotemp)
}

// stop runs scipy's convergence tests and returns why to stop, or 0 to go on.
func (l *lsmrState) stop(maxiter int) lsmrStop {
	l.normar = math.Abs(l.zetabar)
	l.normx = norm2(l.x)
	test1 := l.normr / l.normb
	test2 := math.Inf(1)
	if l.normA*l.normr != 0 {
		test2 = l.normar / (l.normA * l.normr)
	}
	test3 := 1 / l.condA
	t1 := test1 / (1 + l.normA*l.normx/l.normb)
	rtol := l.btol + l.atol*l.normA*l.normx/l.normb
	istop := lsmrStop(0)
	if l.itn >= maxiter {
		istop = 7
	}
	if 1+test3 <= 1 {
		istop = 6
	}
	if 1+test2 <= 1 {
		istop = 5
	}
	if 1+t1 <= 1 {
		istop = 4
	}
	if test3 <= l.ctol {
		istop = 3
	}
	if test2 <= l.atol {
		istop = 2
	}
	if test1 <= rtol {
		istop = 1
	}
	return istop
}

// symOrtho is scipy's _sym_ortho: a stable Givens rotation (c, s) with c*a + s*b = r.
func symOrtho(a, b float64) (c, s, r float64) {
	switch {
	case b == 0:
		return sign(a), 0, math.Abs(a)
	case a == 0:
		return 0, sign(b), math.Abs(b)
	case math.Abs(b) > math.Abs(a):
		tau := a / b
		s = sign(b) / math.Sqrt(1+tau*tau)
		c = s * tau
		r = b / s
	default:
		tau := b / a
		c = sign(a) / math.Sqrt(1+tau*tau)
		s = c * tau
		r = a / c
	}
	return c, s, r
}

func sign(v float64) float64 {
	switch {
	case v > 0:
		return 1
	case v < 0:
		return -1
	}
	return 0
}

func norm2(v []float64) float64 {
	var s float64
	for _, x := range v {
		s += x * x
	}
	return math.Sqrt(s)
}

func scaleVec(v []float64, f float64) {
	for i := range v {
		v[i] *= f
	}
}
