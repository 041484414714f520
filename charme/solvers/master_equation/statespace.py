"""The projection: bounds, conservation laws, reachable states, generator."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from charme.errors import SolverError, SpecError
from charme.models.network import ReactionNetwork
from charme.solvers.gillespie.compile import compile_network
from charme.solvers.master_equation import kernels as K
from charme.solvers.master_equation.integrators import Generator

#: Bytes of memory per state, for the default --max-states (states, generator, Krylov basis).
BYTES_PER_STATE_BASE = 8 * 40


def conservation_laws(network: ReactionNetwork) -> list[dict[str, int]]:
    """Integer vectors c with c . nu_j = 0 for every reaction (left null space).

    Exact: Gaussian elimination over the rationals on the integer
    stoichiometry matrix, each basis vector scaled to coprime integers.
    """
    from fractions import Fraction
    from math import gcd, lcm

    s, m = network.n_species, network.n_reactions
    # rows: reactions; we want vectors c (length s) with N^T c = 0
    rows = [[Fraction(0)] * s for _ in range(m)]
    for j in range(m):
        for sp, d in network.change(j).items():
            rows[j][network.species.index(sp)] = Fraction(d)
    pivots = []
    r = 0
    for col in range(s):
        pivot = next((i for i in range(r, m) if rows[i][col] != 0), None)
        if pivot is None:
            continue
        rows[r], rows[pivot] = rows[pivot], rows[r]
        pv = rows[r][col]
        rows[r] = [v / pv for v in rows[r]]
        for i in range(m):
            if i != r and rows[i][col] != 0:
                f = rows[i][col]
                rows[i] = [a - f * b for a, b in zip(rows[i], rows[r])]
        pivots.append(col)
        r += 1
    free = [c for c in range(s) if c not in pivots]
    laws = []
    for fcol in free:
        vec = [Fraction(0)] * s
        vec[fcol] = Fraction(1)
        for i, pcol in enumerate(pivots):
            vec[pcol] = -rows[i][fcol]
        den = lcm(*(v.denominator for v in vec))
        ints = [int(v * den) for v in vec]
        g = 0
        for v in ints:
            g = gcd(g, abs(v))
        ints = [v // g for v in ints]
        if sum(1 for v in ints if v < 0) > sum(1 for v in ints if v > 0):
            ints = [-v for v in ints]
        laws.append({sp: c for sp, c in zip(network.species, ints) if c})
    return laws


def default_max_states(n_reactions: int) -> int:
    """States that fit in half the available memory."""
    from charme.solvers.gillespie.driver import available_memory

    per_state = BYTES_PER_STATE_BASE + 28 * (n_reactions + 1)
    return max(1000, int(0.5 * available_memory() / per_state))


def parse_bounds(items, species) -> dict[str, tuple[int, int]]:
    """``["A=0:200"]`` -> ``{"A": (0, 200)}``."""
    out = {}
    for item in items or ():
        name, sep, rng = item.partition("=")
        lo, sep2, hi = rng.partition(":")
        name = name.strip()
        if not sep or not sep2:
            raise SpecError(f"--bounds expects NAME=LO:HI, got {item!r}")
        if name not in species:
            raise SpecError(f"--bounds: unknown species {name!r} (known: {', '.join(species)})")
        try:
            lo_i, hi_i = int(lo), int(hi)
        except ValueError:
            raise SpecError(f"--bounds: {item!r} needs integer LO and HI") from None
        if lo_i < 0 or hi_i < lo_i:
            raise SpecError(f"--bounds: need 0 <= LO <= HI, got {item!r}")
        out[name] = (lo_i, hi_i)
    return out


@dataclass
class Projection:
    """States of a finite state projection and its generator."""

    states: np.ndarray  # int64[n, S]
    lo: np.ndarray
    hi: np.ndarray
    generator: Generator
    leak: np.ndarray  # per reaction, transitions leaving the box


def project(network, lo, hi, max_states, reflect=False) -> Projection:
    """Enumerate the reachable states in the box [lo, hi] and assemble the generator."""
    compiled, x0 = compile_network(network)
    if np.any(x0 < lo) or np.any(x0 > hi):
        bad = [s for s, x, a, b in zip(network.species, x0, lo, hi) if not a <= x <= b]
        raise SpecError(f"the bounds exclude the initial state (species {', '.join(bad)})")
    if len(network.events):
        raise SpecError("the master equation solver does not support events")
    # the box's key must fit in int64
    if sum(math.log2(float(h - a + 1)) for a, h in zip(lo, hi)) > 62:
        raise SpecError("the bounding box is too large to index; give tighter --bounds")
    cap = int(max_states) + 1
    states = np.empty((cap, len(x0)), np.int64)
    leak = np.zeros(network.n_reactions, np.int64)
    level = np.empty(cap, np.int64)
    status, n = K.enumerate_states(compiled, x0, lo, hi, cap, states, leak, level)
    if status == K.FSP_INVALID_PROPENSITY:
        raise SolverError("a propensity is negative or NaN in a reachable state")
    if status == K.FSP_TOO_MANY_STATES or n > max_states:
        raise SpecError(
            f"the projection has more than {max_states} states (--max-states); "
            "give tighter --bounds NAME=LO:HI or raise --max-states"
        )
    states = states[:n].copy()
    target = np.empty((n, network.n_reactions), np.int64)
    rate = np.empty((n, network.n_reactions))
    if K.transitions(compiled, states, lo, hi, target, rate) != K.FSP_OK:
        raise SolverError("a propensity is negative or NaN in a reachable state")
    nnz_max = n + int((target >= 0).sum())
    indptr = np.empty(n + 1, np.int64)
    index_dtype = np.int32 if n < 2**31 - 1 else np.int64
    indices = np.empty(nnz_max, index_dtype)
    data = np.empty(nnz_max)
    outflow = np.empty(n)
    nnz = K.assemble_csr(target, rate, reflect, indptr, indices, data, outflow)
    gen = Generator(indptr, indices[:nnz], data[:nnz], outflow, level=level[:n].copy())
    return Projection(states, lo.copy(), hi.copy(), gen, leak)


def initial_box(network, bounds: dict, laws) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Starting box, and which species' upper bounds may grow."""
    x0 = np.array(network.initial, np.int64)
    s = len(x0)
    lo = np.zeros(s, np.int64)
    hi = np.maximum(2 * x0, x0 + 20).astype(np.int64)
    grow = np.ones(s, bool)
    # a conservation law with non-negative coefficients caps each of its species
    for law in laws:
        coeffs = np.array([law.get(sp, 0) for sp in network.species], float)
        if (coeffs >= 0).all():
            total = float(coeffs @ x0)
            for i in np.flatnonzero(coeffs > 0):
                hi[i] = (
                    min(hi[i], int(total // coeffs[i])) if not grow[i] else int(total // coeffs[i])
                )
                grow[i] = False
    for name, (a, b) in bounds.items():
        i = network.species.index(name)
        lo[i], hi[i] = a, b
        grow[i] = False
    return lo, hi, grow
