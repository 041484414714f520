"""Rarefaction fans from kinks (Charpit) and jumps (quasilinear) of 1-D data."""

import numpy as np
import pytest

from charme.solvers.characteristics.driver import solve_pde
from charme.spec.loader import parse_spec_text
from charme.spec.pde import build_pde


def pde(text):
    return build_pde(parse_spec_text("kind: pde\nunknown: u\nvariables: [t, x]\n" + text,
                                     "p.yaml", ".yaml"))  # fmt: skip


HJ_ABS = (
    'equation: "u_t + u_x^2/2 = 0"\n'
    "initial: {parameters: {s: [-4, 4, 801]}, t: 0, x: s, u: abs(s)}\n"
    "grid: {t: [0, 1.5, 4], x: [-2, 2, 81]}\n"
)


@pytest.mark.parametrize("crossing", ["stop", "viscosity", "multivalued"])
def test_hamilton_jacobi_from_abs_fills_the_fan(crossing):
    """u_t + u_x^2/2 = 0, g = |x|: |x| - t/2 outside |x| < t, x^2/(2t) inside."""
    r = solve_pde(pde(HJ_ABS), crossing=crossing)
    T, X = np.meshgrid(r["t"], r["x"], indexing="ij")
    T, X, u, ux = T[1:], X[1:], r["u"][1:], r["u_x"][1:]
    inside = np.abs(X) < T
    exact = np.where(inside, X**2 / (2 * T), np.abs(X) - T / 2)
    assert not np.isnan(u).any()
    assert np.abs(u - exact).max() < 1e-13
    assert np.abs(ux - np.where(inside, X / T, np.sign(X))).max() < 1e-12
    assert inside.sum() > 50  # the fan covers a good part of the grid


def test_hermite_evaluation_fills_the_fan_too():
    r = solve_pde(pde(HJ_ABS), evaluation="hermite")
    T, X = np.meshgrid(r["t"], r["x"], indexing="ij")
    exact = np.where(np.abs(X[1:]) < T[1:], X[1:] ** 2 / (2 * T[1:]), np.abs(X[1:]) - T[1:] / 2)
    assert np.abs(r["u"][1:] - exact).max() < 1e-12


def test_converging_kink_gives_no_fan():
    """g = -|x|: the rays converge at once; no fan, crossing at t = 0+."""
    r = solve_pde(pde(HJ_ABS.replace("u: abs(s)", "u: -abs(s)")), crossing="viscosity")
    T, X = np.meshgrid(r["t"], r["x"], indexing="ij")
    assert np.abs(r["u"][1:] - (-np.abs(X[1:]) - T[1:] / 2)).max() < 1e-12


def test_burgers_riemann_rarefaction_then_shock():
    """u0 = 1 on (0, 1), 0 elsewhere: a fan from 0 and a shock from 1 at speed 1/2,
    which the fan catches at t = 2; then the shock runs at x = sqrt(2t)."""
    r = solve_pde(pde(
        'equation: "u_t + u*u_x = 0"\n'
        'initial: {parameters: {s: [-2, 5, 701]}, t: 0, x: s, u: "(s/abs(s) - (s-1)/abs(s-1))/2"}\n'
        "grid: {t: [0.5, 3, 6], x: [-1, 4, 101]}\n"
    ), crossing="shock")  # fmt: skip
    T, X = np.meshgrid(r["t"], r["x"], indexing="ij")
    front = np.where(T < 2, 1 + T / 2, np.sqrt(2 * T))
    exact = np.where((X > 0) & (X < front), np.minimum(X / T, 1.0), 0.0)
    away = np.abs(X - front) > 1e-9  # grid points on the shock are either value
    assert np.abs(r["u"] - exact)[away].max() < 1e-12
    shocks = list(zip(r["shock_t"], r["shock_x"]))
    for t, x in shocks:
        expected = 1 + t / 2 if t < 2 else np.sqrt(2 * t)
        assert x == pytest.approx(expected, abs=1e-9)
    assert len(shocks) == 6


@pytest.mark.parametrize("evaluation", ["newton", "hermite"])
def test_a_rarefaction_has_one_branch_and_no_shock(evaluation):
    """Burgers from a step up (0 then 1): the fan x/t between the data's rays, nothing
    else.  Brackets of the data's rays that span the jump are not searched inside the
    fan (no ray of the data passes there): with Hermite evaluation the cubic across the
    jump made a false branch there, 1e-2 off at the fan's edge, and 30 false shocks."""
    r = solve_pde(pde('equation: u_t + u*u_x = 0\ninitial: "u(x, t=0) = 0.5*(1 + x/abs(x))"\n'
                      "grid: {t: [0, 2, 11], x: [-1, 3, 401]}\n"),
                  crossing="shock", evaluation=evaluation)  # fmt: skip
    T, X = np.meshgrid(r["t"], r["x"], indexing="ij")
    T, X, u = T[1:], X[1:], np.asarray(r["u"])[1:]
    exact = np.where(X <= 0, 0.0, np.where(X < T, X / T, 1.0))
    assert np.abs(u - exact).max() < 1e-13
    assert r["shock_t"].size == 0
    many = solve_pde(pde('equation: u_t + u*u_x = 0\ninitial: "u(x, t=0) = 0.5*(1 + x/abs(x))"\n'
                         "grid: {t: [0, 2, 11], x: [-1, 3, 401]}\n"),
                     crossing="multivalued", evaluation=evaluation)  # fmt: skip
    assert many["u_branches"].shape[-1] == 1


