"""Write a :class:`ReactionNetwork` back out: charme's spec (YAML/JSON) or SBML.

``charme convert`` uses these so that a model read from SBML or Antimony
can be edited as a YAML spec, and a spec can be handed to SBML tools.  The
SBML written is Level 3 Version 1 with every species in amounts
(``hasOnlySubstanceUnits=true``) in one compartment of size 1, so counts and
propensities carry over unchanged.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from charme.errors import SpecError
from charme.models.network import ReactionNetwork
from charme.spec.expressions import Expr, names_in

# binding strength, loosest first
_PREC = {"or": 1, "and": 2, "not": 3, "lt": 4, "le": 4, "gt": 4, "ge": 4, "eq": 4, "ne": 4,
         "add": 5, "sub": 5, "mul": 6, "div": 6, "neg": 7, "pow": 8}  # fmt: skip
_OPS = {"add": "+", "sub": "-", "mul": "*", "div": "/", "pow": "^", "lt": "<", "le": "<=",
        "gt": ">", "ge": ">=", "eq": "==", "ne": "!="}  # fmt: skip


def _number(v: float) -> str:
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "INF" if v > 0 else "-INF"
    if v == int(v) and abs(v) < 1e15:
        return str(int(v))
    return repr(v)


def to_text(expr: Expr, dialect: str = "charme") -> str:
    """Readable infix text with as few parentheses as precedence allows.

    ``dialect="charme"`` is read back by :func:`parse_expression`;
    ``dialect="sbml"`` by libsbml's Level 3 formula parser (``&&``, ``||``,
    ``!``, ``ln``).
    """
    sbml = dialect == "sbml"

    def wrap(e, parent_prec, right=False):
        text = walk(e)
        p = _PREC.get(e[0], 99)
        if e[0] == "num" and e[1] < 0:
            p = _PREC["neg"]
        if p < parent_prec or (right and p == parent_prec and e[0] not in ("pow",)):
            return f"({text})"
        return text

    def walk(e):
        kind = e[0]
        if kind == "num":
            return _number(e[1])
        if kind == "name":
            return e[1]
        if kind == "neg":
            return "-" + wrap(e[1], _PREC["neg"])
        if kind == "not":
            return ("!" if sbml else "not ") + wrap(e[1], _PREC["not"] + (4 if sbml else 0))
        if kind == "select":
            return f"piecewise({walk(e[2])}, {walk(e[1])}, {walk(e[3])})"
        if kind == "call":
            name = "ln" if (sbml and e[1] == "log") else e[1]
            return f"{name}({', '.join(walk(a) for a in e[2])})"
        if kind in ("and", "or"):
            op = ("&&" if kind == "and" else "||") if sbml else kind
            return f"{wrap(e[1], _PREC[kind])} {op} {wrap(e[2], _PREC[kind], right=True)}"
        p = _PREC[kind]
        if kind == "pow":  # right-associative
            return f"{wrap(e[1], p + 1)}^{wrap(e[2], p)}"
        return f"{wrap(e[1], p)} {_OPS[kind]} {wrap(e[2], p, right=True)}"

    return walk(expr)


def _value(expr: Expr):
    """A number where the expression is one (so YAML writes it unquoted)."""
    if expr[0] == "num" and math.isfinite(expr[1]):
        return int(expr[1]) if expr[1].is_integer() and abs(expr[1]) < 1e15 else expr[1]
    return to_text(expr)


def network_to_dict(net: ReactionNetwork) -> dict:
    """The network as a spec mapping (the shape of :class:`NetworkSpec`)."""
    doc: dict = {"name": net.name}
    if net.description:
        doc["description"] = net.description
    doc["species"] = dict(zip(net.species, net.initial))
    if net.parameters:
        doc["parameters"] = {
            k: (int(v) if float(v).is_integer() else v) for k, v in net.parameters.items()
        }
    reactions = []
    for r in net.reactions:
        entry = {"eq": r.equation()}
        if r.mass_action:
            entry["rate"] = _value(r.rate)
        else:
            entry["propensity"] = _value(r.propensity)
        if r.label:
            entry["name"] = r.label
        reactions.append(entry)
    doc["reactions"] = reactions
    if net.boundary:
        doc["boundary"] = sorted(net.boundary)
    if net.rules:
        doc["rules"] = {name: _value(e) for name, e in net.rules}
    if net.events:
        doc["events"] = []
        for ev in net.events:
            entry = {
                "trigger": to_text(ev.trigger),
                "assign": {k: _value(v) for k, v in ev.assignments},
            }
            entry["initial_value"] = ev.initial_value
            if ev.label:
                entry["name"] = ev.label
            doc["events"].append(entry)
    if net.record is not None:
        doc["record"] = list(net.record)
    settings = {k: v for k, v in net.settings.items() if v is not None}
    if settings:
        doc["ssa"] = settings
    cme = {k: v for k, v in net.cme_settings.items() if v is not None}
    if cme:
        doc["cme"] = cme
    return doc


def network_to_yaml(net: ReactionNetwork) -> str:
    import yaml

    head = f"# converted by charme from {Path(net.source_path).name or 'a model'}\n"
    return head + yaml.safe_dump(
        network_to_dict(net),
        sort_keys=False,
        default_flow_style=None,
        width=100,
        allow_unicode=True,
    )


def network_to_json(net: ReactionNetwork) -> str:
    return json.dumps(network_to_dict(net), indent=2) + "\n"


def network_to_sbml(net: ReactionNetwork) -> str:
    """SBML Level 3 Version 1 text of the network (amounts, one unit compartment)."""
    import libsbml

    doc = libsbml.SBMLDocument(3, 1)
    model = doc.createModel()
    model.setId(_sbml_id(net.name))
    if net.description:
        model.setName(net.description.strip())
    comp = model.createCompartment()
    comp.setId("cell" if "cell" not in net.species and "cell" not in net.parameters else "cell_")
    comp.setSize(1.0)
    comp.setConstant(True)
    comp.setSpatialDimensions(3)
    for s, n in zip(net.species, net.initial):
        sp = model.createSpecies()
        sp.setId(s)
        sp.setCompartment(comp.getId())
        sp.setInitialAmount(float(n))
        sp.setHasOnlySubstanceUnits(True)
        sp.setBoundaryCondition(s in net.boundary)
        sp.setConstant(False)
    for k, v in net.parameters.items():
        p = model.createParameter()
        p.setId(k)
        p.setValue(float(v))
        p.setConstant(True)
    for name, expr in net.rules:
        p = model.createParameter()
        p.setId(name)
        p.setConstant(False)
        rule = model.createAssignmentRule()
        rule.setVariable(name)
        rule.setMath(_math(expr, f"rules.{name}"))
    for j, r in enumerate(net.reactions):
        rx = model.createReaction()
        rx.setId(r.label or f"R{j}")
        rx.setReversible(False)
        rx.setFast(False)
        for side, create in ((r.reactants, rx.createReactant), (r.products, rx.createProduct)):
            for s, n in side:
                ref = create()
                ref.setSpecies(s)
                ref.setStoichiometry(float(n))
                ref.setConstant(True)
        if not r.mass_action:
            listed = {s for s, _ in r.reactants} | {s for s, _ in r.products}
            for s in sorted(names_in(net.expand(r.propensity)) & set(net.species) - listed):
                rx.createModifier().setSpecies(s)
        law = rx.createKineticLaw()
        law.setMath(
            _math(_mass_action_law(r) if r.mass_action else r.propensity, f"reactions[{j}]")
        )
    for e, ev in enumerate(net.events):
        event = model.createEvent()
        event.setId(ev.label or f"E{e}")
        event.setUseValuesFromTriggerTime(True)
        trig = event.createTrigger()
        trig.setInitialValue(ev.initial_value)
        trig.setPersistent(True)
        trig.setMath(_math(ev.trigger, f"events[{e}].trigger"))
        for target, value in ev.assignments:
            ea = event.createEventAssignment()
            ea.setVariable(target)
            ea.setMath(_math(value, f"events[{e}].assign.{target}"))
    return libsbml.writeSBMLToString(doc)


def _mass_action_law(r) -> Expr:
    """c * prod_i x_i (x_i - 1) ... / nu_i! as an expression."""
    e: Expr = r.rate
    for s, n in r.reactants:
        for i in range(n):
            term = ("name", s) if i == 0 else ("sub", ("name", s), ("num", float(i)))
            e = ("mul", e, term)
        if n > 1:
            e = ("div", e, ("num", float(math.factorial(n))))
    return e


def _math(expr: Expr, where: str):
    import libsbml

    text = to_text(expr, "sbml")
    node = libsbml.parseL3Formula(text)
    if node is None:
        raise SpecError(
            f"{where}: cannot express {text!r} in SBML: {libsbml.getLastParseL3Error()}"
        )
    return node


def _sbml_id(name: str) -> str:
    import re

    ident = re.sub(r"\W", "_", name) or "model"
    return ident if not ident[0].isdigit() else "m_" + ident


WRITERS = {".yaml": network_to_yaml, ".yml": network_to_yaml, ".json": network_to_json,
           ".xml": network_to_sbml, ".sbml": network_to_sbml}  # fmt: skip


def write_network(net: ReactionNetwork, path, overwrite: bool = False) -> Path:
    """Write the network in the format of ``path``'s suffix, atomically."""
    import os

    p = Path(path)
    if not isinstance(net, ReactionNetwork):
        raise SpecError("only reaction networks can be converted (not a markov-chain or PDE spec)")
    writer = WRITERS.get(p.suffix.lower())
    if writer is None:
        raise SpecError(f"cannot write {p.suffix!r}: use one of " + ", ".join(WRITERS), file=str(p))
    if not p.parent.exists():
        raise SpecError("directory does not exist", file=str(p.parent))
    if p.exists() and not overwrite:
        raise SpecError("file exists (use --overwrite to replace it)", file=str(p))
    text = writer(net)
    partial = p.with_name(p.name + ".partial")
    try:
        partial.write_text(text, encoding="utf-8")
        os.replace(partial, p)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return p
