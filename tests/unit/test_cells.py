"""evaluation="raster": first arrival on 2-D grids from bicubic ray cells."""

import numpy as np
import pytest

from charme.errors import SpecError
from charme.solvers.characteristics.driver import solve_pde
from charme.spec.loader import parse_spec_text
from charme.spec.pde import build_pde


def eikonal(sign, n, grid=1.0, rays=721):
    return build_pde(parse_spec_text(
        "kind: pde\nunknown: u\nvariables: [x, y]\nequation: u_x^2 + u_y^2 = 1\n"
        f"initial: {{parameters: {{s: [0, 6.283185307179586, {rays}]}}, x: 0.5*cos(s), "
        f"y: 0.5*sin(s), u: 0, guess: {{u_x: {sign}cos(s), u_y: {sign}sin(s)}}}}\n"
        f"grid: {{x: [-{grid}, {grid}, {n}], y: [-{grid}, {grid}, {n}]}}\n", "e.yaml", ".yaml"))  # fmt: skip


def test_outward_distance_and_gradient():
    r = solve_pde(eikonal("", 121), crossing="viscosity", evaluation="raster")
    X, Y = np.meshgrid(r["x"], r["y"], indexing="ij")
    R = np.hypot(X, Y)
    out = R > 0.5 + 1e-9
    assert not np.isnan(r["u"][out]).any()
    assert np.isnan(r["u"][R < 0.5 - 1e-9]).all()  # outward rays never go inside
    assert np.abs(r["u"][out] - (R[out] - 0.5)).max() < 1e-10
    assert np.abs(r["u_x"][out] - X[out] / R[out]).max() < 1e-9


def test_inward_first_arrival_through_the_focus():
    r = solve_pde(eikonal("-", 101, grid=0.5), crossing="viscosity", evaluation="raster")
    X, Y = np.meshgrid(r["x"], r["y"], indexing="ij")
    R = np.hypot(X, Y)
    inside = R < 0.5 - 1e-9
    assert not np.isnan(r["u"][inside]).any()
    assert np.abs(r["u"][inside] - (0.5 - R[inside])).max() < 1e-10


def test_fourth_order_in_the_ray_spacing():
    errors = []
    for rays in (91, 181):
        r = solve_pde(eikonal("", 41, rays=rays), crossing="viscosity", evaluation="raster")
        X, Y = np.meshgrid(r["x"], r["y"], indexing="ij")
        R = np.hypot(X, Y)
        errors.append(np.nanmax(np.abs(r["u"] - (R - 0.5))[R > 0.5 + 1e-9]))
    order = np.log2(errors[0] / errors[1])
    assert order > 3.0, (errors, order)


def test_agrees_with_newton_and_refuses_other_problems():
    a = solve_pde(eikonal("", 21), crossing="viscosity", evaluation="raster")
    b = solve_pde(eikonal("", 21), crossing="viscosity")
    both = np.isfinite(a["u"]) & np.isfinite(b["u"])
    assert both.sum() > 300 and np.abs(a["u"] - b["u"])[both].max() < 1e-10


def unit_circle_inward(n):
    return build_pde(parse_spec_text(
        "kind: pde\nvariables: [x, y]\nequation: u_x^2 + u_y^2 = 1\n"
        "initial: {parameters: {s: [0, 6.283185307179586, 361]}, x: cos(s), y: sin(s), u: 0, "
        "guess: {u_x: -cos(s), u_y: -sin(s)}}\n"
        f"grid: {{x: [-1.45, 1.45, {n}], y: [-1.35, 1.35, {n - 2}]}}\n", "c.yaml", ".yaml"))  # fmt: skip


def test_multivalued_keeps_both_rays_past_the_focus():
    """Fronts moving in from the unit circle: 1 - r (direct inside, traced backwards
    outside) and 1 + r (through the focus), as Newton finds them."""
    r = solve_pde(unit_circle_inward(30), crossing="multivalued", evaluation="raster")
    X, Y = np.meshgrid(r["x"], r["y"], indexing="ij")
    R = np.hypot(X, Y)
    br = np.asarray(r["u_branches"])
    assert br.shape == (30, 28, 2)
    np.testing.assert_allclose(br[..., 0], 1 - R, rtol=0, atol=1e-9)
    np.testing.assert_allclose(br[..., 1], 1 + R, rtol=0, atol=1e-9)
    np.testing.assert_allclose(r["u_x"], -X / R, rtol=0, atol=1e-8)
    newton = solve_pde(unit_circle_inward(30), crossing="multivalued")
    np.testing.assert_allclose(br, newton["u_branches"], rtol=0, atol=1e-9)


def test_stop_takes_the_branch_before_the_crossing():
    """With --crossing stop the rays through the focus are cut there: 1 - r everywhere
    (backwards outside), and the same nodes as Newton's."""
    a = solve_pde(unit_circle_inward(30), crossing="stop", evaluation="raster")
    b = solve_pde(unit_circle_inward(30), crossing="stop")
    X, Y = np.meshgrid(a["x"], a["y"], indexing="ij")
    R = np.hypot(X, Y)
    assert (np.isfinite(a["u"]) == np.isfinite(b["u"])).all() and np.isfinite(a["u"]).sum() > 800
    np.testing.assert_allclose(a["u"], 1 - R, rtol=0, atol=1e-9)
    assert "u_branches" not in a.data_vars


