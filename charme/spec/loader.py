"""Read spec files (YAML, TOML, JSON) into plain data plus a line map.

Every loader returns a :class:`RawSpec`: the parsed mapping, the file's
text, and a function that answers "on which line is the entry at this path?"
so that validation errors can say ``model.yaml:14: reactions[2].rate: ...``.
"""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from charme.errors import SpecError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

YAML_SUFFIXES = {".yaml", ".yml"}
TOML_SUFFIXES = {".toml"}
JSON_SUFFIXES = {".json"}
SPEC_SUFFIXES = YAML_SUFFIXES | TOML_SUFFIXES | JSON_SUFFIXES


def format_path(loc) -> str:
    """``("reactions", 2, "rate")`` -> ``"reactions[2].rate"``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


@dataclass
class RawSpec:
    """A spec file read but not yet validated."""

    data: dict
    text: str
    path: str
    lines: dict = field(default_factory=dict)  # path tuple -> 1-based line

    def line_of(self, loc) -> int | None:
        """Line of the entry at ``loc`` (or of its nearest known parent)."""
        loc = tuple(loc)
        while loc:
            if loc in self.lines:
                return self.lines[loc]
            loc = loc[:-1]
        return self.lines.get((), None)

    def error(self, message: str, loc=()) -> SpecError:
        """A :class:`SpecError` located at ``loc`` in this file."""
        return SpecError(
            message, file=self.path, line=self.line_of(loc), field=format_path(loc) or None
        )


def _yaml_lines(node, loc, out):
    """Walk a composed YAML node tree recording the line of every entry."""
    out.setdefault(loc, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = key_node.value
            sub = loc + (key,)
            out[sub] = key_node.start_mark.line + 1
            _yaml_lines(value_node, sub, out)
            out[sub] = key_node.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _yaml_lines(item, loc + (i,), out)


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys (a silent override otherwise)."""


def _construct_mapping(loader, node, deep=False):
    seen = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise SpecError(
                f"duplicate key {key!r}", line=key_node.start_mark.line + 1, field=str(key)
            )
        seen.add(key)
    return yaml.SafeLoader.construct_mapping(loader, node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
# YAML 1.1 (PyYAML) reads 1e-9, without a decimal point, as a string; YAML 1.2, and every
# reader of numbers, as the float it is
_UniqueKeyLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float", re.compile(r"^[-+]?[0-9][0-9_]*[eE][-+]?[0-9]+$"),
    list("-+0123456789"),
)  # fmt: skip


#: entries a spec's YAML may expand to, aliases counted at every use (a few anchors
#: nested 9 deep expand to 9^9: a "billion laughs" that would never finish)
MAX_YAML_ENTRIES = 1_000_000


def _expanded_size(node, sizes=None) -> int:
    """Entries of the composed YAML ``node`` with every alias expanded (each shared node
    sized once)."""
    sizes = {} if sizes is None else sizes
    open_ = set()  # nodes whose children are being sized: met again, an alias to itself
    stack = [(node, False)]
    while stack:  # (iteratively: no recursion limit on deep documents)
        item, ready = stack.pop()
        if id(item) in sizes:
            continue
        children = []
        if isinstance(item, yaml.MappingNode):
            children = [n for pair in item.value for n in pair]
        elif isinstance(item, yaml.SequenceNode):
            children = list(item.value)
        if ready or not children:
            sizes[id(item)] = 1 + sum(sizes[id(ch)] for ch in children)
            open_.discard(id(item))
            continue
        if id(item) in open_:
            raise SpecError("the YAML holds an alias to a node inside itself (a recursive "
                            "structure): a spec cannot", line=item.start_mark.line + 1)  # fmt: skip
        open_.add(id(item))
        stack.append((item, True))
        stack.extend((ch, False) for ch in children if id(ch) not in sizes)
    return sizes[id(node)]


def _load_yaml(text: str, path: str):
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        if node is not None and _expanded_size(node) > MAX_YAML_ENTRIES:
            raise SpecError(
                f"the YAML's aliases expand to more than {MAX_YAML_ENTRIES:,} entries: "
                "write the spec out without nesting aliases so deep"
            )
        data = yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 (SafeLoader subclass)
    except SpecError as exc:
        raise exc.located(file=path) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        raise SpecError(f"invalid YAML: {exc.problem or exc}", file=path, line=line) from None
    except yaml.YAMLError as exc:
        raise SpecError(f"invalid YAML: {exc}", file=path) from None
    lines: dict = {}
    if node is not None:
        _yaml_lines(node, (), lines)
    return data, lines


