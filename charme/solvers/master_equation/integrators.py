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
    combine_rows,
    csr_matvec,
    csr_matvec_serial,
    gram_schmidt,
    norm2,
    uniformized_accumulate,
    uniformized_accumulate_serial,
)

#: Below this many stored entries a product runs on one thread (no start-up cost).
PARALLEL_NNZ = 200_000

#: Largest lam * dt of one uniformization sub-step (keeps e^{-lam dt} > 1e-22).
UNIF_MAX_Q = 50.0


class Generator:
    """A projected generator: CSR arrays plus the outflow rate of each state.

    ``level`` (optional) is each state's breadth-first distance from the
    initial state, non-decreasing in index: one product can move
    probability by at most one level, which :func:`uniformization` uses to
    work only on the prefix of states that can hold probability.
    """

    def __init__(self, indptr, indices, data, outflow, level=None):
        self.indptr = indptr
        self.indices = indices
        self.data = data
        self.outflow = outflow
        self.n = indptr.shape[0] - 1
        diag = data[indptr[:-1]]
        self.max_exit = float(-diag.min()) if self.n else 0.0
        self.matvecs = 0
        if level is None:
            self.level_end = np.array([self.n], np.int64)
        else:  # level_end[d] = number of states at levels <= d
            self.level_end = np.searchsorted(level, np.arange(int(level[-1]) + 1), side="right")
        parallel = self.indptr[-1] >= PARALLEL_NNZ
        self._mv = csr_matvec if parallel else csr_matvec_serial
        self._uacc = uniformized_accumulate if parallel else uniformized_accumulate_serial

    def matvec(self, x, out=None):
        out = np.empty(self.n) if out is None else out
        self._mv(self.indptr, self.indices, self.data, x, out)
        self.matvecs += 1
        return out

    def uniformized_accumulate(self, inv_lam, x, out, acc, weight, rows=None):
        """Rows ``< rows`` of ``out = (I + A/lam) x`` and ``acc += weight * out``."""
        rows = self.n if rows is None else rows
        self._uacc(self.indptr, self.indices, self.data, inv_lam, x, out, acc, weight, rows)
        self.matvecs += 1

    def to_scipy(self):
        import scipy.sparse as sp

        return sp.csr_matrix((self.data, self.indices, self.indptr), shape=(self.n, self.n))

    def norm_inf(self) -> float:
        """Max row sum of |A| (bounded by twice the largest exit rate)."""
        return float(np.add.reduceat(np.abs(self.data), self.indptr[:-1]).max()) if self.n else 0.0


def uniformization(gen: Generator, p0, times, tol):
    """p at ``times`` (times[0] is the start), and the rigorous truncation bound.

    Work is confined to the states that can hold probability: those within
    one level per product of the support (``gen.level_end``).  Between
    sub-steps the far levels whose total probability is below half the
    sub-step's share of ``tol`` are set to zero; that mass leaves ``p`` (it
    shows in ``1 - sum(p)``, like the mass leaving the projection), so the
    error stays certified.
    """
    lam = gen.max_exit
    out = np.empty((len(times), gen.n))
    p = np.array(p0, dtype=float)
    out[0] = p
    if lam == 0.0:
        out[1:] = p
        return out, 0.0
    total = times[-1] - times[0]
    level_end = gen.level_end
    top = len(level_end) - 1
    nz = np.flatnonzero(p)
    # highest level holding probability
    support = int(np.searchsorted(level_end, nz[-1], side="right")) if nz.size else 0
    bound = 0.0
    v = np.zeros(gen.n)
    w = np.zeros(gen.n)
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
            rows = level_end[support]
            acc = p * weight
            cum = weight
            v[:rows] = p[:rows]
            v[rows:] = 0.0
            w[:] = 0.0
            j = 0
            level = support
            tail = 1.0 - cum
            while tail > 0.5 * eps:
                j += 1
                weight *= q / j
                level = min(level + 1, top)
                rows = level_end[level]
                gen.uniformized_accumulate(inv_lam, v, w, acc, weight, rows)
                v, w = w, v
                cum += weight
                tail = 1.0 - cum
                if j + 2 > q:  # rigorous Poisson tail past the mode, immune to rounding in cum
                    tail = min(tail, weight * q / (j + 1) / (1.0 - q / (j + 2)))
            bound += max(0.0, tail)
            p = acc
            support = level
            # drop the far levels holding less than half this sub-step's share
            if support > 0:
                mass = (
                    np.add.reduceat(p, np.concatenate(([0], level_end[:support]))) if gen.n else p
                )
                tail = np.cumsum(mass[::-1])[::-1]  # tail[d] = mass at levels >= d
                cut = int(np.searchsorted(-tail, -0.5 * eps, side="left"))
                if 0 < cut <= support:
                    p[level_end[cut - 1] :] = 0.0
                    support = cut - 1
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
        beta = float(norm2(w))
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
                h = np.zeros(j + 1)
                before, s = gram_schmidt(V, j, p, h)  # classical Gram-Schmidt ...
                if s < 0.7 * before:  # ... with a second pass when cancellation is severe
                    _, s = gram_schmidt(V, j, p, h)
                H[: j + 1, j] = h
                if s < btol:
                    k1, mb = 0, j + 1
                    t_step = t_out - t_now
                    break
                H[j + 1, j] = s
                V[j + 1] = p / s
            if k1 != 0:
                H[m + 1, m] = 1.0
                avnorm = float(norm2(gen.matvec(V[m])))
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
            w = np.empty(n)
            combine_rows(V, beta * F[:mx, 0], w)
            beta = float(norm2(w))
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
