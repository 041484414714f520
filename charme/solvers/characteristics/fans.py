"""Rarefaction fans from kinks and jumps of 1-D Cauchy data.

Where the data of a 1-D evolution problem have a kink (Charpit: the slope
p jumps, as for ``g = |x|``) or a jump (quasilinear: u jumps, a Riemann
problem), the rays on either side leave a wedge that no ray of the data
reaches.  If the rays there spread apart, the wedge is filled by a fan:
rays from the kink point whose slope (Charpit) or value (quasilinear) runs
through every value between the two one-sided limits.  The fan rays are
traced like any other, with their variational equations taken along the
fan parameter sigma in [0, 1], and evaluated by cubic Hermite
interpolation in sigma (fourth order in the fan's ray spacing).
If the rays converge instead, there is no fan: they cross at once and the
crossing machinery applies.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from charme.solvers.characteristics import kernels as K
from charme.solvers.characteristics.symbolic import solved_equation
from charme.solvers.characteristics.threads import over_rows
from charme.spec.expressions import evaluate_array

FAN_RAYS = 2001
#: a sample interval is a kink if its jump exceeds this many times its neighbours'
KINK_RATIO = 50.0


@dataclass
class Fan:
    """A fan at manifold parameter ``s_star``, ``w`` from ``w_left`` to ``w_right``."""

    s_star: float
    x_star: np.ndarray
    w_left: float
    w_right: float
    sigma: np.ndarray
    y0: np.ndarray  # (FAN_RAYS, d): ray states, variational part along sigma
    out: np.ndarray | None = None  # traced states (ray, level, d)


def _w_index(n, charpit, o):
    """Position in z of the quantity that jumps: p_o (Charpit) or u."""
    return n + 1 + o if charpit else n


def _state_at(c, pde, s, p_guess):
    """The data's ray state at manifold parameter ``s`` (None if it cannot be built)."""
    y = np.empty((1, c["d"]))
    ok = np.zeros(1, np.bool_)
    K.initial_states(c["icode"], c["iconsts"], c["iprog"], c["fcode"], c["fconsts"], c["fprog"],
                     c["n"], c["charpit"], np.asarray(s, float).reshape(1, -1), p_guess[None, :].copy(), y, ok)  # fmt: skip
    return y[0] if ok[0] and np.isfinite(y[0]).all() else None


def _kink_groups(w, forced=None):
    """Runs of consecutive sample intervals whose jump stands out from its neighbours',
    or that ``forced`` (bool per interval) marks."""
    with np.errstate(all="ignore"):  # (inf - inf where the data overflow: no jump read)
        dw = np.abs(np.diff(w))
    dw[~np.isfinite(dw)] = np.inf
    scale = 1.0 + np.nanmax(np.abs(np.where(np.isfinite(w), w, 0.0)))
    padded = np.concatenate([np.full(3, np.nan), dw, np.full(3, np.nan)])
    windows = np.lib.stride_tricks.sliding_window_view(padded, 7).copy()
    windows[:, 3] = np.nan  # the interval itself is not its own neighbour
    windows[~np.isfinite(windows)] = np.nan
    # the median of each window's finite entries (NaN sorts last), 0 if it has none
    count = np.isfinite(windows).sum(axis=1)
    windows.sort(axis=1)
    rows = np.arange(len(windows))
    lo, hi = np.maximum(count - 1, 0) // 2, np.maximum(count, 1) // 2
    ref = np.where(count > 0, 0.5 * (windows[rows, lo] + windows[rows, hi]), 0.0)
    flagged = dw > KINK_RATIO * ref + 1e-8 * scale
    if forced is not None:
        flagged |= forced
    groups, k = [], 0
    while k < len(dw):
        if flagged[k]:
            j = k
            while j + 1 < len(dw) and flagged[j + 1]:
                j += 1
            groups.append((k, j + 1))  # samples k .. j+1 bracket the kink
            k = j + 1
        else:
            k += 1
    return groups


