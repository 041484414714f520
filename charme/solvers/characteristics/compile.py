"""Compile a :class:`~charme.spec.pde.FirstOrderPDE` into the arrays the ray kernels take.

The public builder behind :mod:`charme.kernels` for characteristics: it runs
the same steps as :func:`charme.solvers.characteristics.driver.solve_pde`
(classification and differentiation by SymPy on safe trees, then postfix
programs); the solver itself calls it, so the arrays are exactly those it
traces.

Layout of a ray state ``y`` (float64[d], ``d = nz * n``, ``m = n - 1``
manifold parameters): ``y[:nz]`` is ``z`` (``(x_1..x_n, u)`` for a
quasilinear equation, ``(x_1..x_n, u, p_1..p_n)`` for Charpit strips), then
for each manifold parameter ``s_k`` the block ``y[nz*(k+1) : nz*(k+2)]`` holds
``dz/ds_k`` (the variational equations).
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import numpy as np

from charme.errors import SpecError
from charme.solvers.characteristics.kernels import STACK_SIZE
from charme.spec.expressions import evaluate_array

#: entries of the work stacks the ray kernels allocate for themselves
KERNEL_STACK = STACK_SIZE


class CompiledPDE(NamedTuple):
    """A first-order PDE as arrays for :func:`~charme.kernels.integrate` and friends.

    Attributes
    ----------
    code, consts, prog
        The ray system ``dz/dtau = g(z)`` and its Jacobian ``G`` as postfix
        programs: ``prog`` rows ``g_0..g_{nz-1}`` then ``G`` row-major
        (``code`` int64[L, 2], ``consts`` float64[C], ``prog`` int64[nz + nz*nz, 2]).
    icode, iconsts, iprog
        The Cauchy data over the manifold parameters: ``x0_i`` (n rows),
        ``u0``, ``dx0_i/ds_k`` (i-major), ``du0/ds_k``, and for Charpit the
        second derivatives (see :func:`~charme.kernels.initial_state`).
    fcode, fconsts, fprog
        Charpit only: ``F, F_x (n), F_u, F_p (n)`` over ``z``; empty programs
        for quasilinear equations.
    n
        Number of independent variables.
    nz
        Size of ``z``: ``n + 1`` (quasilinear) or ``2 n + 1`` (Charpit).
    d
        Size of a ray state ``y``: ``nz * n`` (``z`` and its ``n - 1``
        derivatives along the manifold).
    charpit
        True for a fully nonlinear equation (characteristic strips).
    evolution
        Index of the evolution variable (advanced at a constant rate by every
        ray, constant on the data), or -1 if there is none.
    speed, t0
        For an evolution problem: that variable equals ``t0 + speed * tau``
        along every ray (NaN otherwise).
    s_lo, s_hi
        float64[m]: the manifold parameters' ranges from the spec.
    z_names
        Names of the components of ``z``, e.g. ``("t", "x", "u")``.
    manifold
        Names of the manifold parameters, e.g. ``("s",)``.
    kind
        ``"linear"``, ``"semilinear"``, ``"quasilinear"`` or ``"fully nonlinear"``.
    straight
        True when every ray is a straight line in its state (see
        :func:`~charme.solvers.characteristics.symbolic.classify`): the solver's
        kernels then advance rays in closed form, y(tau) = y(0) + tau f(y(0)),
        exact, instead of integrating them.
    stack_size
        Stack depth the deepest program needs; the kernels evaluate with
        work stacks of :data:`KERNEL_STACK` entries (``compile_pde`` refuses
        deeper programs), and a caller's ``stack`` for
        :func:`~charme.kernels.initial_state` or :func:`~charme.kernels.gradient`
        must have at least this many.
    """

    code: np.ndarray
    consts: np.ndarray
    prog: np.ndarray
    icode: np.ndarray
    iconsts: np.ndarray
    iprog: np.ndarray
    fcode: np.ndarray
    fconsts: np.ndarray
    fprog: np.ndarray
    n: int
    nz: int
    d: int
    charpit: bool
    evolution: int
    speed: float
    t0: float
    s_lo: np.ndarray
    s_hi: np.ndarray
    z_names: tuple
    manifold: tuple
    kind: str
    stack_size: int
    straight: bool = False


def compile_pde(pde) -> CompiledPDE:
    """The arrays of ``pde`` for the ray kernels (those :func:`solve_pde` traces).

    Parameters
    ----------
    pde : FirstOrderPDE
        From :func:`charme.load` / :func:`charme.loads` of a ``kind: pde`` spec.

    Raises
    ------
    charme.errors.SpecError
        If the equation cannot be compiled (e.g. conditions in a PDE), or a
        program needs a deeper stack than the kernels' :data:`KERNEL_STACK`.
    """
    from charme.solvers.characteristics.symbolic import classify, manifold_derivatives

    info = classify(pde)
    charpit = info.charpit
    n = len(pde.variables)
    nz = len(info.g)
    slots = {name: i for i, name in enumerate(info.z_names)}
    code, consts, prog, depth = _programs([*info.g, *(x for row in info.G for x in row)], slots)
    if charpit:
        fcode, fconsts, fprog, fdepth = _programs(info.strip, slots)
        dx0, du0, dxx, duu = manifold_derivatives(pde, second=True)
        second = [*(x for row in dxx for r2 in row for x in r2), *(x for row in duu for x in row)]
    else:
        fcode, fconsts, fprog, fdepth = _programs([], slots)
        dx0, du0 = manifold_derivatives(pde)
        second = []
    islots = {s: k for k, s in enumerate(pde.manifold)}
    init_exprs = [*pde.x0, pde.u0, *(x for row in dx0 for x in row), *du0, *second]
    icode, iconsts, iprog, idepth = _programs(init_exprs, islots)
    # the evolution variable: constant speed along every ray, constant on the data
    evo = [
        i
        for i in range(n)
        if info.g[i][0] == "num" and info.g[i][1] != 0.0 and pde.x0[i][0] == "num"
    ]
    e = evo[0] if evo else -1
    speed, t0 = (float(info.g[e][1]), float(pde.x0[e][1])) if evo else (np.nan, np.nan)
    return CompiledPDE(
        code=code, consts=consts, prog=prog, icode=icode, iconsts=iconsts, iprog=iprog,
        fcode=fcode, fconsts=fconsts, fprog=fprog, n=n, nz=nz, d=nz * n, charpit=bool(charpit),
        evolution=e, speed=speed, t0=t0,
        s_lo=np.array([a for a, _, _ in pde.manifold_ranges], np.float64),
        s_hi=np.array([b for _, b, _ in pde.manifold_ranges], np.float64),
        z_names=tuple(info.z_names), manifold=tuple(pde.manifold), kind=info.kind,
        stack_size=max(depth, fdepth, idepth), straight=bool(info.straight),
    )  # fmt: skip


def _programs(exprs, slots):
    """Postfix programs of ``exprs`` over ``slots``: (code, consts, prog, stack depth).

    Cached per (expressions, slots): a solve of an equation compiled before (a sweep,
    a benchmark's repeats) skips the translation; each caller gets its own copies
    (an embedding may change ``consts`` in place)."""
    key = (tuple(exprs), tuple(slots.items()))
    try:
        hash(key)
    except TypeError:  # a tree with a list in it: compile it afresh
        return _programs_cached.__wrapped__(*key)
    code, consts, prog, depth = _programs_cached(*key)
    return code.copy(), consts.copy(), prog.copy(), depth


@functools.lru_cache(maxsize=256)
def _programs_cached(exprs, slot_items):
    from charme.solvers.gillespie.compile import to_postfix

    slots = dict(slot_items)

    code, consts, prog = [], [], []
    deepest = 1
    for e in exprs:
        start = len(code)
        depth = to_postfix(e, slots, code, consts)
        if depth > KERNEL_STACK:
            raise SpecError(
                f"an expression of this PDE needs an evaluation stack of {depth} entries; the "
                f"ray kernels have {KERNEL_STACK}: simplify it or split it with parameters"
            )
        deepest = max(deepest, depth)
        prog.append((start, len(code)))
    return (np.array(code, np.int64).reshape(-1, 2), np.array(consts, np.float64),
            np.array(prog, np.int64).reshape(-1, 2), deepest)  # fmt: skip


def manifold_samples(pde) -> np.ndarray:
    """The spec's samples of the manifold parameters: float64[R, m] (C order over the axes)."""
    axes = [np.linspace(a, b, k) for a, b, k in pde.manifold_ranges]
    m = len(pde.manifold)
    if m == 1:
        return axes[0].reshape(-1, 1)
    # (the last axis fastest, as itertools.product would give them)
    return np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, m)


