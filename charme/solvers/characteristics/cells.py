"""Rasterising evaluator for 2-D problems: every grid node from the ray cells around it.

The traced rays of a problem with one manifold parameter s cover the plane
with cells [s_i, s_i+1] x [tau_k, tau_k+1].  On each cell x(s, tau) and u(s,
tau) are bicubic Hermite patches built from the corner values, their s- and
tau-derivatives and the mixed derivative, all carried by the rays: x_s and
u_s by the variational equations, x_tau and u_tau by the ray system itself,
x_s,tau by the variational right-hand side.  The patch is fourth order in
the ray spacing.  Each grid node inside a cell's (padded) bounding box is
located by Newton on the patch; the smallest u over the cells that contain
it wins (the first arrival, ``crossing="viscosity"``).  Nodes no cell
contains stay NaN.  No ray is integrated again: one pass over the cells and
a few Newton steps per node.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from charme.solvers.characteristics.kernels import STACK_SIZE, rhs

#: Newton has converged when its step is below this, in units of the cell
CELL_TOL = 1e-11
#: a node counts as inside a cell up to this margin (cells share edges)
EDGE = 1e-9


@njit(cache=True, parallel=True)
def derivatives(code, consts, prog, nz, out):
    """d/dtau of every recorded ray state (NaN rows stay NaN)."""
    R, L, _ = out.shape
    dout = np.empty_like(out)
    for r in prange(R):
        v = np.empty(nz)
        stack = np.empty(STACK_SIZE)
        coef = np.empty(prog.shape[0])
        for k in range(L):
            rhs(code, consts, prog, nz, out[r, k], dout[r, k], v, stack, coef)
    return dout


@njit(cache=True)
def _basis(t):
    t2 = t * t
    t3 = t2 * t
    return (2 * t3 - 3 * t2 + 1, t3 - 2 * t2 + t, -2 * t3 + 3 * t2, t3 - t2)


@njit(cache=True)
def _dbasis(t):
    t2 = t * t
    return (6 * t2 - 6 * t, 3 * t2 - 4 * t + 1, -6 * t2 + 6 * t, 3 * t2 - 2 * t)


@njit(cache=True)
def _patch(c, s, t):
    """Value and (d/ds, d/dt) of a bicubic Hermite patch with corner data ``c[4, 4]``.

    ``c[a + 2 b] = (f, f_s hs, f_t ht, f_st hs ht)`` at corner (s-end a, t-end b).
    """
    bs = _basis(s)
    bt = _basis(t)
    ds = _dbasis(s)
    dt = _dbasis(t)
    f = 0.0
    fs = 0.0
    ft = 0.0
    for a in range(2):
        for b in range(2):
            q = c[a + 2 * b]
            sa0, sa1 = bs[2 * a], bs[2 * a + 1]
            ta0, ta1 = bt[2 * b], bt[2 * b + 1]
            dsa0, dsa1 = ds[2 * a], ds[2 * a + 1]
            dta0, dta1 = dt[2 * b], dt[2 * b + 1]
            f += sa0 * ta0 * q[0] + sa1 * ta0 * q[1] + sa0 * ta1 * q[2] + sa1 * ta1 * q[3]
            fs += dsa0 * ta0 * q[0] + dsa1 * ta0 * q[1] + dsa0 * ta1 * q[2] + dsa1 * ta1 * q[3]
            ft += sa0 * dta0 * q[0] + sa1 * dta0 * q[1] + sa0 * dta1 * q[2] + sa1 * dta1 * q[3]
    return f, fs, ft


@njit(cache=True)
def _corners(out, dout, nz, i, k, comp, hs, ht, c):
    """Corner data of component ``comp`` of z on cell (ray i, level k)."""
    for a in range(2):
        for b in range(2):
            y = out[i + a, k + b]
            dy = dout[i + a, k + b]
            q = c[a + 2 * b]
            q[0] = y[comp]
            q[1] = y[nz + comp] * hs
            q[2] = dy[comp] * ht
            q[3] = dy[nz + comp] * hs * ht


@njit(cache=True)
def _locate(cx, cy, px, py):
    """(found, sigma, theta) of the node (px, py) in the cell's patch."""
    sg, th = 0.5, 0.5
    for _ in range(30):
        fx, fxs, fxt = _patch(cx, sg, th)
        fy, fys, fyt = _patch(cy, sg, th)
        rx, ry = fx - px, fy - py
        det = fxs * fyt - fxt * fys
        if det == 0.0 or not np.isfinite(det):
            return False, sg, th
        d_s = (rx * fyt - ry * fxt) / det
        d_t = (fxs * ry - fys * rx) / det
        sg -= d_s
        th -= d_t
        if sg < -2.0 or sg > 3.0 or th < -2.0 or th > 3.0:
            return False, sg, th
        if abs(d_s) + abs(d_t) < CELL_TOL:
            inside = -EDGE <= sg <= 1 + EDGE and -EDGE <= th <= 1 + EDGE
            return inside, sg, th
    return False, sg, th


