"""``charme info RESULT.nc``: what a result file holds, for people or (``--json``) programs."""

from __future__ import annotations

import json

import click

from charme.cli.common import handle_errors

#: attributes shown under "provenance", in this order, when present
PROVENANCE = ("charme_version", "numba_version", "numpy_version", "created", "spec_path",
              "seed", "sweep_seed", "method", "sweep_solver", "sweep_mode", "sweep_parameters")  # fmt: skip
#: attributes that are too long or too internal to print
HIDDEN = {"spec_text", "title", "Conventions", "solver", "model"}


def describe(result) -> dict:
    """A plain dict of what ``result`` holds (dimensions, variables, provenance, statistics)."""
    import numpy as np

    dims = {}
    for name, arr in result.coords.items():
        arr = np.asarray(arr)
        entry = {"size": int(arr.size)}
        if arr.size and arr.dtype.kind in "iuf":
            entry["range"] = [float(arr.min()), float(arr.max())]
        elif arr.size:
            entry["values"] = [str(v) for v in arr[:8]] + (["..."] if arr.size > 8 else [])
        dims[name] = entry
    for _, (vdims, arr) in result.data_vars.items():
        for d, n in zip(vdims, np.shape(arr)):
            dims.setdefault(d, {"size": int(n)})
    variables = {}
    for name, (vdims, arr) in result.data_vars.items():
        arr = np.asarray(arr)
        entry = {"dims": list(vdims), "dtype": str(arr.dtype)}
        if arr.dtype.kind in "iuf" and arr.size:
            finite = arr[np.isfinite(arr)] if arr.dtype.kind == "f" else arr
            if finite.size:
                entry["min"], entry["max"] = float(finite.min()), float(finite.max())
            if arr.dtype.kind == "f" and finite.size < arr.size:
                entry["nan"] = int(arr.size - finite.size)
        long_name = result.var_attrs.get(name, {}).get("long_name")
        if long_name:
            entry["long_name"] = str(long_name)
        variables[name] = entry
    attrs = result.attrs
    provenance = {k: attrs[k] for k in PROVENANCE if k in attrs}
    statistics = {k: v for k, v in attrs.items() if k not in provenance and k not in HIDDEN}
    return {
        "solver": result.kind,
        "model": attrs.get("model", ""),
        "title": attrs.get("title", ""),
        "complete": bool(attrs.get("complete", 1)),
        "dimensions": dims,
        "variables": variables,
        "provenance": provenance,
        "statistics": statistics,
    }


def _text(path, info) -> str:
    lines = [f"{path}: charme {info['solver']} result, model {info['model']!r}"]
    if not info["complete"]:
        lines.append("  INCOMPLETE: an interrupted run (complete = 0); the runs that finished")
    lines.append("dimensions:")
    for name, d in info["dimensions"].items():
        extra = ""
        if "range" in d:
            extra = f"  [{d['range'][0]:.6g} .. {d['range'][1]:.6g}]"
        elif "values" in d:
            extra = "  " + ", ".join(d["values"])
        lines.append(f"  {name:<14} {d['size']:>9}{extra}")
    lines.append("variables:")
    for name, v in info["variables"].items():
        span = f"  min {v['min']:.6g}, max {v['max']:.6g}" if "min" in v else ""
        nan = f", {v['nan']} NaN" if "nan" in v else ""
        lines.append(f"  {name}({', '.join(v['dims'])}) {v['dtype']}{span}{nan}")
    for section in ("provenance", "statistics"):
        if info[section]:
            lines.append(f"{section}:")
            for k, v in info[section].items():
                text = str(v)
                text = text if len(text) <= 100 else text[:97] + "..."
                lines.append(f"  {k}: {text}")
    return "\n".join(lines)


@click.command()
@click.argument("result", type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
@handle_errors
def info(result, as_json):
    """Print what RESULT (a NetCDF file written by charme) holds.

    Solver and model, dimensions with sizes and ranges, variables, provenance
    (versions, creation time, spec, seed) and statistics (runs, events, wall
    time, errors, breaking time...).  A file charme did not write: exit 2.
    """
    from charme.results.reader import open_result

    data = describe(open_result(result))
    if as_json:
        click.echo(json.dumps(data, indent=1, default=str))
    else:
        click.echo(_text(result, data))
