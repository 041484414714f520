"""Rows of a nogil kernel on the thread pool (charme.solvers.characteristics.threads)."""

import numba
import numpy as np
import pytest
from numba import njit

from charme.solvers.characteristics import threads as TH
from charme.solvers.characteristics.driver import solve_pde
from charme.spec.loader import parse_spec_text
from charme.spec.pde import build_pde


@njit(nogil=True)
def _rows(lo, hi, out, calls):
    for r in range(lo, hi):
        out[r] = 3 * r + 1
    calls[lo] = hi - lo


def _raising(lo, hi, out):
    if lo > 0:
        raise ValueError(f"chunk at {lo}")
    out[lo:hi] = 1


@pytest.fixture
def two_threads():
    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("Numba has one thread here")
    before = numba.get_num_threads()
    numba.set_num_threads(2)
    yield
    numba.set_num_threads(before)


@pytest.fixture
def pool_only(monkeypatch):
    """Every row on the pool's threads (no rows run first in the calling thread)."""
    monkeypatch.setattr(TH, "INLINE_SECONDS", 0.0)


@pytest.mark.parametrize("count", [0, 1, 2, 7, 100])
def test_every_row_once_in_chunks(count, two_threads, pool_only):
    out = np.zeros(count, np.int64)
    calls = np.zeros(max(count, 1), np.int64)
    TH.over_rows(_rows, count, out, calls)
    np.testing.assert_array_equal(out, 3 * np.arange(count) + 1)
    assert calls.sum() == count  # each row in exactly one chunk
    assert (calls > 0).sum() == (min(count, 2 * TH.CHUNKS_PER_THREAD) if count > 1 else count)


def _recorder(cost):
    import threading
    import time

    seen = []

    def kernel(lo, hi, out):
        seen.append((lo, hi, threading.get_ident()))
        if cost:
            time.sleep(cost)
        out[lo:hi] += 1

    return kernel, seen


def test_a_small_job_stays_in_this_thread(two_threads, monkeypatch):
    """A cheap job is done in the calling thread, in calls of doubling size: a pool's
    hand-over would cost more than a second thread gains."""
    import threading

    monkeypatch.setattr(TH, "INLINE_SECONDS", 10.0)  # (cheap on a loaded machine too)

    kernel, seen = _recorder(0.0)
    out = np.zeros(640, np.int64)
    TH.over_rows(kernel, 640, out)
    np.testing.assert_array_equal(out, 1)  # every row once
    assert {ident for *_, ident in seen} == {threading.get_ident()}
    sizes = [hi - lo for lo, hi, _ in seen]
    assert sizes == [10, 20, 40, 80, 160, 320, 10]  # (the last: the rows left)


def test_a_large_job_goes_to_the_pool(two_threads):
    """Once the calling thread's share takes longer than INLINE_SECONDS, the rows left go
    in chunks to the threads."""
    import threading

    kernel, seen = _recorder(2 * TH.INLINE_SECONDS)
    out = np.zeros(640, np.int64)
    TH.over_rows(kernel, 640, out)
    np.testing.assert_array_equal(out, 1)
    here = threading.get_ident()
    assert seen[0][:3] == (0, 10, here)  # the first call here, then the pool
    assert all(ident != here for *_, ident in seen[1:])
    assert len(seen) == 1 + 2 * TH.CHUNKS_PER_THREAD


def test_one_thread_is_one_call():
    before = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        calls = np.zeros(50, np.int64)
        TH.over_rows(_rows, 50, np.zeros(50, np.int64), calls)
        assert calls[0] == 50 and calls[1:].sum() == 0
    finally:
        numba.set_num_threads(before)


def test_a_chunk_s_error_is_raised_after_all_finish(two_threads, pool_only):
    out = np.zeros(40)
    with pytest.raises(ValueError, match="chunk at"):
        TH.over_rows(_raising, 40, out)
    assert (out[:5] == 1).all()  # the first chunk ran


def test_an_error_in_this_thread_s_share_is_raised_at_once(two_threads, monkeypatch):
    monkeypatch.setattr(TH, "INLINE_SECONDS", 10.0)
    out = np.zeros(640)
    with pytest.raises(ValueError, match="chunk at 10"):
        TH.over_rows(_raising, 640, out)
    assert out.sum() == 10  # the first call's rows; nothing ran after the error


def _solve(text, threads, **kw):
    before = numba.get_num_threads()
    numba.set_num_threads(threads)
    try:
        return solve_pde(build_pde(parse_spec_text(text, "p.yaml", ".yaml")), **kw)
    finally:
        numba.set_num_threads(before)


@pytest.mark.parametrize("text,kw", [
    ("kind: pde\nvariables: [t, x]\nequation: u_t + u*u_x = 0\n"
     "initial: {parameters: {s: [-3.141592653589793, 9.42477796076938, 101]}, t: 0, x: s, "
     "u: sin(s)}\ngrid: {t: [0, 1.5, 4], x: [0, 6.283185307179586, 81]}\n",
     {"crossing": "shock"}),
    ("kind: pde\nvariables: [x, y]\nequation: u_x^2 + u_y^2 = 1\n"
     "initial: {parameters: {s: [0, 6.283185307179586, 181]}, x: 0.6*cos(s), "
     "y: 0.3*sin(s), u: 0, branch: -1}\ngrid: {x: [-1, 1, 21], y: [-1, 1, 21]}\n", {}),
])  # fmt: skip
def test_same_bits_on_one_and_two_threads(text, kw):
    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("Numba has one thread here")
    one, two = _solve(text, 1, **kw), _solve(text, 2, **kw)
    for name in ("u", "u_x"):
        np.testing.assert_array_equal(np.asarray(one[name]), np.asarray(two[name]))


def test_a_forked_child_gets_its_own_pool(two_threads, pool_only):
    """A child forked after the pool started has none of its threads: it must not
    queue work on it (it would wait forever)."""
    import multiprocessing

    TH.over_rows(_rows, 16, np.zeros(16, np.int64), np.zeros(16, np.int64))  # (the pool runs)
    ctx = multiprocessing.get_context("fork")
    child = ctx.Process(target=_in_child)
    child.start()
    child.join(60)
    if child.is_alive():
        child.kill()
        pytest.fail("the forked child hung on the parent's thread pool")
    assert child.exitcode == 0


def _in_child():
    numba.set_num_threads(2)
    out = np.zeros(16, np.int64)
    TH.over_rows(_rows, 16, out, np.zeros(16, np.int64))
    raise SystemExit(0 if (out == 3 * np.arange(16) + 1).all() else 1)


def test_ctrl_c_waits_for_the_running_chunks_and_drops_the_rest(two_threads, pool_only):
    """Ctrl-C while waiting: the chunks running write into the caller's arrays until
    they end, so they are waited for; those not started are cancelled."""
    import signal
    import time

    out = np.zeros(16)
    started = np.zeros(16)

    def slow(lo, hi, out):
        started[lo] = 1
        time.sleep(0.4)
        out[lo:hi] = 1

    def interrupt(*_):
        raise KeyboardInterrupt

    old = signal.signal(signal.SIGALRM, interrupt)
    signal.setitimer(signal.ITIMER_REAL, 0.1)
    try:
        with pytest.raises(KeyboardInterrupt):
            TH.over_rows(slow, 16, out)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
    ran = started.nonzero()[0]
    assert len(ran) == 2  # the two the threads had begun
    snapshot = out.copy()
    time.sleep(0.6)
    np.testing.assert_array_equal(out, snapshot)  # nothing still writes
    assert snapshot.sum() == 2 * 16 // (2 * TH.CHUNKS_PER_THREAD)  # they finished, no more
