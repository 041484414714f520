"""Compile a :class:`ReactionNetwork` into the arrays of :class:`SSANetwork`."""

from __future__ import annotations

import math

import numpy as np

from charme.errors import SpecError
from charme.models.network import ReactionNetwork
from charme.solvers.gillespie.kernels import (
    FUNC_CODES,
    OP_ADD,
    OP_CONST,
    OP_DIV,
    OP_FUNC,
    OP_MAX,
    OP_MIN,
    OP_MUL,
    OP_NEG,
    OP_POW,
    OP_SUB,
    OP_VAR,
    SSANetwork,
)
from charme.spec.expressions import Expr, evaluate, names_in, substitute

_BINARY = {"add": OP_ADD, "sub": OP_SUB, "mul": OP_MUL, "div": OP_DIV, "pow": OP_POW}


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
        code.append((OP_VAR, slots[expr[1]]))
        return 1
    if kind == "neg":
        depth = to_postfix(expr[1], slots, code, consts)
        code.append((OP_NEG, 0))
        return depth
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
        changes.append([(slots[s], d) for s, d in r.change().items()])
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
            folded = substitute(r.propensity, params)
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
    )
    x0 = np.array(net.initial, np.int64)
    return compiled, x0


__all__ = ["compile_network", "to_postfix", "names_in"]
