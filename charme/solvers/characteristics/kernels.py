"""Numba kernels: characteristics of quasilinear equations with variational equations.

State of one ray, n variables and m = n - 1 manifold parameters:
``y = [x (n), u (1), dx/ds_k (n each, k < m), du/ds_k (m)]``.  The right-hand
side is ``dx/dtau = a(x, u)``, ``du/dtau = b(x, u)`` and the variational
equations ``d(x_s)/dtau = a_x x_s + a_u u_s``, ``d(u_s)/dtau = b_x . x_s + b_u u_s``.
The coefficient functions are postfix programs (see
:func:`charme.solvers.gillespie.kernels.eval_program`) in the order
``a_i (n), b, a_x[i][j] (n*n), a_u[i] (n), b_x[j] (n), b_u``.

Integration: Dormand-Prince 5(4) with error control (``rtol``, ``atol``),
J. R. Dormand and P. J. Prince, J. Comput. Appl. Math. 6 (1980) 19.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from charme.solvers.gillespie.kernels import eval_program

RAY_OK = 0
RAY_BLOW_UP = 1  # u or x left every bound, or the step size collapsed
RAY_TOO_MANY_STEPS = 2

MAX_STEPS = 1_000_000


@njit(cache=True)
def rhs(code, consts, prog, n, y, dy, v, stack, coef):
    """Right-hand side of the ray system (see module docstring)."""
    m = n - 1
    for i in range(n + 1):
        v[i] = y[i]
    for k in range(prog.shape[0]):
        coef[k] = eval_program(code, consts, prog[k, 0], prog[k, 1], v, stack, 0.0)
    for i in range(n):
        dy[i] = coef[i]
    dy[n] = coef[n]
    ax = n + 1
    au = ax + n * n
    bx = au + n
    bu = bx + n
    base = n + 1
    ubase = base + n * m
    for k in range(m):
        for i in range(n):
            acc = coef[au + i] * y[ubase + k]
            for j in range(n):
                acc += coef[ax + i * n + j] * y[base + k * n + j]
            dy[base + k * n + i] = acc
        acc = coef[bu] * y[ubase + k]
        for j in range(n):
            acc += coef[bx + j] * y[base + k * n + j]
        dy[ubase + k] = acc


@njit(cache=True)
def integrate(code, consts, prog, n, y, tau0, tau1, rtol, atol, h0):
    """Advance ``y`` from ``tau0`` to ``tau1`` (either direction) with DOPRI5.

    Returns ``(status, h, tau)``: the last step size (a good first guess for
    the next call) and the time reached (``tau1`` unless it failed).
    """
    d = y.shape[0]
    v = np.empty(n + 1)
    stack = np.empty(64)
    coef = np.empty(prog.shape[0])
    k1 = np.empty(d)
    k2 = np.empty(d)
    k3 = np.empty(d)
    k4 = np.empty(d)
    k5 = np.empty(d)
    k6 = np.empty(d)
    k7 = np.empty(d)
    yt = np.empty(d)
    y5 = np.empty(d)
    span = tau1 - tau0
    if span == 0.0:
        return RAY_OK, h0, tau1
    direction = 1.0 if span > 0 else -1.0
    h = min(abs(h0), abs(span)) if h0 != 0.0 else min(abs(span), 1e-2)
    tau = tau0
    rhs(code, consts, prog, n, y, k1, v, stack, coef)
    for _ in range(MAX_STEPS):
        remaining = (tau1 - tau) * direction
        if remaining <= 1e-15 * max(1.0, abs(tau1)):
            return RAY_OK, h, tau1
        h = min(h, remaining)
        s = direction * h
        for i in range(d):
            yt[i] = y[i] + s * (1 / 5) * k1[i]
        rhs(code, consts, prog, n, yt, k2, v, stack, coef)
        for i in range(d):
            yt[i] = y[i] + s * (3 / 40 * k1[i] + 9 / 40 * k2[i])
        rhs(code, consts, prog, n, yt, k3, v, stack, coef)
        for i in range(d):
            yt[i] = y[i] + s * (44 / 45 * k1[i] - 56 / 15 * k2[i] + 32 / 9 * k3[i])
        rhs(code, consts, prog, n, yt, k4, v, stack, coef)
        for i in range(d):
            yt[i] = y[i] + s * (19372 / 6561 * k1[i] - 25360 / 2187 * k2[i]
                                + 64448 / 6561 * k3[i] - 212 / 729 * k4[i])  # fmt: skip
        rhs(code, consts, prog, n, yt, k5, v, stack, coef)
        for i in range(d):
            yt[i] = y[i] + s * (9017 / 3168 * k1[i] - 355 / 33 * k2[i] + 46732 / 5247 * k3[i]
                                + 49 / 176 * k4[i] - 5103 / 18656 * k5[i])  # fmt: skip
        rhs(code, consts, prog, n, yt, k6, v, stack, coef)
        for i in range(d):
            y5[i] = y[i] + s * (35 / 384 * k1[i] + 500 / 1113 * k3[i] + 125 / 192 * k4[i]
                                - 2187 / 6784 * k5[i] + 11 / 84 * k6[i])  # fmt: skip
        rhs(code, consts, prog, n, y5, k7, v, stack, coef)
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
            tau += s
            for i in range(d):
                y[i] = y5[i]
                k1[i] = k7[i]
            factor = 5.0 if err == 0.0 else min(5.0, max(0.2, 0.9 * err ** (-0.2)))
            h *= factor
        else:
            h *= 0.2 if not finite else max(0.2, 0.9 * err ** (-0.2))
        if h < 1e-14 * max(1.0, abs(tau)):
            return RAY_BLOW_UP, h, tau
    return RAY_TOO_MANY_STEPS, h, tau


@njit(cache=True, parallel=True)
def trace(code, consts, prog, n, y0, taus, rtol, atol, out, status, reached):
    """Trace every ray ``y0[r]`` through the times ``taus``; ``out[r, k] = y(taus[k])``.

    ``status[r]`` is ``RAY_OK`` or the first failure, ``reached[r]`` the
    last time reached; rows after a failure are NaN.
    """
    n_rays = y0.shape[0]
    for r in prange(n_rays):
        y = y0[r].copy()
        h = 0.0
        status[r] = RAY_OK
        reached[r] = taus[0]
        out[r, 0] = y
        for k in range(1, taus.shape[0]):
            if status[r] == RAY_OK:
                st, h, tau = integrate(
                    code, consts, prog, n, y, taus[k - 1], taus[k], rtol, atol, h
                )
                reached[r] = tau
                if st != RAY_OK:
                    status[r] = st
            if status[r] == RAY_OK:
                out[r, k] = y
            else:
                out[r, k] = np.nan


@njit(cache=True)
def initial_state(icode, iconsts, iprog, n, s, y, stack):
    """Ray state at manifold point ``s``: x0, u0 and their s-derivatives.

    ``iprog`` rows: x0_i (n), u0, dx0_i/ds_k (i-major, n*m), du0/ds_k (m).
    """
    m = n - 1
    for i in range(n + 1):
        y[i] = eval_program(icode, iconsts, iprog[i, 0], iprog[i, 1], s, stack, 0.0)
    base = n + 1
    for i in range(n):
        for k in range(m):
            row = n + 1 + i * m + k
            y[base + k * n + i] = eval_program(
                icode, iconsts, iprog[row, 0], iprog[row, 1], s, stack, 0.0
            )
    for k in range(m):
        row = n + 1 + n * m + k
        y[base + n * m + k] = eval_program(
            icode, iconsts, iprog[row, 0], iprog[row, 1], s, stack, 0.0
        )


@njit(cache=True, parallel=True)
def locate(code, consts, prog, icode, iconsts, iprog, n, e, targets, taus, seeds, s_lo, s_hi,
           rtol, atol, u_out, grad_out, ok):  # fmt: skip
    """For each target point find the ray through it by Newton on s; fill u and grad u.

    ``e`` is the evolution variable: point ``q`` lies at time ``taus[q]``
    and its other coordinates are ``targets[q]`` (m values, variables in
    order without ``e``).  ``seeds[q]`` starts Newton; ``ok[q]`` says
    whether it converged with s inside ``[s_lo, s_hi]``.
    """
    m = n - 1
    n_points = targets.shape[0]
    d = n + 1 + n * m + m
    for q in prange(n_points):
        s = seeds[q].copy()
        y = np.empty(d)
        stack = np.empty(64)
        v = np.empty(n + 1)
        jac = np.empty((m, m))
        res = np.empty(m)
        ok[q] = False
        u_out[q] = np.nan
        for i in range(n):
            grad_out[q, i] = np.nan
        for _ in range(40):
            initial_state(icode, iconsts, iprog, n, s, y, stack)
            st, h, tau = integrate(code, consts, prog, n, y, 0.0, taus[q], rtol, atol, 0.0)
            if st != RAY_OK:
                break
            row = 0
            for i in range(n):
                if i == e:
                    continue
                res[row] = y[i] - targets[q, row]
                for k in range(m):
                    jac[row, k] = y[n + 1 + k * n + i]
                row += 1
            if not abs(np.linalg.det(jac)) > 1e-300:
                break  # characteristics cross here: no unique ray
            step = np.linalg.solve(jac, res)
            size = 0.0
            for k in range(m):
                s[k] -= step[k]
                size = max(size, abs(step[k]) / (1.0 + abs(s[k])))
            if size < 1e-14:
                initial_state(icode, iconsts, iprog, n, s, y, stack)
                st, h, tau = integrate(code, consts, prog, n, y, 0.0, taus[q], rtol, atol, 0.0)
                inside = st == RAY_OK
                for k in range(m):
                    if s[k] < s_lo[k] - 1e-12 * (1.0 + abs(s_lo[k])) or s[k] > s_hi[k] + 1e-12 * (
                        1.0 + abs(s_hi[k])
                    ):
                        inside = False
                if inside:
                    # grad u from [x_s1 .. x_sm, a]^T p = [u_s1 .. u_sm, b]
                    for i in range(n + 1):
                        v[i] = y[i]
                    A = np.empty((n, n))
                    rhs_ = np.empty(n)
                    for k in range(m):
                        for i in range(n):
                            A[k, i] = y[n + 1 + k * n + i]
                        rhs_[k] = y[n + 1 + n * m + k]
                    for i in range(n):
                        A[m, i] = eval_program(code, consts, prog[i, 0], prog[i, 1], v, stack, 0.0)
                    rhs_[m] = eval_program(code, consts, prog[n, 0], prog[n, 1], v, stack, 0.0)
                    if not abs(np.linalg.det(A)) > 1e-300:
                        break
                    p = np.linalg.solve(A, rhs_)
                    u_out[q] = y[n]
                    for i in range(n):
                        grad_out[q, i] = p[i]
                    ok[q] = True
                break
