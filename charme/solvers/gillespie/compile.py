"""Compile a :class:`ReactionNetwork` into the arrays of :class:`SSANetwork`."""

from __future__ import annotations

import math

import numpy as np

from charme.errors import SpecError
from charme.models.network import TIME, ReactionNetwork
from charme.solvers.gillespie.kernels import (
    FUNC_CODES,
    OP_ADD,
    OP_AND,
    OP_CONST,
    OP_DIV,
    OP_EQ,
    OP_FUNC,
    OP_GE,
    OP_GT,
    OP_LE,
    OP_LT,
    OP_MAX,
    OP_MIN,
    OP_MUL,
    OP_NE,
    OP_NEG,
    OP_NOT,
    OP_OR,
    OP_POW,
    OP_SELECT,
    OP_SUB,
    OP_TIME,
    OP_VAR,
    SSANetwork,
)
from charme.spec.expressions import Expr, evaluate, names_in, substitute, to_source

_BINARY = {
    "add": OP_ADD, "sub": OP_SUB, "mul": OP_MUL, "div": OP_DIV, "pow": OP_POW,
    "lt": OP_LT, "le": OP_LE, "gt": OP_GT, "ge": OP_GE, "eq": OP_EQ, "ne": OP_NE,
    "and": OP_AND, "or": OP_OR,
}  # fmt: skip


def to_postfix(expr: Expr, slots: dict[str, int], code: list, consts: list) -> int:
    """Append the postfix form of ``expr`` to ``code``; return its stack depth.

    Names must all be in ``slots`` (their index in the state vector).
    """
    kind = expr[0]
    if kind == "num":
        consts.append(expr[1])
        code.append((OP_CONST, len(consts) - 1))
        return 1
    if kind == "name":
        if expr[1] == TIME and TIME not in slots:
            code.append((OP_TIME, 0))
        else:
            code.append((OP_VAR, slots[expr[1]]))
        return 1
    if kind in ("neg", "not"):
        depth = to_postfix(expr[1], slots, code, consts)
        code.append((OP_NEG if kind == "neg" else OP_NOT, 0))
        return depth
    if kind == "select":
        d0 = to_postfix(expr[1], slots, code, consts)
        d1 = to_postfix(expr[2], slots, code, consts)
        d2 = to_postfix(expr[3], slots, code, consts)
        code.append((OP_SELECT, 0))
        return max(d0, 1 + d1, 2 + d2)
    if kind == "call":
        fname, args = expr[1], expr[2]
        if fname in ("min", "max"):
            op = OP_MIN if fname == "min" else OP_MAX
            depth = to_postfix(args[0], slots, code, consts)
            for arg in args[1:]:
                depth = max(depth, 1 + to_postfix(arg, slots, code, consts))
                code.append((op, 0))
            return depth
        depth = to_postfix(args[0], slots, code, consts)
        code.append((OP_FUNC, FUNC_CODES[fname]))
        return depth
    left = to_postfix(expr[1], slots, code, consts)
    right = to_postfix(expr[2], slots, code, consts)
    code.append((_BINARY[kind], 0))
    return max(left, 1 + right)


def _csr(rows):
    ptr = np.zeros(len(rows) + 1, np.int64)
    for i, row in enumerate(rows):
        ptr[i + 1] = ptr[i] + len(row)
    return ptr


def time_points_of(trigger: Expr, where: str) -> list[float]:
    """Times at which the time conditions of a trigger can change value.

    Time may appear only in comparisons with a constant (``time >= 25``,
    ``10 < time``); anything else cannot be located exactly and is refused.
    """
    out: list[float] = []

    def walk(e):
        kind = e[0]
        if kind in ("lt", "le", "gt", "ge", "eq", "ne"):
            a, b = e[1], e[2]
            a_t, b_t = TIME in names_in(a), TIME in names_in(b)
            if a_t or b_t:
                var, other = (a, b) if a_t else (b, a)
                if var != ("name", TIME) or names_in(other):
                    raise SpecError(
                        f"{where}: time may only be compared with a constant "
                        f"(e.g. 'time >= 25'), not in {to_source(e)}"
                    )
                out.append(float(other[1]))
                return
            walk(a)
            walk(b)
        elif kind == "name":
            if e[1] == TIME:
                raise SpecError(
                    f"{where}: time may only appear in comparisons such as 'time >= 25'"
                )
        elif kind == "call":
            for arg in e[2]:
                walk(arg)
        elif kind != "num":
            for arg in e[1:]:
                walk(arg)

    walk(trigger)
    return out


