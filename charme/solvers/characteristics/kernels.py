"""Numba kernels: characteristics and characteristic strips, with variational equations.

A ray carries ``z`` (size N) and its derivatives along the m = n - 1
manifold parameters: ``y = [z, z_s1, ..., z_sm]``.  For a quasilinear
equation ``z = (x, u)`` and ``dz/dtau = (a(x, u), b(x, u))``; for a fully
nonlinear one (Charpit) ``z = (x, u, p)`` and ``dz/dtau = (F_p, p.F_p,
-F_x - p F_u)``.  In both cases the right-hand side ``g(z)`` and its
Jacobian ``G = dg/dz`` are postfix programs (see
:func:`charme.solvers.gillespie.kernels.eval_program`), rows ``g_0..g_{N-1}``
then ``G`` row-major, and ``d(z_s)/dtau = G z_s``.

Integration: Dormand-Prince 5(4) with error control (``rtol``, ``atol``),
J. R. Dormand and P. J. Prince, J. Comput. Appl. Math. 6 (1980) 19.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from charme.solvers.gillespie.kernels import OP_CONST, eval_program

RAY_OK = 0
RAY_BLOW_UP = 1  # the step size collapsed (u or the ray left every bound)
RAY_TOO_MANY_STEPS = 2

MAX_STEPS = 1_000_000
#: depth of the postfix evaluation stack every kernel allocates
STACK_SIZE = 64
#: Newton onto a ray of 1-D data ends after one integration when its step is below
#: this (relative to 1 + |s|) and d(z_s)/ds at the seed is known (:func:`locate`)
ONE_STEP = 1e-11


@njit(cache=True)
def rhs(code, consts, prog, nz, y, dy, v, stack, coef):
    """Right-hand side of the ray system (see the module docstring)."""
    m = y.shape[0] // nz - 1
    for i in range(nz):
        v[i] = y[i]
    for k in range(prog.shape[0]):
        start = prog[k, 0]
        if prog[k, 1] - start == 1 and code[start, 0] == OP_CONST:
            coef[k] = consts[code[start, 1]]  # a constant (most Jacobian entries): no interpreter
        else:
            coef[k] = eval_program(code, consts, start, prog[k, 1], v, stack, 0.0)
    for i in range(nz):
        dy[i] = coef[i]
    for k in range(m):
        base = nz + k * nz
        for i in range(nz):
            acc = 0.0
            for j in range(nz):
                c = coef[nz + i * nz + j]
                if c != 0.0:
                    acc += c * y[base + j]
            dy[base + i] = acc


@njit(cache=True)
def ray_rhs(code, consts, prog, nz, y, dy, v, stack, coef):
    """:func:`rhs` for callers of their own: ValueError where the arrays do not fit
    (``y``, ``dy``: ``float64[d]``, ``d`` a multiple of ``nz``; ``v``: ``float64[nz]``;
    ``stack``: ``float64[KERNEL_STACK]``; ``coef``: ``float64[len(prog)]``)."""
    _check_program(prog, nz)
    _check_state(y, nz)
    if dy.shape[0] != y.shape[0] or v.shape[0] < nz or coef.shape[0] < prog.shape[0]:
        raise ValueError("ray_rhs: dy must be as long as y, v have nz entries and coef "
                         "len(prog)")  # fmt: skip
    _check_stack(stack)
    rhs(code, consts, prog, nz, y, dy, v, stack, coef)


@njit(cache=True)
def _check_program(prog, nz):
    """ValueError unless ``prog`` is the ray system of states of size ``nz`` (its
    ``nz`` right-hand sides and the ``nz * nz`` Jacobian entries)."""
    if nz < 2 or prog.shape[1] != 2 or prog.shape[0] != nz + nz * nz:
        raise ValueError("the ray program does not fit nz: prog must have nz + nz*nz rows "
                         "(CompiledPDE.prog and CompiledPDE.nz)")  # fmt: skip


@njit(cache=True)
def _check_state(y, nz):
    """ValueError unless ``y`` is a ray state: z and its derivatives, a multiple of nz."""
    if y.shape[0] < nz or y.shape[0] % nz != 0:
        raise ValueError("a ray state must have d = nz * n entries (CompiledPDE.d)")


@njit(cache=True)
def _check_stack(stack):
    if stack.shape[0] < STACK_SIZE:
        raise ValueError("the evaluation stack must have KERNEL_STACK (64) entries")


@njit(cache=True)
def _check_tolerances(rtol, atol):
    if not (rtol > 0.0 and atol >= 0.0 and math.isfinite(rtol) and math.isfinite(atol)):
        raise ValueError("rtol must be positive and atol non-negative (both finite)")


@njit(cache=True)
def _put(row, value):
    """``row[:] = value`` as a plain loop."""
    for i in range(row.shape[0]):
        row[i] = value[i]


@njit(cache=True)
def _put_nan(row):
    for i in range(row.shape[0]):
        row[i] = np.nan


@njit(cache=True)
def _fill_nan(rows, first):
    """NaN in ``rows[first:]``."""
    for j in range(first, rows.shape[0]):
        for i in range(rows.shape[1]):
            rows[j, i] = np.nan


@njit(cache=True)
def integrate(code, consts, prog, nz, y, tau0, tau1, rtol, atol, h0):
    """Advance ``y`` from ``tau0`` to ``tau1`` (either direction) with DOPRI5.

    Returns ``(status, h, tau)``: the last step size (a good first guess for
    the next call) and the time reached (``tau1`` unless it failed).
    """
    _check_program(prog, nz)
    _check_state(y, nz)
    _check_tolerances(rtol, atol)
    if not (math.isfinite(tau0) and math.isfinite(tau1) and math.isfinite(h0)):
        raise ValueError("integrate: tau0, tau1 and h0 must be finite")
    return _integrate(code, consts, prog, nz, y, tau0, tau1, rtol, atol, h0)


@njit(cache=True)
def _integrate(code, consts, prog, nz, y, tau0, tau1, rtol, atol, h0):
    """:func:`integrate` without its checks of the arguments (the solver's own calls)."""
    work, v, stack, coef = workspace(prog, nz, y.shape[0])
    return integrate_ws(code, consts, prog, nz, y, tau0, tau1, rtol, atol, h0, work, v, stack, coef)


@njit(cache=True)
def workspace(prog, nz, d):
    """Scratch arrays for :func:`integrate_ws` (allocate once per ray, not per call)."""
    return np.empty((9, d)), np.empty(nz), np.empty(STACK_SIZE), np.empty(prog.shape[0])


@njit(cache=True)
def integrate_ws(code, consts, prog, nz, y, tau0, tau1, rtol, atol, h0, work, v, stack, coef):
    """:func:`integrate` with caller-owned scratch arrays (from :func:`workspace`)."""
    return integrate_dense(code, consts, prog, nz, y, tau0, tau1, rtol, atol, h0, work, v, stack,
                           coef, np.empty(0), np.empty((0, y.shape[0])))  # fmt: skip


# Dormand-Prince dense output (E. Hairer, S. P. Norsett, G. Wanner, Solving Ordinary
# Differential Equations I, 2nd ed., section II.6; their code DOPRI5): fourth order
_D1 = -12715105075 / 11282082432
_D3 = 87487479700 / 32700410799
_D4 = -10690763975 / 1880347072
_D5 = 701980252875 / 199316789632
_D6 = -1453857185 / 822651844
_D7 = 69997945 / 29380423


@njit(cache=True)
def integrate_dense(code, consts, prog, nz, y, tau0, tau1, rtol, atol, h0, work, v, stack, coef,
                    dtaus, dout):  # fmt: skip
    """:func:`integrate_ws` that also samples the solution at ``dtaus`` (inside the
    interval, in order) into ``dout`` rows by the method's fourth-order dense
    output, without shortening a step; rows it does not reach are NaN."""
    d = y.shape[0]
    nd = dtaus.shape[0]
    filled = 0
    k1, k2, k3, k4, k5 = work[0], work[1], work[2], work[3], work[4]
    k6, k7, yt, y5 = work[5], work[6], work[7], work[8]
    span = tau1 - tau0
    if span == 0.0:
        for j in range(nd):
            _put(dout[j], y)
        return RAY_OK, h0, tau1
    direction = 1.0 if span > 0 else -1.0
    # h is the step the error control proposes; a step cut short to land on tau1
    # (hs < h) does not shrink it, so a tiny interval does not slow the next one
    h = abs(h0) if h0 != 0.0 else min(abs(span), 1e-2)
    tau = tau0
    rhs(code, consts, prog, nz, y, k1, v, stack, coef)
    for _ in range(MAX_STEPS):
        remaining = (tau1 - tau) * direction
        if remaining <= 1e-15 * max(1.0, abs(tau1)):
            for j in range(filled, nd):  # within rounding of the end
                _put(dout[j], y)
            return RAY_OK, h, tau1
        hs = min(h, remaining)
        s = direction * hs
        for i in range(d):
            yt[i] = y[i] + s * (1 / 5) * k1[i]
        rhs(code, consts, prog, nz, yt, k2, v, stack, coef)
        for i in range(d):
            yt[i] = y[i] + s * (3 / 40 * k1[i] + 9 / 40 * k2[i])
        rhs(code, consts, prog, nz, yt, k3, v, stack, coef)
        for i in range(d):
            yt[i] = y[i] + s * (44 / 45 * k1[i] - 56 / 15 * k2[i] + 32 / 9 * k3[i])
        rhs(code, consts, prog, nz, yt, k4, v, stack, coef)
        for i in range(d):
            yt[i] = y[i] + s * (19372 / 6561 * k1[i] - 25360 / 2187 * k2[i]
                                + 64448 / 6561 * k3[i] - 212 / 729 * k4[i])  # fmt: skip
        rhs(code, consts, prog, nz, yt, k5, v, stack, coef)
        for i in range(d):
            yt[i] = y[i] + s * (9017 / 3168 * k1[i] - 355 / 33 * k2[i] + 46732 / 5247 * k3[i]
                                + 49 / 176 * k4[i] - 5103 / 18656 * k5[i])  # fmt: skip
        rhs(code, consts, prog, nz, yt, k6, v, stack, coef)
        for i in range(d):
            y5[i] = y[i] + s * (35 / 384 * k1[i] + 500 / 1113 * k3[i] + 125 / 192 * k4[i]
                                - 2187 / 6784 * k5[i] + 11 / 84 * k6[i])  # fmt: skip
        rhs(code, consts, prog, nz, y5, k7, v, stack, coef)
        err = 0.0
        finite = True
        for i in range(d):
            e = s * (71 / 57600 * k1[i] - 71 / 16695 * k3[i] + 71 / 1920 * k4[i]
                     - 17253 / 339200 * k5[i] + 22 / 525 * k6[i] - 1 / 40 * k7[i])  # fmt: skip
            sc = atol + rtol * max(abs(y[i]), abs(y5[i]))
            r = e / sc
            err += r * r
            if not math.isfinite(y5[i]):
                finite = False
        err = math.sqrt(err / d)
        if finite and err <= 1.0:
            while filled < nd and (dtaus[filled] - (tau + s)) * direction <= 0.0:
                theta = (dtaus[filled] - tau) / s
                th1 = 1.0 - theta
                for i in range(d):
                    ydiff = y5[i] - y[i]
                    bspl = s * k1[i] - ydiff
                    r4 = ydiff - s * k7[i] - bspl
                    r5 = s * (_D1 * k1[i] + _D3 * k3[i] + _D4 * k4[i] + _D5 * k5[i]
                              + _D6 * k6[i] + _D7 * k7[i])  # fmt: skip
                    dout[filled, i] = y[i] + theta * (
                        ydiff + th1 * (bspl + theta * (r4 + th1 * r5))
                    )
                filled += 1
            tau += s
            for i in range(d):
                y[i] = y5[i]
                k1[i] = k7[i]
            factor = 5.0 if err == 0.0 else min(5.0, max(0.2, 0.9 * err ** (-0.2)))
            h = max(h, hs * factor) if hs < h else h * factor
        else:
            h = hs * (0.2 if not finite else max(0.2, 0.9 * err ** (-0.2)))
        if h < 1e-14 * max(1.0, abs(tau)):
            _fill_nan(dout, filled)
            return RAY_BLOW_UP, h, tau
    _fill_nan(dout, filled)
    return RAY_TOO_MANY_STEPS, h, tau


@njit(cache=True, parallel=True)
def trace(code, consts, prog, nz, y0, taus, rtol, atol, out, status, reached):
    """Trace every ray ``y0[r]`` through the times ``taus``; ``out[r, k] = y(taus[k])``.

    ``status[r]`` is ``RAY_OK`` or the first failure, ``reached[r]`` the
    last time reached; rows after a failure are NaN.  Every time is landed
    on exactly (see :func:`trace_sampled` for a cheaper variant).
    """
    _check_trace(prog, nz, y0, taus, rtol, atol, out, status, reached)
    exact = np.ones(taus.shape[0], np.bool_)
    h_last = np.empty(y0.shape[0])
    for r in prange(y0.shape[0]):
        _trace_ray(code, consts, prog, nz, y0, taus, exact, rtol, atol, out, status, reached,
                   h_last, r)  # fmt: skip


@njit(cache=True, parallel=True)
def trace_sampled(code, consts, prog, nz, y0, taus, exact, rtol, atol, out, status, reached,
                  h_last):  # fmt: skip
    """:func:`trace` landing exactly only on the times where ``exact`` is true (and
    the last); the others are sampled by the dense output, which leaves the
    steps as long as the error control allows (fourth order there).
    ``h_last[r]`` receives the step size the error control proposed last (a
    good first step for rays near ray r)."""
    _check_trace(prog, nz, y0, taus, rtol, atol, out, status, reached)
    if exact.shape[0] != taus.shape[0] or h_last.shape[0] != y0.shape[0]:
        raise ValueError("trace_sampled: exact must have one entry per tau, h_last one per ray")
    for r in prange(y0.shape[0]):
        _trace_ray(code, consts, prog, nz, y0, taus, exact, rtol, atol, out, status, reached,
                   h_last, r)  # fmt: skip


@njit(cache=True)
def _check_trace(prog, nz, y0, taus, rtol, atol, out, status, reached):
    """ValueError unless the arrays of :func:`trace` fit together (a kernel writing past
    an array's end would corrupt memory, not fail)."""
    _check_program(prog, nz)
    n_rays, d = y0.shape
    if d < nz or d % nz != 0:
        raise ValueError("trace: y0 must have d = nz * n columns (CompiledPDE.d)")
    if out.shape[0] != n_rays or out.shape[1] != taus.shape[0] or out.shape[2] != d:
        raise ValueError("trace: out must have the shape (rays, len(taus), d)")
    if status.shape[0] != n_rays or reached.shape[0] != n_rays:
        raise ValueError("trace: status and reached must have one entry per ray")
    if taus.shape[0] == 0:
        raise ValueError("trace: taus is empty")
    step = 0.0
    for k in range(1, taus.shape[0]):
        if k == 1:
            step = taus[1] - taus[0]
        if not (taus[k] - taus[k - 1]) * step > 0.0:
            raise ValueError("trace: taus must be strictly monotonic (and finite)")
    _check_tolerances(rtol, atol)


# inlined into its parallel loops: compiled on its own it added seconds to the first solve
@njit(cache=True, inline="always")
def _trace_ray(code, consts, prog, nz, y0, taus, exact, rtol, atol, out, status, reached,
               h_last, r):  # fmt: skip
    """Ray r of :func:`trace_sampled`."""
    n_t = taus.shape[0]
    y = y0[r].copy()
    work, v, stack, coef = workspace(prog, nz, y.shape[0])
    h = 0.0
    status[r] = RAY_OK
    reached[r] = taus[0]
    _put(out[r, 0], y)
    k0 = 0
    while k0 < n_t - 1:
        k1 = k0 + 1
        while k1 < n_t - 1 and not exact[k1]:
            k1 += 1
        if status[r] == RAY_OK:
            st, h, tau = integrate_dense(code, consts, prog, nz, y, taus[k0], taus[k1], rtol,
                                         atol, h, work, v, stack, coef, taus[k0 + 1 : k1],
                                         out[r, k0 + 1 : k1])  # fmt: skip
            reached[r] = tau
            if st != RAY_OK:
                status[r] = st
        else:
            for k in range(k0 + 1, k1):
                _put_nan(out[r, k])
        if status[r] == RAY_OK:
            _put(out[r, k1], y)
        else:
            _put_nan(out[r, k1])
        k0 = k1
    h_last[r] = h


@njit(cache=True)
def _finite(a):
    for v in a.ravel():
        if not math.isfinite(v):
            return False
    return True


@njit(cache=True)
def initial_state(icode, iconsts, iprog, fcode, fconsts, fprog, n, charpit, s, p_guess, y, stack):
    """Ray state at manifold point ``s``; returns False if it cannot be built.

    ``iprog`` rows (over the manifold parameters): x0_i (n), u0,
    dx0_i/ds_k (i-major, n*m), du0/ds_k (m), and for Charpit also
    d2x0_i/ds_k ds_j (n*m*m) and d2u0/ds_k ds_j (m*m).  For Charpit the
    initial p solves F(x0, u0, p) = 0 and the strip conditions
    p . dx0/ds_k = du0/ds_k by Newton from ``p_guess`` (which picks the
    branch); ``fprog`` rows (over x, u, p): F, F_x (n), F_u, F_p (n).
    """
    _check_data(iprog, fprog, n, charpit, s, p_guess, y, stack)
    return _initial_state(icode, iconsts, iprog, fcode, fconsts, fprog, n, charpit, s, p_guess,
                          y, stack)  # fmt: skip


@njit(cache=True)
def _initial_state(icode, iconsts, iprog, fcode, fconsts, fprog, n, charpit, s, p_guess, y,
                   stack):  # fmt: skip
    """:func:`initial_state` without its checks of the arguments (the kernels' own calls)."""
    m = n - 1
    nz = 2 * n + 1 if charpit else n + 1
    # x0, u0 and their s-derivatives straight into the state (no temporaries: this
    # runs once per Newton step of every located point)
    for i in range(n + 1):
        y[i] = eval_program(icode, iconsts, iprog[i, 0], iprog[i, 1], s, stack, 0.0)
    for i in range(n):
        for k in range(m):
            r = n + 1 + i * m + k
            y[nz + k * nz + i] = eval_program(icode, iconsts, iprog[r, 0], iprog[r, 1], s,
                                              stack, 0.0)  # fmt: skip
    for k in range(m):
        r = n + 1 + n * m + k
        y[nz + k * nz + n] = eval_program(icode, iconsts, iprog[r, 0], iprog[r, 1], s, stack, 0.0)
    if not charpit:
        return True
    # Charpit: complete p by Newton on F = 0 and the strip conditions (x_s, u_s read
    # from the state: dx0_i/ds_k is y[nz + k nz + i], du0/ds_k is y[nz + k nz + n])
    v = np.empty(2 * n + 1)
    for i in range(n + 1):
        v[i] = y[i]
    p = p_guess.copy()
    M = np.empty((n, n))
    LU = np.empty((n, n))
    res = np.empty(n)
    dp = np.empty(n)
    ps = np.empty(n)
    converged = False
    for _ in range(60):
        for i in range(n):
            v[n + 1 + i] = p[i]
        res[0] = eval_program(fcode, fconsts, fprog[0, 0], fprog[0, 1], v, stack, 0.0)
        for i in range(n):
            r = 2 + n + i
            M[0, i] = eval_program(fcode, fconsts, fprog[r, 0], fprog[r, 1], v, stack, 0.0)
        for k in range(m):
            acc = -y[nz + k * nz + n]
            for i in range(n):
                acc += p[i] * y[nz + k * nz + i]
                M[k + 1, i] = y[nz + k * nz + i]
            res[k + 1] = acc
        if not (_finite(M) and _finite(res)) or not abs(_lu_solve(M, res, dp, LU)) > 1e-300:
            return False
        size = 0.0
        for i in range(n):
            p[i] -= dp[i]
            size = max(size, abs(dp[i]) / (1.0 + abs(p[i])))
        if size < 1e-15:
            converged = True
            break
    if not converged:
        return False
    for i in range(n):
        v[n + 1 + i] = p[i]
        y[n + 1 + i] = p[i]
    fx = np.empty(n)
    for i in range(n):
        fx[i] = eval_program(fcode, fconsts, fprog[1 + i, 0], fprog[1 + i, 1], v, stack, 0.0)
        r = 2 + n + i
        M[0, i] = eval_program(fcode, fconsts, fprog[r, 0], fprog[r, 1], v, stack, 0.0)
    fu = eval_program(fcode, fconsts, fprog[1 + n, 0], fprog[1 + n, 1], v, stack, 0.0)
    base_xss = n + 1 + n * m + m
    base_uss = base_xss + n * m * m
    rhs_ = np.empty(n)
    for j in range(m):
        # d/ds_j of F = 0 and of the strip conditions gives dp/ds_j
        acc = fu * y[nz + j * nz + n]
        for i in range(n):
            acc += fx[i] * y[nz + j * nz + i]
        rhs_[0] = -acc
        for k in range(m):
            r = base_uss + k * m + j
            val = eval_program(icode, iconsts, iprog[r, 0], iprog[r, 1], s, stack, 0.0)
            for i in range(n):
                r2 = base_xss + i * m * m + k * m + j
                val -= p[i] * eval_program(
                    icode, iconsts, iprog[r2, 0], iprog[r2, 1], s, stack, 0.0
                )
            rhs_[k + 1] = val
        if not (_finite(M) and _finite(rhs_)) or not abs(_lu_solve(M, rhs_, ps, LU)) > 1e-300:
            return False
        for i in range(n):
            y[nz + j * nz + n + 1 + i] = ps[i]
    return True


@njit(cache=True)
def _check_data(iprog, fprog, n, charpit, s, p_guess, y, stack):
    """ValueError unless the arguments of :func:`initial_state` fit together."""
    m = n - 1
    nz = 2 * n + 1 if charpit else n + 1
    rows = n + 1 + n * m + m + ((n * m * m + m * m) if charpit else 0)
    if n < 2 or iprog.shape[1] != 2 or iprog.shape[0] < rows:
        raise ValueError("initial_state: iprog does not fit n (CompiledPDE.iprog and .n)")
    if charpit and (fprog.shape[1] != 2 or fprog.shape[0] < 2 * n + 2):
        raise ValueError("initial_state: fprog does not fit n (CompiledPDE.fprog)")
    if s.shape[0] != m or p_guess.shape[0] < n or y.shape[0] != nz * n:
        raise ValueError("initial_state: s must have n - 1 entries, p_guess n and y "
                         "nz * n (CompiledPDE.d)")  # fmt: skip
    _check_stack(stack)


@njit(cache=True)
def initial_states(icode, iconsts, iprog, fcode, fconsts, fprog, n, charpit, S, guesses, y0, ok):
    """:func:`initial_state` for every manifold sample ``S[r]`` (serial: cheap, and a
    parallel kernel costs seconds of compilation)."""
    if guesses.shape[0] != S.shape[0] or y0.shape[0] != S.shape[0] or ok.shape[0] != S.shape[0]:
        raise ValueError("initial_states: S, guesses, y0 and ok must have one row per sample")
    stack = np.empty(STACK_SIZE)
    if S.shape[0]:  # (every row has the same shape: checked once)
        _check_data(iprog, fprog, n, charpit, S[0], guesses[0], y0[0], stack)
    for r in range(S.shape[0]):
        ok[r] = _initial_state(icode, iconsts, iprog, fcode, fconsts, fprog, n, charpit,
                               S[r], guesses[r], y0[r], stack)  # fmt: skip


@njit(cache=True)
def _newton_tol(rtol):
    """Newton onto a ray has converged when its step (relative to 1 + |s|) is below
    this: 1e-14, or a tenth of the integration's ``rtol`` when that is looser (the ray's
    end is no more accurate than that, and Newton would only wander in its noise)."""
    return max(1e-14, 0.1 * rtol)


@njit(cache=True)
def _inside(s, s_lo, s_hi):
    """Whether the manifold point ``s`` lies in the box [s_lo, s_hi] (up to rounding)."""
    for k in range(s.shape[0]):
        if s[k] < s_lo[k] - 1e-12 * (1.0 + abs(s_lo[k])) or s[k] > s_hi[k] + 1e-12 * (
            1.0 + abs(s_hi[k])
        ):
            return False
    return True


@njit(cache=True, parallel=True)
def locate(code, consts, prog, icode, iconsts, iprog, fcode, fconsts, fprog, n, charpit, e,
           targets, taus, seeds, seed_p, seed_h, zss, s_lo, s_hi, bracket, bracket_sign,
           rtol, atol, u_out, grad_out, s_out, ok):  # fmt: skip
    """For each target point find the ray through it by Newton on s; fill u and grad u.

    ``e`` is the evolution variable: point ``q`` lies at time ``taus[q]``
    and its other coordinates are ``targets[q]`` (m values, variables in
    order without ``e``).  ``seeds[q]`` starts Newton (``seed_p[q]``, the
    seed ray's initial p, picks the Charpit branch; ``seed_h[q]``, a step
    size it took, or 0, starts the integration); ``ok[q]`` says whether
    it converged with s inside ``[s_lo, s_hi]``, and ``s_out[q]`` holds that s.

    On 1-D data (m = 1) ``zss[q]``, if given (one row per target, else no
    rows), estimates d(z_s)/ds at the seed: when the first Newton step is
    below ``ONE_STEP`` (a seed that close), the ray state and its z_s are moved
    along it linearly (errors O(step^2) and O(step) times the estimate's error,
    both below rounding) instead of integrating the ray a second time.

    On 1-D data a point may also come with a bracket: ``bracket[q]`` = (s_a, s_b)
    with x(s_a) - target of sign ``bracket_sign[q]`` (+1 or -1; 0: no bracket) and
    x(s_b) - target of the other, as two neighbouring traced rays give it.  Newton
    is then kept inside it, bisecting where a step would leave it, fail, or not
    halve the residual (the safeguard of ``rtsafe``, W. H. Press et al., Numerical
    Recipes, section 9.4): a ray that crosses the point between the two is found
    even where x(s) bends sharply between them (a steep or kinked stretch of data,
    a fan the rays barely sample); one that only closes in on a jump of the data
    (not landing on the point) is not taken.
    """
    m = n - 1
    curvatures = zss.shape[0] == targets.shape[0] and m == 1
    nz = 2 * n + 1 if charpit else n + 1
    d = nz * (m + 1)
    block = 64  # scratch allocated once per block of points, not per point
    for b in prange((targets.shape[0] + block - 1) // block):
        s = np.empty(m)
        y = np.empty(d)
        work, v, stack, coef = workspace(prog, nz, d)
        jac = np.empty((m, m))
        LU = np.empty((m, m))
        res = np.empty(m)
        step = np.empty(m)
        for q in range(b * block, min(targets.shape[0], (b + 1) * block)):
            for k in range(m):
                s[k] = seeds[q, k]
            h_guess = seed_h[q]  # first integration: the seed ray's step (0: DOPRI5's own guess)
            ok[q] = False
            u_out[q] = np.nan
            for i in range(n):
                grad_out[q, i] = np.nan
            sign = bracket_sign[q] if m == 1 else 0.0
            s_a, s_b = bracket[q, 0], bracket[q, 1]  # x(s_a) - target has the sign `sign`
            last = np.inf  # |residual| at the last iterate
            for it in range(120 if sign != 0.0 else 40):
                if not _initial_state(icode, iconsts, iprog, fcode, fconsts, fprog, n, charpit, s,
                                      seed_p[q], y, stack):  # fmt: skip
                    break
                st, h, tau = integrate_ws(code, consts, prog, nz, y, 0.0, taus[q], rtol, atol,
                                          h_guess, work, v, stack, coef)  # fmt: skip
                if st != RAY_OK:
                    break
                h_guess = h
                row = 0
                for i in range(n):
                    if i == e:
                        continue
                    res[row] = y[i] - targets[q, row]
                    for k in range(m):
                        jac[row, k] = y[nz + k * nz + i]
                    row += 1
                solved = (_finite(jac) and _finite(res)
                          and abs(_lu_solve(jac, res, step, LU)) > 1e-300)  # fmt: skip
                if sign != 0.0 and math.isfinite(res[0]):  # inside the bracket: Newton or bisect
                    if (res[0] > 0.0) == (sign > 0.0):
                        s_a = s[0]
                    else:
                        s_b = s[0]
                    new = s[0] - step[0] if solved else np.nan
                    # (a step below rounding leaves s on the end just moved to it: inside)
                    inside = min(s_a, s_b) <= new <= max(s_a, s_b)
                    # not halving the residual, unless at rounding (a last tiny step)
                    slow = abs(res[0]) > 0.5 * last and abs(step[0]) > 1e-9 * (1.0 + abs(s[0]))
                    if res[0] != 0.0 and (not inside or slow):
                        step[0] = s[0] - 0.5 * (s_a + s_b)
                        solved = True
                    last = abs(res[0])
                if not solved:
                    break  # characteristics cross here (or left every bound): no unique ray
                size = 0.0
                for k in range(m):
                    s[k] -= step[k]
                    size = max(size, abs(step[k]) / (1.0 + abs(s[k])))
                # a first step this small from a seed whose d(z_s)/ds is known: z_s moves too
                along = curvatures and it == 0 and size < ONE_STEP and _finite(zss[q])
                if size >= _newton_tol(rtol) and not along:
                    continue
                # the last step is below rounding of s: move the ray state along it linearly
                # (z_s carried by the ray; the error is O(step^2)) instead of integrating again
                for i in range(nz):
                    acc = 0.0
                    for k in range(m):
                        acc += y[nz + k * nz + i] * step[k]
                    y[i] -= acc
                if along:
                    for i in range(nz):
                        y[nz + i] -= zss[q, i] * step[0]
                if not _inside(s, s_lo, s_hi):
                    break
                if sign != 0.0:  # bisection closes in on a jump of the data just as well
                    off = abs(y[1 - e] - targets[q, 0])
                    if not off <= 1e-9 * (1.0 + abs(targets[q, 0])):
                        break
                if _gradient(code, consts, prog, n, charpit, y, v, stack, grad_out[q]):
                    u_out[q] = y[n]
                    for k in range(m):
                        s_out[q, k] = s[k]
                    ok[q] = True
                break


@njit(cache=True)
def hermite_seeds(S, X, XS, left, xt, seeds):
    """Newton's start on 1-D data: for each target ``xt[j]`` bracketed by the rays
    ``left[j]`` and ``left[j] + 1`` (positions ``X``, x_s ``XS`` at one level, ray
    parameters ``S``), the root in that bracket of the Hermite interpolant of x(s)
    through up to four neighbouring rays (degree 7: error O(h^8), close enough that
    one integration of the ray and a linear step finish Newton, see :func:`locate`).
    ``seeds[j]`` holds the linear guess on entry and the refined one on return; it
    is left alone where a ray's data are not finite or the root is not found.
    """
    nr = S.shape[0]
    z = np.empty(8)
    c = np.empty(8)
    for j in range(left.shape[0]):
        k = left[j]
        lo = max(k - 1, 0)
        hi = min(k + 2, nr - 1)
        while lo > 0 and hi - lo < 3:
            lo -= 1
        while hi < nr - 1 and hi - lo < 3:
            hi += 1
        ok = True
        for r in range(lo, hi + 1):
            if not (math.isfinite(X[r]) and math.isfinite(XS[r])):
                ok = False
        if not ok:  # the bracket's own two rays: cubic Hermite
            lo, hi = k, k + 1
            if not (math.isfinite(XS[k]) and math.isfinite(XS[k + 1])):
                continue
        npt = 2 * (hi - lo + 1)
        # divided differences on the doubled nodes (Newton form of the Hermite interpolant)
        for i in range(npt):
            z[i] = S[lo + i // 2]
            c[i] = X[lo + i // 2]
        for i in range(npt - 1, 0, -1):
            if i % 2 == 1:
                c[i] = XS[lo + i // 2]
            else:
                c[i] = (c[i] - c[i - 1]) / (z[i] - z[i - 1])
        for lev in range(2, npt):
            for i in range(npt - 1, lev - 1, -1):
                c[i] = (c[i] - c[i - 1]) / (z[i] - z[i - lev])
        a, b = S[k], S[k + 1]
        s = min(max(seeds[j], a), b)
        found = False
        for _ in range(30):
            p = c[npt - 1]
            dp = 0.0
            for i in range(npt - 2, -1, -1):
                dp = dp * (s - z[i]) + p
                p = p * (s - z[i]) + c[i]
            if not (dp != 0.0 and math.isfinite(p) and math.isfinite(dp)):
                break
            step = (p - xt[j]) / dp
            new = s - step
            if not a <= new <= b:  # left the bracket: not this root
                break
            s = new
            if abs(step) <= 1e-12 * (b - a):  # the seed need not be closer: Newton on
                found = True  # the ray squares its error
                break
        if found:
            seeds[j] = s


@njit(cache=True)
def seed_curvatures(S, ZS, left, seeds, out):
    """``out[j]``: d/ds at ``seeds[j]`` of the cubic through the x_s, u_s (, p_s) ``ZS`` of
    the four traced rays around the bracket ``left[j]``, ``left[j] + 1`` (1-D data, one
    level): d(z_s)/ds for :func:`locate`, accurate to O(h^3); NaN where a ray of the
    four is not finite or there are fewer than four rays."""
    nr = S.shape[0]
    w = np.empty(4)
    for j in range(left.shape[0]):
        if nr < 4:
            for c in range(ZS.shape[1]):
                out[j, c] = np.nan
            continue
        lo = min(max(left[j] - 1, 0), nr - 4)
        x = seeds[j]
        for a in range(4):  # derivative of the Lagrange basis polynomial a at x
            acc = 0.0
            for b in range(4):
                if b == a:
                    continue
                term = 1.0 / (S[lo + a] - S[lo + b])
                for c in range(4):
                    if c != a and c != b:
                        term *= (x - S[lo + c]) / (S[lo + a] - S[lo + c])
                acc += term
            w[a] = acc
        for c in range(ZS.shape[1]):
            out[j, c] = w[0] * ZS[lo, c] + w[1] * ZS[lo + 1, c] + w[2] * ZS[lo + 2, c] + w[
                3] * ZS[lo + 3, c]  # fmt: skip


@njit(cache=True)
def gradient(code, consts, prog, n, charpit, y, v, stack, out):
    """grad u at the end of a ray: p itself (Charpit), or the solution of
    ``[x_s1 .. x_sm, a]^T p = [u_s1 .. u_sm, b]`` (quasilinear)."""
    nz = 2 * n + 1 if charpit else n + 1
    if n < 2 or y.shape[0] != nz * n or v.shape[0] < nz or out.shape[0] < n:
        raise ValueError("gradient: y must have nz * n entries (CompiledPDE.d), v nz and out n")
    _check_stack(stack)
    if not charpit:
        _check_program(prog, nz)
    return _gradient(code, consts, prog, n, charpit, y, v, stack, out)


@njit(cache=True)
def _gradient(code, consts, prog, n, charpit, y, v, stack, out):
    """:func:`gradient` without its checks of the arguments (the kernels' own calls)."""
    m = n - 1
    nz = 2 * n + 1 if charpit else n + 1
    if charpit:
        for i in range(n):
            out[i] = y[n + 1 + i]
        return True
    for i in range(nz):
        v[i] = y[i]
    A = np.empty((n, n))
    rhs_ = np.empty(n)
    for k in range(m):
        for i in range(n):
            A[k, i] = y[nz + k * nz + i]
        rhs_[k] = y[nz + k * nz + n]
    for i in range(n):
        A[m, i] = eval_program(code, consts, prog[i, 0], prog[i, 1], v, stack, 0.0)
    rhs_[m] = eval_program(code, consts, prog[n, 0], prog[n, 1], v, stack, 0.0)
    p = np.empty(n)
    if not (_finite(A) and _finite(rhs_)) or not abs(_lu_solve(A, rhs_, p, A.copy())) > 1e-300:
        return False
    for i in range(n):
        out[i] = p[i]
    return True


#: outcomes of :func:`locate_general`
LOCATE_FAILED = 0
LOCATE_OK = 1
#: Newton converged, or was converging, onto a ray whose manifold point lies off the data
#: (outside the box [s_lo, s_hi]): no ray of the data reaches the point near there
LOCATE_OUTSIDE = 2
#: a Newton iterate this many sample spacings off the data, whose step is under 1/100 of
#: that distance (and under 1e-3 relative to the iterate), converges off the data: it
#: ends there
OFF_DATA = 1.0
#: Newton came within ``near`` of a solution found before for the same point: it would
#: converge onto that same ray (see :func:`locate_general`)
LOCATE_KNOWN = 3


@njit(cache=True)
def _newton_step(code, consts, prog, nz, n, m, y, target, stack, res, jac, step, LU):
    """Newton's step on (s, tau) at the ray state ``y`` towards the point ``target``:
    ``step`` solves [x_s1 .. x_sm, dx/dtau] step = x - target.  False where the system is
    not finite or singular."""
    for i in range(n):
        res[i] = y[i] - target[i]
        for k in range(m):
            jac[i, k] = y[nz + k * nz + i]
        jac[i, m] = eval_program(code, consts, prog[i, 0], prog[i, 1], y, stack, 0.0)
    return _finite(jac) and _finite(res) and abs(_lu_solve(jac, res, step, LU)) > 1e-300


@njit(cache=True)
def refine_seeds(code, consts, prog, nz, n, forward, backward, dtau, S, counts, s_lo, step_s,
                 targets, s, tau, rounds):  # fmt: skip
    """Newton on (s, tau) towards ``targets[q]`` from ``s[q]``, ``tau[q]`` (in place) on
    the traced samples instead of the rays: each step from the state of the sample
    nearest the iterate (ray of ``S`` nearest s, C-ordered over the ``counts`` samples
    per parameter from ``s_lo``, ``step_s`` apart; level nearest tau in ``forward``
    (tau >= 0) or ``backward``, ``dtau`` apart), until the nearest sample repeats or
    after ``rounds`` steps.  No ray is
    integrated: the result, within a fraction of a cell of the solution the iterate
    heads for, is a seed that Newton on the rays finishes in a few steps.  An iterate
    whose sample is not finite (or outside the traced rays) stays where it was."""
    m = n - 1
    stack = np.empty(STACK_SIZE)
    jac = np.empty((n, n))
    LU = np.empty((n, n))
    res = np.empty(n)
    step = np.empty(n)
    for q in range(targets.shape[0]):
        last = -1
        for _ in range(rounds):
            t = tau[q]
            if not math.isfinite(t):
                break
            ray = 0
            fine = True
            for k in range(m):
                if not math.isfinite(s[q, k]):
                    fine = False
                    break
                i = int(round((s[q, k] - s_lo[k]) / step_s[k]))
                ray = ray * counts[k] + min(max(i, 0), counts[k] - 1)
            if not fine:
                break
            rays = forward if t >= 0.0 else backward
            level = min(int(round(abs(t) / dtau)), rays.shape[1] - 1)
            if level < 0 or ray >= rays.shape[0]:
                break
            key = (2 * (ray * rays.shape[1] + level)) + (1 if t < 0.0 else 0)
            if key == last:
                break
            last = key
            y = rays[ray, level]
            if not _newton_step(code, consts, prog, nz, n, m, y, targets[q], stack, res, jac,
                                step, LU):  # fmt: skip
                break
            for k in range(m):
                s[q, k] = S[ray, k] - step[k]
            tau[q] = (level * dtau if t >= 0.0 else -level * dtau) - step[m]


@njit(cache=True)
def _off_data(s, s_lo, s_hi, spacing):
    """How many sample spacings ``spacing`` the manifold point ``s`` lies outside the box
    [s_lo, s_hi] (the largest over the parameters; 0 inside)."""
    far = 0.0
    for k in range(s.shape[0]):
        far = max(far, (s_lo[k] - s[k]) / spacing[k], (s[k] - s_hi[k]) / spacing[k])
    return far


@njit(cache=True)
def _near_known(s, tau, known, count, near):
    """Whether (``s``, ``tau``) lies within ``near`` (per component, tau last) of one of
    the first ``count`` rows of ``known`` (manifold parameters, then tau; a NaN tau
    stands for any: a ray off the data)."""
    m = s.shape[0]
    for j in range(count):
        hit = abs(tau - known[j, m]) <= near[m] or math.isnan(known[j, m])
        for k in range(m):
            hit = hit and abs(s[k] - known[j, k]) <= near[k]
        if hit:
            return True
    return False


@njit(cache=True, parallel=True)
def locate_general(code, consts, prog, icode, iconsts, iprog, fcode, fconsts, fprog, n, charpit,
                   targets, seeds, seed_tau, seed_p, s_lo, s_hi, spacing, tau_max, known,
                   n_known, near, rtol, atol, u_out, grad_out, tau_out, s_out,
                   status):  # fmt: skip
    """Like :func:`locate` when no variable is an evolution variable: Newton on
    (s, tau) with the Jacobian ``[x_s1 .. x_sm, dx/dtau]`` (n unknowns); the
    solution's ray parameters go to ``s_out`` and ``tau_out``, ``status[q]`` is one
    of ``LOCATE_*``.  An iterate with |tau| beyond ``tau_max`` (past where the rays
    were traced) ends the search: a point no ray reaches would otherwise cost every
    iteration a long integration.  So does an iterate at least ``OFF_DATA`` sample
    spacings (``spacing``) off the data whose step is under 1/100 of that distance
    and under 1e-3 relative to the iterate (``LOCATE_OUTSIDE``, the iterate in
    ``s_out`` and ``tau_out``): in Newton's quadratic convergence the rest of its way
    is shorter than that step, so it would converge off the data.  And so does an
    iterate within ``near`` (per component, tau last) of one of the ``n_known[q]``
    solutions ``known[q]`` (manifold parameters, then tau) found before for the point
    (``LOCATE_KNOWN``): close to a solution Newton converges onto it.

    Newton has converged when its step is below the tolerance, or when the rate of
    its last two steps says that the rest of its way is; the state at the solution is
    then the last integrated one moved by the last step to first order (for the
    quasilinear gradient, which that leaves off by the step, only when the step is
    below the tolerance; otherwise the ray is integrated once more)."""
    m = n - 1
    nz = 2 * n + 1 if charpit else n + 1
    d = nz * (m + 1)
    for q in prange(targets.shape[0]):
        s = seeds[q].copy()
        tau = seed_tau[q]
        y = np.empty(d)
        stack = np.empty(STACK_SIZE)
        v = np.empty(nz)
        jac = np.empty((n, n))
        LU = np.empty((n, n))
        res = np.empty(n)
        step = np.empty(n)
        dy = np.empty(d)
        coef = np.empty(prog.shape[0])
        status[q] = LOCATE_FAILED
        u_out[q] = np.nan
        tau_out[q] = np.nan
        for i in range(n):
            grad_out[q, i] = np.nan
        last = np.nan  # the last Newton step's size (none yet: no rate)
        for _ in range(50):
            if _near_known(s, tau, known[q], n_known[q], near):
                status[q] = LOCATE_KNOWN
                break
            if not _initial_state(icode, iconsts, iprog, fcode, fconsts, fprog, n, charpit, s,
                                  seed_p[q], y, stack):  # fmt: skip
                break
            st, h, t_end = _integrate(code, consts, prog, nz, y, 0.0, tau, rtol, atol, 0.0)
            if st != RAY_OK:
                break
            for i in range(nz):
                v[i] = y[i]
            if not _newton_step(code, consts, prog, nz, n, m, y, targets[q], stack, res, jac,
                                step, LU):  # fmt: skip
                break
            size = 0.0
            moved = 0.0  # the step along the data, in sample spacings
            for k in range(m):
                s[k] -= step[k]
                size = max(size, abs(step[k]) / (1.0 + abs(s[k])))
                moved = max(moved, abs(step[k]) / spacing[k])
            tau -= step[m]
            if not abs(tau) <= tau_max:
                break
            size = max(size, abs(step[m]) / (1.0 + abs(tau)))
            # converged: the step is below the tolerance, or Newton's rate (this step over
            # the last) says that the rest of its way is (Hairer and Wanner's test)
            rate = size / last
            last = size
            if size >= _newton_tol(rtol) and not (
                rate < 0.1 and rate * size / (1.0 - rate) < _newton_tol(rtol)
            ):
                far = _off_data(s, s_lo, s_hi, spacing)
                if far >= OFF_DATA and size <= 1e-3 and 100.0 * moved <= far:
                    status[q] = LOCATE_OUTSIDE
                    tau_out[q] = tau
                    for k in range(m):
                        s_out[q, k] = s[k]
                    break
                continue
            if not _inside(s, s_lo, s_hi):  # converged off the data
                status[q] = LOCATE_OUTSIDE
                tau_out[q] = tau
                for k in range(m):
                    s_out[q, k] = s[k]
                break
            if charpit or size < _newton_tol(rtol):
                # the state at the last step's end to first order, not integrated again:
                # along tau by the ray system itself, along s (the ray's z only) by z_s.
                # z (x, u and, for Charpit, the gradient p) is then off by the step's
                # square, z_s by the step: the quasilinear gradient (from z_s) only when
                # the step is below the tolerance
                rhs(code, consts, prog, nz, y, dy, v, stack, coef)
                for i in range(d):
                    y[i] -= dy[i] * step[m]
                for k in range(m):
                    for i in range(nz):
                        y[i] -= y[nz + k * nz + i] * step[k]
            else:
                if not _initial_state(icode, iconsts, iprog, fcode, fconsts, fprog, n, charpit,
                                      s, seed_p[q], y, stack):  # fmt: skip
                    break
                st, h, t_end = _integrate(code, consts, prog, nz, y, 0.0, tau, rtol, atol, 0.0)
                if st != RAY_OK:
                    break
            if _finite(y) and _gradient(code, consts, prog, n, charpit, y, v, stack,
                                       grad_out[q]):  # fmt: skip
                u_out[q] = y[n]
                tau_out[q] = tau
                for k in range(m):
                    s_out[q, k] = s[k]
                status[q] = LOCATE_OK
            break


@njit(cache=True)
def eval_rows(code, consts, prog, rows, Z, out):
    """``out[r, k]`` = program row ``rows[k]`` at the state ``Z[r]``.

    Rows ``0 .. n-1`` of the ray program are dx/dtau, row ``n`` is du/dtau.
    """
    stack = np.empty(STACK_SIZE)
    for r in range(Z.shape[0]):
        z = Z[r]
        for k in range(rows.shape[0]):
            a, b = prog[rows[k], 0], prog[rows[k], 1]
            out[r, k] = eval_program(code, consts, a, b, z, stack, 0.0)


@njit(cache=True)
def _lu_solve(A, b, x, LU):
    """Solve the small dense system A x = b by Gaussian elimination with partial
    pivoting; returns det A (0.0 if singular or not finite, x then undefined).

    ``A`` and ``b`` are left alone; ``LU`` (n x n) is scratch.  Written out
    rather than ``np.linalg``: the systems are 1x1 to 4x4 inside per-ray
    loops, where LAPACK's call overhead and its Numba compile time dominate.
    """
    n = A.shape[0]
    for i in range(n):
        for j in range(n):
            LU[i, j] = A[i, j]
        x[i] = b[i]
    det = 1.0
    for k in range(n):
        p = k
        big = abs(LU[k, k])
        for i in range(k + 1, n):
            if abs(LU[i, k]) > big:
                big = abs(LU[i, k])
                p = i
        if not big > 0.0 or not math.isfinite(big):
            return 0.0
        if p != k:
            for j in range(n):
                LU[k, j], LU[p, j] = LU[p, j], LU[k, j]
            x[k], x[p] = x[p], x[k]
            det = -det
        det *= LU[k, k]
        for i in range(k + 1, n):
            f = LU[i, k] / LU[k, k]
            for j in range(k + 1, n):
                LU[i, j] -= f * LU[k, j]
            x[i] -= f * x[k]
    for i in range(n - 1, -1, -1):
        acc = x[i]
        for j in range(i + 1, n):
            acc -= LU[i, j] * x[j]
        x[i] = acc / LU[i, i]
    return det


@njit(cache=True)
def _det_lu(J):
    """Determinant of a small square matrix by LU with partial pivoting (``J`` overwritten)."""
    n = J.shape[0]
    det = 1.0
    for k in range(n):
        p = k
        big = abs(J[k, k])
        for i in range(k + 1, n):
            if abs(J[i, k]) > big:
                big = abs(J[i, k])
                p = i
        if big == 0.0:
            return 0.0
        if p != k:
            for j in range(n):
                J[k, j], J[p, j] = J[p, j], J[k, j]
            det = -det
        det *= J[k, k]
        for i in range(k + 1, n):
            f = J[i, k] / J[k, k]
            for j in range(k + 1, n):
                J[i, j] -= f * J[k, j]
    return det


@njit(cache=True, parallel=True)
def jacobian_dets(code, consts, prog, nz, n, Y, out):
    """``out[r]`` = det [x_s1 .. x_sm, dx/dtau] at the ray state ``Y[r]``.

    The Jacobian of (s, tau) -> x: it changes sign where characteristics
    cross.  NaN where the state is not finite.  Rows in blocks, one per
    thread at a time.
    """
    m = n - 1
    rows = Y.shape[0]
    block = 4096
    for b in prange((rows + block - 1) // block):
        stack = np.empty(STACK_SIZE)
        J = np.empty((n, n))
        for r in range(b * block, min(rows, (b + 1) * block)):
            y = Y[r]
            finite = True
            for i in range(nz * (m + 1)):
                if not math.isfinite(y[i]):
                    finite = False
                    break
            if not finite:
                out[r] = np.nan
                continue
            for k in range(m):
                for i in range(n):
                    J[k, i] = y[nz + k * nz + i]
            for i in range(n):
                J[m, i] = eval_program(code, consts, prog[i, 0], prog[i, 1], y, stack, 0.0)
            out[r] = _det_lu(J)


@njit(cache=True, parallel=True)
def first_sign_changes(code, consts, prog, nz, n, out, taus, det0, touch_below, flip, before,
                       after, touch):  # fmt: skip
    """Per ray ``r`` of ``out[r, level]`` (levels at ``taus``): the first level
    ``flip[r]`` >= 1 where the determinant of :func:`jacobian_dets` has the sign
    opposite to ``det0[r]`` (or is 0), with the determinants at the level before and
    at it; -1 if there is none.  Or where it touches 0 without changing sign (a
    focus of rays in 2+ dimensions, det ~ (1 - tau)^2): a local minimum whose
    parabola through three levels falls to ``touch_below`` times |det0[r]|;
    ``touch[r]`` is then the parabola's vertex (NaN otherwise).  Each ray is scanned
    only up to its first crossing (the rays that cross early, fronts converging on a
    focus, cost a few levels instead of all)."""
    m = n - 1
    R, L, _ = out.shape
    block = 16
    for b in prange((R + block - 1) // block):
        stack = np.empty(STACK_SIZE)
        J = np.empty((n, n))
        for r in range(b * block, min(R, (b + 1) * block)):
            flip[r] = -1
            touch[r] = np.nan
            prev = np.nan
            prev2 = np.nan
            for k in range(L):
                y = out[r, k]
                finite = True
                for i in range(nz * (m + 1)):
                    if not math.isfinite(y[i]):
                        finite = False
                        break
                if not finite:
                    prev = np.nan
                    continue
                for kk in range(m):
                    for i in range(n):
                        J[kk, i] = y[nz + kk * nz + i]
                for i in range(n):
                    J[m, i] = eval_program(code, consts, prog[i, 0], prog[i, 1], y, stack, 0.0)
                det = _det_lu(J)
                if k > 0 and det * det0[r] <= 0.0:
                    flip[r] = k
                    before[r] = prev
                    after[r] = det
                    break
                if m >= 2 and k >= 2 and math.isfinite(prev2):
                    vertex = _dip(taus[k - 2], taus[k - 1], taus[k], abs(prev2), abs(prev),
                                  abs(det), touch_below * abs(det0[r]))  # fmt: skip
                    if math.isfinite(vertex):
                        flip[r] = k
                        before[r] = prev
                        after[r] = det
                        touch[r] = vertex
                        break
                prev2 = prev
                prev = det


@njit(cache=True)
def first_dips(taus, g, floor, limit, vertex, level):
    """Per ray ``r`` of the positive values ``g[r, level]`` at ``taus``: the first dip to
    0 without a sign change before ``limit[r]``, as in :func:`first_sign_changes`
    (a local minimum whose parabola through three levels falls to ``floor[r]``):
    its vertex in ``vertex[r]`` and its middle level in ``level[r]``, else NaN, -1."""
    for r in range(g.shape[0]):
        vertex[r] = np.nan
        level[r] = -1
        for k in range(2, g.shape[1]):
            if not (g[r, k - 1] > 0.0 and math.isfinite(g[r, k - 2]) and math.isfinite(g[r, k])):
                continue
            v = _dip(taus[k - 2], taus[k - 1], taus[k], g[r, k - 2], g[r, k - 1], g[r, k],
                     floor[r])  # fmt: skip
            if math.isfinite(v):
                if abs(v) < limit[r]:
                    vertex[r] = v
                    level[r] = k - 1
                break


@njit(cache=True)
def _dip(t0, t1, t2, f0, f1, f2, floor):
    """The vertex of the parabola through (t0, f0), (t1, f1), (t2, f2) if f1 is a local
    minimum and the parabola falls to ``floor`` between t0 and t2, else NaN."""
    if not (f1 <= f0 and f1 <= f2):
        return np.nan
    d01 = (f1 - f0) / (t1 - t0)
    d12 = (f2 - f1) / (t2 - t1)
    a = (d12 - d01) / (t2 - t0)
    if not a > 0.0:
        return np.nan
    vertex = 0.5 * (t0 + t1) - d01 / (2.0 * a)
    low = f1 + d01 * (vertex - t1) + a * (vertex - t0) * (vertex - t1)
    if min(t0, t2) <= vertex <= max(t0, t2) and low <= floor:
        return vertex
    return np.nan


CROSSING_FOUND = 0  # a sign change of det J, refined to rounding
CROSSING_TOUCH = 1  # det J touches zero without changing sign (a focus)
CROSSING_NONE = 2  # no crossing in the interval (the coarse estimate was noise)
CROSSING_FAILED = 3  # the ray could not be integrated there


@njit(cache=True)
def _det_at(code, consts, prog, nz, n, y, J, stack):
    m = n - 1
    for k in range(m):
        for i in range(n):
            J[k, i] = y[nz + k * nz + i]
    for i in range(n):
        J[m, i] = eval_program(code, consts, prog[i, 0], prog[i, 1], y, stack, 0.0)
    return _det_lu(J)


@njit(cache=True)
def refine_crossing(code, consts, prog, nz, n, y_lo, lo_t, hi_t, rtol, atol, subdivisions,
                    y_out):  # fmt: skip
    """Where det [x_s, dx/dtau] of the ray at state ``y_lo`` (time ``lo_t``) first
    vanishes in ``[lo_t, hi_t]`` (either direction): ``(status, tau)``.

    The sign change is looked for at the interval's end, else on
    ``subdivisions`` equal steps (two close roots can hide in one interval,
    a tangency has none), then refined by the Illinois variant of regula
    falsi to rounding of tau.  ``y_out`` receives the state there.  Status:
    ``CROSSING_FOUND``, ``CROSSING_TOUCH`` (|det| fell below 1e-8 of its
    start without a sign change: a focus, at a subdivision's precision),
    ``CROSSING_NONE`` or ``CROSSING_FAILED``.
    """
    d = y_lo.shape[0]
    work, v, stack, coef = workspace(prog, nz, d)
    J = np.empty((n, n))
    y = np.empty(d)

    def state(t, out):  # y at t, integrated from the interval's start
        for i in range(d):
            out[i] = y_lo[i]
        st, h, tt = integrate_ws(code, consts, prog, nz, out, lo_t, t, rtol, atol, 0.0, work, v,
                                 stack, coef)  # fmt: skip
        return st == RAY_OK

    f_lo = _det_at(code, consts, prog, nz, n, y_lo, J, stack)
    a_t, fa = lo_t, f_lo
    b_t, fb = hi_t, 0.0
    bracket = False
    if state(hi_t, y):
        fb = _det_at(code, consts, prog, nz, n, y, J, stack)
        bracket = f_lo * fb <= 0.0
    if not bracket:
        best_abs, best_t = abs(f_lo), lo_t
        prev_t, prev_f = lo_t, f_lo
        for j in range(1, subdivisions + 1):
            t = lo_t + (hi_t - lo_t) * j / subdivisions
            if not state(t, y):
                return CROSSING_FAILED, t
            f = _det_at(code, consts, prog, nz, n, y, J, stack)
            if prev_f * f <= 0.0:
                a_t, fa, b_t, fb = prev_t, prev_f, t, f
                bracket = True
                break
            if abs(f) < best_abs:
                best_abs, best_t = abs(f), t
            prev_t, prev_f = t, f
        if not bracket:
            if best_abs <= 1e-8 * abs(f_lo):
                state(best_t, y_out)
                return CROSSING_TOUCH, best_t
            return CROSSING_NONE, hi_t
    t_best = b_t
    side = 0
    for _ in range(100):
        t_new = (a_t * fb - b_t * fa) / (fb - fa) if fb != fa else 0.5 * (a_t + b_t)
        if not min(a_t, b_t) < t_new < max(a_t, b_t):
            t_new = 0.5 * (a_t + b_t)
        if not state(t_new, y):
            break
        f = _det_at(code, consts, prog, nz, n, y, J, stack)
        t_best = t_new
        for i in range(d):
            y_out[i] = y[i]
        if f * fb > 0:
            b_t, fb = t_new, f
            if side == -1:
                fa *= 0.5
            side = -1
        else:
            a_t, fa = t_new, f
            if side == 1:
                fb *= 0.5
            side = 1
        if abs(b_t - a_t) <= 4e-16 * max(1.0, abs(t_new)) or f == 0.0:
            break
    if t_best == b_t and side == 0:  # not a single step taken
        if not state(t_best, y_out):
            return CROSSING_FAILED, t_best
    return CROSSING_FOUND, t_best


@njit(cache=True)
def _apart(a, b, spacing, tol):
    """Whether ``a`` and ``b`` differ by more than ``tol`` spacings in some component."""
    for k in range(a.shape[0]):
        if abs(a[k] - b[k]) > tol * spacing[k]:
            return True
    return False


@njit(cache=True)
def spread_seeds(near, S, spacing, apart, out):
    """Seeds for the branches through each point (data of any dimension).

    ``near[q]`` lists rays by distance of their ends from point ``q`` (-1:
    none); ``out[q]`` receives the first of them, in that order, whose manifold
    parameters ``S[r]`` lie more than ``apart`` spacings (``spacing[k]`` along
    parameter k, in at least one parameter) from every ray taken before for
    ``q``, at most ``out.shape[1]`` of them, -1 after the last.  Rays close on
    the data lead Newton to the same branch; rays apart can reach different
    ones.
    """
    most = out.shape[1]
    for q in range(near.shape[0]):
        count = 0
        for j in range(near.shape[1]):
            r = near[q, j]
            if r < 0:
                continue
            fresh = True
            for c in range(count):
                if not _apart(S[r], S[out[q, c]], spacing, apart):
                    fresh = False
                    break
            if fresh:
                out[q, count] = r
                count += 1
                if count == most:
                    break
        for c in range(count, most):
            out[q, c] = -1


@njit(cache=True)
def distinct_rays(owner, s, ok, spacing, tol, keep):
    """``keep[j]``: ray ``j`` converged (``ok[j]``) and its manifold parameters
    ``s[j]`` differ, by more than ``tol`` spacings in some parameter, from every
    ray kept before it for the same point ``owner[j]`` (``owner`` ascending): the
    distinct branches through each point, in the order found."""
    first = 0  # the first ray of the current point
    for j in range(owner.shape[0]):
        if j > 0 and owner[j] != owner[j - 1]:
            first = j
        keep[j] = False
        if not ok[j]:
            continue
        fresh = True
        for i in range(first, j):
            if keep[i] and not _apart(s[j], s[i], spacing, tol):
                fresh = False
                break
        keep[j] = fresh


@njit(cache=True)
def distinct_states(owner, u, g, keep):
    """``keep[j]``: solution j differs from every solution kept before it for the same
    point ``owner[j]`` (``owner`` grouped) in u (relative 1e-9) or in its gradient
    ``g[j]`` (1e-7 relative to the larger component): a characteristic is fixed by
    its state at the point, so equal states are one ray found from two seeds."""
    first = 0
    for j in range(owner.shape[0]):
        if j > 0 and owner[j] != owner[j - 1]:
            first = j
        fresh = True
        for i in range(first, j):
            if not keep[i]:
                continue
            if abs(u[j] - u[i]) > 1e-9 * (1.0 + abs(u[i])):
                continue
            big = 0.0
            diff = 0.0
            for k in range(g.shape[1]):
                big = max(big, abs(g[i, k]))
                diff = max(diff, abs(g[j, k] - g[i, k]))
            if diff > 1e-7 * (1.0 + big):
                continue
            fresh = False
            break
        keep[j] = fresh
