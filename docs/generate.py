"""Generate the parts of charme's documentation that must not drift from the code.

- ``docs/spec-reference.md``: one table per spec model (fields, types,
  defaults, meanings, examples), built from the pydantic models and their
  JSON Schema.  The network schema is read from ``charme schema`` itself.
- ``docs/cli-reference.md``: every command of ``charme.cli.main.COMMANDS``
  (aliases skipped) with its usage, help and options, read from Click.
- ``docs/api.md``: the signatures of the public Python API.
- ``docs/kernels.md``: an index of every name in ``charme.kernels.__all__``.

Generated text lives between ``<!-- BEGIN GENERATED: key -->`` and
``<!-- END GENERATED: key -->`` markers; everything else in those files is
written by hand and left alone.

Fails (exit 1, the problems listed) when a schema field has no meaning (no
``Field(description=...)`` in the model and no entry in :data:`DESCRIPTIONS`),
when a hand-written entry names a field that no longer exists or repeats a
description the model now has, when a field has no example or an example
that the field's type rejects.  A command whose module cannot be imported
yet is skipped with a warning, so that running the script later picks it up.

Usage::

    python docs/generate.py           # rewrite the generated blocks
    python docs/generate.py --check   # exit 1 if any block is stale
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import json
import re
import sys
import typing
import warnings
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

IDENT = "^[A-Za-z_][A-Za-z0-9_]*$"

# ---------------------------------------------------------------------------
# Hand-written text for what the models do not describe themselves.
# Keys are field paths: KIND.field, KIND.table.field, KIND.list[].field.
# ---------------------------------------------------------------------------

#: meanings of fields whose model has no ``Field(description=...)``
DESCRIPTIONS = {
    "network.kind": "Spec kind; may be omitted (a spec without `kind` is a reaction network).",
    "network.description": "Free text, printed by `charme validate` and stored in results.",
    "network.reactions": "The reactions, at least one (table `reactions[]`).",
    "network.events": "Events without delay (table `events[]`), checked after every firing "
    "and at the times their time conditions name.",
    "network.ssa": "Defaults of `charme ssa` (table `ssa`); command-line flags override them.",
    "network.cme": "Defaults of `charme cme` (table `cme`); command-line flags override them.",
    "network.events[].name": "Optional label of the event.",
    "network.cme.t_end": "End time of the transient solution (> 0); required unless given by "
    "`--t-end` or `--steady-state` is used.",
    "network.cme.points": "Output times, equally spaced from 0 to t_end inclusive.",
    "network.cme.method": "Time integrator: `uniformization` (rigorous bound), `krylov` "
    "(Expokit expv), `implicit` (SciPy BDF), or `auto` (chosen from the work lam*t "
    "and the number of states).",
    "markov-chain.description": "Free text, printed by `charme validate` and stored in results.",
    "markov-chain.cme": "Defaults of `charme cme` for the chain (table `cme`).",
    "markov-chain.cme.t_end": "End time of the transient solution (> 0); required unless given "
    "by `--t-end` or `--steady-state` is used.",
    "markov-chain.cme.points": "Output times, equally spaced from 0 to t_end inclusive.",
    "markov-chain.cme.method": "Time integrator: `uniformization`, `krylov`, `implicit` or "
    "`auto` (as for networks).",
    "pde.kind": "Must be `pde`.",
    "pde.name": "Name of the problem.",
    "pde.description": "Free text, printed by `charme validate` and stored in results.",
    "pde.unknown": "Name of the unknown function; its first derivatives are written "
    "`<unknown>_<variable>` (`u_t`, `u_x`).",
    "pde.variables": "The independent variables, in order (at least two, distinct). The grid "
    "and the result use this order.",
    "pde.equation": "The equation F(x, u, grad u) = 0, written `lhs = rhs` or as one expression "
    "equal to zero, e.g. `u_t + u*u_x = 0`; parsed by the safe expression parser (no "
    "conditions).",
    "pde.parameters": "Named constants usable in the equation and the Cauchy data (folded in "
    "before compiling; `--set` and `with_values` change them).",
    "pde.initial": "Cauchy data: a mapping with the manifold's `parameters` ({name: [start, "
    "stop, count]}, n-1 of them), one expression per variable and one for the unknown over "
    "those parameters, and optionally `guess` ({u_x: expression}, starting gradient for fully "
    "nonlinear equations) and `branch` (+1 or -1: the sign of the gradient's component along "
    "the data's normal); or the shorthand string `u(x, t=0) = g(x)` for evolution problems.",
    "pde.grid": "Output grid: for every variable `[start, stop, count]` (count >= 1; start < "
    "stop when count > 1).",
    "pde.characteristics": "Defaults of `charme characteristics` (table `characteristics`).",
    "pde.characteristics.rtol": "Relative tolerance of the Dormand-Prince 8(5,3) ray integrator.",
    "pde.characteristics.atol": "Absolute tolerance of the ray integrator.",
    "pde.characteristics.crossing": "After characteristics cross: `stop` (solution up to the "
    "first crossing), `multivalued` (every branch), `viscosity` (Hopf-Lax minimum / first "
    "arrival), `shock` (Lax-Oleinik entropy solution); see the CLI reference.",
    "pde.characteristics.evaluation": "How grid points get their values: `newton` (each "
    "point's own ray, near machine precision), `hermite` (cubic Hermite between rays, 1-D "
    "evolution problems), `raster` (bicubic ray cells, big 2-D grids without an evolution "
    "variable; fourth order in the ray spacing).",
}

#: introductions of tables whose model has no docstring
MODEL_TEXT = {
    "pde.characteristics": "Defaults for `charme characteristics`; command-line flags "
    "override each one.",
}

#: clearer types for fields the schema leaves open (``Any``)
TYPES = {
    "markov-chain.labels": "list of strings, or string (path of a label file)",
    "markov-chain.initial": "mapping label → number, or list of numbers",
}

#: one example per field, as YAML ``field: value`` (validated against the field's type)
EXAMPLES = {
    "network.kind": "kind: reaction-network",
    "network.name": "name: toggle",
    "network.description": "description: Two repressors.",
    "network.species": "species: {A: 0, B: 10}",
    "network.parameters": "parameters: {k1: 1.0, K: 20}",
    "network.reactions": 'reactions: [{eq: "A + B -> C", rate: k1}]',
    "network.boundary": "boundary: [S]",
    "network.rules": 'rules: {total: "A + 2*B"}',
    "network.events": 'events: [{trigger: "time >= 25", assign: {A: 50}}]',
    "network.record": "record: [A, total]",
    "network.ssa": "ssa: {t_end: 50, runs: 1000, seed: 1}",
    "network.cme": "cme: {t_end: 10, tol: 1.0e-8}",
    "network.reactions[].eq": 'eq: "2 A -> B"',
    "network.reactions[].rate": 'rate: "k1/2"',
    "network.reactions[].propensity": 'propensity: "v*K^n/(K^n + B^n)"',
    "network.reactions[].name": "name: dimerisation",
    "network.events[].trigger": 'trigger: "P2 > 30 && time > 5"',
    "network.events[].assign": 'assign: {A: 0, B: "B + 10"}',
    "network.events[].initial_value": "initial_value: false",
    "network.events[].name": "name: knockout",
    "network.ssa.t_end": "t_end: 50",
    "network.ssa.points": "points: 51",
    "network.ssa.runs": "runs: 10000",
    "network.ssa.seed": "seed: 7",
    "network.ssa.method": "method: direct",
    "network.ssa.max_steps": "max_steps: 100000000",
    "network.cme.t_end": "t_end: 10",
    "network.cme.points": "points: 11",
    "network.cme.tol": "tol: 1.0e-8",
    "network.cme.method": "method: uniformization",
    "markov-chain.kind": "kind: markov-chain",
    "markov-chain.name": "name: three_state",
    "markov-chain.description": "description: Off, on, blocked.",
    "markov-chain.generator": "generator: three_state_chain.mtx",
    "markov-chain.convention": "convention: rows",
    "markov-chain.labels": "labels: [off, on, blocked]",
    "markov-chain.initial": "initial: {off: 1.0}",
    "markov-chain.cme": "cme: {t_end: 5, points: 11}",
    "markov-chain.cme.t_end": "t_end: 5",
    "markov-chain.cme.points": "points: 11",
    "markov-chain.cme.tol": "tol: 1.0e-10",
    "markov-chain.cme.method": "method: krylov",
    "pde.kind": "kind: pde",
    "pde.name": "name: burgers",
    "pde.description": "description: Inviscid Burgers from a sine.",
    "pde.unknown": "unknown: u",
    "pde.variables": "variables: [t, x]",
    "pde.equation": 'equation: "u_t + u*u_x = 0"',
    "pde.parameters": "parameters: {c: 0.5}",
    "pde.initial": 'initial: "u(x, t=0) = sin(x)"',
    "pde.grid": "grid: {t: [0, 0.9, 10], x: [0, 6.283185307179586, 201]}",
    "pde.characteristics": "characteristics: {crossing: shock}",
    "pde.characteristics.rtol": "rtol: 1.0e-10",
    "pde.characteristics.atol": "atol: 1.0e-12",
    "pde.characteristics.crossing": "crossing: viscosity",
    "pde.characteristics.evaluation": "evaluation: raster",
}

#: spec kinds: (key, root pydantic model); the network's JSON Schema is `charme schema`'s
KINDS = (
    ("network", "charme.spec.schema:NetworkSpec"),
    ("markov-chain", "charme.spec.chain:ChainSpec"),
    ("pde", "charme.spec.pde:PDESpec"),
)

#: the public Python API whose signatures go into docs/api.md (resolved through
#: charme's lazy top-level names, so the docs follow wherever they point)
API = (
    ("charme.load", "charme:load"),
    ("charme.loads", "charme:loads"),
    ("charme.spec.with_values", "charme.spec:with_values"),
    ("ReactionNetwork.with_values", "charme.models.network:ReactionNetwork.with_values"),
    ("charme.simulate", "charme:simulate"),
    ("charme.solve_cme", "charme:solve_cme"),
    ("charme.solve_pde", "charme:solve_pde"),
    ("charme.sweep", "charme:sweep"),
    ("charme.open_result", "charme:open_result"),
    ("Result.to_xarray", "charme:Result.to_xarray"),
    ("Result.write", "charme:Result.write"),
)


class DocError(Exception):
    """A problem that makes the documentation wrong; listed and exit 1."""


def _import(target: str):
    module, _, attr = target.partition(":")
    obj = importlib.import_module(module)
    for part in attr.split(".") if attr else ():
        obj = getattr(obj, part)
    return obj


# ---------------------------------------------------------------------------
# Spec reference
# ---------------------------------------------------------------------------


def network_schema() -> dict:
    """The JSON Schema exactly as ``charme schema`` prints it."""
    from click.testing import CliRunner

    from charme.cli.main import cli

    result = CliRunner().invoke(cli, ["schema"])
    if result.exit_code != 0:
        raise DocError(f"`charme schema` failed: {result.output}")
    return json.loads(result.output)


def _models_by_name(root) -> dict:
    """Every pydantic model reachable from ``root``'s fields, by class name."""
    from pydantic import BaseModel

    found = {}

    def visit(tp):
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            if tp.__name__ not in found:
                found[tp.__name__] = tp
                for f in tp.model_fields.values():
                    visit(f.annotation)
            return
        for arg in typing.get_args(tp):
            visit(arg)

    visit(root)
    return found


