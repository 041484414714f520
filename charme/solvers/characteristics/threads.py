"""Rows of a serial ``@njit(nogil=True)`` kernel on a pool of threads.

The solver's heavy kernels (tracing rays, Newton onto them, the crossing search) take a
range of rows ``lo, hi`` as their first two arguments and release the GIL; this
module splits the rows into chunks and runs them side by side.  They are not
Numba ``prange`` kernels because a parallel kernel costs seconds more to
compile than the same loop in serial (about 11 s of the 30 s a first solve
took to compile); the work per row is large, so a thread pool loses nothing.  Small jobs
(less than half a millisecond) stay in the calling thread: a pool's hand-over costs more
than they would gain.

The number of threads is Numba's (``numba.set_num_threads``, the
``NUMBA_NUM_THREADS`` environment variable), as for the package's parallel
kernels.  Rows are independent and each is computed whole by one thread, so
the results do not depend on the thread count.
"""

from __future__ import annotations

import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor, wait

import numba

#: Chunks per thread: more than one, so a thread that drew cheap rows takes more.
CHUNKS_PER_THREAD = 4
#: Work (seconds) done in the calling thread before the pool is used: handing chunks to
#: threads and waiting for them costs tens of microseconds each, more than small jobs
#: (a solve on a few hundred points) gain from a second thread.
INLINE_SECONDS = 5e-4
#: The calling thread's first call takes this share of the rows, and each next one twice
#: as many (while the work so far and the pace say the next fits in INLINE_SECONDS).
FIRST_SHARE = 64

_pools: dict[int, ThreadPoolExecutor] = {}
_lock = threading.Lock()


def _forget_pools() -> None:
    """In a forked child: the parent's pools have no threads here (their queues would
    never be served), and the lock may have been held at the fork."""
    global _lock
    _pools.clear()
    _lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pools)


def threads() -> int:
    """The number of threads kernels run on here (Numba's setting, for this thread)."""
    return max(1, int(numba.get_num_threads()))


def _pool(size: int) -> ThreadPoolExecutor:
    with _lock:
        pool = _pools.get(size)
        if pool is None:
            pool = _pools[size] = ThreadPoolExecutor(size, thread_name_prefix="charme-rows")
        return pool


def over_rows(kernel, count: int, *args) -> None:
    """``kernel(lo, hi, *args)`` over the rows ``0 .. count - 1``.

    With one thread (or one row) in one call here.  Otherwise rows are run here first, in
    calls of growing size, while they take less than :data:`INLINE_SECONDS` in all; the rows
    left (a large job's) go in chunks to :func:`threads` threads.  The first exception a
    chunk raises (in the chunks' order), or a KeyboardInterrupt while waiting, is raised
    here once no chunk runs any more (those not started are cancelled)."""
    count = int(count)
    size = threads()
    if count <= 0:
        return
    if size == 1 or count == 1:
        kernel(0, count, *args)
        return
    done, step = 0, max(1, count // FIRST_SHARE)
    start = time.perf_counter()
    while done < count and INLINE_SECONDS > 0:
        hi = min(count, done + step)
        kernel(done, hi, *args)
        spent = time.perf_counter() - start
        done, step = hi, 2 * step
        # (the next call's time at the pace so far)
        if spent * (1 + min(step, count - done) / done) > INLINE_SECONDS:
            break
    if done >= count:
        return
    rest = count - done
    pieces = min(rest, size * CHUNKS_PER_THREAD)
    bounds = [done + rest * k // pieces for k in range(pieces + 1)]
    pool = _pool(size)
    futures, error = [], None
    try:  # (a Ctrl-C while the chunks are handed out too)
        for lo, hi in zip(bounds[:-1], bounds[1:]):
            futures.append(pool.submit(kernel, lo, hi, *args))
        for future in futures:
            future.result()
    except BaseException as exc:  # a chunk's error, or Ctrl-C here: re-raised below
        error = exc
    if error is not None:
        # the chunks not started are dropped; those running write into the caller's
        # arrays until they end (they cannot be stopped), so they are waited for, through
        # another Ctrl-C too
        for future in futures:
            future.cancel()
        while True:
            try:
                wait(futures)
                break
            except BaseException:  # (still waiting; the first error wins)
                continue
        raise error
