"""Exact entropy solution of inviscid Burgers u_t + (u^2/2)_x = 0, u(x, 0) = sin x (2 pi-periodic).

Plain numpy/scipy, importable from charme's python and from the peers' venv (the
benchmarks use it to score charme, PyClaw and each other).  ``python burgers_reference.py``
runs its self-checks.

The solution
------------
Along the characteristic from x = xi the value is u = sin(xi), reached at
x = g(xi) = xi + t sin(xi).  g' = 1 + t cos(xi) > 0 for t < 1, so before breaking
(t < 1; breaking at t* = 1, x = pi) u solves u = sin(x - u t) uniquely.

After breaking the data stay odd about 0 and about pi (u0(pi + y) = -u0(pi - y)); the
entropy solution keeps that symmetry, so its one shock sits at x = pi (mod 2 pi)
with states +-u and speed (u_L + u_R)/2 = 0.  On (0, pi) the solution is carried by
the characteristics from xi in (0, pi) that have not yet reached the shock: g(0) = 0,
g rises to its maximum pi < g(xi*) at xi* = arccos(-1/t) and falls back to g(pi) = pi,
so for x in (0, pi) the root of g(xi) = x in [0, xi*] is the only one left of the shock
(the leftmost root).  On (pi, 2 pi), u(x) = -u(2 pi - x); u(0) = 0; at the shock
itself the point value is set to 0, the mean of the two states.

Independent check used by the self-test: the Hopf-Lax / Lax-Oleinik potential
U(x, t) = min_y [1 - cos y + (x - y)^2 / (2 t)] has U_x = u, so the cell average over
[a, b] is (U(b) - U(a)) / (b - a); at the minimiser y = xi,
U = 1 - cos(xi) + t sin(xi)^2 / 2.
"""

from __future__ import annotations

import math

import numpy as np

TWO_PI = 2.0 * math.pi
_RTOL = 4.0 * np.finfo(float).eps  # the smallest brentq accepts


def _foot(x: float, t: float) -> float:
    """The foot xi of the characteristic that carries the entropy solution to x in [0, pi)."""
    from scipy.optimize import brentq  # here: the peers' venv imports this module without scipy

    if t == 0.0 or x == 0.0:
        return x
    hi = math.pi if t <= 1.0 else math.acos(-1.0 / t)  # g(hi) >= pi > x, g increasing on [0, hi]

    def f(xi):
        return xi + t * math.sin(xi) - x

    xi = brentq(f, 0.0, hi, xtol=1e-300, rtol=_RTOL, maxiter=200)
    # one guarded Newton step polishes the last bit
    fx, d = f(xi), 1.0 + t * math.cos(xi)
    if d > 0:
        cand = xi - fx / d
        if 0.0 <= cand <= hi and abs(f(cand)) < abs(fx):
            xi = cand
    return xi