def _num(v) -> str:
    return str(int(v)) if float(v).is_integer() and abs(v) < 1e15 else repr(v)


def _bounds(s: dict) -> str:
    lo = (">", s["exclusiveMinimum"]) if "exclusiveMinimum" in s else None
    lo = lo or ((">=", s["minimum"]) if "minimum" in s else None)
    hi = ("<", s["exclusiveMaximum"]) if "exclusiveMaximum" in s else None
    hi = hi or (("<=", s["maximum"]) if "maximum" in s else None)
    if lo and hi:
        left = "(" if lo[0] == ">" else "["
        right = ")" if hi[0] == "<" else "]"
        return f" in {left}{_num(lo[1])}, {_num(hi[1])}{right}"
    if lo:
        return f" {lo[0].replace('>=', '≥')} {_num(lo[1])}"
    if hi:
        return f" {hi[0].replace('<=', '≤')} {_num(hi[1])}"
    return ""


def render_type(s: dict, ref_paths: dict) -> str:
    """A short human type for a JSON Schema node."""
    if "$ref" in s:
        return f"object (table `{ref_paths[s['$ref'].split('/')[-1]]}`)"
    if "anyOf" in s:
        parts = [p for p in s["anyOf"] if p.get("type") != "null"]
        kinds = [render_type(p, ref_paths) for p in parts]
        if "number" in kinds and "integer" in kinds:
            kinds.remove("integer")
        if kinds == ["number", "string"]:
            return "number or string (expression)"
        return " or ".join(dict.fromkeys(kinds))
    if "const" in s:
        return f"`{s['const']}`"
    if "enum" in s:
        return " | ".join(f"`{v}`" for v in s["enum"])
    t = s.get("type")
    if t == "string":
        if s.get("pattern") == IDENT:
            return "identifier"
        literal = re.fullmatch(r"\^([\w-]+)\$", s.get("pattern", ""))
        if literal:
            return f"`{literal.group(1)}`"
        if "pattern" in s:
            return f"string matching `{s['pattern']}`"
        return "non-empty string" if s.get("minLength") else "string"
    if t in ("number", "integer"):
        return t + _bounds(s)
    if t == "boolean":
        return "boolean"
    if t == "array":
        if "prefixItems" in s:
            return "[" + ", ".join(render_type(p, ref_paths) for p in s["prefixItems"]) + "]"
        item = render_type(s.get("items", {}), ref_paths)
        least = f", at least {s['minItems']}" if s.get("minItems") else ""
        return f"list of {item}{least}"
    if t == "object":
        if "patternProperties" in s:
            (pattern, value), *_ = s["patternProperties"].items()
            key = "identifier" if pattern == IDENT else f"`{pattern}`"
            return f"mapping {key} → {render_type(value, ref_paths)}"
        return "mapping"
    return "any"


