"""Every ray through each point of one output level of a 1-D evolution problem.

After characteristics cross, a point can lie on several rays.  The driver
finds them (Newton onto the rays, or the Hermite interpolant between traced
rays) from the pairs of neighbouring rays whose positions bracket the point
(:func:`brackets`), and keeps them in one flat table, :class:`Branches`,
sorted by point and then by the ray's parameter s.  The choices among them
are array operations on that table: :func:`pick` (the first, or the one of
least key) and :func:`handovers` (where the pick jumps from one ray family to
another between neighbouring points: a shock lies there).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

#: two rays through one point are one if their s agree to this (relative)
SAME_S = 1e-9
#: a fan's ray is its edge's data ray if u agrees to this too (relative)
SAME_U = 1e-12


def brackets(pos, S, targets):
    """(target index, seed s, left ray) for every pair of neighbouring rays whose
    positions ``pos`` bracket a target x (the rays through it lie between them);
    the seed is linear interpolation between the two."""
    ok = np.isfinite(pos[:-1]) & np.isfinite(pos[1:])
    k = np.flatnonzero(ok)
    lo = np.minimum(pos[k], pos[k + 1])
    hi = np.maximum(pos[k], pos[k + 1])
    order = np.argsort(targets, kind="stable")
    sorted_t = targets[order]
    first = np.searchsorted(sorted_t, lo, side="left")
    last = np.searchsorted(sorted_t, hi, side="right")
    count = np.maximum(last - first, 0)
    which = np.repeat(np.arange(len(k)), count)
    offset = np.arange(count.sum()) - np.repeat(np.cumsum(count) - count, count)
    qs = order[first[which] + offset]
    kw = k[which]
    with np.errstate(all="ignore"):
        w = np.clip((targets[qs] - pos[kw]) / (pos[kw + 1] - pos[kw]), 0.0, 1.0)
    w = np.where(np.isfinite(w), w, 0.5)
    seeds = S[kw] + w * (S[kw + 1] - S[kw])
    return qs, seeds, kw


class Branches(NamedTuple):
    """The rays through each of ``len(start) - 1`` points, flat.

    Entry j is a ray through point ``q[j]``: its parameter ``s[j]``, the
    value ``u[j]`` and gradient ``g[j]`` it carries there, and ``w[j]``, the
    fan value of a rarefaction fan's ray (NaN for a ray of the data).
    Entries are sorted by point, then by s; point i's are
    ``start[i]:start[i + 1]``.
    """

    q: np.ndarray
    u: np.ndarray
    g: np.ndarray
    s: np.ndarray
    w: np.ndarray
    start: np.ndarray

    @classmethod
    def build(cls, points: int, n: int, parts) -> Branches:
        """The table of ``points`` points from ``parts``, tuples (q, u, g, s, w) of
        arrays; a ray found twice (from two brackets, or a fan's edge that is the
        data's ray) is kept once, the data's copy first."""
        parts = [p for p in parts if len(p[0])]
        if not parts:
            empty = np.empty(0)
            return cls(np.empty(0, np.int64), empty, np.empty((0, n)), empty, empty,
                       np.zeros(points + 1, np.int64))  # fmt: skip
        q, u, g, s, w = (np.concatenate(col) for col in zip(*parts))
        q = q.astype(np.int64)
        order = np.lexsort((~np.isnan(w), s, q))  # by point, s, then the data's copy first
        q, u, g, s, w = q[order], u[order], g[order], s[order], w[order]
        same = (
            (q[1:] == q[:-1])
            & (np.abs(s[1:] - s[:-1]) <= SAME_S * (1.0 + np.abs(s[:-1])))
            & (
                (np.isnan(w[1:]) & np.isnan(w[:-1]))
                | (np.abs(u[1:] - u[:-1]) <= SAME_U * (1.0 + np.abs(u[1:])))
            )
        )
        keep = np.concatenate([[True], ~same])
        q, u, g, s, w = q[keep], u[keep], g[keep], s[keep], w[keep]
        start = np.searchsorted(q, np.arange(points + 1))
        return cls(q, u, g, s, w, start)

    @property
    def counts(self) -> np.ndarray:
        """How many rays pass through each point."""
        return np.diff(self.start)

    def entry(self, j: int) -> tuple:
        """Entry j as (u, grad, s, w)."""
        return float(self.u[j]), self.g[j], float(self.s[j]), float(self.w[j])

    def at(self, i: int) -> list[tuple]:
        """Point i's rays as (u, grad, s, w), by s."""
        return [self.entry(j) for j in range(self.start[i], self.start[i + 1])]


def _first_per_point(q, key, start):
    """Per point, the index of its entry of least ``key`` (ties: the earlier entry),
    or -1 for a point without entries; ``q`` sorted, ``start`` its offsets."""
    order = np.lexsort((key, q))  # stable: by point, then key, then position
    out = np.full(len(start) - 1, -1, np.int64)
    has = np.diff(start) > 0
    out[has] = order[start[:-1][has]]
    return out


def pick(table: Branches, key=None) -> np.ndarray:
    """Per point, the entry of least ``key`` (None: the first, the least s); -1 if the
    point lies on no ray."""
    if key is None:
        out = np.full(len(table.start) - 1, -1, np.int64)
        has = table.counts > 0
        out[has] = table.start[:-1][has]
        return out
    return _first_per_point(table.q, np.asarray(key, float), table.start)


def handovers(table: Branches, picks: np.ndarray) -> np.ndarray:
    """Points i (and i + 1) where the ray picked at i + 1 is not the one continuing
    the ray picked at i (the ray through i + 1 nearest it in s): the picked
    branch jumps between them."""
    before = np.concatenate([[-1], picks[:-1]])  # each point's left neighbour's pick
    prior = before[table.q]
    sel = np.flatnonzero(prior >= 0)
    if not sel.size:
        return np.empty(0, np.int64)
    dist = np.abs(table.s[sel] - table.s[prior[sel]])
    start = np.searchsorted(table.q[sel], np.arange(len(picks) + 1))
    cont = _first_per_point(table.q[sel], dist, start)
    cont = np.where(cont >= 0, sel[np.maximum(cont, 0)], -1)
    i = np.flatnonzero((picks[:-1] >= 0) & (picks[1:] >= 0) & (cont[1:] != picks[1:]))
    return i


def across_folds(table: Branches, picks: np.ndarray, S: np.ndarray, folded) -> np.ndarray:
    """Points i (and i + 1) whose picked rays lie, in s, on either side of traced rays
    that have folded over (``folded[r]``: ray r of the data's sorted parameters ``S``):
    the picked branch jumps across a fold between them, a shock, also where the fold's
    x-range holds no grid point (a young shock, narrower than the grid's spacing)."""
    i = np.flatnonzero((picks[:-1] >= 0) & (picks[1:] >= 0))
    sa, sb = table.s[picks[i]], table.s[picks[i + 1]]
    count = np.concatenate([[0], np.cumsum(folded)])
    inside = (count[np.searchsorted(S, np.maximum(sa, sb), "left")]
              - count[np.searchsorted(S, np.minimum(sa, sb), "right")])  # fmt: skip
    return i[inside > 0]


def across_jumps(table: Branches, picks: np.ndarray, jumps) -> np.ndarray:
    """Points i (and i + 1) whose picked rays lie, in s, on either side of one of the
    ``jumps`` (the data's parameters at jumps whose rays converge, crossing at once): a
    shock born at the jump lies between them.  No ray of the data starts at the jump, so
    neither ray is the other's continuation (:func:`handovers`) and none has folded
    (:func:`across_folds`)."""
    jumps = np.asarray(jumps, float)
    i = np.flatnonzero((picks[:-1] >= 0) & (picks[1:] >= 0))
    if not jumps.size or not i.size:
        return np.empty(0, np.int64)
    sa, sb = table.s[picks[i]], table.s[picks[i + 1]]
    lo, hi = np.minimum(sa, sb)[:, None], np.maximum(sa, sb)[:, None]
    return i[((jumps[None, :] > lo) & (jumps[None, :] < hi)).any(axis=1)]