def initial_guesses(pde, S, branch=None) -> np.ndarray:
    """Starting gradients for the Charpit completion at the samples ``S`` (float64[R, n]).

    From the spec's ``initial.guess`` (zero where none is given); without a
    guess but with ``initial.branch`` (+1 or -1; ``branch`` given here
    overrides it), the gradient that satisfies the strip conditions with the
    least norm plus ``branch`` times the unit normal of the data (see
    :func:`manifold_normals`) scaled to the larger of 1 and that gradient's
    norm.  Quasilinear equations ignore them.
    """
    S = np.asarray(S, np.float64).reshape(-1, len(pde.manifold))
    env = {s: S[:, k] for k, s in enumerate(pde.manifold)}
    out = np.zeros((len(S), len(pde.variables)))
    for name, expr in pde.guess:
        out[:, pde.derivative_names.index(name)] = np.broadcast_to(
            evaluate_array(expr, env), len(S)
        )
    branch = getattr(pde, "branch", 0) if branch is None else branch
    if branch and not pde.guess:
        from charme.solvers.characteristics.symbolic import manifold_derivatives

        dx0, du0 = manifold_derivatives(pde)
        xs = np.stack([np.stack([np.broadcast_to(evaluate_array(dx0[i][k], env), len(S))
                                 for i in range(len(pde.variables))], axis=1)
                       for k in range(len(pde.manifold))], axis=1)  # fmt: skip
        us = np.stack([np.broadcast_to(evaluate_array(e, env), len(S)) for e in du0], axis=1)
        with np.errstate(all="ignore"):  # least-norm p with xs p = us, row by row
            gram = xs @ np.swapaxes(xs, 1, 2)
            # where the tangents are dependent (a pole of the parametrisation) there is no
            # such p: NaN (the solver reports those samples before it needs a start there)
            flat = ~(np.abs(np.linalg.det(gram)) > 0)
            gram[flat] = np.eye(gram.shape[1])
            p_tan = (np.swapaxes(xs, 1, 2) @ np.linalg.solve(gram, us[..., None]))[..., 0]
            p_tan[flat] = np.nan
            normal = manifold_normals(xs)
            normal /= np.linalg.norm(normal, axis=1, keepdims=True)
        scale = np.maximum(1.0, np.linalg.norm(p_tan, axis=1, keepdims=True))
        out = p_tan + branch * scale * normal
    return out


def manifold_normals(xs) -> np.ndarray:
    """Normals of the data manifold from its tangents ``xs`` (float64[R, m, n], m = n - 1):
    nu_i = det[x_s1 .. x_sm, e_i], so that det[x_s1 .. x_sm, nu] = |nu|^2 > 0.

    In 2-D this is the tangent dx/ds turned 90 degrees counter-clockwise (to
    the left of the direction of increasing s).  ``initial.branch`` is the
    sign of the gradient's component along it.
    """
    xs = np.asarray(xs, np.float64)
    R, m, n = xs.shape
    rows = np.zeros((R, n, n, n))  # one matrix per component i: [x_s1 .. x_sm, e_i]
    rows[:, :, :m, :] = xs[:, None, :, :]
    rows[:, np.arange(n), m, np.arange(n)] = 1.0
    return np.linalg.det(rows)


__all__ = ["KERNEL_STACK", "CompiledPDE", "compile_pde", "initial_guesses", "manifold_normals",
           "manifold_samples"]  # fmt: skip
