"""Safe arithmetic expressions: parse, inspect, evaluate, compile to postfix.

User text never reaches ``eval``, ``exec``, ``sympify`` or ``parse_expr``.
It is parsed with :func:`ast.parse` (which only builds a tree, it executes
nothing) and every node is checked against a whitelist: numbers, declared
names, ``+ - * / **`` (``^`` is read as power), unary ``+``/``-`` and calls of
the fixed function table :data:`FUNCTIONS`.  The result is a small immutable
tree of tuples that the rest of charme consumes:

``("num", value)``, ``("name", id)``, ``("neg", a)``,
``("add" | "sub" | "mul" | "div" | "pow", a, b)``, ``("call", fname, (args...))``.

Numbers are floats from the start, so no integer power such as ``10^10^10``
can hang the parser or the constant folder; float overflow gives ``inf``.
"""

from __future__ import annotations

import ast
import keyword
import math
import re

from charme.errors import SpecError

Expr = tuple

#: name -> (arity, python implementation); arity None means "two or more".
FUNCTIONS: dict[str, tuple[int | None, object]] = {
    "exp": (1, math.exp),
    "log": (1, math.log),
    "log10": (1, math.log10),
    "log2": (1, math.log2),
    "sqrt": (1, math.sqrt),
    "abs": (1, abs),
    "sin": (1, math.sin),
    "cos": (1, math.cos),
    "tan": (1, math.tan),
    "asin": (1, math.asin),
    "acos": (1, math.acos),
    "atan": (1, math.atan),
    "sinh": (1, math.sinh),
    "cosh": (1, math.cosh),
    "tanh": (1, math.tanh),
    "floor": (1, math.floor),
    "ceil": (1, math.ceil),
    "pow": (2, None),
    "min": (None, min),
    "max": (None, max),
}

#: Named constants always available (a declared name of the same spelling wins).
CONSTANTS = {"pi": math.pi, "e": math.e}

MAX_LENGTH = 20_000
MAX_DEPTH = 200

_KW_PREFIX = "__charme_kw_"
_KEYWORD_RE = re.compile(r"(?<![\w.])(" + "|".join(keyword.kwlist) + r")(?!\w)")
_BINOPS = {ast.Add: "add", ast.Sub: "sub", ast.Mult: "mul", ast.Div: "div", ast.Pow: "pow"}
_SYMBOL = {"add": "+", "sub": "-", "mul": "*", "div": "/", "pow": "**"}


def parse_expression(text: str | int | float, names=None) -> Expr:
    """Parse ``text`` into an expression tree.

    Parameters
    ----------
    text
        The expression, e.g. ``"v*K^n/(K^n + B^n)"``; a bare number is accepted.
    names
        Names that may appear (a set or mapping); ``None`` accepts any name.
        The constants ``pi`` and ``e`` are always accepted.

    Raises
    ------
    SpecError
        For anything but the whitelisted grammar, or an unknown name.
    """
    if isinstance(text, bool):
        raise SpecError(f"expected a number or an expression, got {text!r}")
    if isinstance(text, (int, float)):
        return ("num", float(text))
    if not isinstance(text, str):
        raise SpecError(f"expected a number or an expression, got {type(text).__name__}")
    src = text.strip()
    if not src:
        raise SpecError("empty expression")
    if len(src) > MAX_LENGTH:
        raise SpecError(f"expression longer than {MAX_LENGTH} characters")
    if re.search(r"[^\w\s.+\-*/^(),]", src):
        bad = re.search(r"[^\w\s.+\-*/^(),]", src).group(0)
        raise SpecError(f"character {bad!r} is not allowed in an expression: {text!r}")
    src = src.replace("^", "**")
    # Python keywords are fine names for a user ("lambda" is a rate): rename them
    src = _KEYWORD_RE.sub(lambda m: _KW_PREFIX + m.group(0), src)
    try:
        tree = ast.parse(src, mode="eval")
    except SyntaxError as exc:
        raise SpecError(f"cannot parse expression {text!r}: {exc.msg}") from None
    except (RecursionError, MemoryError, ValueError):
        raise SpecError(f"expression {text!r} is too deeply nested or too large") from None
    try:
        return _convert(tree.body, names, text, 0)
    except RecursionError:
        raise SpecError(f"expression {text!r} is too deeply nested") from None


