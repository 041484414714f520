"""Reading problems from files: loaders, validation, safe expressions."""

from __future__ import annotations

from pathlib import Path

from charme.errors import SpecError


def load(path, overrides=None):
    """Read a spec file into a problem: a network, a Markov chain or a PDE.

    Parameters
    ----------
    path
        A ``.yaml``/``.yml``, ``.toml`` or ``.json`` spec, an SBML file
        (``.xml``, ``.sbml``) or an Antimony file (``.ant``, ``.antimony``).
    overrides
        Optional ``{name: value}`` replacing parameters or initial counts.

    Raises
    ------
    charme.errors.SpecError
        Located at file, line and field.
    """
    suffix = Path(path).suffix.lower()
    if suffix in (".xml", ".sbml", ".ant", ".antimony"):
        from charme.spec import sbml

        reader = sbml.read_antimony if suffix in sbml.ANTIMONY_SUFFIXES else sbml.read_sbml
        model = reader(path)
        return with_values(model, overrides) if overrides else model
    from charme.spec.loader import read_spec

    return _build(read_spec(path), overrides)


def loads(text: str, fmt: str = "yaml", overrides=None):
    """Like :func:`load` but from a string: ``fmt`` is ``yaml``, ``toml`` or ``json``.

    Any spec kind (network, ``markov-chain``, ``pde``) is accepted.
    """
    from charme.spec.loader import parse_spec_text

    kind = str(fmt).lower().lstrip(".")
    if kind not in ("yaml", "yml", "toml", "json"):
        raise SpecError(f"unknown format {fmt!r}: yaml, toml or json")
    return _build(parse_spec_text(text, "<string>", "." + kind), overrides)


#: the values of a spec's top-level ``kind`` (a spec without ``kind`` is a reaction network)
KINDS = ("reaction-network", "markov-chain", "pde")


def _check_kind(raw) -> None:
    """Refuse an unknown ``kind`` naming the known ones (not the network schema's one)."""
    if "kind" not in raw.data:
        return
    kind = raw.data["kind"]
    if isinstance(kind, str) and kind in KINDS:
        return
    hint = ""
    if isinstance(kind, str):
        close = [k for k in KINDS if k == kind.strip().lower().replace("_", "-")]
        hint = f" (did you mean {close[0]!r}?)" if close else ""
    raise raw.error(f"unknown kind {kind!r}: expected one of {', '.join(KINDS)}{hint}", ("kind",))


def _build(raw, overrides=None):
    """A problem from a parsed spec, with ``overrides`` applied."""
    from charme.spec.chain import build_chain, is_chain_spec
    from charme.spec.network import build_network
    from charme.spec.pde import build_pde, is_pde_spec

    _check_kind(raw)
    if is_pde_spec(raw.data):
        if overrides:
            params = raw.data.get("parameters") or {}
            bad = [k for k in overrides if k not in params]
            if bad:
                known = ", ".join(sorted(params)) or "none"
                raise SpecError(
                    f"{bad[0]!r} is not a parameter of this PDE (known: {known})", file=raw.path
                )
            raw.data["parameters"] = {**params, **overrides}
        return build_pde(raw)
    if is_chain_spec(raw.data):
        if overrides:
            raise SpecError("a markov-chain spec has no parameters to change", file=raw.path)
        return build_chain(raw)
    model = build_network(raw)
    return with_values(model, overrides) if overrides else model


def with_values(problem, overrides):
    """A copy of ``problem`` with parameters (and, for networks, initial counts) replaced.

    Works for every problem kind: a :class:`ReactionNetwork` changes in place
    of its values; a PDE is rebuilt from its source text, since parameters
    are folded into its expressions; a Markov chain has nothing to change.
    """
    from charme.spec.chain import MarkovChain
    from charme.spec.pde import FirstOrderPDE

    if not overrides:
        return problem
    if isinstance(problem, FirstOrderPDE):
        from charme.spec.loader import SPEC_SUFFIXES, parse_spec_text

        suffix = Path(problem.source_path).suffix.lower()
        suffix = suffix if suffix in SPEC_SUFFIXES else ".yaml"
        raw = parse_spec_text(problem.source_text, problem.source_path or "<string>", suffix)
        # (the values it has now, earlier overrides included, then the new ones: the
        # source text holds the file's)
        return _build(raw, {**dict(problem.parameters), **dict(overrides)})
    if isinstance(problem, MarkovChain):
        raise SpecError("a markov-chain spec has no parameters to change")
    return problem.with_values(overrides)


def kind_and_solvers(problem) -> tuple[str, tuple[str, ...]]:
    """What ``problem`` is, in words, and the solvers (``ssa``, ``cme``,
    ``characteristics``) that take it: the one place the CLI and sweeps ask."""
    from charme.models.network import ReactionNetwork
    from charme.spec.chain import MarkovChain
    from charme.spec.pde import FirstOrderPDE

    kinds = ((ReactionNetwork, "a reaction network", ("ssa", "cme")),
             (MarkovChain, "a markov-chain spec", ("cme",)),
             (FirstOrderPDE, "a PDE spec (kind: pde)", ("characteristics",)))  # fmt: skip
    for cls, kind, solvers in kinds:
        if isinstance(problem, cls):
            return kind, solvers
    return type(problem).__name__, ()


__all__ = ["load", "loads", "with_values"]
