import csv
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from click.testing import CliRunner

from charme.cli.main import cli

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def test_cme_netcdf_matches_ssa_names(tmp_path):
    spec = EXAMPLES / "immigration_death.yaml"
    cme_out, ssa_out = tmp_path / "c.nc", tmp_path / "s.nc"
    res = run("cme", spec, "-o", cme_out, "--t-end", 20, "--points", 5, "--save-distribution", "-q")
    assert res.exit_code == 0, res.output
    assert (
        run(
            "ssa", spec, "-o", ssa_out, "--t-end", 20, "--points", 5, "--runs", 4000, "-q"
        ).exit_code
        == 0
    )
    c, s = xr.open_dataset(cme_out), xr.open_dataset(ssa_out)
    assert c["mean"].dims == s["mean"].dims == ("time", "species")
    assert c["marginal"].dims == ("time", "species", "count")
    assert c["fsp_error"].dims == ("time",)
    assert c["p"].dims == ("time", "state") and c["states"].dims == ("state", "species")
    np.testing.assert_allclose(c["p"].sum("state"), 1.0, atol=1e-6)
    z = (s["mean"] - c["mean"]) / (c["sd"] / np.sqrt(4000))
    assert float(np.abs(z[1:]).max()) < 5
    assert c.attrs["solver"] == "cme" and c.attrs["n_states"] > 0
    c.close()
    s.close()


def test_cme_csv_and_steady_state(tmp_path):
    spec = EXAMPLES / "isomerisation.json"
    out = tmp_path / "c.csv"
    assert run("cme", spec, "-o", out, "--t-end", 2, "--points", 3, "-q").exit_code == 0
    rows = list(csv.reader(out.open()))
    assert rows[0] == ["time", "A-mean", "A-sd", "B-mean", "B-sd"] and len(rows) == 4
    nc = tmp_path / "ss.nc"
    assert run("cme", spec, "-o", nc, "--steady-state", "-q").exit_code == 0
    ds = xr.open_dataset(nc)
    assert ds["mean"].dims == ("species",)
    # stationary law of A <-> B: binomial(100, kr/(kf+kr)) = binomial(100, 1/3)
    assert float(ds["mean"].sel(species="A")) == pytest.approx(100 / 3, rel=1e-9)
    ds.close()


@pytest.mark.parametrize(
    "args, message",
    [
        (["--bounds", "A=5:10", "--t-end", "1"], "exclude the initial state"),
        (["--bounds", "A:5", "--t-end", "1"], "NAME=LO:HI"),
        (["--bounds", "Z=0:5", "--t-end", "1"], "unknown species"),
        (["--bounds", "A=9:2", "--t-end", "1"], "LO <= HI"),
        ([], "t_end is not set"),
        (["--t-end", "1", "--tol", "2"], "Invalid value"),
    ],
)
def test_cme_bad_input(tmp_path, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    res = run("cme", EXAMPLES / "immigration_death.yaml", "-o", "x.nc", *args)
    assert res.exit_code == 2 and message in res.output, res.output
    assert list(tmp_path.iterdir()) == []


def test_cme_unbounded_growth_is_refused(tmp_path):
    spec = tmp_path / "grow.yaml"
    spec.write_text("species: {A: 1}\nreactions:\n  - {eq: A -> 2 A, rate: 1}\ncme: {t_end: 30}\n")
    res = run("cme", spec, "-o", tmp_path / "x.nc", "--max-states", 3000)
    assert res.exit_code == 2 and "--bounds" in res.output
    assert not (tmp_path / "x.nc").exists()


def test_cme_defaults_from_spec(tmp_path):
    spec = tmp_path / "m.yaml"
    spec.write_text(
        "species: {A: 0}\nreactions:\n  - {eq: 0 -> A, rate: 5}\n  - {eq: A -> 0, rate: 1}\n"
        "cme: {t_end: 3, points: 4, tol: 1.0e-8, method: uniformization}\n"
    )
    out = tmp_path / "m.nc"
    assert run("cme", spec, "-o", out, "-q").exit_code == 0
    ds = xr.open_dataset(out)
    assert ds.sizes["time"] == 4 and ds.attrs["method"] == "uniformization"
    assert float(ds["fsp_error"].max()) <= 1e-8
    ds.close()
