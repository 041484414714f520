"""Rasterising evaluator for 2-D problems: every grid node from the ray cells around it.

The traced rays of a problem with one manifold parameter s cover the plane
with cells [s_i, s_i+1] x [tau_k, tau_k+1].  On each cell x(s, tau) and u(s,
tau) are bicubic Hermite patches built from the corner values, their s- and
tau-derivatives and the mixed derivative, all carried by the rays: x_s and
u_s by the variational equations, x_tau and u_tau by the ray system itself,
x_s,tau by the variational right-hand side.  The patch is fourth order in
the ray spacing.  Each grid node near a cell (within a rigorous bound of
how far the patch's edges bulge past its corner polygon) is located by
Newton on the patch.  Over the cells that contain a node, the smallest u
wins (first arrival, ``crossing="viscosity"``), or the smallest |tau|
before the cell's rays cross (``"stop"``), or every distinct branch is kept
(``"multivalued"``).  Nodes no cell contains stay NaN.  No ray is
integrated again: one pass over the cells and a few Newton steps per node.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from charme.solvers.characteristics.kernels import STACK_SIZE, rhs

#: Newton has converged when its step is below this, in units of the cell: the error
#: left is about its square (quadratic convergence), 1e-14 of the cell
CELL_TOL = 1e-7
#: a node counts as inside a cell up to this margin (cells share edges)
EDGE = 1e-9
#: ... and below the data (the first level's cells), where the patch's edge is the cubic
#: interpolant of the data between two rays
DATA_EDGE = 1e-6


@njit(cache=True)
def _to_monomials(g0, g1, g2, g3):
    """Coefficients of 1, t, t^2, t^3 of the cubic with Hermite data (g0, g1, g2, g3) =
    (f(0), f'(0), f(1), f'(1)) on [0, 1]."""
    return g0, g1, -3.0 * g0 - 2.0 * g1 + 3.0 * g2 - g3, 2.0 * g0 + g1 - 2.0 * g2 + g3


@njit(cache=True)
def _monomial(c, A):
    """``A[i, j]``: the bicubic Hermite patch on [0, 1]^2 with corner data ``c[4, 4]`` as
    sum A[i, j] s^i t^j (evaluated by :func:`_mono`: nested Horner, half the work of the
    Hermite basis per evaluation).

    ``c[a + 2 b] = (f, f_s hs, f_t ht, f_st hs ht)`` at corner (s-end a, t-end b).
    """
    # G[alpha, beta]: alpha = (s-end a, s-derivative), beta = (t-end b, t-derivative)
    for al in range(4):
        a, ds = al // 2, al % 2
        g = (c[a][ds], c[a][ds + 2], c[a + 2][ds], c[a + 2][ds + 2])
        A[al, 0], A[al, 1], A[al, 2], A[al, 3] = _to_monomials(g[0], g[1], g[2], g[3])
    for j in range(4):
        A[0, j], A[1, j], A[2, j], A[3, j] = _to_monomials(A[0, j], A[1, j], A[2, j], A[3, j])


@njit(cache=True)
def _in_t(A, t):
    """The patch ``A`` from :func:`_monomial` at t: the coefficients of 1, s, s^2, s^3."""
    c0 = ((A[0, 3] * t + A[0, 2]) * t + A[0, 1]) * t + A[0, 0]
    c1 = ((A[1, 3] * t + A[1, 2]) * t + A[1, 1]) * t + A[1, 0]
    c2 = ((A[2, 3] * t + A[2, 2]) * t + A[2, 1]) * t + A[2, 0]
    c3 = ((A[3, 3] * t + A[3, 2]) * t + A[3, 1]) * t + A[3, 0]
    return c0, c1, c2, c3


@njit(cache=True)
def _mono(A, s, t):
    """Value and (d/ds, d/dt) of the patch ``A`` from :func:`_monomial`."""
    c0, c1, c2, c3 = _in_t(A, t)
    d0 = (3.0 * A[0, 3] * t + 2.0 * A[0, 2]) * t + A[0, 1]
    d1 = (3.0 * A[1, 3] * t + 2.0 * A[1, 2]) * t + A[1, 1]
    d2 = (3.0 * A[2, 3] * t + 2.0 * A[2, 2]) * t + A[2, 1]
    d3 = (3.0 * A[3, 3] * t + 2.0 * A[3, 2]) * t + A[3, 1]
    f = ((c3 * s + c2) * s + c1) * s + c0
    fs = (3.0 * c3 * s + 2.0 * c2) * s + c1
    ft = ((d3 * s + d2) * s + d1) * s + d0
    return f, fs, ft


@njit(cache=True)
def _mono_value(A, s, t):
    """The value alone of the patch ``A`` from :func:`_monomial`."""
    c0, c1, c2, c3 = _in_t(A, t)
    return ((c3 * s + c2) * s + c1) * s + c0


@njit(cache=True)
def _corners(out, dloc, nz, i, k, comp, hs, ht, c):
    """Corner data of component ``comp`` of z on cell (ray i, level k); ``dloc[a + 2 b]``
    holds d/dtau of the corner's state."""
    for a in range(2):
        for b in range(2):
            y = out[i + a, k + b]
            dy = dloc[a + 2 * b]
            q = c[a + 2 * b]
            q[0] = y[comp]
            q[1] = y[nz + comp] * hs
            q[2] = dy[comp] * ht
            q[3] = dy[nz + comp] * hs * ht