def _convert(node, names, text, depth) -> Expr:
    if depth > MAX_DEPTH:
        raise SpecError(f"expression {text!r} is nested more than {MAX_DEPTH} deep")
    d = depth + 1
    if isinstance(node, ast.Constant):
        v = node.value
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise SpecError(f"only real numbers are allowed as constants, not {v!r}")
        try:
            return ("num", float(v))
        except OverflowError:
            return ("num", math.inf)
    if isinstance(node, ast.Name):
        if node.id.startswith(_KW_PREFIX):
            node = ast.Name(id=node.id[len(_KW_PREFIX) :])
        if names is not None and node.id not in names and node.id not in CONSTANTS:
            raise SpecError(f"unknown name {node.id!r}")
        if names is not None and node.id not in names:
            return ("num", CONSTANTS[node.id])
        return ("name", node.id)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        inner = _convert(node.operand, names, text, d)
        return ("neg", inner) if isinstance(node.op, ast.USub) else inner
    if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
        return (
            _BINOPS[type(node.op)],
            _convert(node.left, names, text, d),
            _convert(node.right, names, text, d),
        )
    if isinstance(node, ast.Call):
        if not isinstance(node.func, ast.Name) or node.keywords:
            raise SpecError(f"unsupported call in {text!r}")
        fname = node.func.id
        if fname not in FUNCTIONS:
            allowed = ", ".join(sorted(FUNCTIONS))
            raise SpecError(f"unknown function {fname!r} (allowed: {allowed})")
        arity = FUNCTIONS[fname][0]
        nargs = len(node.args)
        if any(isinstance(a, ast.Starred) for a in node.args):
            raise SpecError(f"unsupported call in {text!r}")
        if (arity is None and nargs < 2) or (arity is not None and nargs != arity):
            want = "at least 2" if arity is None else str(arity)
            raise SpecError(f"{fname}() takes {want} argument(s), got {nargs}")
        args = tuple(_convert(a, names, text, d) for a in node.args)
        if fname == "pow":
            return ("pow", args[0], args[1])
        return ("call", fname, args)
    what = type(node).__name__
    raise SpecError(f"{what} is not allowed in an expression: {text!r}")


def names_in(expr: Expr) -> set[str]:
    """The set of names an expression reads."""
    kind = expr[0]
    if kind == "name":
        return {expr[1]}
    if kind == "num":
        return set()
    if kind == "call":
        out: set[str] = set()
        for a in expr[2]:
            out |= names_in(a)
        return out
    out = set()
    for a in expr[1:]:
        out |= names_in(a)
    return out


def _apply(kind, a, b=None):
    try:
        if kind == "add":
            return a + b
        if kind == "sub":
            return a - b
        if kind == "mul":
            return a * b
        if kind == "div":
            if b == 0.0:
                return math.copysign(math.inf, a) if a != 0 else math.nan
            return a / b
        if kind == "pow":
            return math.pow(a, b)
        if kind == "neg":
            return -a
    except OverflowError:
        return math.inf
    except ValueError:
        return math.nan
    raise AssertionError(kind)


def evaluate(expr: Expr, env) -> float:
    """Evaluate in Python with float arithmetic (names looked up in ``env``)."""
    kind = expr[0]
    if kind == "num":
        return expr[1]
    if kind == "name":
        return float(env[expr[1]])
    if kind == "neg":
        return -evaluate(expr[1], env)
    if kind == "call":
        args = [evaluate(a, env) for a in expr[2]]
        fn = FUNCTIONS[expr[1]][1]
        try:
            return float(fn(*args))
        except OverflowError:
            return math.inf
        except ValueError:
            return math.nan
    return _apply(kind, evaluate(expr[1], env), evaluate(expr[2], env))


def substitute(expr: Expr, values) -> Expr:
    """Replace the names found in ``values`` by numbers and fold constants."""
    kind = expr[0]
    if kind == "num":
        return expr
    if kind == "name":
        return ("num", float(values[expr[1]])) if expr[1] in values else expr
    if kind == "call":
        args = tuple(substitute(a, values) for a in expr[2])
        if all(a[0] == "num" for a in args):
            return ("num", evaluate(("call", expr[1], args), {}))
        return ("call", expr[1], args)
    parts = tuple(substitute(a, values) for a in expr[1:])
    if all(p[0] == "num" for p in parts):
        return ("num", evaluate((kind, *parts), {}))
    return (kind, *parts)


def to_source(expr: Expr) -> str:
    """Fully parenthesised text of an expression (``**`` for power)."""
    kind = expr[0]
    if kind == "num":
        return repr(expr[1])
    if kind == "name":
        return expr[1]
    if kind == "neg":
        return f"(-{to_source(expr[1])})"
    if kind == "call":
        return f"{expr[1]}({', '.join(to_source(a) for a in expr[2])})"
    return f"({to_source(expr[1])} {_SYMBOL[kind]} {to_source(expr[2])})"
