"""open_result: charme's NetCDF files read back; other files refused with their name."""

from __future__ import annotations

import numpy as np
import pytest

import charme
from charme.errors import SpecError
from charme.results.result import Result


def test_round_trip(tmp_path):
    res = Result(
        "ssa",
        coords={"time": np.linspace(0, 1, 3), "species": np.array(["A", "B"])},
        data_vars={"mean": (("time", "species"), np.arange(6.0).reshape(3, 2)),
                   "trajectories": (("run", "time", "species"), np.ones((2, 3, 2), np.int64))},
        attrs={"solver": "ssa", "charme_version": "0", "runs": 2, "seed": "5"},
        var_attrs={"mean": {"long_name": "ensemble mean"}},
    )  # fmt: skip
    path = res.write(tmp_path / "r.nc")
    back = charme.open_result(path)
    assert back.kind == "ssa" and list(back["species"]) == ["A", "B"]
    assert np.array_equal(back["mean"], res["mean"])
    assert back["trajectories"].dtype == np.int64
    assert back.attrs["runs"] == 2 and back.attrs["seed"] == "5"
    assert back.var_attrs["mean"]["long_name"] == "ensemble mean"


def test_other_files_are_refused(tmp_path):
    import netCDF4

    other = tmp_path / "other.nc"
    with netCDF4.Dataset(other, "w") as ds:
        ds.createDimension("x", 2)
        ds.createVariable("x", "f8", ("x",))[:] = [1, 2]
    text = tmp_path / "text.nc"
    text.write_text("hello")
    for path, message in [(other, "not a charme result"), (text, "not a NetCDF file"),
                          (tmp_path / "missing.nc", "no such file")]:  # fmt: skip
        with pytest.raises(SpecError, match=message) as e:
            charme.open_result(path)
        assert str(path) in str(e.value)


@pytest.mark.parametrize(
    "solve",
    [
        lambda: charme.simulate(charme.load("examples/birth_death.yaml"), runs=5, t_end=1.0),
        lambda: charme.solve_cme(charme.load("examples/immigration_death.yaml"), t_end=1.0),
        lambda: charme.solve_cme(
            charme.load("examples/immigration_death.yaml"), steady_state=True
        ),  # fmt: skip
        lambda: charme.solve_cme(charme.load("examples/three_state_chain.yaml"), t_end=1.0),
        lambda: charme.solve_cme(
            charme.load("examples/three_state_chain.yaml"), steady_state=True
        ),  # fmt: skip
        lambda: charme.solve_pde(charme.load("examples/burgers.yaml")),
    ],
)
def test_every_solver_records_its_provenance(solve):
    import numba

    attrs = solve().attrs
    assert attrs["charme_version"] == charme.__version__
    assert attrs["numba_version"] == numba.__version__
    assert attrs["numpy_version"] == np.__version__
    assert attrs["created"].endswith("Z") and attrs["created"][:2] == "20"


def _small_result():
    return Result("ssa", coords={"time": np.linspace(0, 1, 3)},
                  data_vars={"mean": (("time",), np.arange(3.0))},
                  attrs={"solver": "ssa", "charme_version": "0"})  # fmt: skip


def test_a_leftover_partial_is_no_obstacle(tmp_path):
    """A directory (or file) named OUT.partial, left by something else, made the write
    fail with IsADirectoryError: each write has a .partial name of its own now."""
    (tmp_path / "r.nc.partial").mkdir()
    path = _small_result().write(tmp_path / "r.nc")
    assert np.array_equal(charme.open_result(path)["mean"], np.arange(3.0))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.nc", "r.nc.partial"]


def test_a_result_that_cannot_be_written_is_kept(tmp_path, monkeypatch):
    """Where the output cannot be written (a full disk: netCDF4 says 'HDF error'), the
    result went with the traceback.  It is written to the temporary directory instead,
    and the error says where."""
    import re

    from charme.errors import SolverError
    from charme.results import writers

    real = writers.write_netcdf

    def full_disk(result, path):
        if str(path).startswith(str(tmp_path)):
            raise RuntimeError("NetCDF: HDF error")
        real(result, path)

    monkeypatch.setattr(writers, "write_netcdf", full_disk)
    with pytest.raises(SolverError, match="could not write .*HDF error.*saved in") as info:
        _small_result().write(tmp_path / "r.nc")
    kept = re.search(r"saved in (\S+) instead", str(info.value)).group(1)
    try:
        assert np.array_equal(charme.open_result(kept)["mean"], np.arange(3.0))
    finally:
        import os

        os.unlink(kept)
    assert not list(tmp_path.iterdir())  # (nothing half-written beside the target)


def test_outputs_have_the_usual_permissions(tmp_path):
    """Outputs are made by the writer (umask applies), not as a private temporary file
    (mode 0600) renamed into place."""
    import os

    old = os.umask(0o022)
    try:
        path = _small_result().write(tmp_path / "r.nc")
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == 0o644