def _default_text(field, is_table: bool) -> str:
    from pydantic import BaseModel
    from pydantic_core import PydanticUndefined

    if field.is_required():
        return "**required**"
    value = field.get_default(call_default_factory=True)
    if value is PydanticUndefined:
        return "**required**"
    if isinstance(value, BaseModel) or (value is None and is_table):
        return "(see table)" if isinstance(value, BaseModel) else "`null`"
    if value is None:
        return "`null`"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, (dict, list)):
        return f"`{json.dumps(value)}`"
    if isinstance(value, float):
        return f"`{value:g}`"
    return f"`{value}`"


def _cell(text: str) -> str:
    """One Markdown table cell: one line, pipes escaped, Sphinx roles and ``x`` made plain."""
    text = re.sub(r":\w+:`~?([^`]+)`", r"`\1`", str(text)).replace("``", "`")
    return " ".join(text.split()).replace("|", "\\|")


def _check_example(path, name, field, problems):
    import yaml
    from pydantic import TypeAdapter, ValidationError

    text = EXAMPLES.get(path)
    if text is None:
        problems.append(f"{path}: no example (add one to EXAMPLES in docs/generate.py)")
        return ""
    try:
        parsed = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        problems.append(f"{path}: example is not YAML ({exc})")
        return ""
    if not (isinstance(parsed, dict) and list(parsed) == [name]):
        problems.append(f"{path}: example must be '{name}: VALUE', got {text!r}")
        return ""
    annotation = field.annotation
    if field.metadata:
        annotation = typing.Annotated[(annotation, *field.metadata)]
    try:
        TypeAdapter(annotation).validate_python(parsed[name])
    except ValidationError as exc:
        problems.append(f"{path}: example {text!r} is rejected: {exc.errors()[0]['msg']}")
    return text


