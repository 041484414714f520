"""Where sweep points run: this process, local worker processes, or Dask.

Every executor hands each finished point's result back to this process,
which writes it at once (``finished``), so the caller's shard store is the
single writer.  Before dispatching to other processes, pending points are
solved here until one succeeds: that fills Numba's on-disk cache once, so
workers load compiled kernels instead of all compiling at the same time (and
a spec that fails at every point fails here, without starting any worker).
"""

from __future__ import annotations

import multiprocessing
import sys
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

from charme.errors import CharmeError, SpecError


def _progress_bar(progress, total, already):
    if not progress:
        return None
    from tqdm import tqdm

    return tqdm(total=total, initial=already, unit="point", desc="sweep", file=sys.stderr,
                dynamic_ncols=True, smoothing=0.1)  # fmt: skip


def run_points(todo, task_of, finished, *, executor="local", workers=None, scheduler=None,
               connect_timeout=10.0, progress=False, total=None, already=0):  # fmt: skip
    """Solve the points ``todo``; return ``[(index, exception)]`` of those that failed.

    ``task_of(i)`` gives ``(solver, problem, options)``; ``finished(i,
    result)`` is called here, in this process, as each point completes (an
    exception it raises stops the sweep).  A point whose solve raises one of
    charme's errors is a failure of that point, and the others go on: a
    :class:`SpecError` there (e.g. a flux that is not convex over that
    point's data) depends on the point's values, or else every point fails
    with it, which the caller tells apart.  On Ctrl-C the points in flight
    are cancelled and ``KeyboardInterrupt`` propagates.
    """
    from charme.sweeps.run import solve_point

    bar = _progress_bar(progress, total if total is not None else len(todo), already)
    failures: list[tuple[int, CharmeError]] = []

    def record(i, fn):
        """True if point ``i`` was solved (and handed to ``finished``)."""
        try:
            result = fn()
        except CharmeError as exc:
            failures.append((i, exc))
            ok = False
        else:
            finished(i, result)
            ok = True
        if bar is not None:
            bar.update(1)
        return ok

    todo = list(todo)
    try:
        remote = executor == "dask" or (workers or 1) > 1
        if remote:
            # warm the compile cache here, with a point that solves, before any worker starts
            while todo:
                i = todo.pop(0)
                if record(i, lambda i=i: solve_point(*task_of(i))):
                    break
        if not todo:
            return failures
        if executor == "dask":
            _run_dask(todo, task_of, record, scheduler, connect_timeout)
        elif (workers or 1) > 1:
            _run_processes(todo, task_of, record, int(workers))
        else:
            for i in todo:
                record(i, lambda i=i: solve_point(*task_of(i)))
    finally:
        if bar is not None:
            bar.close()
    return failures


def _init_worker(threads: int) -> None:
    import numba

    numba.set_num_threads(max(1, min(threads, numba.config.NUMBA_NUM_THREADS)))


def _run_processes(todo, task_of, record, workers):
    from charme.solvers.gillespie.driver import usable_cores
    from charme.sweeps.run import solve_point

    threads = max(1, usable_cores() // workers)
    # spawn, not fork: forking a process whose Numba thread pool is running can deadlock
    ctx = multiprocessing.get_context("spawn")
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_init_worker,
                               initargs=(threads,))  # fmt: skip
    pending = {}
    queue = list(todo)
    try:
        while queue or pending:
            while queue and len(pending) < 2 * workers:
                i = queue.pop(0)
                pending[pool.submit(solve_point, *task_of(i))] = i
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for fut in done:
                i = pending.pop(fut)
                record(i, fut.result)
    except BaseException:
        for fut in pending:
            fut.cancel()
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown(wait=True)


def _connect(scheduler, timeout):
    try:
        from distributed import Client
    except ImportError:
        raise SpecError(
            "--executor dask needs Dask distributed: pip install 'charme[dask]'"
        ) from None
    try:
        return Client(scheduler, timeout=timeout, set_as_default=False)
    except (OSError, TimeoutError) as exc:
        raise SpecError(
            f"cannot reach the Dask scheduler at {scheduler!r} within {timeout:g} s "
            f"({type(exc).__name__}: {exc})"
        ) from None
    except ValueError as exc:
        raise SpecError(f"bad Dask scheduler address {scheduler!r}: {exc}") from None


def _run_dask(todo, task_of, record, scheduler, timeout):
    from distributed import as_completed

    from charme.sweeps.run import solve_point

    client = _connect(scheduler, timeout)
    futures = {}
    try:
        with client.as_current():
            for i in todo:
                futures[client.submit(solve_point, *task_of(i), pure=False)] = i
            for fut in as_completed(list(futures)):
                record(futures[fut], fut.result)
    except BaseException:
        client.cancel(list(futures))
        raise
    finally:
        client.close()
