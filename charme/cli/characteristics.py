"""``charme characteristics`` (alias ``moc``): first-order PDEs by characteristics."""

from __future__ import annotations

from pathlib import Path

import click
import numpy as np

from charme.cli.common import (
    handle_errors,
    overwrite_option,
    parse_sets,
    require_kind,
    set_option,
)


@click.command()
@click.argument("spec", type=click.Path(dir_okay=False))
@click.option("-o", "--output", "out", type=click.Path(dir_okay=False),
              help="Output (.nc, or .csv: one row per grid point, a column per branch with "
                   "--crossing multivalued; attributes only in .nc). Default: SPEC's name "
                   "with .nc.")  # fmt: skip
@click.option("--rtol", type=click.FloatRange(min=0, max=1, min_open=True, max_open=True),
              help="Relative tolerance of the ray integrator (default 1e-13).")  # fmt: skip
@click.option(
    "--atol",
    type=click.FloatRange(min=0, min_open=True),
    help="Absolute tolerance (default 1e-15).",
)
@click.option("--crossing", type=click.Choice(["stop", "multivalued", "viscosity", "shock"]),
              help="After characteristics cross: stop (default), multivalued (every branch), "
                   "viscosity (Hamilton-Jacobi: Hopf-Lax, first arrival), shock (1-D "
                   "conservation laws).")  # fmt: skip
@click.option("--evaluation", type=click.Choice(["newton", "hermite", "raster"]),
              help="How grid points get their values: newton (default): Newton onto the "
                   "exact ray; hermite: cubic Hermite between rays (1-D evolution problems); "
                   "raster: bicubic ray cells, for big 2-D grids without an evolution variable. "
                   "Default: the spec's characteristics.evaluation.")  # fmt: skip
@click.option("--save-rays", is_flag=True,
              help="Also store the traced characteristics (NetCDF output only).")  # fmt: skip
