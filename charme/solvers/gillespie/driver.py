"""Run SSA ensembles: settings, seeding, threads, statistics, Ctrl-C.

The data path is ``ReactionNetwork -> compile_network -> ssa_direct_ensemble
(@njit, nogil) -> Result``.  Runs are processed in chunks whose size depends
only on the problem (never on the thread count); each chunk is split into
blocks simulated by a thread pool; statistics are accumulated chunk by chunk
in run order (Chan et al.'s pairwise update), so the same seed gives the same
bits with any number of threads.
"""

from __future__ import annotations

import math
import os
import secrets
import time
from concurrent.futures import ThreadPoolExecutor, wait

import numpy as np

from charme.errors import SolverError, SpecError
from charme.models.network import ReactionNetwork
from charme.results.result import Result, provenance

#: Int64 cells held in memory per chunk of runs (paths of the chunk).
CHUNK_CELLS = 1 << 22


def available_memory() -> int:
    """Bytes of memory available now (a conservative guess if unknown)."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 4 << 30


def usable_cores() -> int:
    """Cores this process may run on (its CPU affinity), at least 1."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1


def resolve_settings(network: ReactionNetwork, **given) -> dict:
    """Merge explicit arguments over the spec's ``ssa:`` defaults and check them."""
    from charme.spec.schema import SSASettings, merged_settings

    s = merged_settings(SSASettings, network.settings, given)
    if s.get("t_end") is None:
        raise SpecError("t_end is not set: give --t-end or 'ssa: {t_end: ...}' in the spec")
    t_end = float(s["t_end"])
    if not (math.isfinite(t_end) and t_end > 0):
        raise SpecError(f"t_end must be a finite number > 0, got {s['t_end']!r}")
    for key, low in (("points", 2), ("runs", 1), ("max_steps", 1)):
        v = s.get(key)
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < low:
            raise SpecError(f"{key} must be an integer >= {low}, got {v!r}")
    if s.get("method", "direct") != "direct":
        raise SpecError(f"unknown method {s['method']!r} (available: direct)")
    seed = s.get("seed")
    if seed is None:
        seed = secrets.randbits(63)
    elif isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise SpecError(f"seed must be a non-negative integer, got {seed!r}")
    s["seed"] = int(seed)
    s["t_end"] = t_end
    return s


class Recorder:
    """Turns simulated counts into the recorded variables.

    Species are read directly; assignment-rule quantities are evaluated on
    the recorded path (rules are functions of the state and time, so this is
    exact at every output time).  The result is int64 when only species are
    recorded, float64 otherwise.
    """

    def __init__(self, network: ReactionNetwork):
        from charme.spec.expressions import substitute

        params = network.parameter_values()
        rules = dict(network.rules)
        self.names = network.recorded
        self.columns = []
        for name in self.names:
            if name in network.species:
                self.columns.append(network.species.index(name))
            elif name in rules:
                self.columns.append(substitute(network.expand(rules[name]), params))
            else:
                raise SpecError(
                    f"cannot record {name!r}: not a species or an assignment-rule variable"
                )
        self.species = network.species
        self.integer = all(isinstance(c, int) for c in self.columns)
        self.dtype = np.int64 if self.integer else np.float64

    def __call__(self, counts: np.ndarray, t_grid: np.ndarray) -> np.ndarray:
        if self.integer:
            if self.columns == list(range(len(self.species))):
                return counts
            return counts[:, :, self.columns]
        from charme.models.network import TIME
        from charme.spec.expressions import evaluate_array

        env = {s: counts[:, :, i] for i, s in enumerate(self.species)}
        env[TIME] = t_grid[None, :]
        out = np.empty(counts.shape[:2] + (len(self.columns),), np.float64)
        for k, col in enumerate(self.columns):
            out[:, :, k] = counts[:, :, col] if isinstance(col, int) else evaluate_array(col, env)
        return out


