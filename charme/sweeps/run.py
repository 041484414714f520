"""Run a sweep: solve one spec at every point of a design, keep every result.

The data path: load the spec once -> one problem per point (parameters
replaced) -> the solver (in this process, in worker processes, or on Dask
workers) -> the point's :class:`Result` back to this process -> its shard
file -> when every point is done, one combined file.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import secrets
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from charme.errors import CharmeError, SolverError, SpecError
from charme.sweeps.combine import combine, output_clash
from charme.sweeps.design import POINT_DIM, Design, make_design
from charme.sweeps.store import ShardStore

SOLVERS = ("ssa", "cme", "characteristics")
#: options a sweep sets itself or cannot combine
RESERVED = {"ssa": {"progress"}, "cme": {"save_distribution"}, "characteristics": set()}


def solver_function(solver: str):
    if solver == "ssa":
        from charme.solvers.gillespie.driver import simulate

        return simulate
    if solver == "cme":
        from charme.solvers.master_equation.driver import solve

        return solve
    if solver == "characteristics":
        from charme.solvers.characteristics.driver import solve_pde

        return solve_pde
    raise SpecError(f"unknown solver {solver!r} (known: {', '.join(SOLVERS)})")


def solve_point(solver: str, problem, options: dict):
    """Solve one point (runs in whatever process the executor chose)."""
    return solver_function(solver)(problem, **options)


def _check_problem(solver, problem, where):
    from charme.spec import kind_and_solvers

    kind, solvers = kind_and_solvers(problem)
    if solver not in solvers:
        raise SpecError(f"{kind} cannot be solved by {solver!r}", file=where)


def _check_options(solver, options):
    params = inspect.signature(solver_function(solver)).parameters
    allowed = set(params) - {"network", "pde", "problem"} - RESERVED[solver]
    for key in options:
        if key in RESERVED[solver]:
            raise SpecError(f"option {key!r} cannot be used in a sweep of {solver!r}")
        if key not in allowed and key != "record":
            raise SpecError(
                f"unknown option {key!r} for {solver!r} (known: {', '.join(sorted(allowed))})"
            )


def point_seed(sweep_seed: int, index: int) -> int:
    """Each point's own stream: a 63-bit seed from (sweep seed, point index)."""
    state = np.random.SeedSequence([int(sweep_seed), int(index)]).generate_state(1, np.uint64)
    return int(state[0] >> np.uint64(1))


def _fingerprint(text, solver, options, design, seed, base) -> str:
    blob = json.dumps([text, solver, options, design.as_json(), seed, base], sort_keys=True,
                      default=str)  # fmt: skip
    return hashlib.sha256(blob.encode()).hexdigest()