def detect(info, pde, c, e, speed_of):
    """The fans of a 1-D evolution problem (``e``: the evolution variable's index).

    ``speed_of(z)`` gives dx/dtau at ray states ``z``.  Returns the list of
    :class:`Fan` (possibly empty) with initial states ready to trace, the
    manifold parameters of every kink or jump found (fans or not), where
    quadratures over the data must be split, and (x, s) of the jumps where the
    rays on the two sides converge instead: they cross at once (tau = 0).
    """
    n, nz, charpit = c["n"], c["nz"], c["charpit"]
    if n != 2:  # (fans are not built in 2+ space dimensions: where the rays spread apart
        # at a jump of their speed, the points between get no value; counted for the note)
        converging, c["unbuilt_fans"] = _speed_jumps(c, e, speed_of)
        return [], [], converging
    o = 1 - e
    S, y0 = c["S"][:, 0], c["y0"]
    iw = _w_index(n, charpit, o)
    fans, kinks, converging = [], [], []
    groups = [(g, False) for g in _kink_groups(y0[:, iw])]
    swapped = c.get("swapped")
    if swapped is not None and swapped.any():
        # also where neighbouring rays change places with no crossing either ray's
        # Jacobian shows: a jump or kink the samples' values did not make stand out (a
        # kink only if w jumps there)
        groups += [((a, b), True) for a, b in _kink_groups(y0[:, iw], swapped)
                   if not any(a < b2 and a2 < b for (a2, b2), _ in groups)]  # fmt: skip
    for (a, b), forced in groups:
        if not (np.isfinite(y0[a]).all() and np.isfinite(y0[b]).all()):
            continue
        guess_l = y0[a, n + 1 : 2 * n + 1] if charpit else np.zeros(n)
        guess_r = y0[b, n + 1 : 2 * n + 1] if charpit else np.zeros(n)
        wa, wb = y0[a, iw], y0[b, iw]
        lo, hi = S[a], S[b]
        for _ in range(120):  # bisection to the kink: which side's value does w(mid) keep?
            mid = 0.5 * (lo + hi)
            if not lo < mid < hi:
                break
            st = _state_at(c, pde, mid, guess_l)
            if st is None:  # exactly at a jump
                st = _state_at(c, pde, mid, guess_r)
            if st is not None and abs(st[iw] - wa) <= abs(st[iw] - wb):
                lo = mid
            else:
                hi = mid
        # one-sided limits: just off the kink, whose own value is ambiguous (|x| at 0)
        s_star = 0.5 * (lo + hi)
        if not forced:
            kinks.append(float(s_star))
        delta = 1e-13 * max(1.0, abs(s_star), abs(S[b] - S[a]))
        left = _state_at(c, pde, s_star - delta, guess_l)
        right = _state_at(c, pde, s_star + delta, guess_r)
        if left is None or right is None:
            continue
        if not abs(right[iw] - left[iw]) > 1e-6 * abs(wb - wa):
            continue  # continuous there: a stretch steeper than the samples resolve, no jump
        if forced:
            kinks.append(float(s_star))
        zl, zr = left[:nz], right[:nz]
        al, ar = speed_of(zl[None])[0, o], speed_of(zr[None])[0, o]
        xs = left[nz + o]  # dx_o/ds on the data: orientation of s along x
        spread = (ar - al) * np.sign(xs if xs != 0 else right[nz + o])
        if spread < 0:  # the rays converge: a crossing at once, not a fan
            converging.append((0.5 * (left[:n] + right[:n]), float(s_star)))
            continue
        if not spread > 0:
            continue
        at = _state_at(c, pde, s_star, guess_l)  # x (and u at a kink) exactly at s*
        fans.append(_fan(info, pde, c, e, s_star, zl, zr, at, iw, speed_of))
    # the rays' speed jumping where the data are smooth (a kink of the equation in the
    # gradient, abs(u_x), or a jump in u, u/abs(u)*u_x): converging, they cross at once
    # (spreading apart, no ray reaches the wedge between: its points get no value)
    # (their parameters are kinks too: no Hermite cubic across them)
    h = float(np.max(np.abs(np.diff(S)))) if len(S) > 1 else 0.0
    closing, spreading = (
        [(x, float(s[0])) for x, s in found if all(abs(s[0] - k) > 2 * h for k in kinks)]
        for found in _speed_jumps(c, e, speed_of)
    )  # (a kink or jump of the data found above is not one again)
    kinks += [s for _, s in closing + spreading]
    return fans, kinks, converging + closing


