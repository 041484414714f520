"""``charme ssa``: exact stochastic simulation of a reaction network."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from charme.cli.common import (
    EXIT_INTERRUPTED,
    handle_errors,
    overwrite_option,
    parse_sets,
    require_kind,
    set_option,
)


@click.command()
@click.argument("spec", type=click.Path(dir_okay=False))
@click.option(
    "-o", "--output", "out", type=click.Path(dir_okay=False),
    help="Output file (.nc NetCDF4, or .csv). Default: SPEC's name with .nc.",
)  # fmt: skip
@click.option("--t-end", type=click.FloatRange(min=0, min_open=True), help="End time.")
@click.option("--points", type=click.IntRange(min=2), help="Output times from 0 to t_end.")
@click.option("--runs", type=click.IntRange(min=1), help="Number of trajectories.")
@click.option("--seed", type=click.IntRange(min=0), help="Ensemble seed (random if unset).")
@click.option("--threads", type=click.IntRange(min=1), help="Threads to use (default: all cores).")
@click.option("--method", type=click.Choice(["direct"]), help="Algorithm (default direct).")
@click.option("--max-steps", type=click.IntRange(min=1), help="Step budget per trajectory.")
@set_option
@click.option(
    "--record",
    metavar="NAMES",
    help="Comma-separated species / rule variables to write (default: all).",
)
@click.option(
    "--save-trajectories", is_flag=True, help="Also store every path (run, time, species)."
)
@overwrite_option
@click.option("-q", "--quiet", is_flag=True, help="No progress bar or summary.")
@handle_errors
def ssa(spec, out, t_end, points, runs, seed, threads, method, max_steps, sets, record,
        save_trajectories, overwrite, quiet):  # fmt: skip
    """Simulate SPEC with Gillespie's exact direct method.

    Writes mean(time, species) and sd(time, species) of the ensemble, and
    with --save-trajectories every path, to OUT.  Exit status: 0 success,
    2 bad input, 1 a run failed, 130 interrupted (finished runs are written,
    marked complete=0).
    """
    from charme.results import check_output_path
    from charme.spec import load

    overrides = parse_sets(sets)
    out = Path(out) if out else Path(Path(spec).stem + ".nc")
    check_output_path(out, overwrite)
    network = load(spec, overrides=overrides)
    require_kind(network, "ssa", spec)
    if record is not None:
        network = network.recording([n.strip() for n in record.split(",") if n.strip()])
    if not quiet:
        for w in getattr(network, "warnings", ()):
            click.echo(f"charme: note: {w}", err=True)

    from charme.solvers.gillespie.driver import simulate

    progress = not quiet and sys.stderr.isatty()
    try:
        result = simulate(
            network,
            t_end=t_end,
            points=points,
            runs=runs,
            seed=seed,
            threads=threads,
            method=method,
            max_steps=max_steps,
            save_trajectories=save_trajectories,
            progress=progress,
        )
    except KeyboardInterrupt as exc:
        partial = getattr(exc, "partial_result", None)
        if partial is not None and partial.attrs["runs_completed"] > 0:
            partial.write(out, overwrite=overwrite)
            click.echo(
                f"charme: interrupted: {partial.attrs['runs_completed']} of "
                f"{partial.attrs['runs']} runs written to {out} (complete=0)",
                err=True,
            )
        else:
            click.echo("charme: interrupted before any run finished; nothing written", err=True)
        sys.exit(EXIT_INTERRUPTED)
    result.write(out, overwrite=overwrite)
    if not quiet:
        a = result.attrs
        click.echo(
            f"wrote {out}: {a['runs']} runs, {a['total_events']:.3g} events in "
            f"{a['wall_time_s']:.2f} s ({a['events_per_s'] / 1e6:.3g} M events/s), seed {a['seed']}",
            err=True,
        )
