"""Read back a NetCDF file that charme wrote, as a :class:`Result`."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from charme.errors import SpecError
from charme.results.result import Result

#: the ``solver`` attribute every charme result carries
SOLVERS = ("ssa", "cme", "characteristics", "sweep")


def _plain(value):
    if isinstance(value, np.ndarray):
        return value.tolist() if value.size != 1 else value.item()
    if isinstance(value, np.generic):
        return value.item()
    return value


def open_result(path) -> Result:
    """Load a charme result file (``.nc``) into a :class:`Result`.

    Raises :class:`SpecError` naming the file when it does not exist, is not
    NetCDF, or was not written by charme (no ``solver``/``charme_version``
    attributes).
    """
    p = Path(path)
    if not p.exists():
        raise SpecError("no such file", file=str(p))
    if p.suffix.lower() == ".csv":
        raise SpecError("CSV results cannot be read back; write .nc for this", file=str(p))
    try:
        import netCDF4

        ds = netCDF4.Dataset(str(p), "r")
    except OSError as exc:
        raise SpecError(f"not a NetCDF file ({exc.strerror or exc})", file=str(p)) from None
    with ds:
        attrs = {k: _plain(ds.getncattr(k)) for k in ds.ncattrs()}
        if attrs.get("solver") not in SOLVERS or "charme_version" not in attrs:
            raise SpecError(
                "not a charme result (no 'solver'/'charme_version' attributes)", file=str(p)
            )
        ds.set_auto_mask(False)
        coords, data_vars, var_attrs = {}, {}, {}
        for name, var in ds.variables.items():
            arr = var[...]
            if var.dtype is str:
                arr = np.array([str(s) for s in np.asarray(arr).ravel()]).reshape(var.shape)
            else:
                arr = np.asarray(arr)
            va = {k: _plain(var.getncattr(k)) for k in var.ncattrs() if k != "_FillValue"}
            if va:
                var_attrs[name] = va
            if var.dimensions == (name,):
                coords[name] = arr
            else:
                data_vars[name] = (tuple(var.dimensions), arr)
    return Result(
        kind=str(attrs["solver"]),
        coords=coords,
        data_vars=data_vars,
        attrs=attrs,
        var_attrs=var_attrs,
    )