@njit(cache=True)
def _locate(ax, ay, px, py, sg, th, jac, th_lo):
    """(found, sigma, theta) of the node (px, py) in the cell's patch (x and y from
    :func:`_monomial`), Newton from (sg, th); found if inside, up to ``EDGE``, and
    theta at least ``th_lo``.

    ``jac`` receives (x_sigma, x_theta, y_sigma, y_theta) of the last iterate (a
    predictor for the next node)."""
    for _ in range(30):
        fx, fxs, fxt = _mono(ax, sg, th)
        fy, fys, fyt = _mono(ay, sg, th)
        rx, ry = fx - px, fy - py
        det = fxs * fyt - fxt * fys
        if det == 0.0 or not np.isfinite(det):
            return False, sg, th
        jac[0], jac[1], jac[2], jac[3] = fxs, fxt, fys, fyt
        d_s = (rx * fyt - ry * fxt) / det
        d_t = (fxs * ry - fys * rx) / det
        sg -= d_s
        th -= d_t
        if sg < -2.0 or sg > 3.0 or th < -2.0 or th > 3.0:
            return False, sg, th
        if abs(d_s) + abs(d_t) < CELL_TOL:
            inside = -EDGE <= sg <= 1 + EDGE and th_lo <= th <= 1 + EDGE
            return inside, sg, th
    return False, sg, th


@njit(cache=True)
def _locate_on_ray(ax, ay, px, py, a, size):
    """(found, theta) of the node on the cell's edge sigma = ``a`` (a traced ray), by
    Newton on theta alone.  For nodes where the patch is singular, a focus on that ray:
    Newton on both coordinates cannot converge there, this can."""
    th = 0.5
    for _ in range(30):
        fx, _, fxt = _mono(ax, a, th)
        fy, _, fyt = _mono(ay, a, th)
        norm = fxt * fxt + fyt * fyt
        if norm == 0.0 or not np.isfinite(norm):
            return False, th
        step = ((fx - px) * fxt + (fy - py) * fyt) / norm
        th -= step
        if th < -2.0 or th > 3.0:
            return False, th
        if abs(step) < CELL_TOL:
            fx = _mono_value(ax, a, th)
            fy = _mono_value(ay, a, th)
            near = np.hypot(fx - px, fy - py) <= 1e-9 * size + 1e-14 * (abs(px) + abs(py))
            return near and -EDGE <= th <= 1 + EDGE, th
    return False, th


@njit(cache=True)
def _anchor(anc, px, py, sg, th, jac):
    """Remember a located node: its position, cell coordinates and the map's Jacobian."""
    anc[0], anc[1], anc[2], anc[3] = px, py, sg, th
    anc[4], anc[5], anc[6], anc[7] = jac[0], jac[1], jac[2], jac[3]