def test_a_steep_ramp_spreads_without_gaps():
    """Burgers from a ramp 0.01 wide (shorthand data, a few samples across it): by t = 2
    the ramp's rays have spread over [0, 2] with wide gaps between them, and x(s) bends
    sharply at the ramp's kinks.  Newton from the Hermite seed failed near the kinks (48
    NaN); kept inside the bracket of the two traced rays, bisecting where it must, it
    finds every ray."""
    r = solve_pde(pde('equation: u_t + u*u_x = 0\n'
                      'initial: "u(x, t=0) = max(0, min(1, 0.5 + x/0.01))"\n'
                      "grid: {t: [0, 2, 5], x: [-1, 3, 401]}\n"), crossing="shock")  # fmt: skip
    T, X = np.meshgrid(r["t"], r["x"], indexing="ij")
    u = np.asarray(r["u"])
    assert not np.isnan(u).any()
    np.testing.assert_allclose(u, np.clip((X + 0.005) / (T + 0.01), 0, 1), rtol=0, atol=1e-13)
    assert r["shock_t"].size == 0


def test_a_steep_falling_ramp_breaks_at_its_time_and_its_shock_is_exact():
    """Burgers from a ramp falling from 1 to 0 over 0.01 (shorthand data, a few samples
    across it): the rays cross first at t = 0.01, x = 0.005, and the shock then moves at
    1/2 along x = t/2.  The ramp was taken for a jump (breaking time 0 at x = 0), and the
    Lax-Oleinik integrals across its unresolved corners put the shock 7e-7 off."""
    r = solve_pde(pde('equation: u_t + u*u_x = 0\n'
                      'initial: "u(x, t=0) = max(0, min(1, 0.5 - x/0.01))"\n'
                      "grid: {t: [0, 2, 5], x: [-1, 2, 301]}\n"), crossing="shock")  # fmt: skip
    assert r.attrs["breaking_time"] == pytest.approx(0.01, abs=1e-12)
    assert r.attrs["breaking_location_x"] == pytest.approx(0.005, abs=1e-9)
    np.testing.assert_array_equal(r["shock_t"], [0.5, 1.0, 1.5, 2.0])
    np.testing.assert_allclose(r["shock_x"], np.asarray(r["shock_t"]) / 2, rtol=0, atol=1e-13)


@pytest.mark.parametrize("evaluation", ["newton", "hermite"])
def test_a_fan_caught_up_by_a_shock_from_behind(evaluation):
    """Burgers from 1, then -1 on (0, 1), then 1: a stationary shock at 0 and a fan from
    x = 1, which reaches the shock at t = 1; after that the shock runs along
    1 + t - 2 sqrt(t).  A fan ray at its own jump had a NaN Lax-Oleinik value (the data
    integrated over a zero-width interval, at the point where they are undefined), so
    the rays from the left won across the fan (u = 1 for 0.25) and no shock was listed
    after t = 1.  With Hermite evaluation the cubic between two rays across a jump made
    false branches and dozens of false shocks: Newton is used at those brackets."""
    r = solve_pde(pde('equation: u_t + u*u_x = 0\n'
                      "initial: {parameters: {s: [-6, 7, 2001]}, t: 0, x: s, "
                      "u: 1 - (s/abs(s) - (s - 1)/abs(s - 1))}\n"
                      "grid: {t: [0.5, 4, 8], x: [-2, 5, 71]}\n"),
                  crossing="shock", evaluation=evaluation)  # fmt: skip
    T, X = np.meshgrid(r["t"], r["x"], indexing="ij")
    front = np.where(T <= 1, 0.0, 1 + T - 2 * np.sqrt(T))
    fan = (X - 1) / T
    exact = np.where(X < front, 1.0, np.where(X < 1 - T, -1.0, np.where(X < 1 + T, fan, 1.0)))
    away = (np.abs(X - front) > 1e-9) & (np.abs(X - (1 - T)) > 1e-9)
    np.testing.assert_allclose(np.asarray(r["u"])[away], exact[away], rtol=0, atol=1e-13)
    t, x = np.asarray(r["shock_t"]), np.asarray(r["shock_x"])
    np.testing.assert_array_equal(t, r["t"])
    np.testing.assert_allclose(x, np.where(t <= 1, 0.0, 1 + t - 2 * np.sqrt(t)), atol=1e-12)