def _reduce(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """x -> (y in [0, pi], sign) with u(x) = sign * u(y) (periodicity and oddness)."""
    r = np.mod(x, TWO_PI)  # [0, 2 pi)
    upper = r > math.pi
    y = np.where(upper, TWO_PI - r, r)
    return y, np.where(upper, -1.0, 1.0)


def feet(x, t: float) -> np.ndarray:
    """The characteristic foot xi (reduced to [0, pi]) for each x, and its sign."""
    x = np.asarray(x, float)
    y, sign = _reduce(x.ravel())
    xi = np.array([_foot(v, float(t)) if v < math.pi else math.pi for v in y])
    return xi.reshape(x.shape), sign.reshape(x.shape)


def exact_points(x, t: float) -> np.ndarray:
    """Point values u(x, t) of the entropy solution (0 exactly at a shock, x = pi mod 2 pi)."""
    xi, sign = feet(x, t)
    u = sign * np.sin(xi)
    if t > 1.0:  # on the shock itself: the mean of the two states
        y, _ = _reduce(np.asarray(x, float))
        u = np.where(y == math.pi, 0.0, u)
    return u


def potential(x, t: float) -> np.ndarray:
    """U(x, t) = min_y [1 - cos y + (x - y)^2/(2t)] on the periodic extension (U_x = u)."""
    x = np.asarray(x, float)
    if t == 0.0:
        return 1.0 - np.cos(x)
    xi, sign = feet(x, t)
    # U is even about 0 and pi and 2 pi-periodic, like 1 - cos x (x -> reduced y)
    return 1.0 - np.cos(xi) + t * np.sin(xi) ** 2 / 2


def exact_cell_averages(edges, t: float, nodes: int = 16, tol: float = 1e-14) -> np.ndarray:
    """Exact cell averages over [edges[i], edges[i+1]] by Gauss-Legendre on the smooth pieces.

    A cell containing a shock (x = pi mod 2 pi, t > 1) is split there.  Each piece is
    integrated with ``nodes`` Gauss-Legendre nodes and again on its two halves; where the
    two differ by more than ``tol`` (times the piece's length) the halves are refined in
    turn (adaptive: steep parts next to t = 1, x = pi need it, the rest does not).
    """
    edges = np.asarray(edges, float)
    gx, gw = np.polynomial.legendre.leggauss(nodes)
    owner, lo, hi = [], [], []
    for i, (a, b) in enumerate(zip(edges[:-1], edges[1:])):
        cuts = [a, b]
        if t > 1.0:
            k0, k1 = math.ceil((a - math.pi) / TWO_PI), math.floor((b - math.pi) / TWO_PI)
            cuts = sorted({a, b, *(math.pi + k * TWO_PI for k in range(k0, k1 + 1))})
        for p, q in zip(cuts[:-1], cuts[1:]):
            if q > p:
                owner.append(i)
                lo.append(p)
                hi.append(q)
    owner, lo, hi = np.array(owner), np.array(lo), np.array(hi)

    def gauss(a, b):  # Gauss nodes are interior: never exactly on the shock
        xs = a[:, None] + (b - a)[:, None] * (gx + 1) / 2
        return exact_points(xs, t) @ gw * (b - a) / 2

    out = np.zeros(len(edges) - 1)
    whole = gauss(lo, hi)
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        left, right = gauss(lo, mid), gauss(mid, hi)
        done = np.abs(left + right - whole) <= tol * (hi - lo) + 1e-300
        np.add.at(out, owner[done], (left + right)[done])
        keep = ~done
        if not keep.any():
            break
        owner = np.concatenate([owner[keep], owner[keep]])
        lo, hi = np.concatenate([lo[keep], mid[keep]]), np.concatenate([mid[keep], hi[keep]])
        whole = np.concatenate([left[keep], right[keep]])
    else:
        raise RuntimeError("cell averages did not converge")
    return out / np.diff(edges)


def initial_cell_averages(edges) -> np.ndarray:
    """Cell averages of sin x: (cos a - cos b) / (b - a)."""
    edges = np.asarray(edges, float)
    return (np.cos(edges[:-1]) - np.cos(edges[1:])) / np.diff(edges)


def cell_edges(n: int, offset: float = 0.0) -> np.ndarray:
    """Edges of N equal cells on [0, 2 pi] shifted by ``offset`` cells."""
    shift = offset * TWO_PI / n
    return np.linspace(shift, TWO_PI + shift, n + 1)


def cell_centres(n: int, offset: float = 0.0) -> np.ndarray:
    e = cell_edges(n, offset)
    return 0.5 * (e[:-1] + e[1:])


# -- self-test -----------------------------------------------------------------------------


def _hopf_lax_brute(x: float, t: float) -> float:
    """u = (x - y*)/t, y* the global minimiser of 1 - cos y + (x - y)^2/(2t) (no branches)."""
    from scipy.optimize import minimize_scalar

    ys = np.linspace(x - t - 1, x + t + 1, 20001)
    vals = 1 - np.cos(ys) + (x - ys) ** 2 / (2 * t)
    k = int(np.argmin(vals))
    r = minimize_scalar(
        lambda y: 1 - math.cos(y) + (x - y) ** 2 / (2 * t),
        bracket=(ys[k - 1], ys[k], ys[k + 1]),
        tol=1e-14,
    )
    return (x - r.x) / t


def self_test() -> None:
    rng = np.random.default_rng(1)
    for t in (0.3, 0.9, 0.999, 1.5, 3.0):
        x = np.concatenate([rng.uniform(-7, 14, 400), np.linspace(0, TWO_PI, 101)])
        u = exact_points(x, t)
        y, _ = _reduce(x)
        off = np.abs(y - math.pi) > 1e-12
        # every value is on a characteristic: u = sin(x - u t)
        res = np.abs(u - np.sin(x - u * t))[off]
        assert res.max() < 5e-15, (t, res.max())
        # odd about 0 and about pi, periodic
        np.testing.assert_allclose(exact_points(-x, t), -u, atol=1e-15)
        np.testing.assert_allclose(exact_points(TWO_PI - x, t), -u, atol=1e-15)
        # x + 2 pi moves x by rounding (~1e-15): allow for the slope u_x = cos/(1 + t cos)
        xi, _ = feet(x, t)
        slope = np.abs(np.cos(xi) / (1 + t * np.cos(xi)))
        jump = np.abs(exact_points(x + TWO_PI, t) - u) <= 1e-14 * (1 + slope)
        assert (jump | ~off).all(), t  # (a point within rounding of the shock may cross it)
        # the entropy solution: Hopf-Lax against a brute-force global minimisation
        for xv in x[:40]:
            if abs(_reduce(np.array([xv]))[0][0] - math.pi) > 1e-3:
                hl = _hopf_lax_brute(float(xv), t)
                assert abs(hl - exact_points(np.array([xv]), t)[0]) < 1e-6, (t, xv)
        # entropy: after breaking, left state > right state at the shock, u > 0 on (0, pi)
        if t > 1:
            eps = 1e-9
            ul, ur = exact_points(np.array([math.pi - eps, math.pi + eps]), t)
            assert ul > 0 > ur and ul == -ur
            inner = np.linspace(1e-3, math.pi - 1e-3, 999)
            assert (exact_points(inner, t) > 0).all()
        # cell averages: mass zero over a period, equal to potential differences, converging
        for n in (200, 1600):
            e = cell_edges(n)
            avg = exact_cell_averages(e, t)
            assert abs(avg.sum() * (TWO_PI / n)) < 1e-13, (t, n)
            pot = np.diff(potential(e, t)) / np.diff(e)
            assert np.abs(avg - pot).max() < 2e-12 * n / 200, (t, n, np.abs(avg - pot).max())
            finer = exact_cell_averages(e, t, nodes=24)
            assert np.abs(avg - finer).max() < 1e-14, (t, n, np.abs(avg - finer).max())
            if t < 1:  # smooth: the average is the centre value + O(h^2)
                c = cell_centres(n)
                d = np.abs(avg - exact_points(c, t)).max()
                assert d < 50 * (TWO_PI / n) ** 2 / (1 - t), (t, n, d)
    # t = 0: the closed-form averages of sin x
    e = cell_edges(400)
    np.testing.assert_allclose(exact_cell_averages(e, 0.0), initial_cell_averages(e), atol=1e-15)
    # the shock stays at pi: the potential is continuous there (both sides give the same U)
    for t in (1.2, 2.0):
        eps = 1e-10
        uu = potential(np.array([math.pi - eps, math.pi + eps]), t)
        assert abs(uu[0] - uu[1]) < 1e-9
    print("burgers_reference: self-test passed")


if __name__ == "__main__":
    self_test()
