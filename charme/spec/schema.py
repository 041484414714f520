"""Validated shape of charme's spec files (pydantic v2, ``extra="forbid"``).

This module only checks *shape* (keys, types, ranges).  Meaning (species
named in reactions exist, expressions use declared names) is checked when the
spec is turned into a model, in :mod:`charme.spec.network`.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, field_validator, model_validator

Identifier = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]
Number = float | int
NumberOrExpr = Annotated[Number | str, Field(union_mode="left_to_right")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SSASettings(_Strict):
    """Defaults for ``charme ssa``; command-line flags override each one."""

    t_end: Annotated[float, Field(gt=0, allow_inf_nan=False)] | None = Field(
        None, description="End time of every trajectory (> 0)."
    )
    points: Annotated[int, Field(ge=2)] = Field(
        101, description="Output times, equally spaced from 0 to t_end inclusive."
    )
    runs: Annotated[int, Field(ge=1)] = Field(1000, description="Number of trajectories.")
    seed: Annotated[int, Field(ge=0)] | None = Field(
        None, description="Seed of the ensemble; drawn at random (and recorded) if absent."
    )
    method: Literal["direct"] = Field("direct", description="Simulation algorithm.")
    max_steps: Annotated[int, Field(ge=1)] = Field(
        10**9, description="Step budget per trajectory; a run that exceeds it fails."
    )

    @field_validator("points", "runs", "seed", "max_steps", mode="before")
    @classmethod
    def _no_bools(cls, v):
        if isinstance(v, bool):
            raise ValueError("expected an integer, not a boolean")
        return v


class CMESettings(_Strict):
    """Defaults for ``charme cme``; command-line flags override each one."""

    t_end: Annotated[float, Field(gt=0, allow_inf_nan=False)] | None = None
    points: Annotated[int, Field(ge=2)] = 101
    tol: Annotated[float, Field(gt=0, lt=1)] = Field(
        1e-6, description="Certified L1 error (mass leaving the projection) at t_end."
    )
    method: Literal["auto", "krylov", "uniformization", "implicit"] = "auto"


class ReactionSpec(_Strict):
    """One reaction: an arrow equation and either a rate constant or a propensity."""

    eq: str = Field(description="Arrow equation, e.g. 'A + B -> C', '2 A -> 0', '-> A'.")
    rate: NumberOrExpr | None = Field(
        None,
        description="Mass action: the stochastic rate constant c (a number, a parameter "
        "name or an expression of parameters); propensity c * prod C(x_i, nu_i).",
    )
    propensity: NumberOrExpr | None = Field(
        None,
        description="Any rate law: the propensity itself, an expression of species "
        "counts and parameters (e.g. 'v*K^n/(K^n + B^n)').",
    )
    name: Identifier | None = Field(None, description="Optional label of the reaction.")

    @model_validator(mode="after")
    def _one_law(self):
        if (self.rate is None) == (self.propensity is None):
            raise ValueError("give exactly one of 'rate' (mass action) or 'propensity'")
        return self

    @field_validator("rate", "propensity", mode="before")
    @classmethod
    def _no_bools(cls, v):
        if isinstance(v, bool):
            raise ValueError("expected a number or an expression, not a boolean")
        return v


class EventSpec(_Strict):
    """An event without delay: when ``trigger`` turns true, set counts."""

    trigger: str = Field(
        description="Condition on species, parameters, rule variables and 'time', e.g. "
        "'time >= 25' or 'P2 > 30'; it fires when it goes from false to true."
    )
    assign: dict[Identifier, NumberOrExpr] = Field(
        min_length=1,
        description="Species and their new counts (expressions evaluated at the instant "
        "the trigger fires, all before any is assigned).",
    )
    initial_value: StrictBool = Field(
        True,
        description="Trigger value assumed just before the start: with false, a trigger "
        "already true at time 0 fires at time 0 (SBML initialValue).",
    )
    name: Identifier | None = None


class NetworkSpec(_Strict):
    """A chemical reaction network with initial counts (a Markov jump process)."""

    kind: Literal["reaction-network"] = "reaction-network"
    name: str = Field("model", description="Name of the model.")
    description: str | None = None
    species: dict[Identifier, Annotated[int, Field(ge=0)]] = Field(
        description="Species and their initial molecule counts (non-negative integers)."
    )
    parameters: dict[Identifier, Annotated[float, Field(allow_inf_nan=False)]] = Field(
        default_factory=dict, description="Named constants usable in rates and propensities."
    )
    reactions: list[ReactionSpec] = Field(min_length=1)
    boundary: list[Identifier] = Field(
        default_factory=list,
        description="Species held fixed: read by propensities, never changed by reactions "
        "(SBML boundary or constant species); events may still set them.",
    )
    rules: dict[Identifier, NumberOrExpr] = Field(
        default_factory=dict,
        description="Assignment rules: named quantities computed from species, parameters, "
        "other rules and 'time' whenever read; recorded with the species.",
    )
    events: list[EventSpec] = Field(default_factory=list)
    record: list[Identifier] | None = Field(
        None, description="What to write (default: every species, then every rule)."
    )
    ssa: SSASettings = Field(default_factory=SSASettings)
    cme: CMESettings = Field(default_factory=CMESettings)

    @field_validator("species", mode="before")
    @classmethod
    def _integer_counts(cls, v):
        if isinstance(v, dict):
            for key, count in v.items():
                if isinstance(count, bool) or (isinstance(count, float) and not count.is_integer()):
                    raise ValueError(f"initial count of {key!r} must be an integer, got {count!r}")
        return v

    @field_validator("parameters", mode="before")
    @classmethod
    def _numeric_parameters(cls, v):
        if isinstance(v, dict):
            for key, value in v.items():
                if isinstance(value, bool):
                    raise ValueError(f"parameter {key!r} must be a number, got {value!r}")
        return v


def merged_settings(defaults: type[BaseModel], *layers) -> dict:
    """``defaults``' values, overridden by each mapping in ``layers`` in turn (None skipped).

    The one place where spec defaults and command-line flags are combined.
    """
    out = defaults().model_dump()
    for layer in layers:
        out.update({k: v for k, v in dict(layer).items() if v is not None})
    return out


__all__ = [
    "merged_settings",
    "CMESettings",
    "EventSpec",
    "NetworkSpec",
    "ReactionSpec",
    "SSASettings",
]
