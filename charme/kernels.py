"""The public ``@njit`` kernels, for use inside your own Numba code.

Contract: plain arrays and scalars in, caller-owned output arrays filled, and
where a kernel can fail an integer status (``0`` is success in every family:
``STATUS_OK``, ``FSP_OK``, ``RAY_OK``).  The kernels allocate only small work
arrays of their own and keep no global state.  ``docs/kernels.md`` is the
reference (arguments, shapes, statuses, threads); each function's docstring
gives its arguments too.

Stochastic simulation (Gillespie)
    Build the arrays of a network with :func:`compile_network`; give each
    trajectory its own random stream with :func:`seed_stream` from
    :func:`root_key`; simulate with :func:`ssa_direct` (one trajectory) or
    :func:`ssa_direct_ensemble` (a slice of an ensemble, GIL released).
    Statuses ``STATUS_*``.  See ``examples/embed_kernel.py``.

Master equation (finite state projection)
    :func:`enumerate_states` (reachable states in a box), :func:`transitions`
    (propensity and destination of every state and reaction) and
    :func:`assemble_csr` (the projected generator, CSR by destination row)
    take the same compiled network; :func:`csr_matvec` and
    :func:`uniformized_accumulate` (one term of the uniformization series)
    act on the generator; :func:`marginals` gives means, second moments and
    marginal laws.  Statuses ``FSP_*``.  See ``examples/fsp_likelihood.py``.

Characteristics
    :func:`compile_pde` turns a ``kind: pde`` problem into postfix programs;
    :func:`initial_states` builds ray states from manifold samples;
    :func:`integrate` advances one ray (Dormand-Prince 8(5,3) with its
    variational equations), :func:`trace` many rays in parallel, and
    :func:`gradient` recovers grad u at a ray's end.  Statuses ``RAY_*``.
    See ``examples/trace_characteristics.py``.
"""

import numba

from charme.solvers.characteristics.compile import (
    KERNEL_STACK,
    CompiledPDE,
    compile_pde,
    initial_guesses,
    manifold_normals,
    manifold_samples,
)
from charme.solvers.characteristics.kernels import (
    RAY_BLOW_UP,
    RAY_OK,
    RAY_TOO_MANY_STEPS,
    gradient,
    initial_state,
    initial_states,
    integrate,
    jacobian_dets,
    ray_rhs,
    trace,
    trace_sampled,
)
from charme.solvers.gillespie.compile import compile_network
from charme.solvers.gillespie.kernels import (
    STATUS_EVENT_LOOP,
    STATUS_EVENT_VALUE,
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
from charme.solvers.master_equation.kernels import (
    FSP_INVALID_PROPENSITY,
    FSP_OK,
    FSP_TOO_MANY_STATES,
    assemble_csr,
    csr_matvec,
    csr_matvec_serial,
    enumerate_states,
    marginals,
    transitions,
    uniformized_accumulate,
    uniformized_accumulate_serial,
)

# Your @njit code may call the parallel kernels here.  Numba loads such a caller from its
# on-disk cache without starting its thread pool, and the call then crashes (a
# segmentation fault, Numba 0.5x-0.6x); asking for the thread count starts the pool.
numba.get_num_threads()

__all__ = [
    # stochastic simulation
    "STATUS_EVENT_LOOP",
    "STATUS_EVENT_VALUE",
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
    # master equation
    "FSP_INVALID_PROPENSITY",
    "FSP_OK",
    "FSP_TOO_MANY_STATES",
    "assemble_csr",
    "csr_matvec",
    "csr_matvec_serial",
    "enumerate_states",
    "marginals",
    "transitions",
    "uniformized_accumulate",
    "uniformized_accumulate_serial",
    # characteristics
    "RAY_BLOW_UP",
    "RAY_OK",
    "RAY_TOO_MANY_STEPS",
    "KERNEL_STACK",
    "CompiledPDE",
    "compile_pde",
    "gradient",
    "initial_guesses",
    "initial_state",
    "initial_states",
    "integrate",
    "jacobian_dets",
    "manifold_normals",
    "manifold_samples",
    "ray_rhs",
    "trace",
    "trace_sampled",
]
