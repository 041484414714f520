"""The compiled path for --crossing shock (charme.solvers.characteristics.convex1d)
against the general path, problem by problem, and where it must not apply."""

import numpy as np
import pytest

from charme.solvers.characteristics import convex1d
from charme.solvers.characteristics.driver import solve_pde
from charme.spec.loader import parse_spec_text
from charme.spec.pde import build_pde

PI = np.pi


def pde(text):
    return build_pde(parse_spec_text("kind: pde\n" + text, "yaml"))


def both(text, **kw):
    """The solve by the compiled path and by the general one."""
    fast = solve_pde(pde(text), crossing="shock", **kw)
    convex1d.ENABLED = False
    try:
        slow = solve_pde(pde(text), crossing="shock", **kw)
    finally:
        convex1d.ENABLED = True
    return fast, slow


def spec(equation, u0, x0="s", s=(-PI, 3 * PI, 401), t0=0.0, t=(0, 1.5, 7),
         x=(0, 2 * PI, 81), variables="[t, x]"):  # fmt: skip
    return (f"variables: {variables}\nequation: {equation}\n"
            f"initial: {{parameters: {{s: [{s[0]!r}, {s[1]!r}, {s[2]}]}}, t: {t0!r}, "
            f"x: {x0}, u: {u0}}}\n"
            f"grid: {{t: [{t[0]!r}, {t[1]!r}, {t[2]}], x: [{x[0]!r}, {x[1]!r}, {x[2]}]}}\n")  # fmt: skip


CASES = {
    "burgers": spec("u_t + u*u_x = 0", "sin(s)"),
    # levels through the breaking time 1 (pi is a grid node) and past it
    "burgers_at_breaking": spec("u_t + u*u_x = 0", "sin(s)", t=(0, 2, 9)),
    "moving_shock": spec("u_t + u*u_x = 0", "0.5 + sin(s)", x=(0.5, 6.5, 61)),
    "later_data": spec("u_t + u*u_x = 0", "0.5 + sin(s)", t0=1.0, t=(1.0, 3.0, 5)),
    "concave": spec("u_t - u*u_x = 0", "sin(s)", x=(0.05, 6.2, 81)),  # (shocks at 0, 2 pi)
    "cubic_flux": spec("u_t + u^2*u_x = 0", "2 + sin(s)", t=(0, 0.5, 6), x=(2, 9, 71)),
    "exp_flux": spec("u_t + exp(u)*u_x = 0", "sin(s)/2", t=(0, 2.5, 6), x=(1, 7, 61)),
    "stretched_data": spec(
        "u_t + u*u_x = 0", "cos(s)", x0="s + s^3/50", s=(-6.0, 6.0, 301), x=(-4, 4, 81)
    ),  # fmt: skip
    "two_waves": spec("u_t + u*u_x = 0", "sin(s) + sin(3*s)/2", t=(0, 2, 5)),
    # x0 decreasing along s: unfolded rays keep X decreasing
    "reversed": spec("u_t + u*u_x = 0", "-sin(s)", x0="-s", s=(-3 * PI, PI, 401)),
    # samples symmetric about the least q (pi): two samples as low, the minimum between
    "symmetric_samples": spec("u_t + u*u_x = 0", "sin(s)", s=(-PI, 3 * PI, 400)),
    "speed_two": spec("2*u_t + 2*u*u_x = 0", "sin(s)"),
    "space_first": spec("u_t + u*u_x = 0", "sin(s)", variables="[x, t]").replace(
        "grid: {t: [0, 1.5, 7], x: [0, 6.283185307179586, 81]}",
        "grid: {x: [0, 6.283185307179586, 81], t: [0, 1.5, 7]}",
    ),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_compiled_path_agrees_with_the_general_one(name):
    fast, slow = both(CASES[name])
    assert fast.attrs["shock_path"] == "compiled" and slow.attrs["shock_path"] == "general"
    np.testing.assert_array_equal(fast["mask"], slow["mask"])
    # (a point exactly on a shock has two values, equally right: either path may take
    # either; the data's symmetry puts pi on the shock)
    at_shock = np.zeros(fast["u"].shape, bool)
    t_axis = fast.data_vars["u"][0].index("t")
    # (nor the caustic's tip, where X_s = 0: the general path's Newton converges slowly
    # there and stops up to 2e-11 off; the compiled one is exact, as tested below)
    tip = [(slow.attrs["breaking_location_t"], slow.attrs["breaking_location_x"])]
    if tip[0][0] == "none":
        tip = []
    for t, x in [*zip(np.asarray(slow["shock_t"]), np.asarray(slow["shock_x"])), *tip]:
        hit = np.ix_(np.abs(np.asarray(fast.coords["t"]) - t) < 1e-12,
                     np.abs(np.asarray(fast.coords["x"]) - x) < 1e-9)  # fmt: skip
        at_shock[hit if t_axis == 0 else hit[::-1]] = True  # (hit: t rows, x columns)
    for var in ("u", "u_t", "u_x"):
        a, b = np.asarray(fast[var]), np.asarray(slow[var])
        a, b = a[~at_shock], b[~at_shock]
        np.testing.assert_array_equal(np.isnan(a), np.isnan(b))
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12, err_msg=var)
    np.testing.assert_allclose(fast["shock_t"], slow["shock_t"], rtol=0, atol=1e-12)
    np.testing.assert_allclose(fast["shock_x"], slow["shock_x"], rtol=0, atol=1e-9)
    for key in ("breaking_time", "breaking_location_t", "breaking_location_x"):
        if slow.attrs[key] == "none":
            assert fast.attrs[key] == "none", key
        else:
            assert fast.attrs[key] == pytest.approx(slow.attrs[key], abs=1e-9), key
    assert fast.attrs["blow_up_time"] == slow.attrs["blow_up_time"] == "none"
    assert fast.attrs["F_residual_max"] < 1e-12


