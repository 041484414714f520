"""Symbolic side of the method of characteristics (SymPy on safe trees).

Expressions reach SymPy only as trees already checked by charme's parser
(:mod:`charme.spec.expressions`), converted node by node; no user text is
ever given to ``sympify`` or ``parse_expr``.  SymPy classifies the equation
and differentiates it; the results come back as charme trees, which the
kernels run as postfix programs.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field

from charme.errors import SpecError
from charme.spec.expressions import Expr, to_source


def to_sympy(expr: Expr, symbols: dict):
    import sympy as sp

    funcs = {"exp": sp.exp, "log": sp.log, "log10": lambda a: sp.log(a, 10),
             "log2": lambda a: sp.log(a, 2), "sqrt": sp.sqrt, "abs": sp.Abs, "sin": sp.sin,
             "cos": sp.cos, "tan": sp.tan, "asin": sp.asin, "acos": sp.acos, "atan": sp.atan,
             "sinh": sp.sinh, "cosh": sp.cosh, "tanh": sp.tanh, "floor": sp.floor,
             "ceil": sp.ceiling, "min": sp.Min, "max": sp.Max}  # fmt: skip

    def walk(e):
        kind = e[0]
        if kind == "num":
            v = e[1]
            if math.isnan(v):  # (constants folded: sqrt(-1), log(-1), 0/0, acos(2))
                raise SpecError("a constant here is not a number (NaN): an operation on "
                                "numbers outside its domain, such as sqrt(-1), log of a "
                                "negative number, 0/0 or acos(2)")  # fmt: skip
            if not math.isfinite(v):
                raise SpecError("a constant here is infinite: a number too large for a "
                                "float (they hold up to about 1.8e308), or one divided by "
                                "0 or log(0)")  # fmt: skip
            return sp.Integer(int(v)) if float(v).is_integer() and abs(v) < 1e15 else sp.Float(v)
        if kind == "name":
            return symbols[e[1]]
        if kind == "neg":
            return -walk(e[1])
        if kind == "add":
            return walk(e[1]) + walk(e[2])
        if kind == "sub":
            return walk(e[1]) - walk(e[2])
        if kind == "mul":
            return walk(e[1]) * walk(e[2])
        if kind == "div":
            return walk(e[1]) / walk(e[2])
        if kind == "pow":
            return walk(e[1]) ** walk(e[2])
        if kind == "call":
            return funcs[e[1]](*(walk(a) for a in e[2]))
        raise SpecError(f"conditions ({kind}) are not supported in a PDE: {to_source(e)}")

    return walk(expr)


def from_sympy(obj) -> Expr:
    import sympy as sp

    if obj.is_Integer or obj.is_Float or obj.is_Rational:
        return ("num", float(obj))
    if obj is sp.pi:
        return ("num", float(sp.pi))
    if obj is sp.E:
        return ("num", float(sp.E))
    if obj.is_Symbol:
        return ("name", obj.name)
    if obj.is_Add:
        args = [from_sympy(a) for a in obj.args]
        out = args[0]
        for a in args[1:]:
            out = ("add", out, a)
        return out
    if obj.is_Mul:
        args = [from_sympy(a) for a in obj.args]
        out = args[0]
        for a in args[1:]:
            out = ("mul", out, a)
        return out
    if obj.is_Pow:
        return ("pow", from_sympy(obj.args[0]), from_sympy(obj.args[1]))
    names = {sp.exp: "exp", sp.log: "log", sp.sin: "sin", sp.cos: "cos", sp.tan: "tan",
             sp.asin: "asin", sp.acos: "acos", sp.atan: "atan", sp.sinh: "sinh",
             sp.cosh: "cosh", sp.tanh: "tanh", sp.Abs: "abs", sp.floor: "floor",
             sp.ceiling: "ceil"}  # fmt: skip
    if obj.func in names:
        return ("call", names[obj.func], tuple(from_sympy(a) for a in obj.args))
    if obj.func in (sp.Min, sp.Max):
        return (
            "call",
            "min" if obj.func is sp.Min else "max",
            tuple(from_sympy(a) for a in obj.args),
        )
    if obj.func is sp.sign:
        a = from_sympy(obj.args[0])
        return ("select", ("gt", a, ("num", 0.0)), ("num", 1.0),
                ("select", ("lt", a, ("num", 0.0)), ("num", -1.0), ("num", 0.0)))  # fmt: skip
    if obj.func is sp.Heaviside:
        a = from_sympy(obj.args[0])
        return ("select", ("gt", a, ("num", 0.0)), ("num", 1.0),
                ("select", ("lt", a, ("num", 0.0)), ("num", 0.0), ("num", 0.5)))  # fmt: skip
    if obj.func is sp.DiracDelta:  # derivative of a kink: zero wherever it is defined
        return ("num", 0.0)
    if isinstance(obj, (sp.Derivative, sp.Subs)):  # of floor or ceil (SymPy leaves them
        inner = obj.args[0]  # unevaluated): a step's, zero wherever it is defined
        while isinstance(inner, sp.Derivative):
            inner = inner.args[0]
        if inner.func in (sp.floor, sp.ceiling):
            return ("num", 0.0)
    if obj.func is sp.Piecewise:  # e.g. from simplifying p * sign(p); last branch: True
        out = None
        for expr, cond in reversed(obj.args):
            value = from_sympy(expr)
            out = value if out is None or cond is sp.true else ("select", from_sympy(cond),
                                                                  value, out)  # fmt: skip
        return out
    relations = {sp.StrictLessThan: "lt", sp.LessThan: "le", sp.StrictGreaterThan: "gt",
                 sp.GreaterThan: "ge", sp.Equality: "eq", sp.Unequality: "ne"}  # fmt: skip
    if obj.func in relations:
        return (relations[obj.func], from_sympy(obj.args[0]), from_sympy(obj.args[1]))
    if obj.func in (sp.And, sp.Or):
        args = [from_sympy(a) for a in obj.args]
        out = args[0]
        for a in args[1:]:
            out = ("and" if obj.func is sp.And else "or", out, a)
        return out
    if obj.func is sp.Not:
        return ("not", from_sympy(obj.args[0]))
    raise SpecError(f"cannot compile {obj} (from a derivative)")


@dataclass
class Classification:
    kind: str  # linear | semilinear | quasilinear | fully nonlinear
    variables: tuple
    unknown: str
    a: list = field(default_factory=list)  # dx_i/dtau (quasilinear)
    b: Expr | None = None  # du/dtau (quasilinear)
    da_dx: list = field(default_factory=list)  # [i][j]
    da_du: list = field(default_factory=list)
    db_dx: list = field(default_factory=list)
    db_du: Expr | None = None
    # the ray system dz/dtau = g(z) and its Jacobian, z = (x, u) or (x, u, p)
    z_names: tuple = ()
    g: list = field(default_factory=list)
    G: list = field(default_factory=list)
    strip: list = field(default_factory=list)  # F, F_x (n), F_u, F_p (n) (Charpit)
    # d2F/dp_i dp_j (Charpit; None if SymPy's result cannot be compiled): convexity checks
    Fpp: list | None = None
    # F has a kink in the gradient (abs(u_x), max(u_x, 0)...): the first such second
    # derivative, as text; characteristics fan out of the kink (Charpit)
    kink_in_p: str | None = None
    # the rays are straight lines in z (see _straight): advanced in closed form
    straight: bool = False

    @property
    def charpit(self) -> bool:
        return self.kind == "fully nonlinear"

    def system_text(self):
        head = "characteristic strips (Charpit):" if self.charpit else "characteristic system:"
        return [head] + [f"  d{z}/dtau = {to_source(e)}" for z, e in zip(self.z_names, self.g)]


def classify(pde) -> Classification:
    """Class of the equation and, when quasilinear, its characteristic system.

    Cached on the equation (a solve's symbolic set-up is then paid once per
    equation, not once per call: sweeps over data or grids, repeated solves).
    The result is shared: treat it as read-only.
    """
    try:
        return _classify(solved_equation(pde), tuple(pde.variables), pde.unknown)
    except SpecError as exc:
        raise exc.located(field="equation") from None


def solved_equation(pde) -> Expr:
    """F as the solver takes it: ``pde.F``, or -F when the evolution variable (the first
    advanced at a constant rate by every ray and constant on the data) goes backwards
    along the rays, as in u_x - u_t = 0: the same solutions, with rays going forward as
    they are traced.  Where the sign of F matters (F solved for a derivative), use this."""
    info = _classify(pde.F, tuple(pde.variables), pde.unknown)
    x0 = getattr(pde, "x0", None)
    if x0 is not None:
        evo = [g for g, x in zip(info.g, x0) if g[0] == "num" and g[1] != 0.0 and x[0] == "num"]
        if evo and evo[0][1] < 0:
            return ("neg", pde.F)
    return pde.F


@functools.lru_cache(maxsize=256)
def _classify(F_tree, variables, unknown) -> Classification:
    from types import SimpleNamespace

    import sympy as sp

    pde = SimpleNamespace(F=F_tree, variables=variables, unknown=unknown,
                          derivative_names=tuple(f"{unknown}_{v}" for v in variables))  # fmt: skip

    names = set(pde.variables) | {pde.unknown} | set(pde.derivative_names)
    sym = {n: sp.Symbol(n, real=True) for n in names}
    F = to_sympy(pde.F, sym)
    P = [sym[d] for d in pde.derivative_names]
    X = [sym[v] for v in pde.variables]
    U = sym[pde.unknown]
    if all(sp.diff(F, pi) == 0 for pi in P):
        raise SpecError(
            f"not a differential equation once simplified: {sp.sstr(F)} = 0 involves no "
            f"derivative {', '.join(pde.derivative_names)} (their coefficients cancel)"
        )
    linear_in_p = all(sp.simplify(sp.diff(F, pi, pj)) == 0 for pi in P for pj in P)
    if not linear_in_p:
        info = Classification("fully nonlinear", pde.variables, pde.unknown)
        Fp = [sp.diff(F, pi) for pi in P]
        Fx = [sp.diff(F, xi) for xi in X]
        Fu = sp.diff(F, U)
        g = [
            *Fp,
            sum(pi * fpi for pi, fpi in zip(P, Fp)),
            *(-fx - pi * Fu for fx, pi in zip(Fx, P)),
        ]
        Z = [*X, U, *P]
        info.z_names = (*pde.variables, pde.unknown, *pde.derivative_names)
        g = [sp.simplify(gi) for gi in g]
        info.g = [from_sympy(gi) for gi in g]
        info.straight = _straight(g, [*X, U, *P])
        info.G = [[from_sympy(sp.diff(gi, zj)) for zj in Z] for gi in g]
        info.strip = [from_sympy(F), *(from_sympy(f) for f in Fx), from_sympy(Fu),
                      *(from_sympy(f) for f in Fp)]  # fmt: skip
        info.a = info.g[: len(X)]
        second = [[sp.diff(F, pi, pj) for pj in P] for pi in P]
        info.kink_in_p = next((str(d) for row in second for d in row
                               if d.has(sp.DiracDelta)), None)  # fmt: skip
        try:
            info.Fpp = [[from_sympy(d) for d in row] for row in second]
        except SpecError:
            info.Fpp = None
        return info
    a = [sp.simplify(sp.diff(F, pi)) for pi in P]
    c = sp.simplify(F.subs({pi: 0 for pi in P}))
    if any(ai.has(U) for ai in a):
        kind = "quasilinear"
    elif sp.simplify(sp.diff(c, U, 2)) == 0:
        kind = "linear"
    else:
        kind = "semilinear"
    b = -c
    info = Classification(kind, pde.variables, pde.unknown)
    info.a = [from_sympy(ai) for ai in a]
    simple_b = sp.simplify(b)
    info.b = from_sympy(simple_b)
    info.da_dx = [[from_sympy(sp.diff(ai, xj)) for xj in X] for ai in a]
    info.da_du = [from_sympy(sp.diff(ai, U)) for ai in a]
    info.db_dx = [from_sympy(sp.diff(b, xj)) for xj in X]
    info.db_du = from_sympy(sp.diff(b, U))
    info.z_names = (*pde.variables, pde.unknown)
    info.g = [*info.a, info.b]
    info.G = [[*row, du] for row, du in zip(info.da_dx, info.da_du)] + [[*info.db_dx, info.db_du]]
    info.straight = _straight([*a, simple_b], [*X, U])
    return info


def _straight(g, Z) -> bool:
    """Whether every ray of dz/dtau = g(z) is a straight line, z(tau) = z(0) + tau g(z(0)):
    each component of g depends only on components of z whose own g is 0 (which stay
    constant along the rays), so g is constant along each ray; and so is the
    derivative of the whole ray state, the variations z_s(tau) = z_s(0) + tau G z_s(0)
    included: G is constant along the ray too, and G^2 = 0 (G's nonzero columns are
    those of the fixed components, whose rows are zero).  Burgers' u_t + u u_x = 0 (g =
    (1, u, 0)), u_t + H(u_x) = 0 and |grad u| = 1 (g a function of p, whose g is 0),
    constant-coefficient transport; not u_t + u_x = u or x u_x + u_y = 0."""
    fixed = {zj for gj, zj in zip(g, Z) if gj == 0}
    return all(gi.free_symbols <= fixed for gi in g)


def manifold_derivatives(pde, second=False):
    """d x0_i/d s_k, d u0/d s_k (and with ``second`` the second derivatives) as trees.

    Cached on the data (see :func:`classify`); treat the result as read-only.
    """
    try:
        return _manifold_derivatives(tuple(pde.manifold), tuple(pde.x0), pde.u0, second)
    except SpecError as exc:
        raise exc.located(field="initial") from None


@functools.lru_cache(maxsize=256)
def _manifold_derivatives(manifold, x0, u0, second):
    from types import SimpleNamespace

    import sympy as sp

    pde = SimpleNamespace(manifold=manifold, x0=x0, u0=u0)

    sym = {s: sp.Symbol(s, real=True) for s in pde.manifold}
    S = [sym[s] for s in pde.manifold]
    xs = [to_sympy(e, sym) for e in pde.x0]
    us = to_sympy(pde.u0, sym)
    dx = [[from_sympy(sp.diff(e, sk)) for sk in S] for e in xs]
    du = [from_sympy(sp.diff(us, sk)) for sk in S]
    if not second:
        return dx, du
    dxx = [[[from_sympy(sp.diff(e, sk, sj)) for sj in S] for sk in S] for e in xs]
    duu = [[from_sympy(sp.diff(us, sk, sj)) for sj in S] for sk in S]
    return dx, du, dxx, duu
