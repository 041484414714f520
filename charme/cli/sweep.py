"""``charme sweep SOLVER SPEC --vary NAME=VALUES ...``: parameter sweeps.

Each ``charme sweep SOLVER`` command takes the sweep's own options plus
every option of ``charme SOLVER`` (read from that command, so the two never
drift apart), and passes the latter unchanged to the solver at each point.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import shutil
import signal
import sys
from pathlib import Path

import click

from charme.cli.common import EXIT_INTERRUPTED, handle_errors, parse_sets

SOLVER_COMMANDS = {
    "ssa": "charme.cli.ssa:ssa",
    "cme": "charme.cli.cme:cme",
    "characteristics": "charme.cli.characteristics:characteristics",
}
#: options of the solver commands that the sweep owns or that make no sense per point
OWNED = {"spec", "out", "overwrite", "quiet", "sets", "save_distribution", "steady_state_only"}
#: CLI option name -> solver keyword, where they differ
RENAMED: dict[str, str] = {}

SWEEP_HELP = """Solve SPEC with `charme {solver}` at every point of a parameter design.

\b
Values: a:b:n (n values from a to b), log:a:b:n (geometric), or a list 10,20,50.
Without --zip the points are the full grid of the --vary lists; with --zip
point i takes the i-th value of each.  A sweep file (--design FILE, YAML)
holds `vary: {{name: values}}` (and `zip: true`) or `points: [{{...}}, ...]`.