def test_compiled_path_is_exact_for_burgers():
    """u = sin(x - u t) on every reached point, the shock at pi, the breaking at
    (1, pi); the gradient u_x = cos(s) / (1 + t cos(s))."""
    r = solve_pde(pde(CASES["burgers_at_breaking"]), crossing="shock")
    assert r.attrs["shock_path"] == "compiled"
    T, X = np.meshgrid(r.coords["t"], r.coords["x"], indexing="ij")
    u = np.asarray(r["u"])
    np.testing.assert_allclose(u, np.sin(X - u * T), atol=5e-15)
    assert r.attrs["breaking_time"] == pytest.approx(1.0, abs=1e-14)
    assert r.attrs["breaking_location_x"] == pytest.approx(PI, abs=1e-12)
    later = np.asarray(r["shock_t"]) > 1.0
    np.testing.assert_allclose(np.asarray(r["shock_x"])[later], PI, atol=1e-12)
    c = np.cos(X - u * T)
    ok = np.abs(1 + T * c) > 1e-6
    with np.errstate(divide="ignore"):
        exact = c / (1 + T * c)
    np.testing.assert_allclose(np.asarray(r["u_x"])[ok], exact[ok], rtol=1e-12, atol=1e-12)


def test_two_shocks_between_two_points():
    """Between two neighbouring points a third branch wins a stretch narrower than the
    grid's spacing: two shocks there, as the general path finds them, not one where the
    outer two branches' functionals tie."""
    text = ("variables: [t, x]\nequation: u_t + (1 + u^2/4)*u*u_x = 0\n"
            "initial: {parameters: {s: [-8.0, 8.0, 237]}, t: 0.0, x: s + s^3/100, "
            "u: 0.38405689419646993 + 0.4502025434588321*sin(2*s + 1.0833149906934698)"
            " + 1.4062773901678818*cos(4*s)}\n"
            "grid: {t: [0, 3.6333185096059437, 4], x: [-3, 3, 94]}\n")  # fmt: skip
    fast, slow = both(text)
    assert fast.attrs["shock_path"] == "compiled"
    got = sorted(zip(np.asarray(fast["shock_t"]), np.asarray(fast["shock_x"])))
    want = sorted(zip(np.asarray(slow["shock_t"]), np.asarray(slow["shock_x"])))
    assert len(got) == len(want)
    np.testing.assert_allclose(np.array(got), np.array(want), rtol=0, atol=1e-9)
    x = np.asarray(fast.coords["x"])
    pairs = [(t, xs) for t, xs in got if abs(t - 2.4222123397372958) < 1e-12]
    gaps = [b - a for (_, a), (_, b) in zip(pairs[:-1], pairs[1:])]
    assert min(gaps) < x[1] - x[0]  # (two of them between the same two points)


