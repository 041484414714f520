"""Turn a validated reaction-network spec into a :class:`ReactionNetwork`.

Checks meaning, each error located at file, line and field: arrow syntax,
species named in reactions, names used in rates and propensities.
"""

from __future__ import annotations

import re
from types import MappingProxyType

from pydantic import ValidationError

from charme.errors import SpecError
from charme.models.network import TIME, Event, Reaction, ReactionNetwork
from charme.spec.expressions import FUNCTIONS, names_in, parse_expression
from charme.spec.loader import RawSpec, format_path
from charme.spec.schema import NetworkSpec

_ARROW = re.compile(r"->|→")
_TERM = re.compile(r"^(\d+)?\s*\*?\s*([A-Za-z_][A-Za-z0-9_]*)$")
_NOTHING = {"", "0", "∅", "Ø", "nothing", "null"}


def parse_side(text: str) -> tuple[tuple[str, int], ...]:
    """Parse one side of an arrow: ``"A + 2 B"`` -> ``(("A", 1), ("B", 2))``."""
    text = text.strip()
    if text in _NOTHING:
        return ()
    counts: dict[str, int] = {}
    for term in text.split("+"):
        term = term.strip()
        m = _TERM.match(term)
        if not m:
            if not term:
                raise SpecError(f"empty term in {text!r}")
            raise SpecError(f"cannot read term {term!r} (expected e.g. 'A', '2 A' or '2A')")
        coef = int(m.group(1)) if m.group(1) else 1
        if coef == 0:
            raise SpecError(f"zero coefficient in term {term!r}")
        counts[m.group(2)] = counts.get(m.group(2), 0) + coef
    return tuple(counts.items())


def parse_equation(eq: str):
    """Parse ``"A + B -> C"`` into (reactants, products)."""
    if "<->" in eq or "<=>" in eq:
        raise SpecError(f"reversible arrow in {eq!r}: write the two directions as two reactions")
    parts = _ARROW.split(eq)
    if len(parts) != 2:
        raise SpecError(f"malformed reaction {eq!r}: expected exactly one '->'")
    return parse_side(parts[0]), parse_side(parts[1])


def validate_shape(raw: RawSpec, model=NetworkSpec):
    """Validate ``raw.data`` against a pydantic model; first error located."""
    try:
        return model.model_validate(raw.data)
    except ValidationError as exc:
        errors = exc.errors()
        err = errors[0]
        loc = tuple(err["loc"])
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = f"unknown key {loc[-1]!r}"
        elif err["type"] == "missing":
            msg = f"required key {loc[-1]!r} is missing"
        elif msg.startswith("Value error, "):
            msg = msg[len("Value error, ") :]
        # pydantic appends union-branch names such as 'int' or 'dict[str,any]' to the
        # location, one error per branch: the field is where they part, and the message
        # names every branch the value could have taken
        branches = []
        while loc and isinstance(loc[-1], str) and _is_branch(loc[-1]):
            branches.append(loc[-1])
            loc = loc[:-1]
        if branches:
            tried = [e["loc"][len(loc)] for e in errors
                     if tuple(e["loc"][: len(loc)]) == loc and len(e["loc"]) > len(loc)
                     and isinstance(e["loc"][len(loc)], str) and _is_branch(e["loc"][len(loc)])]  # fmt: skip
            kinds = list(dict.fromkeys(_BRANCH_WORDS.get(_branch_kind(b)) for b in tried))
            if kinds and None not in kinds:  # (a validator's branch: its own message)
                value = err.get("input")
                msg = f"expected {' or '.join(kinds)}, not {value!r}"
        raise raw.error(msg, loc) from None


#: what pydantic's union-branch tags in an error's location stand for
_BRANCH_WORDS = {"int": "a number", "float": "a number", "str": "a string",
                 "dict": "a mapping", "list": "a list", "bool": "true or false"}  # fmt: skip


def _branch_kind(tag: str) -> str:
    return tag.split("[")[0]


def _is_branch(tag: str) -> bool:
    """A union branch's tag (``int``, ``dict[str,any]``, ``function-after[...]``), not a key."""
    return _branch_kind(tag) in _BRANCH_WORDS or tag.startswith("function-after[")


