"""The reaction network model: a validated, immutable description.

A :class:`ReactionNetwork` knows species, initial counts, parameters and
reactions with either a mass-action rate constant or a general propensity.
It is what every solver of a Markov jump process consumes (SSA now, the
chemical master equation later) and it knows nothing of files.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from types import MappingProxyType

from charme.errors import SpecError
from charme.models.pickling import picklable
from charme.spec.expressions import Expr, evaluate, inline, names_in, to_source

#: The name of time in expressions (event triggers, rules).
TIME = "time"


@dataclass(frozen=True)
class Reaction:
    """One reaction channel.

    ``reactants`` and ``products`` are tuples of ``(species, coefficient)``.
    Exactly one of ``rate`` (mass-action stochastic rate constant, an
    expression of parameters) and ``propensity`` (an expression of species
    counts and parameters) is set.
    """

    reactants: tuple[tuple[str, int], ...]
    products: tuple[tuple[str, int], ...]
    rate: Expr | None = None
    propensity: Expr | None = None
    label: str = ""

    @property
    def mass_action(self) -> bool:
        return self.propensity is None

    def change(self) -> dict[str, int]:
        """Net change of each species when the reaction fires (zeros dropped)."""
        delta: dict[str, int] = {}
        for s, n in self.reactants:
            delta[s] = delta.get(s, 0) - n
        for s, n in self.products:
            delta[s] = delta.get(s, 0) + n
        return {s: d for s, d in delta.items() if d != 0}

    def equation(self) -> str:
        def side(terms):
            if not terms:
                return "0"
            return " + ".join(s if n == 1 else f"{n} {s}" for s, n in terms)

        return f"{side(self.reactants)} -> {side(self.products)}"

    def law(self) -> str:
        if self.mass_action:
            return f"mass action, c = {to_source(self.rate)}"
        return f"propensity {to_source(self.propensity)}"


@dataclass(frozen=True)
class Event:
    """An event without delay: when ``trigger`` goes from false to true, the
    species in ``assignments`` get their new values (computed from the state
    at that instant).  ``initial_value`` is the trigger's value assumed just
    before the start (SBML's ``initialValue``)."""

    trigger: Expr
    assignments: tuple[tuple[str, Expr], ...]
    initial_value: bool = True
    label: str = ""


@picklable
@dataclass(frozen=True)
class ReactionNetwork:
    """A reaction network with initial counts: a continuous-time Markov chain."""

    name: str
    species: tuple[str, ...]
    initial: tuple[int, ...]
    parameters: MappingProxyType
    reactions: tuple[Reaction, ...]
    description: str | None = None
    settings: MappingProxyType = field(default_factory=lambda: MappingProxyType({}))
    source_text: str = ""
    source_path: str = ""
    warnings: tuple[str, ...] = ()
    boundary: frozenset = frozenset()
    rules: tuple[tuple[str, Expr], ...] = ()
    events: tuple[Event, ...] = ()
    record: tuple[str, ...] | None = None
    cme_settings: MappingProxyType = field(default_factory=lambda: MappingProxyType({}))

    def __post_init__(self):
        if len(self.species) != len(self.initial):
            raise ValueError("species and initial counts differ in length")

    @property
    def n_species(self) -> int:
        return len(self.species)

    @property
    def n_reactions(self) -> int:
        return len(self.reactions)

    def parameter_values(self) -> dict[str, float]:
        return dict(self.parameters)

    def rate_constant(self, j: int) -> float:
        """Value of reaction ``j``'s mass-action constant with current parameters."""
        return evaluate(self.reactions[j].rate, self.parameters)

    def with_values(self, overrides: dict[str, float | int]) -> ReactionNetwork:
        """A copy with parameters and/or initial counts replaced (``--set``)."""
        params = dict(self.parameters)
        initial = list(self.initial)
        for key, value in overrides.items():
            if key in params:
                params[key] = float(value)
            elif key in self.species:
                if isinstance(value, bool) or float(value) != int(value) or int(value) < 0:
                    raise SpecError(
                        f"initial count of species {key!r} must be a non-negative integer, "
                        f"got {value!r}",
                        field=key,
                    )
                initial[self.species.index(key)] = int(value)
            else:
                known = ", ".join(sorted(list(params) + list(self.species)))
                raise SpecError(f"unknown parameter or species {key!r} (known: {known})")
        return dataclasses.replace(
            self, parameters=MappingProxyType(params), initial=tuple(initial)
        )

    def change(self, j: int) -> dict[str, int]:
        """Net change of reaction ``j``, boundary species left unchanged."""
        return {s: d for s, d in self.reactions[j].change().items() if s not in self.boundary}

    def expand(self, expr: Expr) -> Expr:
        """``expr`` with assignment rules inlined (still names of species, parameters, time)."""
        return inline(expr, dict(self.rules)) if self.rules else expr

    def species_read_by(self, j: int) -> set[str]:
        """Species whose counts reaction ``j``'s propensity depends on."""
        r = self.reactions[j]
        if r.mass_action:
            return {s for s, _ in r.reactants}
        return names_in(self.expand(r.propensity)) & set(self.species)

    def recording(self, names) -> ReactionNetwork:
        """A copy that records only ``names`` (species or rule variables)."""
        names = tuple(names)
        known = set(self.species) | {n for n, _ in self.rules}
        if not names:
            raise SpecError("--record needs at least one name")
        for n in names:
            if n not in known:
                raise SpecError(
                    f"cannot record {n!r}: not a species or rule variable "
                    f"(known: {', '.join(sorted(known))})"
                )
        return dataclasses.replace(self, record=names)

    @property
    def recorded(self) -> tuple[str, ...]:
        """Names written to results: ``record`` or every species then every rule."""
        if self.record is not None:
            return self.record
        return self.species + tuple(name for name, _ in self.rules)

    def summary(self) -> str:
        """Human-readable description (what ``charme validate`` prints)."""
        lines = [f"reaction network {self.name!r}"]
        if self.description:
            lines.append(f"  {self.description.strip()}")
        lines.append(f"  species ({self.n_species}):")
        for s, n in zip(self.species, self.initial):
            lines.append(f"    {s} = {n}")
        if self.parameters:
            lines.append(f"  parameters ({len(self.parameters)}):")
            for k, v in self.parameters.items():
                lines.append(f"    {k} = {v:g}")
        lines.append(f"  reactions ({self.n_reactions}):")
        width = max(len(r.equation()) for r in self.reactions)
        for j, r in enumerate(self.reactions):
            label = f" [{r.label}]" if r.label else ""
            lines.append(f"    {j:>3}{label}: {r.equation():<{width}}   {r.law()}")
        if self.boundary:
            lines.append(
                f"  boundary (never changed by reactions): {', '.join(sorted(self.boundary))}"
            )
        if self.rules:
            lines.append(f"  assignment rules ({len(self.rules)}):")
            for name, expr in self.rules:
                lines.append(f"    {name} := {to_source(expr)}")
        if self.events:
            lines.append(f"  events ({len(self.events)}):")
            for ev in self.events:
                sets = ", ".join(f"{k} = {to_source(v)}" for k, v in ev.assignments)
                label = f" [{ev.label}]" if ev.label else ""
                lines.append(f"    when {to_source(ev.trigger)}{label}: {sets}")
        if self.record is not None:
            lines.append(f"  recorded: {', '.join(self.record)}")
        if self.settings:
            opts = ", ".join(f"{k}={v}" for k, v in self.settings.items() if v is not None)
            lines.append(f"  ssa defaults: {opts}")
        return "\n".join(lines)
