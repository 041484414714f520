"""Trace characteristics of Burgers' equation from your own Numba code.

u_t + u u_x = 0 with u(x, 0) = sin x (examples/burgers.yaml).  The ray from
x = s carries u = sin s unchanged along the straight line x = s + t sin s,
and its spread along the data, x_s = 1 + t cos s, vanishes first at s = pi,
t = 1: the characteristics cross (the solution breaks) at t* = 1.

The arrays come from charme.kernels.compile_pde; the rays (with their
variational equations) start from charme.kernels.initial_states and are
advanced by charme.kernels.integrate inside the @njit functions below:
a fan of rays through a few times, checked against the closed form, and the
first zero of x_s along every ray, located by bisection, whose minimum is
the breaking time.

Run:  python examples/trace_characteristics.py [rays]
"""

import math
import sys
from pathlib import Path

import numpy as np
from numba import njit

import charme
from charme.kernels import RAY_OK, compile_pde, gradient, initial_guesses, initial_states, integrate

RTOL, ATOL = 1e-12, 1e-14


@njit
def fan(code, consts, prog, n, nz, y0, times, out, grad):
    """Rays y0[r] through ``times``: ``out[r, k]`` = (t, x, u), ``grad[r, k]`` = (u_t, u_x).

    Returns the number of rays that failed.
    """
    v = np.empty(nz)
    stack = np.empty(64)
    failed = 0
    for r in range(y0.shape[0]):
        y = y0[r].copy()
        t = 0.0
        h = 0.0
        for k in range(times.shape[0]):
            status, h, t = integrate(code, consts, prog, nz, y, t, times[k], RTOL, ATOL, h)
            found = status == RAY_OK and gradient(
                code, consts, prog, n, False, y, v, stack, grad[r, k]
            )
            if not found:
                failed += 1
                break
            for i in range(nz):
                out[r, k, i] = y[i]
    return failed


@njit
def first_crossing(code, consts, prog, nz, y0, t_max, steps, x_s, out):
    """For each ray, the first t <= t_max where the spread x_s = y[x_s] vanishes (inf if none).

    Marches in ``steps`` equal steps, then bisects the bracketing step, each
    trial integrated afresh from the bracket's left end.
    """
    dt = t_max / steps
    trial = np.empty(y0.shape[1])
    for r in range(y0.shape[0]):
        y = y0[r].copy()
        out[r] = math.inf
        t = 0.0
        for _ in range(steps):
            left = y.copy()
            status, _, _ = integrate(code, consts, prog, nz, y, t, t + dt, RTOL, ATOL, 0.0)
            if status != RAY_OK:
                break
            if left[x_s] > 0.0 and y[x_s] <= 0.0:
                a, b = t, t + dt
                for _ in range(60):
                    mid = 0.5 * (a + b)
                    trial[:] = left
                    integrate(code, consts, prog, nz, trial, t, mid, RTOL, ATOL, 0.0)
                    if trial[x_s] > 0.0:
                        a = mid
                    else:
                        b = mid
                out[r] = 0.5 * (a + b)
                break
            t += dt
    return out


def main(rays=401):
    pde = charme.load(Path(__file__).with_name("burgers.yaml"))
    c = compile_pde(pde)  # z = (t, x, u); y = (z, dz/ds)
    assert c.z_names == ("t", "x", "u") and c.evolution == 0 and c.speed == 1.0
    # our own fan of rays: s in [0, 2 pi], pi among them
    rays += 1 - rays % 2
    S = np.linspace(0.0, 2.0 * math.pi, rays).reshape(-1, 1)
    y0 = np.empty((rays, c.d))
    ok = np.zeros(rays, np.bool_)
    initial_states(c.icode, c.iconsts, c.iprog, c.fcode, c.fconsts, c.fprog, c.n, c.charpit,
                   S, initial_guesses(pde, S), y0, ok)  # fmt: skip
    assert ok.all()

    # 1. the fan through t = 0.25, 0.5, 0.9 against x = s + t sin s, u = sin s,
    #    u_x = cos s / (1 + t cos s)
    times = np.array([0.25, 0.5, 0.9])
    out = np.full((rays, len(times), c.nz), np.nan)
    grad = np.full((rays, len(times), c.n), np.nan)
    failed = fan(c.code, c.consts, c.prog, c.n, c.nz, y0, times, out, grad)
    s, t = S[:, :1], times[None, :]
    err_x = np.abs(out[..., 1] - (s + t * np.sin(s))).max()
    err_u = np.abs(out[..., 2] - np.sin(s)).max()
    err_ux = np.abs(grad[..., 1] - np.cos(s) / (1 + t * np.cos(s))).max()
    print(f"{rays} rays to t = {times.max():g}: max error x {err_x:.1e}, u {err_u:.1e}, "
          f"u_x {err_ux:.1e}; {failed} failed")  # fmt: skip

    # 2. breaking: the first zero of x_s (y index nz + 1) over the rays
    t_cross = np.empty(rays)
    first_crossing(c.code, c.consts, c.prog, c.nz, y0, 2.0, 40, c.nz + 1, t_cross)
    r = int(np.argmin(t_cross))
    closed = np.where(np.cos(S[:, 0]) < -1e-9, -1.0 / np.cos(S[:, 0]), np.inf)
    finite = np.isfinite(closed) & (closed <= 2.0)
    err_cross = np.abs(t_cross[finite] - closed[finite]).max()
    print(f"breaking time {t_cross[r]:.12f} on the ray from s = {S[r, 0]:.6f} "
          f"(exact 1 at s = pi); max error of the per-ray crossing times {err_cross:.1e}")  # fmt: skip

    assert failed == 0
    assert err_x < 1e-9 and err_u < 1e-12 and err_ux < 1e-8, (err_x, err_u, err_ux)
    assert np.array_equal(np.isfinite(t_cross), finite) and err_cross < 1e-9, err_cross
    assert abs(t_cross[r] - 1.0) < 1e-10 and abs(S[r, 0] - math.pi) < 1e-12
    return float(t_cross[r]), 1.0, 1e-10, failed


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 401)