def spec_tables(kind: str, schema: dict, root_model, problems: list, seen: set) -> str:
    """Markdown tables for one spec kind (the root model and every nested model)."""
    defs = schema.get("$defs", {})
    classes = _models_by_name(root_model)
    # table path of each nested model, in order of first appearance
    order = [(kind, schema, root_model)]
    ref_paths: dict[str, str] = {}

    def refs_in(node):
        if isinstance(node, dict):
            if "$ref" in node:
                yield node["$ref"].split("/")[-1]
            for v in node.values():
                yield from refs_in(v)
        elif isinstance(node, list):
            for v in node:
                yield from refs_in(v)

    queue = [(kind, schema)]
    while queue:
        prefix, node = queue.pop(0)
        for fname, prop in node.get("properties", {}).items():
            for ref in refs_in(prop):
                if ref in ref_paths:
                    continue
                suffix = "[]" if prop.get("type") == "array" else ""
                path = f"{prefix}.{fname}{suffix}"
                ref_paths[ref] = path.split(".", 1)[1]
                order.append((path, defs[ref], classes[ref]))
                queue.append((path, defs[ref]))

    out = []
    for path, node, model in order:
        fields = model.model_fields
        props = node.get("properties", {})
        if set(props) != set(fields):
            problems.append(
                f"{path}: schema fields {sorted(props)} differ from model {sorted(fields)}"
            )
        heading = f"{kind}: top level" if path == kind else f"{kind}: `{path.split('.', 1)[1]}`"
        intro = node.get("description") or model.__doc__
        if not intro:
            intro = MODEL_TEXT.get(path)
            if intro is None:
                problems.append(f"{path}: the model has no docstring and MODEL_TEXT no entry")
        elif path in MODEL_TEXT:
            problems.append(f"{path}: MODEL_TEXT repeats the model's docstring; remove it")
        seen.add(("model", path))
        out.append(f"### {heading}\n")
        if intro:
            out.append(_cell(inspect.cleandoc(intro)) + "\n")
        out.append("| Field | Type | Default | Meaning | Example |")
        out.append("|---|---|---|---|---|")
        for name, prop in props.items():
            fpath = f"{path}.{name}"
            seen.add(("field", fpath))
            field = fields[name]
            meaning = prop.get("description") or field.description
            if meaning and fpath in DESCRIPTIONS:
                problems.append(f"{fpath}: described by the model and in DESCRIPTIONS; remove the "
                                "DESCRIPTIONS entry")  # fmt: skip
            meaning = meaning or DESCRIPTIONS.get(fpath)
            if not meaning:
                problems.append(f"{fpath}: no description (add Field(description=...) to the "
                                "model or an entry to DESCRIPTIONS)")  # fmt: skip
                meaning = ""
            type_text = TYPES.get(fpath) or render_type(prop, ref_paths)
            if fpath in TYPES and render_type(prop, ref_paths) != "any":
                problems.append(f"{fpath}: TYPES overrides a schema type; remove the entry")
            is_table = any(True for _ in refs_in(prop))
            default = _default_text(field, is_table)
            if "default" in prop and not is_table:
                expect = field.get_default(call_default_factory=True)
                if prop["default"] != expect:
                    problems.append(f"{fpath}: schema default {prop['default']!r} differs "
                                    f"from the model's {expect!r}")  # fmt: skip
            example = _check_example(fpath, name, field, problems)
            required = name in node.get("required", [])
            if required != field.is_required():
                problems.append(f"{fpath}: required in the schema but not in the model (or back)")
            out.append(
                f"| `{name}` | {_cell(type_text)} | {default} | "
                f"{_cell(meaning)} | `{_cell(example)}` |"
            )
        out.append("")
    return "\n".join(out).rstrip() + "\n"