def compile_network(net: ReactionNetwork) -> tuple[SSANetwork, np.ndarray]:
    """Arrays for the kernels, with the network's current parameter values.

    Returns
    -------
    (SSANetwork, x0)
        The compiled network and the initial counts as int64.
    """
    params = net.parameter_values()
    slots = {s: i for i, s in enumerate(net.species)}
    m = net.n_reactions
    kind = np.zeros(m, np.int64)
    rate = np.zeros(m, np.float64)
    reactants, changes, programs = [], [], []
    code: list = []
    consts: list = []
    stack = 1
    prog_ptr = np.zeros(m + 1, np.int64)
    for j, r in enumerate(net.reactions):
        reactants.append([(slots[s], n) for s, n in r.reactants])
        changes.append([(slots[s], d) for s, d in net.change(j).items()])
        if r.mass_action:
            c = evaluate(r.rate, params)
            if not np.isfinite(c) or c < 0:
                raise SpecError(
                    f"rate constant of reaction {j} ({r.equation()}) is {c!r}; "
                    "it must be finite and non-negative",
                    field=f"reactions[{j}].rate",
                )
            rate[j] = c / math.prod(math.factorial(n) for _, n in r.reactants)
        else:
            kind[j] = 1
            folded = substitute(net.expand(r.propensity), params)
            if TIME in names_in(folded):
                raise SpecError(
                    f"the propensity of reaction {j} ({r.equation()}) depends on time; "
                    "exact simulation needs time-homogeneous rates between events",
                    field=f"reactions[{j}].propensity",
                )
            stack = max(stack, to_postfix(folded, slots, code, consts))
        prog_ptr[j + 1] = len(code)
        programs.append(None)

    # dependency graph: j -> reactions reading a species that j changes
    readers: dict[int, set[int]] = {}
    for i in range(m):
        for s in net.species_read_by(i):
            readers.setdefault(slots[s], set()).add(i)
    deps = []
    for j in range(m):
        affected: set[int] = set()
        for s, _ in changes[j]:
            affected |= readers.get(s, set())
        deps.append(sorted(affected))

    # events: triggers and assignment values as programs after the propensities
    ev_trigger, ev_assign_ptr, ev_target, ev_code, points = [], [0], [], [], []
    for e, ev in enumerate(net.events):
        where = f"events[{e}]"
        trig = substitute(net.expand(ev.trigger), params)
        points += time_points_of(trig, where)
        start = len(code)
        stack = max(stack, to_postfix(trig, slots, code, consts))
        ev_trigger.append((start, len(code)))
        for target, value in ev.assignments:
            val = substitute(net.expand(value), params)
            start = len(code)
            stack = max(stack, to_postfix(val, slots, code, consts))
            ev_target.append(slots[target])
            ev_code.append((start, len(code)))
        ev_assign_ptr.append(len(ev_target))

    compiled = SSANetwork(
        kind=kind,
        rate_const=rate,
        reactant_ptr=_csr(reactants),
        reactant_species=np.array([s for row in reactants for s, _ in row], np.int64),
        reactant_order=np.array([n for row in reactants for _, n in row], np.int64),
        change_ptr=_csr(changes),
        change_species=np.array([s for row in changes for s, _ in row], np.int64),
        change_delta=np.array([d for row in changes for _, d in row], np.int64),
        dep_ptr=_csr(deps),
        dep_idx=np.array([i for row in deps for i in row], np.int64),
        prog_ptr=prog_ptr,
        code=np.array(code, np.int64).reshape(-1, 2),
        consts=np.array(consts, np.float64),
        stack_size=int(stack),
        ev_initial=np.array([int(ev.initial_value) for ev in net.events], np.int64),
        ev_trigger=np.array(ev_trigger, np.int64).reshape(-1, 2),
        ev_assign_ptr=np.array(ev_assign_ptr, np.int64),
        ev_assign_target=np.array(ev_target, np.int64),
        ev_assign_code=np.array(ev_code, np.int64).reshape(-1, 2),
        time_points=np.array(sorted(set(points)), np.float64),
    )
    x0 = np.array(net.initial, np.int64)
    return compiled, x0


__all__ = ["compile_network", "time_points_of", "to_postfix"]