def build_network(raw: RawSpec) -> ReactionNetwork:
    """Validate a raw spec and build the network model from it."""
    spec = validate_shape(raw)
    species = dict(spec.species)
    params = {k: float(v) for k, v in spec.parameters.items()}
    warnings: list[str] = []

    for name in list(species) + list(params) + list(spec.rules):
        where = "species" if name in species else "parameters" if name in params else "rules"
        if name == TIME:
            raise raw.error(f"{TIME!r} is the name of time and cannot be redefined", (where, name))
    for name in spec.rules:
        if name in species or name in params:
            raise raw.error(f"{name!r} is already a species or parameter", ("rules", name))
    for name in list(species) + list(params):
        if name in FUNCTIONS:
            where = "species" if name in species else "parameters"
            raise raw.error(
                f"{name!r} is a function name and cannot be a {where[:-1]}", (where, name)
            )
    for name in params:
        if name in species:
            raise raw.error(f"{name!r} is both a species and a parameter", ("parameters", name))

    # First pass: equations; undeclared species that only ever appear as
    # products are added with count 0 (a typo in a reactant stays an error).
    sides = []
    for j, r in enumerate(spec.reactions):
        try:
            sides.append(parse_equation(r.eq))
        except SpecError as exc:
            raise raw.error(exc.message, ("reactions", j, "eq")) from None
    reactant_names = {s for reac, _ in sides for s, _ in reac}
    for j, (reac, prod) in enumerate(sides):
        for s, _ in reac:
            if s not in species:
                raise raw.error(
                    f"unknown species {s!r} (declare it under 'species' with its initial count)",
                    ("reactions", j, "eq"),
                )
        for s, _ in prod:
            if s not in species:
                if s in params:
                    raise raw.error(f"{s!r} is a parameter, not a species", ("reactions", j, "eq"))
                if s in reactant_names:  # pragma: no cover - caught above
                    continue
                species[s] = 0
                warnings.append(
                    f"species {s!r} (a product of reactions[{j}]) is not declared; it starts at 0"
                )

    names_all = set(species) | set(params) | set(spec.rules)
    reactions = []
    for j, (r, (reac, prod)) in enumerate(zip(spec.reactions, sides)):
        if r.rate is not None:
            field = "rate"
            try:
                expr = parse_expression(r.rate, names_all)
            except SpecError as exc:
                raise raw.error(exc.message, ("reactions", j, field)) from None
            used = names_in(expr) & set(species)
            if used:
                raise raw.error(
                    f"a mass-action rate is a constant and cannot read species "
                    f"{sorted(used)[0]!r}; give the law as 'propensity' instead",
                    ("reactions", j, field),
                )
            reactions.append(Reaction(reac, prod, rate=expr, label=r.name or ""))
        else:
            try:
                expr = parse_expression(r.propensity, names_all)
            except SpecError as exc:
                raise raw.error(exc.message, ("reactions", j, "propensity")) from None
            reactions.append(Reaction(reac, prod, propensity=expr, label=r.name or ""))

    for i, name in enumerate(spec.boundary):
        if name not in species:
            raise raw.error(f"unknown species {name!r}", ("boundary", i))
    with_time = names_all | {TIME}
    rules = []
    for name, text in spec.rules.items():
        try:
            rules.append((name, parse_expression(text, with_time)))
        except SpecError as exc:
            raise raw.error(exc.message, ("rules", name)) from None
    events = []
    for e, ev in enumerate(spec.events):
        try:
            trigger = parse_expression(ev.trigger, with_time)
        except SpecError as exc:
            raise raw.error(exc.message, ("events", e, "trigger")) from None
        assigns = []
        for target, value in ev.assign.items():
            if target not in species:
                raise raw.error(
                    f"events can set species only; {target!r} is not one",
                    ("events", e, "assign", target),
                )
            try:
                assigns.append((target, parse_expression(value, with_time)))
            except SpecError as exc:
                raise raw.error(exc.message, ("events", e, "assign", target)) from None
        events.append(Event(trigger, tuple(assigns), ev.initial_value, ev.name or ""))
    if spec.record is not None:
        for i, name in enumerate(spec.record):
            if name not in species and name not in spec.rules:
                raise raw.error(
                    f"cannot record {name!r}: not a species or a rule variable", ("record", i)
                )

    settings = spec.ssa.model_dump()
    cme_settings = spec.cme.model_dump()
    return ReactionNetwork(
        name=spec.name,
        description=spec.description,
        species=tuple(species),
        initial=tuple(int(v) for v in species.values()),
        parameters=MappingProxyType(params),
        reactions=tuple(reactions),
        settings=MappingProxyType(settings),
        source_text=raw.text,
        source_path=raw.path,
        warnings=tuple(warnings),
        boundary=frozenset(spec.boundary),
        rules=tuple(rules),
        events=tuple(events),
        record=tuple(spec.record) if spec.record is not None else None,
        cme_settings=MappingProxyType(cme_settings),
    )


__all__ = ["build_network", "parse_equation", "parse_side", "validate_shape", "format_path"]
