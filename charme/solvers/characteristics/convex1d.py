"""``--crossing shock`` for u_t + f(u)_x = 0 from smooth data, in one compiled pass.

The general path (:func:`~charme.solvers.characteristics.driver._after_crossing`)
traces rays, finds the crossings on them, looks for rarefaction fans, kinks, jumps
and folds between the samples, finds every branch through each grid point from
tables of rays and picks one by the Lax-Oleinik functional: about forty Python
steps, two milliseconds a solve whatever the grid's size.  When none of what those
steps look for can occur, this module computes the same entropy solution in one
Numba call.  It applies (:func:`prepare` says) when

* the equation is a scalar conservation law u_t + f(u)_x = 0 in one space
  dimension, f' a function of u alone (the rays are straight lines, u constant on
  each), and f strictly convex or concave over the data's values (the checks of
  :func:`~charme.solvers.characteristics.driver._flux_sign`);
* the data are the full form, t = t0 on them, and x0(s), u0(s) and f'(u) are
  analytic: built from numbers, the manifold parameter, + - *, division by a
  number, whole non-negative powers and exp, sin, cos, sinh, cosh, tanh, atan (no
  kinks, jumps or poles, so no fans and nothing undefined);
* nothing asks for the traced rays (``--save-rays``) or Hermite evaluation.

Everything else takes the general path, which this one is tested against.

What it computes, level by level (tau = (t - t0) / speed): the rays are
X(s, tau) = x0(s) + tau f'(u0(s)), with X_s = x0'(s) (1 + tau q(s)),
q = f''(u0) u0' / x0'.  They fold where 1 + tau q = 0, first at the least of -1/q
over the data (the breaking time, found by golden sections around the samples'
local minima of q).  At a level, X_s changes sign at the turning points of X
(found between the samples and the minima of q past their own breaking time), and
between them X is monotone: a *piece*.  Each grid point x in a piece's range has
one foot s there (Newton on X(s) = x, safeguarded by the piece's bracketing
samples and seeded by inverse cubic Hermite interpolation).  Only pieces not folded
over (X_s of the data's sign) compete: a folded ray maximises the functional.  Where
several reach x the one with the least (convex f; greatest: concave) Lax-Oleinik
functional U0(s) + u0(s) (x - x0(s)) - (t - t0) f(u0(s)), U0 = integral of
u0 dx0, wins.  The difference of two pieces' functionals is monotone in x (its
x-derivative is u_a - u_b, of one sign on crossing rays), so each pair's winner is
decided once per level by where they tie (Newton), which is also the position of
the shock between two neighbouring points won by different pieces.
u = u0(s), u_x = u0'(s) / X_s, u_t = -(dx/dt) u_x.  A point only folded rays reach
(past the data's ends) is NaN: no ray of the data there is the entropy solution's.
"""

from __future__ import annotations

import functools
import math

import numpy as np
from numba import njit

from charme.solvers.characteristics import kernels as K
from charme.solvers.gillespie.kernels import eval_program

#: functions analytic on the whole real line (no kink, jump or pole)
ANALYTIC_FUNCTIONS = frozenset({"exp", "sin", "cos", "sinh", "cosh", "tanh", "atan"})
#: Gauss-Legendre on [-1, 1] for the integral of u0 dx0 between samples (exact to degree
#: 15: for analytic data between samples that resolve them, rounding)
_GL = np.polynomial.legendre.leggauss(8)
#: iterations of the golden-section search for each minimum of q
GOLDEN_STEPS = 64
#: a handover between two pieces split into shocks around a third at most this deep
SHOCK_SPLITS = 4
#: the ties of pairs of pieces fewer than this apart are kept once found (see _tie)
TIE_BAND = 16


def analytic(tree) -> bool:
    """True if the expression tree is an entire function of its names (see the module
    docstring for what counts)."""
    kind = tree[0]
    if kind in ("num", "name"):
        return True
    if kind == "neg":
        return analytic(tree[1])
    if kind in ("add", "sub", "mul"):
        return analytic(tree[1]) and analytic(tree[2])
    if kind == "div":
        return tree[2][0] == "num" and tree[2][1] != 0.0 and analytic(tree[1])
    if kind == "pow":
        e = tree[2]
        return (e[0] == "num" and e[1] >= 0 and float(e[1]).is_integer()
                and analytic(tree[1]))  # fmt: skip
    if kind == "call":
        return tree[1] in ANALYTIC_FUNCTIONS and all(analytic(a) for a in tree[2])
    return False


