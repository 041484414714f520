"""``charme plot RESULT.nc -o FIG.png``: a figure of any charme result (needs charme[plot])."""

from __future__ import annotations

import os
from pathlib import Path

import click

from charme.cli.common import handle_errors, overwrite_option

FORMATS = (".png", ".pdf", ".svg")


@click.command()
@click.argument("result", type=click.Path(dir_okay=False))
@click.option("-o", "--output", "out", type=click.Path(dir_okay=False),
              help="Figure file (.png, .pdf, .svg). Default: RESULT's name with .png.")  # fmt: skip
@click.option("--var", help="Variable to plot (characteristics, sweeps).")
@click.option("--species", metavar="NAMES", help="Comma-separated species (ssa, cme, sweeps).")
@click.option("--time", type=float, help="Show the output time nearest this (2-D PDE grids).")
@click.option("--dpi", type=click.IntRange(min=20, max=1200), default=110, show_default=True)
@click.option("--title", help="Figure title (default: the result's title).")
@overwrite_option
@handle_errors
def plot(result, out, var, species, time, dpi, title, overwrite):
    """Plot RESULT, a NetCDF file written by charme.

    SSA and CME: mean ± sd bands per species over time (and a few saved
    trajectories; CME marginals as a time × count heat map).  Characteristics:
    u(x) at the output times with shocks and the breaking time marked (1-D),
    images for 2-D grids.  Sweeps: a response curve or heat map over the
    varied parameters.
    """
    from charme.errors import SpecError
    from charme.results import check_output_path
    from charme.results.reader import open_result

    out = Path(out) if out else Path(Path(result).stem + ".png")
    check_output_path(out, overwrite, suffixes=FORMATS)
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise SpecError("charme plot needs matplotlib: pip install 'charme[plot]'") from None
    data = open_result(result)
    from charme.plotting import figure_for

    fig = figure_for(data, var=var, species=species, time=time, title=title)
    partial = out.with_name(out.name + ".partial")
    try:
        fig.savefig(partial, dpi=dpi, format=out.suffix.lower().lstrip("."))
        os.replace(partial, out)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    click.echo(f"wrote {out}", err=True)
