"""Gillespie direct method: public Numba kernels.

These functions are a stable API for users' own ``@njit`` code.  They take
plain arrays (bundled in :class:`SSANetwork`, a NamedTuple built by
:func:`charme.solvers.gillespie.compile.compile_network`), fill caller-owned
output arrays and return an integer status (see ``STATUS_*``).

Algorithm: D. T. Gillespie, "Exact stochastic simulation of coupled chemical
reactions", J. Phys. Chem. 81 (1977) 2340 (the direct method), with a
reaction dependency graph (M. A. Gibson and J. Bruck, J. Phys. Chem. A 104
(2000) 1876) so that after a firing only the propensities it can change are
recomputed.  Mass-action propensities come from arrays; other rate laws are
compact postfix programs run by :func:`eval_program` (no generated code, so a
new model never triggers a compile).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from numba import njit

from charme.solvers.gillespie.rng import next_uniform, seed_stream

# -- statuses ---------------------------------------------------------------
STATUS_OK = 0
STATUS_STEP_LIMIT = 1
STATUS_NEGATIVE_PROPENSITY = 2
STATUS_INVALID_PROPENSITY = 3  # NaN or infinite
STATUS_NEGATIVE_COUNT = 4
STATUS_NOT_RUN = 5  # an ensemble member skipped because a stop was requested
STATUS_EVENT_VALUE = 6  # an event assigned a non-integer, negative or NaN count
STATUS_EVENT_LOOP = 7  # events kept triggering each other at one instant

STATUS_MESSAGES = {
    STATUS_OK: "ok",
    STATUS_STEP_LIMIT: "step budget exceeded (raise --max-steps, or shorten t_end)",
    STATUS_NEGATIVE_PROPENSITY: "a propensity became negative",
    STATUS_INVALID_PROPENSITY: "a propensity became NaN or infinite",
    STATUS_NEGATIVE_COUNT: "a species count became negative (a propensity is non-zero "
    "when its reactants are absent)",
    STATUS_NOT_RUN: "not run (interrupted)",
    STATUS_EVENT_VALUE: "an event assigned a count that is not a non-negative integer",
    STATUS_EVENT_LOOP: f"events kept triggering each other at one instant (> {100} rounds)",
}

# -- postfix opcodes ----------------------------------------------------------
OP_CONST = 0  # push consts[arg]
OP_VAR = 1  # push float(x[arg])
OP_ADD = 2
OP_SUB = 3
OP_MUL = 4
OP_DIV = 5
OP_POW = 6
OP_NEG = 7
OP_MIN = 8
OP_MAX = 9
OP_FUNC = 10  # apply unary function number arg (see FUNC_CODES)
OP_LT = 11
OP_LE = 12
OP_GT = 13
OP_GE = 14
OP_EQ = 15
OP_NE = 16
OP_AND = 17
OP_OR = 18
OP_NOT = 19
OP_SELECT = 20  # (cond, a, b) -> a if cond != 0 else b
OP_TIME = 21  # push the current time

#: Rounds of events triggering events at one instant before giving up.
MAX_EVENT_ROUNDS = 100

FUNC_CODES = {
    "exp": 0, "log": 1, "log10": 2, "log2": 3, "sqrt": 4, "abs": 5, "sin": 6, "cos": 7,
    "tan": 8, "asin": 9, "acos": 10, "atan": 11, "sinh": 12, "cosh": 13, "tanh": 14,
    "floor": 15, "ceil": 16,
}  # fmt: skip


class SSANetwork(NamedTuple):
    """A reaction network as arrays (M reactions, S species).

    Attributes
    ----------
    kind : int64[M]
        0 mass action (``rate_const`` times combinatorial product of
        ``reactant_*``), 1 postfix program ``prog_ptr[j]:prog_ptr[j+1]``.
    rate_const : float64[M]
        Stochastic rate constants c_j divided by prod_i nu_ij! (mass action),
        so that the propensity is ``rate_const[j] * prod_i x_i (x_i-1)...``.
    reactant_ptr, reactant_species, reactant_order : int64
        CSR lists of reactant species and their stoichiometric order.
    change_ptr, change_species, change_delta : int64
        CSR lists of the net state change of each reaction.
    dep_ptr, dep_idx : int64
        CSR dependency graph: reactions whose propensity must be recomputed
        after reaction j fires.
    prog_ptr : int64[M+1]; code : int64[L, 2]; consts : float64[C]
        Postfix programs (``code[i] = (opcode, argument)``).
    stack_size : int
        Stack depth that suffices for every program.
    ev_initial : int64[E]
        Trigger value assumed just before the start (SBML ``initialValue``).
    ev_trigger : int64[E, 2]
        (start, stop) of each event's trigger program in ``code``.
    ev_assign_ptr : int64[E+1]; ev_assign_target : int64[A]; ev_assign_code : int64[A, 2]
        CSR list of each event's assignments: species index and the
        (start, stop) of its value program.
    time_points : float64[T]
        Sorted times at which a trigger's time condition can change; the
        simulation stops at each of them to evaluate triggers exactly.
    """

    kind: np.ndarray
    rate_const: np.ndarray
    reactant_ptr: np.ndarray
    reactant_species: np.ndarray
    reactant_order: np.ndarray
    change_ptr: np.ndarray
    change_species: np.ndarray
    change_delta: np.ndarray
    dep_ptr: np.ndarray
    dep_idx: np.ndarray
    prog_ptr: np.ndarray
    code: np.ndarray
    consts: np.ndarray
    stack_size: int
    ev_initial: np.ndarray
    ev_trigger: np.ndarray
    ev_assign_ptr: np.ndarray
    ev_assign_target: np.ndarray
    ev_assign_code: np.ndarray
    time_points: np.ndarray


@njit(cache=True)
def _func(f, v):
    if f == 0:
        return math.exp(v)
    if f == 1:
        return math.log(v) if v > 0 else (-math.inf if v == 0 else math.nan)
    if f == 2:
        return math.log10(v) if v > 0 else (-math.inf if v == 0 else math.nan)
    if f == 3:
        return math.log2(v) if v > 0 else (-math.inf if v == 0 else math.nan)
    if f == 4:
        return math.sqrt(v) if v >= 0 else math.nan
    if f == 5:
        return abs(v)
    if f == 6:
        return math.sin(v)
    if f == 7:
        return math.cos(v)
    if f == 8:
        return math.tan(v)
    if f == 9:
        return math.asin(v) if -1.0 <= v <= 1.0 else math.nan
    if f == 10:
        return math.acos(v) if -1.0 <= v <= 1.0 else math.nan
    if f == 11:
        return math.atan(v)
    if f == 12:
        return math.sinh(v)
    if f == 13:
        return math.cosh(v)
    if f == 14:
        return math.tanh(v)
    if f == 15:
        return math.floor(v)
    return math.ceil(v)


@njit(cache=True)
def eval_program(code, consts, start, stop, x, stack, t):
    """Evaluate the postfix program ``code[start:stop]`` on the state ``x`` at time ``t``.

    ``stack`` is a float64 work array at least ``stack_size`` long.
    Division by zero gives inf or NaN (never an exception); conditions
    give 1.0 (true) or 0.0 (false).
    """
    sp = 0
    for i in range(start, stop):
        op = code[i, 0]
        arg = code[i, 1]
        if op == OP_CONST:
            stack[sp] = consts[arg]
            sp += 1
        elif op == OP_VAR:
            stack[sp] = float(x[arg])
            sp += 1
        elif op == OP_NEG:
            stack[sp - 1] = -stack[sp - 1]
        elif op == OP_FUNC:
            stack[sp - 1] = _func(arg, stack[sp - 1])
        elif op == OP_NOT:
            stack[sp - 1] = 1.0 if stack[sp - 1] == 0.0 else 0.0
        elif op == OP_TIME:
            stack[sp] = t
            sp += 1
        elif op == OP_SELECT:
            b = stack[sp - 1]
            a = stack[sp - 2]
            c = stack[sp - 3]
            sp -= 2
            stack[sp - 1] = a if c != 0.0 else b
        else:
            b = stack[sp - 1]
            a = stack[sp - 2]
            sp -= 1
            if op == OP_ADD:
                r = a + b
            elif op == OP_SUB:
                r = a - b
            elif op == OP_MUL:
                r = a * b
            elif op == OP_DIV:
                if b == 0.0:
                    r = math.nan if a == 0.0 else math.copysign(math.inf, a)
                else:
                    r = a / b
            elif op == OP_POW:
                if b == 2.0:  # the commonest power: one multiplication, the same rounding
                    r = a * a
                elif a < 0.0 and b != math.floor(b):
                    r = math.nan
                elif a == 0.0 and b < 0.0:
                    r = math.inf
                else:
                    r = a**b
            elif op == OP_MIN:
                r = min(a, b)
            elif op == OP_MAX:
                r = max(a, b)
            elif op == OP_LT:
                r = 1.0 if a < b else 0.0
            elif op == OP_LE:
                r = 1.0 if a <= b else 0.0
            elif op == OP_GT:
                r = 1.0 if a > b else 0.0
            elif op == OP_GE:
                r = 1.0 if a >= b else 0.0
            elif op == OP_EQ:
                r = 1.0 if a == b else 0.0
            elif op == OP_NE:
                r = 1.0 if a != b else 0.0
            elif op == OP_AND:
                r = 1.0 if (a != 0.0 and b != 0.0) else 0.0
            else:  # OP_OR
                r = 1.0 if (a != 0.0 or b != 0.0) else 0.0
            stack[sp - 1] = r
    return stack[0]


@njit(cache=True, inline="always")
def mass_action_propensity(net, j, x):
    """Mass-action propensity c_j * prod_i C(x_i, nu_ij) of reaction ``j``.

    ``net.rate_const[j]`` holds c_j / prod_i nu_ij!, so only products of
    falling factorials remain here (no division in the inner loop).
    """
    a = net.rate_const[j]
    for k in range(net.reactant_ptr[j], net.reactant_ptr[j + 1]):
        n = x[net.reactant_species[k]]
        order = net.reactant_order[k]
        if n < order:
            return 0.0
        # falling factorial n (n-1) ... (n-order+1); 1/order! is in rate_const
        for i in range(order):
            a *= n - i
    return a


@njit(cache=True, inline="always")
def propensity(net, j, x, stack):
    """Propensity of reaction ``j`` in state ``x`` (int64 counts)."""
    if net.kind[j] == 0:
        return mass_action_propensity(net, j, x)
    return eval_program(net.code, net.consts, net.prog_ptr[j], net.prog_ptr[j + 1], x, stack, 0.0)


#: Reactions per block of the two-level search (see :func:`ssa_direct`).
BLOCK = 16
#: Steps between exact re-summations of the block sums.
RESUM_EVERY = 1024


@njit(cache=True)
def _resum(a, block_sum):
    """Exact block sums of ``a``; returns ``(status, total)``."""
    n_blocks = block_sum.shape[0]
    m = a.shape[0]
    total = 0.0
    for b in range(n_blocks):
        acc = 0.0
        for j in range(b * BLOCK, min(m, (b + 1) * BLOCK)):
            aj = a[j]
            if aj < 0.0:
                return STATUS_NEGATIVE_PROPENSITY, 0.0
            acc += aj
        block_sum[b] = acc
        total += acc
    if not math.isfinite(total):
        return STATUS_INVALID_PROPENSITY, total
    return STATUS_OK, total


@njit(cache=True)
def process_events(net, t, x, trig, fire, values, stack):
    """Fire the events whose trigger went from false to true at time ``t``.

    ``trig`` holds each trigger's last value and is updated.  All firing
    events' assignment values are computed from the state before any of them
    is applied (SBML's ``useValuesFromTriggerTime``), then applied in
    document order; triggers are re-evaluated, and events that became true
    fire in turn (up to ``MAX_EVENT_ROUNDS`` rounds).

    Returns
    -------
    (status, changed) : (int, bool)
        ``changed`` tells whether any count changed (propensities are stale).
    """
    n_events = trig.shape[0]
    code = net.code
    consts = net.consts
    changed = False
    for _ in range(MAX_EVENT_ROUNDS):
        any_fired = False
        for e in range(n_events):
            v = eval_program(code, consts, net.ev_trigger[e, 0], net.ev_trigger[e, 1], x, stack, t)
            now = v != 0.0
            fire[e] = now and not trig[e]
            trig[e] = now
            any_fired = any_fired or fire[e]
        if not any_fired:
            return STATUS_OK, changed
        for e in range(n_events):
            if fire[e]:
                for k in range(net.ev_assign_ptr[e], net.ev_assign_ptr[e + 1]):
                    values[k] = eval_program(
                        code,
                        consts,
                        net.ev_assign_code[k, 0],
                        net.ev_assign_code[k, 1],
                        x,
                        stack,
                        t,
                    )
        for e in range(n_events):
            if fire[e]:
                for k in range(net.ev_assign_ptr[e], net.ev_assign_ptr[e + 1]):
                    v = values[k]
                    if not (v >= 0.0 and v == math.floor(v) and v < 9.2e18):
                        return STATUS_EVENT_VALUE, changed
                    x[net.ev_assign_target[k]] = np.int64(v)
                    changed = True
    return STATUS_EVENT_LOOP, changed


@njit(cache=True)
def ssa_direct(net, x0, t_grid, max_steps, rng_state, out, x, a, stack):
    """Simulate one trajectory by Gillespie's direct method.

    Parameters
    ----------
    net : SSANetwork
        The compiled network.
    x0 : int64[S]
        Initial counts (not modified).
    t_grid : float64[K]
        Increasing output times; the simulation starts at ``t_grid[0]`` and
        stops at ``t_grid[-1]``.
    max_steps : int
        Step budget; exceeding it returns ``STATUS_STEP_LIMIT``.
    rng_state : uint64[4]
        xoshiro256** state (see :func:`charme.solvers.gillespie.rng.seed_stream`),
        advanced in place.
    out : int64[K, S]
        Filled with the right-continuous path sampled at ``t_grid``: row k
        is the state after every firing at times ``<= t_grid[k]``.
    x : int64[S]; a : float64[M]; stack : float64[stack_size]
        Work arrays (``x`` holds the final state on return).

    Returns
    -------
    (status, steps) : (int, int)
        ``STATUS_OK`` or a failure code, and the number of firings.  On
        failure the rows of ``out`` not reached are left untouched.

    Events (``net.ev_*``) are checked at the start, after every firing
    and at every ``net.time_points`` (where the simulation stops to evaluate
    time conditions just after the instant, then redraws the waiting time:
    exact, as waiting times are memoryless).

    Notes
    -----
    The reaction is chosen by a two-level linear search: propensities are
    grouped in blocks of ``BLOCK`` whose sums are updated with each changed
    propensity, and re-summed exactly every ``RESUM_EVERY`` steps (and
    whenever the search would fall off the end), so rounding cannot drift.
    This is the direct method exactly; only the bookkeeping differs.
    """
    n_species = x0.shape[0]
    n_reactions = a.shape[0]
    n_out = t_grid.shape[0]
    n_blocks = (n_reactions + BLOCK - 1) // BLOCK
    block_sum = np.empty(max(n_blocks, 1), np.float64)
    code = net.code
    consts = net.consts
    prog_ptr = net.prog_ptr
    kind = net.kind
    n_events = net.ev_initial.shape[0]
    trig = np.empty(n_events, np.bool_)
    fire = np.empty(n_events, np.bool_)
    values = np.empty(net.ev_assign_target.shape[0], np.float64)
    time_points = net.time_points
    n_tp = time_points.shape[0]
    for e in range(n_events):
        trig[e] = net.ev_initial[e] != 0
    for i in range(n_species):
        x[i] = x0[i]
    t = t_grid[0]
    if n_events > 0:
        status, _ = process_events(net, t, x, trig, fire, values, stack)
        if status != STATUS_OK:
            return status, 0
    tp = 0
    while tp < n_tp and time_points[tp] < t:
        tp += 1
    refresh = True
    k = 0
    steps = 0
    since_resum = 0
    while True:
        if refresh:  # all propensities, e.g. after an event changed counts
            for j in range(n_reactions):
                a[j] = propensity(net, j, x, stack)
                if a[j] != a[j]:
                    return STATUS_INVALID_PROPENSITY, steps
            status, a0 = _resum(a, block_sum)
            if status != STATUS_OK:
                return status, steps
            since_resum = 0
            refresh = False
        if a0 <= 0.0:
            t_next = math.inf
        else:
            t_next = t - math.log(next_uniform(rng_state)) / a0
        if tp < n_tp and time_points[tp] <= t_next and time_points[tp] <= t_grid[n_out - 1]:
            # stop at a time point: record, evaluate triggers just after it, redraw
            tb = time_points[tp]
            tp += 1
            while k < n_out and t_grid[k] < tb:
                for i in range(n_species):
                    out[k, i] = x[i]
                k += 1
            t = tb
            status, changed = process_events(
                net, np.nextafter(tb, np.inf), x, trig, fire, values, stack
            )
            if status != STATUS_OK:
                return status, steps
            refresh = changed
            continue
        while k < n_out and t_grid[k] < t_next:
            for i in range(n_species):
                out[k, i] = x[i]
            k += 1
        if k == n_out:
            return STATUS_OK, steps
        if steps >= max_steps:
            return STATUS_STEP_LIMIT, steps
        # choose the reaction: first j whose cumulative propensity reaches target
        target = next_uniform(rng_state) * a0
        chosen = -1
        acc = 0.0
        for b in range(n_blocks):
            if acc + block_sum[b] >= target or b == n_blocks - 1:
                for j in range(b * BLOCK, min(n_reactions, (b + 1) * BLOCK)):
                    if a[j] > 0.0:
                        chosen = j
                        acc += a[j]
                        if acc >= target:
                            break
                if acc >= target or b == n_blocks - 1:
                    break
            else:
                acc += block_sum[b]
        if chosen < 0 or acc < target * (1.0 - 1e-12):
            # rounding in the running sums: re-sum exactly and draw again
            status, a0 = _resum(a, block_sum)
            if status != STATUS_OK:
                return status, steps
            since_resum = 0
            continue
        for c in range(net.change_ptr[chosen], net.change_ptr[chosen + 1]):
            s = net.change_species[c]
            x[s] += net.change_delta[c]
            if x[s] < 0:
                return STATUS_NEGATIVE_COUNT, steps
        t = t_next
        steps += 1
        for d in range(net.dep_ptr[chosen], net.dep_ptr[chosen + 1]):
            j = net.dep_idx[d]
            # written out rather than calling propensity(): measurably faster
            if kind[j] == 0:
                aj = mass_action_propensity(net, j, x)
            else:
                aj = eval_program(code, consts, prog_ptr[j], prog_ptr[j + 1], x, stack, 0.0)
                if not aj >= 0.0:
                    return (
                        STATUS_INVALID_PROPENSITY if aj != aj else STATUS_NEGATIVE_PROPENSITY
                    ), steps
            delta = aj - a[j]
            a[j] = aj
            block_sum[j // BLOCK] += delta
            a0 += delta
        if n_events > 0:
            status, changed = process_events(net, t, x, trig, fire, values, stack)
            if status != STATUS_OK:
                return status, steps
            if changed:
                refresh = True
                continue
        since_resum += 1
        if since_resum >= RESUM_EVERY:
            status, a0 = _resum(a, block_sum)
            if status != STATUS_OK:
                return status, steps
            since_resum = 0
        elif not math.isfinite(a0):
            return STATUS_INVALID_PROPENSITY, steps


@njit(cache=True, nogil=True)
def ssa_direct_ensemble(net, x0, t_grid, max_steps, root, first_run, out, status, steps, stop):
    """Simulate runs ``first_run .. first_run + out.shape[0] - 1`` of an ensemble.

    Run ``r`` draws from the stream ``seed_stream(root, r)``, so its path
    depends only on the ensemble's root key and on ``r``.  Releases the GIL;
    several threads may call it on disjoint slices of the output.

    Parameters
    ----------
    out : int64[R, K, S]
        Paths, one per run.
    status, steps : int64[R]
        Filled with each run's status and firing count (``STATUS_NOT_RUN``
        where the run was skipped).
    stop : int64[1]
        Checked before each run; a non-zero value skips the remaining runs
        (used to honour Ctrl-C).

    Returns
    -------
    int
        Number of runs simulated (a prefix of the slice).
    """
    n_species = x0.shape[0]
    n_reactions = net.kind.shape[0]
    x = np.empty(n_species, np.int64)
    a = np.empty(n_reactions, np.float64)
    stack = np.empty(max(net.stack_size, 1), np.float64)
    state = np.empty(4, np.uint64)
    done = 0
    for r in range(out.shape[0]):
        status[r] = STATUS_NOT_RUN
        steps[r] = 0
    for r in range(out.shape[0]):
        if stop[0] != 0:
            break
        seed_stream(root, first_run + r, state)
        st, n = ssa_direct(net, x0, t_grid, max_steps, state, out[r], x, a, stack)
        status[r] = st
        steps[r] = n
        done += 1
    return done