@njit(cache=True)
def _predict(anc, px, py):
    """Cell coordinates of (px, py) by one linear step of the inverse map from the anchor,
    clamped near the cell."""
    ddx, ddy = px - anc[0], py - anc[1]
    det = anc[4] * anc[7] - anc[5] * anc[6]
    if det == 0.0:
        return 0.5, 0.5
    sg = anc[2] + (anc[7] * ddx - anc[5] * ddy) / det
    th = anc[3] + (anc[4] * ddy - anc[6] * ddx) / det
    return min(1.5, max(-0.5, sg)), min(1.5, max(-0.5, th))


@njit(cache=True)
def _patch_floor(c):
    """A lower bound of the bicubic patch with corner data ``c``: its least Bezier
    control point (the patch lies in their convex hull)."""
    low = np.inf
    for j in range(4):
        f0 = f1 = t0 = t1 = 0.0
        for b in range(2):
            q0, q1 = c[2 * b], c[1 + 2 * b]
            if j == 0:
                f, ft = q0[0], q0[2]
            elif j == 1:
                f, ft = q0[0] + q0[1] / 3, q0[2] + q0[3] / 3
            elif j == 2:
                f, ft = q1[0] - q1[1] / 3, q1[2] - q1[3] / 3
            else:
                f, ft = q1[0], q1[2]
            if b == 0:
                f0, t0 = f, ft
            else:
                f1, t1 = f, ft
        low = min(low, f0, f0 + t0 / 3, f1 - t1 / 3, f1)
    return low


@njit(cache=True)
def _outline(cx, cy, quad):
    """The cell's corner polygon (c00, c10, c11, c01) in ``quad[4, 2]`` and a margin.

    Returns ``(orient, margin)``: ``orient`` is +1 or -1 for a convex polygon
    (0 if it is not convex or degenerate, when no node may be ruled out by
    it), ``margin`` bounds how far the patch's edges bulge past its chords:
    a cubic Hermite edge with chord D and end tangents d0, d1 lies within
    4/27 (|d0 - D| + |d1 - D|) of the chord.
    """
    # corners in order around the cell, with the tangent component along each edge
    order = (0, 1, 3, 2)
    along = (1, 2, 1, 2)  # sigma along the bottom and top edges, tau along the sides
    for j in range(4):
        quad[j, 0] = cx[order[j], 0]
        quad[j, 1] = cy[order[j], 0]
    margin = 0.0
    size = 0.0
    for j in range(4):
        a, b = order[j], order[(j + 1) % 4]
        comp = along[j]
        sign = 1.0 if j < 2 else -1.0  # the top and left edges run backwards
        dx = cx[b, 0] - cx[a, 0]
        dy = cy[b, 0] - cy[a, 0]
        size = max(size, abs(dx) + abs(dy))
        e0 = np.hypot(sign * cx[a, comp] - dx, sign * cy[a, comp] - dy)
        e1 = np.hypot(sign * cx[b, comp] - dx, sign * cy[b, comp] - dy)
        margin = max(margin, 4.0 / 27.0 * (e0 + e1))
    orient = 0.0
    for j in range(4):
        p, q, r = quad[j], quad[(j + 1) % 4], quad[(j + 2) % 4]
        cross = (q[0] - p[0]) * (r[1] - q[1]) - (q[1] - p[1]) * (r[0] - q[0])
        sgn = 1.0 if cross > 0 else (-1.0 if cross < 0 else 0.0)
        if sgn == 0.0 or (orient != 0.0 and sgn != orient):
            return 0.0, margin
        orient = sgn
    return orient, margin + 1e-9 * size


@njit(cache=True)
def _edge_planes(quad, orient, planes):
    """``planes[j] = (a_x, a_y, b)``: the unit normal of edge j pointing into the convex
    polygon and its offset, so that a . P - b is the signed distance inside."""
    for j in range(4):
        p, q = quad[j], quad[(j + 1) % 4]
        ex, ey = q[0] - p[0], q[1] - p[1]
        length = np.hypot(ex, ey)
        if length == 0.0:
            planes[j, 0] = planes[j, 1] = planes[j, 2] = 0.0  # no constraint
            continue
        ax, ay = -orient * ey / length, orient * ex / length
        planes[j, 0], planes[j, 1], planes[j, 2] = ax, ay, ax * p[0] + ay * p[1]