def spec_blocks(problems: list) -> dict:
    seen: set = set()
    blocks = {}
    for key, target in KINDS:
        model = _import(target)
        schema = network_schema() if key == "network" else model.model_json_schema()
        blocks[f"spec:{key}"] = spec_tables(key, schema, model, problems, seen)
    for table, keys in (("DESCRIPTIONS", DESCRIPTIONS), ("EXAMPLES", EXAMPLES), ("TYPES", TYPES)):
        for path in keys:
            if ("field", path) not in seen:
                problems.append(f"{table}[{path!r}]: no such field in any spec model (stale)")
    for path in MODEL_TEXT:
        if ("model", path) not in seen:
            problems.append(f"MODEL_TEXT[{path!r}]: no such table (stale)")
    return blocks


# ---------------------------------------------------------------------------
# CLI reference
# ---------------------------------------------------------------------------


def _unset(value) -> bool:
    return value is None or type(value).__name__ == "Sentinel" or repr(value).endswith("UNSET")


def _param_type(param, ctx) -> str:
    import click

    t = param.type
    if isinstance(param, click.Option) and param.is_flag:
        return "flag"
    if isinstance(t, click.Choice):
        return " | ".join(f"`{c}`" for c in t.choices)
    if isinstance(t, (click.IntRange, click.FloatRange)):
        base = "integer" if isinstance(t, click.IntRange) else "number"
        s = {}
        if t.min is not None:
            s["exclusiveMinimum" if t.min_open else "minimum"] = t.min
        if t.max is not None:
            s["exclusiveMaximum" if t.max_open else "maximum"] = t.max
        return base + _bounds(s)
    if param.metavar:
        return f"`{param.metavar}`"
    if isinstance(t, click.Path):
        return "path"
    return {"INTEGER": "integer", "FLOAT": "number", "TEXT": "text", "STRING": "text"}.get(
        t.name.upper(), t.name.lower()
    )


