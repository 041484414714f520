"""The 1-D branch table (every ray through each point of a level) and Newton's seeds."""

import numpy as np

from charme.solvers.characteristics import branches as BR
from charme.solvers.characteristics import kernels as K


def _part(q, u, s, w=None, n=2):
    q = np.asarray(q, np.int64)
    u = np.asarray(u, float)
    g = np.column_stack([u, -u]).reshape(-1, n)
    w = np.full(len(q), np.nan) if w is None else np.asarray(w, float)
    return q, u, g, np.asarray(s, float), w


def test_build_sorts_by_point_then_s_and_drops_a_ray_found_twice():
    # point 1 is reached by three rays, one of them found from two brackets
    data = _part([1, 0, 1, 1, 1], [3.0, 1.0, 2.0, 2.0 + 1e-15, 4.0], [0.5, 0.1, 0.2, 0.2, 0.9])
    tb = BR.Branches.build(3, 2, [data])
    assert tb.start.tolist() == [0, 1, 4, 4]
    assert tb.counts.tolist() == [1, 3, 0]
    assert tb.q.tolist() == [0, 1, 1, 1]
    assert tb.s.tolist() == [0.1, 0.2, 0.5, 0.9]
    assert [b[0] for b in tb.at(1)] == [2.0, 3.0, 4.0]
    assert tb.at(2) == []


def test_a_fan_ray_on_a_data_ray_is_kept_once_the_data_copy_first():
    data = _part([0], [1.0], [0.3])
    fan = _part([0, 0], [1.0, 0.7], [0.3, 0.3], w=[1.0, 0.7])  # its edge, and an inner ray
    tb = BR.Branches.build(1, 2, [fan, data])
    assert tb.counts.tolist() == [2]
    assert np.isnan(tb.w[0]) and tb.u[0] == 1.0  # the data's copy of the edge
    assert tb.w[1] == 0.7


def test_build_of_nothing_is_an_empty_table():
    tb = BR.Branches.build(4, 2, [_part([], [], [])])
    assert tb.counts.tolist() == [0, 0, 0, 0]
    assert BR.pick(tb).tolist() == [-1, -1, -1, -1]
    assert BR.handovers(tb, BR.pick(tb)).size == 0


def test_pick_first_or_least_key_per_point():
    tb = BR.Branches.build(3, 2, [_part([0, 0, 2, 2, 2], [5, 4, 9, 7, 8], [0, 1, 2, 3, 4])])
    assert BR.pick(tb).tolist() == [0, -1, 2]  # the least s
    assert BR.pick(tb, tb.u).tolist() == [1, -1, 3]  # the least u
    assert BR.pick(tb, -tb.u).tolist() == [0, -1, 2]  # the largest u


def test_handovers_find_where_the_picked_family_jumps():
    # two families of rays (s near 0 and s near 10) overlap at points 1..3; the pick
    # follows family A up to point 2 and family B from point 3: one handover, 2 -> 3
    q = [0, 1, 1, 2, 2, 3, 3, 4]
    s = [0.0, 0.1, 10.1, 0.2, 10.2, 0.3, 10.3, 10.4]
    u = [1.0, 1.0, 2.0, 1.0, 2.0, 1.0, 2.0, 2.0]
    tb = BR.Branches.build(5, 2, [_part(q, u, s)])
    key = np.where(np.asarray(tb.q) <= 2, np.asarray(tb.s), -np.asarray(tb.s))
    picks = BR.pick(tb, key)
    assert tb.s[picks].tolist() == [0.0, 0.1, 0.2, 10.3, 10.4]
    assert BR.handovers(tb, picks).tolist() == [2]
    # picking family A while it lasts: where it ends (point 4 has only B) the one ray
    # left continues it, so that is not a handover
    picks = BR.pick(tb)
    assert BR.handovers(tb, picks).tolist() == []


def test_brackets_list_every_pair_around_each_target():
    pos = np.array([0.0, 1.0, 2.0, 1.5, 3.0])  # folds back between rays 2 and 3
    S = np.arange(5.0)
    qs, seeds, left = BR.brackets(pos, S, np.array([0.5, 1.75, 2.5]))
    pairs = sorted(zip(qs.tolist(), left.tolist()))
    assert pairs == [(0, 0), (1, 1), (1, 2), (1, 3), (2, 3)]
    for k, sd in zip(left, seeds):
        assert S[k] <= sd <= S[k + 1]


def test_hermite_seeds_are_close_to_the_ray_through_the_point():
    # x(s) = s + t sin s at t = 0.9 (Burgers from sin x), 101 rays on [-pi, 3 pi]
    t = 0.9
    S = np.linspace(-np.pi, 3 * np.pi, 101)
    X, XS = S + t * np.sin(S), 1 + t * np.cos(S)
    s_true = np.linspace(0.05, 6.2, 300)
    xt = s_true + t * np.sin(s_true)
    qs, lin, left = BR.brackets(X, S, xt)
    qs, first = np.unique(qs, return_index=True)
    seeds = lin[first].copy()
    K.hermite_seeds(S, X, XS, left[first], xt[qs].copy(), seeds)
    assert np.abs(lin[first] - s_true[qs]).max() > 1e-4  # linear seeds are rough
    assert np.abs(seeds - s_true[qs]).max() < 1e-9  # degree 7: close to rounding
    # a ray whose data are not finite: the bracket's own cubic, still in the bracket
    X2 = X.copy()
    X2[left[first][10] - 1] = np.nan
    seeds2 = lin[first].copy()
    K.hermite_seeds(S, X2, XS, left[first], xt[qs].copy(), seeds2)
    assert np.abs(seeds2[10] - s_true[qs][10]) < 1e-4