@njit(cache=True)
def _near_polygon(planes, margin, px, py):
    """False if (px, py) lies farther than ``margin`` outside the convex polygon."""
    for j in range(4):
        if planes[j, 0] * px + planes[j, 1] * py - planes[j, 2] < -margin:
            return False
    return True


#: what a node keeps (``mode`` of :func:`rasterise`)
FIRST_ARRIVAL, NEAREST, ALL_BRANCHES = 0, 1, 2


@njit(cache=True, parallel=True)
def rasterise(out, code, consts, prog, s, taus, nz, charpit, xs, ys, bands, mode, limit,
              best_score, best_u, best_g):  # fmt: skip
    """Fill, per node, the best branches found in the cells.

    ``out``: ray states (rays in order of s, levels in order of |tau|, either
    direction); ``code``/``consts``/``prog``: the ray system, for the
    states' tau-derivatives (computed only for cells near the grid);
    ``xs``/``ys``: the grid axes (evenly spaced).  ``mode``: ``FIRST_ARRIVAL`` keeps the
    smallest u, ``NEAREST`` the smallest |tau|, both among nodes reached before either
    of their cell's rays' ``limit`` (|tau| of its first crossing: past its focal
    point a ray is no shortest path; ``--crossing viscosity`` and ``stop``),
    ``ALL_BRANCHES`` every distinct branch (same u and gradient: one ray),
    in order of |tau|, up to ``best_u.shape[2]`` of them.  ``best_score``,
    ``best_u`` ``[ix, iy, branch]`` and ``best_g`` ``[..., 2]`` carry over
    between calls (one per direction of the rays).  The grid is split into
    ``bands`` of columns, one per thread at a time: every band looks at
    every cell but writes only its own nodes, so no two threads write the
    same memory and nothing needs merging.
    """
    R, L, _ = out.shape
    nx, ny = xs.shape[0], ys.shape[0]
    width = best_u.shape[2]
    # the spacing (any positive number for an axis of one node: it only turns
    # positions into index ranges)
    dx = (xs[-1] - xs[0]) / (nx - 1) if nx > 1 else 1.0
    dy = (ys[-1] - ys[0]) / (ny - 1) if ny > 1 else 1.0
    per = (nx + bands - 1) // bands
    for band in prange(bands):
        b_lo, b_hi = band * per, min(nx, (band + 1) * per) - 1  # the band's columns
        if b_lo > b_hi:
            continue
        cx = np.empty((4, 4))
        cy = np.empty((4, 4))
        cu = np.empty((4, 4))
        cpx = np.empty((4, 4))
        cpy = np.empty((4, 4))
        ax = np.empty((4, 4))  # the same patches in monomial form
        ay = np.empty((4, 4))
        au = np.empty((4, 4))
        apx = np.empty((4, 4))
        apy = np.empty((4, 4))
        jac = np.empty(4)
        row = np.empty(8)
        col = np.empty(8)
        dloc = np.empty((4, out.shape[2]))
        v = np.empty(nz)
        stack = np.empty(STACK_SIZE)
        coef = np.empty(prog.shape[0])
        quad = np.empty((4, 2))
        planes = np.empty((4, 3))
        g = np.empty(2)
        # level by level: with u growing along the rays (fronts), the first arrival at a
        # node is found early and later cells above it are skipped by their floor
        for k in range(L - 1):
            t_lo = min(abs(taus[k]), abs(taus[k + 1]))
            # the first cells' lower edge is the data, between two rays a cubic off the
            # true curve by up to ~1e-8 of a level: nodes on the data must not fall out
            th_lo = -DATA_EDGE if k == 0 else -EDGE
            last = -2  # the last cell whose corner derivatives are in dloc
            for i in range(R - 1):
                t_max = min(limit[i], limit[i + 1])  # before either ray's first crossing
                if mode != ALL_BRANCHES and t_lo >= t_max:
                    continue  # the whole cell lies past it
                hs = s[i + 1] - s[i]
                finite = True
                for a in range(2):
                    for b in range(2):
                        if not (
                            np.isfinite(out[i + a, k + b, 0]) and np.isfinite(out[i + a, k + b, 1])
                        ):
                            finite = False
                if not finite:
                    continue
                ht = taus[k + 1] - taus[k]
                x_lo = min(out[i, k, 0], out[i + 1, k, 0], out[i, k + 1, 0], out[i + 1, k + 1, 0])
                x_hi = max(out[i, k, 0], out[i + 1, k, 0], out[i, k + 1, 0], out[i + 1, k + 1, 0])
                y_lo = min(out[i, k, 1], out[i + 1, k, 1], out[i, k + 1, 1], out[i + 1, k + 1, 1])
                y_hi = max(out[i, k, 1], out[i + 1, k, 1], out[i, k + 1, 1], out[i + 1, k + 1, 1])
                spread_x, spread_y = 0.1 * (x_hi - x_lo), 0.1 * (y_hi - y_lo)
                if (x_hi + spread_x < xs[b_lo] - dx or x_lo - spread_x > xs[b_hi] + dx
                        or y_hi + spread_y < ys[0] - dy or y_lo - spread_y > ys[-1] + dy):  # fmt: skip
                    continue  # far from the band (and not bulging onto it)
                # d/dtau at the corners (cells near the grid only; the left ones are the last
                # cell's right ones when it was near too)
                a0 = 0
                if last == i - 1:
                    dloc[0, :] = dloc[1, :]
                    dloc[2, :] = dloc[3, :]
                    a0 = 1
                last = i
                for a in range(a0, 2):
                    for b in range(2):
                        rhs(code, consts, prog, nz, out[i + a, k + b], dloc[a + 2 * b], v, stack,
                            coef)  # fmt: skip
                _corners(out, dloc, nz, i, k, 0, hs, ht, cx)
                _corners(out, dloc, nz, i, k, 1, hs, ht, cy)
                orient, margin = _outline(cx, cy, quad)
                if orient != 0.0:  # convex: the patch lies within `margin` of its corner polygon
                    _edge_planes(quad, orient, planes)
                    pad_x = margin + 1e-12
                    pad_y = margin + 1e-12
                else:  # the patch may bulge past its corners
                    pad_x = spread_x + margin + 1e-12
                    pad_y = spread_y + margin + 1e-12
                i0 = max(b_lo, int(np.ceil((x_lo - pad_x - xs[0]) / dx)))
                i1 = min(b_hi, int(np.floor((x_hi + pad_x - xs[0]) / dx)))
                j0 = max(0, int(np.ceil((y_lo - pad_y - ys[0]) / dy)))
                j1 = min(ny - 1, int(np.floor((y_hi + pad_y - ys[0]) / dy)))
                if i0 > i1 or j0 > j1:
                    continue
                _corners(out, dloc, nz, i, k, 2, hs, ht, cu)
                _monomial(cx, ax)
                _monomial(cy, ay)
                _monomial(cu, au)
                floor = _patch_floor(cu) if mode == FIRST_ARRIVAL else t_lo
                have_p = False
                col_ok = False  # a node located in an earlier column: its first is `col`
                for ix in range(i0, i1 + 1):
                    row_ok = False  # a node located in this column: the last is `row`
                    for iy in range(j0, j1 + 1):
                        if mode != ALL_BRANCHES and floor >= best_score[ix, iy, 0]:
                            continue  # this cell cannot improve the node
                        if orient != 0.0 and not _near_polygon(planes, margin, xs[ix], ys[iy]):
                            continue
                        # Newton starts from a linear step of the map's inverse from the last
                        # node located in this column, or else the first of the last column
                        if row_ok:
                            sg, th = _predict(row, xs[ix], ys[iy])
                        elif col_ok:
                            sg, th = _predict(col, xs[ix], ys[iy])
                        else:
                            sg, th = 0.5, 0.5
                        found, sg1, th1 = _locate(ax, ay, xs[ix], ys[iy], sg, th, jac, th_lo)
                        if not found and (sg != 0.5 or th != 0.5):  # again from the centre
                            found, sg1, th1 = _locate(ax, ay, xs[ix], ys[iy], 0.5, 0.5, jac,
                                                      th_lo)  # fmt: skip
                        if found:
                            _anchor(row, xs[ix], ys[iy], sg1, th1, jac)
                            if not row_ok:
                                _anchor(col, xs[ix], ys[iy], sg1, th1, jac)
                                row_ok = col_ok = True
                        else:  # on one of the cell's rays, at a focus of it?
                            size = x_hi - x_lo + y_hi - y_lo
                            for a in range(2):
                                found, th1 = _locate_on_ray(ax, ay, xs[ix], ys[iy], a, size)
                                if found:
                                    sg1 = float(a)
                                    break
                            if not found:
                                continue
                        if charpit:  # the gradient is p: u's derivatives are not needed
                            uval, us_, ut_ = _mono_value(au, sg1, th1), 0.0, 0.0
                        else:
                            uval, us_, ut_ = _mono(au, sg1, th1)
                        reach = abs(taus[k] + th1 * ht)
                        if mode != ALL_BRANCHES and reach > t_max * (1.0 + 1e-9):
                            continue  # this node is reached only after the rays cross
                        score = uval if mode == FIRST_ARRIVAL else reach
                        if mode != ALL_BRANCHES and score >= best_score[ix, iy, 0]:
                            continue
                        if charpit:
                            if not have_p:  # p's corner data, once per cell
                                _corners(out, dloc, nz, i, k, 3, hs, ht, cpx)
                                _corners(out, dloc, nz, i, k, 4, hs, ht, cpy)
                                _monomial(cpx, apx)
                                _monomial(cpy, apy)
                                have_p = True
                            g[0] = _mono_value(apx, sg1, th1)
                            g[1] = _mono_value(apy, sg1, th1)
                        else:  # grad u from [x_s y_s; x_t y_t] g = [u_s, u_t]
                            _, fxs, fxt = _mono(ax, sg1, th1)
                            _, fys, fyt = _mono(ay, sg1, th1)
                            det = fxs * fyt - fxt * fys
                            g[0] = (us_ * fyt - ut_ * fys) / det
                            g[1] = (fxs * ut_ - fxt * us_) / det
                        _keep(best_score[ix, iy], best_u[ix, iy], best_g[ix, iy],
                              score, uval, g, width)  # fmt: skip