#: False sends every solve the general way (tests compare the two)
ENABLED = True


def prepare(info, pde, cp, crossing, evaluation, save_rays):
    """The programs the kernel takes (code, consts, prog; see below) if this solve can
    take the compiled path, else None (see the module docstring)."""
    if not ENABLED or crossing != "shock" or evaluation != "newton" or save_rays:
        return None
    if cp.n != 2 or cp.charpit or cp.evolution < 0 or not cp.straight or not cp.speed > 0:
        return None
    if pde.from_shorthand or info.b != ("num", 0.0) or pde.guess or len(pde.manifold) != 1:
        return None
    from charme.solvers.characteristics.symbolic import manifold_derivatives

    o = 1 - cp.evolution
    dx0, du0 = manifold_derivatives(pde)
    data = (pde.x0[o], pde.u0, dx0[o][0], du0[0])
    return _programs(data, tuple(info.a), tuple(pde.variables), pde.unknown, pde.manifold[0])


@functools.lru_cache(maxsize=64)
def _programs(data, speeds_tree, variables, unknown, parameter):
    """x0, u0, dx0/ds, du0/ds over s and f(u), f'(u), f''(u) over u (f in tau: f' is
    dx/dtau), rows 0 to 6 of postfix programs over one slot, or None if the data or the
    speeds are not analytic or f does not integrate to an analytic expression (cached:
    the checks run once per equation and data)."""
    if not all(analytic(t) for t in (*data, *speeds_tree)):
        return None
    import sympy as sp

    from charme.errors import SpecError
    from charme.solvers.characteristics.compile import _programs as postfix
    from charme.solvers.characteristics.driver import _flux_sym
    from charme.solvers.characteristics.symbolic import from_sympy

    try:
        U, f = _flux_sym(speeds_tree, variables, unknown)
        rate = next(a[1] for a in speeds_tree if a[0] == "num" and a[1] != 0.0)  # dt/dtau
        f = f * rate
        flux = [from_sympy(g) for g in (f, sp.diff(f, U), sp.diff(f, U, 2))]
        if not all(analytic(t) for t in flux):
            return None
        code, consts, prog, depth = postfix([*data, *flux], {parameter: 0, unknown: 0})
        if depth + len(data) > K.STACK_SIZE:  # (rows run together: their values pile up)
            return None
    except (SpecError, TypeError, ValueError, KeyError, NotImplementedError):
        return None
    return code, consts, prog


def solve(cp, programs, S, xs, tau_levels, lo_x, hi_x, horizon):
    """u, u_x, u_t on the levels (float[L, N] each, x the grid's ``xs``), the shocks
    (float[k, 2]: tau, x), and the breaking (tau, s, x; tau inf if none up to
    ``horizon``); ``lo_x``, ``hi_x``: the grid's x range (a breaking there is preferred).
    All None but the breaking where the data turn out not to be for this path, or f is
    neither convex nor concave over the data's values (the rule of
    :func:`~charme.solvers.characteristics.driver._curvature_sign`)."""
    L, N = len(tau_levels), len(xs)
    u = np.full((L, N), np.nan)
    ux = np.full((L, N), np.nan)
    ut = np.full((L, N), np.nan)
    # (room for one shock per two neighbouring points and level, at most one per two
    # pieces of the rays; the kernel counts them all, and runs again with room for more)
    room = max(1, L * min(max(N - 1, 1), 2 * len(S) + 2))
    while True:
        shocks = np.empty((room, 2))
        brk = np.full(3, np.nan)
        count = _solve(*programs, float(cp.speed), np.ascontiguousarray(S[:, 0]),
                       np.ascontiguousarray(xs, float), np.ascontiguousarray(tau_levels, float),
                       float(lo_x), float(hi_x), float(horizon), _GL[0], _GL[1], u,
                       ux, ut, shocks, brk)  # fmt: skip
        if count <= room:
            break
        room = count
    if count < 0:
        return None, None, None, None, brk
    return u, ux, ut, shocks[:count], brk


