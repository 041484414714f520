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
@click.option("--var", metavar="NAME",
              help="Variable to plot: e.g. trajectories, marginal, fsp_error (ssa, cme); "
                   "u_x, u_branches (characteristics); sd, breaking_time, wall_time_s "
                   "(sweeps).")  # fmt: skip
@click.option("--species", metavar="NAMES", help="Comma-separated species (ssa, cme, sweeps).")
@click.option("--time", type=float,
              help="The output time nearest this: the law at that time (ssa, cme), u at that "
                   "level (characteristics), where a sweep's summary is taken (default: the end).")  # fmt: skip
@click.option("--log", is_flag=True, help="Logarithmic colour scale for heat maps and images.")
@click.option("--dpi", type=click.IntRange(min=20, max=1200), default=110, show_default=True,
              help="Dots per inch of PNG output.")  # fmt: skip
@click.option("--title", help="Figure title (default: the result's title).")
@overwrite_option
@handle_errors
def plot(result, out, var, species, time, log, dpi, title, overwrite):
    """Plot RESULT, a NetCDF file written by charme.

    SSA and CME: mean ± sd bands per species over time (a panel each when
    their scales differ), a few saved trajectories, CME marginals as time ×
    count heat maps; explicit chains: p(state) over time.  Characteristics:
    u(x) at the output times with shocks and the breaking time marked, rays
    in the (x, t) plane (1-D); images with contours, per time with an
    evolution variable, rays projected (2-D and more: a plane through the
    middle).  Sweeps: the mean at the final time (or --var) against one
    varied parameter, a heat map over two, or a curve over zipped points.
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

    fig = figure_for(data, var=var, species=species, time=time, title=title, log=log)
    partial = out.with_name(out.name + ".partial")
    try:
        fig.savefig(partial, dpi=dpi, format=out.suffix.lower().lstrip("."))
        os.replace(partial, out)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    click.echo(f"wrote {out}", err=True)