def _fan(info, pde, c, e, s_star, zl, zr, z_star, iw, speed_of):
    n, charpit = c["n"], c["charpit"]
    o = 1 - e
    sigma = np.linspace(0.0, 1.0, FAN_RAYS)
    dw = zr[iw] - zl[iw]
    z = np.tile(zl, (FAN_RAYS, 1))
    z[:, :n] = 0.5 * (zl[:n] + zr[:n]) if z_star is None else z_star[:n]
    if charpit:  # u is continuous at a kink
        z[:, n] = 0.5 * (zl[n] + zr[n]) if z_star is None else z_star[n]
    z[:, iw] = zl[iw] + sigma * dw
    zs = np.zeros_like(z)
    zs[:, iw] = dw
    if charpit:
        # p_e from F = 0; F is linear in p_e with slope dx_e/dtau (the constant speed)
        ie = n + 1 + e
        for _ in range(3):
            env = {v: z[:, i] for i, v in enumerate(pde.variables)}
            env[pde.unknown] = z[:, n]
            for i, dn in enumerate(pde.derivative_names):
                env[dn] = z[:, n + 1 + i]
            F = np.broadcast_to(evaluate_array(solved_equation(pde), env), (FAN_RAYS,))
            a = speed_of(z)
            z[:, ie] -= F / a[:, e]
        a = speed_of(z)
        zs[:, ie] = -a[:, o] / a[:, e] * dw  # F_p . p_sigma = 0 along the fan
    y0 = np.concatenate([z, zs], axis=1)
    return Fan(s_star, z[0, :n].copy(), float(zl[iw]), float(zr[iw]), sigma, y0)


def trace(c, fan, taus):
    """Trace the fan's rays through ``taus`` (as the data's rays are)."""
    out = np.empty((len(fan.y0), len(taus), c["d"]))
    status = np.empty(len(fan.y0), np.int64)
    reached = np.empty(len(fan.y0))
    exact = c.get("exact", np.ones(len(taus), np.bool_))
    over_rows(K.trace_rows, len(fan.y0), c["code"], c["consts"], c["prog"], c["nz"], fan.y0,
              taus, exact, c["rtol"], c["atol"], out, status, reached,
              np.empty(len(fan.y0)), c["straight"])  # fmt: skip
    fan.out = out


def _hermite(f0, f1, d0, d1, t):
    """Cubic Hermite on [0, 1] and its derivative (d0, d1 already scaled by the step)."""
    h00, h10, h01, h11 = (
        2 * t**3 - 3 * t**2 + 1,
        t**3 - 2 * t**2 + t,
        -2 * t**3 + 3 * t**2,
        t**3 - t**2,
    )
    value = h00 * f0 + h10 * d0 + h01 * f1 + h11 * d1
    dh00, dh10, dh01, dh11 = (
        6 * t**2 - 6 * t,
        3 * t**2 - 4 * t + 1,
        -6 * t**2 + 6 * t,
        3 * t**2 - 2 * t,
    )
    return value, dh00 * f0 + dh10 * d0 + dh01 * f1 + dh11 * d1


def solve_cubic(x0, x1, d0, d1, xt, t, tol, steps):
    """t in [0, 1] where each cubic Hermite (x0, x1, d0, d1; see :func:`_hermite`) takes
    the value xt (arrays): Newton from ``t``, kept inside [0, 1], for each cubic until
    its step is at most ``tol`` (then the error left is about the step squared), at
    most ``steps`` steps."""
    t = np.array(t, float)
    live = np.arange(len(t))
    for _ in range(steps):
        value, slope = _hermite(x0[live], x1[live], d0[live], d1[live], t[live])
        with np.errstate(all="ignore"):
            step = np.where(slope != 0, (value - xt[live]) / slope, 0.0)
        t[live] = np.clip(t[live] - step, 0.0, 1.0)
        live = live[np.abs(step) > tol]
        if not live.size:
            break
    return t