# -- the kernel ------------------------------------------------------------------------------
#
# (code, consts, prog): the programs of x0, u0, dx0/ds, du0/ds over s (rows 0 to 3) and of
# f, f', f'' over u (rows 4 to 6; tau's f: f' = dx/dtau), each over the one slot;
# stack and slot are their work arrays.  Rows follow one another in ``code``, and each
# leaves its value on the stack above the last's, so a run of rows is one call of the
# interpreter: after rows a..b, stack[k] holds row a + k (:func:`_rows`).


@njit(cache=True)
def _rows(code, consts, prog, stack, slot, a, b, value):
    """Rows a to b (inclusive) at ``value``, left in stack[0 .. b - a] (as
    :func:`~charme.solvers.characteristics.kernels._initial_state` runs the data's rows;
    calling the interpreter here, not through a shared helper, keeps this hot path a
    quarter faster)."""
    slot[0] = value
    eval_program(code, consts, prog[a, 0], prog[b, 1], slot, stack, 0.0)


@njit(cache=True)
def _at(s, code, consts, prog, stack, slot):
    """(x0, f'(u0), x0', d f'(u0)/ds, u0, u0') at the data parameter s."""
    _rows(code, consts, prog, stack, slot, 0, 3, s)
    x0, u0, xs0, us0 = stack[0], stack[1], stack[2], stack[3]
    _rows(code, consts, prog, stack, slot, 5, 6, u0)
    return x0, stack[0], xs0, stack[1] * us0, u0, us0


@njit(cache=True)
def _q(s, code, consts, prog, stack, slot):
    """q = (d f'(u0)/ds) / x0': the rays fold where 1 + tau q = 0."""
    _, _, xs0, axs, _, _ = _at(s, code, consts, prog, stack, slot)
    return axs / xs0


@njit(cache=True)
def _turn(a, b, fa, fb, tau, code, consts, prog, stack, slot):
    """The root of X_s(s, tau) between a and b (of opposite signs fa, fb): Illinois."""
    side = 0
    c = a
    for _ in range(200):
        c = (a * fb - b * fa) / (fb - fa)
        if not (min(a, b) <= c <= max(a, b)):
            c = 0.5 * (a + b)
        _, _, xs0, axs, _, _ = _at(c, code, consts, prog, stack, slot)
        fc = xs0 + tau * axs
        if fc == 0.0 or abs(b - a) <= 4e-16 * (1.0 + abs(c)):
            return c
        a, b, fa, fb, side = K.illinois_update(a, b, fa, fb, c, fc, side)
    return c


@njit(cache=True)
def _foot(x, tau, sl, sr, xl, xr, dl, dr, code, consts, prog, stack, slot):
    """The s in [sl, sr] with X(s, tau) = x, given X = xl, xr and X_s = dl, dr at the
    ends (x between xl and xr): Newton from inverse cubic Hermite interpolation,
    bisection where a step would leave the bracket.  Returns (s, u0, u0', f'(u0), X_s)
    there: Newton's last step is below 1e-10 of s, and the values at its end are
    those at its start to second order (the derivatives along s from the last two
    iterates), not a further evaluation."""
    if x == xl or x == xr:
        s = sl if x == xl else sr
        _, ax, xs0, axs, u0, us = _at(s, code, consts, prog, stack, slot)
        return s, u0, us, ax, xs0 + tau * axs
    w = (x - xl) / (xr - xl)
    h = sr - sl
    s = sl + w * h
    if dl * dr > 0 and dl * (xr - xl) > 0:  # s(X) as a cubic: slopes 1/X_s at the ends
        dx = xr - xl
        m0, m1 = dx / (dl * h), dx / (dr * h)  # (in units of h over the unit interval)
        w2, w3 = w * w, w * w * w
        z = (3 * w2 - 2 * w3) + (w3 - 2 * w2 + w) * m0 + (w3 - w2) * m1
        if 0.0 < z < 1.0:
            s = sl + z * h
    fl = xl - x
    prev = math.inf  # (the last Newton step; inf after a bisection)
    s_p, us_p, d_p = math.nan, math.nan, math.nan  # (the previous iterate's)
    for _ in range(100):
        x0, ax, xs0, axs, u0, us = _at(s, code, consts, prog, stack, slot)
        f = x0 + tau * ax - x
        d = xs0 + tau * axs
        if f == 0.0:
            return s, u0, us, ax, d
        if (f < 0) == (fl < 0):
            sl, fl = s, f
        else:
            sr = s
        step = f / d if d != 0.0 else math.inf
        t = s - step
        scale = 1.0 + abs(s)
        # converged: the step is below rounding, or quadratic convergence was seen
        # (the step after this one would be)
        # (with a previous iterate, whose values give the derivatives along s that carry
        # these values to t)
        known = math.isfinite(s_p) and s_p != s
        done = abs(step) <= 4e-16 * scale or (
            known and abs(step) <= 1e-10 * scale and abs(step) <= 1e3 * prev * prev
            and min(sl, sr) <= t <= max(sl, sr))  # fmt: skip
        if done and math.isfinite(t):
            dt = t - s
            d2u = dd = 0.0
            if known:
                d2u, dd = (us - us_p) / (s - s_p), (d - d_p) / (s - s_p)
            # (f'(u0) changes at the rate axs along s, exactly)
            return t, u0 + (us + 0.5 * d2u * dt) * dt, us + d2u * dt, ax + axs * dt, d + dd * dt
        prev = abs(step)
        if not (min(sl, sr) < t < max(sl, sr)) or not math.isfinite(t):
            t = 0.5 * (sl + sr)  # (bisection)
            prev = math.inf
        if abs(sr - sl) <= 4e-16 * scale:
            break
        s_p, us_p, d_p = s, us, d
        s = t
    _, ax, xs0, axs, u0, us = _at(s, code, consts, prog, stack, slot)
    return s, u0, us, ax, xs0 + tau * axs