def test_seed_curvatures_are_the_derivative_of_z_s_at_the_seeds():
    t = 1.5
    S = np.linspace(-np.pi, 3 * np.pi, 101)
    ZS = np.column_stack([np.zeros_like(S), 1 + t * np.cos(S), np.cos(S)])  # t_s, x_s, u_s
    seeds = np.array([-3.1, 0.3, 2.0, 9.4])
    left = np.searchsorted(S, seeds) - 1
    out = np.empty((len(seeds), 3))
    K.seed_curvatures(S, ZS, left, seeds, out)
    assert np.abs(out[:, 0]).max() == 0.0
    assert np.abs(out[:, 1] + t * np.sin(seeds)).max() < 1e-3  # O(h^3), h = 0.126
    assert np.abs(out[:, 2] + np.sin(seeds)).max() < 1e-3
    ZS[left[1] + 2, 1] = np.nan  # a ray of the four not finite: no estimate
    K.seed_curvatures(S, ZS, left, seeds, out)
    assert np.isnan(out[1, 1]) and np.isfinite(out[2, 1])


def test_spread_seeds_takes_rays_apart_on_the_data_nearest_first():
    """Seeds for the branches in n-D: nearest first, skipping rays within `apart`
    spacings (in every parameter) of one taken; -1 after the last; -1 in `near` skipped."""
    S = np.array([[0.0, 0.0], [0.1, 0.0], [0.5, 0.0], [0.0, 0.5], [0.45, 0.1], [2.0, 2.0]])
    near = np.array([[0, 1, 2, 3, 4, 5], [5, -1, 4, 2, 1, 0]])
    out = np.empty((2, 3), np.int64)
    K.spread_seeds(near, S, np.array([0.1, 0.1]), 3.0, out)
    # point 0: ray 1 is 1 spacing from ray 0; ray 2 is 5 apart in s_0; ray 3 is 5 apart
    # in s_1; ray 4 is within 3 of ray 2 in both: the three taken are 0, 2, 3
    assert out[0].tolist() == [0, 2, 3]
    # point 1: ray 5, then 4 (2 is within 3 spacings of 4 in both), then 1; 0 never reached
    assert out[1].tolist() == [5, 4, 1]
    few = np.empty((1, 4), np.int64)
    K.spread_seeds(np.array([[0, 1]]), S, np.array([0.1, 0.1]), 3.0, few)
    assert few[0].tolist() == [0, -1, -1, -1]


def test_distinct_rays_keeps_each_point_s_first_copy_of_a_converged_ray():
    owner = np.array([0, 0, 0, 0, 1, 1])
    s = np.array([[1.0], [1.0 + 1e-9], [2.0], [2.0], [1.0], [1.0]])
    ok = np.array([True, True, False, True, True, True])
    keep = np.empty(6, np.bool_)
    K.distinct_rays(owner, s, ok, np.array([0.01]), 1e-6, keep)
    # ray 1 is ray 0 again (1e-7 spacings apart), ray 2 did not converge, so ray 3 is
    # the first at s = 2; point 1 starts afresh and keeps its first copy of s = 1
    assert keep.tolist() == [True, False, False, True, True, False]


def test_spread_seeds_on_samples_takes_rays_apart_or_traced_the_other_way():
    """The seeds on ray samples (no evolution variable): each sample's (ray, way) as its
    parameters; a spacing of 1/4 for the way makes the two ways always apart."""
    ways = np.array([[10, 1], [11, 1], [12, 1], [20, 1], [10, 0], [13, 1]], float)
    out = np.empty((1, 4), np.int64)
    K.spread_seeds(np.array([[0, 1, 2, 3, 4, 5]]), ways, np.array([1.0, 0.25]), 2.0, out)
    # 11 and 12 are within 2 rays of 10; 20 is not; 10 backwards is the other direction;
    # 13 is 3 rays from 10 forward
    assert out[0].tolist() == [0, 3, 4, 5]


def test_distinct_states_keeps_one_copy_of_each_state_per_point():
    owner = np.array([0, 0, 0, 1])
    u = np.array([1.0, 1.0 + 1e-12, 1.0, 1.0])
    g = np.array([[1.0, 0.0], [1.0, 1e-9], [-1.0, 0.0], [1.0, 0.0]])
    keep = np.empty(4, np.bool_)
    K.distinct_states(owner, u, g, keep)
    # solution 1 repeats solution 0 within rounding; 2 has the same u, another gradient
    assert keep.tolist() == [True, False, True, True]