def on_cubics(c, e, Y, k, h, xt, t, speed_of, rate_of):
    """u and grad u where rays pass through x = ``xt`` (1-D), at ``t`` in [0, 1] of the
    way from the states ``Y[k]`` to ``Y[k + 1]`` (``h`` apart in the rays' parameter),
    on the cubic Hermite interpolants in that parameter.  Charpit: p read off its
    interpolant; quasilinear: u_x = u_s / x_s, u_t from the equation a . grad u = b
    (``speed_of``/``rate_of`` give a and b at ray states)."""
    n, nz = c["n"], c["nz"]
    o = 1 - e
    u, du = _hermite(Y[k, n], Y[k + 1, n], Y[k, nz + n] * h, Y[k + 1, nz + n] * h, t)
    grad = np.empty((len(t), n))
    if c["charpit"]:
        for i in range(n):
            j = n + 1 + i
            grad[:, i] = _hermite(Y[k, j], Y[k + 1, j], Y[k, nz + j] * h,
                                  Y[k + 1, nz + j] * h, t)[0]  # fmt: skip
        return u, grad
    _, dx = _hermite(Y[k, o], Y[k + 1, o], Y[k, nz + o] * h, Y[k + 1, nz + o] * h, t)
    z = Y[k, :nz].copy()
    z[:, o], z[:, n] = xt, u
    a, b = speed_of(z), rate_of(z)
    with np.errstate(all="ignore"):
        grad[:, o] = du / dx
        grad[:, e] = (b - a[:, o] * grad[:, o]) / a[:, e]
    return u, grad


def branches(info, c, e, fan, level, targets, speed_of, rate_of):
    """The fan's ray through each target x, if any, as arrays (q, u, grad, s, w) for
    :meth:`.branches.Branches.build`: target indices, u and grad u there, the kink's
    s (``fan.s_star``) and the ray's own value w.

    ``level`` indexes the traced states; ``speed_of``/``rate_of`` give
    dx/dtau and du/dtau at ray states.
    """
    n, nz = c["n"], c["nz"]
    o = 1 - e
    targets = np.asarray(targets, float)
    Y = fan.out[:, level]
    none = (np.empty(0, np.int64), np.empty(0), np.empty((0, n)), np.empty(0), np.empty(0))
    if not np.isfinite(Y).all():
        return none
    x, xs = Y[:, o], Y[:, nz + o]
    h = fan.sigma[1] - fan.sigma[0]
    if not (np.diff(x) > 0).all() and not (np.diff(x) < 0).all():
        return none  # the fan has not opened (tau = 0) or folded: nothing to add
    order = 1 if x[-1] > x[0] else -1
    xa = x[::order]
    slack = 1e-12 * (1.0 + max(abs(xa[0]), abs(xa[-1])))  # the edges, up to rounding
    q = np.flatnonzero((xa[0] - slack <= targets) & (targets <= xa[-1] + slack))
    xt = targets[q]
    k = np.clip(np.searchsorted(xa, xt, side="right") - 1, 0, len(x) - 2)
    k = k if order == 1 else len(x) - 2 - k
    f0, f1 = x[k], x[k + 1]
    with np.errstate(all="ignore"):
        t = solve_cubic(f0, f1, xs[k] * h, xs[k + 1] * h, xt, (xt - f0) / (f1 - f0), 1e-16, 50)
    u, grad = on_cubics(c, e, Y, k, h, xt, t, speed_of, rate_of)
    w = fan.w_left + (k + t) * h * (fan.w_right - fan.w_left)
    return q, u, grad, np.full(len(q), float(fan.s_star)), w


#: speed jumps of each kind (converging, spreading) followed at most
SPEED_JUMPS_MOST = 8


