"""charme.kernels as an embedding API: the builders give the solvers' own arrays."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import charme
import charme.kernels as K
from charme.errors import SpecError

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_every_public_name_exists():
    for name in K.__all__:
        assert hasattr(K, name), name
    assert K.STATUS_OK == K.FSP_OK == K.RAY_OK == 0


def _rays_from_the_data(pde):
    """compile_pde's arrays, the manifold samples and the initial ray states on them."""
    c = K.compile_pde(pde)
    S = K.manifold_samples(pde)
    y0 = np.empty((len(S), c.d))
    ok = np.zeros(len(S), np.bool_)
    K.initial_states(c.icode, c.iconsts, c.iprog, c.fcode, c.fconsts, c.fprog, c.n, c.charpit,
                     S, K.initial_guesses(pde, S), y0, ok)  # fmt: skip
    assert ok.all()
    return c, S, y0


@pytest.mark.parametrize("spec", ["burgers", "hamilton_jacobi"])
def test_compile_pde_traces_the_solvers_rays(spec):
    """Rays traced from compile_pde's arrays are the rays solve_pde saves."""
    pde = charme.load(f"examples/{spec}.yaml")
    res = charme.solve_pde(pde, save_rays=True)
    c, S, y0 = _rays_from_the_data(pde)
    assert c.kind == res.attrs["equation_class"]
    assert c.z_names[: c.n] == pde.variables and c.nz in (c.n + 1, 2 * c.n + 1)
    taus = res["ray_tau"]
    keep = slice(None, None, max(1, len(S) // 50))  # a subset of the rays is enough
    out = np.empty((len(S[keep]), len(taus), c.d))
    status = np.empty(len(S[keep]), np.int64)
    reached = np.empty(len(S[keep]))
    K.trace(c.code, c.consts, c.prog, c.nz, y0[keep].copy(), taus, res.attrs["rtol"],
            res.attrs["atol"], out, status, reached)  # fmt: skip
    np.testing.assert_allclose(out[:, :, : c.n], res["ray"][keep], rtol=0, atol=1e-12)
    np.testing.assert_allclose(out[:, :, c.n], res["ray_u"][keep], rtol=0, atol=1e-12)


def test_compile_pde_refuses_programs_deeper_than_the_kernel_stacks():
    data = "s"
    for i in range(40):
        data = f"(1+s*{data})" if i % 2 else f"sin(1+s*{data})"
    pde = charme.loads(
        "kind: pde\nvariables: [t, x]\nequation: u_t + u_x = 0\n"
        f'initial: {{parameters: {{s: [0, 1, 11]}}, t: 0, x: s, u: "{data}"}}\n'
        "grid: {t: [0, 0.5, 3], x: [0, 1, 5]}\n"
    )
    with pytest.raises(SpecError, match="evaluation stack"):
        K.compile_pde(pde)


def test_fsp_kernels_build_the_solvers_generator():
    """enumerate_states -> transitions -> assemble_csr gives project()'s generator."""
    from charme.solvers.master_equation.statespace import project

    net = charme.load("examples/isomerisation.json")  # A <-> B, 100 molecules
    lo, hi = np.array([0, 0]), np.array([100, 100])
    proj = project(net, lo, hi, 10_000)
    compiled, x0 = K.compile_network(net)
    cap = 200
    states = np.empty((cap, 2), np.int64)
    leak = np.empty(net.n_reactions, np.int64)
    level = np.empty(cap, np.int64)
    status, n = K.enumerate_states(compiled, x0, lo, hi, cap, states, leak, level)
    assert status == K.FSP_OK and n == 101  # A + B = 100
    np.testing.assert_array_equal(states[:n], proj.states)
    target = np.empty((n, net.n_reactions), np.int64)
    rate = np.empty((n, net.n_reactions))
    assert K.transitions(compiled, states[:n], lo, hi, target, rate) == K.FSP_OK
    size = n + int((target >= 0).sum())
    indptr, indices, data = np.empty(n + 1, np.int64), np.empty(size, np.int32), np.empty(size)
    outflow = np.empty(n)
    nnz = K.assemble_csr(target, rate, False, indptr, indices, data, outflow)
    gen = proj.generator
    np.testing.assert_array_equal(indptr, gen.indptr)
    np.testing.assert_array_equal(indices[:nnz], gen.indices)
    np.testing.assert_array_equal(data[:nnz], gen.data)
    # one uniformization term and a product agree with SciPy
    x = np.random.default_rng(1).random(n)
    lam = float(-data[indptr[:-1]].min())
    out, acc = np.empty(n), np.zeros(n)
    K.uniformized_accumulate_serial(indptr, indices, data, 1 / lam, x, out, acc, 0.5, n)
    A = gen.to_scipy()
    np.testing.assert_allclose(out, x + A @ x / lam, rtol=1e-14)
    np.testing.assert_allclose(acc, 0.5 * out, rtol=1e-14)
    y = np.empty(n)
    K.csr_matvec(indptr, indices, data, x, y)
    np.testing.assert_allclose(y, A @ x, rtol=1e-13, atol=1e-13)
    # marginals: raw moments and the law of each species
    p = np.full(n, 1 / n)
    mean, second, marg = np.empty(2), np.empty(2), np.empty((2, 101))
    K.marginals(states[:n], p, lo, 101, mean, second, marg)
    np.testing.assert_allclose(mean, [50, 50])
    np.testing.assert_allclose(second, [np.mean(np.arange(101.0) ** 2)] * 2)
    np.testing.assert_allclose(marg, 1 / n)


def _rotating_rays():
    pde = charme.loads(
        "kind: pde\nvariables: [t, x, y]\nequation: u_t - y*u_x + x*u_y = u*x\n"
        "initial: {parameters: {a: [-1, 1, 5], b: [-1, 1, 5]}, t: 0, x: a, y: b, u: exp(a)}\n"
        "grid: {t: [0, 1, 3], x: [0, 1, 3], y: [0, 1, 3]}\n"
    )
    c, _, y0 = _rays_from_the_data(pde)
    return c, y0


@pytest.mark.parametrize("rtol", [1e-7, 1e-10, 1e-13])
def test_trace_sampled_dense_output_is_as_accurate_as_the_tolerance(rtol):
    """Curved rays (circles, u growing along them): the dense-output samples agree with
    rays landed on every time to about rtol, and the landed times to rounding of it."""
    c, y0 = _rotating_rays()
    taus = np.linspace(0, 6, 64)
    exact_all = np.empty((len(y0), len(taus), c.d))
    sampled = np.empty_like(exact_all)
    status, reached = np.empty(len(y0), np.int64), np.empty(len(y0))
    K.trace(c.code, c.consts, c.prog, c.nz, y0, taus, rtol, 1e-15, exact_all, status, reached)
    exact = np.zeros(len(taus), np.bool_)
    exact[[0, 20, 41]] = True
    h_last = np.zeros(len(y0))
    K.trace_sampled(c.code, c.consts, c.prog, c.nz, y0, taus, exact, rtol, 1e-15, sampled,
                    status, reached, h_last)  # fmt: skip
    assert (h_last > 0).all()
    assert (status == K.RAY_OK).all()
    scale = np.abs(exact_all).max()
    dense_err = np.abs(sampled - exact_all).max() / scale
    assert 0 < dense_err < 30 * rtol  # not the same numbers, but as accurate
    landed = exact.copy()
    landed[-1] = True
    assert np.abs(sampled[:, landed] - exact_all[:, landed]).max() / scale < 30 * rtol


def test_jacobian_dets_are_the_ray_jacobians_determinants():
    c, y0 = _rotating_rays()
    taus = np.linspace(0, 2, 5)
    out = np.empty((len(y0), len(taus), c.d))
    status, reached = np.empty(len(y0), np.int64), np.empty(len(y0))
    K.trace(c.code, c.consts, c.prog, c.nz, y0, taus, 1e-12, 1e-15, out, status, reached)
    Y = out.reshape(-1, c.d).copy()
    Y[3, 0] = np.nan
    dets = np.empty(len(Y))
    K.jacobian_dets(c.code, c.consts, c.prog, c.nz, c.n, Y, dets)
    # [x_a, x_b, dx/dtau] with dx/dtau = (1, -y, x) for the rotation
    J = np.stack([Y[:, c.nz : c.nz + 3], Y[:, 2 * c.nz : 2 * c.nz + 3],
                  np.stack([np.ones(len(Y)), -Y[:, 2], Y[:, 1]], axis=1)], axis=1)  # fmt: skip
    expected = np.linalg.det(J)
    assert np.isnan(dets[3])
    keep = np.arange(len(Y)) != 3
    np.testing.assert_allclose(dets[keep], expected[keep], rtol=1e-12, atol=1e-14)


def test_compile_pde_arrays_are_the_callers_own():
    """compile_pde caches its translation, but a caller changing its consts in place
    (a parameter sweep in embedding code) does not change the next compile's."""
    pde = charme.load("examples/burgers.yaml")
    a = K.compile_pde(pde)
    keep = a.iconsts.copy()
    a.consts[:] = 123.0
    a.iconsts[:] = 123.0
    b = K.compile_pde(pde)
    assert not (b.consts == 123.0).any() or not b.consts.size
    np.testing.assert_array_equal(b.iconsts, keep)


USER_CODE = """
import numba
import numpy as np

import charme
from charme.kernels import RAY_OK, compile_pde, initial_guesses, initial_states, trace

@numba.njit(cache=True)
def rays(code, consts, prog, nz, y0, taus, out, status, reached):
    trace(code, consts, prog, nz, y0, taus, 1e-12, 1e-14, out, status, reached)
    return out[:, -1, 1].sum()

pde = charme.loads('''kind: pde
variables: [t, x]
equation: u_t + u*u_x = 0
initial: {parameters: {s: [0, 1, 5]}, t: 0, x: s, u: s}
grid: {t: [0, 1, 2], x: [0, 1, 3]}
''')
c = compile_pde(pde)
S = np.linspace(0.0, 1.0, 5).reshape(-1, 1)
y0 = np.empty((5, c.d))
ok = np.zeros(5, np.bool_)
initial_states(c.icode, c.iconsts, c.iprog, c.fcode, c.fconsts, c.fprog, c.n, c.charpit, S,
               initial_guesses(pde, S), y0, ok)
taus = np.array([0.0, 0.5, 1.0])
out, status, reached = np.empty((5, 3, c.d)), np.empty(5, np.int64), np.empty(5)
print("sum", rays(c.code, c.consts, c.prog, c.nz, y0, taus, out, status, reached))
"""


def test_own_njit_code_calling_a_parallel_kernel_runs_from_the_cache(tmp_path):
    """Numba loads a cached caller of a parallel kernel without starting its thread pool:
    the second run (from the cache) crashed with a segmentation fault."""
    import subprocess
    import sys

    script = tmp_path / "user_rays.py"
    script.write_text(USER_CODE)
    for run in ("compiles", "loads from the cache"):
        res = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                             cwd=tmp_path, timeout=600)  # fmt: skip
        assert res.returncode == 0, (run, res.returncode, res.stderr[-2000:])
        # x = s + t s at t = 1 over s = 0, 0.25, .., 1: twice the sum of the s
        assert res.stdout.split() == ["sum", repr(5.0)], (run, res.stdout)
    assert list(tmp_path.glob("__pycache__/user_rays.rays-*.nbi")), "nothing was cached"


@pytest.mark.parametrize("case, call", [
    ("out too short", lambda c, a: K.trace(c.code, c.consts, c.prog, c.nz, a["y0"], a["taus"],
                                           1e-10, 1e-12, a["out"][:, :2], a["status"],
                                           a["reached"])),
    ("status too short", lambda c, a: K.trace(c.code, c.consts, c.prog, c.nz, a["y0"],
                                              a["taus"], 1e-10, 1e-12, a["out"],
                                              a["status"][:2], a["reached"])),
    ("y0 narrow", lambda c, a: K.trace(c.code, c.consts, c.prog, c.nz, a["y0"][:, :-2],
                                       a["taus"], 1e-10, 1e-12, a["out"][:, :, :-2],
                                       a["status"], a["reached"])),
    ("taus not monotonic", lambda c, a: K.trace(c.code, c.consts, c.prog, c.nz, a["y0"],
                                                np.array([0.0, 1.0, 0.5]), 1e-10, 1e-12,
                                                a["out"], a["status"], a["reached"])),
    ("negative rtol", lambda c, a: K.trace(c.code, c.consts, c.prog, c.nz, a["y0"], a["taus"],
                                           -1e-8, 1e-12, a["out"], a["status"],
                                           a["reached"])),
    ("wrong nz", lambda c, a: K.integrate(c.code, c.consts, c.prog, 7, a["y0"][0].copy(), 0.0,
                                          1.0, 1e-10, 1e-12, 0.0)),
    ("short state", lambda c, a: K.integrate(c.code, c.consts, c.prog, c.nz,
                                             a["y0"][0, :4].copy(), 0.0, 1.0, 1e-10, 1e-12,
                                             0.0)),
    ("gradient out short", lambda c, a: K.gradient(c.code, c.consts, c.prog, c.n, c.charpit,
                                                   a["y0"][0], np.empty(c.nz), np.empty(64),
                                                   np.empty(1))),
    ("small stack", lambda c, a: K.gradient(c.code, c.consts, c.prog, c.n, c.charpit,
                                            a["y0"][0], np.empty(c.nz), np.empty(0),
                                            np.empty(c.n))),
    ("ok too short", lambda c, a: K.initial_states(c.icode, c.iconsts, c.iprog, c.fcode,
                                                   c.fconsts, c.fprog, c.n, c.charpit, a["S"],
                                                   np.zeros((5, c.n)), a["y0"].copy(),
                                                   np.zeros(2, np.bool_))),
    ("y0 narrow at the start", lambda c, a: K.initial_states(
        c.icode, c.iconsts, c.iprog, c.fcode, c.fconsts, c.fprog, c.n, c.charpit, a["S"],
        np.zeros((5, c.n)), np.empty((5, c.d - 2)), np.zeros(5, np.bool_))),
    ("ray_rhs dy short", lambda c, a: K.ray_rhs(c.code, c.consts, c.prog, c.nz, a["y0"][0],
                                                np.empty(2), np.empty(c.nz), np.empty(64),
                                                np.empty(len(c.prog)))),
])  # fmt: skip
def test_kernels_refuse_arrays_that_do_not_fit(case, call):
    """Arrays of the wrong size are a ValueError, not memory written past their end (a
    crash, or garbage returned as a success)."""
    pde = charme.load(EXAMPLES / "burgers.yaml")
    c = K.compile_pde(pde)
    S = np.linspace(0.0, 1.0, 5).reshape(-1, 1)
    y0 = np.empty((5, c.d))
    ok = np.zeros(5, np.bool_)
    K.initial_states(c.icode, c.iconsts, c.iprog, c.fcode, c.fconsts, c.fprog, c.n, c.charpit,
                     S, K.initial_guesses(pde, S), y0, ok)  # fmt: skip
    arrays = {"S": S, "y0": y0, "taus": np.array([0.0, 0.5, 1.0]),
              "out": np.empty((5, 3, c.d)), "status": np.empty(5, np.int64),
              "reached": np.empty(5)}  # fmt: skip
    with pytest.raises(ValueError):
        call(c, arrays)