@njit(cache=True)
def _u_dx(a, b, gx, gw, code, consts, prog, stack, slot):
    """Integral of u0 dx0/ds over [a, b] (Gauss-Legendre)."""
    half, mid = 0.5 * (b - a), 0.5 * (a + b)
    acc = 0.0
    for i in range(gx.shape[0]):
        si = mid + half * gx[i]
        _rows(code, consts, prog, stack, slot, 1, 2, si)
        acc += gw[i] * stack[0] * stack[1]
    return acc * half


@njit(cache=True)
def _big_u(s, S, ints, gx, gw, code, consts, prog, stack, slot):
    """U0(s) - U0(S[anchor]) (the anchor: the middle sample), from the samples'
    intervals' integrals (``ints``, filled as they are needed: NaN until then)."""
    k_last = S.shape[0] - 2
    j = min(max(np.searchsorted(S, s, side="right") - 1, 0), k_last)
    anchor = S.shape[0] // 2
    total = 0.0
    for k in range(min(j, anchor), max(j, anchor)):
        if math.isnan(ints[k]):
            ints[k] = _u_dx(S[k], S[k + 1], gx, gw, code, consts, prog, stack, slot)
        total += ints[k] if j > anchor else -ints[k]
    return total + _u_dx(S[j], s, gx, gw, code, consts, prog, stack, slot)


@njit(cache=True)
def _action(s, x, tau, sign, S, ints, gx, gw, code, consts, prog, stack, slot):
    """(sign * the Lax-Oleinik functional of the ray from s at x, tau; u0(s))."""
    _rows(code, consts, prog, stack, slot, 0, 1, s)
    x0, u0 = stack[0], stack[1]
    _rows(code, consts, prog, stack, slot, 4, 4, u0)
    f = stack[0]
    big = _big_u(s, S, ints, gx, gw, code, consts, prog, stack, slot)
    return sign * (big + u0 * (x - x0) - tau * f), u0


@njit(cache=True)
def _in_piece(p, x, tau, NS, NX, ND, seg, code, consts, prog, stack, slot):
    """The foot of x on piece p (x inside its range): bracketed between its nodes."""
    a, b = seg[p, 0], seg[p, 1]
    up = NX[b] > NX[a]
    while b - a > 1:  # (NX monotone from a to b)
        mid = (a + b) // 2
        if (NX[mid] <= x) == up:
            a = mid
        else:
            b = mid
    return _foot(x, tau, NS[a], NS[b], NX[a], NX[b], ND[a], ND[b], code, consts, prog, stack, slot)