def sweep(
    spec,
    solver: str,
    vary=None,
    *,
    zip: bool = False,  # noqa: A002 - mirrors the --zip flag
    design: Design | None = None,
    output=None,
    resume: bool = False,
    overwrite: bool = False,
    executor: str = "local",
    workers: int | None = None,
    scheduler: str | None = None,
    connect_timeout: float = 10.0,
    seed: int | None = None,
    overrides: dict | None = None,
    progress: bool = False,
    **options,
):
    """Solve ``spec`` with ``solver`` at every point of a parameter design.

    Parameters
    ----------
    spec
        A spec path (YAML/TOML/JSON/SBML/Antimony) or a loaded problem.
    solver
        ``"ssa"``, ``"cme"`` or ``"characteristics"``.
    vary
        ``{name: values}``: values are a list or a range string
        (``"0.1:1:10"``, ``"log:1e-3:1:4"``, ``"10,20,50"``).  Names are
        parameters or (for networks) species' initial counts.
    zip
        Pair the lists (point i takes the i-th value of each) instead of
        taking their full grid.
    design
        A ready :class:`Design` instead of ``vary``/``zip`` (sweep files).
    output
        A ``.nc`` path.  Each point is then written to ``OUT.nc.shards/`` as
        it finishes and the combined file atomically at the end; without
        it, everything stays in memory.
    resume
        Skip the points already in the shard directory (same sweep only).
    executor, workers, scheduler
        ``"local"``: ``workers`` processes on this machine (default 1: one
        point at a time, each using every core); ``"dask"``: the Dask
        distributed scheduler at ``scheduler`` (needs ``charme[dask]``).
    seed
        Sweep seed (SSA): point i runs with its own stream derived from
        (seed, i), so a resumed sweep gives the same bits.  Default: the
        spec's ``ssa.seed``, else random (recorded in the result).
    overrides
        Fixed ``{name: value}`` changes applied before the sweep (``--set``).
    **options
        The solver's own keyword arguments (``t_end``, ``runs``, ``tol``,
        ``crossing``...), the same at every point.

    Returns
    -------
    Result
        ``kind == "sweep"``: the solver's variables with the design's
        dimensions in front (the varied names, or ``point``), and the
        per-point statistics (wall time, seeds, errors) as variables.
    """
    from charme.spec import load, with_values

    started = time.perf_counter()
    if solver not in SOLVERS:
        raise SpecError(f"unknown solver {solver!r} (known: {', '.join(SOLVERS)})")
    if executor not in ("local", "dask"):
        raise SpecError(f"unknown executor {executor!r} (local, dask)")
    if executor == "dask" and not scheduler:
        raise SpecError("--executor dask needs --scheduler ADDRESS (e.g. tcp://host:8786)")
    if workers is not None and (isinstance(workers, bool) or int(workers) < 1):
        raise SpecError(f"workers must be >= 1, got {workers!r}")
    if design is None:
        design = make_design(vary or {}, zip)
    elif vary:
        raise SpecError("give either vary or design, not both")
    both = sorted(set(overrides or {}) & set(design.names))
    if both:
        raise SpecError(
            f"{both[0]!r} is both fixed (--set) and varied (--vary / --design): "
            "give it in one of them"
        )
    check_design_names(design)
    where = str(spec) if isinstance(spec, (str, Path)) else None
    base = load(spec) if where else spec
    if overrides:
        base = with_values(base, overrides)
    _check_problem(solver, base, where)
    options = {k: v for k, v in options.items() if v is not None}
    _check_options(solver, options)
    record = options.pop("record", None)
    if record is not None:
        names = record.split(",") if isinstance(record, str) else list(record)
        base = base.recording([n.strip() for n in names if n.strip()])

    points = design.points()
    problems = []
    for p in points:
        try:
            problems.append(with_values(base, p))
        except SpecError as exc:
            raise SpecError(f"--vary: {exc.message}", file=exc.file or where) from None

    if solver == "ssa":
        if seed is None:
            seed = base.settings.get("seed")
        if seed is None:
            seed = secrets.randbits(63)
        if isinstance(seed, bool) or int(seed) < 0:
            raise SpecError(f"seed must be a non-negative integer, got {seed!r}")
        seed = int(seed)
        if workers and workers > 1 and executor == "local" and "threads" not in options:
            from charme.solvers.gillespie.driver import usable_cores

            options["threads"] = max(1, usable_cores() // int(workers))

    def options_for(i):
        return {**options, "seed": point_seed(seed, i)} if solver == "ssa" else dict(options)

    text = getattr(base, "source_text", "") or ""
    fingerprint = _fingerprint(text, solver, {**options, "record": record}, design, seed,
                               overrides or {})  # fmt: skip
    store = None
    if output is not None:
        from charme.results.result import check_output_path

        check_output_path(output, overwrite)
        if Path(output).suffix.lower() != ".nc":
            raise SpecError("a sweep is written as NetCDF: give an output ending in .nc",
                            file=str(output))  # fmt: skip
        manifest = {"fingerprint": fingerprint, "solver": solver, "n_points": len(design),
                    "seed": seed, "design": design.as_json(), "spec": where}  # fmt: skip
        store = ShardStore.open(output, manifest, resume=resume, overwrite=overwrite)

    results: dict[int, object] = {}
    checked: list[int] = []
    done = store.done() if store else set()
    todo = [i for i in range(len(points)) if i not in done]

    def finished(i, result):
        if not checked:  # the first result shows the solver's names: before anything is kept
            check_output_names(result, design)
            checked.append(i)
        if store is not None:
            store.save(i, result)
        else:
            results[i] = result

    from charme.sweeps.executors import run_points

    try:
        failures = run_points(
            todo, lambda i: (solver, problems[i], options_for(i)), finished,
            executor=executor, workers=workers, scheduler=scheduler,
            connect_timeout=connect_timeout, progress=progress, total=len(points),
            already=len(done),
        )  # fmt: skip
    except BaseException:
        if store is not None and not store.done():
            store.remove()  # nothing finished: leave nothing behind
        raise
    if failures:
        raise _failed(failures, points, store)

    ordered = [store.load(i) if store else results[i] for i in range(len(points))]
    from charme import __version__

    attrs = {
        "title": f"charme sweep {solver}: {getattr(base, 'name', '')}",
        "solver": "sweep",
        "sweep_solver": solver,
        "sweep_mode": design.mode,
        "sweep_parameters": ",".join(design.names),
        "sweep_points": len(design),
        "sweep_options": json.dumps(options, sort_keys=True, default=str),
        "sweep_fixed": json.dumps(overrides or {}, sort_keys=True),
        "model": getattr(base, "name", ""),
        "spec_path": where or "",
        "spec_text": text,
        "charme_version": __version__,
        "created": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "wall_time_s_total": time.perf_counter() - started,
        "complete": 1,
    }
    if seed is not None:
        attrs["sweep_seed"] = str(seed)
    combined = combine(ordered, design, attrs)
    if store is not None:
        combined.write(output, overwrite=overwrite)
        store.remove()
    return combined


def _failed(failures, points, store) -> CharmeError:
    """The error for a sweep some of whose points failed.

    If no point is solved (none now, none kept from before) and every
    failure is bad input (:class:`SpecError`), the spec or the options are
    wrong, not some points: a :class:`SpecError` (exit 2), and the empty
    shard directory goes.  Otherwise a :class:`SolverError` (exit 1) names
    the failed points; the finished ones are kept for ``--resume``, which
    retries the failed ones.
    """
    kept = store is not None and bool(store.done())
    if store is not None and not kept:
        store.remove()  # nothing finished: leave nothing behind
    shown = "; ".join(f"point {i} ({_describe(points[i])}): {exc}" for i, exc in failures[:3])
    more = f" and {len(failures) - 3} more" if len(failures) > 3 else ""
    if len(failures) == len(points) and all(isinstance(e, SpecError) for _, e in failures):
        first = failures[0][1]
        if all(str(e) == str(first) for _, e in failures):
            where = "the point" if len(points) == 1 else f"all {len(points)} points"
            return SpecError(f"{first.message} (at {where} of the sweep)", file=first.file,
                             line=first.line, field=first.field)  # fmt: skip
        return SpecError(f"all {len(points)} points failed: {shown}{more}")
    where = f"; finished points are kept in {store.directory}" if kept else ""
    return SolverError(f"{len(failures)} of {len(points)} points failed: {shown}{more}{where}")


def check_design_names(design: Design) -> None:
    """Refuse varied names that clash with the sweep's own ``point`` dimension."""
    if design.mode != "grid" and POINT_DIM in design.names:
        how = "--zip" if design.mode == "zip" else "a design file's 'points'"
        raise SpecError(
            f"the varied parameter {POINT_DIM!r} clashes with the {POINT_DIM!r} dimension "
            f"that {how} gives the combined result: rename the parameter in the spec, "
            "or sweep its full grid without --zip"
        )


def check_output_names(result, design: Design) -> None:
    """Refuse varied names that are also names in the solver's output (raises SpecError).

    The combined result has the varied names as dimensions (or as variables
    over ``point``), beside the solver's own dimensions, coordinates and
    variables: one name cannot be both.
    """
    clash = output_clash(result, design)
    if clash:
        name, what = clash
        mine = "varied parameter" if name in design.names else "sweep's dimension"
        raise SpecError(
            f"the {mine} {name!r} clashes with the {what} {name!r} of the "
            f"{result.kind} solver's output, so the points cannot be combined into one "
            "file: rename the parameter in the spec"
        )


def _describe(point: dict) -> str:
    return ", ".join(f"{k}={v:g}" for k, v in point.items())
