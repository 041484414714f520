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
