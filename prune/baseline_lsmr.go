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
	u := append([]float64(nil), b...)
	normb := norm2(b)
	x := make([]float64, n)
	beta := normb
	v := make([]float64, n)
	alpha := 0.0
	if beta > 0 {
		scaleVec(u, 1/beta)
		rmatvec(v, u)
		alpha = norm2(v)
	}
	if alpha > 0 {
		scaleVec(v, 1/alpha)
	}
	itn := 0
	zetabar := alpha * beta
	alphabar := alpha
	rho, rhobar, cbar, sbar := 1.0, 1.0, 1.0, 0.0
	h := append([]float64(nil), v...)
	hbar := make([]float64, n)
	// Estimation of ||r||.
	betadd, betad, rhodold, tautildeold, thetatilde, zeta, d := beta, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0
	// Estimation of ||A|| and cond(A).
	normA2 := alpha * alpha
	maxrbar, minrbar := 0.0, 1e100
	var normA, condA, normx, normr, normar float64
	ctol := 0.0
	if conlim > 0 {
		ctol = 1 / conlim
	}
	normar = alpha * beta
	if normar == 0 || normb == 0 {
		return x, 0, 0
	}
	au := make([]float64, m)
	atv := make([]float64, n)
	istop := lsmrStop(0)
	for itn < maxiter {
		itn++
		// Bidiagonalization: beta*u = A v - alpha*u, alpha*v = A^T u - beta*v.
		matvec(au, v)
		for i := range u {
			u[i] = au[i] - alpha*u[i]
		}
		beta = norm2(u)
		if beta > 0 {
			scaleVec(u, 1/beta)
			rmatvec(atv, u)
			for i := range v {
				v[i] = atv[i] - beta*v[i]
			}
			alpha = norm2(v)
			if alpha > 0 {
				scaleVec(v, 1/alpha)
			}
		}
		// Rotation Qhat_{k,2k+1} (damping), then Q_k turning B_k into R_k.
		chat, shat, alphahat := symOrtho(alphabar, damp)
		rhoold := rho
		var c, s float64
		c, s, rho = symOrtho(alphahat, beta)
		thetanew := s * alpha
		alphabar = c * alpha
		// Rotation Qbar_k turning R_k^T into Rbar_k.
		rhobarold := rhobar
		zetaold := zeta
		thetabar := sbar * rho
		rhotemp := cbar * rho
		cbar, sbar, rhobar = symOrtho(cbar*rho, thetanew)
		zeta = cbar * zetabar
		zetabar = -sbar * zetabar
		// Update h, hbar, x.
		fh := -(thetabar * rho / (rhoold * rhobarold))
		for i := range hbar {
			hbar[i] = hbar[i]*fh + h[i]
		}
		fx := zeta / (rho * rhobar)
		for i := range x {
			x[i] += fx * hbar[i]
		}
		fv := -(thetanew / rho)
		for i := range h {
			h[i] = h[i]*fv + v[i]
		}
		// Estimate ||r||.
		betaacute := chat * betadd
		betacheck := -shat * betadd
		betahat := c * betaacute
		betadd = -s * betaacute
		thetatildeold := thetatilde
		ctildeold, stildeold, rhotildeold := symOrtho(rhodold, thetabar)
		thetatilde = stildeold * rhobar
		rhodold = ctildeold * rhobar
		betad = -stildeold*betad + ctildeold*betahat
		tautildeold = (zetaold - thetatildeold*tautildeold) / rhotildeold
		taud := (zeta - thetatilde*tautildeold) / rhodold
		d += betacheck * betacheck
		normr = math.Sqrt(d + (betad-taud)*(betad-taud) + betadd*betadd)
		// Estimate ||A|| and cond(A).
		normA2 += beta * beta
		normA = math.Sqrt(normA2)
		normA2 += alpha * alpha
		maxrbar = math.Max(maxrbar, rhobarold)
		if itn > 1 {
			minrbar = math.Min(minrbar, rhobarold)
		}
		condA = math.Max(maxrbar, rhotemp) / math.Min(minrbar, rhotemp)
		// Convergence tests.
		normar = math.Abs(zetabar)
		normx = norm2(x)
		test1 := normr / normb
		test2 := math.Inf(1)
		if normA*normr != 0 {
			test2 = normar / (normA * normr)
		}
		test3 := 1 / condA
		t1 := test1 / (1 + normA*normx/normb)
		rtol := btol + atol*normA*normx/normb
		if itn >= maxiter {
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
		if test3 <= ctol {
			istop = 3
		}
		if test2 <= atol {
			istop = 2
		}
		if test1 <= rtol {
			istop = 1
		}
		if istop > 0 {
			break
		}
	}
	return x, istop, itn
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
