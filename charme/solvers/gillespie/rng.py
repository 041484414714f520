"""Counter-seeded xoshiro256** random streams for Numba kernels.

Each trajectory owns a 4-word state derived from ``(root, run index)`` by
SplitMix64 (the seeding its authors recommend), so a run's random numbers
depend only on the ensemble seed and the run's index: never on threads,
chunking or workers.  Reference: D. Blackman and S. Vigna, "Scrambled linear
pseudorandom number generators", ACM TOMS 47 (2021).
"""

from __future__ import annotations

import numpy as np
from numba import njit, uint64

_GOLDEN = uint64(0x9E3779B97F4A7C15)
_M1 = uint64(0xBF58476D1CE4E5B9)
_M2 = uint64(0x94D049BB133111EB)


@njit(cache=True, inline="always")
def _rotl(x, k):
    return (x << uint64(k)) | (x >> uint64(64 - k))


@njit(cache=True, inline="always")
def splitmix64(z):
    """One SplitMix64 output for the counter value ``z`` (a uint64)."""
    z = z + _GOLDEN
    z = (z ^ (z >> uint64(30))) * _M1
    z = (z ^ (z >> uint64(27))) * _M2
    return z ^ (z >> uint64(31))


@njit(cache=True)
def seed_stream(root, index, state):
    """Fill ``state`` (uint64[4]) with the stream of trajectory ``index``.

    ``root`` is a uint64[4] key (from :func:`root_key`); distinct indices give
    unrelated, well-mixed starting points in xoshiro256**'s 2^256 cycle.
    """
    z = splitmix64(root[0] ^ splitmix64(uint64(index) ^ root[1]))
    for i in range(4):
        z = splitmix64(z ^ root[(i + 2) % 4])
        state[i] = z
    if state[0] == 0 and state[1] == 0 and state[2] == 0 and state[3] == 0:
        state[0] = _GOLDEN


@njit(cache=True, inline="always")
def next_u64(state):
    """Next 64 random bits of the xoshiro256** stream ``state`` (updated in place)."""
    s0 = state[0]
    s1 = state[1]
    s2 = state[2]
    s3 = state[3]
    result = _rotl(s1 * uint64(5), 7) * uint64(9)
    t = s1 << uint64(17)
    s2 ^= s0
    s3 ^= s1
    s1 ^= s2
    s0 ^= s3
    s2 ^= t
    s3 = _rotl(s3, 45)
    state[0] = s0
    state[1] = s1
    state[2] = s2
    state[3] = s3
    return result


@njit(cache=True, inline="always")
def next_uniform(state):
    """A double uniform on (0, 1]: never 0, so ``-log(u)`` is finite."""
    return (float(next_u64(state) >> uint64(11)) + 1.0) * (1.0 / 9007199254740992.0)


def root_key(seed: int) -> np.ndarray:
    """The 256-bit root key of an ensemble seed (via numpy's SeedSequence)."""
    return np.random.SeedSequence(int(seed)).generate_state(4, np.uint64)
