"""The public ``@njit`` kernels, for use inside your own Numba code.

Contract: plain arrays and scalars in, caller-owned ``out`` arrays filled, an
integer status returned (``STATUS_OK == 0``).  Build the arrays of a model
with :func:`compile_network`; give each trajectory its own random stream with
:func:`seed_stream` from :func:`root_key`.  See ``examples/embed_kernel.py``.
"""

from charme.solvers.gillespie.compile import compile_network
from charme.solvers.gillespie.kernels import (
    STATUS_INVALID_PROPENSITY,
    STATUS_MESSAGES,
    STATUS_NEGATIVE_COUNT,
    STATUS_NEGATIVE_PROPENSITY,
    STATUS_NOT_RUN,
    STATUS_OK,
    STATUS_STEP_LIMIT,
    SSANetwork,
    eval_program,
    mass_action_propensity,
    propensity,
    ssa_direct,
    ssa_direct_ensemble,
)
from charme.solvers.gillespie.rng import next_u64, next_uniform, root_key, seed_stream

__all__ = [
    "STATUS_INVALID_PROPENSITY",
    "STATUS_MESSAGES",
    "STATUS_NEGATIVE_COUNT",
    "STATUS_NEGATIVE_PROPENSITY",
    "STATUS_NOT_RUN",
    "STATUS_OK",
    "STATUS_STEP_LIMIT",
    "SSANetwork",
    "compile_network",
    "eval_program",
    "mass_action_propensity",
    "next_u64",
    "next_uniform",
    "propensity",
    "root_key",
    "seed_stream",
    "ssa_direct",
    "ssa_direct_ensemble",
]
