"""charme plot and charme info on every kind of result; bad files exit 2."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import charme
from charme.cli.main import cli

pytest.importorskip("matplotlib")
ROOT = Path(__file__).resolve().parents[2]
EX = ROOT / "examples"


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def assert_picture(path, min_size=(200, 300)):
    from matplotlib.image import imread

    img = imread(path)
    assert img.ndim == 3 and img.shape[0] > min_size[0] and img.shape[1] > min_size[1]
    assert img[..., :3].std() > 0.05  # not blank


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    d = tmp_path_factory.mktemp("results")
    out = {}
    out["ssa"] = d / "ssa.nc"
    assert run("ssa", EX / "genetic_toggle_switch.yaml", "--runs", "50", "--t-end", "10",
               "--save-trajectories", "-q", "-o", out["ssa"]).exit_code == 0  # fmt: skip
    out["cme"] = d / "cme.nc"
    assert run("cme", EX / "immigration_death.yaml", "--t-end", "5", "-q", "-o",
               out["cme"]).exit_code == 0  # fmt: skip
    out["moc1"] = d / "moc1.nc"
    assert (
        run("moc", EX / "burgers_shock.yaml", "--save-rays", "-q", "-o", out["moc1"]).exit_code == 0
    )
    out["moc2"] = d / "moc2.nc"
    charme.solve_pde(charme.load(EX / "eikonal_circle.yaml"), save_rays=True).write(out["moc2"])
    out["moc3"] = d / "moc3.nc"
    assert run("moc", EX / "transport_3d.yaml", "-q", "-o", out["moc3"]).exit_code == 0
    out["sweep1"] = d / "sweep1.nc"
    charme.sweep(EX / "birth_death.yaml", "ssa", {"lambda": "0.05:0.15:4"}, runs=20,
                 t_end=2.0, output=out["sweep1"], seed=1)  # fmt: skip
    out["sweep2"] = d / "sweep2.nc"
    charme.sweep(EX / "immigration_death.yaml", "cme", {"k": "1,5,10", "d": "0.1,1"},
                 t_end=2.0, output=out["sweep2"])  # fmt: skip
    out["chain"] = d / "chain.nc"
    assert run("cme", EX / "three_state_chain.yaml", "-q", "-o", out["chain"]).exit_code == 0
    out["steady"] = d / "steady.nc"
    assert run("cme", EX / "isomerisation.json", "--steady-state", "-q", "-o",
               out["steady"]).exit_code == 0  # fmt: skip
    out["bursts"] = d / "bursts.nc"
    assert run("ssa", EX / "gene_bursts.yaml", "--runs", "20", "--t-end", "50", "-q",
               "-o", out["bursts"]).exit_code == 0  # fmt: skip
    out["sweepz"] = d / "sweepz.nc"
    charme.sweep(EX / "immigration_death.yaml", "cme", {"k": "1,5", "d": "0.1,1"}, zip=True,
                 t_end=2.0, output=out["sweepz"])  # fmt: skip
    return out


@pytest.mark.parametrize(
    "kind",
    ["ssa", "cme", "chain", "steady", "moc1", "moc2", "moc3", "sweep1", "sweep2", "sweepz"],
)
def test_plot_every_kind(results, tmp_path, kind):
    fig = tmp_path / f"{kind}.png"
    res = run("plot", results[kind], "-o", fig)
    assert res.exit_code == 0, res.output
    assert_picture(fig)
    assert not list(tmp_path.glob("*.partial"))


def test_plot_options_and_refusals(results, tmp_path):
    fig = tmp_path / "a.svg"
    assert run("plot", results["ssa"], "-o", fig, "--species", "V", "--title", "T").exit_code == 0
    assert fig.read_text().startswith("<?xml")
    res = run("plot", results["ssa"], "-o", fig)
    assert res.exit_code == 2 and "exists" in res.output
    res = run("plot", results["ssa"], "-o", tmp_path / "b.png", "--species", "Q")
    assert res.exit_code == 2 and "'Q'" in res.output
    res = run("plot", results["ssa"], "-o", tmp_path / "b.jpg")
    assert res.exit_code == 2 and not (tmp_path / "b.jpg").exists()


def test_info_text_and_json(results):
    res = run("info", results["cme"])
    assert res.exit_code == 0
    for fact in ("charme cme result", "immigration_death", "marginal(time, species, count)",
                 "charme_version", "fsp_error"):  # fmt: skip
        assert fact in res.output
    data = json.loads(run("info", results["sweep2"], "--json").output)
    assert data["solver"] == "sweep" and data["dimensions"]["k"]["size"] == 3
    assert data["provenance"]["sweep_parameters"] == "k,d"
    moc = json.loads(run("info", results["moc1"], "--json").output)
    assert moc["statistics"]["breaking_time"] == pytest.approx(1.0)


@pytest.mark.parametrize("command", ["info", "plot"])
def test_files_charme_did_not_write(tmp_path, command):
    import netCDF4

    other = tmp_path / "other.nc"
    with netCDF4.Dataset(other, "w") as ds:
        ds.createDimension("x", 3)
        ds.createVariable("x", "f8", ("x",))[:] = np.arange(3.0)
    text = tmp_path / "notes.nc"
    text.write_text("not netcdf")
    for path, message in [(other, "not a charme result"), (text, "not a NetCDF file"),
                          (tmp_path / "missing.nc", "no such file")]:  # fmt: skip
        res = run(command, path, *(["-o", tmp_path / "f.png"] if command == "plot" else []))
        assert res.exit_code == 2 and str(path) in res.output and message in res.output
        assert not (tmp_path / "f.png").exists()


@pytest.mark.parametrize(
    "kind, args",
    [
        ("ssa", ["--time", "5"]),  # histogram of the saved runs at t = 5
        ("ssa", ["--var", "trajectories", "--species", "U"]),
        ("cme", ["--time", "2", "--log"]),
        ("cme", ["--var", "marginal", "--log"]),
        ("cme", ["--var", "fsp_error"]),
        ("chain", ["--time", "1"]),
        ("moc1", ["--time", "1.5"]),
        ("moc3", ["--time", "0.2", "--log"]),
        ("sweep1", ["--var", "total_events"]),
        ("sweep2", ["--time", "1", "--species", "A"]),
    ],
)
def test_plot_options(results, tmp_path, kind, args):
    fig = tmp_path / "f.png"
    res = run("plot", results[kind], "-o", fig, "--dpi", "60", *args)
    assert res.exit_code == 0, res.output
    assert_picture(fig, min_size=(150, 200))


@pytest.mark.parametrize(
    "kind, args, message",
    [
        ("moc2", ["--time", "1"], "--time needs a PDE with an evolution variable"),
        ("ssa", ["--var", "nope"], "no variable 'nope'"),
        ("moc1", ["--species", "u"], "--species applies to"),
        ("sweep2", ["--var", "marginal"], "cannot reduce 'marginal'"),
    ],
)
def test_plot_refuses_options_that_do_not_fit(results, tmp_path, kind, args, message):
    res = run("plot", results[kind], "-o", tmp_path / "f.png", *args)
    assert res.exit_code == 2 and message in res.output
    assert not list(tmp_path.iterdir())


def test_figures_hold_what_they_should(results):
    from charme.plotting import figure_for

    # species on very different scales get a panel each
    bursts = figure_for(charme.open_result(results["bursts"]))
    assert len(bursts.axes) == 4
    toggle = figure_for(charme.open_result(results["ssa"]))
    assert len(toggle.axes) == 1 and len(toggle.axes[0].lines) == 2 * (1 + 5)
    # CME: bands beside a heat map (and its colour bar)
    assert len(figure_for(charme.open_result(results["cme"])).axes) == 3
    # Burgers: the shock marked in the curves and the rays panels, breaking time in the title
    burgers = figure_for(charme.open_result(results["moc1"]))
    curves, _, rays = burgers.axes
    assert "breaking at t = 1" in curves.get_title()
    assert "shock" in rays.get_legend_handles_labels()[1]
    assert len(rays.lines) > 20


def test_hand_built_sweeps(tmp_path):
    """Three varied parameters (a slice at the third's middle) and a zipped PDE sweep."""
    from charme.plotting import figure_for
    from charme.results import Result

    rng = np.random.default_rng(1)
    coords = {"time": np.linspace(0, 1, 3), "species": np.array(["A", "B"]),
              "k1": np.array([0.1, 1.0, 10.0, 100.0]), "n0": np.array([1, 2]),
              "d": np.array([0.5, 1.0, 2.0])}  # fmt: skip
    shape = (4, 2, 3, 3, 2)
    grid = Result("sweep", coords,
                  {"mean": (("k1", "n0", "d", "time", "species"), rng.random(shape)),
                   "sd": (("k1", "n0", "d", "time", "species"), rng.random(shape))},
                  {"solver": "sweep", "charme_version": "0", "sweep_solver": "ssa",
                   "sweep_parameters": "k1,n0,d", "title": "grid"})  # fmt: skip
    grid.write(tmp_path / "grid.nc")
    fig = figure_for(charme.open_result(tmp_path / "grid.nc"))
    assert [ax.get_title() for ax in fig.axes[::2]] == ["A, d = 1", "B, d = 1"]
    assert fig.axes[0].get_xscale() == "log"
    assert run("plot", tmp_path / "grid.nc", "-o", tmp_path / "grid.png").exit_code == 0

    u = rng.random((3, 2, 5))
    zipped = Result("sweep", {"point": np.arange(3), "t": np.array([0.0, 1.0]),
                              "x": np.linspace(0, 1, 5)},
                    {"u": (("point", "t", "x"), u), "mask": (("point", "t", "x"), np.ones_like(u)),
                     "a": (("point",), np.array([1.0, 2.0, 3.0])),
                     "b": (("point",), np.array([3.0, 1.0, 2.0])),
                     "breaking_time": (("point",), np.array([1.0, 0.5, 0.25]))},
                    {"solver": "sweep", "charme_version": "0", "sweep_solver": "characteristics",
                     "sweep_parameters": "a,b", "evolution_variable": "t"},
                    {"u": {"long_name": "solution u"}})  # fmt: skip
    zipped.write(tmp_path / "zip.nc")
    back = charme.open_result(tmp_path / "zip.nc")
    top, bottom = figure_for(back).axes
    np.testing.assert_allclose(top.lines[0].get_ydata(), np.sqrt((u[:, -1] ** 2).mean(axis=1)))
    assert bottom.get_legend_handles_labels()[1] == ["a", "b"]
    top = figure_for(back, var="breaking_time").axes[0]
    np.testing.assert_allclose(top.lines[0].get_ydata(), [1.0, 0.5, 0.25])


def test_plot_default_name_and_missing_matplotlib(results, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert run("plot", results["cme"]).exit_code == 0
    assert_picture(tmp_path / "cme.png")
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    res = run("plot", results["cme"], "-o", tmp_path / "g.png")
    assert res.exit_code == 2 and "charme[plot]" in res.output
    assert not (tmp_path / "g.png").exists()


def test_info_on_a_partial_run_and_a_chain(results, tmp_path):
    from charme.results import Result

    partial = Result("ssa", {"time": np.arange(3.0), "species": np.array(["A"])},
                     {"mean": (("time", "species"), np.ones((3, 1))),
                      "sd": (("time", "species"), np.zeros((3, 1)))},
                     {"solver": "ssa", "charme_version": "0", "runs": 10, "runs_completed": 4,
                      "complete": 0})  # fmt: skip
    partial.write(tmp_path / "p.nc")
    res = run("info", tmp_path / "p.nc")
    assert res.exit_code == 0 and "INCOMPLETE" in res.output
    assert json.loads(run("info", tmp_path / "p.nc", "--json").output)["complete"] is False
    chain = json.loads(run("info", results["chain"], "--json").output)
    assert chain["dimensions"]["state"]["values"] == ["off", "on", "blocked"]


def test_plot_every_branch(tmp_path):
    """``--var u_branches`` of a multivalued solve: in 1-D u(x) with each branch's points;
    in 2-D an image of how many branches reach each node (1, 3 and 9 for -cos x - cos y)."""
    from charme.plotting import figure_for

    hj = charme.solve_pde(charme.load(EX / "hamilton_jacobi.yaml"), crossing="multivalued")
    one = tmp_path / "hj.nc"
    hj.write(one)
    assert run("plot", one, "--var", "u_branches", "-o", tmp_path / "hj.png").exit_code == 0
    curves = figure_for(charme.open_result(one), var="u_branches").axes[0]
    width = hj.data_vars["u_branches"][1].shape[-1]
    assert width >= 2 and len(curves.lines) >= 2 * (1 + width)  # a curve and its branches
    two = charme.loads("""kind: pde
variables: [t, x, y]
equation: "u_t + (u_x^2 + u_y^2)/2 = 0"
initial: "u(x, y, t=0) = -cos(x) - cos(y)"
grid: {t: [3, 3, 1], x: [-2.5, 2.5, 6], y: [-2.5, 2.5, 6]}
""")
    plane = tmp_path / "hj2.nc"
    charme.solve_pde(two, crossing="multivalued").write(plane)
    fig = figure_for(charme.open_result(plane), var="u_branches")
    img = np.ma.masked_invalid(fig.axes[0].collections[0].get_array())
    assert sorted(set(img.compressed().tolist())) == [1.0, 3.0, 9.0]
    assert "branches of u" in fig.axes[-1].get_ylabel()
