import csv
import json
import runpy
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from click.testing import CliRunner

from charme.cli.main import cli

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
ALL_SPECS = sorted(p for p in EXAMPLES.iterdir() if p.suffix in (".yaml", ".toml", ".json"))
CHAINS = [p for p in ALL_SPECS if "markov-chain" in p.read_text()]
PDES = [p for p in ALL_SPECS if "kind: pde" in p.read_text()]
SPECS = [p for p in ALL_SPECS if p not in CHAINS and p not in PDES]
SCRIPTS = sorted(EXAMPLES.glob("*.py"))


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


@pytest.mark.parametrize("spec", SPECS, ids=lambda p: p.name)
def test_every_example_spec_runs(spec, tmp_path):
    out = tmp_path / "out.nc"
    res = run("ssa", spec, "-o", out, "--runs", 50, "-q")
    assert res.exit_code == 0, res.output
    ds = xr.open_dataset(out)
    assert ds["mean"].dims == ("time", "species")
    assert ds.attrs["runs_completed"] == 50 and ds.attrs["complete"] == 1
    assert np.isfinite(ds["mean"].values).all()
    ds.close()
    assert run("validate", spec).exit_code == 0


@pytest.mark.parametrize("spec", PDES, ids=lambda p: p.name)
def test_every_example_pde_runs(spec, tmp_path):
    out = tmp_path / "out.nc"
    res = run("characteristics", spec, "-o", out, "-q")
    assert res.exit_code == 0, res.output
    ds = xr.open_dataset(out)
    assert ds["mask"].values.any() and np.isfinite(ds["u"].values[ds["mask"].values == 1]).all()
    ds.close()
    assert run("validate", spec).exit_code == 0


@pytest.mark.parametrize("spec", CHAINS, ids=lambda p: p.name)
def test_every_example_chain_runs(spec, tmp_path):
    out = tmp_path / "out.nc"
    res = run("cme", spec, "-o", out, "-q")
    assert res.exit_code == 0, res.output
    ds = xr.open_dataset(out)
    np.testing.assert_allclose(ds["p"].sum("state"), 1.0, atol=1e-9)
    ds.close()
    assert run("validate", spec).exit_code == 0
    csv_out = tmp_path / "out.csv"
    assert run("cme", spec, "-o", csv_out, "-q").exit_code == 0
    assert csv_out.read_text().splitlines()[0].startswith("time,")
    res = run("ssa", spec, "-o", tmp_path / "s.nc")
    assert res.exit_code == 2 and "charme cme" in res.output


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_every_example_script_runs(script):
    ns = runpy.run_path(str(script))
    frac, exact, se, failed = ns["main"](4000)
    assert failed == 0
    assert abs(frac - exact) < 5 * max(se, 1e-3)


def test_netcdf_contents_and_provenance(tmp_path):
    out = tmp_path / "bd.nc"
    spec = EXAMPLES / "birth_death.yaml"
    res = run("ssa", spec, "-o", out, "--runs", 200, "--points", 11, "--seed", 5,
              "--save-trajectories", "--set", "mu=0.2", "--set", "A=50", "-q")  # fmt: skip
    assert res.exit_code == 0, res.output
    ds = xr.open_dataset(out)
    assert list(ds["species"].values) == ["A"]
    assert ds["trajectories"].dims == ("run", "time", "species")
    assert ds["trajectories"].dtype.kind == "i"
    assert ds.sizes == {"run": 200, "time": 11, "species": 1}
    traj = ds["trajectories"].values.astype(float)
    np.testing.assert_allclose(ds["mean"].values, traj.mean(0), rtol=1e-12)
    np.testing.assert_allclose(ds["sd"].values, traj.std(0, ddof=1), rtol=1e-9)
    assert (traj[:, 0, 0] == 50).all()
    a = ds.attrs
    assert a["seed"] == "5" and a["runs"] == 200 and a["method"] == "direct"
    assert "birth_death" in a["spec_text"] and "0.2" in a["parameters"]
    assert a["total_events"] > 0 and a["wall_time_s"] >= 0
    assert a["charme_version"] and a["numba_version"]
    ds.close()


def test_csv_layouts(tmp_path):
    spec = EXAMPLES / "isomerisation.json"
    out = tmp_path / "iso.csv"
    assert run("ssa", spec, "-o", out, "--runs", 100, "--points", 6, "-q").exit_code == 0
    rows = list(csv.reader(out.open()))
    assert rows[0] == ["time", "A-mean", "A-sd", "B-mean", "B-sd"]
    assert len(rows) == 7 and float(rows[-1][0]) == 5.0
    single = tmp_path / "one.csv"
    assert run("ssa", spec, "-o", single, "--runs", 1, "--points", 6, "-q").exit_code == 0
    rows = list(csv.reader(single.open()))
    assert rows[0] == ["time", "A", "B"]
    assert all(int(r[1]) + int(r[2]) == 100 for r in rows[1:])


def test_default_output_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert run("ssa", EXAMPLES / "immigration_death.yaml", "--runs", 10, "-q").exit_code == 0
    assert (tmp_path / "immigration_death.nc").exists()