def _speed_jumps(c, e, speed_of):
    """Where the rays' speed jumps along smooth data.  The speed of an equation with a
    kink in the gradient (``abs(u_x)``) or a jump in u (``u/abs(u)*u_x``) jumps where p
    or u passes the kink, however smooth the data, and no ray's Jacobian sees it.
    Along each line of the data's lattice, the speed's component along the line's
    tangent dx/ds_k: where it jumps down (the rays on either side converge: they cross
    at once), (x, s) of the jump, and where it jumps up (they spread apart: a wedge
    no ray of the data reaches), likewise.  Returns (converging, spreading),
    ``SPEED_JUMPS_MOST`` of each at most.  A continuous speed falling across a stretch
    far narrower than the samples goes to ``c["steep_speeds"]`` as (s, k, width, a ray
    next to it): the rays there cross between the samples, where no sampled ray's
    Jacobian shows it."""
    n, nz, m = c["n"], c["nz"], c["m"]
    shape = tuple(int(k) for k in c["s_counts"])
    S, y0 = c["S"], c["y0"]
    if len(S) != int(np.prod(shape)) or min(shape) < 2:
        return [], []
    good = np.isfinite(y0).all(axis=1)
    speed = np.full((len(S), n), np.nan)
    if good.any():
        speed[good] = speed_of(y0[good, :nz])
    out, spreading = [], []
    steep = c.setdefault("steep_speeds", [])  # (s, k, width, ray) of steep stretches
    for k in range(m):
        tangent = y0[:, nz + k * nz : nz + k * nz + n]
        with np.errstate(all="ignore"):
            along = (speed * tangent).sum(axis=1) / np.linalg.norm(tangent, axis=1)
        lines = np.moveaxis(np.arange(len(S)).reshape(shape), k, -1).reshape(-1, shape[k])
        for line in lines:
            for a, b in _kink_groups(along[line], c.get("swapped") if m == 1 else None):
                ra, rb = line[a], line[b]
                if not (np.isfinite(along[ra]) and np.isfinite(along[rb])):
                    continue
                into = out if along[rb] < along[ra] else spreading
                if len(into) >= SPEED_JUMPS_MOST:
                    continue
                got = _bisect_speed(c, k, S[ra], S[rb], along[ra], along[rb], tangent[ra],
                                    y0[ra], y0[rb], speed_of)  # fmt: skip
                if got is not None and got[0] == "jump":
                    into.append(got[1:])
                elif got is not None and len(steep) < SPEED_JUMPS_MOST:
                    steep.append((got[1], k, got[2], ra))
                if len(out) >= SPEED_JUMPS_MOST and len(spreading) >= SPEED_JUMPS_MOST:
                    return out, spreading
    return out, spreading


def _bisect_speed(c, k, sa, sb, va, vb, tangent, ya, yb, speed_of):
    """The jump of the speed's component along ``tangent`` between the data's parameters
    ``sa`` and ``sb`` (differing in coordinate k; values ``va``, ``vb`` there):
    ``("jump", x, s)`` if the one-sided limits there differ the way the samples do;
    ``("steep", s, width)`` if the speed is continuous but falls across a stretch far
    narrower than the samples (``width``: where it passes a quarter and three quarters
    of the fall; the rays there cross soon, between the samples); else None."""
    n, nz, charpit = c["n"], c["nz"], c["charpit"]
    unit = tangent / np.linalg.norm(tangent)
    guess_l = ya[n + 1 : 2 * n + 1] if charpit else np.zeros(n)
    guess_r = yb[n + 1 : 2 * n + 1] if charpit else np.zeros(n)

    def along(s, guess):
        st = _state_at(c, None, s, guess)
        return (None, np.nan) if st is None else (st, float(speed_of(st[None, :nz])[0] @ unit))

    def passes(level):  # bisection: where the speed passes ``level`` (from va's side)
        lo, hi = float(sa[k]), float(sb[k])
        for _ in range(120):
            mid = 0.5 * (lo + hi)
            if not lo < mid < hi:
                break
            s = sa.copy()
            s[k] = mid
            _, v = along(s, guess_l)
            if np.isfinite(v) and (v - level) * (va - level) >= 0:
                lo = mid
            else:
                hi = mid
        return 0.5 * (lo + hi)

    star = passes(0.5 * (va + vb))
    delta = 1e-13 * max(1.0, abs(star), abs(sb[k] - sa[k]))
    s_l, s_r = sa.copy(), sa.copy()
    s_l[k], s_r[k] = star - delta, star + delta
    (left, vl), (right, vr) = along(s_l, guess_l), along(s_r, guess_r)
    if left is None or right is None:
        return None
    s = sa.copy()
    s[k] = star
    if abs(vr - vl) > 1e-6 * abs(vb - va) and (vr - vl) * (vb - va) > 0:
        return "jump", 0.5 * (left[:n] + right[:n]), s
    if vb < va:  # continuous: a steep stretch, the rays converging across it
        width = abs(passes(0.75 * va + 0.25 * vb) - passes(0.25 * va + 0.75 * vb))
        return "steep", s, max(width, delta)
    return None
