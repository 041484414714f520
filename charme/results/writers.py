"""Writers: NetCDF4 (default) and CSV, always via a ``.partial`` file."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import numpy as np

from charme.results.result import Result, check_output_path


def _write_atomically(result: Result, p: Path) -> None:
    """``result`` to a ``.partial`` file of its own beside ``p`` (a unique name: not one a
    run killed earlier left there, nor a concurrent run's), renamed to ``p`` when whole."""
    import uuid

    # (the writer creates it, with the usual permissions; mkstemp's would be 0600)
    partial = p.with_name(f"{p.name}.{os.getpid()}-{uuid.uuid4().hex[:12]}.partial")
    try:
        if p.suffix.lower() == ".csv":
            write_csv(result, partial)
        else:
            write_netcdf(result, partial)
        os.replace(partial, p)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


def write_result(result: Result, path, overwrite: bool = False) -> Path:
    """Write ``result`` atomically; the format follows the suffix.

    Where ``path`` cannot be written (a full disk, a lost mount), the result is not lost:
    it is written to the system's temporary directory instead and a
    :class:`~charme.errors.SolverError` says where (and why ``path`` failed)."""
    from charme.errors import SolverError

    p = check_output_path(path, overwrite)
    try:
        _write_atomically(result, p)
    except (OSError, RuntimeError) as exc:  # (netCDF4 reports a full disk as RuntimeError)
        import tempfile
        import uuid

        why = f"{type(exc).__name__}: {exc}"
        try:
            kept = Path(tempfile.gettempdir()) / f"charme-{uuid.uuid4().hex[:12]}{p.suffix}"
            _write_atomically(result, kept)
        except (OSError, RuntimeError) as again:
            raise SolverError(f"could not write {p} ({why}), nor a copy in the temporary "
                              f"directory ({type(again).__name__}: {again})") from exc  # fmt: skip
        raise SolverError(f"could not write {p} ({why}); the result is saved in {kept} "
                          "instead") from exc  # fmt: skip
    return p


def _attr_value(value):
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, (int, float, str, np.integer, np.floating)):
        return value
    if isinstance(value, (list, tuple, np.ndarray)):
        return np.asarray(value)
    return str(value)


def write_netcdf(result: Result, path) -> None:
    """NetCDF4/HDF5 with named dimensions, coordinates and attributes."""
    import netCDF4

    with netCDF4.Dataset(str(path), "w", format="NETCDF4") as ds:
        dims: dict[str, int] = {}
        for name, arr in result.coords.items():
            dims[name] = len(arr)
        for _, (vdims, arr) in result.data_vars.items():
            for d, n in zip(vdims, arr.shape):
                dims.setdefault(d, n)
        for d, n in dims.items():
            ds.createDimension(d, n)
        for name, arr in result.coords.items():
            arr = np.asarray(arr)
            if arr.dtype.kind in "US":
                var = ds.createVariable(name, str, (name,))
                for i, s in enumerate(arr):
                    var[i] = str(s)
            else:
                var = ds.createVariable(name, arr.dtype, (name,))
                var[:] = arr
            for k, v in result.var_attrs.get(name, {}).items():
                var.setncattr(k, _attr_value(v))
        for name, (vdims, arr) in result.data_vars.items():
            arr = np.asarray(arr)
            fill = np.nan if arr.dtype.kind == "f" else None
            var = ds.createVariable(
                name, arr.dtype, vdims, zlib=arr.size > 4096, complevel=4, fill_value=fill
            )
            var[...] = arr
            for k, v in result.var_attrs.get(name, {}).items():
                var.setncattr(k, _attr_value(v))
        for k, v in result.attrs.items():
            if v is not None:
                ds.setncattr(k, _attr_value(v))


def write_csv(result: Result, path) -> None:
    """A table over ``time``.

    Ensembles get the SBML test-suite layout ``time,A-mean,A-sd,...``; a
    single trajectory (``runs == 1``) gets ``time,A,B,...``.
    """
    if result.kind == "characteristics":  # one row per grid point
        dims = result.data_vars["mask"][0]
        names = [k for k, (d, _) in result.data_vars.items() if d == dims]
        grids = np.meshgrid(*(result.coords[d] for d in dims), indexing="ij")
        cols = [g.ravel() for g in grids] + [result[k].ravel() for k in names]
        # every branch (--crossing multivalued): a column each, NaN where a point has fewer
        for k, (d, _) in result.data_vars.items():
            if d == (*dims, "branch"):
                values = np.asarray(result[k], float)
                for j in range(values.shape[-1]):
                    names.append(f"{k}_{j}")
                    cols.append(values[..., j].ravel())
        with open(path, "w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow([*dims, *names])
            for row in zip(*cols):
                w.writerow([repr(float(v)) for v in row])
        return
    if "species" not in result.coords:  # an explicit chain: probabilities per state
        labels = [str(s) for s in result.coords["state"]]
        p = np.atleast_2d(result["p"])
        times = result.coords.get("time")
        with open(path, "w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow((["time"] if times is not None else []) + labels)
            for k in range(p.shape[0]):
                lead = [repr(float(times[k]))] if times is not None else []
                w.writerow(lead + [repr(float(v)) for v in p[k]])
        return
    species = [str(s) for s in result.coords["species"]]
    if "time" not in result.coords:  # a stationary law: one row
        with open(path, "w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow([f"{s}-{stat}" for s in species for stat in ("mean", "sd")])
            row = []
            for i in range(len(species)):
                row += [repr(float(result["mean"][i])), repr(float(result["sd"][i]))]
            w.writerow(row)
        return
    time = result.coords["time"]
    single = (
        "trajectories" in result
        and result["trajectories"].shape[0] == 1
        and (result.attrs.get("runs_completed", 1) == 1)
    )
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        if single:
            path_ = result["trajectories"][0]
            w.writerow(["time", *species])
            for k, t in enumerate(time):
                cells = (int(v) if path_.dtype.kind == "i" else repr(float(v)) for v in path_[k])
                w.writerow([repr(float(t)), *cells])
        else:
            mean, sd = result["mean"], result["sd"]
            w.writerow(["time", *(f"{s}-{stat}" for s in species for stat in ("mean", "sd"))])
            for k, t in enumerate(time):
                row = [repr(float(t))]
                for i in range(len(species)):
                    row += [repr(float(mean[k, i])), repr(float(sd[k, i]))]
                w.writerow(row)
