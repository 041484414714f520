"""Safe arithmetic expressions: parse, inspect, evaluate, compile to postfix.

User text never reaches ``eval``, ``exec``, ``sympify`` or ``parse_expr``.
It is parsed with :func:`ast.parse` (which only builds a tree, it executes
nothing) and every node is checked against a whitelist: numbers, declared
names, ``+ - * / **`` (``^`` is read as power), unary ``+``/``-`` and calls of
the fixed function table :data:`FUNCTIONS`.  The result is a small immutable
tree of tuples that the rest of charme consumes:

``("num", value)``, ``("name", id)``, ``("neg", a)``,
``("add" | "sub" | "mul" | "div" | "pow", a, b)``, ``("call", fname, (args...))``,
and for conditions (true is 1.0, false 0.0):
``("lt" | "le" | "gt" | "ge" | "eq" | "ne" | "and" | "or", a, b)``, ``("not", a)``,
``("select", cond, a, b)`` (written ``piecewise(a, cond, b)``, SBML's order).
Comparisons, ``and``/``&&``, ``or``/``||`` and ``not``/``!`` are accepted.

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
CONSTANTS = {"pi": math.pi, "e": math.e, "true": 1.0, "false": 0.0}

MAX_LENGTH = 20_000
MAX_DEPTH = 200

_KW_PREFIX = "__charme_kw_"
_RENAMED_KEYWORDS = [k for k in keyword.kwlist if k not in ("and", "or", "not")]
_KEYWORD_RE = re.compile(r"(?<![\w.])(" + "|".join(_RENAMED_KEYWORDS) + r")(?!\w)")
_ALLOWED_CHARS = re.compile(r"[^\w\s.+\-*/^(),<>=!&|]")
_COMPARE = {ast.Lt: "lt", ast.LtE: "le", ast.Gt: "gt", ast.GtE: "ge", ast.Eq: "eq", ast.NotEq: "ne"}
_LOGIC_SYMBOL = {"lt": "<", "le": "<=", "gt": ">", "ge": ">=", "eq": "==", "ne": "!="}
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
    bad = _ALLOWED_CHARS.search(src)
    if bad:
        raise SpecError(f"character {bad.group(0)!r} is not allowed in an expression: {text!r}")
    src = src.replace("^", "**").replace("&&", " and ").replace("||", " or ")
    src = re.sub(r"!(?!=)", " not ", src).strip()
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
    if isinstance(node, ast.Compare):
        terms = [_convert(node.left, names, text, d)]
        terms += [_convert(c, names, text, d) for c in node.comparators]
        out = None
        for op, a, b in zip(node.ops, terms[:-1], terms[1:]):
            if type(op) not in _COMPARE:
                raise SpecError(f"comparison {type(op).__name__} is not allowed: {text!r}")
            cmp = (_COMPARE[type(op)], a, b)
            out = cmp if out is None else ("and", out, cmp)
        return out
    if isinstance(node, ast.BoolOp):
        kind = "and" if isinstance(node.op, ast.And) else "or"
        values = [_convert(v, names, text, d) for v in node.values]
        out = values[0]
        for v in values[1:]:
            out = (kind, out, v)
        return out
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        return ("not", _convert(node.operand, names, text, d))
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
        if fname == "piecewise":
            if not node.args or any(isinstance(a, ast.Starred) for a in node.args):
                raise SpecError(f"piecewise() needs arguments: {text!r}")
            args = [_convert(a, names, text, d) for a in node.args]
            out = args[-1] if len(args) % 2 == 1 else ("num", math.nan)
            pairs = args[: len(args) - (len(args) % 2)]
            for i in range(len(pairs) - 2, -1, -2):
                out = ("select", pairs[i + 1], pairs[i], out)
            return out
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


_LOGIC = {
    "lt": lambda a, b: a < b,
    "le": lambda a, b: a <= b,
    "gt": lambda a, b: a > b,
    "ge": lambda a, b: a >= b,
    "eq": lambda a, b: a == b,
    "ne": lambda a, b: a != b,
    "and": lambda a, b: a != 0.0 and b != 0.0,
    "or": lambda a, b: a != 0.0 or b != 0.0,
}


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
        if kind in _LOGIC:
            return 1.0 if _LOGIC[kind](a, b) else 0.0
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
    if kind == "not":
        return 0.0 if evaluate(expr[1], env) != 0.0 else 1.0
    if kind == "select":
        return evaluate(expr[2], env) if evaluate(expr[1], env) != 0.0 else evaluate(expr[3], env)
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
    if kind == "not":
        return f"(not {to_source(expr[1])})"
    if kind == "select":
        a, c, b = (to_source(e) for e in (expr[2], expr[1], expr[3]))
        return f"piecewise({a}, {c}, {b})"
    if kind in ("and", "or"):
        return f"({to_source(expr[1])} {kind} {to_source(expr[2])})"
    if kind in _LOGIC_SYMBOL:
        return f"({to_source(expr[1])} {_LOGIC_SYMBOL[kind]} {to_source(expr[2])})"
    return f"({to_source(expr[1])} {_SYMBOL[kind]} {to_source(expr[2])})"


def inline(expr: Expr, definitions) -> Expr:
    """Replace each name found in ``definitions`` (name -> Expr) by its tree.

    Definitions may refer to each other; a cycle raises :class:`SpecError`.
    """

    def walk(e, stack):
        kind = e[0]
        if kind == "num":
            return e
        if kind == "name":
            name = e[1]
            if name not in definitions:
                return e
            if name in stack:
                raise SpecError(f"definitions of {' -> '.join((*stack, name))} form a cycle")
            return walk(definitions[name], (*stack, name))
        if kind == "call":
            return ("call", e[1], tuple(walk(a, stack) for a in e[2]))
        return (kind, *(walk(a, stack) for a in e[1:]))

    return walk(expr, ())


_NUMPY_FUNCS = {
    "exp": "exp", "log": "log", "log10": "log10", "log2": "log2", "sqrt": "sqrt",
    "abs": "abs", "sin": "sin", "cos": "cos", "tan": "tan", "asin": "arcsin",
    "acos": "arccos", "atan": "arctan", "sinh": "sinh", "cosh": "cosh", "tanh": "tanh",
    "floor": "floor", "ceil": "ceil",
}  # fmt: skip


def evaluate_array(expr: Expr, env):
    """Evaluate element-wise on numpy arrays (names looked up in ``env``)."""
    import numpy as np

    def ev(e):
        kind = e[0]
        if kind == "num":
            return np.float64(e[1])
        if kind == "name":
            return np.asarray(env[e[1]], dtype=np.float64)
        if kind == "neg":
            return -ev(e[1])
        if kind == "not":
            return np.where(ev(e[1]) != 0.0, 0.0, 1.0)
        if kind == "select":
            return np.where(ev(e[1]) != 0.0, ev(e[2]), ev(e[3]))
        if kind == "call":
            args = [ev(a) for a in e[2]]
            if e[1] == "min":
                return np.minimum.reduce(np.broadcast_arrays(*args))
            if e[1] == "max":
                return np.maximum.reduce(np.broadcast_arrays(*args))
            return getattr(np, _NUMPY_FUNCS[e[1]])(args[0])
        a, b = ev(e[1]), ev(e[2])
        if kind == "add":
            return a + b
        if kind == "sub":
            return a - b
        if kind == "mul":
            return a * b
        if kind == "div":
            return a / b
        if kind == "pow":
            return np.power(a, b)
        if kind == "and":
            return np.where((a != 0.0) & (b != 0.0), 1.0, 0.0)
        if kind == "or":
            return np.where((a != 0.0) | (b != 0.0), 1.0, 0.0)
        op = {"lt": np.less, "le": np.less_equal, "gt": np.greater, "ge": np.greater_equal,
              "eq": np.equal, "ne": np.not_equal}[kind]  # fmt: skip
        return np.where(op(a, b), 1.0, 0.0)

    with np.errstate(all="ignore"):
        return ev(expr)


def replace_names(expr: Expr, mapping) -> Expr:
    """Replace each name in ``mapping`` by its tree, once (no recursion into it)."""
    kind = expr[0]
    if kind == "num":
        return expr
    if kind == "name":
        return mapping.get(expr[1], expr)
    if kind == "call":
        return ("call", expr[1], tuple(replace_names(a, mapping) for a in expr[2]))
    return (kind, *(replace_names(a, mapping) for a in expr[1:]))
