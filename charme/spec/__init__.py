"""Reading problems from files: loaders, validation, safe expressions."""

from __future__ import annotations

from pathlib import Path

from charme.errors import SpecError


def load(path, overrides=None):
    """Read a spec file into a problem model (a :class:`ReactionNetwork` for now).

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
    else:
        from charme.spec.chain import build_chain, is_chain_spec
        from charme.spec.loader import read_spec
        from charme.spec.network import build_network

        raw = read_spec(path)
        from charme.spec.pde import build_pde, is_pde_spec

        if is_pde_spec(raw.data):
            if overrides:
                params = raw.data.get("parameters") or {}
                bad = [k for k in overrides if k not in params]
                if bad:
                    raise SpecError(
                        f"--set: {bad[0]!r} is not a parameter of this PDE", file=str(path)
                    )
                raw.data["parameters"] = {**params, **overrides}
            return build_pde(raw)
        if is_chain_spec(raw.data):
            if overrides:
                raise SpecError("--set does not apply to a markov-chain spec", file=str(path))
            return build_chain(raw)
        model = build_network(raw)
    if overrides:
        model = model.with_values(overrides)
    return model


def loads(text: str, fmt: str = "yaml", overrides=None):
    """Like :func:`load` but from a string of the given format."""
    from charme.spec.loader import parse_spec_text
    from charme.spec.network import build_network

    raw = parse_spec_text(text, "<string>", "." + fmt.lower().lstrip("."))
    model = build_network(raw)
    if overrides:
        model = model.with_values(overrides)
    return model


__all__ = ["load", "loads", "Path"]
