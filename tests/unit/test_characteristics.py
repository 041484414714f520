"""Method of characteristics against closed forms (quasilinear, evolution problems)."""

import re

import numpy as np
import pytest
import xarray as xr
from click.testing import CliRunner

from charme.cli.main import cli
from charme.errors import SpecError
from charme.solvers.characteristics.driver import solve_pde
from charme.solvers.characteristics.threads import over_rows
from charme.spec.loader import parse_spec_text
from charme.spec.pde import build_pde

PI = np.pi


def pde(text):
    return build_pde(parse_spec_text("kind: pde\n" + text, "p.yaml", ".yaml"))


def fronts_moving_in(rays, grid):
    """|grad u| = 1 from the unit circle, fronts moving in (u = 0 on it)."""
    return pde(
        "variables: [x, y]\nequation: u_x^2 + u_y^2 = 1\n"
        f"initial: {{parameters: {{s: [0, 6.283185307179586, {rays}]}}, x: cos(s), y: sin(s), "
        "u: 0, guess: {u_x: -cos(s), u_y: -sin(s)}}\n"
        f"grid: {{{grid}}}\n"
    )


def test_variable_speed_advection():
    r = solve_pde(pde(
        "variables: [t, x]\nequation: u_t + x*u_x = 0\n"
        "initial: {parameters: {s: [-20, 20, 401]}, t: 0, x: s, u: exp(-s^2)}\n"
        "grid: {t: [0, 2, 5], x: [-3, 3, 61]}\n"
    ))  # fmt: skip
    T, X = np.meshgrid(r.coords["t"], r.coords["x"], indexing="ij")
    exact = np.exp(-((X * np.exp(-T)) ** 2))
    np.testing.assert_allclose(r["u"], exact, rtol=0, atol=1e-13)
    np.testing.assert_allclose(r["u_x"], -2 * X * np.exp(-2 * T) * exact, atol=1e-12)
    assert r.attrs["equation_class"] == "linear" and r["mask"].all()


def test_rotation():
    r = solve_pde(pde(
        "variables: [t, x, y]\nequation: u_t - y*u_x + x*u_y = 0\n"
        "initial: {parameters: {a: [-3, 3, 61], b: [-3, 3, 61]}, t: 0, x: a, y: b, "
        "u: exp(-((a-1)^2 + b^2))}\n"
        "grid: {t: [0, 1.5, 4], x: [-1.5, 1.5, 13], y: [-1.5, 1.5, 13]}\n"
    ))  # fmt: skip
    T, X, Y = np.meshgrid(r.coords["t"], r.coords["x"], r.coords["y"], indexing="ij")
    x0 = X * np.cos(T) + Y * np.sin(T)
    y0 = -X * np.sin(T) + Y * np.cos(T)
    np.testing.assert_allclose(r["u"], np.exp(-((x0 - 1) ** 2 + y0**2)), atol=1e-12)


def test_transport_3d_example():
    from charme.spec import load

    r = solve_pde(load("examples/transport_3d.yaml"))
    x1, x2, x3 = np.meshgrid(r.coords["x1"], r.coords["x2"], r.coords["x3"], indexing="ij")
    exact = np.exp(-((x1 * np.exp(-x3)) ** 2 + (x2 * np.exp(-2 * x3)) ** 2)) * np.exp(3 * x3)
    np.testing.assert_allclose(r["u"], exact, rtol=1e-12)


def test_burgers_before_breaking_and_breaking_time():
    r = solve_pde(pde(
        "variables: [t, x]\nequation: u_t + u*u_x = 0\n"
        "initial: {parameters: {s: [-3.141592653589793, 9.42477796076938, 2001]}, t: 0, x: s, u: sin(s)}\n"
        "grid: {t: [0, 1.5, 16], x: [0, 6.283185307179586, 201]}\n"
    ))  # fmt: skip
    assert r.attrs["equation_class"] == "quasilinear"
    assert r.attrs["breaking_time"] == pytest.approx(1.0, abs=1e-9)
    assert r.attrs["breaking_location_x"] == pytest.approx(PI, abs=1e-9)
    assert r.attrs["breaking_location_t"] == r.attrs["breaking_time"]
    t = r.coords["t"]
    u = r["u"]
    before = t <= 1.0 + 1e-12  # at the breaking time itself u is still continuous
    T, X = np.meshgrid(t[before], r.coords["x"], indexing="ij")
    ub = u[before]
    assert np.isfinite(ub).all()
    np.testing.assert_allclose(ub, np.sin(X - ub * T), atol=5e-15)  # the implicit solution
    assert np.isnan(u[~before]).all() and not r["mask"][~before].any()  # --crossing stop


def test_blow_up_is_reported():
    r = solve_pde(pde(
        "variables: [x, y]\nequation: u_x + u_y = u^2\n"
        "initial: {parameters: {s: [-2, 4, 121]}, x: 0, y: s, u: 1}\n"
        "grid: {x: [0, 0.9, 10], y: [0, 1, 5]}\n"
    ))  # fmt: skip
    X, _ = np.meshgrid(r.coords["x"], r.coords["y"], indexing="ij")
    np.testing.assert_allclose(r["u"], 1 / (1 - X), rtol=1e-11)
    assert r.attrs["equation_class"] == "semilinear"
    assert r.attrs["blow_up_time"] == pytest.approx(1.0, abs=1e-6)


def test_points_no_ray_reaches_are_nan():
    r = solve_pde(pde(
        "variables: [t, x]\nequation: u_t + u_x = 0\n"
        "initial: {parameters: {s: [0, 1, 11]}, t: 0, x: s, u: s}\n"
        "grid: {t: [0, 0.5, 2], x: [-1, 2, 31]}\n"
    ))  # fmt: skip
    x = r.coords["x"]
    reached = r["mask"][1].astype(bool)
    np.testing.assert_array_equal(reached, (x >= 0.5 - 1e-12) & (x <= 1.5 + 1e-12))
    np.testing.assert_allclose(r["u"][1][reached], x[reached] - 0.5, atol=1e-13)


def test_charpit_hamilton_jacobi_smooth():
    """u_t + u_x^2/2 = 0, u(x, 0) = x^2/2: u = x^2 / (2 (1 + t)) (Charpit strips)."""
    r = solve_pde(pde(
        "variables: [t, x]\nequation: u_t + u_x^2/2 = 0\n"
        "initial: {parameters: {s: [-10, 10, 201]}, t: 0, x: s, u: s^2/2}\n"
        "grid: {t: [0, 2, 5], x: [-3, 3, 31]}\n"
    ))  # fmt: skip
    assert r.attrs["equation_class"] == "fully nonlinear"
    T, X = np.meshgrid(r.coords["t"], r.coords["x"], indexing="ij")
    np.testing.assert_allclose(r["u"], X**2 / (2 * (1 + T)), atol=1e-13)
    np.testing.assert_allclose(r["u_x"], X / (1 + T), atol=1e-13)
    np.testing.assert_allclose(r["u_t"], -(X**2) / (2 * (1 + T) ** 2), atol=1e-13)
    assert r.attrs["F_drift_along_strips"] < 1e-12 and r.attrs["F_residual_max"] < 1e-12
    assert r.attrs["breaking_time"] == "none"


def test_strip_drift_of_f_per_ray():
    """--save-rays on a Charpit problem adds ray_F_drift(ray): max |F| along each strip,
    here F = u_x u_y - u recomputed from ray_p and ray_u; its maximum is the
    F_drift_along_strips attribute.  Without saved rays the drift is read at the levels
    landed on exactly (not at dense-output samples), and a loose rtol shows in it.  No
    guess or branch is needed: both starts of the completion reach the one gradient."""
    text = ("variables: [x, y]\nequation: u_x*u_y = u\n"
            "initial: {parameters: {s: [0.5, 2, 16]}, x: 0, y: s, u: s^2}\n"
            "grid: {x: [0, 1, 5], y: [1, 2, 5]}\n")  # fmt: skip
    r = solve_pde(pde(text), save_rays=True)
    p, u = np.asarray(r["ray_p"]), np.asarray(r["ray_u"])
    with np.errstate(invalid="ignore"):
        f = np.abs(p[..., 0] * p[..., 1] - u)
    np.testing.assert_allclose(r["ray_F_drift"], np.nanmax(f, axis=1), rtol=1e-12, atol=1e-300)
    assert r["ray_F_drift"].shape == (16,)
    assert r.attrs["F_drift_along_strips"] == np.nanmax(r["ray_F_drift"]) < 1e-12
    X, Y = np.meshgrid(r.coords["x"], r.coords["y"], indexing="ij")
    np.testing.assert_allclose(r["u"], (X + 4 * Y) ** 2 / 16, atol=1e-12)
    tight = solve_pde(pde(text)).attrs["F_drift_along_strips"]
    loose = solve_pde(pde(text), rtol=1e-5, atol=1e-8).attrs["F_drift_along_strips"]
    assert loose > 1e4 * tight


def test_charpit_caustic_is_reported():
    """u(x, 0) = -x^2/2: the strips x = s (1 - t) all meet at x = 0 when t = 1."""
    r = solve_pde(pde(
        "variables: [t, x]\nequation: u_t + u_x^2/2 = 0\n"
        "initial: {parameters: {s: [-6, 6, 121]}, t: 0, x: s, u: -s^2/2}\n"
        "grid: {t: [0, 0.8, 5], x: [-1, 1, 21]}\n"
    ))  # fmt: skip
    assert r.attrs["breaking_time"] == pytest.approx(1.0, abs=1e-9)
    T, X = np.meshgrid(r.coords["t"], r.coords["x"], indexing="ij")
    np.testing.assert_allclose(r["u"], -(X**2) / (2 * (1 - T)), atol=1e-12)


def test_charpit_without_an_evolution_variable():
    """u_x u_y = u, u(0, y) = y^2: u = (x + 4 y)^2 / 16 (Newton on (s, tau) per point)."""
    r = solve_pde(pde(
        "variables: [x, y]\nequation: u_x*u_y = u\n"
        "initial: {parameters: {s: [0.5, 4, 141]}, x: 0, y: s, u: s^2, guess: {u_x: s, u_y: 2*s}}\n"
        "grid: {x: [0, 1, 11], y: [1, 2, 11]}\n"
    ))  # fmt: skip
    X, Y = np.meshgrid(r.coords["x"], r.coords["y"], indexing="ij")
    np.testing.assert_allclose(r["u"], (X + 4 * Y) ** 2 / 16, atol=1e-12)
    np.testing.assert_allclose(r["u_x"], (X + 4 * Y) / 8, atol=1e-12)
    assert r.attrs["evolution_variable"] == "none" and r["mask"].all()


def test_newton_completion_failure_is_reported():
    with pytest.raises(SpecError, match="Newton"):
        solve_pde(pde(
            "variables: [t, x]\nequation: u_t + sqrt(u_x) = 0\n"
            "initial: {parameters: {s: [0, 1, 5]}, t: 0, x: s, u: -s}\ngrid: {t: [0, 1, 2], x: [0, 1, 2]}\n"
        ))  # fmt: skip


def test_two_gradients_without_a_branch_are_named():
    """|grad u| = 1 from a circle with neither guess nor branch: Newton from p = 0 fails
    (F_p = 0 there), both sides' starts converge, to the outward and the inward unit
    normal; the error names both and the field that chooses, and nothing is guessed."""
    with pytest.raises(SpecError) as info:
        solve_pde(pde(
            "variables: [x, y]\nequation: u_x^2 + u_y^2 = 1\n"
            "initial: {parameters: {s: [0, 6.283185307179586, 41]}, x: cos(s), y: sin(s), "
            "u: 0}\ngrid: {x: [-2, 2, 5], y: [-2, 2, 5]}\n"
        ))  # fmt: skip
    text = str(info.value)
    assert "two gradients" in text and "s=0" in text and "initial.branch" in text
    assert "(u_x, u_y) = (-1, 0) and (1, 0)" in text and info.value.field == "initial"


@pytest.mark.parametrize(
    "initial",
    [
        # a cusp of a curve (x_s = 0 at s = 0), fully nonlinear: was a LinAlgError
        "{parameters: {s: [-1, 1, 21]}, x: s^2, y: s^3, u: 0, branch: 1}",
        # a sphere with its poles (x_ph = 0 at th = 0)
        "{parameters: {th: [0, 3.141592653589793, 7], ph: [0, 6.283185307179586, 9]}, "
        "x: sin(th)*cos(ph), y: sin(th)*sin(ph), z: cos(th), u: 0, branch: 1}",
        # a single point, even with a guess
        "{parameters: {s: [0, 1, 5]}, x: 0, y: 0, u: 0, guess: {u_x: cos(s), u_y: sin(s)}}",
    ],
)
def test_degenerate_data_are_named(initial):
    """Data whose tangents vanish or are dependent at a sample (a cusp, a pole, a point):
    a SpecError at initial naming the sample, not a LinAlgError or a Newton failure."""
    three = "z" in initial
    with pytest.raises(SpecError, match="degenerate") as info:
        solve_pde(pde(
            f"variables: [x, y{', z' if three else ''}]\n"
            f"equation: u_x^2 + u_y^2{' + u_z^2' if three else ''} = 1\n"
            f"initial: {initial}\n"
            f"grid: {{x: [-1, 1, 3], y: [-1, 1, 3]{', z: [-1, 1, 3]' if three else ''}}}\n"
        ))  # fmt: skip
    assert info.value.field == "initial"
    assert ("th=0, ph=0" if three else "s=0") in str(info.value)


@pytest.mark.parametrize(
    "equation, kind",
    [("u_t + u_x = 0", "linear"), ("u_t + u_x = u^2", "semilinear"),
     ("u_t + u*u_x = 0", "quasilinear"), ("u_t + u_x^2/2 = 0", "fully nonlinear")],
)  # fmt: skip
def test_classification(equation, kind):
    from charme.solvers.characteristics.symbolic import classify

    p = pde(f"variables: [t, x]\nequation: '{equation}'\n"
            "initial: {parameters: {s: [0, 1, 3]}, t: 0, x: s, u: s}\ngrid: {t: [0, 1, 2], x: [0, 1, 2]}\n")  # fmt: skip
    assert classify(p).kind == kind


BASE = "variables: [t, x]\ninitial: {parameters: {s: [0, 1, 11]}, t: 0, x: s, u: s}\ngrid: {t: [0, 1, 3], x: [0, 1, 3]}\n"


@pytest.mark.parametrize(
    "text, message",
    [
        ("equation: u + x = 0\n" + BASE, "not a differential equation"),
        ("equation: u_t + q*u_x = 0\n" + BASE, "unknown name 'q'"),
        ("equation: u_t = u_x = 0\n" + BASE, "at most one '='"),
        ("equation: u_t + u_x = 0\nvariables: [t, x]\n"
         "initial: {parameters: {s: [0, 1, 11], r: [0, 1, 3]}, t: 0, x: s, u: s}\n"
         "grid: {t: [0, 1, 3], x: [0, 1, 3]}\n", "needs 1 parameter"),
        ("equation: u_t + u_x = 0\nvariables: [t, x]\n"
         "initial: {parameters: {s: [0, 1, 11]}, t: 0, u: s}\ngrid: {t: [0, 1, 3], x: [0, 1, 3]}\n",
         "needs 'x'"),
        # the grid is checked before the shorthand samples it (a reversed range was blamed
        # on initial.parameters.x), and one point means start = stop
        ('equation: u_t + u_x = 0\nvariables: [t, x]\ninitial: "u(x, t=0) = x"\n'
         "grid: {t: [0, 1, 3], x: [1, 0, 5]}\n", r"grid\.x: need start < stop"),
        ('equation: u_t + u_x = 0\nvariables: [t, x]\ninitial: "u(x, t=0) = x"\n'
         "grid: {t: [0, 1, 3], x: [0, 1, 1]}\n", r"grid\.x: one point: give start = stop"),
    ],
)  # fmt: skip
def test_bad_pde_specs(text, message):
    with pytest.raises(SpecError, match=message):
        pde(text)


def test_characteristic_data_and_unimplemented_parts_are_refused():
    with pytest.raises(SpecError, match="characteristic"):
        solve_pde(pde(
            "variables: [t, x]\nequation: u_t + u_x = 0\n"
            "initial: {parameters: {s: [0, 1, 11]}, t: 0, x: s, u: s}\ngrid: {t: [0, 1, 3], x: [0, 1, 3]}\n"
            .replace("t: 0, x: s", "t: s, x: s")
        ))  # fmt: skip
    with pytest.raises(SpecError, match="conservation law"):
        solve_pde(pde("equation: u_t + u_x^2/2 = 0\n" + BASE), crossing="shock")
    with pytest.raises(SpecError, match="Hamilton-Jacobi"):
        solve_pde(pde("equation: u_t + u*u_x = 0\n" + BASE), crossing="viscosity")
    with pytest.raises(SpecError, match="conservation laws in one space dimension"):
        solve_pde(pde(
            "variables: [t, x, y]\nequation: u_t + u*u_x + u_y = 0\n"
            "initial: {parameters: {a: [0, 1, 5], b: [0, 1, 5]}, t: 0, x: a, y: b, u: a}\n"
            "grid: {t: [0, 1, 2], x: [0, 1, 2], y: [0, 1, 2]}\n"
        ), crossing="shock")  # fmt: skip
    with pytest.raises(SpecError, match="an evolution problem"):  # no evolution variable
        solve_pde(pde("variables: [x, y]\nequation: u_x + 2*u_y = 0\n"
                      "initial: {parameters: {s: [0, 1, 11]}, x: s, y: s, u: s}\n"
                      "grid: {x: [0, 1, 3], y: [0, 1, 3]}\n"), crossing="shock")  # fmt: skip


def test_cli_moc(tmp_path):
    out = tmp_path / "b.nc"
    res = CliRunner().invoke(
        cli, ["moc", "examples/burgers.yaml", "-o", str(out), "--save-rays", "-q"]
    )
    assert res.exit_code == 0, res.output
    ds = xr.open_dataset(out)
    assert ds["u"].dims == ("t", "x") and ds["u_x"].dims == ("t", "x")
    assert ds["ray"].dims == ("ray", "step", "dim")
    assert ds.attrs["breaking_time"] == pytest.approx(1.0, abs=1e-9)
    ds.close()
    csv_out = tmp_path / "b.csv"
    assert (
        CliRunner()
        .invoke(cli, ["characteristics", "examples/burgers.yaml", "-o", str(csv_out), "-q"])
        .exit_code
        == 0
    )
    head = csv_out.read_text().splitlines()[0]
    assert head.startswith("t,x,u,mask")
    bad = tmp_path / "bad.yaml"
    bad.write_text("kind: pde\nvariables: [t, x]\nequation: u_t + u*u_x = 0\n"
                   "initial: {parameters: {s: [0, 1, 3]}, t: 0, x: s, u: s}\ngrid: {t: [0, 1, 2], x: [0, 1, 2]}\n")  # fmt: skip
    res = CliRunner().invoke(
        cli, ["moc", str(bad), "-o", str(tmp_path / "x.nc"), "--crossing", "viscosity"]
    )
    assert res.exit_code == 2 and "Hamilton-Jacobi" in res.output
    assert not (tmp_path / "x.nc").exists()
    assert CliRunner().invoke(cli, ["validate", "examples/burgers.yaml"]).exit_code == 0


BURGERS = (
    "variables: [t, x]\nequation: u_t + u*u_x = 0\n"
    "initial: {parameters: {s: [-3.141592653589793, 9.42477796076938, 2001]}, t: 0, x: s, u: sin(s)}\n"
    "grid: {t: [0, 1.5, 4], x: [0, 6.283185307179586, 101]}\n"
)