@njit(cache=True, parallel=True)
def rasterise(out, dout, s, taus, nz, charpit, xs, ys, chunks, best_u, best_g):
    """Fill ``best_u[chunk, ix, iy]`` (smallest u per node) and ``best_g`` (grad u).

    ``out``/``dout``: ray states and their tau-derivatives (rays in order of
    s, levels in order of tau); ``xs``/``ys``: the grid axes (evenly spaced).
    Rays are split into ``chunks`` groups, each with its own output slice, so
    threads never write the same memory; the caller takes the minimum.
    """
    R, L, _ = out.shape
    nx, ny = xs.shape[0], ys.shape[0]
    dx = (xs[-1] - xs[0]) / max(nx - 1, 1)
    dy = (ys[-1] - ys[0]) / max(ny - 1, 1)
    per = (R - 1 + chunks - 1) // chunks
    for ch in prange(chunks):
        cx = np.empty((4, 4))
        cy = np.empty((4, 4))
        cu = np.empty((4, 4))
        cp = np.empty((4, 4))
        for i in range(ch * per, min((ch + 1) * per, R - 1)):
            hs = s[i + 1] - s[i]
            for k in range(L - 1):
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
                _corners(out, dout, nz, i, k, 0, hs, ht, cx)
                _corners(out, dout, nz, i, k, 1, hs, ht, cy)
                x_lo = min(cx[0, 0], cx[1, 0], cx[2, 0], cx[3, 0])
                x_hi = max(cx[0, 0], cx[1, 0], cx[2, 0], cx[3, 0])
                y_lo = min(cy[0, 0], cy[1, 0], cy[2, 0], cy[3, 0])
                y_hi = max(cy[0, 0], cy[1, 0], cy[2, 0], cy[3, 0])
                pad_x = 0.1 * (x_hi - x_lo) + 1e-12  # the patch may bulge past its corners
                pad_y = 0.1 * (y_hi - y_lo) + 1e-12
                i0 = max(0, int(np.ceil((x_lo - pad_x - xs[0]) / dx)))
                i1 = min(nx - 1, int(np.floor((x_hi + pad_x - xs[0]) / dx)))
                j0 = max(0, int(np.ceil((y_lo - pad_y - ys[0]) / dy)))
                j1 = min(ny - 1, int(np.floor((y_hi + pad_y - ys[0]) / dy)))
                if i0 > i1 or j0 > j1:
                    continue
                _corners(out, dout, nz, i, k, 2, hs, ht, cu)
                for ix in range(i0, i1 + 1):
                    for iy in range(j0, j1 + 1):
                        found, sg, th = _locate(cx, cy, xs[ix], ys[iy])
                        if not found:
                            continue
                        uval, us_, ut_ = _patch(cu, sg, th)
                        if uval >= best_u[ch, ix, iy]:
                            continue
                        best_u[ch, ix, iy] = uval
                        if charpit:
                            for comp in range(2):
                                _corners(out, dout, nz, i, k, 3 + comp, hs, ht, cp)
                                best_g[ch, ix, iy, comp] = _patch(cp, sg, th)[0]
                        else:  # grad u from [x_s y_s; x_t y_t] g = [u_s, u_t]
                            _, fxs, fxt = _patch(cx, sg, th)
                            _, fys, fyt = _patch(cy, sg, th)
                            det = fxs * fyt - fxt * fys
                            best_g[ch, ix, iy, 0] = (us_ * fyt - ut_ * fys) / det
                            best_g[ch, ix, iy, 1] = (fxs * ut_ - fxt * us_) / det