@njit(cache=True)
def _golden_min(a, b, code, consts, prog, stack, slot):
    """(s, q) at the least q on [a, b] by golden sections."""
    g = K.GOLDEN
    c, d = b - g * (b - a), a + g * (b - a)
    fc, fd = _q(c, code, consts, prog, stack, slot), _q(d, code, consts, prog, stack, slot)
    for _ in range(GOLDEN_STEPS):
        if fc <= fd:
            b, d, fd = d, c, fc
            c = b - g * (b - a)
            fc = _q(c, code, consts, prog, stack, slot)
        else:
            a, c, fc = c, d, fd
            d = a + g * (b - a)
            fd = _q(d, code, consts, prog, stack, slot)
    return (c, fc) if fc <= fd else (d, fd)


@njit(cache=True)
def _gap(x, pa, pb, tau, sign, S, ints, gx, gw, NS, NX, ND, seg, code, consts, prog, stack, slot):
    """(functional of piece pa - that of pb, its x-derivative sign (u_a - u_b)) at x."""
    sa = _in_piece(pa, x, tau, NS, NX, ND, seg, code, consts, prog, stack, slot)[0]
    sb = _in_piece(pb, x, tau, NS, NX, ND, seg, code, consts, prog, stack, slot)[0]
    ka, ua = _action(sa, x, tau, sign, S, ints, gx, gw, code, consts, prog, stack, slot)
    kb, ub = _action(sb, x, tau, sign, S, ints, gx, gw, code, consts, prog, stack, slot)
    return ka - kb, sign * (ua - ub)


@njit(cache=True)
def _threshold(
    pa, pb, lo, hi, tau, sign, S, ints, gx, gw, NS, NX, ND, seg, code, consts, prog, stack, slot
):
    """Where on [lo, hi] (both pieces' range) piece pa stops beating pb: (x, rising).
    The difference of their functionals is monotone in x (its derivative, u_a - u_b,
    has one sign on crossing rays); ``rising``: pa wins left of x (else right of it).
    No sign change: x is -inf or inf, so that pa wins nowhere or everywhere."""
    g_lo, _ = _gap(
        lo, pa, pb, tau, sign, S, ints, gx, gw, NS, NX, ND, seg, code, consts, prog, stack, slot
    )
    g_hi, d = _gap(
        hi, pa, pb, tau, sign, S, ints, gx, gw, NS, NX, ND, seg, code, consts, prog, stack, slot
    )
    if g_lo <= 0.0 and g_hi <= 0.0:
        return math.inf, True
    if g_lo >= 0.0 and g_hi >= 0.0:
        return -math.inf, True
    rising = g_lo < 0.0
    x, g = hi, g_hi
    prev = math.inf
    for _ in range(100):  # Newton, bisection where it would leave the bracket
        t = x - g / d if d != 0.0 else math.nan
        if not (lo < t < hi):
            t = 0.5 * (lo + hi)
        step = abs(t - x)
        g, d = _gap(t, pa, pb, tau, sign, S, ints, gx, gw, NS, NX, ND, seg, code, consts, prog,
                    stack, slot)  # fmt: skip
        scale = 1.0 + abs(t)
        # (below rounding, or quadratic convergence seen: the next step would be)
        done = g == 0.0 or step <= 4e-16 * scale or (
            step <= 1e-10 * scale and step <= 1e3 * prev * prev)  # fmt: skip
        if (g < 0.0) == rising:
            lo = t
        else:
            hi = t
        x, prev = t, step
        if done or hi - lo <= 4e-16 * scale:
            break
    return x, rising


@njit(cache=True)
def _tie(p, r, lo_p, hi_p, thr, rises, tau, sign, S, ints, gx, gw, NS, NX, ND, seg, code,
         consts, prog, stack, slot):  # fmt: skip
    """(x, rising) of :func:`_threshold` for pieces p < r on their overlap (NaN if they do
    not overlap), kept in ``thr``/``rises`` (row p, column r - p) for pairs fewer than
    ``TIE_BAND`` pieces apart (the pieces reaching one point are near in s: a table of
    every pair would grow as the square of their number)."""
    near = r - p < TIE_BAND
    if near and not math.isnan(thr[p, r - p]):
        return thr[p, r - p], rises[p, r - p]
    lo, hi = max(lo_p[p], lo_p[r]), min(hi_p[p], hi_p[r])
    if lo > hi:
        return math.nan, True
    x, rising = _threshold(p, r, lo, hi, tau, sign, S, ints, gx, gw, NS, NX, ND, seg, code,
                           consts, prog, stack, slot)  # fmt: skip
    if near:
        thr[p, r - p], rises[p, r - p] = x, rising
    return x, rising