def test_burgers_shock_after_breaking():
    r = solve_pde(pde(BURGERS), crossing="shock")
    T, X = np.meshgrid(r.coords["t"], r.coords["x"], indexing="ij")
    u = r["u"]
    np.testing.assert_allclose(
        u, np.sin(X - u * T), atol=5e-15
    )  # every value is on a characteristic
    x = r.coords["x"]
    late = u[-1]
    assert (late[(x > 0.01) & (x < PI - 0.01)] > 0).all() and (
        late[(x > PI + 0.01) & (x < 2 * PI - 0.01)] < 0
    ).all()
    shocks = list(zip(r["shock_t"], r["shock_x"]))
    assert [t for t, _ in shocks] == [1.5]
    assert shocks[0][1] == pytest.approx(PI, abs=1e-9)
    # the gradient too, on every branch chosen: u_x = g'(s) / (1 + t g'(s)), s = x - u t
    # (but for the breaking point itself, t = 1 at x = pi, where 1 + t g' = 0)
    c = np.cos(X - u * T)
    ok = np.abs(1 + T * c) > 1e-6
    assert ok.sum() == ok.size - 1
    np.testing.assert_allclose(r["u_x"][ok], (c / (1 + T * c))[ok], rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(r["u_t"][ok], (-u * r["u_x"])[ok], rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize("t0", [0.0, 1.0, -2.0])
def test_shock_from_data_at_a_later_or_earlier_time(t0):
    """The Lax-Oleinik functional weighs f by the time since the data (t - t0), not t:
    u0 = 1/2 + sin x moves the shock of sin x along with it (Galilean invariance), to
    pi + t/2 at t = t0 + 1.5, whatever t0 is (with t, t0 = -2 gave seven shocks)."""
    text = BURGERS.replace("u: sin(s)", "u: 0.5 + sin(s)").replace("t: 0,", f"t: {t0},")
    text = text.replace("t: [0, 1.5, 4]", f"t: [{t0 + 1.5}, {t0 + 1.5}, 1]")
    r = solve_pde(pde(text), crossing="shock")
    shocks = list(zip(r["shock_t"], r["shock_x"]))
    assert len(shocks) == 1 and shocks[0][1] == pytest.approx(PI + 0.75, abs=1e-9)
    x, u = r.coords["x"], r["u"][0]
    np.testing.assert_allclose(u, 0.5 + np.sin(x - u * 1.5), atol=5e-15)
    assert (u[(x > 0.8) & (x < PI + 0.74)] > 0.5).all()
    assert (u[(x > PI + 0.76) & (x < 2 * PI - 0.1)] < 0.5).all()


def test_burgers_multivalued_keeps_every_branch():
    r = solve_pde(pde(BURGERS), crossing="multivalued")
    b = r["u_branches"]
    T, X = np.meshgrid(r.coords["t"], r.coords["x"], indexing="ij")
    np.testing.assert_allclose(b, np.sin(X[..., None] - b * T[..., None]), atol=5e-15)
    near_pi = np.abs(r.coords["x"] - PI) < 0.3
    assert (np.isfinite(b[-1, near_pi]).sum(axis=-1) == 3).all()  # the fold: three branches
    assert (np.isfinite(b[1]).sum(axis=-1) == 1).all()  # before breaking: one


def test_hamilton_jacobi_viscosity_is_hopf_lax():
    """u_t + u_x^2/2 = 0, g = -cos x: after the crossing at t = 1 the viscosity
    solution is min_y [g(y) + (x - y)^2 / (2 t)] (Hopf-Lax)."""
    from scipy.optimize import minimize_scalar

    r = solve_pde(pde(
        "variables: [t, x]\nequation: u_t + u_x^2/2 = 0\n"
        "initial: {parameters: {s: [-9.42477796076938, 15.707963267948966, 2001]}, t: 0, x: s, u: -cos(s)}\n"
        "grid: {t: [0.5, 2, 4], x: [0, 6.283185307179586, 41]}\n"
    ), crossing="viscosity")  # fmt: skip
    for i, t in enumerate(r.coords["t"]):
        for j, x in enumerate(r.coords["x"]):
            ys = np.linspace(x - 3 * t - 1, x + 3 * t + 1, 4001)
            vals = -np.cos(ys) + (x - ys) ** 2 / (2 * t)
            y0 = ys[np.argmin(vals)]
            best = minimize_scalar(lambda y, x=x, t=t: -np.cos(y) + (x - y) ** 2 / (2 * t),
                                   bracket=(y0 - 0.01, y0, y0 + 0.01), tol=1e-14)  # fmt: skip
            assert r["u"][i, j] == pytest.approx(best.fun, abs=1e-10), (t, x)


def test_eikonal_first_arrival_inside_a_circle():
    """|grad u| = 1, u = 0 on the unit circle, fronts moving inward: u = 1 - r.

    The rays all meet at the centre; there the map (s, tau) -> x is singular:
    the point may be left unreached (NaN), but is never given a wrong value;
    every other point is the first arrival to machine precision.
    """
    r = solve_pde(fronts_moving_in(721, "x: [-0.9, 0.9, 19], y: [-0.9, 0.9, 19]"),
                  crossing="viscosity")  # fmt: skip
    X, Y = np.meshgrid(r.coords["x"], r.coords["y"], indexing="ij")
    rr = np.hypot(X, Y)
    inside = (rr < 0.9) & (rr > 1e-12)
    np.testing.assert_allclose(r["u"][inside], 1 - rr[inside], atol=1e-13)
    centre = r["u"][rr < 1e-12]
    assert (np.isnan(centre) | (np.abs(centre - 1) < 1e-12)).all()


def test_eikonal_outside_a_circle():
    """Fronts moving outward from the circle of radius 1/2: u = r - 1/2 (no crossing)."""
    r = solve_pde(pde(
        "variables: [x, y]\nequation: u_x^2 + u_y^2 = 1\n"
        "initial: {parameters: {s: [0, 6.283185307179586, 721]}, x: cos(s)/2, y: sin(s)/2, u: 0, "
        "guess: {u_x: cos(s), u_y: sin(s)}}\n"
        "grid: {x: [-2, 2, 21], y: [-2, 2, 21]}\n"
    ))  # fmt: skip
    X, Y = np.meshgrid(r.coords["x"], r.coords["y"], indexing="ij")
    rr = np.hypot(X, Y)
    outside = rr > 0.5 + 1e-9
    np.testing.assert_allclose(r["u"][outside], rr[outside] - 0.5, atol=1e-13)


def test_evolution_shorthand():
    r = solve_pde(pde(
        "variables: [t, x]\nequation: u_t + x*u_x = 0\n"
        "initial: 'u(x, t=0) = exp(-x^2)'\n"
        "grid: {t: [0, 1, 3], x: [-2, 2, 21]}\n"
    ))  # fmt: skip
    T, X = np.meshgrid(r.coords["t"], r.coords["x"], indexing="ij")
    np.testing.assert_allclose(r["u"], np.exp(-((X * np.exp(-T)) ** 2)), atol=1e-13)
    with pytest.raises(SpecError, match="exactly one"):
        pde(
            "variables: [t, x]\nequation: u_t + u_x = 0\ninitial: 'u(x, t) = x'\ngrid: {t: [0, 1, 2], x: [0, 1, 2]}\n"
        )


def test_hermite_evaluation_converges_at_fourth_order():
    """Observed order of the Hermite evaluation under ray refinement (Burgers, t <= 0.9)."""
    errors = []
    for count in (101, 201, 401):
        p = pde(
            "variables: [t, x]\nequation: u_t + u*u_x = 0\n"
            f"initial: {{parameters: {{s: [-3.141592653589793, 9.42477796076938, {count}]}}, "
            "t: 0, x: s, u: sin(s)}\ngrid: {t: [0, 0.9, 10], x: [0, 6.283185307179586, 201]}\n"
        )
        r = solve_pde(p, evaluation="hermite")
        exact = solve_pde(p)  # Newton onto the exact rays: machine precision
        errors.append(np.nanmax(np.abs(r["u"] - exact["u"])))
    orders = np.log2(np.array(errors[:-1]) / np.array(errors[1:]))
    assert (orders > 3.5).all() and (orders < 4.6).all(), orders


@pytest.mark.parametrize("crossing", ["shock", "multivalued"])
def test_hermite_after_crossing_converges_at_fourth_order(crossing):
    """Burgers past breaking: branches on the Hermite interpolants of the rays agree with
    Newton's (exact rays) at fourth order in the ray spacing; the shock stays at pi."""
    errors = []
    for count in (101, 201, 401):
        p = pde(
            "variables: [t, x]\nequation: u_t + u*u_x = 0\n"
            f"initial: {{parameters: {{s: [-3.141592653589793, 9.42477796076938, {count}]}}, "
            "t: 0, x: s, u: sin(s)}\ngrid: {t: [0, 1.5, 4], x: [0.01, 6.27, 157]}\n"
        )
        r = solve_pde(p, crossing=crossing, evaluation="hermite")
        exact = solve_pde(p, crossing=crossing)
        key = "u_branches" if crossing == "multivalued" else "u"
        assert np.isfinite(r[key]).sum() == np.isfinite(exact[key]).sum()
        errors.append(np.nanmax(np.abs(r[key] - exact[key])))
        if crossing == "shock":
            shocks = list(zip(r["shock_t"], r["shock_x"]))
            assert len(shocks) == 1 and shocks[0][1] == pytest.approx(PI, abs=1e-12)
            np.testing.assert_allclose(r["u_x"], exact["u_x"], rtol=1e-3, atol=1e-3)
    orders = np.log2(np.array(errors[:-1]) / np.array(errors[1:]))
    assert (orders > 3.4).all() and (orders < 5.2).all(), (errors, orders)


def test_hermite_viscosity_is_hopf_lax():
    """u_t + u_x^2/2 = 0 from -cos x (Charpit strips, p interpolated too) at t = 2."""
    r = solve_pde(pde(
        "variables: [t, x]\nequation: u_t + u_x^2/2 = 0\n"
        "initial: {parameters: {s: [-9.42477796076938, 15.707963267948966, 801]}, t: 0, x: s, "
        "u: -cos(s)}\ngrid: {t: [2, 2, 1], x: [0, 6.283185307179586, 21]}\n"
    ), crossing="viscosity", evaluation="hermite")  # fmt: skip
    for j, x in enumerate(r.coords["x"]):
        assert r["u"][0, j] == pytest.approx(_hopf_lax_1d(x, 2.0), abs=1e-7), x


def _hopf_lax_1d(x, t):
    from scipy.optimize import minimize_scalar

    ys = np.linspace(x - 3 * t - 1, x + 3 * t + 1, 4001)
    y0 = ys[np.argmin(-np.cos(ys) + (x - ys) ** 2 / (2 * t))]
    return minimize_scalar(lambda y: -np.cos(y) + (x - y) ** 2 / (2 * t),
                           bracket=(y0 - 0.01, y0, y0 + 0.01), tol=1e-14).fun  # fmt: skip


@pytest.mark.parametrize("crossing", ["viscosity", "multivalued"])
def test_hamilton_jacobi_in_two_dimensions(crossing):
    """u_t + |grad u|^2/2 = 0, g = -cos x - cos y: the Hopf-Lax value separates into
    two 1-D minimisations; breaking at t = 1 (rays through x = pi or y = pi)."""
    r = solve_pde(pde(
        "variables: [t, x, y]\nequation: u_t + (u_x^2 + u_y^2)/2 = 0\n"
        'initial: "u(x, y, t=0) = -cos(x) - cos(y)"\n'
        "grid: {t: [0.5, 2, 3], x: [0, 6.283185307179586, 9], y: [0, 3.141592653589793, 5]}\n"
    ), crossing=crossing)  # fmt: skip
    assert r.attrs["breaking_time"] == pytest.approx(1.0, abs=1e-12)
    for i, t in enumerate(r.coords["t"]):
        for j, x in enumerate(r.coords["x"]):
            for k, y in enumerate(r.coords["y"]):
                exact = _hopf_lax_1d(x, t) + _hopf_lax_1d(y, t)
                if crossing == "viscosity":
                    assert r["u"][i, j, k] == pytest.approx(exact, abs=1e-12)
                else:  # the viscosity value is one of the branches kept
                    br = r["u_branches"][i, j, k]
                    assert np.nanmin(np.abs(br - exact)) < 1e-12
    if crossing == "multivalued":
        assert np.isfinite(r["u_branches"][-1]).sum(axis=-1).max() >= 3


def test_eikonal_multivalued_keeps_the_rays_through_the_focus():
    """Fronts moving in from the unit circle, no evolution variable.  Inside, the direct
    ray (u = 1 - r) and the one that has passed through the focus (u = 1 + r); outside,
    the ray traced backwards (u = 1 - r < 0) and the one through the focus.  Branches in
    order of distance from the data along the ray; u is the first, with its gradient."""
    r = solve_pde(fronts_moving_in(181, "x: [-1.45, 1.45, 30], y: [-1.35, 1.35, 28]"),
                  crossing="multivalued")  # fmt: skip
    X, Y = np.meshgrid(r.coords["x"], r.coords["y"], indexing="ij")
    R = np.hypot(X, Y)
    br = np.asarray(r["u_branches"])
    assert br.shape == (30, 28, 2)  # the periodic data's end rays are one ray, not two
    np.testing.assert_allclose(br[..., 0], 1 - R, rtol=0, atol=1e-12)
    np.testing.assert_allclose(br[..., 1], 1 + R, rtol=0, atol=1e-12)
    np.testing.assert_allclose(r["u"], 1 - R, rtol=0, atol=1e-12)
    np.testing.assert_allclose(r["u_x"], -X / R, rtol=0, atol=1e-10)
    np.testing.assert_allclose(r["u_y"], -Y / R, rtol=0, atol=1e-10)
    assert r.attrs["crossing_method"] == "multivalued"


def test_eikonal_near_the_focus_takes_the_direct_ray():
    """Fronts moving in from r = 1/2: close to the centre the ray that has passed through
    the focus (u = 1/2 + r) must lose to the direct one (u = 1/2 - r)."""
    r = solve_pde(pde(
        "variables: [x, y]\nequation: u_x^2 + u_y^2 = 1\n"
        "initial: {parameters: {s: [0, 6.283185307179586, 721]}, x: 0.5*cos(s), y: 0.5*sin(s), "
        "u: 0, guess: {u_x: -cos(s), u_y: -sin(s)}}\n"
        "grid: {x: [-1, 1, 51], y: [-1, 1, 51]}\n"
    ), crossing="viscosity")  # fmt: skip
    X, Y = np.meshgrid(r.coords["x"], r.coords["y"], indexing="ij")
    exact = 0.5 - np.hypot(X, Y)
    reached = np.isfinite(r["u"]) & (np.hypot(X, Y) < 0.5)
    assert reached.sum() >= 480
    assert np.abs(r["u"][reached] - exact[reached]).max() < 1e-12


def test_hermite_refuses_what_it_does_not_cover():
    with pytest.raises(SpecError, match="hermite"):  # no evolution variable
        solve_pde(fronts_moving_in(91, "x: [-1, 1, 5], y: [-1, 1, 5]"), evaluation="hermite")
    with pytest.raises(SpecError, match="one space dimension"):
        solve_pde(pde(
            "variables: [t, x, y]\nequation: u_t + u_x + u_y = 0\n"
            'initial: "u(x, y, t=0) = x"\ngrid: {t: [0, 1, 2], x: [0, 1, 3], y: [0, 1, 3]}\n'
        ), evaluation="hermite")  # fmt: skip


def test_breaking_time_says_how_far_it_was_looked_for():
    r = solve_pde(pde(
        "variables: [t, x]\nequation: u_t + u*u_x = 0\n"
        'initial: "u(x, t=0) = sin(x)"\ngrid: {t: [0, 0.3, 4], x: [0, 6.283185307179586, 11]}\n'
    ))  # fmt: skip
    assert r.attrs["breaking_time"] == "none"  # t* = 1 lies beyond the rays traced
    assert r.attrs["breaking_time_searched_to"] == pytest.approx(0.6)


@pytest.mark.parametrize(
    "branch, inside", [("1", True), ("-1", False), ('"+"', True), ('"-"', False)]
)
@pytest.mark.parametrize("evaluation", ["newton", "raster"])
def test_branch_picks_the_root_by_its_side_of_the_data(branch, inside, evaluation):
    """|grad u| = 1 from the unit circle traced counter-clockwise: its normal (the tangent
    turned left) points in, so branch +1 sends the fronts in (1 - r inside), -1 out.
    The other side is not reached: the fronts going in meet at the centre, and a ray
    past that focus is no first arrival (it was taken, u = 1 + r outside; the raster
    also put it at nodes on the data, u = 2 for 0)."""
    r = solve_pde(pde(
        "variables: [x, y]\nequation: u_x^2 + u_y^2 = 1\n"
        "initial: {parameters: {s: [0, 6.283185307179586, 181]}, x: cos(s), y: sin(s), u: 0, "
        f"branch: {branch}}}\ngrid: {{x: [-1.4, 1.4, 8], y: [-1.4, 1.4, 8]}}\n"
    ), crossing="viscosity", evaluation=evaluation)  # fmt: skip
    X, Y = np.meshgrid(r.coords["x"], r.coords["y"], indexing="ij")
    R = np.hypot(X, Y)
    region = R < 1 if inside else R > 1
    tol = 1e-12 if evaluation == "newton" else 1e-8
    np.testing.assert_allclose(r["u"][region], np.abs(1 - R[region]), rtol=0, atol=tol)
    assert np.isnan(r["u"][~region]).all()  # the fronts never go the other way


def test_branch_is_checked():
    base = ("variables: [x, y]\nequation: {eq}\n"
            "initial: {{parameters: {{s: [0, 6.283185307179586, 91]}}, x: cos(s), y: sin(s), "
            "u: 0, {extra}}}\ngrid: {{x: [-1, 1, 3], y: [-1, 1, 3]}}\n")  # fmt: skip
    with pytest.raises(SpecError, match="not on branch") as err:  # the guess goes outward
        solve_pde(pde(base.format(eq="u_x^2 + u_y^2 = 1",
                                  extra="guess: {u_x: cos(s), u_y: sin(s)}, branch: 1")))  # fmt: skip
    assert err.value.field == "initial.branch"
    with pytest.raises(SpecError, match="fully nonlinear"):
        solve_pde(pde(base.format(eq="u_x + u_y = 1", extra="branch: 1")))
    with pytest.raises(SpecError, match=r"p.yaml:4: initial.branch: expected \+1 or -1"):
        pde(base.format(eq="u_x^2 + u_y^2 = 1", extra="branch: 2"))


def test_manifold_normals_complete_a_positive_frame():
    from charme.kernels import manifold_normals

    np.testing.assert_allclose(manifold_normals(np.array([[[1.0, 0.0]], [[0.0, 2.0]]])),
                               [[0.0, 1.0], [-2.0, 0.0]])  # fmt: skip
    frame = np.array([[[1.0, 0, 0], [0, 1.0, 0]], [[0, 1.0, 0], [1.0, 0, 0]]])
    np.testing.assert_allclose(manifold_normals(frame), [[0, 0, 1.0], [0, 0, -1.0]])


def _mirrored(text, pairs):
    for old, new in pairs:
        assert old in text
        text = text.replace(old, new)
    return pde(text)


def test_concave_flux_shock_is_the_mirror_of_burgers():
    """u_t - u u_x = 0 from -sin x is Burgers from sin x for w = -u (the flux -u^2/2 is
    concave: the Lax-Oleinik maximum is the entropy solution), shock at pi."""
    w = solve_pde(pde(BURGERS), crossing="shock")
    u = solve_pde(_mirrored(BURGERS, [("u_t + u*u_x", "u_t - u*u_x"), ("u: sin(s)", "u: -sin(s)")]),
                  crossing="shock")  # fmt: skip
    np.testing.assert_allclose(u["u"], -np.asarray(w["u"]), rtol=0, atol=1e-13)
    shocks = list(zip(u["shock_t"], u["shock_x"]))
    assert shocks and shocks[0][1] == pytest.approx(PI, abs=1e-9)


def test_concave_hamiltonian_viscosity_takes_the_largest_branch():
    """u_t - u_x^2/2 = 0 from cos x: v = -u solves v_t + v_x^2/2 = 0 from -cos x, whose
    viscosity solution is the Hopf-Lax minimum; so u is the largest branch."""
    text = ("variables: [t, x]\nequation: u_t + u_x^2/2 = 0\n"
            "initial: {parameters: {s: [-9.42477796076938, 15.707963267948966, 2001]}, t: 0, "
            "x: s, u: -cos(s)}\ngrid: {t: [0.5, 2, 4], x: [0, 6.283185307179586, 41]}\n")  # fmt: skip
    v = solve_pde(pde(text), crossing="viscosity")
    u = solve_pde(_mirrored(text, [("u_t + u_x^2/2", "u_t - u_x^2/2"), ("u: -cos(s)", "u: cos(s)")]),
                  crossing="viscosity")  # fmt: skip
    np.testing.assert_allclose(u["u"], -np.asarray(v["u"]), rtol=0, atol=1e-12)
    multi = solve_pde(_mirrored(text, [("u_t + u_x^2/2", "u_t - u_x^2/2"),
                                       ("u: -cos(s)", "u: cos(s)")]), crossing="multivalued")  # fmt: skip
    np.testing.assert_allclose(u["u"], np.nanmax(multi["u_branches"], axis=-1), rtol=0, atol=1e-12)


@pytest.mark.parametrize("equation, crossing, what", [
    ("u_t + u^2*u_x = 0", "shock", "flux"),          # f = u^3/3: f'' = 2u changes sign
    ("u_t + u_x^3/3 = 0", "viscosity", "Hamiltonian"),  # H'' = 2p changes sign
])  # fmt: skip
def test_neither_convex_nor_concave_is_refused(equation, crossing, what):
    with pytest.raises(SpecError, match=f"{what}.*neither convex nor concave"):
        solve_pde(pde(f"variables: [t, x]\nequation: {equation}\n"
                      'initial: "u(x, t=0) = sin(x)"\ngrid: {t: [0, 2, 3], x: [0, 6.28, 21]}\n'),
                  crossing=crossing)  # fmt: skip


def test_first_arrival_needs_an_equation_convex_in_the_gradient():
    """1 = u_x^2 + u_y^2 is the eikonal equation written concave in p: its rays run
    backwards, and first arrival would be meaningless; refused with the way out."""
    text = ("variables: [x, y]\nequation: 1 = u_x^2 + u_y^2\n"
            "initial: {parameters: {s: [0, 6.283185307179586, 91]}, x: cos(s), y: sin(s), u: 0, "
            "branch: -1}\ngrid: {x: [-2, 2, 6], y: [-2, 2, 6]}\n")  # fmt: skip
    with pytest.raises(SpecError, match="u_x\\^2 \\+ u_y\\^2 = 1 rather than"):
        solve_pde(pde(text), crossing="viscosity")
    r = solve_pde(pde(text), crossing="stop")  # stop does not depend on the orientation
    X, Y = np.meshgrid(r["x"], r["y"], indexing="ij")
    np.testing.assert_allclose(r["u"], np.hypot(X, Y) - 1, rtol=0, atol=1e-9)


def test_blow_up_ends_only_the_rays_that_blow_up():
    """u_t + u_x = u^2 from sin x: u = g / (1 - t g), g = sin(x - t), blows up along each
    ray at t = 1/g; the other points keep their values (they were all NaN after the
    first blow-up)."""
    r = solve_pde(pde('variables: [t, x]\nequation: u_t + u_x = u^2\n'
                      'initial: "u(x, t=0) = sin(x)"\ngrid: {t: [0, 2, 9], x: [0, 3, 31]}\n'))  # fmt: skip
    T, X = np.meshgrid(r["t"], r["x"], indexing="ij")
    g = np.sin(X - T)
    blown = T * g >= 1
    u = np.asarray(r["u"])
    assert np.isnan(u[blown]).all() and np.isfinite(u[~blown]).all()
    np.testing.assert_allclose(u[~blown], (g / (1 - T * g))[~blown], rtol=1e-9, atol=1e-13)
    assert r.attrs["blow_up_time"] == pytest.approx(1.0, abs=1e-9)  # between samples


def test_data_undefined_on_part_of_the_range():
    """sqrt(x) is undefined for x < 0, which the shorthand samples: those samples give no
    ray (they were counted as a blow-up at t = 0, and every point was NaN)."""
    r = solve_pde(pde('variables: [t, x]\nequation: u_t + u_x = 0\n'
                      'initial: "u(x, t=0) = sqrt(x)"\ngrid: {t: [0, 0.5, 3], x: [0, 1, 5]}\n'))  # fmt: skip
    T, X = np.meshgrid(r["t"], r["x"], indexing="ij")
    u = np.asarray(r["u"])
    reached = X - T > 1e-9  # x - t = 0 is the ray from sqrt's infinite slope: none
    np.testing.assert_allclose(
        u[reached], np.sqrt(np.maximum(X - T, 0))[reached], rtol=0, atol=1e-13
    )
    assert np.isnan(u[X - T < -1e-9]).all()
    assert r.attrs["blow_up_time"] == "none"


def _moc(tmp_path, text, *args):
    spec = tmp_path / "p.yaml"
    spec.write_text("kind: pde\n" + text)
    out = tmp_path / "out.nc"
    res = CliRunner().invoke(cli, ["moc", str(spec), "-o", str(out), *map(str, args)])
    return res, out


EIKONAL_CONCAVE = ("variables: [x, y]\nequation: 1 = u_x^2 + u_y^2\n"
                   "initial: {parameters: {s: [0, 6.283185307179586, 91]}, x: cos(s), "
                   "y: sin(s), u: 0, branch: -1}\ngrid: {x: [-2, 2, 6], y: [-2, 2, 6]}\n")  # fmt: skip
SIMPLE = ('variables: [t, x]\nparameters: {c: 1}\nequation: u_t + c*u_x = 0\n'
          'initial: "u(x, t=0) = sin(x)"\n')  # fmt: skip


@pytest.mark.parametrize("text, args, message", [
    # an error the solver finds names the file, the line of its field and the field
    (EIKONAL_CONCAVE, ["--crossing", "viscosity"], r"p\.yaml:3: equation: .*concave"),
    (SIMPLE + "grid: {t: [0, 1, 100000], x: [0, 1, 100000]}\n", [],
     r"p\.yaml:6: grid: the grid has 1e\+10 points"),
    (SIMPLE + "grid: {t: [0, 1, 3], x: [0, 1, 3]}\n", ["--set", "c=nan"], "not a finite number"),
    (SIMPLE.replace("{c: 1}", "{c: .inf}") + "grid: {t: [0, 1, 3], x: [0, 1, 3]}\n", [],
     r"p\.yaml:3: parameters: .*'c' must be a finite number"),
])  # fmt: skip
def test_cli_errors_are_located_and_leave_nothing(tmp_path, text, args, message):
    res, out = _moc(tmp_path, text, *args)
    assert res.exit_code == 2, res.output
    assert re.search(message, res.output), res.output
    assert not out.exists()


def test_cli_says_how_many_points_no_ray_reaches(tmp_path):
    res, out = _moc(tmp_path, "variables: [t, x]\nequation: u_t + u_x = 0\n"
                    "initial: {parameters: {s: [0, 1, 11]}, t: 0, x: s, u: sin(s)}\n"
                    "grid: {t: [0, 10, 11], x: [0, 1, 11]}\n")  # fmt: skip
    assert res.exit_code == 0, res.output
    with xr.open_dataset(out) as ds:
        unreached = int((ds["mask"] == 0).sum())
    assert unreached > 0 and f"note: {unreached} of 121 grid points" in res.output


def test_abs_of_the_gradient_compiles():
    """u_t + |u_x| = 0: H'(p) = sign(p), and SymPy's p sign(p) comes back as a Piecewise
    (it was 'cannot compile'). u is constant along rays moving with sign(u_x); they cross
    at once where the speed jumps from +1 to -1 (x = pi/2), so every branch is kept."""
    r = solve_pde(pde('variables: [t, x]\nequation: u_t + abs(u_x) = 0\n'
                      'initial: "u(x, t=0) = sin(x)"\ngrid: {t: [0.5, 0.5, 1], x: [0, 3, 7]}\n'),
                  crossing="multivalued")  # fmt: skip
    assert r.attrs["breaking_time"] == 0.0
    x = np.asarray(r["x"])
    branches = np.asarray(r["u_branches"])[0]
    for i, xi in enumerate(x):  # the feet: s = x - 0.5 moving right, s = x + 0.5 left
        feet = [s for s, right in ((xi - 0.5, True), (xi + 0.5, False))
                if (np.cos(s) > 0) == right]  # fmt: skip
        got = np.sort(branches[i][np.isfinite(branches[i])])
        np.testing.assert_allclose(got, np.sort(np.sin(feet)), rtol=0, atol=1e-12)


@pytest.mark.parametrize("shift, count", [(0.1234, 2001), (0.0, 2000), (0.3, 201)])
def test_breaking_time_between_samples(shift, count):
    """Burgers from sin(x + shift): t* = 1 at x = pi - shift, wherever the samples fall
    (it was 1 + 1.3e-6 for shift 0.1234, and at x = -pi, off the grid, for 2000)."""
    r = solve_pde(pde(
        "variables: [t, x]\nequation: u_t + u*u_x = 0\n"
        f"initial: {{parameters: {{s: [-3.141592653589793, 9.42477796076938, {count}]}}, t: 0, "
        f"x: s, u: sin(s + {shift})}}\ngrid: {{t: [0, 0.9, 4], x: [0, 6.283185307179586, 41]}}\n"
    ))  # fmt: skip
    assert r.attrs["breaking_time"] == pytest.approx(1.0, abs=1e-13)
    assert r.attrs["breaking_location_x"] == pytest.approx(PI - shift, abs=1e-7)


def test_a_compressive_jump_breaks_at_once():
    """Burgers from a step down (1 then 0): the rays from the two sides cross at t = 0+;
    the breaking time is 0 at the jump (it was 'none', and `stop` picked a branch in
    the overlap), and `shock` gives the shock x = t/2."""
    text = ("variables: [t, x]\nequation: u_t + u*u_x = 0\n"
            'initial: "u(x, t=0) = 0.5*(1 - x/abs(x))"\ngrid: {t: [0, 2, 5], x: [-1, 2, 31]}\n')  # fmt: skip
    stop = solve_pde(pde(text))
    assert stop.attrs["breaking_time"] == 0.0
    assert stop.attrs["breaking_location_x"] == pytest.approx(0.0, abs=1e-9)
    assert np.isnan(np.asarray(stop["u"])[1:]).all()
    shock = solve_pde(pde(text), crossing="shock")
    assert shock.attrs["breaking_time"] == 0.0
    for t, x in list(zip(shock["shock_t"], shock["shock_x"])):
        assert x == pytest.approx(t / 2, abs=1e-9)
    T, X = np.meshgrid(shock["t"], shock["x"], indexing="ij")
    u = np.asarray(shock["u"])
    later = (T > 0) & (np.abs(X - T / 2) > 0.05)
    np.testing.assert_allclose(u[later], np.where(X < T / 2, 1.0, 0.0)[later], rtol=0, atol=1e-12)


@pytest.mark.parametrize("text, message", [
    ("variables: [t, x]\nequation: u_t + u_x = 0\n"  # data along a characteristic
     "initial: {parameters: {s: [0, 1, 11]}, t: s, x: s, u: s}\ngrid: {t: [0, 1, 3], x: [0, 1, 3]}\n",
     "characteristic"),
    ("variables: [t, x]\nequation: u_t + u_x = 0\n"  # the grid behind the data
     'initial: "u(x, t=0.5) = x"\ngrid: {t: [0, 1, 3], x: [0, 1, 3]}\n', r"grid\.t: the grid's t"),
    ("variables: [x, y]\nequation: u_x^2 + u_y^2 = 1\n"  # no gradient on the data: |u_s| > 1
     "initial: {parameters: {s: [0, 1, 11]}, x: s, y: 0, u: 2*s}\ngrid: {x: [0, 1, 3], y: [0, 1, 3]}\n",
     "completing the initial gradient"),
])  # fmt: skip
def test_validate_checks_the_data_as_the_solver_does(tmp_path, text, message):
    spec = tmp_path / "p.yaml"
    spec.write_text("kind: pde\n" + text)
    res = CliRunner().invoke(cli, ["validate", str(spec)])
    assert res.exit_code == 2 and re.search(message, res.output), res.output
    assert "p.yaml:" in res.output


def test_validate_reports_the_data():
    res = CliRunner().invoke(cli, ["validate", "examples/eikonal_circle.yaml"])
    assert res.exit_code == 0, res.output
    assert "Cauchy data: 361 rays, transversal, the gradient completed on each" in res.output


def test_hermite_keeps_nodes_on_the_last_ray():
    """Data on s in [0, 1], u = 1/2: at t the rays cover [t/2, 1 + t/2]; nodes on the
    end rays are within rounding of them (hermite dropped them, Newton did not)."""
    p = pde("variables: [t, x]\nequation: u_t + u*u_x = 0\n"
            "initial: {parameters: {s: [0, 1, 11]}, t: 0, x: s, u: 0.5}\n"
            "grid: {t: [0, 1, 3], x: [0, 1.5, 7]}\n")  # fmt: skip
    a, b = solve_pde(p), solve_pde(p, evaluation="hermite")
    assert (np.isfinite(a["u"]) == np.isfinite(b["u"])).all()
    assert int(np.isfinite(b["u"]).sum()) == 15


def test_curvature_sign_of_small_matrices():
    from charme.solvers.characteristics.driver import _curvature_sign

    rot = np.array([[np.cos(0.3), -np.sin(0.3)], [np.sin(0.3), np.cos(0.3)]])
    for k in (1, 2, 3):
        eye = np.eye(k)
        psd = np.stack([eye, 2 * eye, np.diag([1.0] + [0.0] * (k - 1))])
        if k == 2:
            psd = np.concatenate([psd, (rot @ np.diag([3.0, 0.5]) @ rot.T)[None]])
        assert _curvature_sign(psd, "H") == 1.0
        assert _curvature_sign(-psd, "H") == -1.0
        mixed = np.concatenate([psd, -psd]) if k == 1 else np.diag([1.0, -1.0, 1.0][:k])[None]
        with pytest.raises(SpecError, match="neither convex nor concave"):
            _curvature_sign(mixed, "H")
    assert _curvature_sign(np.zeros((4, 2, 2)), "H") == 1.0  # linear in p: either


def test_guess_is_refused_where_the_gradient_is_unique():
    with pytest.raises(SpecError, match="initial.guess.*linear"):
        solve_pde(pde("variables: [t, x]\nequation: u_t + u_x = 0\n"
                      "initial: {parameters: {s: [0, 1, 11]}, t: 0, x: s, u: s, guess: {u_x: 1}}\n"
                      "grid: {t: [0, 1, 3], x: [0, 1, 3]}\n"))  # fmt: skip


def test_shorthand_data_are_sampled_as_far_out_as_the_rays_need():
    """u_t + u_x = 0 to t = 10 on x in [0, 1]: the rays come from x - 10; the shorthand
    samples [-1, 2] (the grid's range widened by its length), and the solver widens it
    (98 of 121 points were NaN).  Full-form data are the user's choice: not widened."""
    r = solve_pde(pde('variables: [t, x]\nequation: u_t + u_x = 0\n'
                      'initial: "u(x, t=0) = sin(x)"\ngrid: {t: [0, 10, 11], x: [0, 1, 11]}\n'))  # fmt: skip
    T, X = np.meshgrid(r["t"], r["x"], indexing="ij")
    np.testing.assert_allclose(r["u"], np.sin(X - T), rtol=0, atol=1e-13)
    r = solve_pde(pde('variables: [t, x]\nequation: u_t + x*u_x = 0\n'  # already far enough
                      'initial: "u(x, t=0) = exp(-x^2)"\ngrid: {t: [0, 2, 5], x: [-3, 3, 61]}\n'))  # fmt: skip
    assert r.attrs["rays"] == 2 * 61 * 3 + 1


def test_shock_with_a_zero_flux():
    """u_t + c u u_x = 0 with c = 0 is u_t = 0: a conservation law with f = 0, no shock
    (it was refused as 'not a conservation law')."""
    r = solve_pde(pde('variables: [t, x]\nparameters: {c: 0}\nequation: u_t + c*u*u_x = 0\n'
                      'initial: "u(x, t=0) = sin(x)"\ngrid: {t: [0, 2, 3], x: [0, 6, 13]}\n'),
                  crossing="shock")  # fmt: skip
    T, X = np.meshgrid(r["t"], r["x"], indexing="ij")
    np.testing.assert_allclose(r["u"], np.sin(X), rtol=0, atol=1e-14)
    assert list(zip(r["shock_t"], r["shock_x"])) == []


def test_first_sign_changes_scan_each_ray_to_its_first_crossing():
    """The per-ray scan agrees with the determinants at every level, and stops at the
    first change: rays into a circle cross at its centre, rays out never."""
    from charme.solvers.characteristics import kernels as CK
    from charme.solvers.characteristics.compile import (
        compile_pde,
        initial_guesses,
        manifold_samples,
    )

    r = 0.5
    spec = pde(
        "variables: [x, y]\nequation: u_x^2 + u_y^2 = 1\n"
        "initial: {parameters: {s: [0, 6.283185307179586, 41]}, x: 0.5*cos(s), "
        "y: 0.5*sin(s), u: 0, guess: {u_x: -cos(s), u_y: -sin(s)}}\n"
        "grid: {x: [-1, 1, 3], y: [-1, 1, 3]}\n"
    )
    c = compile_pde(spec)
    S = manifold_samples(spec)
    y0 = np.empty((len(S), c.d))
    ok = np.zeros(len(S), np.bool_)
    CK.initial_states(c.icode, c.iconsts, c.iprog, c.fcode, c.fconsts, c.fprog, c.n, c.charpit,
                      S, initial_guesses(spec, S), y0, ok)  # fmt: skip
    for sign in (1.0, -1.0):  # inward (crossing at the centre), then outward (none)
        taus = np.linspace(0.0, sign * 2.0, 81)
        out = np.empty((len(S), len(taus), c.d))
        status, reached = np.empty(len(S), np.int64), np.empty(len(S))
        CK.trace(c.code, c.consts, c.prog, c.nz, y0, taus, 1e-12, 1e-15, out, status, reached)
        dets = np.empty(out.shape[0] * out.shape[1])
        CK.jacobian_dets(c.code, c.consts, c.prog, c.nz, c.n, out.reshape(-1, c.d).copy(), dets)
        dets = dets.reshape(out.shape[:2])
        det0 = dets[:, 0].copy()
        flip, before, after = np.empty(len(S), np.int64), np.empty(len(S)), np.empty(len(S))
        touch = np.empty(len(S))
        over_rows(CK.first_sign_changes, len(S), c.code, c.consts, c.prog, c.nz, c.n, out,
                  taus, det0, 1e-6, flip, before, after, touch)  # fmt: skip
        assert np.isnan(touch).all()  # in 2-D, rays into a circle cross (det changes sign)
        changes = (dets * det0[:, None] <= 0)[:, 1:]
        expected = np.where(changes.any(axis=1), np.argmax(changes, axis=1) + 1, -1)
        np.testing.assert_array_equal(flip, expected)
        if sign > 0:
            # dx/dtau = F_p = 2p: the rays meet at the centre at tau = r / 2
            assert (flip > 0).all()
            assert (taus[flip - 1] < r / 2 + 1e-9).all() and (taus[flip] > r / 2 - 1e-9).all()
            rows = np.arange(len(S))
            np.testing.assert_allclose(before, dets[rows, flip - 1], rtol=1e-14)
            np.testing.assert_allclose(after, dets[rows, flip], rtol=1e-14)
        else:
            assert (flip == -1).all()


def test_grid_residual_in_slabs_is_the_max_over_reached_nodes(monkeypatch):
    """max |F| over the nodes with a value, the same in one slab or many (3-D grid)."""
    from charme.solvers.characteristics import driver as D

    spec = pde(
        "variables: [x, y, z]\nequation: x*u_x + 2*y*u_y + u_z = 3*u\n"
        "initial: {parameters: {a: [-1, 1, 5], b: [-1, 1, 5]}, x: a, y: b, z: 0, u: a*b}\n"
        "grid: {x: [-1, 1, 7], y: [-1, 1, 5], z: [0, 1, 3]}\n"
    )
    axes = [np.linspace(a, b, k) for a, b, k in spec.grid]
    rng = np.random.default_rng(3)
    u = rng.normal(size=(7, 5, 3))
    grad = rng.normal(size=(7, 5, 3, 3))
    u[0, 0, 0] = np.nan  # unreached: left out however large F would be there
    grad[0, 0, 0] = 1e6
    X, Y, Z = np.meshgrid(*axes, indexing="ij")
    f = np.abs(X * grad[..., 0] + 2 * Y * grad[..., 1] + grad[..., 2] - 3 * u)
    expected = np.nanmax(np.where(np.isfinite(u), f, np.nan))
    assert D._grid_residual(spec, axes, u, grad) == pytest.approx(expected, rel=1e-15)
    monkeypatch.setattr(D, "RESIDUAL_SLAB", 15)  # one x-row (5 * 3 nodes) per slab
    assert D._grid_residual(spec, axes, u, grad) == pytest.approx(expected, rel=1e-15)
    assert np.isnan(D._grid_residual(spec, axes, np.full_like(u, np.nan), grad))


def test_csv_keeps_every_branch_of_multivalued(tmp_path):
    """--crossing multivalued to CSV: a column per branch, NaN where a point has fewer."""
    import csv

    out = tmp_path / "m.csv"
    res = CliRunner().invoke(cli, ["moc", "examples/burgers_shock.yaml", "-o", str(out), "-q",
                                   "--crossing", "multivalued"])  # fmt: skip
    assert res.exit_code == 0, res.output
    rows = list(csv.reader(out.read_text().splitlines()))
    head, body = rows[0], np.array(rows[1:], float)
    branch_cols = [i for i, name in enumerate(head) if name.startswith("u_branches_")]
    assert head[:4] == ["t", "x", "u", "mask"] and len(branch_cols) == 3
    b = body[:, branch_cols]
    t, x = body[:, 0], body[:, 1]
    assert (np.isfinite(b).sum(axis=1)[(t == 2.0) & (np.abs(x - PI) < 0.3)] == 3).all()
    assert (np.isfinite(b).sum(axis=1)[t == 0.0] == 1).all()
    np.testing.assert_array_equal(body[:, 2], b[:, 0])  # u is the first branch
    ok = np.isfinite(b)
    np.testing.assert_allclose(b[ok], np.sin((x[:, None] - b * t[:, None])[ok]), atol=5e-15)


def test_shocks_and_breaking_location_are_numbers_on_disk(tmp_path):
    """--crossing shock: the shocks are shock_t(shock) and shock_x(shock), the first
    crossing breaking_location_<var>, all plain numbers in the NetCDF file (xarray reads
    them without parsing); no shock: a zero-length shock dimension."""
    out = tmp_path / "s.nc"
    res = CliRunner().invoke(cli, ["moc", "examples/burgers_shock.yaml", "-o", str(out),
                                   "--crossing", "shock"])  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "rays" in res.output
    with xr.open_dataset(out) as ds:
        assert ds["shock_t"].dims == ("shock",) and ds["shock_x"].dims == ("shock",)
        np.testing.assert_array_equal(ds["shock_t"], [1.5, 2.0])  # the levels after t = 1
        np.testing.assert_allclose(ds["shock_x"], PI, rtol=0, atol=1e-12)
        assert ds.attrs["breaking_location_t"] == ds.attrs["breaking_time"] == 1.0
        assert ds.attrs["breaking_location_x"] == pytest.approx(PI, abs=1e-9)
    smooth = solve_pde(pde(
        "variables: [t, x]\nequation: u_t + u*u_x = 0\n"
        'initial: "u(x, t=0) = sin(x)"\ngrid: {t: [0, 0.4, 3], x: [0, 6, 13]}\n'
    ), crossing="shock")  # fmt: skip
    smooth.write(tmp_path / "none.nc")
    with xr.open_dataset(tmp_path / "none.nc") as ds:
        assert ds.sizes["shock"] == 0 and ds["shock_x"].size == 0
        assert ds.attrs["breaking_location_x"] == "none"


def test_newton_signed_distance_agrees_with_the_raster():
    """The signed distance from an ellipse (rays both ways, --crossing stop), Newton per
    node against the raster.  Newton's seeds were the nearest ray samples whichever way
    they went: above the ellipse the backward rays crowd towards their focus and took
    every seed, so the forward ray (u = +0.55 at (0, 0.85)) was never tried and a
    backward one past the medial axis won (-1.15); and Newton moving far along the data
    could complete the gradient on the other branch (inside nodes got +d for -d)."""
    text = ("variables: [x, y]\nequation: u_x^2 + u_y^2 = 1\n"
            "initial: {parameters: {s: [0, 6.283185307179586, 721]}, x: 0.6*cos(s), "
            "y: 0.3*sin(s), u: 0, branch: -1}\ngrid: {x: [-1, 1, 41], y: [-1, 1, 41]}\n")  # fmt: skip
    newton = solve_pde(pde(text))
    raster = solve_pde(pde(text), evaluation="raster")
    assert not np.isnan(newton["u"]).any() and not np.isnan(raster["u"]).any()
    np.testing.assert_allclose(newton["u"], raster["u"], rtol=0, atol=1e-8)
    assert newton["u"][20, 37] == pytest.approx(0.55, abs=1e-12)  # (0, 0.85)


def test_newton_without_evolution_solves_each_ray_once(monkeypatch):
    """y u_x - x u_y = 0 with u = s^2 on 0.1 <= x = s <= 2: u = r^2 on the annulus the
    rays sweep, NaN off it.  A node's seeds head for one ray each way round (or for
    one off the data): Newton solves one of them per node here (every seed was solved,
    four per node)."""
    from charme.solvers.characteristics import kernels as K

    solved = []
    locate = K.locate_general

    def counting(lo, hi, *args):
        solved.append(hi - lo)  # the targets of this chunk
        return locate(lo, hi, *args)

    monkeypatch.setattr(K, "locate_general", counting)
    r = solve_pde(pde(
        "variables: [x, y]\nequation: y*u_x - x*u_y = 0\n"
        "initial: {parameters: {s: [0.1, 2, 101]}, x: s, y: 0, u: s^2}\n"
        "grid: {x: [-3, 3, 16], y: [-3, 3, 16]}\n"
    ))  # fmt: skip
    X, Y = np.meshgrid(r.coords["x"], r.coords["y"], indexing="ij")
    rr = np.hypot(X, Y)
    swept = (rr >= 0.1) & (rr <= 2)
    np.testing.assert_allclose(r["u"][swept], rr[swept] ** 2, rtol=1e-12)
    assert np.isnan(r["u"][~swept]).all()
    assert sum(solved) <= 1.2 * rr.size


@pytest.mark.parametrize("points", [128, 129, 201])
def test_young_shocks_narrower_than_the_grid_are_found(points):
    """u0 = sin x + sin(2x)/2 breaks at t = 8/9 in two places; at t = 1 each fold is
    narrower than the grid's spacing, so no grid point had two branches and the shock
    was listed on some grids only.  Both are found now, where the Lax-Oleinik values of
    the two outer feet agree (computed here independently by brentq)."""
    from scipy.optimize import brentq

    def lax_oleinik_gap(x):  # L(s1) - L(s2) over the outermost feet of x = s + u0(s)
        f = lambda s: s + np.sin(s) + 0.5 * np.sin(2 * s) - x  # noqa: E731
        ss = np.linspace(x - 2, x + 2, 4001)
        v = f(ss)
        roots = [brentq(f, ss[i], ss[i + 1], xtol=1e-15)
                 for i in np.flatnonzero(np.sign(v[:-1]) != np.sign(v[1:]))]  # fmt: skip
        u0 = lambda s: np.sin(s) + 0.5 * np.sin(2 * s)  # noqa: E731
        big = lambda s: -np.cos(s) - 0.25 * np.cos(2 * s)  # noqa: E731
        L = [big(s) + u0(s) * (x - s) - u0(s) ** 2 / 2 for s in (roots[0], roots[-1])]
        return L[0] - L[1]

    def edge(s):
        return s + np.sin(s) + 0.5 * np.sin(2 * s)

    exact = [brentq(lax_oleinik_gap, edge(2 * PI / 3) + 1e-6, edge(PI / 2) - 1e-6, xtol=1e-15),
             brentq(lax_oleinik_gap, edge(3 * PI / 2) + 1e-6, edge(4 * PI / 3) - 1e-6,
                    xtol=1e-15)]  # fmt: skip
    r = solve_pde(pde(
        "variables: [t, x]\nequation: u_t + u*u_x = 0\n"
        'initial: "u(x, t=0) = sin(x) + 0.5*sin(2*x)"\n'
        f"grid: {{t: [1, 1, 1], x: [0, 6.283185307179586, {points}]}}\n"
    ), crossing="shock")  # fmt: skip
    np.testing.assert_array_equal(r["shock_t"], [1.0, 1.0])
    np.testing.assert_allclose(r["shock_x"], exact, rtol=0, atol=1e-10)


def test_shorthand_data_focusing_at_a_grid_level():
    """u_t + u u_x = 0 from u = -x (shorthand): every ray reaches x = 0 at t = 1.  The
    data were widened to cover the grid by the end ray's dx/ds, about 0 there, out to
    x = -7e15, which then failed as 'characteristic'.  Now: exact before t = 1, the
    focus at t = 1 (breaking time 1), nothing claimed at t = 1 but x = 0."""
    r = solve_pde(pde("variables: [t, x]\nequation: u_t + u*u_x = 0\n"
                      'initial: "u(x, t=0) = -x"\ngrid: {t: [0, 1, 6], x: [-1, 1, 21]}\n'))  # fmt: skip
    T, X = np.meshgrid(r["t"], r["x"], indexing="ij")
    before = T < 1
    np.testing.assert_allclose(r["u"][before], -X[before] / (1 - T[before]), rtol=0, atol=1e-13)
    assert r.attrs["breaking_time"] == pytest.approx(1.0, abs=1e-12)
    assert np.isnan(r["u"][-1][r["x"] != 0]).all()


def test_viscosity_after_a_focus_has_no_value():
    """u_t + u_x^2/2 = 0 from -x^2/2: the rays focus at t = 1, after which the Hopf-Lax
    value min_y [-y^2/2 + (x - y)^2/(2t)] is -inf.  The rays past the focus used to give
    finite values there; a ray past its focal point minimises nothing."""
    r = solve_pde(pde("variables: [t, x]\nequation: u_t + u_x^2/2 = 0\n"
                      'initial: "u(x, t=0) = -x^2/2"\ngrid: {t: [0, 2, 9], x: [-3, 3, 61]}\n'),
                  crossing="viscosity")  # fmt: skip
    T, X = np.meshgrid(r["t"], r["x"], indexing="ij")
    before = T < 1
    np.testing.assert_allclose(r["u"][before], -X[before] ** 2 / (2 * (1 - T[before])),
                               rtol=0, atol=1e-12)  # fmt: skip
    assert np.isnan(r["u"][T > 1]).all()


def test_viscosity_refuses_a_kink_in_the_gradient():
    """u_t + abs(u_x) = 0: H has a kink at u_x = 0, out of which characteristics fan;
    they are not traced, and the viscosity values were wrong (0.999 for -1) or NaN.
    Refused, naming the equation; a smooth form works (to the smoothing's size)."""
    text = ("variables: [t, x]\nequation: u_t + {h} = 0\n"
            'initial: "u(x, t=0) = sin(x)"\ngrid: {{t: [0, 2, 5], x: [0, 6.283185307179586, 65]}}\n')  # fmt: skip
    with pytest.raises(SpecError, match="kink") as info:
        solve_pde(pde(text.format(h="abs(u_x)")), crossing="viscosity")
    assert info.value.field == "equation"
    r = solve_pde(pde(text.format(h="sqrt(u_x^2 + 1e-6)")), crossing="viscosity")
    ys = np.linspace(-10, 20, 300001)
    exact = [[np.min(np.sin(ys[np.abs(ys - x) <= t])) if t > 0 else np.sin(x) for x in r["x"]]
             for t in r["t"]]  # fmt: skip
    np.testing.assert_allclose(r["u"], exact, rtol=0, atol=3e-3)  # |p| + 1e-3 t at most


@pytest.mark.parametrize(
    "equation, crossing, data, evaluation",
    [
        ("u_x = u_t", "stop", "sin(x)", "newton"),
        ("u_x - u_t = 0", "stop", "sin(x)", "newton"),
        ("-u_t - u*u_x = 0", "shock", "sin(x)", "newton"),
        ("-u_t - u*u_x = 0", "stop", "sin(x)", "hermite"),
        ("-u_t - u*u_x = 0", "shock", "0.5*(1 + x/abs(x))", "newton"),  # a fan
        ("-u_t - u_x^2/2 = 0", "viscosity", "sin(x)", "newton"),
        ("-u_t - u_x^2/2 = 0", "viscosity", "abs(x)", "newton"),  # a fan
    ],
)
def test_an_equation_written_backwards_in_time(equation, crossing, data, evaluation):
    """The evolution variable's coefficient negative (its rays, as written, go back in t):
    refused before ('the grid's t values must lie on the side of the data the
    characteristics go to'); the equation times -1 is solved, the same solution, fans
    (F solved for u_t on them) and Hermite evaluation included."""
    grid = "grid: {t: [0, 2, 5], x: [-3, 3, 33]}\n"
    forward = {"u_x = u_t": "u_t - u_x = 0", "u_x - u_t = 0": "u_t - u_x = 0",
               "-u_t - u*u_x = 0": "u_t + u*u_x = 0",
               "-u_t - u_x^2/2 = 0": "u_t + u_x^2/2 = 0"}[equation]  # fmt: skip
    init = f'initial: "u(x, t=0) = {data}"\n'
    got = solve_pde(pde(f"variables: [t, x]\nequation: {equation}\n{init}{grid}"),
                    crossing=crossing, evaluation=evaluation)  # fmt: skip
    want = solve_pde(pde(f"variables: [t, x]\nequation: {forward}\n{init}{grid}"),
                     crossing=crossing, evaluation=evaluation)  # fmt: skip
    for name in ("u", "u_t", "u_x"):
        np.testing.assert_allclose(got[name], want[name], rtol=0, atol=1e-13)
    assert got.attrs["breaking_time"] == want.attrs["breaking_time"]


def test_data_not_finite_anywhere_is_an_error():
    """u0 = log(-1 - s^2) is NaN at every sample: an error, not an all-NaN result."""
    with pytest.raises(SpecError, match="not finite at any sample") as info:
        solve_pde(pde("variables: [t, x]\nequation: u_t + u_x = 0\n"
                      "initial: {parameters: {s: [-1, 1, 21]}, t: 0, x: s, u: log(-1 - s^2)}\n"
                      "grid: {t: [0, 1, 3], x: [-1, 1, 11]}\n"))  # fmt: skip
    assert info.value.field == "initial"


def test_no_real_gradient_is_suggested_and_the_given_branch_not_asked_for():
    """|grad u| = 1 with u = s^2/2 on y = 0: |du/ds| > 1 past |s| = 1, no real gradient.
    The message says so, and does not ask for the branch already given."""
    with pytest.raises(SpecError, match="no real gradient") as info:
        solve_pde(pde("variables: [x, y]\nequation: u_x^2 + u_y^2 = 1\n"
                      "initial: {parameters: {s: [-2, 2, 81]}, x: s, y: 0, u: s^2/2, branch: 1}\n"
                      "grid: {x: [-1, 1, 3], y: [0, 1, 3]}\n"))  # fmt: skip
    assert "s=-2" in str(info.value) and "under initial.branch" not in str(info.value)


@pytest.mark.parametrize("crossing", ["stop", "viscosity"])
def test_rays_focusing_to_a_point_in_two_dimensions(crossing):
    """u_t + |grad u|^2/2 = 0 from -(x^2 + y^2)/2: every ray reaches the origin at t = 1,
    where det x_s = (1 - t)^2 touches 0 without changing sign.  That focus was missed
    (breaking time 'none'), and both stop and viscosity gave the rays' values past it;
    the Hopf-Lax value is -inf there."""
    r = solve_pde(pde(
        "variables: [t, x, y]\nequation: u_t + (u_x^2 + u_y^2)/2 = 0\n"
        'initial: "u(x, y, t=0) = -(x^2 + y^2)/2"\n'
        "grid: {t: [0, 2, 5], x: [-1, 1, 9], y: [-1, 1, 9]}\n"
    ), crossing=crossing)  # fmt: skip
    assert r.attrs["breaking_time"] == pytest.approx(1.0, abs=1e-6)
    assert abs(r.attrs["breaking_location_x"]) < 1e-6 and abs(r.attrs["breaking_location_y"]) < 1e-6
    T, X, Y = np.meshgrid(r["t"], r["x"], r["y"], indexing="ij")
    before = T < 1
    np.testing.assert_allclose(r["u"][before], -(X**2 + Y**2)[before] / (2 * (1 - T[before])),
                               rtol=0, atol=1e-13)  # fmt: skip
    assert np.isnan(r["u"][T > 1]).all()


def test_rays_focusing_on_the_centre_of_a_sphere():
    """|grad u| = 1 from the unit sphere, fronts going in: every ray meets at the centre,
    where det J ~ (1 - tau)^2 touches 0 without changing sign.  The focus was missed and
    the first arrival outside the sphere taken from rays past it (u = 1 + r); now the
    crossing is found there and outside is unreached, inside exact."""
    r = solve_pde(pde(
        "variables: [x, y, z]\nequation: u_x^2 + u_y^2 + u_z^2 = 1\n"
        "initial: {parameters: {th: [0.05, 3.0915926535897933, 21], "
        "ph: [0, 6.283185307179586, 31]}, x: sin(th)*cos(ph), y: sin(th)*sin(ph), "
        "z: cos(th), u: 0, guess: {u_x: -sin(th)*cos(ph), u_y: -sin(th)*sin(ph), "
        "u_z: -cos(th)}}\ngrid: {x: [-1.5, 1.5, 5], y: [-1.5, 1.5, 5], z: [-1.5, 1.5, 5]}\n"
    ), crossing="viscosity")  # fmt: skip
    X, Y, Z = np.meshgrid(r["x"], r["y"], r["z"], indexing="ij")
    R = np.sqrt(X**2 + Y**2 + Z**2)
    # (the data leave out the poles: the z-axis is not reached)
    inside = (R < 1) & (np.hypot(X, Y) > 1e-9)
    np.testing.assert_allclose(r["u"][inside], 1 - R[inside], rtol=0, atol=1e-12)
    assert np.isnan(r["u"][R > 1 + 1e-9]).all()
    assert np.hypot(r.attrs["breaking_location_x"], r.attrs["breaking_location_y"]) < 1e-2


def test_fast_advection_is_not_characteristic():
    """u_t + a u_x = 0 with a = 1e6: data on t = 0 are never characteristic.  The check
    compared det J with the largest entry to the power n (1e12) and refused; Hadamard's
    bound (the rows' lengths multiplied, 1e6) does not."""
    r = solve_pde(pde("variables: [t, x]\nequation: u_t + 1e6*u_x = 0\n"
                      'initial: "u(x, t=0) = sin(x)"\ngrid: {t: [0, 1e-6, 3], x: [0, 3, 7]}\n'))  # fmt: skip
    T, X = np.meshgrid(r["t"], r["x"], indexing="ij")
    np.testing.assert_allclose(r["u"], np.sin(X - 1e6 * T), rtol=0, atol=1e-9)


def test_data_turning_characteristic_between_samples():
    """x u_x + y u_y = u from a circle off the origin: the rays are radial, tangent to
    the circle at two points, where det [x_s, dx/dtau] changes sign between samples;
    it used to pass as transversal."""
    with pytest.raises(SpecError, match="between s=") as info:
        solve_pde(pde("variables: [x, y]\nequation: x*u_x + y*u_y = u\n"
                      "initial: {parameters: {s: [0, 6.283185307179586, 361]}, "
                      "x: 1.5 + 0.5*cos(s), y: 0.5*sin(s), u: 1}\n"
                      "grid: {x: [0.5, 3, 6], y: [-1, 1, 5]}\n"))  # fmt: skip
    assert info.value.field == "initial"


def test_a_loose_rtol_leaves_no_holes():
    """The rotation u_t - y u_x + x u_y = x y at --rtol 1e-6: Newton onto the rays asked
    for steps below 1e-14, which the rays' own error (1e-6) never allows, and failed
    (NaN at 36 nodes); it now stops at a tenth of rtol, and the error follows rtol."""
    text = ("variables: [t, x, y]\nequation: u_t - y*u_x + x*u_y = 0\n"
            "initial: {parameters: {p: [-3, 3, 61], q: [-3, 3, 61]}, t: 0, x: p, y: q, "
            "u: sin(p) + q^2}\ngrid: {t: [0, 1.5, 4], x: [-2, 2, 9], y: [-2, 2, 9]}\n")  # fmt: skip
    r = solve_pde(pde(text), rtol=1e-6, atol=1e-9)
    T, X, Y = np.meshgrid(r["t"], r["x"], r["y"], indexing="ij")
    x0, y0 = X * np.cos(T) + Y * np.sin(T), -X * np.sin(T) + Y * np.cos(T)  # back along
    assert not np.isnan(r["u"]).any()
    np.testing.assert_allclose(r["u"], np.sin(x0) + y0**2, rtol=0, atol=1e-4)


@pytest.mark.parametrize("crossing", ["viscosity", "multivalued"])
def test_many_branches_in_two_dimensions(crossing):
    """u_t + |grad u|^2/2 = 0 from -cos x - cos y at t = 8: 5 rays in each direction, 25
    through every point.  Twelve seeds a point found at most 12 (and viscosity took the
    least of those, off by up to 4); points whose seeds find several rays are searched
    again from four times the seeds.  Exact: the sum of two 1-D Hopf-Lax values."""
    r = solve_pde(pde(
        "variables: [t, x, y]\nequation: u_t + (u_x^2 + u_y^2)/2 = 0\n"
        "initial: {parameters: {a: [-12, 18, 121], b: [-12, 18, 121]}, t: 0, x: a, y: b, "
        "u: -cos(a) - cos(b)}\ngrid: {t: [8, 8, 1], x: [0.3, 6.1, 4], y: [0.3, 6.1, 4]}\n"
    ), crossing=crossing)  # fmt: skip

    h = np.array([_hopf_lax_1d(x, 8.0) for x in r["x"]])
    exact = h[:, None] + h[None, :]
    if crossing == "viscosity":
        np.testing.assert_allclose(r["u"][0], exact, rtol=0, atol=1e-12)
    else:
        br = np.asarray(r["u_branches"])[0]
        assert (np.isfinite(br).sum(axis=-1) == 25).all()
        np.testing.assert_allclose(np.nanmin(br, axis=-1), exact, rtol=0, atol=1e-12)


def test_shorthand_on_a_grid_of_one_node():
    """x: [1, 1, 1] with shorthand data: the samples spanned 2e-12 around x = 1 (the grid's
    length), so 3 of 4 levels were unreached; now a unit around it."""
    from scipy.optimize import brentq

    r = solve_pde(pde("variables: [t, x]\nequation: u_t + u*u_x = 0\n"
                      'initial: "u(x, t=0) = sin(x)"\ngrid: {t: [0, 0.9, 4], x: [1, 1, 1]}\n'))  # fmt: skip
    exact = [brentq(lambda v, t=t: v - np.sin(1 - v * t), -1, 1, xtol=1e-15) for t in r["t"]]
    np.testing.assert_allclose(np.asarray(r["u"])[:, 0], exact, rtol=0, atol=1e-14)


def test_shorthand_data_in_three_dimensions_are_capped():
    """Shorthand data over three space variables took six samples per grid spacing on each
    axis: 300,000 rays for an 11^3 grid.  The total is now capped (two per spacing at
    least), and the values are still exact."""
    from charme.spec.pde import SHORTHAND_MAX_RAYS

    spec = pde("variables: [t, x, y, z]\nequation: u_t + u_x + 2*u_y - u_z = 0\n"
               'initial: "u(x, y, z, t=0) = exp(-(x^2 + y^2 + z^2))"\n'
               "grid: {t: [0, 0.5, 2], x: [-1, 1, 11], y: [-1, 1, 11], z: [-1, 1, 11]}\n")  # fmt: skip
    assert np.prod([k for _, _, k in spec.manifold_ranges]) <= SHORTHAND_MAX_RAYS
    r = solve_pde(spec)
    T, X, Y, Z = np.meshgrid(r["t"], r["x"], r["y"], r["z"], indexing="ij")
    exact = np.exp(-((X - T) ** 2 + (Y - 2 * T) ** 2 + (Z + T) ** 2))
    np.testing.assert_allclose(r["u"], exact, rtol=0, atol=1e-12)


@pytest.mark.parametrize("samples", [14, 50])
def test_breaking_time_between_samples_of_2d_data(samples):
    """2-D Burgers u_t + u u_x + u u_y = 0 from exp(-(x^2 + y^2)) breaks first at
    t* = e^(1/2)/2 (rays from x = y = 1/2).  The breaking time was the least over the
    sampled rays (0.9226 from 14 x 14 samples); parabolic steps along each parameter
    in turn now find it between them."""
    r = solve_pde(pde(
        "variables: [t, x, y]\nequation: u_t + u*u_x + u*u_y = 0\n"
        f"initial: {{parameters: {{p: [-3, 3, {samples}], q: [-3, 3, {samples}]}}, t: 0, "
        "x: p, y: q, u: exp(-(p^2 + q^2))}\ngrid: {t: [0, 0.5, 2], x: [-1, 1, 3], y: [-1, 1, 3]}\n"
    ))  # fmt: skip
    assert r.attrs["breaking_time"] == pytest.approx(np.exp(0.5) / 2, abs=1e-10)


def test_cli_lists_the_shocks(tmp_path):
    """--crossing shock: the summary lists the shocks (t, x); with .csv output it says
    where they are kept, as the table holds the grid only."""
    text = ('variables: [t, x]\nequation: u_t + u*u_x = 0\ninitial: "u(x, t=0) = sin(x)"\n'
            "grid: {t: [0, 2, 3], x: [0, 6.283185307179586, 41]}\n")  # fmt: skip
    res, out = _moc(tmp_path, text, "--crossing", "shock")
    assert res.exit_code == 0, res.output
    assert "shocks (t, x): (2, 3.141592654)\n" in res.output
    (tmp_path / "csv").mkdir()
    res, _ = _moc(tmp_path / "csv", text, "--crossing", "shock", "-o", tmp_path / "u.csv")
    assert res.exit_code == 0 and "write .nc for shock_t, shock_x" in res.output, res.output
    res, _ = _moc(tmp_path, text.replace("t: [0, 2, 3]", "t: [0, 0.5, 3]"),
                  "--crossing", "shock", "--overwrite")  # fmt: skip
    assert "no shock at the output levels" in res.output


def _lax_oleinik_burgers(big_u0, x, t, lo=-20.0, hi=20.0):
    """u(x, t) of Burgers' entropy solution by brute force: the minimiser y of
    U0(y) + (x - y)^2 / (2t) (U0' = u0) on a fine grid, refined by a bounded search;
    u = (x - y) / t.  Independent of the characteristics."""
    from scipy.optimize import minimize_scalar

    ys = np.linspace(lo, hi, 400001)
    out = np.empty(len(x))
    for i, xi in enumerate(x):
        k = int(np.argmin(big_u0(ys) + (xi - ys) ** 2 / (2 * t)))
        fit = minimize_scalar(lambda y, xi=xi: big_u0(y) + (xi - y) ** 2 / (2 * t), method="bounded",
                              bounds=(ys[max(k - 1, 0)], ys[min(k + 1, len(ys) - 1)]),
                              options={"xatol": 1e-13})  # fmt: skip
        out[i] = (xi - fit.x) / t
    return out


def test_shorthand_data_reach_every_ray_that_lands_on_the_grid():
    """u(x, t=0) = g(x) with a bump outside the grid's view: its rays reach the grid after
    they cross.  The data used to stop at the grid's range widened by its length, so the
    bump was never seen: u ~ 1e-4 where Lax-Oleinik gives 0.69, and no shock.  The
    breaking time is that of the grid's range: the caustic x = y - 3 + 1/(2y),
    t = e^(y^2) / (2y) (y = s + 3) enters it at x = 0, y = (3 - sqrt 7) / 2."""
    from scipy.special import erf

    r = solve_pde(pde('variables: [t, x]\nequation: u_t + u*u_x = 0\n'
                       'initial: "u(x, t=0) = exp(-(x+3)^2)"\n'
                       "grid: {t: [0, 6, 7], x: [0, 2, 21]}\n"), crossing="shock")  # fmt: skip
    y = (3 - np.sqrt(7)) / 2
    assert r.attrs["breaking_time"] == pytest.approx(np.exp(y**2) / (2 * y), rel=1e-12)
    assert r.attrs["breaking_location_x"] == pytest.approx(0.0, abs=1e-12)
    x = r.coords["x"]
    for k in (5, 6):
        exact = _lax_oleinik_burgers(lambda y: np.sqrt(np.pi) / 2 * erf(y + 3), x, float(k))
        np.testing.assert_allclose(r["u"][k], exact, rtol=0, atol=1e-7)
    assert np.asarray(r["u"][6]).max() > 0.6 and len(r["shock_x"]) >= 1
    many = solve_pde(pde('variables: [t, x]\nequation: u_t + u*u_x = 0\n'
                          'initial: "u(x, t=0) = exp(-(x+3)^2)"\n'
                          "grid: {t: [5, 5, 1], x: [0, 2, 11]}\n"), crossing="multivalued")  # fmt: skip
    assert np.isfinite(many["u_branches"]).sum(axis=-1).max() == 3


def test_shorthand_data_see_a_shock_coming_in_from_far():
    """A step 1.5 -> -0.5 at x = -3 (the shock moves at 0.5, x = -3 + t/2) seen on
    [-1, 1]: the shock enters at t = 4 and is listed at every level after, exactly (the
    data are odd about the step); a second bump far off, fast, overtakes into a zoomed
    grid (two shocks there)."""
    r = solve_pde(pde('variables: [t, x]\nequation: u_t + u*u_x = 0\n'
                       'initial: "u(x, t=0) = 0.5 - tanh(x+3)"\n'
                       "grid: {t: [0, 8, 9], x: [-1.2, 1.2, 48]}\n"), crossing="shock")  # fmt: skip
    t_s, x_s = np.asarray(r["shock_t"]), np.asarray(r["shock_x"])
    np.testing.assert_allclose(t_s, [4, 5, 6, 7, 8])
    np.testing.assert_allclose(x_s, -3 + t_s / 2, rtol=0, atol=1e-12)
    x = np.asarray(r.coords["x"])
    assert (np.asarray(r["u"])[-1, x < 1] > 1.49).all()  # behind the shock at t = 8
    assert (np.asarray(r["u"])[-1, x > 1] < -0.49).all()
    from scipy.special import erf

    zoom = solve_pde(pde('variables: [t, x]\nequation: u_t + u*u_x = 0\n'
                          'initial: "u(x, t=0) = 3*exp(-4*(x+1)^2) + exp(-(x-1)^2)"\n'
                          "grid: {t: [2.5, 2.5, 1], x: [3.0, 3.2, 41]}\n"), crossing="shock")  # fmt: skip
    big_u0 = lambda y: 3 * np.sqrt(np.pi) / 4 * erf(2 * (y + 1)) + np.sqrt(np.pi) / 2 * erf(y - 1)  # noqa: E731
    exact = _lax_oleinik_burgers(big_u0, zoom.coords["x"], 2.5)
    np.testing.assert_allclose(zoom["u"][0], exact, rtol=0, atol=1e-7)
    assert len(zoom["shock_x"]) == 2


def test_the_file_records_the_parameters_used(tmp_path):
    """--set a=2: the file's `parameters` attribute has a = 2 (its spec_text keeps the
    file's a = 1, and nothing used to say the solution was a = 2's)."""
    res, out = _moc(tmp_path, SIMPLE + "grid: {t: [0, 1, 3], x: [0, 1, 3]}\n", "--set", "c=2")
    assert res.exit_code == 0, res.output
    with xr.open_dataset(out) as ds:
        assert ds.attrs["parameters"] == "{'c': 2.0}"
        assert "c: 1" in ds.attrs["spec_text"]
        np.testing.assert_allclose(ds["u"][-1], np.sin(ds["x"] - 2.0), atol=1e-12)


@pytest.mark.parametrize("kw, message", [
    ({"rtol": 0.0}, "rtol must lie in"), ({"rtol": 2.0}, "rtol must lie in"),
    ({"rtol": float("nan")}, "rtol must lie in"), ({"atol": -1.0}, "atol must be positive"),
    ({"save_rays": "yes"}, "save_rays must be True or False"),
])  # fmt: skip
def test_solve_pde_refuses_bad_tolerances(kw, message):
    """rtol = 0 used to become the default silently, rtol = 2 and atol = -1 were used
    (and recorded); save_rays='yes' failed deep inside NumPy."""
    with pytest.raises(SpecError, match=message):
        solve_pde(pde(SIMPLE + "grid: {t: [0, 1, 3], x: [0, 1, 3]}\n"), **kw)


def test_two_young_shocks_between_two_grid_points():
    """Two bumps: at t = 2.5 two shocks lie 0.0075 apart, both between the grid points
    3.1 and 3.2, with a branch between them that no grid point picks.  Only the first was
    listed.  Reference: the ties of the three ray families' Lax-Oleinik minima (each
    minimised over its own range of y), by brentq."""
    from scipy.optimize import brentq, minimize_scalar
    from scipy.special import erf

    r = solve_pde(pde('variables: [t, x]\nequation: u_t + u*u_x = 0\n'
                      'initial: "u(x, t=0) = 3*exp(-4*(x+1)^2) + exp(-(x-1)^2)"\n'
                      "grid: {t: [2.5, 2.5, 1], x: [-4, 8, 121]}\n"), crossing="shock")  # fmt: skip
    t = 2.5

    def big_u0(y):
        return 3 * np.sqrt(np.pi) / 4 * erf(2 * (y + 1)) + np.sqrt(np.pi) / 2 * erf(y - 1)

    def family(lo, hi):
        return lambda x: minimize_scalar(lambda y: big_u0(y) + (x - y) ** 2 / (2 * t),
                                         bounds=(lo, hi), method="bounded",
                                         options={"xatol": 1e-12}).fun  # fmt: skip

    a, b, c = family(-2.0, -0.5), family(0.3, 1.5), family(2.5, 3.5)
    first = brentq(lambda x: a(x) - b(x), 3.10, 3.122, xtol=1e-13)
    second = brentq(lambda x: b(x) - c(x), 3.122, 3.14, xtol=1e-13)
    found = np.sort(np.asarray(r["shock_x"]))
    near = found[(found > 3.1) & (found < 3.2)]
    np.testing.assert_allclose(near, [first, second], rtol=0, atol=1e-8)


def test_a_focus_is_located_exactly_without_an_evolution_variable():
    """Fronts from a plane whose data are the distance to (0, 0, -1) meet there: det J
    only touches 0 (a point focus in 3-D).  The location was the ray's position at the
    sampled level before the touch: z = -1.0075."""
    r = solve_pde(pde("variables: [x, y, z]\nequation: u_x^2 + u_y^2 + u_z^2 = 1\n"
                      "initial: {parameters: {a: [-2, 2, 21], b: [-2, 2, 21]}, x: a, y: b, "
                      "z: 0, u: sqrt(a^2 + b^2 + 1), branch: 1}\n"
                      "grid: {x: [-1, 1, 3], y: [-1, 1, 3], z: [0, 1, 3]}\n"))  # fmt: skip
    where = [r.attrs[f"breaking_location_{v}"] for v in "xyz"]
    np.testing.assert_allclose(where, [0, 0, -1], rtol=0, atol=1e-10)


def test_breaking_time_between_samples_to_rounding():
    """u0 = sin x + sin(2x)/2: 1 / max(-u0') = 8/9.  The parabolic steps between the
    samples stopped once a vertex left the three points kept (1.3e-10 off)."""
    r = solve_pde(pde('variables: [t, x]\nequation: u_t + u*u_x = 0\n'
                      'initial: "u(x, t=0) = sin(x) + 0.5*sin(2*x)"\n'
                      "grid: {t: [0, 1, 3], x: [0, 6.283185307179586, 129]}\n"))  # fmt: skip
    assert abs(r.attrs["breaking_time"] - 8 / 9) <= 1e-15


def _hopf_lax_2d(g, xs, ys, t, box_a, box_b):
    """u(x, y, t) = min over (a, b) of g(a, b) + |(x, y) - (a, b)|^2 / 2t (Hopf-Lax for
    u_t + |grad u|^2 / 2 = 0) on the grid xs x ys: the least over a lattice of (a, b)
    (``box_a``, ``box_b``: start, stop, count), refined by Nelder-Mead.  Independent of
    the characteristics."""
    from scipy.optimize import minimize

    A, B = np.meshgrid(np.linspace(*box_a), np.linspace(*box_b), indexing="ij")
    out = np.empty((len(xs), len(ys)))
    for i, x in enumerate(xs):
        for j, y in enumerate(ys):

            def f(a, b, x=x, y=y):
                return g(a, b) + ((x - a) ** 2 + (y - b) ** 2) / (2 * t)

            k = np.unravel_index(np.argmin(f(A, B)), A.shape)
            out[i, j] = minimize(lambda v, f=f: f(*v), [A[k], B[k]], method="Nelder-Mead",
                                 options={"xatol": 1e-10, "fatol": 1e-15,
                                          "maxiter": 4000}).fun  # fmt: skip
    return out


def test_shorthand_data_in_two_dimensions_reach_rays_from_outside():
    """u_t + |grad u|^2/2 = 0 from a wide well at (-4, 0), seen on [-1, 1]^2 at t = 6:
    the rays that reach x = -1 start left of the sampled box [-3, 3]^2.  Those nodes
    were NaN (and the search for branches took 26 s); the probe takes the data out to
    them.  Reference: Hopf-Lax (:func:`_hopf_lax_2d`)."""
    r = solve_pde(pde('variables: [t, x, y]\nequation: "u_t + (u_x^2 + u_y^2)/2 = 0"\n'
                      'initial: "u(x, y, t=0) = -exp(-((x+4)^2 + y^2)/4)"\n'
                      "grid: {t: [6, 6, 1], x: [-1, 1, 3], y: [-1, 1, 3]}\n"),
                  crossing="viscosity")  # fmt: skip
    t = 6.0

    def g(a, b):
        return -np.exp(-((a + 4) ** 2 + b**2) / 4)

    exact = _hopf_lax_2d(g, r.coords["x"], r.coords["y"], t, (-12, 4, 321), (-6, 6, 241))
    np.testing.assert_allclose(r["u"][0], exact, rtol=0, atol=1e-9)


def test_branches_from_a_family_that_spreads_far_apart():
    """A deep well at (-4, 0): at t = 6 its rays come out of the well's bottom fanned 37
    times apart, over the flat data's own rays and the flank's folded ones.  The nearest
    rays to a point were never the well's, and the viscosity solution was 0 where
    Hopf-Lax gives -1.7; the cells of the data's lattice whose rays cover a point now
    seed Newton too."""
    r = solve_pde(pde("variables: [t, x, y]\nequation: u_t + (u_x^2 + u_y^2)/2 = 0\n"
                      "initial: {parameters: {a: [-8, 4, 121], b: [-6, 6, 121]}, t: 0, x: a, "
                      "y: b, u: -3*exp(-((a+4)^2 + b^2))}\n"
                      "grid: {t: [6, 6, 1], x: [-1, 1, 3], y: [-1, 1, 3]}\n"),
                  crossing="viscosity")  # fmt: skip
    t = 6.0

    def g(a, b):
        return -3 * np.exp(-((a + 4) ** 2 + b**2))

    exact = _hopf_lax_2d(g, r.coords["x"], r.coords["y"], t, (-8, 4, 481), (-6, 6, 481))
    np.testing.assert_allclose(r["u"][0], exact, rtol=0, atol=1e-9)
    assert float(np.max(r["u"])) < -0.85


def test_a_concave_flux_from_data_with_a_jump():
    """Traffic, u_t + (1 - 2u) u_x = 0 (f = u - u^2, concave), from 0.2 + a bump, jumping
    to 0.8 at x = 0.3: one shock.  A sample within rounding of the jump made the
    Lax-Oleinik integral over a zero-width interval NaN (0 x the undefined data there), and
    every ray beyond it never won: u = 0.23 where the answer is 0.8, no shock listed.
    Reference: w = 1 - 2u solves Burgers (:func:`_lax_oleinik_burgers`)."""
    from scipy.special import erf

    r = solve_pde(pde('variables: [t, x]\nequation: "u_t + (1 - 2*u)*u_x = 0"\n'
                      'initial: "u(x, t=0) = 0.2 + 0.3*(1 + (x-0.3)/abs(x-0.3))'
                      ' + 0.1*exp(-(x+1)^2)"\n'
                      "grid: {t: [0, 2, 5], x: [-2, 2, 20]}\n"), crossing="shock")  # fmt: skip

    def big_w0(y):  # the integral of w0 = 1 - 2 u0
        return y - 2 * (0.2 * y + 0.3 * (y + np.abs(y - 0.3))
                        + 0.05 * np.sqrt(np.pi) * erf(y + 1))  # fmt: skip

    for k, t in enumerate(r.coords["t"]):
        if t > 0:
            w = _lax_oleinik_burgers(big_w0, r.coords["x"], float(t))
            np.testing.assert_allclose(r["u"][k], (1 - w) / 2, rtol=0, atol=1e-7)
    assert len(r["shock_x"]) == 4


@pytest.mark.parametrize("nodes", [5, 11, 17, 33])
def test_a_shock_on_a_grid_node_is_placed_exactly(nodes):
    """Burgers from sin x: the shock stands at x = pi, a grid node for odd counts.  Newton
    on the handover met a point where one branch had ended and gave up at the bracket's
    middle: pi + h/2 (3.4558 for 11 nodes at t = 1.5, 2.917 for 15 at t = 1.2).  It now
    bisects on which branch is left there."""
    r = solve_pde(pde('variables: [t, x]\nequation: u_t + u*u_x = 0\n'
                      'initial: "u(x, t=0) = sin(x)"\n'
                      f"grid: {{t: [1.2, 2, 3], x: [0, 6.283185307179586, {nodes}]}}\n"),
                  crossing="shock")  # fmt: skip
    np.testing.assert_allclose(r["shock_t"], [1.2, 1.6, 2.0])
    np.testing.assert_allclose(r["shock_x"], np.pi, rtol=0, atol=1e-12)


def test_shocks_born_at_jumps_are_listed_from_the_start():
    """u0 = 3 | 1 | 0 with jumps at 0 and 2: shocks at 2t and 2 + t/2 until they merge at
    t = 4/3, then one at 8/3 + 3(t - 4/3)/2.  No ray of the data starts at a jump, so
    the picks on either side were no handover and no fold: the young shocks were not
    listed.  (While young they lie within a sample spacing of the jump's first rays and
    are placed to about that; later exactly.)"""
    r = solve_pde(pde('variables: [t, x]\nequation: u_t + u*u_x = 0\n'
                      'initial: "u(x, t=0) = (1 - x/abs(x)) + 0.5*(1 - (x-2)/abs(x-2))"\n'
                      "grid: {t: [0, 4, 13], x: [-1, 8, 19]}\n"), crossing="shock")  # fmt: skip
    ts, xs = np.asarray(r["shock_t"]), np.asarray(r["shock_x"])
    for t in r.coords["t"][1:]:
        exact = sorted([2 * t, 2 + t / 2]) if t < 4 / 3 else [8 / 3 + 1.5 * (t - 4 / 3)]
        got = sorted(xs[np.isclose(ts, t)])
        assert len(got) == len(exact), (t, got, exact)
        tol = 0.05 if t < 0.5 else 1e-9
        np.testing.assert_allclose(got, exact, rtol=0, atol=tol)


def test_every_crossing_mode_reaches_the_data_edge():
    """u0 = sqrt(x): the ray from x = 0 has an infinite x_s, so no pair of rays brackets
    the points between it and the first sample's ray.  --crossing stop found them by
    Newton from the nearest ray; shock and multivalued left them NaN.  Rays never cross
    here, so every mode must give u = (sqrt(t^2 + 4x) - t) / 2 at the same nodes."""
    text = ('variables: [t, x]\nequation: u_t + u*u_x = 0\n'
            'initial: "u(x, t=0) = sqrt(x)"\ngrid: {t: [0, 1, 5], x: [0, 2, 21]}\n')  # fmt: skip
    stop = solve_pde(pde(text))
    T, X = np.meshgrid(stop.coords["t"], stop.coords["x"], indexing="ij")
    exact = (np.sqrt(T**2 + 4 * X) - T) / 2
    for crossing in ("shock", "multivalued"):
        r = solve_pde(pde(text), crossing=crossing)
        np.testing.assert_array_equal(np.isnan(r["u"]), np.isnan(stop["u"]))
        got = np.isfinite(r["u"])
        np.testing.assert_allclose(r["u"][got], exact[got], rtol=0, atol=1e-13)
    assert np.isfinite(stop["u"][1:, 1:]).sum() >= 4 * 20 - 1  # all but the edge (and one)


def test_shorthand_data_undefined_on_their_range_say_where_they_were_sampled():
    """log(x) seen on x in [-8, -6]: the shorthand samples it on [-10, -4], where it is
    undefined.  The error says where, and what to do."""
    with pytest.raises(SpecError, match=r"samples them on x in \[-10, -4\]; give the full form"):
        solve_pde(pde('variables: [t, x]\nequation: u_t + u*u_x = 0\n'
                      'initial: "u(x, t=0) = log(x)"\ngrid: {t: [0, 1, 3], x: [-8, -6, 11]}\n'))  # fmt: skip


def test_shorthand_breaking_time_is_the_grids():
    """Shorthand data have no ends, so the breaking time is where characteristics first
    cross on the grid's range (it used to be the first crossing among whatever rays the
    solver sampled: sin x on [0, 1] gave 2.403 at x = 4.19, and --crossing stop blanked
    t = 3 where the solution on [0, 1] is still classical)."""
    from scipy.optimize import brentq

    r = solve_pde(pde('variables: [t, x]\nequation: u_t + u*u_x = 0\n'
                       'initial: "u(x, t=0) = sin(x)"\ngrid: {t: [0, 5, 6], x: [0, 1, 11]}\n'))  # fmt: skip
    # the caustic t = -1/cos s, x = s - tan s (pi < s < 3 pi / 2) enters it at x = 1
    s = brentq(lambda s: s - np.tan(s) - 1, np.pi + 0.01, 1.5 * np.pi - 1e-9)
    assert r.attrs["breaking_time"] == pytest.approx(-1 / np.cos(s), rel=1e-12)
    assert r.attrs["breaking_location_x"] == pytest.approx(1.0, abs=1e-12)
    u, x = np.asarray(r["u"]), np.asarray(r.coords["x"])
    for k in range(4):  # classical up to t = 3 (u = sin(x - u t) on the branch from [0, 1])
        np.testing.assert_allclose(u[k], np.sin(x - u[k] * k), rtol=0, atol=1e-13)
    assert np.isnan(u[4:]).all()
    # a one-node grid: the caustic passes between two sampled rays
    one = solve_pde(pde('variables: [t, x]\nequation: u_t + u*u_x = 0\n'
                         'initial: "u(x, t=0) = -cos(x)"\ngrid: {t: [0, 8, 9], x: [1, 1, 1]}\n'))  # fmt: skip
    s = brentq(lambda s: s + 1 / np.tan(s) - 1, -3.0, -2.5)  # x = s + cot s, t = -1/sin s
    assert one.attrs["breaking_time"] == pytest.approx(-1 / np.sin(s), rel=1e-12)
    assert np.isfinite(np.asarray(one["u"])[:5]).all() and np.isnan(np.asarray(one["u"])[5:]).all()


def test_shorthand_breaking_time_of_a_jump_off_the_grid():
    """A converging jump at x = -2 seen on [0, 1]: its rays cross at once, but on the grid's
    range only when the ray from its left (u = 1) reaches x = 0, at t = 2; a jump on the
    range breaks at t = 0."""
    far = solve_pde(pde('variables: [t, x]\nequation: u_t + u*u_x = 0\n'
                         'initial: "u(x, t=0) = 0.5*(1 - (x+2)/abs(x+2))"\n'
                         "grid: {t: [0, 4, 9], x: [0, 1, 11]}\n"))  # fmt: skip
    assert far.attrs["breaking_time"] == pytest.approx(2.0, rel=1e-12)
    assert far.attrs["breaking_location_x"] == pytest.approx(0.0, abs=1e-12)
    u = np.asarray(far["u"])
    assert (u[:5] == 0).all() and np.isnan(u[5:]).all()
    on = solve_pde(pde('variables: [t, x]\nequation: u_t + u*u_x = 0\n'
                        'initial: "u(x, t=0) = 0.5*(1 - (x-0.5)/abs(x-0.5))"\n'
                        "grid: {t: [0, 4, 9], x: [0, 1, 11]}\n"))  # fmt: skip
    assert on.attrs["breaking_time"] == 0.0


def test_rays_whose_speed_jumps_on_smooth_data_cross_at_once():
    """u_t + |u_x| = 0 from cos x: the speed sign(u_x) jumps from +1 to -1 at x = 0, so
    the rays there cross at once.  No Jacobian sees it (each ray's neighbours move with
    it): the breaking time was 'none' and --crossing stop gave, with mask 1, the ray of
    least s at points two rays reach (0.0707 at x = -0.5, 0.878 at x = 0.5)."""
    text = ('variables: [t, x]\nequation: "u_t + abs(u_x) = 0"\n'
            'initial: "u(x, t=0) = cos(x)"\ngrid: {t: [0, 1, 3], x: [-1, 1, 5]}\n')  # fmt: skip
    r = solve_pde(pde(text))
    assert r.attrs["breaking_time"] == 0.0
    assert r.attrs["breaking_location_x"] == pytest.approx(0.0, abs=1e-12)
    u = np.asarray(r["u"])
    np.testing.assert_allclose(u[0], np.cos(np.linspace(-1, 1, 5)), rtol=0, atol=1e-15)
    assert np.isnan(u[1:]).all()
    many = solve_pde(pde(text), crossing="multivalued")  # u = cos x0 on each ray
    branches = np.asarray(many["u_branches"])[2, 3]
    np.testing.assert_allclose(np.sort(branches[np.isfinite(branches)]),
                               np.sort([np.cos(1.5), np.cos(0.5)]), rtol=0, atol=1e-13)  # fmt: skip
    # a conservation law with flux |u|: the entropy solution's shock sits at the data's
    # zero, pi - 0.0123 (the data are odd about it), from t = 0
    law = solve_pde(pde('variables: [t, x]\nequation: "u_t + (u/abs(u))*u_x = 0"\n'
                         'initial: "u(x, t=0) = sin(x + 0.0123)"\n'
                         "grid: {t: [0, 1, 3], x: [2.141592653589793, 4.141592653589793, 5]}\n"),
                    crossing="shock")  # fmt: skip
    x0 = np.pi - 0.0123
    x = np.asarray(law.coords["x"])
    for k, t in enumerate(law.coords["t"]):
        exact = np.where(x < x0, np.sin(x - t + 0.0123), np.sin(x + t + 0.0123))
        np.testing.assert_allclose(np.asarray(law["u"])[k], exact, rtol=0, atol=1e-13)
    assert law.attrs["breaking_time"] == 0.0
    np.testing.assert_allclose(law["shock_x"], [x0, x0], rtol=0, atol=1e-12)


def test_rays_whose_speed_jumps_in_two_dimensions_cross_at_once():
    """The level set u_t + |grad u| = 0 from cos(x + 0.0123): the rays' speed -grad u/|grad u|
    flips across x = -0.0123, where they cross at once (no breaking was reported)."""
    r = solve_pde(pde('variables: [t, x, y]\nequation: "u_t + sqrt(u_x^2 + u_y^2) = 0"\n'
                       'initial: "u(x, y, t=0) = cos(x + 0.0123) + 0*y"\n'
                       "grid: {t: [0, 1, 3], x: [-1, 1, 5], y: [-1, 1, 3]}\n"))  # fmt: skip
    assert r.attrs["breaking_time"] == 0.0
    assert r.attrs["breaking_location_x"] == pytest.approx(-0.0123, abs=1e-9)
    assert np.isnan(np.asarray(r["u"])[1:]).all()


def test_floor_and_ceil_compile(tmp_path):
    """floor and ceil (in the function table) made every PDE fail with SymPy's
    'cannot compile Subs(Derivative(floor(_xi_1), ...' naming no field: their derivative
    is now 0 (a step's, wherever it is defined).  Steps up in Burgers data are fans."""
    r = solve_pde(pde('variables: [t, x]\nequation: "u_t + u*u_x = 0"\n'
                       'initial: "u(x, t=0) = 0.5*floor(x + 0.25)"\n'
                       "grid: {t: [0, 1, 3], x: [-1, 1, 9]}\n"), crossing="shock")  # fmt: skip
    x = np.asarray(r.coords["x"])
    for k, t in enumerate(r.coords["t"]):
        exact = 0.5 * np.floor(x + 0.25) if t == 0 else np.select(
            [x < -0.25 - 0.5 * t, x < -0.25, x < 0.75, x < 0.75 + 0.5 * t],
            [-0.5, (x + 0.25) / t, 0.0, (x - 0.75) / t], 0.5)  # fmt: skip
        np.testing.assert_allclose(np.asarray(r["u"])[k], exact, rtol=0, atol=1e-15)
    step = solve_pde(pde('variables: [t, x]\nequation: "u_t + (1 + ceil(x))*u_x = 0"\n'
                          'initial: "u(x, t=0) = x"\ngrid: {t: [0.2, 0.2, 1], x: [0.3, 0.7, 3]}\n'))  # fmt: skip
    # speed 2 on 0 < x <= 1, 1 on -1 < x <= 0: the ray through x = 0.3 starts at -0.05
    np.testing.assert_allclose(np.asarray(step["u"])[0], [-0.05, 0.1, 0.3], rtol=0, atol=1e-12)
    res, out = _moc(tmp_path, "variables: [t, x]\nequation: u_t + 1e400*u_x = 0\n"
                    'initial: "u(x, t=0) = sin(x)"\ngrid: {t: [0, 1, 3], x: [0, 1, 3]}\n')  # fmt: skip
    assert res.exit_code == 2 and not out.exists()
    assert "p.yaml:3: equation: a constant here is infinite: a number too large" in res.output


def test_shorthand_data_past_the_grid_without_a_ray_give_none(tmp_path):
    """Shorthand data are widened past the grid by the solver; where they have no real
    gradient there (or are characteristic), the whole solve failed, naming a point the
    user never asked for and advising initial.guess, which the shorthand cannot take.
    Such samples now give no ray; on the grid's own range they are still an error."""
    r = solve_pde(pde('variables: [x, y]\nequation: "u_x*u_y = u"\n'
                       'initial: "u(x=0, y) = y^2"\ngrid: {x: [0, 1, 11], y: [1, 2, 11]}\n'))  # fmt: skip
    x, y = np.meshgrid(r.coords["x"], r.coords["y"], indexing="ij")
    np.testing.assert_allclose(r["u"], (x + 4 * y) ** 2 / 16, rtol=0, atol=1e-13)
    # u_x > 1 past |x| = 2 (the data are sampled on [-4.5, 4.5]): no ray there.  The rays
    # from near |x| = 2 are ever faster (speed -p / sqrt(1 - p^2), p = x/2) and cross the
    # others at once: past t = 0 the points near the range's ends have several rays
    h = solve_pde(pde('variables: [t, x]\nequation: "u_t + sqrt(1 - u_x^2) = 0"\n'
                       'initial: "u(x, t=0) = x^2/4"\ngrid: {t: [0, 0.1, 3], x: [-1.5, 1.5, 7]}\n'))  # fmt: skip
    assert 0 < h.attrs["breaking_time"] < 0.1
    np.testing.assert_allclose(np.asarray(h["u"])[0], np.linspace(-1.5, 1.5, 7) ** 2 / 4,
                               rtol=0, atol=1e-15)  # fmt: skip
    assert np.isnan(np.asarray(h["u"])[2]).all()
    # x u_t + u_x = 0: the data along t = 0 turn characteristic at x = 0, between two
    # samples of the widened range [-0.4, 1.7]; the far side goes (it was an error)
    turn = solve_pde(pde('variables: [t, x]\nequation: "x*u_t + u_x = 0"\n'
                          'initial: "u(x, t=0) = sin(x)"\ngrid: {t: [0, 0.5, 6], x: [0.3, 1, 8]}\n'))  # fmt: skip
    t, x = np.meshgrid(turn.coords["t"], turn.coords["x"], indexing="ij")
    foot = x**2 - 2 * t  # the ray from x0 > 0 through (t, x): x0^2 = x^2 - 2t
    inside = foot > 0.01
    np.testing.assert_allclose(np.asarray(turn["u"])[inside], np.sin(np.sqrt(foot[inside])),
                               rtol=0, atol=1e-14)  # fmt: skip
    assert np.isnan(np.asarray(turn["u"])[foot < 0]).all()
    res, out = _moc(tmp_path, 'variables: [x, y]\nequation: "u_x*u_y = u"\n'
                    'initial: "u(x=0, y) = y^2"\ngrid: {x: [0, 1, 3], y: [0, 2, 3]}\n')  # fmt: skip
    assert res.exit_code == 2 and not out.exists()
    assert "p.yaml:4: initial: the Cauchy data are characteristic" in res.output
    assert "between y=-0.02 and 0.04" in res.output  # (on the grid's range: an error)


def test_fans_in_two_dimensions_are_said_to_be_missing(tmp_path):
    """Fans are not built in 2+ space dimensions.  The README said such problems were
    refused; they ran, with NaN in the wedges and no word why.  Now the summary and the
    attribute fans_not_built_at say where the rays spread apart."""
    res, out = _moc(tmp_path, 'variables: [t, x, y]\nequation: "u_t + (u_x^2 + u_y^2)/2 = 0"\n'
                    'initial: "u(x, y, t=0) = abs(x - 0.0123) + 0.5*abs(y - 0.0071)"\n'
                    "grid: {t: [0, 1, 3], x: [-1, 1, 11], y: [-1, 1, 11]}\n")  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "fans are not built in more than one space dimension" in res.output
    with xr.open_dataset(out) as ds:
        where = ds.attrs["fans_not_built_at"]
        u = ds["u"].values
    x_or_y = float(where.split(",")[0].split("=")[1]), float(where.split(",")[1].split("=")[1])
    assert abs(x_or_y[0] - 0.0123) < 1e-9 or abs(x_or_y[1] - 0.0071) < 1e-9
    # the separable Hopf-Lax solution |x - a| - t/2 (and 0.5|y - b| - t/8) outside the
    # wedges, which are NaN
    t, x, y = np.meshgrid([0, 0.5, 1], np.linspace(-1, 1, 11), np.linspace(-1, 1, 11),
                          indexing="ij")  # fmt: skip
    outside = (np.abs(x - 0.0123) > t) & (np.abs(y - 0.0071) > 0.5 * t)
    exact = np.abs(x - 0.0123) - t / 2 + 0.5 * np.abs(y - 0.0071) - t / 8
    np.testing.assert_allclose(u[outside], exact[outside], rtol=0, atol=1e-13)
    assert np.isnan(u[~outside]).all()


def test_cone_apex_on_a_sample_gives_no_ray_there(tmp_path):
    """Level-set data whose gradient is undefined at a sample (a cone's apex on the
    lattice, 0/0 there) failed the whole solve: 'completing the initial gradient ...
    failed at x=0, y=0'.  No ray starts there now, as for quasilinear equations; the fan
    out of the apex is not built (2-D), and the points only it reaches are NaN.  At t = 0
    the apex's node has the data's value, 0, and no gradient."""
    res, out = _moc(tmp_path, 'variables: [t, x, y]\nequation: "u_t + sqrt(u_x^2 + u_y^2) = 0"\n'
                    'initial: "u(x, y, t=0) = sqrt(x^2 + y^2)"\n'
                    "grid: {t: [0, 0.5, 3], x: [-1, 1, 11], y: [-1, 1, 11]}\n")  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "fans are not built in more than one space dimension" in res.output
    assert re.search(r"1 of the data's \d+ samples starts no ray", res.output)
    with xr.open_dataset(out) as ds:
        assert ds.attrs["fans_not_built_at"] == "x=0, y=0"
        assert ds.attrs["data_undefined_samples"] == 1
        assert ds.attrs["data_undefined_at"] == "x=0, y=0"
        u, u_x = ds["u"].values, ds["u_x"].values
    t, x, y = np.meshgrid([0, 0.25, 0.5], np.linspace(-1, 1, 11), np.linspace(-1, 1, 11),
                          indexing="ij")  # fmt: skip
    r = np.hypot(x, y)
    # the rays go straight out at unit speed: u = r - t; and the data at t = 0, the apex
    # too (its gradient is undefined there)
    reached = (r > t + 1e-9) | (t == 0)
    np.testing.assert_allclose(u[reached], (r - t)[reached], rtol=0, atol=1e-14)
    assert np.isnan(u[~reached]).all()
    assert u[0, 5, 5] == 0 and np.isnan(u_x[0, 5, 5])


@pytest.mark.parametrize("equation", ["u_t + u*u_x = 0", "u_t + u_x^2/2 = 0"])
def test_data_undefined_over_a_stretch_are_said_to_be(tmp_path, equation):
    """sqrt(x - 1.9) on [-2, 2]: no ray where the data are undefined, for quasilinear
    and fully nonlinear equations alike (a Charpit solve failed there, naming x = -2 as a
    Newton failure); the summary and the attributes say where and how many."""
    res, out = _moc(tmp_path, f'variables: [t, x]\nequation: "{equation}"\n'
                    'initial: "u(x, t=0) = sqrt(x - 1.9)"\n'
                    "grid: {t: [0, 0.01, 2], x: [-2, 2, 41]}\n")  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "samples start no ray: the data or their derivatives are not finite" in res.output
    with xr.open_dataset(out) as ds:
        assert ds.attrs["data_undefined_samples"] > 0
        assert float(ds.attrs["data_undefined_at"].split("=")[1]) < 1.9
        u = ds["u"].values[0]
    x = np.linspace(-2, 2, 41)
    assert np.isnan(u[x < 1.9]).all()
    np.testing.assert_allclose(u[x > 1.9], np.sqrt(x[x > 1.9] - 1.9), rtol=0, atol=1e-15)


def test_data_without_a_second_derivative_at_a_sample(tmp_path):
    """|x|^1.5 has no second derivative at 0, where the gradient's variation dp/ds is
    undefined: the solve failed there, blaming Newton's completion of the gradient.  No
    ray starts there now; the others give u = g(y) + t g'(y)^2 / 2 at x = y + t g'(y),
    and the grid's node at the sample itself at t = 0 the data."""
    from scipy.optimize import brentq

    res, out = _moc(tmp_path, 'variables: [t, x]\nequation: "u_t + u_x^2/2 = 0"\n'
                    'initial: "u(x, t=0) = abs(x)^1.5"\n'
                    "grid: {t: [0, 0.5, 3], x: [-1, 1, 21]}\n")  # fmt: skip
    assert res.exit_code == 0, res.output
    with xr.open_dataset(out) as ds:
        assert ds.attrs["data_undefined_at"] == "x=0"
        u, u_t, u_x = ds["u"].values, ds["u_t"].values, ds["u_x"].values

    def exact(t, x):
        dg = lambda y: 1.5 * np.sign(y) * abs(y) ** 0.5  # noqa: E731
        y = brentq(lambda y: y + t * dg(y) - x, -2, 2, xtol=1e-15)
        return abs(y) ** 1.5 + t * dg(y) ** 2 / 2

    for i, t in enumerate([0, 0.25, 0.5]):
        for j, x in enumerate(np.linspace(-1, 1, 21)):
            assert u[i, j] == pytest.approx(exact(t, x), abs=1e-14)
    # the sample itself, whose ray never started: the data there, u = u_x = u_t = 0 (it
    # was NaN)
    assert u[0, 10] == u_x[0, 10] == u_t[0, 10] == 0
    assert np.isfinite(u_x[0]).all() and np.isfinite(u_t[0]).all()
    x = np.linspace(-1, 1, 21)
    np.testing.assert_allclose(u_t[0], -(1.5 * np.sign(x) * abs(x) ** 0.5) ** 2 / 2,
                               rtol=0, atol=1e-14)  # fmt: skip


def test_a_sample_without_a_ray_is_not_an_excuse(tmp_path):
    """What starts no ray and what stays an error.  (1) |du/ds| > |dx/ds| for |grad u| =
    1 at s = 0, where only the curve's second derivative is infinite: no real gradient,
    an error (it was taken for data without a second derivative).  (2) With
    initial.branch, a sample whose data give no ray is not 'on the other branch'.
    (3) Finite data where the equation's coefficient is not (sqrt(u), u < 0) are not
    counted as undefined data."""
    res, out = _moc(tmp_path, 'variables: [x, y]\nequation: "u_x^2 + u_y^2 = 1"\n'
                    "initial: {parameters: {s: [-0.05, 0.05, 11]}, x: s, y: 2*abs(s)^1.5, "
                    "u: 1.01*s, guess: {u_x: 0.95, u_y: 0.2}}\n"
                    "grid: {x: [-0.05, 0.05, 11], y: [0, 0.1, 11]}\n")  # fmt: skip
    assert res.exit_code == 2 and not out.exists()
    assert "by Newton failed at s=0" in res.output
    res, out = _moc(tmp_path, 'variables: [x, y]\nequation: "u_x^2 + u_y^2 = 1"\n'
                    "initial: {parameters: {s: [-1, 1, 41]}, x: s, y: 0, u: 0.4*abs(s)^1.5, "
                    "branch: 1}\ngrid: {x: [-1, 1, 21], y: [0, 1, 11]}\n")  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "1 of the data's 41 samples starts no ray" in res.output
    with xr.open_dataset(out) as ds:
        assert ds.attrs["data_undefined_at"] == "s=0"
    res, out = _moc(tmp_path, 'variables: [t, x]\nequation: "u_t + sqrt(u)*u_x = 0"\n'
                    'initial: "u(x, t=0) = x"\ngrid: {t: [0, 0.5, 6], x: [-1, 1, 21]}\n',
                    "--overwrite")  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "samples start" not in res.output and "starts no ray" not in res.output
    with xr.open_dataset(out) as ds:
        assert "data_undefined_samples" not in ds.attrs


def _caustic_entry(u0, du0, edge, s_lo, s_hi):
    """Burgers from u0: the time the caustic t(s) = -1/u0'(s), x(s) = s + t u0(s) reaches
    x = edge, for the root s in [s_lo, s_hi]."""
    from scipy.optimize import brentq

    s = brentq(lambda s: s - u0(s) / du0(s) - edge, s_lo, s_hi, xtol=1e-15)
    return -1 / du0(s)


def test_shorthand_breaking_time_does_not_hang_on_the_levels():
    """The first crossing on the grid's range came out 'none' or late when the rays that
    make it were never sampled: they land on the grid only between output levels, or
    after the last (the search goes on to twice it), or come from far off while the rays
    near the grid stand still; and with a one-node grid the data had seven samples."""
    cases = [  # (data, its derivative, grid, the caustic's root bracket and edge)
        ("sin(x)", np.sin, np.cos, "t: [0, 2, 6], x: [0, 1, 11]",
         (np.pi + 0.01, 1.5 * np.pi - 1e-9, 1.0)),
        ("1 + 0.5*exp(-x^2)", lambda s: 1 + 0.5 * np.exp(-s * s),
         lambda s: -s * np.exp(-s * s), "t: [0, 6, 21], x: [4, 4, 1]", (0.3, 0.7, 4.0)),
        ("cos(x)^3", lambda s: np.cos(s) ** 3, lambda s: -3 * np.cos(s) ** 2 * np.sin(s),
         "t: [0, 3.98, 6], x: [7.824, 7.834, 21]", (6.4, 6.6, 7.824)),
    ]  # fmt: skip
    for g, u0, du0, grid, (a, b, edge) in cases:
        r = solve_pde(pde(f'variables: [t, x]\nequation: u_t + u*u_x = 0\n'
                           f'initial: "u(x, t=0) = {g}"\ngrid: {{{grid}}}\n'))  # fmt: skip
        exact = _caustic_entry(u0, du0, edge, a, b)
        assert r.attrs["breaking_time"] == pytest.approx(exact, rel=1e-11), g
        assert r.attrs["breaking_location_x"] == pytest.approx(edge, abs=1e-11), g
    # the least crossing time inside the range, near its edge (the neighbouring rays'
    # crossings lie past it): t = -1/u0'(s) at u0''(s) = 0
    from scipy.optimize import brentq

    r = solve_pde(pde('variables: [t, x]\nequation: u_t + u*u_x = 0\n'
                       'initial: "u(x, t=0) = sin(x) + 0.5*sin(3*x)"\n'
                       "grid: {t: [0, 1.73, 6], x: [-1.101, 1.899, 21]}\n"))  # fmt: skip
    s = brentq(lambda s: -np.sin(s) - 4.5 * np.sin(3 * s), 1.0, 1.2, xtol=1e-15)
    assert r.attrs["breaking_time"] == pytest.approx(-1 / (np.cos(s) + 1.5 * np.cos(3 * s)),
                                                     rel=1e-12)  # fmt: skip


def test_a_speed_steeper_than_the_samples_still_breaks():
    """u_t + tanh(k u) u_x = 0 from sin x: the speed falls from 1 to -1 across a width
    1/k at x = pi, far below the samples' spacing, and the rays there cross at t = 1/k.
    No sampled ray crossed: 'none' for k = 1000 to 1e6 and 0.0161 for k = 300, and
    --crossing stop gave values where three rays meet.  The same in two dimensions."""
    for k in (300, 1000, 1e6):
        r = solve_pde(pde(f'variables: [t, x]\nequation: "u_t + tanh({k}*u)*u_x = 0"\n'
                          'initial: "u(x, t=0) = sin(x)"\ngrid: {t: [0, 1, 5], x: [2, 4, 41]}\n'))  # fmt: skip
        assert r.attrs["breaking_time"] == pytest.approx(1 / k, rel=1e-12)
        assert r.attrs["breaking_location_x"] == pytest.approx(np.pi, abs=1e-12)
        assert np.isnan(np.asarray(r["u"])[1:]).all()
    r = solve_pde(pde('variables: [t, x, y]\nequation: "u_t + tanh(3000*u)*u_x + u_y = 0"\n'
                       'initial: "u(x, y, t=0) = -(x + 0.3*y)"\n'
                       "grid: {t: [0, 1, 3], x: [-1, 1, 11], y: [-1, 1, 11]}\n"))  # fmt: skip
    assert r.attrs["breaking_time"] == pytest.approx(1 / 3000, rel=1e-12)


DEGENERATE = (
    "variables: [t, x]\nequation: u_t + 1.5*sqrt(u)*u_x = 0\n"
    'initial: "u(x, t=0) = max(0, sin(x))^2"\n'
)


def _degenerate_feet(x, t):
    """Feet s of the rays of u_t + (u^1.5)_x = 0 from u0 = max(0, sin x)^2 through (x, t)
    before they cross: x = s + 1.5 max(0, sin s) t (increasing in s for t < 2/3)."""
    from scipy.optimize import brentq

    return np.array([brentq(lambda s, xi=xi: s + 1.5 * max(0.0, np.sin(s)) * t - xi,
                            xi - 2.0, xi + 0.1, xtol=1e-15) for xi in x])  # fmt: skip


def test_a_flux_degenerate_where_u_is_zero():
    """u_t + 1.5 sqrt(u) u_x = 0 (flux u^1.5) from data zero on half of each period: the
    speed's derivative is infinite where u = 0, and the variations there (0 x inf) used to
    make every such ray NaN, a blow-up at t = 0.  u = 0 stands still; the rest moves along
    its rays; the first crossing is at t = 2/3, x = pi, where the speed 1.5 max(0, sin x) has
    a kink (a limit of the rays' crossing times, attained by none of them)."""
    r = solve_pde(pde(DEGENERATE + "grid: {t: [0, 0.6, 4], x: [-3, 6, 37]}\n"))
    assert r.attrs["blow_up_time"] == "none"
    assert r.attrs["breaking_time"] == pytest.approx(2 / 3, abs=1e-12)
    assert r.attrs["breaking_location_x"] == pytest.approx(np.pi, abs=1e-6)
    x = np.asarray(r.coords["x"])
    for t, row in zip(np.asarray(r.coords["t"]), np.asarray(r["u"])):
        s = _degenerate_feet(x, t)
        np.testing.assert_allclose(row, np.maximum(0.0, np.sin(s)) ** 2, rtol=0, atol=1e-13)
    assert (np.asarray(r["u"])[:, x <= 0] == 0).all()


def test_a_flux_degenerate_where_u_is_zero_shock():
    """After the crossing the shock runs into u = 0 at the Rankine-Hugoniot speed
    [u^1.5] / [u] = sqrt(u_left) = sin(s), s the foot of the ray meeting it from the
    left: d/dt (s + 1.5 sin(s) t) = sin(s).  charme's shocks at t = 1 and t = 2.5 lie on
    one solution of that equation, and its values off the shocks on the rays."""
    from scipy.integrate import solve_ivp
    from scipy.optimize import brentq

    r = solve_pde(pde(DEGENERATE + "grid: {t: [1, 2.5, 2], x: [0, 6.2, 63]}\n"),
                  crossing="shock")  # fmt: skip
    st, sx = np.asarray(r["shock_t"]), np.asarray(r["shock_x"])
    x1, x2 = sx[st == 1.0], sx[st == 2.5]
    assert len(x1) == len(x2) == 1

    def fold(t):  # the rays from (0, fold(t)) still spread apart at t
        return np.arccos(-1 / (1.5 * t))

    # the foot of the left ray at the shock at t = 1, then ds/dt (1 + 1.5 t cos s) = -sin(s) / 2
    s1 = brentq(lambda s: s + 1.5 * np.sin(s) - x1[0], 0.0, fold(1.0), xtol=1e-15)
    sol = solve_ivp(lambda t, s: -0.5 * np.sin(s) / (1 + 1.5 * t * np.cos(s)), (1.0, 2.5),
                    [s1], rtol=1e-12, atol=1e-14)  # fmt: skip
    s2 = sol.y[0, -1]
    assert x2[0] == pytest.approx(s2 + 1.5 * np.sin(s2) * 2.5, abs=1e-8)
    # values: left of the shock on the rays from (0, s_shock), zero right of it
    x = np.asarray(r.coords["x"])
    u = np.asarray(r["u"])
    for row, t, xs, ss in ((u[0], 1.0, x1[0], s1), (u[1], 2.5, x2[0], s2)):
        left = (x < xs - 1e-3) & (x > 0)
        assert ss < fold(t)
        s = np.array([brentq(lambda v, xi=xi, t=t: v + 1.5 * np.sin(v) * t - xi, 0.0, ss,
                             xtol=1e-15) for xi in x[left]])  # fmt: skip
        np.testing.assert_allclose(row[left], np.sin(s) ** 2, rtol=0, atol=1e-12)
        assert (row[x > xs + 1e-3] == 0).all()


def test_a_fast_ray_is_not_characteristic_data():
    """u_t + exp(u) u_x = 0 from u = x on [0, 30]: the rays' speed exp(28.5) beside their
    unit time rate made the data look characteristic by a relative test ('not
    transversal at x=28.5', exit 2).  Data at t = t0 of an evolution problem never are;
    u = x - W(t e^x) (Lambert W)."""
    from scipy.special import lambertw

    r = solve_pde(pde('variables: [t, x]\nequation: u_t + exp(u)*u_x = 0\n'
                      'initial: "u(x, t=0) = x"\ngrid: {t: [0, 1, 3], x: [0, 30, 11]}\n'))  # fmt: skip
    t, x = np.meshgrid(r.coords["t"], r.coords["x"], indexing="ij")
    exact = x - np.real(lambertw(t * np.exp(x)))
    np.testing.assert_allclose(np.asarray(r["u"]), exact, rtol=1e-14, atol=1e-14)


@pytest.mark.parametrize("equation, data, exact", [
    # Burgers, u0 = x up to 1 and 0 past it: the shock from (0, 1) at x = sqrt(1 + t)...
    ("u_t + u*u_x = 0", "x*(1 - min(1, max(0, floor(x - 1) + 1)))",
     lambda t, x: np.where(x < np.sqrt(1 + t), x / (1 + t), 0.0)),
    # ... and u_t + u_x^2/2 = 0 from min(x^2, 1): u_x falls from 2 to 0 at x = 1
    ("u_t + u_x^2/2 = 0", "min(x^2, 1)",
     lambda t, x: np.minimum(x**2 / (1 + 2 * t), 1.0)),
])  # fmt: skip
def test_a_jump_the_samples_do_not_show_breaks_at_once(equation, data, exact):
    """A jump of u (or of u_x) between samples next to a slope: its size is under 50
    times the neighbouring samples' differences, so it did not stand out, and no ray's
    Jacobian sees the rays on its two sides cross.  'breaking time none', and --crossing
    stop gave values of rays long crossed.  Neighbouring rays that change places now
    mark it: the breaking time is 0 at x = 1, and the entropy (viscosity) solution after."""
    text = f'variables: [t, x]\nequation: "{equation}"\ninitial: "u(x, t=0) = {data}"\n'
    grid = "grid: {t: [0.5, 0.5, 1], x: [0, 2, 11]}\n"
    r = solve_pde(pde(text + grid))
    assert r.attrs["breaking_time"] == 0.0
    assert r.attrs["breaking_location_x"] == pytest.approx(1.0, abs=1e-9)
    assert np.isnan(np.asarray(r["u"])).all()  # (--crossing stop: all after it)
    after = solve_pde(pde(text + grid), crossing="shock" if "u*u_x" in equation else "viscosity")
    x = np.asarray(after.coords["x"])
    np.testing.assert_allclose(np.asarray(after["u"])[0], exact(0.5, x), rtol=0, atol=1e-14)


@pytest.mark.parametrize("top", [0.502, 0.6])
def test_rays_focusing_to_a_point_break_there(top):
    """u_t + |grad u|^2/2 = 0 from exp(-x^2 - y^2): the rays from a ring of radius r meet
    on the axis at t = e^(r^2)/2 and cross their radial neighbours just after, two
    roots of det so close that one step of the crossing search held both (det dipped
    through 0 and back), and the ray at the centre only touches 0 at t = 1/2.  The
    breaking time was the nearest sample's (0.5055 to 0.5003, by the grid), and
    --crossing stop gave values at t = 0.502 past it.  Now t* = 1/2 at the origin."""
    r = solve_pde(pde('variables: [t, x, y]\nequation: u_t + (u_x^2 + u_y^2)/2 = 0\n'
                      'initial: "u(x, y, t=0) = exp(-x^2 - y^2)"\n'
                      f"grid: {{t: [0, {top}, 2], x: [-1.5, 1.5, 7], y: [-1.5, 1.5, 7]}}\n"))  # fmt: skip
    assert r.attrs["breaking_time"] == pytest.approx(0.5, abs=1e-12)
    assert r.attrs["breaking_location_x"] == pytest.approx(0.0, abs=1e-6)
    assert r.attrs["breaking_location_y"] == pytest.approx(0.0, abs=1e-6)
    assert np.isnan(np.asarray(r["u"])[1]).all()  # (stop: the level past t*)


@pytest.mark.parametrize("grid, crossing", [
    ("t: [0, 20, 5], x: [3.1415, 3.1417, 3]", "shock"),  # across the shock at pi
    ("t: [5, 5, 1], x: [2.0, 2.0001, 3]", "shock"),  # smooth there, after breaking
    ("t: [5, 5, 1], x: [3.1415, 3.1417, 3]", "viscosity"),  # across the kink at pi
    ("t: [5, 5, 1], x: [2.0, 2.0001, 3]", "viscosity"),
])  # fmt: skip
def test_a_narrow_grid_sees_the_rays_from_far_off(grid, crossing):
    """A grid 1e-4 wide: the shorthand's data are as narrow, and the probe for rays
    landing on the grid widened them by twelve doublings of that, 0.4 in all, short of
    the rays' feet (up to 5 away by t = 5).  The values were those of rays long crossed
    (u = 1e-5 for 0.52 beside the shock, and a shock between every two nodes), or NaN
    with 'breaking time none'.  The probe's first shell is now as wide as the rays travel.
    Burgers from sin x against Lax-Oleinik, u_t + u_x^2/2 = 0 from -cos x against
    Hopf-Lax."""
    equation = "u_t + u*u_x = 0" if crossing == "shock" else "u_t + u_x^2/2 = 0"
    data = "sin(x)" if crossing == "shock" else "-cos(x)"
    r = solve_pde(pde(f'variables: [t, x]\nequation: "{equation}"\n'
                      f'initial: "u(x, t=0) = {data}"\ngrid: {{{grid}}}\n'), crossing=crossing)  # fmt: skip
    x = np.asarray(r.coords["x"])
    for t, row in zip(np.asarray(r.coords["t"]), np.asarray(r["u"])):
        feet = _least_action_feet(x, t)  # (both: the rays x = s + t sin s)
        exact = np.sin(feet) if crossing == "shock" else -np.cos(feet) + t * np.sin(feet) ** 2 / 2
        np.testing.assert_allclose(row, exact, rtol=0, atol=1e-13)
    assert r.attrs["breaking_time"] == pytest.approx(
        1.0 if "3.14" in grid else 2.5103441469, abs=1e-9
    )
    if crossing == "shock":
        st, sx = np.asarray(r["shock_t"]), np.asarray(r["shock_x"])
        on = "3.14" in grid
        assert len(sx) == (4 if on else 0)  # one shock per level after t = 1, at pi
        np.testing.assert_allclose(sx, np.pi, rtol=0, atol=1e-12)
        assert (st > 1).all()


def _least_action_feet(x, t):
    """The foot s of the ray x = s + t sin s through (x, t) of least action
    1 - cos s + (x - s)^2 / (2t) (Lax-Oleinik for Burgers from sin x, Hopf-Lax for
    u_t + u_x^2/2 = 0 from -cos x), every root bracketed on a fine lattice and refined
    to rounding."""
    from scipy.optimize import brentq

    if t == 0:
        return np.asarray(x, float).copy()
    out = []
    for xi in x:
        f = lambda s, xi=xi: s + t * np.sin(s) - xi  # noqa: E731
        ss = np.linspace(xi - t - 1, xi + t + 1, 200001)
        v = f(ss)
        roots = [
            brentq(f, ss[i], ss[i + 1], xtol=1e-16) for i in np.flatnonzero(v[:-1] * v[1:] < 0)
        ]
        roots += list(ss[v == 0])
        out.append(min(roots, key=lambda s, xi=xi: 1 - np.cos(s) + (xi - s) ** 2 / (2 * t)))
    return np.array(out)


@pytest.mark.parametrize("nodes", [41, 51, 52, 91])
def test_merged_shocks_are_where_they_are(nodes):
    """Burgers from 2, 1, 0 (jumps at 0 and 1): the shocks meet at t = 1, x = 1.5, and the
    one shock runs on at speed 1, through x = 2 at t = 1.5.  Where the two branches'
    Lax-Oleinik values agreed to rounding, Newton's steps were the rounding's and
    wandered a hundred times; then the bracket's middle was taken: 2.0196 on 52 nodes
    (2.0 on 41)."""
    r = solve_pde(pde('variables: [t, x]\nequation: u_t + u*u_x = 0\n'
                      'initial: "u(x, t=0) = 2 - min(1, max(0, floor(x) + 1)) - '
                      'min(1, max(0, floor(x - 1) + 1))"\n'
                      f"grid: {{t: [1.5, 1.5, 1], x: [-1, 4, {nodes}]}}\n"), crossing="shock")  # fmt: skip
    np.testing.assert_allclose(np.asarray(r["shock_x"]), [2.0], rtol=0, atol=1e-13)
    x = np.asarray(r.coords["x"])
    off = np.abs(x - 2.0) > 1e-9
    np.testing.assert_array_equal(np.asarray(r["u"])[0][off], np.where(x < 2, 2.0, 0.0)[off])


def test_a_corner_near_a_sample_is_integrated():
    """Burgers from the clipped sine min(1, max(-1, 2 sin x)): its shocks stand still at pi
    and 3 pi.  A corner of the data 8e-4 inside an interval of 0.17 between samples lay
    before the first node of both Gauss rules, which agreed on the wrong integral (6e-7
    off): the shock at 3 pi was 2e-6 away from it at t = 20.  The check rule now has
    nodes at the ends."""
    r = solve_pde(pde('variables: [t, x]\nequation: u_t + u*u_x = 0\n'
                      'initial: "u(x, t=0) = min(1, max(-1, 2*sin(x)))"\n'
                      "grid: {t: [20, 20, 1], x: [0.1, 12.666370614359172, 37]}\n"),
                  crossing="shock")  # fmt: skip
    np.testing.assert_allclose(np.asarray(r["shock_x"]), [np.pi, 3 * np.pi], rtol=0, atol=1e-12)


def _trefoil_pre_focal_distances(p):
    """The lengths along the inward normals of the curve r = 1 + 0.3 cos 3 theta to the
    point ``p`` of the normals that reach it before their focal point (centre of
    curvature)."""
    from scipy.optimize import brentq

    def curve(s, k=0):
        r, rp, rpp = 1 + 0.3 * np.cos(3 * s), -0.9 * np.sin(3 * s), -2.7 * np.cos(3 * s)
        c, si = np.cos(s), np.sin(s)
        return [np.array([r * c, r * si]), np.array([rp * c - r * si, rp * si + r * c]),
                np.array([rpp * c - 2 * rp * si - r * c, rpp * si + 2 * rp * c - r * si])][k]  # fmt: skip

    def across(s):  # the point's offset across the normal at s
        t = curve(s, 1)
        d = p[:, None] - curve(s) if np.ndim(s) else p - curve(s)
        return (d[0] * t[0] + d[1] * t[1]) / np.hypot(*t)

    grid = np.linspace(0, 2 * np.pi, 4001)
    f = across(grid)
    out = []
    for k in np.flatnonzero(np.sign(f[:-1]) * np.sign(f[1:]) < 0):
        s = brentq(across, grid[k], grid[k + 1], xtol=1e-15)
        t, a = curve(s, 1), curve(s, 2)
        size = np.hypot(*t)
        inward = np.array([-t[1], t[0]]) / size
        along = (p - curve(s)) @ inward
        kappa = (t[0] * a[1] - t[1] * a[0]) / size**3
        if 0 < along < (1 / kappa if kappa > 0 else np.inf):
            out.append(along)
    return out


def test_first_arrival_takes_no_ray_past_its_own_focus():
    """|grad u| = 1 from the trefoil r = 1 + 0.3 cos 3 theta, fronts moving in, viscosity,
    on a grid outside the curve.  Rays moving in from the curve's dimples never focus,
    and Newton seeded on them reached points outside on other rays, long past their
    focal points: 4 of 11 values (u(-2.2, -0.8) = 3.60 on a ray focused 0.44 along
    it), and which ones depended on the grid.  Only the ray's own focus counts now:
    every value is the length of a normal reaching the point before its focus."""
    r = solve_pde(pde("variables: [x, y]\nequation: u_x^2 + u_y^2 = 1\n"
                      "initial: {parameters: {s: [0, 6.283185307179586, 721]}, "
                      "x: (1 + 0.3*cos(3*s))*cos(s), y: (1 + 0.3*cos(3*s))*sin(s), u: 0, "
                      "branch: 1}\ngrid: {x: [-2.5, -2.1, 5], y: [-1.1, -0.7, 5]}\n"),
                  crossing="viscosity")  # fmt: skip
    u = np.asarray(r["u"])
    xs, ys = np.asarray(r.coords["x"]), np.asarray(r.coords["y"])
    assert np.isnan(u[np.searchsorted(xs, -2.2), np.searchsorted(ys, -0.8)])
    assert np.isfinite(u).sum() >= 5
    for i, j in np.argwhere(np.isfinite(u)):
        lengths = _trefoil_pre_focal_distances(np.array([xs[i], ys[j]]))
        assert lengths and u[i, j] == pytest.approx(min(lengths), abs=1e-9)


def test_the_breaking_point_at_the_breaking_time_has_its_value():
    """Burgers from sin x at t = 1, x = pi: the ray from pi lands there with x_s = 0 (the
    caustic's tip), so Newton found it but the gradient failed, and the point was NaN in
    every mode.  u = 0 there (continuous); the gradient is infinite, NaN."""
    for crossing in ("stop", "shock", "multivalued"):
        r = solve_pde(pde("variables: [t, x]\nequation: u_t + u*u_x = 0\n"
                          'initial: "u(x, t=0) = sin(x)"\n'
                          "grid: {t: [1, 1, 1], x: [2.141592653589793, 4.141592653589793, 3]}\n"),
                      crossing=crossing)  # fmt: skip
        u, u_x = np.asarray(r["u"])[0], np.asarray(r["u_x"])[0]
        assert abs(u[1]) < 1e-15 and np.asarray(r["mask"])[0, 1] == 1
        assert np.isnan(u_x[1])
        s = _least_action_feet(np.asarray(r.coords["x"])[[0, 2]], 1.0)
        np.testing.assert_allclose(u[[0, 2]], np.sin(s), rtol=0, atol=1e-14)


@pytest.mark.parametrize("equation, data, t_b, u_left, u_right", [
    ("u_t + u*u_x = 0", "max(0, min(1, -x))", 1.0, 1.0, 0.0),
    ("u_t + (1 - 2*u)*u_x = 0", "max(0.2, min(0.8, 0.5 + x))", 0.5, 0.2, 0.8),
])  # fmt: skip
def test_a_ramp_closing_into_a_jump_lists_its_shock_at_that_time(equation, data, t_b,
                                                                  u_left, u_right):  # fmt: skip
    """A ramp of the data closes into a full jump at t_b, all its rays meeting at x = 0.
    No ray had folded over yet, so no shock was listed at an output level at t_b,
    although the values jump there.  A stretch of rays met in one point now counts; a
    smooth caustic's tip (one ray's x_s touching 0, Burgers from sin x at t = 1) does
    not."""
    r = solve_pde(pde(f'variables: [t, x]\nequation: "{equation}"\n'
                      f'initial: "u(x, t=0) = {data}"\n'
                      f"grid: {{t: [{t_b}, {t_b}, 1], x: [-1, 1, 20]}}\n"), crossing="shock")  # fmt: skip
    np.testing.assert_allclose(np.asarray(r["shock_x"]), [0.0], rtol=0, atol=1e-14)
    np.testing.assert_array_equal(np.asarray(r["shock_t"]), [t_b])
    x, u = np.asarray(r.coords["x"]), np.asarray(r["u"])[0]
    np.testing.assert_allclose(u, np.where(x < 0, u_left, u_right), rtol=0, atol=1e-14)
    smooth = solve_pde(pde("variables: [t, x]\nequation: u_t + u*u_x = 0\n"
                           'initial: "u(x, t=0) = sin(x)"\n'
                           "grid: {t: [1, 1, 1], x: [2.141592653589793, 4.141592653589793, 3]}\n"),
                       crossing="shock")  # fmt: skip
    assert len(np.asarray(smooth["shock_x"])) == 0


@pytest.mark.parametrize("equation, data, x_grid, expected", [
    ("u_t + u_x^2/2 = 0", "abs(x)", "[-3, 4, 281]", 0.0),  # the data's value at the kink
    ("u_t + u*u_x = 0", "(1 + abs(x)/x)/2", "[-3, 4, 281]", np.nan),  # 0/0: no ray starts
    ("u_t + u*u_x = 0", "(1 + abs(x)/x)/2", "[-1, 1, 81]", np.nan),
])  # fmt: skip
def test_hermite_draws_no_cubic_across_a_kink_of_the_data(equation, data, x_grid, expected):
    """--evaluation hermite, --crossing stop: at t = 0 the cubic between the two rays
    either side of a kink or jump of the data gave u = 7e-4 for |x| at 0, and, where the
    data are 0/0 and no ray starts, a value with mask 1 (0.94, u_x = 59).  No cubic
    crosses a kink now: the data's value where they have one, else no value, as with
    newton."""
    text = (f'variables: [t, x]\nequation: "{equation}"\ninitial: "u(x, t=0) = {data}"\n'
            f"grid: {{t: [0, 3, 13], x: {x_grid}}}\n")  # fmt: skip
    got = [solve_pde(pde(text), evaluation=ev) for ev in ("newton", "hermite")]
    for r in got:
        x = np.asarray(r.coords["x"])
        j = int(np.argmin(np.abs(x)))
        u0 = np.asarray(r["u"])[0]
        if np.isnan(expected):
            assert np.isnan(u0[j]) and np.asarray(r["mask"])[0, j] == 0
        else:
            assert u0[j] == expected
        away = np.abs(x) > 1e-9
        np.testing.assert_allclose(u0[away], np.asarray(got[0]["u"])[0][away], rtol=0, atol=1e-12)


def test_every_branch_near_a_focus():
    """|grad u| = 1 from the unit circle, rays both ways, --crossing multivalued: every
    node at r > 0 lies on two rays, u = r - 1 and -(1 + r) past the focus.  Near the
    centre the rays of the near branch pass so densely that all the nearest traced
    samples, and so every seed, were theirs: 16 nodes within r = 0.15 lacked the far
    branch.  Half the seeds now come from rays far apart on the data, also among the
    nearest samples of every few rays."""
    r = solve_pde(pde('variables: [x, y]\nequation: "u_x^2 + u_y^2 = 1"\n'
                      "initial: {parameters: {s: [0, 6.283185307179586, 721]}, x: cos(s), "
                      "y: sin(s), u: 0, branch: -1}\n"
                      "grid: {x: [-2.5, 2.5, 101], y: [-2.5, 2.5, 101]}\n"),
                  crossing="multivalued")  # fmt: skip
    x, y = np.meshgrid(r.coords["x"], r.coords["y"], indexing="ij")
    rad = np.hypot(x, y)
    got = np.sort(np.asarray(r["u_branches"]), axis=-1)
    exact = np.stack([-(1 + rad), rad - 1], axis=-1)
    on = rad > 1e-9
    assert np.isfinite(got[on][:, :2]).all()
    np.testing.assert_allclose(got[on][:, :2], exact[on], rtol=0, atol=1e-12)


def test_a_2d_breaking_point_inside_the_grid_is_the_one_reported():
    """Shorthand data repeating in x and y (sin x (1 + cos(y - 0.2)/2)): the first crossing
    happens at t = 2/3 at every (pi + 2k pi, 0.2 + 2l pi), and the one reported was a
    copy outside the grid (x = -pi, y = 6.48), the samples' least.  The least between
    the samples is now looked for among the rays crossing on the grid too."""
    r = solve_pde(pde("variables: [t, x, y]\nequation: u_t + u*u_x = 0\n"
                      'initial: "u(x, y, t=0) = sin(x)*(1 + 0.5*cos(y - 0.2))"\n'
                      "grid: {t: [0, 1, 5], x: [0, 6.283185307179586, 41], "
                      "y: [-3.141592653589793, 3.141592653589793, 41]}\n"))  # fmt: skip
    assert r.attrs["breaking_time"] == pytest.approx(2 / 3, abs=1e-12)
    assert r.attrs["breaking_location_x"] == pytest.approx(np.pi, abs=1e-9)
    assert r.attrs["breaking_location_y"] == pytest.approx(0.2, abs=1e-6)


def test_without_an_evolution_variable_the_first_crossing_is_found_between_samples():
    """Burgers from data on the slanted line t = s, x = 2s: neighbouring rays cross at
    tau(s) = (2 - h) / (2 s h), h = exp(-s^2)/2, least at s* (0.6463).  The location was
    the nearest sample's (4e-3 off on 601 samples); it is now refined between the
    samples, to the precision a least value's place has (about 1e-8)."""
    from scipy.optimize import minimize_scalar

    def h(s):
        return 0.5 * np.exp(-(s**2))

    def tau(s):
        return (2 - h(s)) / (2 * s * h(s))

    s = minimize_scalar(tau, bounds=(0.1, 2), method="bounded", options={"xatol": 1e-13}).x
    r = solve_pde(pde("variables: [t, x]\nequation: u_t + u*u_x = 0\n"
                      "initial: {parameters: {s: [-3, 3, 601]}, t: s, x: 2*s, u: 0.5*exp(-s^2)}\n"
                      "grid: {t: [-3, 6, 10], x: [-4, 8, 13]}\n"))  # fmt: skip
    assert r.attrs["breaking_location_t"] == pytest.approx(s + tau(s), abs=1e-7)
    assert r.attrs["breaking_location_x"] == pytest.approx(2 * s + h(s) * tau(s), abs=1e-7)


def test_the_strips_drift_is_measured_where_the_solution_comes_from():
    """u_t + u_x^2/2 - x^2/2 = 0 from sin(x)/2: the strips grow like cosh t and were traced
    to twice the grid's span, x ~ 1e9 by t = 20, where |F| is rounding on terms of 1e18:
    F_drift_along_strips read 1024 for a solve exact to 1e-14.  It is now taken over the
    grid's span and box."""
    r = solve_pde(pde("variables: [t, x]\nequation: u_t + u_x^2/2 - x^2/2 = 0\n"
                      'initial: "u(x, t=0) = 0.5*sin(x)"\n'
                      "grid: {t: [0, 10, 11], x: [-3, 3, 25]}\n"))  # fmt: skip
    assert r.attrs["F_drift_along_strips"] < 1e-12
    assert r.attrs["F_residual_max"] < 1e-12


def test_yaml_numbers_without_a_decimal_point():
    """YAML 1.1 reads 1e-9 (no decimal point) as a string: `parameters: {a: 1e-9}` was
    refused as 'not a number'."""
    p = pde("variables: [t, x]\nequation: u_t + a*u_x = 0\nparameters: {a: 1e-9, b: -2E3}\n"
            'initial: "u(x, t=0) = sin(x)"\ngrid: {t: [0, 1, 3], x: [0, 1, 5]}\n')  # fmt: skip
    assert dict(p.parameters) == {"a": 1e-9, "b": -2000.0}


def test_overrides_of_a_pde_add_up():
    """`charme sweep characteristics --vary c=... --set a=2` solved every point with the
    file's a: a PDE is rebuilt from its source text, and the second `with_values` (the
    point's c) dropped the first (the --set a)."""
    from charme.spec import with_values

    p = pde("variables: [t, x]\nequation: u_t + a*c*u*u_x = 0\nparameters: {a: 1, c: 1}\n"
            'initial: "u(x, t=0) = sin(x)"\ngrid: {t: [0, 1, 3], x: [0, 6.283185307179586, 9]}\n')  # fmt: skip
    both = with_values(with_values(p, {"a": 2.0}), {"c": 0.5})
    assert dict(both.parameters) == {"a": 2.0, "c": 0.5}
    assert solve_pde(both).attrs["breaking_time"] == pytest.approx(1.0, abs=1e-12)


CONE_HJ = "variables: [t, x, y]\nequation: u_t + sqrt(u_x^2 + u_y^2) = 0\n"


def test_a_cone_hamiltonian_at_a_critical_point_of_the_data():
    """u_t + |grad u| = 0 from -cos x - cos y.  (1) With a sample at the critical point
    (0, 0) the solve failed ('Newton failed ... no real gradient'): F_p is 0/0 there, so
    no ray starts there now.  (2) --crossing viscosity gave values above u0 itself (the
    fans out of the critical points are not built in 2-D): it is refused, as the 1-D
    abs(u_x) is."""
    text = CONE_HJ + ('initial: "u(x, y, t=0) = -cos(x) - cos(y)"\n'
                      "grid: {t: [0, 2, 5], x: [0, 6.283185307179586, 9], "
                      "y: [0, 6.283185307179586, 9]}\n")  # fmt: skip
    r = solve_pde(pde(text))
    assert r.attrs["data_undefined_at"] == "x=0, y=0"
    x, y = np.meshgrid(r.coords["x"], r.coords["y"], indexing="ij")
    np.testing.assert_allclose(np.asarray(r["u"])[0], -np.cos(x) - np.cos(y), rtol=0, atol=1e-14)
    with pytest.raises(SpecError, match="kink at grad u = 0") as info:
        solve_pde(pde(text), crossing="viscosity")
    assert info.value.field == "equation"


def test_a_cone_hamiltonian_away_from_critical_points_is_solved():
    """The same equation from x + sin(y)/2, whose gradient never vanishes: viscosity is
    the least of u0 over the disc of radius t (Hopf-Lax), on its edge."""
    from scipy.optimize import minimize_scalar

    r = solve_pde(pde(CONE_HJ + 'initial: "u(x, y, t=0) = x + 0.5*sin(y)"\n'
                      "grid: {t: [1, 1, 1], x: [0, 2, 5], y: [0, 3, 7]}\n"), crossing="viscosity")  # fmt: skip
    u = np.asarray(r["u"])[0]
    assert np.isfinite(u).all()
    for i, xv in enumerate(np.asarray(r.coords["x"])):
        for j, yv in enumerate(np.asarray(r.coords["y"])):

            def g(th, xv=xv, yv=yv):
                return xv + np.cos(th) + 0.5 * np.sin(yv + np.sin(th))

            th = np.linspace(0, 2 * np.pi, 3601)
            k = int(np.argmin(g(th)))
            best = minimize_scalar(g, bracket=(th[k] - 0.01, th[k], th[k] + 0.01), tol=1e-14)
            assert u[i, j] == pytest.approx(best.fun, abs=1e-10)


def test_the_note_says_why_2d_shorthand_stop_leaves_points_unreached(tmp_path):
    """2-D Burgers drifting at speed 3 from shorthand data: under --crossing stop the rays
    from beyond the sampled range are not looked for, and 35 of 45 points had no value
    with no reason given."""
    res, out = _moc(tmp_path, "variables: [t, x, y]\nequation: u_t + u*u_x + u*u_y = 0\n"
                    'initial: "u(x, y, t=0) = 3 + 0.1*sin(x)*sin(y)"\n'
                    "grid: {t: [0, 2, 5], x: [0, 3, 3], y: [0, 3, 3]}\n")  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "rays from farther out are not looked for" in res.output
    assert "--crossing multivalued" in res.output


@pytest.mark.parametrize("crossing", ["viscosity", "multivalued"])
def test_the_probe_completes_gradients_where_newton_s_default_start_fails(crossing):
    """u_t + |grad u| = 0 from x + sin(y)/2 at t = 3, grid x in [-1, 1]: the least of u0
    over the disc (Hopf-Lax) at x = -1 lies at x ~ -3.74, past the sampled data.  The
    probe for such rays completed each one's gradient by Newton from p = 0, where F_p
    is 0/0, so every probe ray failed and 18 of 45 points were NaN."""
    r = solve_pde(pde(CONE_HJ + 'initial: "u(x, y, t=0) = x + 0.5*sin(y)"\n'
                      "grid: {t: [3, 3, 1], x: [-1, 1, 5], y: [0, 6.283185307179586, 9]}\n"),
                  crossing=crossing)  # fmt: skip
    u = np.asarray(r["u"])[0]
    assert np.isfinite(u).all()
    assert u[0, 0] == pytest.approx(-4.253489798791553, abs=1e-10)


def test_a_2d_blow_up_is_found_between_the_samples():
    """u_t + u_x + u_y = u^2 from 1/2 + sin(x) cos(y)/4: u = u0 / (1 - t u0) blows up at
    t = 1 / max u0 = 4/3.  In 2-D the search between the samples returned nothing when
    its payload was None (a blow-up's time has none): the nearest sample's time, 1e-3
    off on a 7 x 7 grid."""
    r = solve_pde(pde("variables: [t, x, y]\nequation: u_t + u_x + u_y = u^2\n"
                      'initial: "u(x, y, t=0) = 0.5 + 0.25*sin(x)*cos(y)"\n'
                      "grid: {t: [0, 2.5, 6], x: [0, 3, 7], y: [0, 3, 7]}\n"))  # fmt: skip
    assert r.attrs["blow_up_time"] == pytest.approx(4 / 3, abs=1e-10)
