"""One result type for every solver family, and its writers' entry point."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from charme.errors import SpecError

WRITABLE_SUFFIXES = (".nc", ".csv")


@dataclass
class Result:
    """Arrays with named dimensions, solver statistics and provenance.

    Attributes
    ----------
    kind
        Solver family, e.g. ``"ssa"``.
    coords
        Coordinate arrays by dimension name (``time``, ``species``...).
    data_vars
        ``name -> (dims, array)``.
    attrs
        Provenance and statistics (numbers and strings only).
    var_attrs
        Per-variable attributes (``long_name``, ``units``...).
    """

    kind: str
    coords: dict[str, np.ndarray]
    data_vars: dict[str, tuple[tuple[str, ...], np.ndarray]]
    attrs: dict[str, Any] = field(default_factory=dict)
    var_attrs: dict[str, dict[str, Any]] = field(default_factory=dict)

    def __getitem__(self, name: str) -> np.ndarray:
        if name in self.data_vars:
            return self.data_vars[name][1]
        return self.coords[name]

    def __contains__(self, name: str) -> bool:
        return name in self.data_vars or name in self.coords

    def to_xarray(self):
        """The result as an :class:`xarray.Dataset` (needs xarray installed)."""
        import xarray as xr

        return xr.Dataset(
            {
                name: (dims, arr, self.var_attrs.get(name, {}))
                for name, (dims, arr) in self.data_vars.items()
            },
            coords={name: (name, arr) for name, arr in self.coords.items()},
            attrs=dict(self.attrs),
        )

    def write(self, path, overwrite: bool = False) -> Path:
        """Write to ``path``: NetCDF4 for ``.nc``, a table for ``.csv``.

        The file is written to ``path + ".partial"`` and renamed when complete;
        an existing file is refused unless ``overwrite``.
        """
        from charme.results.writers import write_result

        return write_result(self, path, overwrite=overwrite)


def provenance() -> dict[str, str]:
    """What made a result and when: charme, Numba and NumPy versions, UTC time.

    Every solver puts these in its result's attributes (``charme info``
    shows them).
    """
    import time

    import numba

    from charme import __version__

    return {
        "charme_version": __version__,
        "numba_version": numba.__version__,
        "numpy_version": np.__version__,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def check_output_path(path, overwrite: bool = False, suffixes=WRITABLE_SUFFIXES) -> Path:
    """Refuse an output path before any work is done (suffix, dir, existence)."""
    p = Path(path)
    if p.suffix.lower() not in suffixes:
        raise SpecError(
            f"cannot write {p.suffix or 'a file without suffix'!r}: use one of "
            + ", ".join(suffixes),
            file=str(p),
        )
    if not p.parent.exists():
        raise SpecError("directory does not exist", file=str(p.parent))
    if p.exists() and not overwrite:
        raise SpecError("file exists (use --overwrite to replace it)", file=str(p))
    return p