def test_a_young_shock_narrower_than_the_rays_spacing():
    """At t = 0.42 a fold of x(s) lies between two neighbouring rays, its three rays
    through points the two rays do not bracket: the general path found one of them, and
    put the shock 1e-4 off, where only one ray passes.  Both paths now put it where the
    two outer rays' functionals tie (checked by quadrature: -0.256423134)."""
    text = ("variables: [t, x]\nequation: u_t - u*u_x = 0\n"
            "initial: {parameters: {s: [-8.0, 8.0, 218]}, t: 0.0, x: s + s^3/100, "
            "u: 0.41946334630538706 + 0.9124373987458505*sin(5*s + 4.9838440404719515)"
            " + 1.138132284075561*cos(3*s)}\n"
            "grid: {t: [0, 1.2579888489246212, 4], x: [-3, 3, 159]}\n")  # fmt: skip
    fast, slow = both(text)
    for r in (fast, slow):
        x = np.asarray(r["shock_x"])[np.abs(np.asarray(r["shock_t"]) - 0.41932961630820707)
                                     < 1e-12]  # fmt: skip
        assert np.abs(x - -0.25642313397724).min() < 1e-9, r.attrs["shock_path"]


@pytest.mark.parametrize("change", [
    ("u: sin(s)", "u: abs(sin(s))"),            # a kink: fans, the general path
    ("u: sin(s)", "u: sin(s)/(2 + s)"),         # division by a variable: a pole somewhere
    ("u: sin(s)", "u: -s"),                     # a ramp: every ray meets at once (t = 1)
])  # fmt: skip
def test_data_the_compiled_path_leaves_to_the_general_one(change):
    text = CASES["burgers"].replace(*change)
    if "-s" in change[1]:
        text = text.replace("[-3.141592653589793, 9.42477796076938, 401]", "[-1, 1, 41]")
        text = text.replace("x: [0, 6.283185307179586, 81]", "x: [-1, 1, 41]")
    r = solve_pde(pde(text), crossing="shock")
    assert r.attrs["shock_path"] == "general"


def test_options_the_compiled_path_leaves_to_the_general_one():
    r = solve_pde(pde(CASES["burgers"]), crossing="shock", save_rays=True)
    assert r.attrs["shock_path"] == "general" and "ray" in r.data_vars
    r = solve_pde(pde(CASES["burgers"]), crossing="shock", evaluation="hermite")
    assert r.attrs["shock_path"] == "general"
    shorthand = ("variables: [t, x]\nequation: u_t + u*u_x = 0\ninitial: 'u(x, t=0) = sin(x)'\n"
                 "grid: {t: [0, 1.5, 4], x: [0, 6.283185307179586, 41]}\n")  # fmt: skip
    assert solve_pde(pde(shorthand), crossing="shock").attrs["shock_path"] == "general"


def test_analytic_expressions():
    from charme.spec.expressions import parse_expression

    yes = ["s", "2*s^3 - s/4", "exp(-s^2)*sin(3*s)", "atan(s) + cosh(s)", "tanh(s)^2"]
    no = ["abs(s)", "sqrt(s)", "1/s", "s^0.5", "s^-1", "log(s)", "max(s, 0)", "floor(s)",
          "tan(s)"]  # fmt: skip
    for text in yes:
        assert convex1d.analytic(parse_expression(text, {"s"})), text
    for text in no:
        assert not convex1d.analytic(parse_expression(text, {"s"})), text


def test_many_shocks_between_two_points():
    """Three shocks (pi, 3 pi, 5 pi) at each of two levels between the grid's only two
    points: the shock buffer (one per two neighbouring points at first) makes room, and
    no level loses its shocks to an earlier one."""
    text = spec("u_t + u*u_x = 0", "sin(s)", s=(-PI, 7 * PI, 401), t=(2.0, 3.0, 2),
                x=(1.0, 17.0, 2))  # fmt: skip
    r = solve_pde(pde(text), crossing="shock")
    assert r.attrs["shock_path"] == "compiled"
    got = sorted(zip(np.asarray(r["shock_t"]), np.asarray(r["shock_x"])))
    want = [(t, x) for t in (2.0, 3.0) for x in (PI, 3 * PI, 5 * PI)]
    np.testing.assert_allclose(np.array(got), np.array(want), rtol=0, atol=1e-12)


def test_a_shock_where_a_piece_of_the_rays_ends():
    """The winner changes between two points where one piece's rays end (a fold's edge
    whose other side the data's end cuts off), not where its tie with the other lies:
    the shock is that edge, as on the general path, not the points' midpoint."""
    text = spec("u_t + u*u_x = 0", "0.3 + sin(2*s) + 0.5*cos(3*s)", x0="s + s^3/100",
                s=(-8.0, 8.0, 401), t=(20.0, 20.0, 1), x=(33.3, 34.2, 4))  # fmt: skip
    fast, slow = both(text)
    assert fast.attrs["shock_path"] == "compiled"
    np.testing.assert_allclose(fast["shock_x"], slow["shock_x"], rtol=0, atol=1e-5)
    assert abs(float(np.asarray(fast["shock_x"])[0]) - 33.75) > 0.05
