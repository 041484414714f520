"""charme plot and charme info on every kind of result; bad files exit 2."""

from __future__ import annotations

import json
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


def assert_picture(path):
    from matplotlib.image import imread

    img = imread(path)
    assert img.ndim == 3 and img.shape[0] > 200 and img.shape[1] > 300
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
    charme.solve_pde(charme.load(EX / "eikonal_circle.yaml")).write(out["moc2"])
    out["moc3"] = d / "moc3.nc"
    assert run("moc", EX / "transport_3d.yaml", "-q", "-o", out["moc3"]).exit_code == 0
    out["sweep1"] = d / "sweep1.nc"
    charme.sweep(EX / "birth_death.yaml", "ssa", {"lambda": "0.05:0.15:4"}, runs=20,
                 t_end=2.0, output=out["sweep1"], seed=1)  # fmt: skip
    out["sweep2"] = d / "sweep2.nc"
    charme.sweep(EX / "immigration_death.yaml", "cme", {"k": "1,5,10", "d": "0.1,1"},
                 t_end=2.0, output=out["sweep2"])  # fmt: skip
    out["sweepz"] = d / "sweepz.nc"
    charme.sweep(EX / "immigration_death.yaml", "cme", {"k": "1,5", "d": "0.1,1"}, zip=True,
                 t_end=2.0, output=out["sweepz"])  # fmt: skip
    return out


@pytest.mark.parametrize(
    "kind", ["ssa", "cme", "moc1", "moc2", "moc3", "sweep1", "sweep2", "sweepz"]
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
