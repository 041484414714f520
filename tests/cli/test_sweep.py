"""Parameter sweeps: designs, the API, the CLI, shards and resume, executors."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import charme
from charme.cli.main import cli
from charme.errors import SolverError, SpecError
from charme.sweeps import make_design, parse_values, parse_vary, point_seed, read_sweep_file
from charme.sweeps.store import shard_dir_for

ROOT = Path(__file__).resolve().parents[2]
BD = str(ROOT / "examples" / "birth_death.yaml")
ID = str(ROOT / "examples" / "immigration_death.yaml")
ADVECTION = """
kind: pde
name: advection
unknown: u
variables: [t, x]
equation: "u_t + c*u_x = 0"
parameters: {c: 1.0}
initial: "u(x, t=0) = sin(x)"
grid: {t: [0, 1, 3], x: [0, 3, 7]}
"""


def run(args):
    return CliRunner().invoke(cli, args, catch_exceptions=False)


# ---------------------------------------------------------------- designs


def test_value_syntax():
    assert parse_values("0:1:5", "k") == (0.0, 0.25, 0.5, 0.75, 1.0)
    assert np.allclose(parse_values("log:1e-3:1:4", "k"), [1e-3, 1e-2, 1e-1, 1])
    assert parse_values("10,20,50", "n") == (10, 20, 50)
    assert parse_values("7", "n") == (7,)
    assert parse_values("2:2:1", "n") == (2.0,)


@pytest.mark.parametrize(
    "text, message",
    [
        ("", "empty range"),
        ("1:2:0", "whole number >= 1"),
        ("1:2:2.5", "whole number >= 1"),
        ("1:2:1", "1 value between two different ends"),
        ("log:0:1:3", "positive ends"),
        ("log:1,2", "log:a:b:n"),
        ("1:2", "a:b:n"),
        ("1,,2", "empty entry"),
        ("a,b", "not a number"),
        ("nan", "not a finite number"),
    ],
)
def test_bad_values(text, message):
    with pytest.raises(SpecError, match=message):
        parse_values(text, "--vary k")


def test_vary_and_zip():
    assert parse_vary(["k=1,2", "n=3"]) == {"k": (1, 2), "n": (3,)}
    with pytest.raises(SpecError, match="given twice"):
        parse_vary(["k=1", "k=2"])
    with pytest.raises(SpecError, match="NAME=VALUES"):
        parse_vary(["k"])
    grid = make_design({"a": (1, 2), "b": (10, 20, 30)})
    assert grid.shape == (2, 3) and len(grid) == 6 and grid.dims == ("a", "b")
    assert grid.points()[1] == {"a": 1, "b": 20}  # C order: the last name varies fastest
    z = make_design({"a": (1, 2), "b": (10, 20)}, zip_=True)
    assert z.dims == ("point",) and z.points() == [{"a": 1, "b": 10}, {"a": 2, "b": 20}]
    with pytest.raises(SpecError, match="one length"):
        make_design({"a": (1, 2), "b": (1, 2, 3)}, zip_=True)
    with pytest.raises(SpecError, match="nothing to sweep"):
        make_design({})


def test_sweep_file(tmp_path):
    f = tmp_path / "design.yaml"
    f.write_text("vary:\n  k: log:0.1:10:3\n  d: [0.1, 0.2, 0.3]\nzip: true\nseed: 4\n")
    d, extra = read_sweep_file(f)
    assert d.mode == "zip" and len(d) == 3 and extra == {"seed": 4}
    f.write_text("points:\n  - {k: 1, d: 0.1}\n  - {k: 2, d: 0.5}\n")
    d, _ = read_sweep_file(f)
    assert d.mode == "points" and d.points()[1] == {"k": 2, "d": 0.5}
    f.write_text("points:\n  - {k: 1, d: 0.1}\n  - {k: 2}\n")
    with pytest.raises(SpecError) as e:
        read_sweep_file(f)
    assert "design.yaml:3: points[1]" in str(e.value)
    f.write_text("vary:\n  k: 1:2:0\n")
    with pytest.raises(SpecError) as e:
        read_sweep_file(f)
    assert "design.yaml:2: vary.k" in str(e.value)


# ---------------------------------------------------------------- the API


def test_ssa_sweep_points_are_plain_runs_with_derived_seeds():
    kw = dict(runs=50, t_end=2.0, points=5)
    r = charme.sweep(BD, "ssa", {"lambda": "0.05,0.2", "A": "10,30"}, seed=11, **kw)
    assert r.kind == "sweep" and r.data_vars["mean"][0] == ("lambda", "A", "time", "species")
    assert r["mean"].shape == (2, 2, 5, 1)
    net = charme.load(BD)
    for i, (lam, a) in enumerate([(0.05, 10), (0.05, 30), (0.2, 10), (0.2, 30)]):
        one = charme.simulate(net.with_values({"lambda": lam, "A": a}),
                              seed=point_seed(11, i), **kw)  # fmt: skip
        assert np.array_equal(one["mean"], r["mean"][i // 2, i % 2])
        assert r["seed"][i // 2, i % 2] == point_seed(11, i)
    assert len({int(s) for s in r["seed"].ravel()}) == 4


def test_ssa_sweep_local_processes_give_the_same_bits():
    kw = dict(runs=40, t_end=2.0, points=4, seed=5)
    vary = {"lambda": "0.05:0.15:3"}
    serial = charme.sweep(BD, "ssa", vary, **kw)
    pooled = charme.sweep(BD, "ssa", vary, workers=2, **kw)
    assert np.array_equal(serial["mean"], pooled["mean"])


def test_cme_zip_sweep_pads_marginals_and_matches_poisson():
    from scipy.stats import poisson

    r = charme.sweep(ID, "cme", {"k": "2,20", "d": "0.1,0.5"}, zip=True, t_end=40.0, points=3)
    assert r.data_vars["marginal"][0] == ("point", "time", "species", "count")
    m = r["marginal"][:, -1, 0, :]
    assert np.allclose(m.sum(axis=1), 1.0, atol=1e-5)
    n = r["count"]
    for i, (k, d) in enumerate([(2, 0.1), (20, 0.5)]):
        lam = k / d * (1 - np.exp(-d * 40.0))  # starts at A = 0
        assert np.abs(m[i] - poisson.pmf(n, lam)).sum() < 1e-5
    assert list(r["k"]) == [2, 20] and list(r["d"]) == [0.1, 0.5]


def test_characteristics_sweep():
    problem = charme.loads(ADVECTION)
    r = charme.sweep(problem, "characteristics", {"c": "0.5,1,2"})
    t, x = np.meshgrid(r["t"], r["x"], indexing="ij")
    for i, c in enumerate([0.5, 1.0, 2.0]):
        assert np.abs(r["u"][i] - np.sin(x - c * t)).max() < 1e-10


def test_api_errors():
    with pytest.raises(SpecError, match="unknown parameter or species 'kk'"):
        charme.sweep(BD, "ssa", {"kk": "1,2"}, runs=10, t_end=1)
    with pytest.raises(SpecError, match="unknown option 'rtol'"):
        charme.sweep(BD, "ssa", {"A": "1,2"}, rtol=1e-3)
    with pytest.raises(SpecError, match="cannot be used in a sweep"):
        charme.sweep(ID, "cme", {"k": "1,2"}, save_distribution=True)
    with pytest.raises(SpecError, match="cannot be solved by 'characteristics'"):
        charme.sweep(BD, "characteristics", {"A": "1,2"})
    with pytest.raises(SpecError, match="not a parameter of this PDE"):
        charme.sweep(charme.loads(ADVECTION), "characteristics", {"d": "1,2"})
    with pytest.raises(SpecError, match="unknown solver"):
        charme.sweep(BD, "ode", {"A": "1,2"})


def test_failed_points_are_reported_and_the_rest_kept(tmp_path):
    out = tmp_path / "f.nc"
    with pytest.raises(SolverError, match="1 of 2 points failed: point 1 \\(A=5000\\)") as e:
        charme.sweep(BD, "ssa", {"A": "10,5000"}, output=out, runs=5, t_end=5.0,
                     max_steps=3000, seed=1)  # fmt: skip
    assert "kept in" in str(e.value)
    assert not out.exists()
    assert (shard_dir_for(out) / "point-000000.nc").exists()


# ---------------------------------------------------------------- the CLI


def test_cli_sweep_writes_one_file_and_removes_the_shards(tmp_path):
    xr = pytest.importorskip("xarray")
    out = tmp_path / "s.nc"
    res = run(["sweep", "ssa", BD, "--vary", "lambda=0.05:0.1:2", "--vary", "A=10,20,30",
               "--runs", "20", "--t-end", "1", "--points", "3", "--seed", "2", "-o", str(out)])  # fmt: skip
    assert res.exit_code == 0, res.output
    assert not shard_dir_for(out).exists()
    with xr.open_dataset(out) as ds:
        assert ds["mean"].dims == ("lambda", "A", "time", "species")
        assert list(ds["A"].values) == [10, 20, 30]
        assert ds.attrs["solver"] == "sweep" and ds.attrs["sweep_solver"] == "ssa"
        assert ds.attrs["sweep_seed"] == "2"
    info = charme.open_result(out)
    assert info.kind == "sweep"


def test_cli_design_file_and_set(tmp_path):
    design = tmp_path / "d.yaml"
    design.write_text("points:\n  - {k: 1, d: 0.1}\n  - {k: 3, d: 0.3}\n")
    out = tmp_path / "c.nc"
    res = run(["sweep", "cme", ID, "--design", str(design), "--t-end", "1", "--points", "2",
               "-o", str(out), "-q"])  # fmt: skip
    assert res.exit_code == 0, res.output
    r = charme.open_result(out)
    assert r.data_vars["mean"][0] == ("point", "time", "species")
    assert list(r["k"]) == [1, 3]


@pytest.mark.parametrize(
    "args, message",
    [
        (["--vary", "nope=1,2"], "unknown parameter or species 'nope'"),
        (["--vary", "lambda="], "empty range"),
        (["--vary", "lambda=1:2:0"], "whole number"),
        (["--vary", "A=1.5,2"], "non-negative integer"),
        (["--vary", "A=1,2", "--zip", "--vary", "lambda=1,2,3"], "one length"),
        ([], "nothing to sweep"),
        (["--vary", "A=1", "--executor", "dask"], "needs --scheduler"),
    ],
)
def test_cli_bad_input_exits_2_and_writes_nothing(tmp_path, args, message):
    out = tmp_path / "bad.nc"
    res = CliRunner().invoke(cli, ["sweep", "ssa", BD, "-o", str(out), "--runs", "5", *args])
    assert res.exit_code == 2, res.output
    assert message in res.output
    assert not out.exists() and not shard_dir_for(out).exists()


def test_unreachable_scheduler_fails_within_the_timeout(tmp_path):
    out = tmp_path / "d.nc"
    started = time.monotonic()
    res = CliRunner().invoke(cli, ["sweep", "ssa", BD, "--vary", "A=1,2", "--runs", "5",
                                   "--executor", "dask", "--scheduler", "tcp://127.0.0.1:9",
                                   "--connect-timeout", "1", "-o", str(out)])  # fmt: skip
    assert res.exit_code == 2, res.output
    assert "cannot reach the Dask scheduler" in res.output
    assert time.monotonic() - started < 30
    assert not out.exists()


def test_dask_local_cluster_gives_the_same_bits(tmp_path):
    distributed = pytest.importorskip("distributed")
    kw = dict(runs=30, t_end=2.0, points=3, seed=9)
    vary = {"lambda": "0.05,0.1", "A": "10,20"}
    local = charme.sweep(BD, "ssa", vary, **kw)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, host="127.0.0.1",
                                  dashboard_address=None, processes=True) as cluster:  # fmt: skip
        out = tmp_path / "dask.nc"
        res = run(["sweep", "ssa", BD, "--vary", "lambda=0.05,0.1", "--vary", "A=10,20",
                   "--runs", "30", "--t-end", "2", "--points", "3", "--seed", "9",
                   "--executor", "dask", "--scheduler", cluster.scheduler_address,
                   "-o", str(out), "-q"])  # fmt: skip
    assert res.exit_code == 0, res.output
    assert np.array_equal(charme.open_result(out)["mean"], local["mean"])


def _sweep_cmd(out, *extra):
    return [sys.executable, "-m", "charme.cli.main", "sweep", "ssa", BD,
            "--vary", "lambda=0.08:0.1:8", "--runs", "4000", "--t-end", "40",
            "--points", "5", "--seed", "3", "-o", str(out), "-q", *extra]  # fmt: skip


def test_kill_9_then_resume_gives_the_same_bits(tmp_path):
    full = tmp_path / "full.nc"
    subprocess.run(_sweep_cmd(full), check=True, timeout=300)
    cut = tmp_path / "cut.nc"
    shards = shard_dir_for(cut)
    proc = subprocess.Popen(_sweep_cmd(cut), stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and proc.poll() is None:
        if len(list(shards.glob("point-*.nc"))) >= 2:
            break
        time.sleep(0.01)
    if proc.poll() is not None:
        pytest.skip("the sweep finished before it could be killed")
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    kept = len(list(shards.glob("point-*.nc")))
    assert 2 <= kept < 8 and not cut.exists()
    # no --resume: refused, nothing lost
    res = subprocess.run(_sweep_cmd(cut), capture_output=True, text=True)
    assert res.returncode == 2 and "--resume" in res.stderr
    # a different sweep into the same shards: refused
    res = subprocess.run(_sweep_cmd(cut, "--resume", "--max-steps", "99999999"),
                         capture_output=True, text=True)  # fmt: skip
    assert res.returncode == 2 and "different sweep" in res.stderr
    subprocess.run(_sweep_cmd(cut, "--resume"), check=True, timeout=300)
    assert not shards.exists()
    a, b = charme.open_result(full), charme.open_result(cut)
    assert np.array_equal(a["mean"], b["mean"]) and np.array_equal(a["sd"], b["sd"])


def test_bad_input_found_at_the_first_point_leaves_nothing(tmp_path):
    spec = tmp_path / "no_t_end.yaml"
    spec.write_text("species: {A: 5}\nparameters: {k: 1}\nreactions:\n  - {eq: A -> 0, rate: k}\n")
    out = tmp_path / "x.nc"
    res = CliRunner().invoke(cli, ["sweep", "ssa", str(spec), "--vary", "k=1,2", "-o", str(out)])
    assert res.exit_code == 2 and "t_end is not set" in res.output
    assert not out.exists() and not shard_dir_for(out).exists()


def test_statistics_that_are_none_at_some_points_become_nan():
    """u_t + c u u_x = 0 from sin x: characteristics cross on the grid's range [0, 3]
    inside the traced horizon for c = 2 only, where the caustic t = -1/(2 cos s),
    x = s - tan s enters it at x = 3 (to rounding)."""
    from scipy.optimize import brentq

    text = ADVECTION.replace("u_t + c*u_x = 0", "u_t + c*u*u_x = 0")
    r = charme.sweep(charme.loads(text), "characteristics", {"c": "0.01,2"})
    bt = r["breaking_time"]
    s = brentq(lambda s: s - np.tan(s) - 3, np.pi + 1e-9, 1.5 * np.pi - 1e-6)
    assert np.isnan(bt[0]) and abs(bt[1] + 1 / (2 * np.cos(s))) < 1e-12


# ---------------------------------------------------------------- failures and clashes

#: u_t + u^2 u_x = 0 from u = a + sin x: the flux is convex over the data for a > 1,
#: neither convex nor concave for |a| < 1, which --crossing shock refuses (a SpecError)
CUBIC = """
kind: pde
name: cubic
variables: [t, x]
parameters: {a: 2.0}
equation: "u_t + u^2*u_x = 0"
initial: "u(x, t=0) = a + sin(x)"
grid: {t: [0, 1.5, 3], x: [0, 6.283185307179586, 17]}
characteristics: {crossing: shock}
"""


def _spec(tmp_path, text, name="spec.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


@pytest.mark.parametrize("workers", [[], ["--workers", "2"]], ids=["serial", "workers2"])
def test_a_point_the_solver_refuses_is_that_points_failure(tmp_path, workers):
    """A SpecError raised while solving one point's values fails that point only:
    named with its index and values, the others finish and are kept, exit 1, and
    --resume retries it (like a point whose SSA or CME solve fails)."""
    spec = _spec(tmp_path, CUBIC)
    out = tmp_path / "c.nc"
    shards = shard_dir_for(out)
    args = ["sweep", "characteristics", spec, "--vary", "a=2,0.9,3", "-o", str(out), "-q",
            *workers]  # fmt: skip
    res = run(args)
    assert res.exit_code == 1, res.output
    assert "1 of 3 points failed: point 1 (a=0.9): " in res.output
    assert "spec.yaml:6: equation: the flux" in res.output and "kept in" in res.output
    assert sorted(p.name for p in shards.glob("point-*.nc")) == ["point-000000.nc",
                                                                 "point-000002.nc"]  # fmt: skip
    assert not out.exists()
    res = run([*args, "--resume"])
    assert res.exit_code == 1 and "point 1 (a=0.9)" in res.output
    assert len(list(shards.glob("point-*.nc"))) == 2


def test_a_point_failure_from_the_api_names_the_point():
    with pytest.raises(SolverError, match=r"1 of 2 points failed: point 0 \(a=0\.9\): .*convex"):
        charme.sweep(charme.loads(CUBIC), "characteristics", {"a": "0.9,2"})


def test_a_spec_error_at_every_point_is_bad_input(tmp_path):
    spec = _spec(tmp_path, CUBIC)
    out = tmp_path / "c.nc"
    res = run(["sweep", "characteristics", spec, "--vary", "a=0.9,-0.5", "-o", str(out)])
    assert res.exit_code == 2, res.output
    assert "spec.yaml:6: equation: the flux" in res.output
    assert "(at all 2 points of the sweep)" in res.output
    assert not out.exists() and not shard_dir_for(out).exists()


def test_a_varied_name_that_is_an_output_dimension_is_refused_at_the_first_point(tmp_path):
    spec = _spec(tmp_path, CUBIC.replace("{a: 2.0}", "{shock: 2.0}")
                 .replace("= a + sin", "= shock + sin"))  # fmt: skip
    out = tmp_path / "s.nc"
    res = run(["sweep", "characteristics", spec, "--vary", "shock=2,3", "-o", str(out)])
    assert res.exit_code == 2, res.output
    assert "the varied parameter 'shock' clashes with the dimension 'shock'" in res.output
    assert not out.exists() and not shard_dir_for(out).exists()
    with pytest.raises(SpecError, match="'shock' clashes"):
        charme.sweep(spec, "characteristics", {"shock": "2,3"})


def test_a_parameter_named_point_cannot_be_zipped(tmp_path):
    spec = _spec(tmp_path, CUBIC.replace("{a: 2.0}", "{point: 2.0, b: 1}")
                 .replace("= a + sin", "= point + b*sin"))  # fmt: skip
    out = tmp_path / "p.nc"
    res = run(["sweep", "characteristics", spec, "--vary", "point=2,3", "--vary", "b=1,0.5",
               "--zip", "-o", str(out)])  # fmt: skip
    assert res.exit_code == 2, res.output
    assert "'point' clashes with the 'point' dimension that --zip gives" in res.output
    assert not out.exists() and not shard_dir_for(out).exists()
    # its grid has no 'point' dimension: fine
    res = run(["sweep", "characteristics", spec, "--vary", "point=2,3", "-o", str(out), "-q"])
    assert res.exit_code == 0, res.output
    assert list(charme.open_result(out)["point"]) == [2, 3]


def test_a_name_both_fixed_and_varied_is_refused(tmp_path):
    spec = _spec(tmp_path, CUBIC)
    out = tmp_path / "a.nc"
    res = run(["sweep", "characteristics", spec, "--vary", "a=2,3", "--set", "a=5",
               "-o", str(out)])  # fmt: skip
    assert res.exit_code == 2, res.output
    assert "'a' is both fixed (--set) and varied" in res.output
    assert not out.exists() and not shard_dir_for(out).exists()
    with pytest.raises(SpecError, match="both fixed"):
        charme.sweep(spec, "characteristics", {"a": "2,3"}, overrides={"a": 5})


def test_ctrl_c_after_the_result_is_written_is_success(tmp_path, monkeypatch):
    """A Ctrl-C while the shards are being removed (the combined file already
    complete) finishes the removal and exits 0; before that, it is an interrupt."""
    from charme.sweeps import store

    def interrupted_remove(self):
        next(self.directory.glob("point-*.nc")).unlink()
        raise KeyboardInterrupt

    spec = _spec(tmp_path, ADVECTION)
    out = tmp_path / "a.nc"
    args = ["sweep", "characteristics", spec, "--vary", "c=1,2,3", "-o", str(out)]
    with monkeypatch.context() as m:
        m.setattr(store.ShardStore, "remove", interrupted_remove)
        res = CliRunner().invoke(cli, args)
    assert res.exit_code == 0, res.output
    assert f"wrote {out}: complete" in res.output
    assert out.exists() and not shard_dir_for(out).exists()
    assert charme.open_result(out)["u"].shape == (3, 3, 7)

    from charme.sweeps import run as run_module

    real = run_module.solve_point
    calls = []

    def interrupted_solve(*a):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*a)

    monkeypatch.setattr(run_module, "solve_point", interrupted_solve)
    res = CliRunner().invoke(cli, [*args, "--overwrite"])  # an older OUT is not this run's
    assert res.exit_code == 130, res.output
    assert "1 of 3 points are kept" in res.output and "--resume" in res.output
