"""Read a ``kind: markov-chain`` spec: an explicit finite continuous-time Markov chain.

The spec names a generator matrix stored in a MatrixMarket (``.mtx``) or scipy
sparse (``.npz``) file next to it, the state labels and the initial
distribution::

    kind: markov-chain
    name: three_state
    generator: three_state_chain.mtx   # relative to this file
    convention: columns                # or rows (Q = A^T, rows sum to zero)
    labels: [off, on, blocked]         # or a text file, one label per line
    initial: {off: 1.0}                # or a full list of n probabilities
    cme: {t_end: 5, points: 11}

Every problem is reported as a :class:`~charme.errors.SpecError` located at
file, line and field.  The result is a :class:`MarkovChain` whose generator is
always in the *columns* convention, ``dp/dt = A @ p``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np
import scipy.io
import scipy.sparse
import yaml
from pydantic import Field, field_validator

from charme.spec.loader import JSON_SUFFIXES, TOML_SUFFIXES, RawSpec, read_spec
from charme.spec.network import validate_shape
from charme.spec.schema import CMESettings, _Strict

KIND = "markov-chain"
CONVENTIONS = ("columns", "rows")
MATRIX_MARKET_SUFFIXES = (".mtx", ".mtx.gz", ".mtx.bz2")
NPZ_SUFFIXES = (".npz",)
SUM_RTOL = 1e-9  # column sums: |sum| <= SUM_RTOL * max(1, max|A|)
INITIAL_ATOL = 1e-9  # initial distribution: |sum - 1| <= INITIAL_ATOL

_CONVENTION_NOTE = {
    "columns": "A[i, j] is the rate from state j to state i, "
    "each column sums to zero (dp/dt = A p)",
    "rows": "Q[i, j] is the rate from state i to state j, each row sums to zero (Q = A^T)",
}


class ChainCMESettings(CMESettings):
    """Defaults of ``charme cme`` for a Markov chain (same keys as a network's)."""

    @field_validator("points", mode="before")
    @classmethod
    def _no_bools(cls, v):
        if isinstance(v, bool):
            raise ValueError("expected an integer, not a boolean")
        return v


class ChainSpec(_Strict):
    """Validated shape of a ``kind: markov-chain`` spec (meaning is checked in
    :func:`build_chain`)."""

    kind: Literal["markov-chain"] = Field(description="Must be 'markov-chain'.")
    name: str = Field("chain", description="Name of the chain.")
    description: str | None = None
    generator: str = Field(
        min_length=1,
        description="Generator matrix file (.mtx MatrixMarket or .npz scipy.sparse), "
        "relative to the spec file.",
    )
    convention: Literal["columns", "rows"] = Field(
        "columns",
        description="'columns': A[i,j] is the rate j -> i, columns sum to zero; "
        "'rows': Q[i,j] is the rate i -> j, rows sum to zero.",
    )
    labels: Any = Field(
        None,
        description="One name per state (a list), or the path of a text file with one "
        "label per line; default '0', '1', ...",
    )
    initial: Any = Field(
        description="Initial distribution: {label: probability} (missing labels 0) or a "
        "list of n probabilities."
    )
    cme: ChainCMESettings | None = None

    @field_validator("labels", mode="before")
    @classmethod
    def _labels_shape(cls, v):
        if v is not None and not isinstance(v, (list, str)):
            raise ValueError(
                "expected a list of state names or the path of a text file with one per line"
            )
        return v

    @field_validator("initial", mode="before")
    @classmethod
    def _initial_shape(cls, v):
        if not isinstance(v, (dict, list)):
            raise ValueError("expected a mapping {label: probability} or a list of n probabilities")
        return v


@dataclass(frozen=True, eq=False)
class MarkovChain:
    """An explicit finite continuous-time Markov chain, ``dp/dt = A p``.

    Attributes
    ----------
    name
        Name of the chain.
    labels
        One name per state.
    generator
        The generator ``A`` in the columns convention (``A[i, j]`` is the rate
        from state ``j`` to state ``i``; columns sum to zero), float64 CSR with
        summed duplicates, sorted indices and no stored zeros.
    initial
        Initial distribution, float64 of length ``n`` summing to 1 (read-only).
    settings
        The ``cme`` defaults given in the spec (any of ``t_end``, ``points``,
        ``tol``, ``method``); empty if none.
    description
        Free text, or None.
    source_text
        Text of the spec file.
    source_path
        Path of the spec file.
    convention
        Convention of the generator *file* (``"columns"`` or ``"rows"``); the
        stored :attr:`generator` is always in the columns convention.
    generator_path
        Resolved path of the generator file.
    """

    name: str
    labels: tuple[str, ...]
    generator: scipy.sparse.csr_matrix
    initial: np.ndarray
    settings: dict
    description: str | None
    source_text: str
    source_path: str
    convention: str = "columns"
    generator_path: str = ""

    @property
    def n_states(self) -> int:
        """Number of states."""
        return len(self.labels)

    @property
    def nnz(self) -> int:
        """Number of stored (nonzero) entries of the generator."""
        return int(self.generator.nnz)

    def summary(self, max_labels: int = 10) -> str:
        """Human-readable description (what ``charme validate`` prints).

        Parameters
        ----------
        max_labels
            Show at most this many labels (and initial support entries).
        """
        lines = [f"markov chain {self.name!r}"]
        if self.description:
            lines.append(f"  {self.description.strip()}")
        n = self.n_states
        lines.append(f"  states: {n}, generator nonzeros: {self.nnz}")
        if self.convention == "rows":
            note = "read in the rows convention (Q = A^T) and transposed"
        else:
            note = "columns convention"
        lines.append(f"  generator: {note}; dp/dt = A p, A[i, j] = rate from j to i")
        if self.generator_path:
            lines.append(f"  generator file: {self.generator_path}")
        shown = ", ".join(self.labels[:max_labels])
        more = f", ... ({n - max_labels} more)" if n > max_labels else ""
        lines.append(f"  labels: {shown}{more}")
        support = np.flatnonzero(self.initial)
        items = ", ".join(f"{self.labels[i]}={self.initial[i]:g}" for i in support[:max_labels])
        more = f", ... ({len(support) - max_labels} more)" if len(support) > max_labels else ""
        lines.append(f"  initial support ({len(support)} of {n}): {items}{more}")
        if self.settings:
            opts = ", ".join(f"{k}={v}" for k, v in self.settings.items() if v is not None)
            lines.append(f"  cme defaults: {opts}")
        return "\n".join(lines)


def is_chain_spec(raw_data) -> bool:
    """True when a parsed spec mapping declares ``kind: markov-chain``."""
    return isinstance(raw_data, dict) and raw_data.get("kind") == KIND


def load_chain(path) -> MarkovChain:
    """Read, validate and build a Markov chain from a spec file.

    Parameters
    ----------
    path
        A ``.yaml``/``.yml``, ``.toml`` or ``.json`` spec with ``kind: markov-chain``.

    Returns
    -------
    MarkovChain

    Raises
    ------
    charme.errors.SpecError
        Located at file, line and field.
    """
    return build_chain(read_spec(path))


def build_chain(raw: RawSpec, base_dir=None) -> MarkovChain:
    """Validate a raw ``markov-chain`` spec and build the :class:`MarkovChain`.

    Parameters
    ----------
    raw
        The spec as read by :func:`charme.spec.loader.read_spec`.
    base_dir
        Directory that relative file names (generator, labels) are resolved
        against; default the spec file's directory (the current directory
        for a spec read from a string).

    Raises
    ------
    charme.errors.SpecError
        Located at file, line and field.
    """
    raw_fixed = replace(raw, data=_yaml_names_as_text(raw))
    spec = validate_shape(raw_fixed, model=ChainSpec)
    if base_dir is None:
        base_dir = Path(raw.path).parent if not raw.path.startswith("<") else Path.cwd()
    base_dir = Path(base_dir)

    gen_path = _resolve(base_dir, spec.generator)
    matrix = _read_generator(raw, gen_path)  # as stored in the file, canonical CSR
    n = matrix.shape[0]
    labels = _labels(raw, spec.labels, n, base_dir)
    _check_rates(raw, matrix, spec.convention, labels)
    generator = matrix.T.tocsr() if spec.convention == "rows" else matrix
    generator = _canonical(generator)
    _check_sums(raw, generator, spec.convention, labels)
    initial = _initial(raw, spec.initial, labels)
    initial.setflags(write=False)
    settings = spec.cme.model_dump(exclude_unset=True) if spec.cme is not None else {}
    return MarkovChain(
        name=spec.name,
        labels=labels,
        generator=generator,
        initial=initial,
        settings=settings,
        description=spec.description,
        source_text=raw.text,
        source_path=raw.path,
        convention=spec.convention,
        generator_path=str(gen_path),
    )


# --------------------------------------------------------------------- helpers


def _yaml_names_as_text(raw: RawSpec) -> dict:
    """Labels and initial keys as written in a YAML file.

    YAML 1.1 reads plain ``on``, ``off``, ``yes``, ``no`` as booleans and ``0``
    as an integer; as state names they are meant as text, so take the scalars'
    source text for the entries of ``labels`` and the keys of ``initial``.
    """
    data = dict(raw.data)
    suffix = Path(raw.path).suffix.lower()
    if suffix in TOML_SUFFIXES or suffix in JSON_SUFFIXES:
        return data
    labels, initial = data.get("labels"), data.get("initial")
    needs = (isinstance(labels, list) and any(not isinstance(x, str) for x in labels)) or (
        isinstance(initial, dict) and any(not isinstance(k, str) for k in initial)
    )
    if not needs:
        return data
    try:
        root = yaml.compose(raw.text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:  # pragma: no cover - the text was parsed before
        return data
    if not isinstance(root, yaml.MappingNode):  # pragma: no cover
        return data
    nodes = {k.value: v for k, v in root.value if isinstance(k, yaml.ScalarNode)}
    node = nodes.get("labels")
    if isinstance(labels, list) and isinstance(node, yaml.SequenceNode):
        if len(node.value) == len(labels):
            data["labels"] = [_scalar_text(item, x) for item, x in zip(node.value, labels)]
    node = nodes.get("initial")
    if (
        isinstance(initial, dict)
        and isinstance(node, yaml.MappingNode)
        and len(node.value) == len(initial)
    ):
        keys = [_scalar_text(k, key) for (k, _), key in zip(node.value, initial)]
        data["initial"] = dict(zip(keys, initial.values()))
    return data


def _scalar_text(node, value):
    """Source text of a plain YAML scalar read as a bool or a number."""
    if (
        isinstance(node, yaml.ScalarNode)
        and node.style is None
        and isinstance(value, (bool, int, float))
    ):
        return node.value
    return value


def _resolve(base_dir: Path, name: str) -> Path:
    p = Path(name).expanduser()
    return p if p.is_absolute() else base_dir / p


def _canonical(m) -> scipy.sparse.csr_matrix:
    m = scipy.sparse.csr_matrix(m, dtype=np.float64, copy=True)
    m.sum_duplicates()
    m.eliminate_zeros()
    m.sort_indices()
    return m


def _read_generator(raw: RawSpec, path: Path) -> scipy.sparse.csr_matrix:
    """Read the generator file as stored (no convention applied)."""
    loc = ("generator",)
    name = path.name.lower()
    if not path.exists():
        raise raw.error(f"no such file: {path}", loc)
    if not path.is_file():
        raise raw.error(f"not a file: {path}", loc)
    if name.endswith(MATRIX_MARKET_SUFFIXES):
        try:
            m = scipy.io.mmread(str(path))
        except Exception as exc:  # any parse failure is the file's fault
            raise raw.error(f"cannot read MatrixMarket file {path}: {exc}", loc) from None
    elif name.endswith(NPZ_SUFFIXES):
        try:
            m = scipy.sparse.load_npz(str(path))
        except Exception as exc:
            raise raw.error(
                f"cannot read {path} as a scipy.sparse .npz file (written by "
                f"scipy.sparse.save_npz): {exc}",
                loc,
            ) from None
    else:
        known = ", ".join(MATRIX_MARKET_SUFFIXES + NPZ_SUFFIXES)
        raise raw.error(
            f"unknown generator file type {path.name!r} (known: {known})",
            loc,
        )
    m = np.asarray(m) if not scipy.sparse.issparse(m) else m
    if m.ndim != 2 or m.shape[0] != m.shape[1]:
        shape = "x".join(str(s) for s in m.shape)
        raise raw.error(f"the generator must be a square matrix, got shape {shape}", loc)
    if m.shape[0] == 0:
        raise raw.error("the generator is empty (0 states)", loc)
    if np.iscomplexobj(m.data if scipy.sparse.issparse(m) else m):
        raise raw.error("the generator has complex entries; rates must be real", loc)
    try:
        m = _canonical(m)
    except (TypeError, ValueError) as exc:
        raise raw.error(f"cannot convert the generator to float64: {exc}", loc) from None
    bad = ~np.isfinite(m.data)
    if bad.any():
        k = int(np.flatnonzero(bad)[0])
        i, j = _entry(m, k)
        raise raw.error(
            f"entry [{i}, {j}] of the generator is {m.data[k]} (0-based row, column as "
            f"stored in the file); every entry must be finite",
            loc,
        )
    return m


def _entry(m: scipy.sparse.csr_matrix, k: int) -> tuple[int, int]:
    """(row, column) of the k-th stored entry of a CSR matrix."""
    i = int(np.searchsorted(m.indptr, k, side="right") - 1)
    return i, int(m.indices[k])


def _labels(raw: RawSpec, value, n: int, base_dir: Path) -> tuple[str, ...]:
    loc = ("labels",)
    if value is None:
        return tuple(str(i) for i in range(n))
    where = {}
    if isinstance(value, str):
        path = _resolve(base_dir, value)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise raw.error(f"no such labels file: {path}", loc) from None
        except (OSError, UnicodeDecodeError) as exc:
            raise raw.error(f"cannot read labels file {path}: {exc}", loc) from None
        labels = []
        for no, line in enumerate(text.splitlines(), start=1):
            if line.strip():
                where[len(labels)] = f"{path.name}:{no}"
                labels.append(line.strip())
        source = f"labels file {path}"
    else:
        for i, label in enumerate(value):
            if not isinstance(label, str):
                raise raw.error(
                    f"state labels must be strings, got {label!r}; quote it", loc + (i,)
                )
            if not label.strip():
                raise raw.error("state labels must not be empty", loc + (i,))
        labels = list(value)
        source = "labels"
    if len(labels) != n:
        raise raw.error(
            f"{source} gives {len(labels)} label{'s' if len(labels) != 1 else ''} but the "
            f"generator has {n} state{'s' if n != 1 else ''}",
            loc,
        )
    seen: dict[str, int] = {}
    for i, label in enumerate(labels):
        if label in seen:
            first, second = seen[label], i
            if where:
                place = f"{where[first]} and {where[second]}"
            else:
                place = f"states {first} and {second}"
            sub = loc if where else loc + (i,)
            raise raw.error(f"duplicate label {label!r} ({place}); labels must be unique", sub)
        seen[label] = i
    return tuple(labels)


def _check_rates(raw: RawSpec, m, convention: str, labels) -> None:
    """Off-diagonal rates of the matrix as stored must be >= 0."""
    rows = np.repeat(np.arange(m.shape[0]), np.diff(m.indptr))
    bad = (m.data < 0) & (rows != m.indices)
    if not bad.any():
        return
    k = int(np.flatnonzero(bad)[0])
    i, j = _entry(m, k)
    src, dst = (j, i) if convention == "columns" else (i, j)
    raise raw.error(
        f"negative off-diagonal rate {m.data[k]:g} at entry [{i}, {j}] (0-based row, column "
        f"as stored in the file; with 'convention: {convention}', "
        f"{_CONVENTION_NOTE[convention]}), the rate from "
        f"{labels[src]!r} to {labels[dst]!r}; rates between distinct states must be >= 0",
        ("generator",),
    )


def _check_sums(raw: RawSpec, a, convention: str, labels) -> None:
    """Columns of the columns-convention generator must sum to zero."""
    scale = max(1.0, float(np.abs(a.data).max())) if a.nnz else 1.0
    tol = SUM_RTOL * scale
    col_sums = np.asarray(a.sum(axis=0)).ravel()
    worst = int(np.argmax(np.abs(col_sums)))
    if abs(col_sums[worst]) <= tol:
        return
    row_sums = np.asarray(a.sum(axis=1)).ravel()
    # Speak of the matrix as stored in the file: a column of A is a row of Q.
    part = "column" if convention == "columns" else "row"
    other = "rows" if convention == "columns" else "columns"
    msg = (
        f"{part} {worst} ({labels[worst]!r}) of the generator sums to {col_sums[worst]:.6g}, "
        f"not 0 (tolerance {tol:.3g}); with 'convention: {convention}', "
        f"{_CONVENTION_NOTE[convention]}"
    )
    if np.abs(row_sums).max() <= tol:
        msg += (
            f". The {other} sum to zero instead: if the file holds the transposed "
            f"generator, set 'convention: {other}'"
        )
    else:
        msg += (
            f" (the other convention exists too, 'convention: {other}', but the "
            f"{other} do not sum to zero either)"
        )
    raise raw.error(msg, ("generator",))


def _initial(raw: RawSpec, value, labels) -> np.ndarray:
    loc = ("initial",)
    n = len(labels)
    p = np.zeros(n, dtype=np.float64)
    if isinstance(value, dict):
        index = {label: i for i, label in enumerate(labels)}
        items = [(key, index.get(key), prob, loc + (key,)) for key, prob in value.items()]
        for key, i, _, where in items:
            if i is None:
                known = ", ".join(repr(x) for x in labels[:10])
                known += ", ..." if n > 10 else ""
                raise raw.error(f"unknown state label {key!r} (labels: {known})", where)
    else:
        if len(value) != n:
            raise raw.error(
                f"a list of initial probabilities needs one per state: got {len(value)}, "
                f"the generator has {n} states (or give a mapping {{label: probability}})",
                loc,
            )
        items = [(labels[i], i, prob, loc + (i,)) for i, prob in enumerate(value)]
    for key, i, prob, where in items:
        if isinstance(prob, bool) or not isinstance(prob, (int, float)):
            raise raw.error(f"probability of {key!r} must be a number, got {prob!r}", where)
        if not math.isfinite(prob):
            raise raw.error(f"probability of {key!r} must be finite, got {prob!r}", where)
        if prob < 0:
            raise raw.error(f"probability of {key!r} is negative ({prob!r})", where)
        p[i] = float(prob)
    total = math.fsum(p)
    if abs(total - 1.0) > INITIAL_ATOL:
        raise raw.error(
            f"initial probabilities sum to {total:.12g}, not 1 (tolerance {INITIAL_ATOL:g})",
            loc,
        )
    return p


__all__ = [
    "ChainCMESettings",
    "ChainSpec",
    "MarkovChain",
    "build_chain",
    "is_chain_spec",
    "load_chain",
]
