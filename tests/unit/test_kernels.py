import numpy as np
import pytest

import charme
from charme.errors import SolverError, SpecError
from charme.kernels import (
    STATUS_INVALID_PROPENSITY,
    STATUS_NEGATIVE_COUNT,
    STATUS_NEGATIVE_PROPENSITY,
    STATUS_OK,
    STATUS_STEP_LIMIT,
    compile_network,
    next_uniform,
    propensity,
    root_key,
    seed_stream,
    ssa_direct,
)


def network(reactions, species="{A: 5, B: 3}", params="{k: 2.0}", t_end=10):
    text = f"species: {species}\nparameters: {params}\nreactions:\n"
    text += "".join(f"  - {r}\n" for r in reactions)
    text += f"ssa: {{t_end: {t_end}, points: 11, runs: 20, seed: 1}}\n"
    return charme.loads(text)


def run_one(net, t_grid, max_steps=10**7, index=0, seed=1):
    compiled, x0 = compile_network(net)
    state = np.empty(4, np.uint64)
    seed_stream(root_key(seed), index, state)
    out = np.full((len(t_grid), len(x0)), -99, np.int64)
    x = np.empty(len(x0), np.int64)
    a = np.empty(net.n_reactions)
    stack = np.empty(max(compiled.stack_size, 1))
    status, steps = ssa_direct(
        compiled, x0, np.asarray(t_grid, float), max_steps, state, out, x, a, stack
    )
    return status, steps, out


@pytest.mark.parametrize(
    "eq, expected",
    [
        ("0 -> A", 2.0),
        ("A -> 0", 2.0 * 5),
        ("A + B -> 0", 2.0 * 5 * 3),
        ("2 A -> 0", 2.0 * 5 * 4 / 2),
        ("3 A -> 0", 2.0 * 5 * 4 * 3 / 6),
        ("2 A + B -> 0", 2.0 * 10 * 3),
        ("6 A -> 0", 0.0),  # fewer molecules than the order
    ],
)
def test_mass_action_propensities_are_combinatorial(eq, expected):
    net = network([f'{{eq: "{eq}", rate: k}}'])
    compiled, x0 = compile_network(net)
    assert propensity(compiled, 0, x0, np.zeros(1)) == pytest.approx(expected)


def test_rate_law_propensity():
    net = network(['{eq: "0 -> A", propensity: "k*B^2/(1+A)"}'])
    compiled, x0 = compile_network(net)
    assert propensity(compiled, 0, x0, np.zeros(compiled.stack_size)) == pytest.approx(2 * 9 / 6)


def test_dependency_graph():
    net = network(
        ['{eq: "A -> B", rate: k}', '{eq: "B -> 0", rate: k}', '{eq: "0 -> A", propensity: "k*B"}']
    )
    c, _ = compile_network(net)
    deps = [sorted(c.dep_idx[c.dep_ptr[j] : c.dep_ptr[j + 1]]) for j in range(3)]
    assert deps == [[0, 1, 2], [1, 2], [0]]


def test_streams_are_reproducible_and_distinct():
    root = root_key(42)
    draws = []
    for index in (0, 1, 0):
        st = np.empty(4, np.uint64)
        seed_stream(root, index, st)
        draws.append([next_uniform(st) for _ in range(5)])
    assert draws[0] == draws[2]
    assert draws[0] != draws[1]
    st = np.empty(4, np.uint64)
    seed_stream(root, 3, st)
    u = np.array([next_uniform(st) for _ in range(100000)])
    assert u.min() > 0 and u.max() <= 1
    assert abs(u.mean() - 0.5) < 0.005


def test_path_does_not_depend_on_output_grid():
    net = network(['{eq: "0 -> A", rate: 3}', '{eq: "A -> 0", rate: 0.2}'])
    coarse = np.linspace(0, 10, 6)
    fine = np.linspace(0, 10, 101)
    _, n1, out_c = run_one(net, coarse)
    _, n2, out_f = run_one(net, fine)
    assert n1 == n2
    np.testing.assert_array_equal(out_c, out_f[::20])
    assert out_f[0, 0] == 5  # t = 0 is the initial state


def test_absorbing_state_fills_the_rest():
    net = network(['{eq: "A -> 0", rate: 100}'], species="{A: 3}")
    status, steps, out = run_one(net, np.linspace(0, 10, 11))
    assert status == STATUS_OK and steps == 3
    assert (out[1:, 0] == 0).all()


