"""Stack the points' results into one :class:`Result` with sweep dimensions."""

from __future__ import annotations

import numpy as np

from charme.errors import SolverError
from charme.results.result import Result
from charme.sweeps.design import POINT_DIM, Design

#: variables padded with 0 where a point's axis is shorter (probabilities)
ZERO_PADDED = {"marginal", "p"}
#: per-point attributes that are not statistics
NOT_STATS = {"created", "wall_time_s_total", "spec_text", "spec_path", "parameters",
             "initial_counts", "title"}  # fmt: skip


def output_clash(result: Result, design: Design) -> tuple[str, str] | None:
    """``(name, "dimension" | "coordinate" | "variable")`` of a name the design
    adds to the combined result (the varied names, ``point`` for zipped and
    explicit designs) that ``result`` (one point's) already uses, else None."""
    dims = {d for dims, _ in result.data_vars.values() for d in dims}
    added = set(design.names) | set(design.dims)
    for name in sorted(added):
        if name in dims:
            return name, "dimension"
        if name in result.coords:
            return name, "coordinate"
        if name in result.data_vars:
            return name, "variable"
    return None


def _axis_union(name, coords_list):
    """The longest coordinate, if every other is a prefix of it."""
    longest = max(coords_list, key=len)
    for c in coords_list:
        if len(c) and not np.array_equal(np.asarray(c), np.asarray(longest)[: len(c)]):
            raise SolverError(
                f"cannot combine the sweep: coordinate {name!r} differs between points"
            )
    return np.asarray(longest)


def _pad(arr, dims, sizes, fill):
    if all(arr.shape[i] == sizes[d] for i, d in enumerate(dims)):
        return arr
    out = np.full(tuple(sizes[d] for d in dims), fill, dtype=arr.dtype)
    out[tuple(slice(0, n) for n in arr.shape)] = arr
    return out


def _fill_for(name, arr):
    if name in ZERO_PADDED or arr.dtype.kind in "iub":
        return 0
    if arr.dtype.kind == "f":
        return np.nan
    return ""


def combine(results: list[Result], design: Design, attrs: dict) -> Result:
    """One result: each variable gets the design's dimensions in front.

    Axes whose length differs between points (the ``count`` axis of CME
    marginals) are padded to the longest (0 for probabilities, NaN else).
    Numeric attributes that differ between points (wall time, events,
    breaking time, seeds...) become variables over the sweep dimensions.
    """
    first = results[0]
    sweep_dims = design.dims
    shape = design.shape
    clash = output_clash(first, design)
    if clash:
        raise SolverError(
            f"cannot combine the sweep: {clash[0]!r} is both a varied parameter and "
            f"a {clash[1]} of the solver's output"
        )
    coords = {}
    for name in first.coords:
        coords[name] = _axis_union(name, [r.coords[name] for r in results])
    sizes = {name: len(c) for name, c in coords.items()}
    data_vars = {}
    for name, (dims, _) in first.data_vars.items():
        arrs = []
        for r in results:
            if name not in r.data_vars or r.data_vars[name][0] != dims:
                raise SolverError(f"cannot combine the sweep: variable {name!r} differs in shape")
            arrs.append(np.asarray(r.data_vars[name][1]))
        for i, d in enumerate(dims):
            if d not in sizes:
                sizes[d] = max(a.shape[i] for a in arrs)
        fill = _fill_for(name, arrs[0])
        stacked = np.stack([_pad(a, dims, sizes, fill) for a in arrs])
        data_vars[name] = (sweep_dims + dims, stacked.reshape(shape + stacked.shape[1:]))
    stats = _varying_stats(results, set(data_vars) | set(coords) | set(design.names))
    for name, values in stats.items():
        data_vars[name] = (sweep_dims, values.reshape(shape))
    if design.mode == "grid":
        for n in design.names:
            coords[n] = np.asarray(design.values[n])
    else:
        coords[POINT_DIM] = np.arange(len(design))
        for n in design.names:
            data_vars[n] = ((POINT_DIM,), np.asarray(design.values[n]))
    same = {k: v for k, v in first.attrs.items()
            if k not in stats and k not in NOT_STATS
            and all(np.array_equal(r.attrs.get(k), v) for r in results)}  # fmt: skip
    var_attrs = {k: v for k, v in first.var_attrs.items() if k in data_vars or k in coords}
    return Result(kind="sweep", coords=coords, data_vars=data_vars,
                  attrs={**same, **attrs}, var_attrs=var_attrs)  # fmt: skip


def _varying_stats(results, taken) -> dict[str, np.ndarray]:
    """Numeric attributes present in every point whose values differ."""
    out = {}
    for key in results[0].attrs:
        if key in taken or key in NOT_STATS:
            continue
        vals = [r.attrs.get(key) for r in results]
        if key == "seed":
            try:
                vals = [int(v) for v in vals]
            except (TypeError, ValueError):
                continue

        def numeric(v):
            return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)

        if not any(numeric(v) for v in vals):
            continue
        if not all(numeric(v) or v == "none" for v in vals):
            continue
        if any(v == "none" for v in vals):  # e.g. a breaking time at some points only
            vals = [np.nan if v == "none" else float(v) for v in vals]
        if all(v == vals[0] for v in vals):
            continue
        kind = np.int64 if all(isinstance(v, (int, np.integer)) for v in vals) else np.float64
        out[key] = np.asarray(vals, dtype=kind)
    return out