def _load_json(text: str, path: str):
    def no_dupes(pairs):
        keys = [k for k, _ in pairs]
        for k in keys:
            if keys.count(k) > 1:
                raise SpecError(f"duplicate key {k!r}", file=path, field=str(k))
        return dict(pairs)

    try:
        data = json.loads(text, object_pairs_hook=no_dupes)
    except json.JSONDecodeError as exc:
        raise SpecError(f"invalid JSON: {exc.msg}", file=path, line=exc.lineno) from None
    lines: dict = {}
    try:  # JSON is (nearly) YAML: borrow the YAML composer for line numbers
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        if node is not None:
            _yaml_lines(node, (), lines)
    except yaml.YAMLError:
        pass
    return data, lines


def _toml_lines(text: str, data) -> dict:
    """Approximate line map for TOML: tables, array-of-tables and keys."""
    lines: dict = {(): 1}
    counters: dict = {}
    current: tuple = ()
    for no, raw in enumerate(text.splitlines(), start=1):
        s = raw.strip()
        if not s or s.startswith("#"):
            continue
        m = re.match(r"^\[\[\s*([^\]]+?)\s*\]\]", s)
        if m:
            name = tuple(p.strip().strip('"') for p in m.group(1).split("."))
            idx = counters.get(name, -1) + 1
            counters[name] = idx
            current = name + (idx,)
            lines.setdefault(name, no)
            lines[current] = no
            continue
        m = re.match(r"^\[\s*([^\]]+?)\s*\]", s)
        if m:
            current = tuple(p.strip().strip('"') for p in m.group(1).split("."))
            lines[current] = no
            continue
        m = re.match(r'^("?)([\w.-]+)\1\s*=', s)
        if m:
            key = current + tuple(m.group(2).split("."))
            lines.setdefault(key, no)
            # inline tables of an array: reactions = [ {eq=...}, ... ]
    # inline arrays of tables: map item i to the line holding its i-th "{"
    for key, value in list(data.items()) if isinstance(data, dict) else []:
        if isinstance(value, list) and (key,) in lines and (key, 0) not in lines:
            start = lines[(key,)]
            item = 0
            for no, raw in enumerate(text.splitlines()[start - 1 :], start=start):
                for _ in re.finditer(r"\{", raw):
                    if item < len(value):
                        lines[(key, item)] = no
                    item += 1
                if item >= len(value):
                    break
    return lines


def _load_toml(text: str, path: str):
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        m = re.search(r"line (\d+)", str(exc))
        raise SpecError(
            f"invalid TOML: {exc}", file=path, line=int(m.group(1)) if m else None
        ) from None
    return data, _toml_lines(text, data)


def read_spec(path) -> RawSpec:
    """Read a YAML, TOML or JSON spec file (chosen by suffix)."""
    p = Path(path)
    name = str(path)
    suffix = p.suffix.lower()
    if suffix not in SPEC_SUFFIXES:
        known = ", ".join(sorted(SPEC_SUFFIXES | {".xml", ".sbml", ".ant", ".antimony"}))
        raise SpecError(
            f"unknown spec file type {suffix or '(none)'!r} (known: {known})", file=name
        )
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SpecError("no such file", file=name) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError(f"cannot read: {exc}", file=name) from None
    return parse_spec_text(text, name, suffix)


def parse_spec_text(text: str, name: str = "<string>", suffix: str = ".yaml") -> RawSpec:
    """Parse spec text given the format's suffix (``.yaml``, ``.toml``, ``.json``)."""
    if suffix in TOML_SUFFIXES:
        data, lines = _load_toml(text, name)
    elif suffix in JSON_SUFFIXES:
        data, lines = _load_json(text, name)
    else:
        data, lines = _load_yaml(text, name)
    if not isinstance(data, dict):
        raise SpecError("a spec must be a mapping of keys to values", file=name, line=1)
    return RawSpec(data=data, text=text, path=name, lines=lines)