def test_refuses_to_overwrite(tmp_path):
    out = tmp_path / "o.nc"
    out.write_text("precious")
    res = run("ssa", EXAMPLES / "immigration_death.yaml", "-o", out, "--runs", 10)
    assert res.exit_code == 2 and "exists" in res.output
    assert out.read_text() == "precious"
    res = run(
        "ssa", EXAMPLES / "immigration_death.yaml", "-o", out, "--runs", 10, "--overwrite", "-q"
    )
    assert res.exit_code == 0
    assert xr.open_dataset(out).attrs["runs"] == 10


BAD_SPEC = "species: {A: 1}\nreactions:\n  - {eq: A -> 0, rate: kk}\nssa: {t_end: 1}\n"


@pytest.mark.parametrize(
    "args, message",
    [
        (["--set", "zz=1"], "unknown parameter or species 'zz'"),
        (["--set", "k=abc"], "not a number"),
        (["--set", "novalue"], "NAME=VALUE"),
        (["--runs", "0"], "Invalid value"),
        (["--runs", "2.5"], "Invalid value"),
        (["--t-end", "-1"], "Invalid value"),
        (["--points", "1"], "Invalid value"),
        (["--method", "tau"], "Invalid value"),
        (["-o", "out.txt"], "cannot write"),
        (["-o", "missing_dir/out.nc"], "directory does not exist"),
    ],
)
def test_bad_options_exit_2_and_write_nothing(tmp_path, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    res = run("ssa", EXAMPLES / "immigration_death.yaml", *args)
    assert res.exit_code == 2
    assert message in res.output
    assert list(tmp_path.iterdir()) == []


def test_bad_spec_is_one_located_line(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    spec = tmp_path / "model.yaml"
    spec.write_text(BAD_SPEC)
    res = run("ssa", spec, "-o", tmp_path / "x.nc")
    assert res.exit_code == 2
    assert res.output.strip() == f"charme: error: {spec}:3: reactions[0].rate: unknown name 'kk'"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.yaml"]
    assert run("validate", spec).exit_code == 2


def test_missing_t_end_is_explained(tmp_path):
    spec = tmp_path / "m.yaml"
    spec.write_text("species: {A: 1}\nreactions:\n  - {eq: A -> 0, rate: 1}\n")
    res = run("ssa", spec, "-o", tmp_path / "x.nc")
    assert res.exit_code == 2 and "--t-end" in res.output
    assert run("ssa", spec, "-o", tmp_path / "x.nc", "--t-end", 1, "--runs", 5, "-q").exit_code == 0


def test_runtime_failure_exits_1(tmp_path):
    spec = tmp_path / "m.yaml"
    spec.write_text(
        "species: {A: 0}\nreactions:\n  - {eq: 0 -> A, rate: 1000}\nssa: {t_end: 100}\n"
    )
    res = run("ssa", spec, "-o", tmp_path / "x.nc", "--max-steps", 1000, "--runs", 3)
    assert res.exit_code == 1 and "step budget" in res.output
    assert not (tmp_path / "x.nc").exists()


def test_validate_schema_version():
    res = run("validate", EXAMPLES / "toggle.yaml")
    assert res.exit_code == 0 and "A + B -> C" in res.output and "propensity" in res.output
    schema = json.loads(run("schema").output)
    assert schema["properties"]["reactions"]["type"] == "array"
    from charme import __version__

    assert __version__ in run("--version").output


def test_help_is_light():
    code = "import sys; from charme.cli.main import cli; print('numba' in sys.modules, 'numpy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]
    t0 = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "charme.cli.main", "--help"], capture_output=True, check=True
    )
    assert time.perf_counter() - t0 < 10  # a sanity bound only; the real figure is in benchmarks/


def test_ctrl_c_keeps_finished_runs(tmp_path):
    spec = tmp_path / "long.yaml"
    spec.write_text(
        "species: {A: 0}\nreactions:\n  - {eq: 0 -> A, rate: 1000}\n  - {eq: A -> 0, rate: 1}\n"
        "ssa: {t_end: 2000, points: 11, runs: 100000, seed: 3}\n"
    )
    out = tmp_path / "long.nc"
    # make sure the kernels are compiled and cached, so the signal lands mid-ensemble
    import charme

    charme.simulate(charme.load(spec), runs=2, t_end=1.0, threads=1)
    # (SIGINT at its default in the child: a test run started in the background of a
    # non-interactive shell has it ignored, and the child would inherit that)
    proc = subprocess.Popen(
        [sys.executable, "-m", "charme.cli.main", "ssa", str(spec), "-o", str(out), "--threads", "2"],
        stderr=subprocess.PIPE, text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )  # fmt: skip
    deadline = time.time() + 120
    # wait until the kernels are running (the first runs take a while to finish)
    time.sleep(4)
    proc.send_signal(signal.SIGINT)
    try:
        _, err = proc.communicate(timeout=max(1, deadline - time.time()))
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    assert "interrupted" in err
    ds = xr.open_dataset(out)
    assert ds.attrs["complete"] == 0
    assert 0 < ds.attrs["runs_completed"] < 100000
    assert np.isfinite(ds["mean"].values).all()
    ds.close()
    assert not any(p.suffix == ".partial" for p in tmp_path.iterdir())
