"""``kind: pde`` specs: a first-order PDE with Cauchy data on a manifold.

The equation is written as on paper, ``u_t + u*u_x = 0`` or an expression
equal to zero, with ``u_<var>`` for the first derivatives; it is parsed by
the same safe parser as rate laws.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictFloat, StrictInt, field_validator

from charme.errors import SpecError
from charme.models.pickling import picklable
from charme.spec.expressions import Expr, names_in, parse_expression
from charme.spec.loader import RawSpec

Identifier = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]
Range = tuple[float, float, Annotated[int, Field(ge=1)]]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CharacteristicsSettings(_Strict):
    rtol: Annotated[float, Field(gt=0, lt=1)] = 1e-13
    atol: Annotated[float, Field(gt=0)] = 1e-15
    crossing: Literal["stop", "multivalued", "viscosity", "shock"] = "stop"
    evaluation: Literal["newton", "hermite", "raster"] = "newton"


class PDESpec(_Strict):
    """A first-order PDE F(x, u, grad u) = 0 with Cauchy data."""

    kind: str = Field(pattern="^pde$")
    name: str = "pde"
    description: str | None = None
    unknown: Identifier = "u"
    variables: list[Identifier] = Field(min_length=2)
    equation: str
    parameters: dict[Identifier, StrictInt | StrictFloat] = Field(default_factory=dict)
    initial: dict[str, object] | str
    grid: dict[Identifier, Range]
    characteristics: CharacteristicsSettings = Field(default_factory=CharacteristicsSettings)

    @field_validator("variables")
    @classmethod
    def _unique(cls, v):
        if len(set(v)) != len(v):
            raise ValueError("variables must be distinct")
        return v

    @field_validator("parameters")
    @classmethod
    def _finite(cls, v):
        bad = [k for k, x in v.items() if not math.isfinite(x)]
        if bad:
            raise ValueError(f"parameter {bad[0]!r} must be a finite number")
        return v


@picklable
@dataclass(frozen=True)
class FirstOrderPDE:
    """F(x, u, p) = 0 with p_i = u_<variables[i]>, and Cauchy data x0(s), u0(s)."""

    name: str
    unknown: str
    variables: tuple[str, ...]
    F: Expr  # over variables, unknown, derivative names, parameters folded
    manifold: tuple[str, ...]  # manifold parameter names s_k
    manifold_ranges: tuple[tuple[float, float, int], ...]
    x0: tuple[Expr, ...]  # one per variable, over manifold parameters
    u0: Expr
    grid: tuple[tuple[float, float, int], ...]  # one per variable, in variable order
    guess: tuple[tuple[str, Expr], ...] = ()  # starting p for Newton (fully nonlinear)
    branch: int = 0  # +1 / -1: sign of p . normal of the data (fully nonlinear); 0: any
    parameters: MappingProxyType = field(default_factory=lambda: MappingProxyType({}))
    settings: MappingProxyType = field(default_factory=lambda: MappingProxyType({}))
    description: str | None = None
    source_text: str = ""
    source_path: str = ""
    # the data came from the shorthand u(x, t=0) = g(x): the solver may sample g farther out
    from_shorthand: bool = False

    @property
    def derivative_names(self) -> tuple[str, ...]:
        return tuple(f"{self.unknown}_{v}" for v in self.variables)

    def summary(self) -> str:
        from charme.solvers.characteristics.symbolic import classify
        from charme.spec.expressions import to_source

        info = classify(self)
        lines = [f"first-order PDE {self.name!r}: {to_source(self.F)} = 0"]
        lines.append(f"  unknown {self.unknown}({', '.join(self.variables)}); class: {info.kind}")
        for line in info.system_text():
            lines.append(f"  {line}")
        lines.append(
            "  Cauchy data: "
            + ", ".join(f"{v} = {to_source(e)}" for v, e in zip(self.variables, self.x0))
            + f", {self.unknown} = {to_source(self.u0)} for "
            + ", ".join(
                f"{s} in [{a:g}, {b:g}] ({n})"
                for s, (a, b, n) in zip(self.manifold, self.manifold_ranges)
            )
        )
        lines.append(
            "  grid: "
            + ", ".join(
                f"{v} in [{a:g}, {b:g}] ({n})" for v, (a, b, n) in zip(self.variables, self.grid)
            )
        )
        return "\n".join(lines)


def is_pde_spec(data) -> bool:
    return isinstance(data, dict) and data.get("kind") == "pde"


def build_pde(raw: RawSpec) -> FirstOrderPDE:
    from charme.spec.network import validate_shape

    spec = validate_shape(raw, model=PDESpec)
    params = {k: float(v) for k, v in spec.parameters.items()}
    u = spec.unknown
    variables = tuple(spec.variables)
    derivs = {f"{u}_{v}" for v in variables}
    for name in (u, *variables, *params):
        if name in derivs:
            raise raw.error(f"{name!r} clashes with a derivative name", ("parameters",))
    if u in variables or u in params or set(variables) & set(params):
        raise raw.error(
            "unknown, variables and parameters must have distinct names", ("variables",)
        )

    # the equation: "lhs = rhs" or an expression equal to zero
    text = spec.equation
    if (
        text.count("=") - text.count("==") - text.count("<=") - text.count(">=") - text.count("!=")
        > 1
    ):
        raise raw.error("an equation has at most one '='", ("equation",))
    parts = [p for p in _split_equals(text)]
    names = set(variables) | {u} | derivs | set(params)
    higher = _higher_derivative(text, u, variables, names)
    if higher:
        raise raw.error(
            f"the equation must be first order: second and higher derivatives such as "
            f"{higher!r} are not supported (the first derivatives are "
            f"{', '.join(f'{u}_{v}' for v in variables)})",
            ("equation",),
        )
    try:
        sides = [parse_expression(p, names) for p in parts]
    except SpecError as exc:
        raise raw.error(exc.message, ("equation",)) from None
    F = sides[0] if len(sides) == 1 else ("sub", sides[0], sides[1])
    if not names_in(F) & derivs:
        raise raw.error(
            f"not a differential equation: it has no derivative {', '.join(sorted(derivs))}",
            ("equation",),
        )
    from charme.spec.expressions import substitute

    F = substitute(F, params)
    _no_conditions(raw, F, ("equation",))

    # the grid first: the shorthand for the data samples its ranges
    grid = []
    for v in variables:
        if v not in spec.grid:
            raise raw.error(f"the grid needs a range for {v!r}", ("grid",))
    for k in spec.grid:
        if k not in variables:
            raise raw.error(f"{k!r} is not a variable", ("grid", k))
    for v in variables:
        a, b, n = spec.grid[v]
        if not (math.isfinite(a) and math.isfinite(b) and math.isfinite(b - a)):
            raise raw.error(
                f"start and stop must be finite numbers whose difference is finite, not "
                f"[{a!r}, {b!r}]", ("grid", v),
            )  # fmt: skip
        if n > 1 and not a < b:
            raise raw.error("need start < stop", ("grid", v))
        if n == 1 and a != b:
            raise raw.error("one point: give start = stop", ("grid", v))
        grid.append((float(a), float(b), int(n)))

    # Cauchy data
    init = (
        _shorthand(raw, spec.initial, u, variables, spec.grid)
        if isinstance(spec.initial, str)
        else dict(spec.initial)
    )
    manifold_spec = init.pop("parameters", None)
    if not isinstance(manifold_spec, dict) or not manifold_spec:
        raise raw.error(
            "give the manifold's parameters, e.g. {s: [0, 1, 101]}", ("initial", "parameters")
        )
    manifold, ranges = [], []
    for name, rng in manifold_spec.items():
        if not (isinstance(rng, (list, tuple)) and len(rng) == 3):
            raise raw.error("expected [start, stop, count]", ("initial", "parameters", name))
        try:
            a, b, n = float(rng[0]), float(rng[1]), int(rng[2])
        except (TypeError, ValueError):
            raise raw.error(
                "expected [start, stop, count]", ("initial", "parameters", name)
            ) from None
        if not (math.isfinite(a) and math.isfinite(b) and math.isfinite(b - a)):
            raise raw.error(
                f"start and stop must be finite numbers whose difference is finite, not "
                f"[{a!r}, {b!r}]", ("initial", "parameters", name),
            )  # fmt: skip
        if n < 2 or not a < b:
            raise raw.error("need start < stop and count >= 2", ("initial", "parameters", name))
        manifold.append(name)
        ranges.append((a, b, n))
    if len(manifold) != len(variables) - 1:
        raise raw.error(
            f"Cauchy data on a manifold of dimension {len(variables) - 1} needs "
            f"{len(variables) - 1} parameter(s), got {len(manifold)}",
            ("initial", "parameters"),
        )
    allowed = set(manifold) | set(params)
    shorthand = isinstance(spec.initial, str)

    def data_expr(value, loc):
        # the shorthand is one string: its errors are located at 'initial' itself
        loc = ("initial",) if shorthand else loc
        try:
            expr = substitute(parse_expression(value, allowed), params)
        except SpecError as exc:
            raise raw.error(exc.message, loc) from None
        _no_conditions(raw, expr, loc, jump_in=manifold[0])
        return expr

    x0 = []
    for v in variables:
        if v not in init:
            raise raw.error(f"the initial manifold needs {v!r}", ("initial",))
        x0.append(data_expr(init.pop(v), ("initial", v)))
    if u not in init:
        raise raw.error(f"the Cauchy data needs {u!r}", ("initial",))
    u0 = data_expr(init.pop(u), ("initial", u))
    guess = []
    given = init.pop("guess", None) or {}
    if not isinstance(given, dict):
        raise raw.error("expected a mapping such as {u_x: s}", ("initial", "guess"))
    for name, text in given.items():
        if name not in derivs:
            raise raw.error(
                f"{name!r} is not a derivative ({', '.join(sorted(derivs))})",
                ("initial", "guess", name),
            )
        guess.append((name, data_expr(text, ("initial", "guess", name))))
    branch = 0  # not given: any side
    if "branch" in init:
        given_branch = init.pop("branch")
        branch = given_branch
        if isinstance(branch, str):
            branch = {"+": 1, "+1": 1, "1": 1, "-": -1, "-1": -1}.get(branch.strip(), branch)
        if isinstance(branch, bool) or branch not in (1, -1):
            raise raw.error(
                "expected +1 or -1 (the sign of the gradient's component along the data's "
                f"normal), not {given_branch!r}; leave it out for none",
                ("initial", "branch"),
            )
    if init:
        raise raw.error(f"unknown key {sorted(init)[0]!r}", ("initial", sorted(init)[0]))

    return FirstOrderPDE(
        name=spec.name, unknown=u, variables=variables, F=F, manifold=tuple(manifold),
        manifold_ranges=tuple(ranges), x0=tuple(x0), u0=u0, grid=tuple(grid),
        parameters=MappingProxyType(params), guess=tuple(guess), branch=int(branch),
        settings=MappingProxyType(spec.characteristics.model_dump()),
        description=spec.description, source_text=raw.text, source_path=raw.path,
        from_shorthand=shorthand,
    )  # fmt: skip


#: tree nodes of conditions (comparisons, logic, piecewise): not differentiable
_CONDITIONS = {"lt", "le", "gt", "ge", "eq", "ne", "and", "or", "not", "select"}


def _first_condition(expr):
    """The first condition (comparison, logic, piecewise) inside ``expr``, or None."""
    if expr[0] in _CONDITIONS:
        return expr
    if expr[0] in ("num", "name"):
        return None
    for sub in expr[2] if expr[0] == "call" else expr[1:]:
        found = _first_condition(sub)
        if found is not None:
            return found
    return None


def _no_conditions(raw, expr, loc, jump_in=None):
    """Refuse conditions (left after the parameters are folded in) at ``loc``; for data,
    ``jump_in`` names the manifold parameter a hint on writing jumps uses."""
    from charme.spec.expressions import to_source

    found = _first_condition(expr)
    if found is None:
        return
    s = jump_in
    hint = (
        f"; write jumps and kinks with abs, min or max, e.g. 0.5*(1 - {s}/abs({s})) for 1 "
        f"where {s} < 0 and 0 where {s} > 0"
        if s
        else ""
    )
    raise raw.error(
        f"conditions (comparisons, and/or/not, piecewise) are not supported in a PDE: "
        f"{to_source(found)}{hint}",
        loc,
    )


def _higher_derivative(text: str, u: str, variables, known) -> str | None:
    """The first name in ``text`` that is not ``known`` but reads as a derivative of
    ``u`` of order 2 or more: ``u_xx``, ``u_x_x``, ``u_tx`` for declared variables."""
    import re

    var = "|".join(re.escape(v) for v in sorted(variables, key=len, reverse=True))
    pattern = re.compile(rf"{re.escape(u)}_(?:{var})(?:_?(?:{var}))+")
    for name in re.findall(r"(?<![\w.])[A-Za-z_]\w*", text):
        if name not in known and pattern.fullmatch(name):
            return name
    return None


#: fewest samples the shorthand's 1-D data get
SHORTHAND_MIN_SAMPLES = 101
#: most samples the shorthand's data get (also when the solver widens them)
SHORTHAND_MAX_SAMPLES = 20001
#: ... and most rays in all, for data of two or more dimensions (down to two samples a
#: grid spacing: 3-D data at six a spacing would trace 300,000 rays for an 11^3 grid)
SHORTHAND_MAX_RAYS = 40000


def _shorthand(raw, text, u, variables, grid) -> dict:
    """``"u(x, t=0) = sin(x)"`` -> the full form, on the free variables' grid ranges.

    The data are sampled on each free variable's grid range widened by its
    length on both sides (characteristics may come in from outside), with six
    samples per grid spacing (at least ``SHORTHAND_MIN_SAMPLES`` for 1-D data); the solver widens this further, to cover the grid
    and out to every ray that lands on it (in 2+ dimensions after characteristics
    cross).  Give the full form for other choices.
    """
    import re

    m = re.match(r"^\s*(\w+)\s*\(([^)]*)\)\s*=(?!=)\s*(.+)$", text)
    if not m or m.group(1) != u:
        raise raw.error(
            f"expected e.g. '{u}({variables[1]}, {variables[0]}=0) = g({variables[1]})'",
            ("initial",),
        )
    fixed, free = {}, []
    for arg in (a.strip() for a in m.group(2).split(",")):
        name, eq, value = arg.partition("=")
        name = name.strip()
        if name not in variables:
            raise raw.error(f"{name!r} is not a variable", ("initial",))
        if eq:
            fixed[name] = value.strip()
        else:
            free.append(name)
    if len(fixed) != 1 or len(free) != len(variables) - 1:
        raise raw.error(
            "name every variable once, exactly one of them with its value", ("initial",)
        )
    out: dict = {"parameters": {}}
    counts = {}
    for v in free:
        if v not in grid:
            raise raw.error(f"the grid needs a range for {v!r}", ("grid",))
        counts[v] = min(2 * int(grid[v][2]) * 3 + 1, SHORTHAND_MAX_SAMPLES)
        if len(free) == 1:  # (a grid of few nodes says little of the data's scale)
            counts[v] = max(counts[v], SHORTHAND_MIN_SAMPLES)
    total = float(math.prod(counts.values()))
    if total > SHORTHAND_MAX_RAYS:  # data of 2+ dimensions: fewer per axis, two per spacing
        shrink = (SHORTHAND_MAX_RAYS / total) ** (1.0 / len(counts))
        counts = {v: max(2 * int(grid[v][2]) + 1, int(k * shrink)) for v, k in counts.items()}
    for v in free:
        a, b, _ = grid[v]
        span = b - a if b > a else max(1.0, abs(a))  # a grid of one node: a unit around it
        out["parameters"][v] = [a - span, b + span, counts[v]]
        out[v] = v
    out.update(fixed)
    out[u] = m.group(3).strip()
    return out


def _split_equals(text: str) -> list[str]:
    """Split at a lone '=' (not part of ==, <=, >=, !=)."""
    import re

    parts = re.split(r"(?<![<>=!])=(?!=)", text)
    return [p for p in parts]