def _help_text(text: str) -> str:
    """Click help (``\\b`` keeps a paragraph's line breaks) as Markdown."""
    paras = re.split(r"\n\s*\n", inspect.cleandoc(text or ""))
    out = []
    for para in paras:
        lines = para.splitlines()
        if lines and lines[0].strip() == "\b":
            out.append("```text\n" + "\n".join(lines[1:]) + "\n```")
        else:
            out.append(" ".join(" ".join(lines).split()))
    return "\n\n".join(p for p in out if p)


def render_command(cmd, ctx, title: str, short: str | None, aliases=(), commands=None) -> str:
    import click

    out = [f"## `{title}`\n"]
    if short:
        out.append(f"*{short}*\n")
    if aliases:
        out.append("Alias: " + ", ".join(f"`charme {a}`" for a in aliases) + ".\n")
    pieces = " ".join(cmd.collect_usage_pieces(ctx))
    out.append(f"```text\n{title} {pieces}\n```\n")
    if cmd.help:
        out.append(_help_text(cmd.help) + "\n")
    args = [p for p in cmd.get_params(ctx) if isinstance(p, click.Argument)]
    opts = [p for p in cmd.get_params(ctx) if isinstance(p, click.Option)]
    if args:
        out.append("Arguments: " + ", ".join(
            f"`{p.make_metavar(ctx)}` ({_param_type(p, ctx)}"
            + (", required" if p.required else "") + (", repeatable" if p.multiple else "") + ")"
            for p in args) + ".\n")  # fmt: skip
    if commands:
        out.append("| Command | What it does |")
        out.append("|---|---|")
        out.extend(f"| `{name}` | {_cell(text)} |" for name, text in commands)
        out.append("")
    elif isinstance(cmd, click.Group):
        names = ", ".join(f"`{n}`" for n in cmd.list_commands(ctx))
        out.append(f"Subcommands: {names}.\n")
    if opts:
        out.append("| Option | Value | Default | Meaning |")
        out.append("|---|---|---|---|")
        for p in opts:
            # short options first (Click builds the help option's names from a set)
            ordered = sorted((*p.opts, *p.secondary_opts), key=lambda o: o.startswith("--"))
            names = ", ".join(f"`{o}`" for o in ordered)
            value = _param_type(p, ctx)
            if p.multiple:
                value += " (repeatable)"
            default = p.get_default(ctx, call=False)
            if p.is_flag:
                default_text = "off" if not default else "on"
            elif _unset(default) or default == ():
                default_text = "—"
            else:
                default_text = f"`{default}`"
            out.append(f"| {names} | {_cell(value)} | {default_text} | {_cell(p.help or '')} |")
        out.append("")
    return "\n".join(out)


def cli_block(problems: list) -> str:
    import click

    from charme.cli.main import COMMANDS, cli

    root = click.Context(cli, info_name="charme", **cli.context_settings)
    listed = [(name, short) for name, (_, short) in COMMANDS.items()]
    parts = [render_command(cli, root, "charme", None, commands=listed)]
    seen_targets = set()
    for name, (target, short) in COMMANDS.items():
        if target in seen_targets or short.lower().startswith("alias"):
            continue  # an alias: documented with its command
        seen_targets.add(target)
        try:
            cmd = _import(target)
        except (ImportError, AttributeError) as exc:
            warnings.warn(f"charme {name}: not documented yet ({exc})", stacklevel=1)
            continue
        aliases = [a for a, (t, _) in COMMANDS.items() if t == target and a != name]
        ctx = click.Context(cmd, info_name=name, parent=root)
        parts.append(render_command(cmd, ctx, f"charme {name}", short, aliases))
        if isinstance(cmd, click.Group):
            for sub in cmd.list_commands(ctx):
                subcmd = cmd.get_command(ctx, sub)
                sctx = click.Context(subcmd, info_name=sub, parent=ctx)
                parts.append(render_command(subcmd, sctx, f"charme {name} {sub}",
                                            subcmd.short_help))  # fmt: skip
    return "\n".join(p.rstrip() + "\n" for p in parts)


# ---------------------------------------------------------------------------
# API signatures and the kernel index
# ---------------------------------------------------------------------------