def _chunk_size(runs: int, points: int, n_species: int) -> int:
    return max(1, min(runs, CHUNK_CELLS // max(1, points * n_species)))


def simulate(
    network: ReactionNetwork,
    *,
    t_end: float | None = None,
    points: int | None = None,
    runs: int | None = None,
    seed: int | None = None,
    threads: int | None = None,
    method: str | None = None,
    max_steps: int | None = None,
    save_trajectories: bool = False,
    progress: bool = False,
) -> Result:
    """Simulate an ensemble of exact SSA trajectories of ``network``.

    Arguments left as ``None`` take the spec's ``ssa:`` defaults.

    Returns
    -------
    Result
        ``mean(time, species)``, ``sd(time, species)`` (sample sd, ddof=1),
        ``trajectories(run, time, species)`` when saved or when ``runs == 1``,
        with provenance in ``attrs``.  If interrupted (Ctrl-C) the result of
        the finished runs is attached to the ``KeyboardInterrupt`` as
        ``.partial_result`` with ``attrs["complete"] == 0``.

    Raises
    ------
    SpecError
        Bad settings.
    SolverError
        A run failed (step budget, invalid propensity, negative count).
    """

    from charme.solvers.gillespie.compile import compile_network
    from charme.solvers.gillespie.kernels import (
        STATUS_MESSAGES,
        STATUS_NOT_RUN,
        STATUS_OK,
        ssa_direct_ensemble,
    )
    from charme.solvers.gillespie.rng import root_key

    if not isinstance(network, ReactionNetwork):
        raise SpecError(
            "this is a markov-chain spec (a generator matrix): solve it with 'charme cme'"
        )
    s = resolve_settings(
        network,
        t_end=t_end,
        points=points,
        runs=runs,
        seed=seed,
        method=method,
        max_steps=max_steps,
    )
    t_end, points, runs, seed = s["t_end"], int(s["points"]), int(s["runs"]), s["seed"]
    max_steps = int(s["max_steps"])
    n_threads = int(threads) if threads is not None else usable_cores()
    if n_threads < 1:
        raise SpecError(f"threads must be >= 1, got {threads!r}")
    compiled, x0 = compile_network(network)
    recorder = Recorder(network)
    n_species = len(x0)
    n_rec = len(recorder.names)
    t_grid = np.linspace(0.0, t_end, points)
    keep = save_trajectories or runs == 1
    if keep:
        need = runs * points * n_rec * 8
        if need > 0.8 * available_memory():
            raise SpecError(
                f"saving {runs} trajectories of {points} points needs {need / 2**30:.1f} GiB, "
                "more than the memory available: lower --runs or --points"
            )
        paths = np.zeros((runs, points, n_rec), recorder.dtype)
    chunk = _chunk_size(runs, points, n_species)
    root = root_key(seed)
    stop = np.zeros(1, np.int64)
    status = np.full(runs, STATUS_NOT_RUN, np.int64)
    steps = np.zeros(runs, np.int64)
    n_done = 0
    mean = np.zeros((points, n_rec))
    m2 = np.zeros((points, n_rec))

    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=runs, unit="run", delay=1.0, leave=False, dynamic_ncols=True)

    # load the cached machine code before the clock starts (a no-op run)
    ssa_direct_ensemble(
        compiled, x0, t_grid, max_steps, root, 0, np.zeros((0, points, n_species), np.int64),
        status[:0], steps[:0], stop,
    )  # fmt: skip
    started = time.perf_counter()
    interrupted = False
    with ThreadPoolExecutor(max_workers=n_threads) as pool:
        for c0 in range(0, runs, chunk):
            c1 = min(runs, c0 + chunk)
            buf = np.zeros((c1 - c0, points, n_species), np.int64)
            n_blocks = min(c1 - c0, 8 * n_threads)
            edges = np.linspace(c0, c1, n_blocks + 1).astype(int)
            futures = {}
            try:  # (Ctrl-C while the blocks are handed out too: those running must stop)
                for b0, b1 in zip(edges[:-1], edges[1:]):
                    if b1 > b0:
                        fut = pool.submit(
                            ssa_direct_ensemble, compiled, x0, t_grid, max_steps, root, int(b0),
                            buf[b0 - c0 : b1 - c0], status[b0:b1], steps[b0:b1], stop,
                        )  # fmt: skip
                        futures[fut] = b1 - b0
                pending = set(futures)
                while pending:
                    finished, pending = wait(pending, timeout=0.2)
                    if bar is not None:
                        bar.update(sum(futures[f] for f in finished))
            except KeyboardInterrupt:
                interrupted = True
                stop[0] = 1
                wait(futures)
            for f in futures:
                f.result()  # re-raise any exception from a worker
            cstat = status[c0:c1]
            bad = np.flatnonzero((cstat != STATUS_OK) & (cstat != STATUS_NOT_RUN))
            if bad.size:
                r = c0 + int(bad[0])
                if bar is not None:
                    bar.close()
                raise SolverError(
                    f"run {r} failed after {int(steps[r])} steps: "
                    f"{STATUS_MESSAGES[int(status[r])]} ({bad.size} failed run(s) in this batch)"
                )
            done = cstat == STATUS_OK
            nb = int(done.sum())
            values = recorder(buf, t_grid)
            if keep:
                paths[c0:c1] = values
            if nb:
                xs = values[done].astype(np.float64)
                mean_b = xs.mean(axis=0)
                m2_b = ((xs - mean_b) ** 2).sum(axis=0)
                n_new = n_done + nb
                delta = mean_b - mean
                mean = mean + delta * (nb / n_new)
                m2 = m2 + m2_b + delta**2 * (n_done * nb / n_new)
                n_done = n_new
            if interrupted:
                break
    wall = time.perf_counter() - started
    if bar is not None:
        bar.close()

    done_mask = status == STATUS_OK
    total_events = int(steps[done_mask].sum())
    sd = np.sqrt(m2 / (n_done - 1)) if n_done > 1 else np.full_like(mean, np.nan)
    if n_done == 0:
        mean = np.full_like(mean, np.nan)
    data_vars = {
        "mean": (("time", "species"), mean),
        "sd": (("time", "species"), sd),
    }
    var_attrs = {
        "time": {"long_name": "time", "units": "model time units"},
        "mean": {"long_name": "ensemble mean of the molecule count"},
        "sd": {"long_name": "ensemble standard deviation of the count (ddof=1)"},
    }
    coords = {"time": t_grid, "species": np.array(recorder.names, dtype=str)}
    if keep:
        run_index = np.flatnonzero(done_mask)
        traj = paths if n_done == runs else paths[run_index]
        data_vars["trajectories"] = (("run", "time", "species"), traj)
        coords["run"] = run_index.astype(np.int64)
        var_attrs["trajectories"] = {"long_name": "recorded values along each trajectory"}
    attrs = {
        "title": f"charme ssa: {network.name}",
        "solver": "ssa",
        "method": s.get("method", "direct"),
        "model": network.name,
        "spec_path": network.source_path,
        "spec_text": network.source_text,
        "parameters": repr(dict(network.parameters)),
        "initial_counts": repr(dict(zip(network.species, network.initial))),
        "seed": str(seed),
        "runs": runs,
        "runs_completed": n_done,
        "complete": int(n_done == runs),
        "t_end": t_end,
        "points": points,
        "max_steps": max_steps,
        "threads": n_threads,
        "total_events": total_events,
        "wall_time_s": wall,
        "events_per_s": total_events / wall if wall > 0 else 0.0,
        **provenance(),
        "Conventions": "CF-1.8",
    }
    result = Result("ssa", coords, data_vars, attrs, var_attrs)
    if interrupted:
        exc = KeyboardInterrupt()
        exc.partial_result = result
        raise exc
    return result
