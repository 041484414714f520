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
    with pytest.raises(SpecError, match="raster"):
        solve_pde(eikonal("", 21), crossing="stop", evaluation="raster")