def test_refuses_problems_it_does_not_cover():
    with pytest.raises(SpecError, match="raster"):  # an evolution problem
        solve_pde(build_pde(parse_spec_text(
            "kind: pde\nvariables: [t, x]\nequation: u_t + u*u_x = 0\n"
            'initial: "u(x, t=0) = sin(x)"\ngrid: {t: [0, 0.5, 3], x: [0, 3, 5]}\n',
            "b.yaml", ".yaml")), evaluation="raster")  # fmt: skip
    with pytest.raises(SpecError, match="raster"):  # 3-D
        solve_pde(build_pde(parse_spec_text(
            "kind: pde\nvariables: [x, y, z]\nequation: u_x + u_y + u_z = 0\n"
            "initial: {parameters: {a: [0, 1, 5], b: [0, 1, 5]}, x: a, y: b, z: 0, u: a}\n"
            "grid: {x: [0, 1, 3], y: [0, 1, 3], z: [0, 1, 3]}\n", "t.yaml", ".yaml")),
            evaluation="raster")  # fmt: skip


@pytest.mark.parametrize("crossing", ["viscosity", "stop", "multivalued"])
def test_the_same_with_one_thread_or_several(crossing):
    """Threads take bands of grid columns; every node sees the same cells in the same
    order, so the answer does not depend on how many there are."""
    import numba

    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = solve_pde(unit_circle_inward(37), crossing=crossing, evaluation="raster")
        numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
        many = solve_pde(unit_circle_inward(37), crossing=crossing, evaluation="raster")
    finally:
        numba.set_num_threads(before)
    for name in ("u", "u_x", "u_y"):
        np.testing.assert_allclose(one[name], many[name], rtol=0, atol=1e-12)
    if crossing == "multivalued":
        np.testing.assert_allclose(one["u_branches"], many["u_branches"], rtol=0, atol=1e-12)


def test_residual_of_f_at_the_nodes():
    """F_residual_max is max |F| over the reached nodes, as NumPy computes it."""
    r = solve_pde(unit_circle_inward(37), crossing="stop", evaluation="raster")
    f = np.asarray(r["u_x"]) ** 2 + np.asarray(r["u_y"]) ** 2 - 1
    assert r.attrs["F_residual_max"] == pytest.approx(np.nanmax(np.abs(f)), rel=1e-12, abs=0)
    assert 0 < r.attrs["F_residual_max"] < 1e-8


@pytest.mark.parametrize("gx, gy", [("[0.7, 0.7, 1]", "[-1, 1, 5]"), ("[-1, 1, 5]", "[0.7, 0.7, 1]"),
                                    ("[0.1, 0.1, 1]", "[0.2, 0.2, 1]")])  # fmt: skip
def test_an_axis_of_one_node(gx, gy):
    """A grid line (or a single point) is evaluated like any grid (it was all NaN)."""
    pde = build_pde(parse_spec_text(
        "kind: pde\nvariables: [x, y]\nequation: u_x^2 + u_y^2 = 1\n"
        "initial: {parameters: {s: [0, 6.283185307179586, 361]}, x: 0.5*cos(s), "
        "y: 0.5*sin(s), u: 0, branch: -1}\n"
        f"grid: {{x: {gx}, y: {gy}}}\n", "e.yaml", ".yaml"))  # fmt: skip
    r = solve_pde(pde, crossing="stop", evaluation="raster")
    X, Y = np.meshgrid(r["x"], r["y"], indexing="ij")
    np.testing.assert_allclose(r["u"], np.hypot(X, Y) - 0.5, rtol=0, atol=1e-9)


def ellipse_distance(px, py, a, b):
    """Signed distance from (px, py) to the ellipse (a cos s, b sin s): the nearest of
    dense samples, refined by Newton on the foot point's parameter."""
    ss = np.linspace(0, 2 * np.pi, 4001)[:-1]
    d2 = (px[:, None] - a * np.cos(ss)) ** 2 + (py[:, None] - b * np.sin(ss)) ** 2
    s = ss[d2.argmin(axis=1)]
    for _ in range(30):  # (E(s) - P) . E'(s) = 0
        ex, ey, dx, dy = a * np.cos(s), b * np.sin(s), -a * np.sin(s), b * np.cos(s)
        g = (ex - px) * dx + (ey - py) * dy
        h = dx * dx + dy * dy - (ex - px) * ex - (ey - py) * ey
        s = s - g / h
    dist = np.hypot(px - a * np.cos(s), py - b * np.sin(s))
    return np.where((px / a) ** 2 + (py / b) ** 2 < 1, -dist, dist)


def test_signed_distance_to_an_ellipse_in_one_solve():
    """Rays both ways from an ellipse, each node from the nearest ray before it focuses:
    the signed distance, across the medial axis (where rays from the two sides meet
    before either focuses) and at the cusps of the evolute (+-0.45, 0), which are
    nodes here and lie on a traced ray exactly at its focus."""
    pde = build_pde(parse_spec_text(
        "kind: pde\nvariables: [x, y]\nequation: u_x^2 + u_y^2 = 1\n"
        "initial: {parameters: {s: [0, 6.283185307179586, 361]}, x: 0.6*cos(s), "
        "y: 0.3*sin(s), u: 0, branch: -1}\n"
        "grid: {x: [-0.9, 0.9, 81], y: [-0.9, 0.9, 61]}\n", "e.yaml", ".yaml"))  # fmt: skip
    r = solve_pde(pde, crossing="stop", evaluation="raster")
    X, Y = np.meshgrid(r["x"], r["y"], indexing="ij")
    exact = ellipse_distance(X.ravel(), Y.ravel(), 0.6, 0.3).reshape(X.shape)
    u = np.asarray(r["u"])
    assert not np.isnan(u).any()
    np.testing.assert_allclose(u, exact, rtol=0, atol=1e-7)
    cusp = np.isclose(np.abs(X), 0.45) & np.isclose(Y, 0.0)
    assert cusp.sum() == 2 and np.abs(u[cusp] + 0.15).max() < 1e-9