@njit(cache=True)
def _winner(x, npc, kept, lo_p, hi_p, thr, rises, tau, sign, S, ints, gx, gw, NS, NX, ND, seg,
            code, consts, prog, stack, slot):  # fmt: skip
    """The unfolded piece whose ray through x has the least functional (-1 if none
    reaches x), by the pairs' ties (:func:`_tie`)."""
    best = -1
    for r in range(npc):
        if not (kept[r] and lo_p[r] <= x <= hi_p[r]):
            continue
        if best < 0:
            best = r
            continue
        t, rising = _tie(best, r, lo_p, hi_p, thr, rises, tau, sign, S, ints, gx, gw, NS, NX,
                         ND, seg, code, consts, prog, stack, slot)  # fmt: skip
        wins = x < t if rising else x > t
        if not wins:
            best = r
    return best


@njit(cache=True)
def _curvature_sign(us, code, consts, prog, stack, slot):
    """+1 if f'' >= 0 (to 1e-9 of its largest size) at the data's values ``us`` and at
    401 values spread between their least and largest, -1 if <= 0, else 0 (as
    :func:`~charme.solvers.characteristics.driver._flux_sign` decides; a flux that is
    neither is refused by the general path)."""
    lo, hi = math.inf, -math.inf
    for k in range(us.shape[0]):
        if math.isfinite(us[k]):
            lo, hi = min(lo, us[k]), max(hi, us[k])
    if lo > hi:
        return 1.0
    least, most, size = math.inf, -math.inf, 0.0
    for k in range(us.shape[0] + 401):
        v = us[k] if k < us.shape[0] else lo + (hi - lo) * (k - us.shape[0]) / 400.0
        _rows(code, consts, prog, stack, slot, 6, 6, v)
        c = stack[0]
        if math.isfinite(c):
            least, most, size = min(least, c), max(most, c), max(size, abs(c))
    tol = 1e-9 * max(size, 1e-300)
    if least >= -tol:
        return 1.0
    if most <= tol:
        return -1.0
    return 0.0