Each finished point is written at once to OUT.shards/; the combined file
OUT (.nc, the varied names as extra dimensions, or a `point` dimension)
is written when all are done, and the shards removed.  After an
interruption or a crash, run the same command with --resume.  Every other
option is `charme {solver}`'s, applied at each point.
"""


def _sweep_params():
    return [
        click.Option(["--vary"], multiple=True, metavar="NAME=VALUES",
                     help="A parameter or initial count and its values (repeatable)."),
        click.Option(["--zip", "zip_"], is_flag=True,
                     help="Pair the --vary lists instead of taking their full grid."),
        click.Option(["--design", "design_file"], type=click.Path(dir_okay=False),
                     help="Sweep file (YAML/TOML/JSON) with 'vary' or 'points'."),
        click.Option(["-o", "--output", "out"], type=click.Path(dir_okay=False),
                     help="Output .nc (default: SPEC's name with .sweep.nc)."),
        click.Option(["--resume"], is_flag=True,
                     help="Continue an interrupted sweep, skipping its finished points."),
        click.Option(["--executor"], type=click.Choice(["local", "dask"]), default="local",
                     show_default=True, help="Where points run."),
        click.Option(["--workers"], type=click.IntRange(min=1),
                     help="Local: points solved at once, in processes (default 1; "
                          "each point then uses all cores)."),
        click.Option(["--scheduler"], metavar="ADDRESS",
                     help="Dask scheduler address, e.g. tcp://head-node:8786."),
        click.Option(["--connect-timeout"], type=click.FloatRange(min=0, min_open=True),
                     default=10.0, show_default=True,
                     help="Seconds to wait for the Dask scheduler."),
        click.Option(["--set", "sets"], multiple=True, metavar="NAME=VALUE",
                     help="Fix a parameter or initial count for the whole sweep."),
        click.Option(["--overwrite"], is_flag=True,
                     help="Replace OUT, and discard an earlier sweep's shards."),
        click.Option(["-q", "--quiet"], is_flag=True, help="No progress bar or summary."),
    ]  # fmt: skip


def _make_command(solver: str) -> click.Command:
    module, attr = SOLVER_COMMANDS[solver].split(":")
    base = getattr(importlib.import_module(module), attr)
    own = _sweep_params()
    taken = {p.name for p in own}
    passed = [p for p in base.params
              if p.name not in OWNED and p.name not in taken and isinstance(p, click.Option)]  # fmt: skip
    passed = [_sweep_seed(p) if p.name == "seed" else p for p in passed]
    spec_arg = click.Argument(["spec"], type=click.Path(dir_okay=False))

    @handle_errors
    def callback(**kw):
        options = {RENAMED.get(p.name, p.name): kw.pop(p.name) for p in passed}
        _run(solver, options=options, **kw)

    return click.Command(
        solver,
        params=[spec_arg, *own, *passed],
        callback=callback,
        help=SWEEP_HELP.format(solver=solver),
        short_help=f"Sweep with `charme {solver}`.",
    )


def _sweep_seed(option: click.Option) -> click.Option:
    return click.Option(
        option.opts, type=option.type,
        help="Sweep seed: point i runs with its own stream from (seed, i), so a resumed "
             "sweep gives the same bits (default: the spec's, else random).",
    )  # fmt: skip


class SolverGroup(click.Group):
    def list_commands(self, ctx):
        return list(SOLVER_COMMANDS)

    def get_command(self, ctx, name):
        if name in ("moc",):
            name = "characteristics"
        return _make_command(name) if name in SOLVER_COMMANDS else None


@click.group(cls=SolverGroup)
def sweep():
    """Solve one spec over a grid of parameter values: charme sweep SOLVER SPEC --vary ...

    SOLVER is ssa, cme or characteristics.  Run `charme sweep SOLVER --help`
    for the options.
    """


def _run(solver, *, spec, vary, zip_, design_file, out, resume, executor, workers, scheduler,
         connect_timeout, sets, overwrite, quiet, options):  # fmt: skip
    from charme.errors import SpecError
    from charme.sweeps import make_design, parse_vary, read_sweep_file
    from charme.sweeps.store import shard_dir_for

    seed = options.pop("seed", None)
    if design_file:
        if vary or zip_:
            raise SpecError("give --design or --vary/--zip, not both")
        design, extra = read_sweep_file(design_file)
        seed = seed if seed is not None else extra.get("seed")
    else:
        design = make_design(parse_vary(vary), zip_)
    out = Path(out) if out else Path(Path(spec).stem + ".sweep.nc")
    from charme.sweeps import sweep as run_sweep

    progress = not quiet and sys.stderr.isatty()
    shards = shard_dir_for(out)
    before = _file_id(out)
    result = None
    try:
        result = run_sweep(
            spec, solver, design=design, output=out, resume=resume, overwrite=overwrite,
            executor=executor, workers=workers, scheduler=scheduler,
            connect_timeout=connect_timeout, seed=seed, overrides=parse_sets(sets),
            progress=progress, **options,
        )  # fmt: skip
    except SpecError as exc:
        if design_file and exc.message.startswith("--vary: "):  # (the design file's names)
            raise SpecError(exc.message.removeprefix("--vary: "), file=str(design_file),
                            field="vary") from None  # fmt: skip
        raise
    except KeyboardInterrupt:
        if _file_id(out) in (None, before):
            done = len(list(shards.glob("point-*.nc"))) if shards.exists() else 0
            click.echo(
                f"charme: interrupted: {done} of {len(design)} points are kept in {shards}; "
                "run the same command with --resume to finish",
                err=True,
            )
            sys.exit(EXIT_INTERRUPTED)
        # OUT is new, so complete (written whole, then renamed): the interrupt only
        # cut short the removal of the shards, which is finished below
    with _sigint_ignored():
        if result is None:
            shutil.rmtree(shards, ignore_errors=True)
        if not quiet:
            a = result.attrs if result is not None else None
            what = (f"{a['sweep_points']} points of {solver} over {a['sweep_parameters']}, "
                    f"{a['wall_time_s_total']:.2f} s" if a else
                    "complete (interrupted only while removing the shards, now removed)")  # fmt: skip
            click.echo(f"wrote {out}: {what}", err=True)


def _file_id(path):
    """What tells a file from one that replaced it (None if there is none)."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino, st.st_mtime_ns, st.st_size


@contextlib.contextmanager
def _sigint_ignored():
    """Ctrl-C does nothing inside (the result is written: there is nothing to stop)."""
    try:
        old = signal.signal(signal.SIGINT, signal.SIG_IGN)
    except ValueError:  # not the main thread: signals are not ours to handle
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, old)