@pytest.mark.parametrize(
    "reaction, expected",
    [
        ('{eq: "A -> 0", propensity: "k"}', STATUS_NEGATIVE_COUNT),
        ('{eq: "A -> 0", propensity: "A - 7"}', STATUS_NEGATIVE_PROPENSITY),
        ('{eq: "A -> 0", propensity: "sqrt(A - 7)"}', STATUS_INVALID_PROPENSITY),
        ('{eq: "0 -> A", propensity: "1/(A-5)"}', STATUS_INVALID_PROPENSITY),
    ],
)
def test_bad_propensities_stop_with_a_status(reaction, expected):
    status, _, _ = run_one(network([reaction]), np.linspace(0, 100, 3))
    assert status == expected


def test_step_budget():
    net = network(['{eq: "0 -> A", rate: 1000}'])
    status, steps, _ = run_one(net, np.linspace(0, 100, 3), max_steps=500)
    assert status == STATUS_STEP_LIMIT and steps == 500


def test_driver_reports_failures_clearly():
    net = network(['{eq: "0 -> A", rate: 1000}'])
    with pytest.raises(SolverError, match="step budget"):
        charme.simulate(net, max_steps=100, threads=1)
    net = network(['{eq: "A -> 0", propensity: "k"}'])
    with pytest.raises(SolverError, match="negative"):
        charme.simulate(net, threads=1)


def test_driver_settings_errors():
    net = network(['{eq: "0 -> A", rate: 1}'])
    for bad in (
        dict(t_end=0.0),
        dict(t_end=float("nan")),
        dict(points=1),
        dict(runs=0),
        dict(seed=-1),
    ):
        with pytest.raises(SpecError):
            charme.simulate(net, **bad)


@pytest.mark.parametrize("runs", [1, 37, 300])
def test_same_bits_for_any_thread_count(runs):
    net = charme.loads(
        "species: {A: 0, B: 10}\nparameters: {v: 50, K: 20, n: 2}\nreactions:\n"
        '  - {eq: "A + B -> B", rate: 0.1}\n  - {eq: "0 -> A", propensity: "v*K^n/(K^n + B^n)"}\n'
        '  - {eq: "2 A -> 0", rate: 0.01}\n  - {eq: "0 -> B", rate: 1}\n  - {eq: "B -> 0", rate: 0.1}\n'
    )
    results = [
        charme.simulate(
            net, t_end=20, points=21, runs=runs, seed=9, threads=t, save_trajectories=True
        )
        for t in (1, 2, 3)
    ]
    for r in results[1:]:
        for name in ("mean", "sd", "trajectories"):
            assert np.array_equal(r[name], results[0][name], equal_nan=True)
        assert r.attrs["total_events"] == results[0].attrs["total_events"]
    other = charme.simulate(net, t_end=20, points=21, runs=runs, seed=10, threads=2)
    assert not np.array_equal(other["mean"], results[0]["mean"])


def test_ctrl_c_while_blocks_are_handed_out_stops_the_running_ones(monkeypatch):
    """A Ctrl-C that landed while an ensemble's blocks were being handed to the threads
    (not while waiting for them) left the blocks already running without the stop flag:
    the process then waited for all their runs (in CI, a run of hours)."""
    import time
    from concurrent.futures import ThreadPoolExecutor

    import charme.solvers.gillespie.driver as D

    class Interrupting(ThreadPoolExecutor):
        calls = 0

        def submit(self, *args, **kw):
            Interrupting.calls += 1
            if Interrupting.calls == 3:
                raise KeyboardInterrupt
            return super().submit(*args, **kw)

    monkeypatch.setattr(D, "ThreadPoolExecutor", Interrupting)
    net = charme.loads("species: {A: 0}\nreactions:\n  - {eq: 0 -> A, rate: 1000}\n"
                       "  - {eq: A -> 0, rate: 1}\n", fmt="yaml")  # fmt: skip
    charme.simulate(net, runs=2, t_end=1.0, threads=1, seed=1)  # (compiled before the clock)
    Interrupting.calls = 0  # (the warm-up's submits do not count)
    t0 = time.perf_counter()
    with pytest.raises(KeyboardInterrupt) as info:  # (~2e6 events a run: minutes in all)
        charme.simulate(net, runs=20000, t_end=2000, threads=2, seed=1)
    assert time.perf_counter() - t0 < 30
    partial = info.value.partial_result
    assert partial.attrs["complete"] == 0 and partial.attrs["runs_completed"] < 20000