@njit(cache=True)
def _same_ray(u1, g1, u2, g2):
    """Two branches at one node are one ray if u and the gradient agree (the state
    fixes the characteristic)."""
    if abs(u1 - u2) > 1e-9 * (1.0 + abs(u2)):
        return False
    scale = 1.0 + max(abs(g2[0]), abs(g2[1]))
    return abs(g1[0] - g2[0]) <= 1e-7 * scale and abs(g1[1] - g2[1]) <= 1e-7 * scale


@njit(cache=True)
def _keep(score_row, u_row, g_row, score, u, g, width):
    """Insert a branch into a node's list, ordered by score (one slot: the best)."""
    if width == 1:
        if score < score_row[0]:
            score_row[0] = score
            u_row[0] = u
            g_row[0, 0] = g[0]
            g_row[0, 1] = g[1]
        return
    for b in range(width):
        if np.isfinite(score_row[b]) and _same_ray(u, g, u_row[b], g_row[b]):
            if score >= score_row[b]:
                return
            # the same ray found again nearer: take it out, insert below
            for c in range(b, width - 1):
                score_row[c] = score_row[c + 1]
                u_row[c] = u_row[c + 1]
                g_row[c, 0] = g_row[c + 1, 0]
                g_row[c, 1] = g_row[c + 1, 1]
            score_row[width - 1] = np.inf
            u_row[width - 1] = np.nan
            break
    pos = width
    for b in range(width):
        if score < score_row[b]:
            pos = b
            break
    if pos == width:
        return  # full, and worse than all kept
    for c in range(width - 1, pos, -1):
        score_row[c] = score_row[c - 1]
        u_row[c] = u_row[c - 1]
        g_row[c, 0] = g_row[c - 1, 0]
        g_row[c, 1] = g_row[c - 1, 1]
    score_row[pos] = score
    u_row[pos] = u
    g_row[pos, 0] = g[0]
    g_row[pos, 1] = g[1]
