"""``charme cme``: the chemical master equation by finite state projection."""

from __future__ import annotations

from pathlib import Path

import click

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
              help="Output file (.nc or .csv). Default: SPEC's name with .cme.nc.")  # fmt: skip
@click.option("--t-end", type=click.FloatRange(min=0, min_open=True), help="End time.")
@click.option("--points", type=click.IntRange(min=2), help="Output times from 0 to t_end.")
@click.option("--tol", type=click.FloatRange(min=0, max=1, min_open=True, max_open=True),
              help="Certified L1 error at t_end (default 1e-6).")  # fmt: skip
@click.option("--method", type=click.Choice(["auto", "krylov", "uniformization", "implicit"]),
              help="Time integrator (default auto).")  # fmt: skip
@click.option("--bounds", multiple=True, metavar="NAME=LO:HI",
              help="Fix a species' range (repeatable); others grow automatically.")  # fmt: skip
@click.option("--max-states", type=click.IntRange(min=1),
              help="Refuse projections larger than this (default: from free memory).")  # fmt: skip
@click.option("--steady-state", is_flag=True, help="Solve for the stationary law instead.")
@click.option("--save-distribution", is_flag=True, help="Also store states and p(time, state).")
@set_option
@overwrite_option
@click.option("-q", "--quiet", is_flag=True, help="No summary on stderr.")
@handle_errors
def cme(spec, out, t_end, points, tol, method, bounds, max_states, steady_state,
        save_distribution, sets, overwrite, quiet):  # fmt: skip
    """Solve the master equation of SPEC by finite state projection.

    Writes mean/sd(time, species) (the names `charme ssa` uses),
    marginal(time, species, count) and fsp_error(time), the certified L1
    distance to the exact distribution.  Exit status: 0 success, 2 bad input,
    1 solver failure.
    """
    from charme.results import check_output_path
    from charme.spec import load

    overrides = parse_sets(sets)
    out = Path(out) if out else Path(Path(spec).stem + ".cme.nc")
    check_output_path(out, overwrite)
    problem = load(spec, overrides=overrides)
    require_kind(problem, "cme", spec)
    from charme.solvers.master_equation.driver import solve

    result = solve(
        problem, t_end=t_end, points=points, tol=tol, method=method, bounds=bounds,
        max_states=max_states, steady_state=steady_state, save_distribution=save_distribution,
    )  # fmt: skip
    result.write(out, overwrite=overwrite)
    if not quiet:
        a = result.attrs
        err = f", fsp_error {float(result['fsp_error'].max()):.2e}" if "fsp_error" in result else ""
        click.echo(
            f"wrote {out}: {a['n_states']} states, method {a['method']}{err}, "
            f"{a['wall_time_s']:.2f} s",
            err=True,
        )