@njit(cache=True)
def _solve(code, consts, prog, speed, S, xs, taus, lo_x, hi_x, horizon, gx, gw, u, ux, ut,
           shocks, brk):  # fmt: skip
    """See :func:`solve`; returns the number of shocks, or -1 where the data turn out not
    to be for this path (x0' changing sign; a plateau of q: a ramp closing into a jump
    all at once)."""
    stack, slot = np.empty(K.STACK_SIZE), np.empty(1)
    nK, N = S.shape[0], xs.shape[0]
    X0, AX, XS0, AXS, U0, US = (np.empty(nK), np.empty(nK), np.empty(nK), np.empty(nK),
                                np.empty(nK), np.empty(nK))  # fmt: skip
    for k in range(nK):
        X0[k], AX[k], XS0[k], AXS[k], U0[k], US[k] = _at(S[k], code, consts, prog, stack, slot)
    sign = _curvature_sign(U0, code, consts, prog, stack, slot)
    if sign == 0.0:
        return -1
    ori = XS0[0] > 0  # (the data's orientation: the side unfolded rays keep)
    for k in range(nK):
        if not (XS0[k] > 0) == ori or XS0[k] == 0.0 or not math.isfinite(AXS[k]):
            return -1
    q = AXS / XS0
    # the least q around the samples' local minima (interior ones refined between the
    # neighbours); a plateau is a ramp of the data whose rays meet all at once: not here
    cs, cq = np.empty(nK), np.empty(nK)
    nc = 0
    tb, sb, xb, inside_b = math.inf, math.nan, math.nan, False
    for k in range(nK):
        left = q[k - 1] if k > 0 else math.inf
        right = q[k + 1] if k < nK - 1 else math.inf
        if not (q[k] < 0 and q[k] <= left and q[k] <= right):
            continue
        near = 1e-12 * abs(q[k])
        if abs(q[k] - left) <= near and abs(q[k] - right) <= near:
            return -1
        if 0 < k < nK - 1:
            s_c, q_c = _golden_min(S[k - 1], S[k + 1], code, consts, prog, stack, slot)
            if not q_c < q[k]:
                s_c, q_c = S[k], q[k]
            if nc > 0 and abs(s_c - cs[nc - 1]) <= 1e-9 * (1.0 + abs(s_c)):
                continue  # (two samples as low, the minimum between them: found already)
            cs[nc], cq[nc] = s_c, q_c
            nc += 1
        else:
            s_c, q_c = S[k], q[k]
        t_c = -1.0 / q_c
        x0c, axc, _, _, _, _ = _at(s_c, code, consts, prog, stack, slot)
        x_c = x0c + t_c * axc
        inside = lo_x - 1e-9 <= x_c <= hi_x + 1e-9
        tie = tb < math.inf and abs(t_c - tb) <= 1e-9 * max(1.0, abs(tb))
        if (t_c < tb and not tie) or (tie and inside and not inside_b):
            tb, sb, xb, inside_b = t_c, s_c, x_c, inside
    if tb > horizon:
        tb, sb, xb = math.inf, math.nan, math.nan
    brk[0], brk[1], brk[2] = tb, sb, xb

    P = nK + nc
    PS, PX, PD = np.empty(P), np.empty(P), np.empty(P)
    # (the pieces' nodes: every probe, and each turning point twice, ending one piece
    # and starting the next; at most P - 1 turning points)
    NS, NX, ND = np.empty(3 * P), np.empty(3 * P), np.empty(3 * P)
    seg = np.empty((P + 1, 2), np.int64)
    lo_p, hi_p = np.empty(P + 1), np.empty(P + 1)
    kept = np.empty(P + 1, np.bool_)
    ints = np.full(max(nK - 1, 1), np.nan)
    pick = np.empty(N, np.int64)
    st_x = np.empty((2 * SHOCK_SPLITS + 2, 2))  # (the pending intervals of a handover)
    st_p = np.empty((2 * SHOCK_SPLITS + 2, 3), np.int64)
    count = 0
    for lvl in range(taus.shape[0]):
        tau = taus[lvl]
        # the probes: the samples, and the minima of q past their breaking time
        n_pr, c = 0, 0
        for k in range(nK):
            while c < nc and cs[c] < S[k]:
                if 1.0 + tau * cq[c] < 0:
                    x0c, axc, xs0c, axsc, _, _ = _at(cs[c], code, consts, prog, stack, slot)
                    PS[n_pr], PX[n_pr], PD[n_pr] = cs[c], x0c + tau * axc, xs0c + tau * axsc
                    n_pr += 1
                c += 1
            PS[n_pr], PX[n_pr], PD[n_pr] = S[k], X0[k] + tau * AX[k], XS0[k] + tau * AXS[k]
            n_pr += 1
        # pieces between the turning points of X (where X_s changes sign)
        npc, nn = 0, 0
        seg[0, 0] = 0
        prev = -1  # the last probe with X_s != 0
        pend = -1  # the first of the probes with X_s == 0 since then
        for i in range(n_pr):
            if PD[i] == 0.0:
                if pend < 0:
                    pend = i
                continue
            if prev >= 0 and (PD[i] > 0) != (PD[prev] > 0):
                if pend >= 0:
                    st = PS[pend]
                else:
                    st = _turn(
                        PS[prev], PS[i], PD[prev], PD[i], tau, code, consts, prog, stack, slot
                    )
                x0t, axt, _, _, _, _ = _at(st, code, consts, prog, stack, slot)
                NS[nn], NX[nn], ND[nn] = st, x0t + tau * axt, 0.0
                seg[npc, 1] = nn
                nn += 1
                npc += 1
                seg[npc, 0] = nn
                NS[nn], NX[nn], ND[nn] = st, x0t + tau * axt, 0.0
                nn += 1
            elif pend >= 0:  # (X_s touching 0 without a turn: one piece on)
                for j in range(pend, i):
                    NS[nn], NX[nn], ND[nn] = PS[j], PX[j], PD[j]
                    nn += 1
            pend = -1
            NS[nn], NX[nn], ND[nn] = PS[i], PX[i], PD[i]
            nn += 1
            prev = i
        if pend >= 0:
            for j in range(pend, n_pr):
                NS[nn], NX[nn], ND[nn] = PS[j], PX[j], PD[j]
                nn += 1
        seg[npc, 1] = nn - 1
        npc += 1
        for p in range(npc):
            a, b = seg[p, 0], seg[p, 1]
            lo_p[p], hi_p[p] = min(NX[a], NX[b]), max(NX[a], NX[b])
            # only rays not folded over (X increasing in s as on the data, or decreasing
            # as on it) minimise the functional: a folded piece's rays maximise it
            kept[p] = b > a and (NX[b] > NX[a]) == ori
        thr = np.full((npc, TIE_BAND), np.nan)
        rises = np.zeros((npc, TIE_BAND), np.bool_)
        # every grid point: its feet on the pieces reaching it; the winner of each pair
        # by where their functionals tie (found once per pair and level)
        for j in range(N):
            x = xs[j]
            best = _winner(x, npc, kept, lo_p, hi_p, thr, rises, tau, sign, S, ints, gx, gw,
                           NS, NX, ND, seg, code, consts, prog, stack, slot)  # fmt: skip
            pick[j] = best
            if best < 0:
                continue
            _, u0, us, ax, dx = _in_piece(best, x, tau, NS, NX, ND, seg, code, consts, prog,
                                          stack, slot)  # fmt: skip
            u[lvl, j] = u0
            if dx != 0.0:
                ux[lvl, j] = us / dx
                ut[lvl, j] = -ax * ux[lvl, j] / speed
        if tau <= 0.0:
            continue
        # a shock between neighbours won by different pieces: where their functionals tie;
        # where a third piece wins at that tie, two shocks around it (and so on, at most
        # SHOCK_SPLITS deep), left to right
        for j in range(N - 1):
            if pick[j] < 0 or pick[j + 1] < 0 or pick[j] == pick[j + 1]:
                continue
            top = 0
            st_x[0, 0], st_x[0, 1], st_p[0, 0], st_p[0, 1], st_p[0, 2] = (
                xs[j], xs[j + 1], pick[j], pick[j + 1], 0)  # fmt: skip
            while top >= 0:
                a, b = st_x[top, 0], st_x[top, 1]
                pa, pb, depth = st_p[top, 0], st_p[top, 1], st_p[top, 2]
                top -= 1
                first, second = min(pa, pb), max(pa, pb)
                lo, hi = max(lo_p[first], lo_p[second]), min(hi_p[first], hi_p[second])
                # (their overlap may lie between the two points, a fold just born: no
                # point had both, so the tie is looked for now)
                x_s, rising = _tie(first, second, lo_p, hi_p, thr, rises, tau, sign, S, ints,
                                   gx, gw, NS, NX, ND, seg, code, consts, prog, stack, slot)  # fmt: skip
                if math.isinf(x_s):
                    # one of the two wins all their overlap: the winner changes at its end,
                    # where the other's rays end (the data's last ray, or a fold's edge
                    # whose other side the data's end cuts off)
                    owner = first if (x_s > 0) == rising else second
                    x_s = hi if owner == pa else lo
                if not (a <= x_s <= b):
                    # (no overlap, or their tie is beyond the two points: the winner
                    # changes where the first's rays end, or else the second's begin)
                    x_s = hi_p[pa] if a <= hi_p[pa] <= b else lo_p[pb]
                if not (a <= x_s <= b):
                    x_s = 0.5 * (a + b)
                w = -1
                if depth < SHOCK_SPLITS and a < x_s < b:
                    w = _winner(x_s, npc, kept, lo_p, hi_p, thr, rises, tau, sign, S, ints, gx,
                                gw, NS, NX, ND, seg, code, consts, prog, stack, slot)  # fmt: skip
                if w >= 0 and w != pa and w != pb:  # (the right part after the left)
                    top += 1
                    st_x[top, 0], st_x[top, 1] = x_s, b
                    st_p[top, 0], st_p[top, 1], st_p[top, 2] = w, pb, depth + 1
                    top += 1
                    st_x[top, 0], st_x[top, 1] = a, x_s
                    st_p[top, 0], st_p[top, 1], st_p[top, 2] = pa, w, depth + 1
                else:
                    if count < shocks.shape[0]:  # (else counted only: the caller makes room)
                        shocks[count, 0] = tau
                        shocks[count, 1] = x_s
                    count += 1
    return count