@set_option
@overwrite_option
@click.option("-q", "--quiet", is_flag=True, help="No summary on stderr.")
@handle_errors
def characteristics(spec, out, rtol, atol, crossing, evaluation, save_rays, sets, overwrite, quiet):
    """Solve the first-order PDE of SPEC (kind: pde) on its grid.

    Writes the solution and its first derivatives with the grid's variables
    as dimensions, a mask of the points a characteristic reaches, and the
    breaking time and place (first crossing, breaking_location_<var>) and
    blow-up time as attributes; with --crossing shock, the shocks at the
    output levels as shock_<t>(shock) and shock_<x>(shock).  Exit
    status: 0 success, 2 bad input (located: file:line: field: problem),
    1 solver failure.
    """
    from charme.errors import SpecError
    from charme.results import check_output_path
    from charme.spec import load

    # (the options' own errors name the options, not the spec, whose settings they replace)
    if rtol is not None and not 0 < rtol < 1:  # (NaN too)
        raise SpecError(f"--rtol must lie in (0, 1), not {rtol!r}")
    if atol is not None and not 0 < atol < float("inf"):
        raise SpecError(f"--atol must be positive and finite, not {atol!r}")
    out = Path(out) if out else Path(Path(spec).stem + ".nc")
    check_output_path(out, overwrite)
    if save_rays and out.suffix.lower() == ".csv":
        raise SpecError(
            "--save-rays needs NetCDF output (.nc): a .csv table has no place for the rays",
            file=str(out),
        )
    pde = load(spec, overrides=parse_sets(sets))
    require_kind(pde, "characteristics", spec)
    from charme.solvers.characteristics.driver import solve_pde

    result = solve_pde(pde, rtol=rtol, atol=atol, crossing=crossing, save_rays=save_rays,
                       evaluation=evaluation)  # fmt: skip
    result.write(out, overwrite=overwrite)
    if not quiet:
        a = result.attrs
        if a["breaking_time"] != "none" or "breaking_time_searched_to" in a:  # evolution
            crossed = f"breaking time {a['breaking_time']}" + (
                f" (looked for up to {a['breaking_time_searched_to']:g})"
                if a["breaking_time"] == "none" and "breaking_time_searched_to" in a
                else ""
            )
        elif any(k.startswith("breaking_location_") and v != "none" for k, v in a.items()):
            where = {k.removeprefix("breaking_location_"): v for k, v in a.items()
                     if k.startswith("breaking_location_")}  # fmt: skip
            crossed = "rays first cross at " + ", ".join(f"{k}={v:.6g}" for k, v in where.items())
        else:
            crossed = "rays do not cross"
        if a.get("blow_up_time", "none") != "none":
            evo = a.get("evolution_variable", "none")
            at = f"{evo}=" if evo != "none" else "ray parameter "
            crossed += f", blow-up at {at}{a['blow_up_time']:.6g}"
        click.echo(
            f"wrote {out}: {a['equation_class']}, {a['rays']} rays, {crossed}, "
            f"{a['wall_time_s']:.2f} s",
            err=True,
        )
        _echo_shocks(result, out)
        mask = np.asarray(result["mask"])
        if not mask.all():
            unset = mask == 0
            evo, tb = a.get("evolution_variable", "none"), a.get("breaking_time", "none")
            late, count = "", 0
            if a.get("crossing") == "stop" and evo != "none" and tb != "none":
                axis = result.data_vars["mask"][0].index(evo)
                after = np.asarray(result.coords[evo]) > tb * (1 + 1e-9) + 1e-12
                shape = [1] * mask.ndim
                shape[axis] = -1
                count = int((unset & after.reshape(shape)).sum())
                late = (
                    f", {count} of them after the first crossing (--crossing stop)" if count else ""
                )
            fans = ""
            if (pde.from_shorthand and len(pde.manifold) > 1 and a.get("crossing") == "stop"
                    and int(unset.sum()) > count):  # fmt: skip
                fans = ("; shorthand data in 2+ space dimensions are sampled on the grid's "
                        "range widened by its length, and with --crossing stop rays from "
                        "farther out are not looked for: give the data in full form over a "
                        "wider range, or use --crossing multivalued")  # fmt: skip
            if a.get("fans_not_built_at"):
                fans += (f"; the rays spread apart at a kink or jump of the data (at "
                        f"{a['fans_not_built_at']}, maybe more), and fans are not built in "
                        "more than one space dimension: points only a fan reaches have none")  # fmt: skip
            click.echo(
                f"note: {int(unset.sum())} of {mask.size} grid points have no value (NaN there, "
                f"mask 0){late}{fans}",
                err=True,
            )
        if a.get("data_undefined_samples"):
            count = int(a["data_undefined_samples"])
            click.echo(
                f"note: {count} of the data's {a.get('rays')} samples "
                f"{'starts' if count == 1 else 'start'} no ray: the data or their derivatives "
                f"are not finite there (the first at {a['data_undefined_at']})",
                err=True,
            )


#: shocks listed in the summary at most (all are in the NetCDF file)
SUMMARY_SHOCKS = 6


def _echo_shocks(result, out):
    """With --crossing shock: the shocks, (t, x) per output level, on stderr (and where to
    find them all: a .csv table holds the grid only)."""
    evo = result.attrs.get("evolution_variable", "none")
    space = [d for d in result.data_vars["mask"][0] if d != evo]
    if result.attrs.get("crossing") != "shock" or len(space) != 1:
        return
    # shock_<var> (over dimension "shock"), or front_<var> if the unknown is called shock
    found = [(f"{p}_{evo}", f"{p}_{space[0]}") for p in ("shock", "front")
             if result.data_vars.get(f"{p}_{space[0]}", ((),))[0] == ("shock",)]  # fmt: skip
    if not found:
        return
    ts, xs = (np.asarray(result[k], float) for k in found[0])
    if not ts.size:
        click.echo("no shock at the output levels", err=True)
        return
    shown = ", ".join(f"({t:.6g}, {x:.10g})" for t, x in list(zip(ts, xs))[:SUMMARY_SHOCKS])
    more = f" and {ts.size - SUMMARY_SHOCKS} more" if ts.size > SUMMARY_SHOCKS else ""
    where = (f" (a .csv holds the grid only: write .nc for {found[0][0]}, {found[0][1]})"
             if out.suffix.lower() == ".csv" else "")  # fmt: skip
    click.echo(f"shocks ({evo}, {space[0]}): {shown}{more}{where}", err=True)
