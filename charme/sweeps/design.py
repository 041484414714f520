"""Sweep designs: which parameter values each point of a sweep gets.

Three shapes, all ending in a :class:`Design`:

- a full grid (outer product) of per-parameter values, the default;
- zipped lists (``--zip``): point i takes the i-th value of every list;
- explicit points from a sweep file (``points: [{k1: 0.1, n0: 10}, ...]``).

Values are written ``a:b:n`` (n values from a to b inclusive), ``log:a:b:n``
(geometric), comma lists ``10,20,50``, or lists in a sweep file.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np

from charme.errors import SpecError

#: dimension name of zipped and explicit designs
POINT_DIM = "point"


@dataclass(frozen=True)
class Design:
    """The points of a sweep, in a fixed order (the order seeds derive from).

    ``mode`` is ``"grid"`` (``values[name]`` are the axes, points their
    outer product in C order) or ``"zip"``/``"points"`` (``values[name]``
    holds one value per point).
    """

    names: tuple[str, ...]
    values: dict[str, tuple]
    mode: str = "grid"

    @property
    def shape(self) -> tuple[int, ...]:
        if self.mode == "grid":
            return tuple(len(self.values[n]) for n in self.names)
        return (len(self.values[self.names[0]]),)

    @property
    def dims(self) -> tuple[str, ...]:
        return self.names if self.mode == "grid" else (POINT_DIM,)

    def __len__(self) -> int:
        return math.prod(self.shape)

    def points(self) -> list[dict]:
        """``[{name: value}, ...]`` in design order."""
        if self.mode == "grid":
            axes = [self.values[n] for n in self.names]
            return [dict(zip(self.names, combo)) for combo in itertools.product(*axes)]
        return [{n: self.values[n][i] for n in self.names} for i in range(len(self))]

    def as_json(self) -> dict:
        return {"mode": self.mode, "names": list(self.names),
                "values": {n: list(self.values[n]) for n in self.names}}  # fmt: skip


#: points a sweep takes at most (each is a solve, and a row of the design in memory)
MAX_POINTS = 10_000_000


def _number(text: str, what: str):
    text = text.strip()
    try:
        return int(text)
    except ValueError:
        pass
    try:
        value = float(text)
    except ValueError:
        raise SpecError(f"{what}: {text!r} is not a number") from None
    if not math.isfinite(value):
        raise SpecError(f"{what}: {text!r} is not a finite number")
    return value


def _tidy(values) -> tuple:
    """Floats that are whole numbers stay floats; ints stay ints; numpy -> Python."""
    return tuple(v.item() if isinstance(v, np.generic) else v for v in values)


def parse_values(text: str, what: str) -> tuple:
    """``"0.1:1:10"``, ``"log:1e-3:1:4"``, ``"10,20,50"`` or ``"5"`` -> values."""
    text = text.strip()
    if not text:
        raise SpecError(f"{what}: empty range (give a:b:n, log:a:b:n or a comma list)")
    log = text.startswith("log:")
    body = text[4:] if log else text
    if ":" in body:
        parts = body.split(":")
        if len(parts) != 3:
            raise SpecError(f"{what}: a range is a:b:n or log:a:b:n, got {text!r}")
        a, b = _number(parts[0], what), _number(parts[1], what)
        n = _number(parts[2], what)
        if isinstance(n, float) or n < 1:
            raise SpecError(f"{what}: the count n in {text!r} must be a whole number >= 1")
        if n > MAX_POINTS:
            raise SpecError(f"{what}: {n:,} values in {text!r}, more than a sweep takes "
                            f"({MAX_POINTS:,} points at most)")  # fmt: skip
        if n == 1 and a != b:
            raise SpecError(f"{what}: {text!r} asks for 1 value between two different ends")
        if log:
            if a <= 0 or b <= 0:
                raise SpecError(f"{what}: a log range needs positive ends, got {text!r}")
            return _tidy(np.geomspace(a, b, n))
        return _tidy(np.linspace(a, b, n))
    if log:
        raise SpecError(f"{what}: a log range is log:a:b:n, got {text!r}")
    items = [t for t in body.split(",")]
    if any(not t.strip() for t in items):
        raise SpecError(f"{what}: empty entry in the list {text!r}")
    return tuple(_number(t, what) for t in items)


def parse_vary(items) -> dict[str, tuple]:
    """``("k1=0.1:1:10", "n0=10,20")`` -> ``{"k1": (...), "n0": (10, 20)}``."""
    out: dict[str, tuple] = {}
    for item in items:
        name, sep, values = item.partition("=")
        name = name.strip()
        if not sep or not name:
            raise SpecError(f"--vary expects NAME=VALUES, got {item!r}")
        if name in out:
            raise SpecError(f"--vary: {name!r} is given twice")
        out[name] = parse_values(values, f"--vary {name}")
    return out


def make_design(vary: dict, zip_: bool = False) -> Design:
    """A design from ``{name: values}``; values may be strings in range syntax."""
    if not vary:
        raise SpecError("nothing to sweep: give at least one --vary NAME=VALUES")
    values = {}
    for name, v in vary.items():
        what = f"--vary {name}"
        if isinstance(v, str):
            v = parse_values(v, what)
        elif np.isscalar(v):
            v = (v,)
        v = _tidy(v)
        if not v:
            raise SpecError(f"{what}: empty list of values")
        for x in v:
            if isinstance(x, bool) or not isinstance(x, (int, float)) or not math.isfinite(x):
                raise SpecError(f"{what}: {x!r} is not a finite number")
        values[str(name)] = v
    total = math.prod(len(v) for v in values.values()) if not zip_ else 0
    if total > MAX_POINTS:
        raise SpecError(f"--vary: the grid of the lists has {total:,} points, more than a "
                        f"sweep takes ({MAX_POINTS:,} at most)")  # fmt: skip
    if zip_:
        lengths = {n: len(v) for n, v in values.items()}
        if len(set(lengths.values())) > 1:
            shown = ", ".join(f"{n}: {k}" for n, k in lengths.items())
            raise SpecError(f"--zip needs lists of one length, got {shown}")
        return Design(tuple(values), values, "zip")
    return Design(tuple(values), values, "grid")


def _unsexagesimal(raw, name, value):
    """YAML 1.1 reads an unquoted ``1:2:5`` as the base-60 integer 3725: take the text."""
    if not isinstance(value, int) or isinstance(value, bool):
        return value
    line = raw.line_of(("vary", name))
    if not line:
        return value
    text = raw.text.splitlines()[line - 1]
    key, _, rest = text.partition(":")
    rest = rest.split("#")[0].strip()
    return rest if key.strip().strip("'\"") == str(name) and ":" in rest else value


def read_sweep_file(path) -> tuple[Design, dict]:
    """A design from a YAML/TOML/JSON sweep file, and its other settings.

    The file holds either ``vary: {name: values}`` (with optional
    ``zip: true``) or ``points: [{name: value, ...}, ...]``, and optionally
    ``seed``.  Errors are located at file, line and field.
    """
    from charme.spec.loader import read_spec

    raw = read_spec(path)
    data = raw.data
    unknown = sorted(set(data) - {"vary", "zip", "points", "seed"})
    if unknown:
        raise raw.error("unknown key (known: points, seed, vary, zip)", (unknown[0],))
    if ("vary" in data) == ("points" in data):
        raise raw.error("give exactly one of 'vary' or 'points'")
    extra = {}
    if "seed" in data:
        seed = data["seed"]
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise raw.error("must be a non-negative integer", ("seed",))
        extra["seed"] = seed
    zip_ = data.get("zip", False)
    if not isinstance(zip_, bool):
        raise raw.error("must be true or false", ("zip",))
    if "vary" in data:
        vary = data["vary"]
        if not isinstance(vary, dict) or not vary:
            raise raw.error("must be a non-empty mapping of name: values", ("vary",))
        parsed = {}
        for name, v in vary.items():
            v = _unsexagesimal(raw, name, v)
            try:
                if isinstance(v, (str, int, float)) and not isinstance(v, bool):
                    v = parse_values(str(v), str(name))
                elif not isinstance(v, list):
                    raise SpecError(f"{name}: values are a list or a range string")
                parsed[name] = make_design({name: v}).values[name]
            except SpecError as exc:
                raise raw.error(exc.message, ("vary", name)) from None
        try:
            return make_design(parsed, zip_), extra
        except SpecError as exc:
            raise raw.error(exc.message, ("vary",)) from None
    points = data["points"]
    if zip_:
        raise raw.error("'zip' goes with 'vary', not with 'points'", ("zip",))
    if not isinstance(points, list) or not points:
        raise raw.error("must be a non-empty list of mappings", ("points",))
    names = None
    for i, p in enumerate(points):
        if not isinstance(p, dict) or not p:
            raise raw.error("each point is a mapping of name: value", ("points", i))
        if names is None:
            names = tuple(p)
        elif set(p) != set(names):
            raise raw.error(
                f"every point must set the same names ({', '.join(names)})", ("points", i)
            )
        for k, v in p.items():
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
                raise raw.error(f"{v!r} is not a finite number", ("points", i, k))
    values = {n: tuple(p[n] for p in points) for n in names}
    return Design(names, values, "points"), extra