def _signature(func) -> str:
    func = getattr(func, "py_func", func)
    sig = inspect.signature(func)
    params = [p.replace(annotation=inspect.Parameter.empty) for p in sig.parameters.values()]
    if params and params[0].name == "self":
        params = params[1:]
    plain = sig.replace(parameters=params, return_annotation=inspect.Signature.empty)
    return str(plain)


def api_block(problems: list) -> str:
    lines = ["```python"]
    for title, target in API:
        try:
            obj = _import(target)
        except (ImportError, AttributeError) as exc:
            problems.append(f"API {title}: cannot import {target} ({exc})")
            continue
        lines.append(f"{title}{_signature(obj)}")
    lines.append("```")
    return "\n".join(lines) + "\n"


def kernels_block(problems: list) -> str:
    import charme.kernels as K

    rows = ["| Name | Kind | Signature or value | Summary |", "|---|---|---|---|"]
    for name in K.__all__:
        obj = getattr(K, name)
        doc = (
            inspect.getdoc(getattr(obj, "py_func", obj)) if not isinstance(obj, (int, dict)) else ""
        )
        summary = (doc or "").split("\n\n")[0]
        if hasattr(obj, "targetoptions"):
            flags = [k for k in ("parallel", "nogil") if obj.targetoptions.get(k)]
            kind = "@njit" + (f" ({', '.join(flags)})" if flags else "")
            value = f"`{name}{_signature(obj)}`"
        elif isinstance(obj, type):
            kind = "NamedTuple" if issubclass(obj, tuple) else "class"
            value = f"`{name}({', '.join(getattr(obj, '_fields', ()))})`"
        elif callable(obj):
            kind = "Python"
            value = f"`{name}{_signature(obj)}`"
        elif isinstance(obj, dict):
            kind = "dict"
            value = f"{len(obj)} entries"
            summary = "Status code → message."
        else:
            kind = "constant"
            value = f"`{obj!r}`"
        if not summary and kind != "constant":
            problems.append(f"charme.kernels.{name}: no docstring")
        rows.append(f"| `{name}` | {kind} | {_cell(value)} | {_cell(summary)} |")
    return "\n".join(rows) + "\n"


# ---------------------------------------------------------------------------
# Files
# ---------------------------------------------------------------------------

BLOCK = re.compile(
    r"(<!-- BEGIN GENERATED: (?P<key>[\w:.-]+) -->\n)(?P<body>.*?)(<!-- END GENERATED: (?P=key) -->)",
    re.S,
)


def fill(text: str, blocks: dict, fname: str, problems: list) -> str:
    found = set()

    def repl(m):
        key = m.group("key")
        if key not in blocks:
            problems.append(f"{fname}: unknown generated block {key!r}")
            return m.group(0)
        found.add(key)
        return m.group(1) + blocks[key] + m.group(4)

    new = BLOCK.sub(repl, text)
    for key in blocks:
        if key not in found:
            problems.append(f"{fname}: missing markers for block {key!r}")
    return new


def build(problems: list) -> dict[Path, str]:
    """New text of every generated file (from its current hand-written text)."""
    plan = {
        DOCS / "spec-reference.md": spec_blocks(problems),
        DOCS / "cli-reference.md": {"cli": cli_block(problems)},
        DOCS / "api.md": {"api-signatures": api_block(problems)},
        DOCS / "kernels.md": {"kernel-index": kernels_block(problems)},
    }
    out = {}
    for path, blocks in plan.items():
        if not path.exists():
            problems.append(f"{path.relative_to(ROOT)}: missing")
            continue
        out[path] = fill(path.read_text(), blocks, path.name, problems)
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if any file is stale")
    args = parser.parse_args(argv)
    warnings.simplefilter("always")
    warnings.formatwarning = lambda msg, *a, **k: f"docs/generate.py: warning: {msg}\n"
    problems: list[str] = []
    try:
        new = build(problems)
    except DocError as exc:
        problems.append(str(exc))
    if problems:
        for p in problems:
            print(f"docs/generate.py: error: {p}", file=sys.stderr)
        return 1
    stale = [p for p, text in new.items() if p.read_text() != text]
    if args.check:
        for p in stale:
            print(f"docs/generate.py: stale: {p.relative_to(ROOT)} "
                  "(run python docs/generate.py)", file=sys.stderr)  # fmt: skip
        return 1 if stale else 0
    for p in stale:
        p.write_text(new[p])
        print(f"wrote {p.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
