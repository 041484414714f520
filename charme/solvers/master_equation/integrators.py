"""Time integration of dp/dt = A p for a projected generator in CSR form.

Three methods, each returning p at every requested time (never skipping one)
and an integration error estimate:

- :func:`uniformization`: p(t) = sum_k Poisson(k; lam t) P^k p0 with
  P = I + A/lam (Jensen 1953), in sub-steps with lam*dt <= 50, each truncated
  where the Poisson tail is below its share of the tolerance.  P is
  substochastic, so the neglected tail bounds the L1 error rigorously.
- :func:`krylov`: Expokit's ``expv`` (R. B. Sidje, ACM TOMS 24 (1998) 130):
  Arnoldi basis of dimension m, local error estimate, step-size control.
- :func:`implicit`: SciPy's BDF with the sparse generator as Jacobian, for
  very stiff chains.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.linalg

from charme.solvers.master_equation.kernels import (
    csr_matvec,
    csr_matvec_serial,
    uniformized_matvec,
    uniformized_matvec_serial,
)

#: Below this many stored entries a product runs on one thread (no start-up cost).
PARALLEL_NNZ = 200_000

#: Largest lam * dt of one uniformization sub-step (keeps e^{-lam dt} > 1e-22).
UNIF_MAX_Q = 50.0


class Generator:
    """A projected generator: CSR arrays plus the outflow rate of each state."""

    def __init__(self, indptr, indices, data, outflow):
        self.indptr = indptr
        self.indices = indices
        self.data = data
        self.outflow = outflow
        self.n = indptr.shape[0] - 1
        diag = data[indptr[:-1]]
        self.max_exit = float(-diag.min()) if self.n else 0.0
        self.matvecs = 0
        parallel = self.indptr[-1] >= PARALLEL_NNZ
        self._mv = csr_matvec if parallel else csr_matvec_serial
        self._umv = uniformized_matvec if parallel else uniformized_matvec_serial

    def matvec(self, x, out=None):
        out = np.empty(self.n) if out is None else out
        self._mv(self.indptr, self.indices, self.data, x, out)
        self.matvecs += 1
        return out

    def uniformized(self, inv_lam, x, out):
        """``out = (I + A/lam) x``."""
        self._umv(self.indptr, self.indices, self.data, inv_lam, x, out)
        self.matvecs += 1

    def to_scipy(self):
        import scipy.sparse as sp

        return sp.csr_matrix((self.data, self.indices, self.indptr), shape=(self.n, self.n))

    def norm_inf(self) -> float:
        """Max row sum of |A| (bounded by twice the largest exit rate)."""
        return float(np.add.reduceat(np.abs(self.data), self.indptr[:-1]).max()) if self.n else 0.0


def uniformization(gen: Generator, p0, times, tol):
    """p at ``times`` (times[0] is the start), and the rigorous truncation bound."""
    lam = gen.max_exit
    out = np.empty((len(times), gen.n))
    p = np.array(p0, dtype=float)
    out[0] = p
    if lam == 0.0:
        out[1:] = p
        return out, 0.0
    total = times[-1] - times[0]
    bound = 0.0
    v = np.empty(gen.n)
    w = np.empty(gen.n)
    inv_lam = 1.0 / lam
    for k in range(1, len(times)):
        remaining = times[k] - times[k - 1]
        while remaining > 0.0:
            dt = min(remaining, UNIF_MAX_Q / lam)
            if remaining - dt < 1e-12 * max(1.0, total):
                dt = remaining
            q = lam * dt
            eps = tol * dt / total
            weight = math.exp(-q)
            acc = weight * p
            cum = weight
            v[:] = p
            j = 0
            while 1.0 - cum > eps and j < 10_000_000:
                j += 1
                gen.uniformized(inv_lam, v, w)
                v, w = w, v
                weight *= q / j
                acc += weight * v
                cum += weight
            bound += max(0.0, 1.0 - cum)
            p = acc
            remaining -= dt
        out[k] = p
    return out, bound


def krylov(gen: Generator, p0, times, tol, m: int = 20):
    """Expokit ``expv`` between consecutive output times; returns (p, error estimate)."""
    n = gen.n
    out = np.empty((len(times), n))
    w = np.array(p0, dtype=float)
    out[0] = w
    m = max(2, min(m, n))
    anorm = gen.norm_inf()
    if anorm == 0.0 or n == 0:
        out[1:] = w
        return out, 0.0
    btol, gamma, delta, mxrej = 1e-7, 0.9, 1.2, 10
    rndoff = anorm * np.finfo(float).eps
    fact = (((m + 1) / math.e) ** (m + 1)) * math.sqrt(2 * math.pi * (m + 1))
    V = np.empty((m + 1, n))
    s_error = 0.0
    t_new = None
    for k in range(1, len(times)):
        t_out = times[k] - times[k - 1]
        t_now = 0.0
        beta = float(np.linalg.norm(w))
        if beta == 0.0:
            out[k] = w
            continue
        if t_new is None:
            xm = 1.0 / m
            t_new = (1.0 / anorm) * ((fact * tol) / (4.0 * beta * anorm)) ** xm
            s = 10.0 ** (math.floor(math.log10(t_new)) - 1)
            t_new = math.ceil(t_new / s) * s
        while t_now < t_out:
            t_step = min(t_out - t_now, t_new)
            H = np.zeros((m + 2, m + 2))
            V[0] = w / beta
            k1, mb = 2, m
            for j in range(m):
                p = gen.matvec(V[j])
                before = float(np.linalg.norm(p))
                h = V[: j + 1] @ p  # classical Gram-Schmidt (BLAS-2) ...
                p -= h @ V[: j + 1]
                s = float(np.linalg.norm(p))
                if s < 0.7 * before:  # ... with a second pass when cancellation is severe
                    h2 = V[: j + 1] @ p
                    p -= h2 @ V[: j + 1]
                    h += h2
                    s = float(np.linalg.norm(p))
                H[: j + 1, j] = h
                if s < btol:
                    k1, mb = 0, j + 1
                    t_step = t_out - t_now
                    break
                H[j + 1, j] = s
                V[j + 1] = p / s
            if k1 != 0:
                H[m + 1, m] = 1.0
                avnorm = float(np.linalg.norm(gen.matvec(V[m])))
            ireject = 0
            while True:
                mx = mb + k1
                F = scipy.linalg.expm(t_step * H[:mx, :mx])
                if k1 == 0:
                    err_loc = btol
                    break
                phi1 = abs(beta * F[m, 0])
                phi2 = abs(beta * F[m + 1, 0] * avnorm)
                if phi1 > 10.0 * phi2:
                    err_loc, xm = phi2, 1.0 / m
                elif phi1 > phi2:
                    err_loc, xm = (phi1 * phi2) / (phi1 - phi2), 1.0 / m
                else:
                    err_loc, xm = phi1, 1.0 / (m - 1)
                if err_loc <= delta * t_step * tol or ireject >= mxrej:
                    break
                t_step = gamma * t_step * (t_step * tol / err_loc) ** xm
                s = 10.0 ** (math.floor(math.log10(t_step)) - 1)
                t_step = math.ceil(t_step / s) * s
                ireject += 1
            mx = mb + max(0, k1 - 1)
            w = (beta * F[:mx, 0]) @ V[:mx]
            beta = float(np.linalg.norm(w))
            t_now += t_step
            if k1 != 0:
                t_new = gamma * t_step * (t_step * tol / max(err_loc, 1e-300)) ** xm
                s = 10.0 ** (math.floor(math.log10(t_new)) - 1)
                t_new = math.ceil(t_new / s) * s
            s_error += max(err_loc, rndoff)
        out[k] = w
    return out, s_error


def implicit(gen: Generator, p0, times, tol):
    """SciPy BDF with the sparse generator as Jacobian (for very stiff chains).

    BDF conserves total probability, so its error does not show in the lost
    mass; it is estimated a posteriori from a second solve with a ten times
    tighter tolerance (the L1 difference, worst over the output times).
    """
    from scipy.integrate import solve_ivp

    from charme.errors import SolverError

    A = gen.to_scipy()

    def run(rtol):
        sol = solve_ivp(
            lambda _t, p: gen.matvec(p), (times[0], times[-1]), np.asarray(p0, float),
            method="BDF", t_eval=times, jac=A, rtol=rtol, atol=rtol * 1e-3,
        )  # fmt: skip
        if not sol.success:
            raise SolverError(f"the implicit integrator failed: {sol.message}")
        return sol.y.T.copy()

    rtol = min(max(tol, 1e-13), 1e-3)
    coarse = run(rtol * 10)
    fine = run(rtol)
    estimate = float(np.abs(fine - coarse).sum(axis=1).max())
    return fine, estimate


METHODS = {"uniformization": uniformization, "krylov": krylov, "implicit": implicit}
