"""Read SBML (Level 2 and 3, via python-libsbml) and Antimony into a ReactionNetwork.

Semantics kept (each tested): kinetic laws as propensities, read through
charme's safe expression parser from libsbml's formula strings (never run
as Python); local parameters shadowing globals; boundary and constant
species (never changed by reactions); compartments of any size and species
in concentration (``hasOnlySubstanceUnits=false``: the symbol means
count / size); integer stoichiometries other than 1; assignment rules
(inlined wherever read and recorded); function definitions and initial
assignments (expanded by libsbml's converters); events without delay.

Everything else that changes the dynamics is refused with a message naming
the SBML element and its line: delays, rate and algebraic rules, fast
reactions, event priorities, events setting parameters, packages
such as ``distrib``, constraints.  Reactions marked reversible are read
with their kinetic law as the propensity (a note says so, and a run stops
with an error if it turns negative): Antimony's ``->`` marks every reaction
reversible, whatever its law.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from types import MappingProxyType

from charme.errors import SpecError
from charme.models.network import TIME, Event, Reaction, ReactionNetwork
from charme.spec.expressions import parse_expression, replace_names, substitute

SBML_SUFFIXES = {".xml", ".sbml"}
ANTIMONY_SUFFIXES = {".ant", ".antimony"}
AVOGADRO = 6.02214076e23
_INTEGRAL_TOL = 1e-9


def _libsbml():
    try:
        import libsbml
    except ImportError:  # pragma: no cover - a declared dependency
        raise SpecError("reading SBML needs python-libsbml (pip install python-libsbml)") from None
    return libsbml


class _Reader:
    """One SBML document being turned into a network."""

    def __init__(self, doc, path: str, text: str, lines: bool = True):
        self.ls = _libsbml()
        self.doc = doc
        self.path = path
        self.text = text
        self.lines = lines  # False when the SBML was generated (from Antimony)
        self.warnings: list[str] = []

    # -- errors ---------------------------------------------------------------
    def error(self, message: str, element=None) -> SpecError:
        line = element.getLine() if element is not None and element.getLine() > 0 else None
        if not self.lines:
            line = None
        field = None
        if element is not None:
            kind = element.getElementName()
            ident = element.getIdAttribute() if hasattr(element, "getIdAttribute") else ""
            if not ident and hasattr(element, "getVariable"):
                ident = element.getVariable()
            field = f"{kind} {ident!r}" if ident else kind
        return SpecError(message, file=self.path, line=line, field=field)

    def check_document(self):
        ls = self.ls
        doc = self.doc
        errors = [
            doc.getError(i)
            for i in range(doc.getNumErrors())
            if doc.getError(i).getSeverity() >= ls.LIBSBML_SEV_ERROR
        ]
        if errors:
            e = errors[0]
            what = "invalid XML" if e.isXML() else "invalid SBML"
            raise SpecError(
                f"{what}: {e.getShortMessage() or e.getMessage().strip()}: "
                f"{' '.join(e.getMessage().split())[:300]}",
                file=self.path,
                line=(e.getLine() or None) if self.lines else None,
            )
        if doc.getModel() is None:
            raise SpecError("the SBML document has no model", file=self.path)
        for i in range(doc.getNumPlugins()):
            name = doc.getPlugin(i).getPackageName()
            if name != "l3v2extendedmath" and doc.isPackageEnabled(name):
                raise SpecError(f"SBML package {name!r} is not supported", file=self.path)
        if doc.getNumUnknownPackages() if hasattr(doc, "getNumUnknownPackages") else 0:
            raise SpecError(
                "the document uses an SBML package that is not supported", file=self.path
            )
        doc.setConsistencyChecks(ls.LIBSBML_CAT_UNITS_CONSISTENCY, False)
        doc.setConsistencyChecks(ls.LIBSBML_CAT_MODELING_PRACTICE, False)
        doc.checkConsistency()
        for i in range(doc.getNumErrors()):
            e = doc.getError(i)
            if e.getSeverity() >= ls.LIBSBML_SEV_ERROR:
                raise SpecError(
                    f"the SBML model fails libsbml's consistency checks: "
                    f"{' '.join(e.getMessage().split())[:300]}",
                    file=self.path,
                    line=(e.getLine() or None) if self.lines else None,
                )

    def convert(self):
        ls = self.ls
        for option in ("expandFunctionDefinitions", "expandInitialAssignments"):
            props = ls.ConversionProperties()
            props.addOption(option, True)
            if self.doc.convert(props) != ls.LIBSBML_OPERATION_SUCCESS:
                raise SpecError(f"libsbml could not apply {option} to this model", file=self.path)

    # -- math -------------------------------------------------------------------
    def _rewrite(self, node, element):
        """Check a libsbml AST and rewrite what the L3 string cannot carry."""
        ls = self.ls
        t = node.getType()
        if t == ls.AST_FUNCTION_DELAY:
            raise self.error("delay() is not supported", element)
        if hasattr(ls, "AST_FUNCTION_RATE_OF") and t == ls.AST_FUNCTION_RATE_OF:
            raise self.error("rateOf() is not supported", element)
        if t in (ls.AST_LOGICAL_XOR, getattr(ls, "AST_LOGICAL_IMPLIES", -1)):
            raise self.error("xor/implies are not supported", element)
        if t == ls.AST_NAME_AVOGADRO:
            node.setType(ls.AST_REAL)
            node.setValue(AVOGADRO)
        if t == ls.AST_FUNCTION_ROOT and node.getNumChildren() == 2:
            degree = node.getChild(0).deepCopy()
            radicand = node.getChild(1).deepCopy()
            node.setType(ls.AST_POWER)
            while node.getNumChildren():
                node.removeChild(0)
            inverse = ls.ASTNode(ls.AST_DIVIDE)
            one = ls.ASTNode(ls.AST_REAL)
            one.setValue(1.0)
            inverse.addChild(one)
            inverse.addChild(degree)
            node.addChild(radicand)
            node.addChild(inverse)
        for i in range(node.getNumChildren()):
            self._rewrite(node.getChild(i), element)

    def expr(self, math_node, element, names):
        """A charme expression from a libsbml math AST (via its L3 formula string)."""
        if math_node is None:
            raise self.error("has no math", element)
        node = math_node.deepCopy()
        self._rewrite(node, element)
        text = self.ls.formulaToL3String(node)
        text = re.sub(r"\bln\(", "log(", text)
        try:
            return parse_expression(text, names)
        except SpecError as exc:
            raise self.error(f"{exc.message} (in {text!r})", element) from None

    def side(self, refs, rx, rule_vars):
        """Reactants or products of reaction ``rx`` as ((species, count), ...)."""
        out: dict[str, int] = {}
        for ref in refs:
            if hasattr(ref, "isSetStoichiometryMath") and ref.isSetStoichiometryMath():
                raise self.error("stoichiometryMath is not supported", ref)
            sid = ref.getSpecies()
            if sid in rule_vars:
                raise self.error(f"species {sid!r} is set by a rule and by reactions", rx)
            st = ref.getStoichiometry() if ref.isSetStoichiometry() else 1.0
            if not math.isfinite(st) or st <= 0 or st != int(st):
                raise self.error(f"stoichiometry {st!r} of {sid!r} is not a positive integer", rx)
            out[sid] = out.get(sid, 0) + int(st)
        return tuple(out.items())

    # -- model ------------------------------------------------------------------
    def read(self) -> ReactionNetwork:
        self.check_document()
        self.convert()
        model = self.doc.getModel()

        for what, n, get in (("constraint", model.getNumConstraints(), model.getConstraint),):
            if n:
                raise self.error(f"{what}s are not supported", get(0))

        ids = set()
        for lst in (
            model.getListOfCompartments(),
            model.getListOfSpecies(),
            model.getListOfParameters(),
            model.getListOfReactions(),
        ):
            for el in lst:
                ids.add(el.getId())
        if TIME in ids:
            raise SpecError(
                f"an SBML id is {TIME!r}, which charme reserves for time; rename it", file=self.path
            )

        # rules
        rule_vars = {}
        for rule in model.getListOfRules():
            if rule.isRate():
                raise self.error(
                    "rate rules are not supported by exact stochastic simulation", rule
                )
            if rule.isAlgebraic():
                raise self.error("algebraic rules are not supported", rule)
            rule_vars[rule.getVariable()] = rule

        # compartments and parameters -> constants
        sizes: dict[str, float | None] = {}
        params: dict[str, float] = {}
        for c in model.getListOfCompartments():
            if c.getId() in rule_vars:
                raise self.error(
                    "a compartment set by a rule is not supported", rule_vars[c.getId()]
                )
            size = c.getSize() if c.isSetSize() else None
            if size is not None and not (math.isfinite(size) and size > 0):
                raise self.error(f"size {size!r} must be a finite number > 0", c)
            sizes[c.getId()] = size
            params[c.getId()] = size if size is not None else 1.0
        for p in model.getListOfParameters():
            if p.getId() in rule_vars:
                continue
            if not p.isSetValue() or not math.isfinite(p.getValue()):
                raise self.error("parameter has no (finite) value", p)
            params[p.getId()] = float(p.getValue())

        # species
        species: list[str] = []
        initial: list[int] = []
        boundary = set()
        conc: dict[str, float] = {}  # species in concentration -> its compartment size
        for sp in model.getListOfSpecies():
            sid = sp.getId()
            if sp.isSetConversionFactor() or model.isSetConversionFactor():
                raise self.error("conversion factors are not supported", sp)
            size = sizes.get(sp.getCompartment())
            if not sp.getHasOnlySubstanceUnits():
                if size is None:
                    raise self.error("a species in concentration needs its compartment's size", sp)
                conc[sid] = size
            if sid in rule_vars:
                continue
            if sp.isSetInitialAmount():
                amount = sp.getInitialAmount()
            elif sp.isSetInitialConcentration():
                if size is None:
                    raise self.error("initial concentration in a compartment without size", sp)
                amount = sp.getInitialConcentration() * size
            else:
                raise self.error("species has no initial amount or concentration", sp)
            if not math.isfinite(amount) or amount < 0:
                raise self.error(f"initial amount {amount!r} must be a non-negative number", sp)
            if abs(amount - round(amount)) > _INTEGRAL_TOL * max(1.0, abs(amount)):
                raise self.error(
                    f"initial amount {amount:g} is not a whole number of molecules, "
                    "as stochastic simulation needs",
                    sp,
                )
            species.append(sid)
            initial.append(int(round(amount)))
            if sp.getBoundaryCondition() or sp.getConstant():
                boundary.add(sid)

        names = set(params) | set(species) | set(rule_vars)
        with_time = names | {TIME}
        # a symbol of a species in concentration means count / size
        to_amount = {sid: ("div", ("name", sid), ("num", size)) for sid, size in conc.items()}

        def read_math(node, element, extra=None, allowed=with_time):
            e = self.expr(node, element, allowed | set(extra or {}))
            if extra:
                e = substitute(e, extra)
            return replace_names(e, {k: v for k, v in to_amount.items() if k not in (extra or {})})

        rules = []
        for var, rule in rule_vars.items():
            e = read_math(rule.getMath(), rule)
            if var in conc:  # the rule gives a concentration: record the amount
                e = ("mul", e, ("num", conc[var]))
            rules.append((var, e))

        reactions = []
        for rx in model.getListOfReactions():
            if rx.isSetFast() and rx.getFast():
                raise self.error("fast reactions are not supported", rx)
            if rx.getReversible():
                self.warnings.append(
                    f"reaction {rx.getId()!r} is marked reversible: its kinetic law is used "
                    "as the propensity, and a run stops with an error if it turns negative"
                )
            law = rx.getKineticLaw()
            if law is None or law.getMath() is None:
                raise self.error("reaction has no kinetic law", rx)
            local = {}
            lists = [law.getListOfParameters()]
            if hasattr(law, "getListOfLocalParameters"):
                lists.append(law.getListOfLocalParameters())
            for lst in lists:
                for lp in lst:
                    if not lp.isSetValue():
                        raise self.error("local parameter has no value", lp)
                    local[lp.getId()] = float(lp.getValue())
            propensity = read_math(law.getMath(), rx, extra=local)

            reactions.append(
                Reaction(
                    self.side(rx.getListOfReactants(), rx, rule_vars),
                    self.side(rx.getListOfProducts(), rx, rule_vars),
                    propensity=propensity,
                    label=rx.getId(),
                )
            )

        events = []
        for ev in model.getListOfEvents():
            if ev.isSetDelay():
                raise self.error("events with a delay are not supported", ev)
            if ev.isSetPriority():
                raise self.error("event priorities are not supported", ev)
            trig = ev.getTrigger()
            if trig is None:
                raise self.error("event has no trigger", ev)
            trigger = read_math(trig.getMath(), ev)
            assigns = []
            for ea in ev.getListOfEventAssignments():
                var = ea.getVariable()
                if var not in species:
                    raise self.error(
                        f"an event may only set species here; {var!r} is not a species "
                        "with its own count",
                        ea,
                    )
                value = read_math(ea.getMath(), ea)
                if var in conc:
                    value = ("mul", value, ("num", conc[var]))
                assigns.append((var, value))
            initial_value = trig.getInitialValue() if trig.isSetInitialValue() else True
            events.append(Event(trigger, tuple(assigns), bool(initial_value), ev.getId()))

        return ReactionNetwork(
            name=model.getId() or Path(self.path).stem,
            description=model.getName() or None,
            species=tuple(species),
            initial=tuple(initial),
            parameters=MappingProxyType(params),
            reactions=tuple(reactions),
            source_text=self.text,
            source_path=self.path,
            boundary=frozenset(boundary),
            rules=tuple(rules),
            events=tuple(events),
            warnings=tuple(self.warnings),
        )


def network_from_sbml_string(
    text: str, path: str = "<sbml>", lines: bool = True
) -> ReactionNetwork:
    """Read SBML text into a :class:`ReactionNetwork`.

    ``lines=False`` leaves line numbers out of error messages (for SBML
    generated from another format, whose lines the user never saw).
    """
    ls = _libsbml()
    doc = ls.readSBMLFromString(text)
    return _Reader(doc, path, text, lines).read()


def read_sbml(path) -> ReactionNetwork:
    """Read an SBML file (Level 2 or 3)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SpecError("no such file", file=str(path)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError(f"cannot read: {exc}", file=str(path)) from None
    return network_from_sbml_string(text, str(path))


def antimony_to_sbml(text: str, path: str = "<antimony>") -> str:
    """Convert Antimony text to SBML with the ``antimony`` package."""
    try:
        import antimony
    except ImportError:  # pragma: no cover - a declared dependency
        raise SpecError("reading Antimony needs the antimony package") from None
    antimony.clearPreviousLoads()
    if antimony.loadAntimonyString(text) < 0:
        message = " ".join(antimony.getLastError().split())
        m = re.search(r"line (\d+)", message)
        raise SpecError(
            f"invalid Antimony: {message[:300]}", file=path, line=int(m.group(1)) if m else None
        )
    module = antimony.getMainModuleName()
    sbml = antimony.getSBMLString(module)
    if not sbml:
        raise SpecError("antimony produced no SBML", file=path)
    return sbml


def read_antimony(path) -> ReactionNetwork:
    """Read an Antimony file (converted to SBML, then read as SBML)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SpecError("no such file", file=str(path)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError(f"cannot read: {exc}", file=str(path)) from None
    sbml = antimony_to_sbml(text, str(path))
    network = network_from_sbml_string(sbml, str(path), lines=False)
    import dataclasses

    return dataclasses.replace(network, source_text=text)
