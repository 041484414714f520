"""Solve a quasilinear first-order PDE by characteristics and evaluate it on a grid.

Data path: ``FirstOrderPDE -> classify (SymPy) -> postfix programs ->
trace (rays with variational equations, DOP853, parallel) -> locate (Newton
on the manifold parameters, per grid point, parallel) -> Result``.

Covered: linear, semilinear, quasilinear and (by Charpit's strips, initial
gradient completed by Newton) fully nonlinear equations in any number of
variables.  Evolution problems (a variable along which every ray advances at
a constant rate, with constant initial value) and data without one (Newton
on (s, tau)).  ``--crossing stop`` and ``multivalued`` everywhere;
``viscosity`` (Hopf-Lax; first arrival without an evolution variable) for
Hamilton-Jacobi equations; ``shock`` (Lax-Oleinik) for 1-D conservation
laws; rarefaction fans from kinks and jumps of 1-D data (:mod:`.fans`).
"""

from __future__ import annotations

import functools
import itertools
import math
import time
from typing import NamedTuple

import numpy as np

from charme.errors import SpecError
from charme.results.result import Result, provenance
from charme.solvers.characteristics import branches as BR
from charme.solvers.characteristics import convex1d as CONVEX
from charme.solvers.characteristics import fans as FANS
from charme.solvers.characteristics import kernels as K
from charme.solvers.characteristics.compile import (
    compile_pde,
    initial_guesses,
    manifold_normals,
    manifold_samples,
)
from charme.solvers.characteristics.symbolic import classify, solved_equation
from charme.solvers.characteristics.threads import over_rows, threads
from charme.spec.expressions import evaluate_array

TRACE_STEPS = 400
#: levels an evolution problem's rays are recorded at to find crossings (then refined)
EVOLUTION_LEVELS = 64


def solve_pde(
    pde, *, rtol=None, atol=None, crossing=None, save_rays=False, evaluation=None
) -> Result:
    """Solve ``pde`` on its grid; see the module docstring for what is covered.

    Options left at None take the spec's ``characteristics`` settings.
    ``evaluation="newton"`` (default) finds the characteristic through each
    grid point (near machine precision); ``"hermite"`` (1-D evolution
    problems, every ``crossing``) interpolates between the traced rays with
    cubic Hermite splines from what the rays carry (x_s, u_s, p_s): cheaper,
    fourth order in the ray spacing; ``"raster"`` (2-D problems without an
    evolution variable) the same with bicubic patches on the ray cells.

    Raises
    ------
    charme.errors.SpecError
        For what the spec asks that cannot be done (characteristic data, a
        failed completion of the gradient, a crossing mode that does not
        apply...), located in the spec's file where it came from one.
    """
    from numbers import Real

    from charme.spec.pde import FirstOrderPDE

    if not isinstance(pde, FirstOrderPDE):
        raise SpecError(f"solve_pde takes a PDE from charme.load or charme.loads (a spec of "
                        f"kind: pde), not {type(pde).__name__} {pde!r:.60}")  # fmt: skip
    for name, value in (("rtol", rtol), ("atol", atol)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, Real)):
            raise SpecError(f"{name} must be a number, not {value!r}", field=name)
    try:
        return _solve_pde(pde, rtol=rtol, atol=atol, crossing=crossing, save_rays=save_rays,
                          evaluation=evaluation)  # fmt: skip
    except SpecError as exc:
        raise _located(exc, pde) from None


def check_pde(pde) -> int:
    """Everything :func:`solve_pde` checks before it traces a ray: the gradient's
    completion on every sample (and ``initial.branch``), transversality of the data,
    the grid's side of the data for evolution problems, memory for the grid.  Returns
    the number of rays; raises :class:`~charme.errors.SpecError` (located) otherwise."""
    try:
        return _solve_pde(pde, rtol=None, atol=None, crossing=None, save_rays=False,
                          evaluation=None, check_only=True)  # fmt: skip
    except SpecError as exc:
        raise _located(exc, pde) from None


class _Resample(NamedTuple):
    """The same problem with its shorthand data sampled farther out (``widened``: 1 to
    cover the grid, 2 out to every ray that lands on it)."""

    pde: object
    widened: int


#: the shorthand's data are widened only for end rays whose dx/ds is at least this
#: fraction of its value on the data, and by at most ``WIDEN_MOST`` times their span
WIDEN_SPREAD = 1e-3
WIDEN_MOST = 100.0


def _wider_data(pde, c, out, taus, tau_levels, e):
    """For data from the shorthand u(x, t=0) = g(x): if at some output level the
    grid reaches past the end rays, the data sampled far enough out that they
    cover it (the gap over the end ray's dx/ds, with a margin), at the same density
    (at most ``SHORTHAND_MAX_SAMPLES``); else None."""
    import dataclasses

    from charme.spec.pde import SHORTHAND_MAX_SAMPLES

    o = 1 - e
    nz = c["nz"]
    g_lo, g_hi, _ = pde.grid[o]
    a, b, count = pde.manifold_ranges[0]
    grow_lo = grow_hi = 0.0
    # an end ray whose dx/ds has all but vanished (the data focusing) is no guide: data
    # farther out would not reach the grid either
    spread = WIDEN_SPREAD * np.abs(out[[0, -1], 0, nz + o])
    for tau in tau_levels:
        y = out[:, int(np.searchsorted(taus, tau))]
        first, last = y[0], y[-1]
        if np.isfinite(first[[o, nz + o]]).all() and first[o] > g_lo and first[nz + o] > spread[0]:
            grow_lo = max(grow_lo, 1.2 * (first[o] - g_lo) / first[nz + o])
        if np.isfinite(last[[o, nz + o]]).all() and last[o] < g_hi and last[nz + o] > spread[1]:
            grow_hi = max(grow_hi, 1.2 * (g_hi - last[o]) / last[nz + o])
    if grow_lo == 0.0 and grow_hi == 0.0:
        return None
    grow_lo, grow_hi = (min(g, WIDEN_MOST * (b - a)) for g in (grow_lo, grow_hi))
    density = (count - 1) / (b - a)
    new_count = int(min(SHORTHAND_MAX_SAMPLES, np.ceil((b - a + grow_lo + grow_hi) * density) + 1))
    return dataclasses.replace(pde, manifold_ranges=((a - grow_lo, b + grow_hi, new_count),))


#: shells probed around the shorthand's data at most, each farther out and twice as
#: wide (:func:`_probe_data`) ...
PROBE_ROUNDS = 12
#: ... ending after this many shells in a row from which no ray lands on the grid (1-D
#: data; one for data of 2+ dimensions, where a shell costs many more rays)
EMPTY_BANDS = 2
#: the probe's rays, in samples of the data per axis (the shorthand's: about half a
#: grid spacing apart)
PROBE_SPACING = 2.0


#: lattice cells of the 1-D probe's box at most
PROBE_CELLS_1D = 4000


def _probe_data(pde, c, tau_levels, e, swept=None):
    """For data from the shorthand u(x, t=0) = g(x): the data widened to every ray that
    lands on the grid at one of the levels ``tau_levels`` (and, in 1-D, passes through
    its range between two neighbouring levels of ``swept``: where the rays first cross
    there is the breaking time), or None if none starts outside them.

    Characteristics from outside the sampled box may still reach the grid after they
    cross others (a shock or a fold coming in, a faster ray overtaking the end ray), and
    under ``shock``, ``viscosity`` and ``multivalued`` they change the answer; so can the
    first crossing time.  Boxes around the data's are probed with a lattice of rays
    ``PROBE_SPACING`` samples apart per axis, each box a shell wider than the last (the
    first shell as wide as the data in 1-D, as the grid in more; each next twice as
    wide).  A lattice cell whose corners' rays bound a part of the grid at a level (so
    rays between them may land there, however much they spread) and that reaches past
    the data's box takes the box out past it, with a grid spacing of margin (the
    parameters are the space variables themselves).  Probing ends after ``EMPTY_BANDS``
    shells in a row add nothing (one in 2+ dimensions; in 1-D only once the box takes
    in the data whose initial speed would bring their rays to the grid's range by the
    last level swept, and reaches twice as far from the grid as any probed ray
    travelled towards it), after ``PROBE_ROUNDS``
    shells, or when a lattice would pass the shorthand's most samples: data farther out
    are not seen."""
    import dataclasses

    from charme.spec.pde import SHORTHAND_MAX_RAYS, SHORTHAND_MAX_SAMPLES

    n, nz, m = c["n"], c["nz"], c["m"]
    space = [pde.variables.index(name) for name in pde.manifold]
    ranges = pde.manifold_ranges
    spacing = np.array([(b - a) / max(k - 1, 1) for a, b, k in ranges])
    ds = PROBE_SPACING * spacing
    g_lo = np.array([pde.grid[i][0] for i in space])
    g_hi = np.array([pde.grid[i][1] for i in space])
    margin = np.array([(pde.grid[i][1] - pde.grid[i][0]) / max(pde.grid[i][2] - 1, 1)
                       for i in space])  # fmt: skip
    swept = np.empty(0) if swept is None or m != 1 else np.asarray(swept, float)
    levels = np.unique(np.concatenate([tau_levels[tau_levels > 0], swept[swept > 0]]))
    if not levels.size:
        return None
    # neighbouring levels both swept: a cell whose rays pass through the grid's range
    # between them counts
    pair = np.isin(levels[:-1], swept) & np.isin(levels[1:], swept)
    taus = np.concatenate([[0.0], levels])
    rtol, atol = max(c["rtol"], 1e-8), max(c["atol"], 1e-12)  # where rays land, roughly
    most = SHORTHAND_MAX_SAMPLES if m == 1 else SHORTHAND_MAX_RAYS
    lo0 = np.array([a for a, _, _ in ranges])
    hi0 = np.array([b for _, b, _ in ranges])
    lo, hi = lo0.copy(), hi0.copy()  # the data's box, taken out to the rays that land
    outer_lo, outer_hi = lo0.copy(), hi0.copy()
    # the first shell: as wide as the data in 1-D; as the grid in 2+ D, where rays cost more
    width = hi0 - lo0 if m == 1 else np.maximum(g_hi - g_lo, spacing)
    if m == 1:  # (and as far as the data's rays travel by the last level: a narrow grid's
        # data are narrow, and twelve doublings of them may fall short of the rays' feet)
        with np.errstate(invalid="ignore"):
            speed = np.abs(_eval_a(c, c["y0"][:, :nz])[:, space[0]])
        travel = float(np.nanmax(speed, initial=0.0)) * float(levels.max())
        if np.isfinite(travel):
            width = np.maximum(width, travel)
    empty = 0
    # 1-D: the farthest data either side of the grid whose rays, at their initial speed,
    # reach its range by the last level swept (sampled over the farthest box the probe
    # may reach; no ray is traced)
    reach, far_lo, far_hi = 0.0, np.inf, -np.inf
    if m == 1 and swept.size:
        far = float(width[0]) * (2.0**PROBE_ROUNDS - 1.0)
        wide = np.linspace(lo0[0] - far, hi0[0] + far, SHORTHAND_MAX_SAMPLES)[:, None]
        y = np.empty((len(wide), nz * n))
        ok = np.zeros(len(wide), np.bool_)
        _probe_states(pde, c, wide, y, ok)
        if ok.any():
            s = wide[ok, 0]
            go = _eval_a(c, y[ok, :nz])[:, space[0]] * float(swept.max())
            with np.errstate(invalid="ignore"):
                gets = ((s < g_lo[0]) & (s + go >= g_lo[0])) | ((s > g_hi[0]) & (s + go <= g_hi[0]))
            if gets.any():
                far_lo, far_hi = float(s[gets].min()), float(s[gets].max())
    for _ in range(PROBE_ROUNDS):
        outer_lo, outer_hi = outer_lo - width, outer_hi + width
        # (1-D: at most PROBE_CELLS_1D cells over the box, however fine the data's samples:
        # a cell whose two rays bound part of the grid holds rays that land there)
        inner = None  # (1-D: the cell spanning the data's box, left out)
        if m == 1:  # the box's ends and lattices either side of them
            h = max(float(ds[0]), float(outer_hi[0] - outer_lo[0]) / PROBE_CELLS_1D)
            left = np.append(np.arange(outer_lo[0], lo[0], h), lo[0])
            axes = [np.concatenate([left, [hi[0]], np.arange(hi[0] + h, outer_hi[0] + 0.5 * h,
                                                              h)])]  # fmt: skip
            inner = len(left) - 1
        else:
            axes = [np.arange(a, b + 0.5 * h, h) for a, b, h in zip(outer_lo, outer_hi, ds)]
        shape = tuple(len(ax) for ax in axes)
        if np.prod([float(k) for k in shape]) > 2 * most:
            break
        S = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, m)
        y0 = np.empty((len(S), nz * n))
        ok = np.zeros(len(S), np.bool_)
        _probe_states(pde, c, S, y0, ok)
        out = np.full((len(S), len(taus), nz * n), np.nan)
        if ok.any():  # (rays where the data are defined)
            part = np.empty((int(ok.sum()), len(taus), nz * n))
            over_rows(K.trace_rows, len(part), c["code"], c["consts"], c["prog"], nz, y0[ok],
                      taus, np.ones(len(taus), np.bool_), rtol, atol, part,
                      np.empty(len(part), np.int64), np.empty(len(part)),
                      np.empty(len(part)), c["straight"])  # fmt: skip
            out[ok] = part
        x = out[:, 1:][..., space].reshape(*shape, len(levels), m)
        # a ray whose x_s has all but collapsed there lands where its neighbours inside
        # the data do (at a focus every ray does): it is no guide
        xs = np.stack([out[:, :, nz + k * nz + np.array(space)] for k in range(m)], axis=-1)
        with np.errstate(invalid="ignore"):
            vol = np.abs(np.linalg.det(xs)) if m > 1 else np.abs(xs[..., 0, 0])
            spread = (vol[:, 1:] > WIDEN_SPREAD * vol[:, :1]).reshape(*shape, len(levels))
        # each lattice cell: the box its corners' rays span at each level, and its s-box
        c_lo, c_hi = _cell_range(x, m)
        c_spread = _cell_range(spread, m)[1]  # (the most of booleans: any corner)
        s_lo, s_hi = _cell_range(S.reshape(*shape, m), m)
        with np.errstate(invalid="ignore"):
            meets = ((c_hi >= g_lo - margin) & (c_lo <= g_hi + margin)).all(axis=-1)
            lands = (meets & c_spread).any(axis=-1)
            if pair.any():
                a_, b_ = (slice(None),) * m + (slice(None, -1),), (slice(None),) * m + (
                    slice(1, None),)  # fmt: skip
                lo2, hi2 = np.fmin(c_lo[a_], c_lo[b_]), np.fmax(c_hi[a_], c_hi[b_])
                passes = ((hi2 >= g_lo - margin) & (lo2 <= g_hi + margin)).all(axis=-1)
                lands |= (passes & (c_spread[a_] | c_spread[b_]) & pair).any(axis=-1)
        beyond = ((s_lo < lo - 1e-12 * spacing) | (s_hi > hi + 1e-12 * spacing)).any(axis=-1)
        if inner is not None:
            beyond[inner] = False
        new = lands & beyond
        # (1-D: short of those data, or of twice the farthest any probed ray went towards
        # the grid, a shell may hold rays that reach it later, after crossing others:
        # probing goes on)
        reach = 0.0
        if m == 1:  # how far probed rays went towards the grid
            with np.errstate(invalid="ignore"):
                x_all, s0 = out[:, :, space[0]], S[:, 0]
                toward = np.where(s0 > g_hi[0], s0 - np.fmin.reduce(x_all, axis=1),
                                  np.where(s0 < g_lo[0], np.fmax.reduce(x_all, axis=1) - s0,
                                           0.0))  # fmt: skip
            reach = 2.0 * float(np.nanmax(toward, initial=0.0))
        near = m == 1 and bool((np.maximum(g_lo - outer_lo, outer_hi - g_hi) < reach).any()
                               or outer_lo[0] > far_lo or outer_hi[0] < far_hi)  # fmt: skip
        if new.any():
            lo = np.minimum(lo, s_lo[new].min(axis=0) - margin)
            hi = np.maximum(hi, s_hi[new].max(axis=0) + margin)
            empty = 0
        else:
            empty += 1
            if empty >= (EMPTY_BANDS if m == 1 else 1) and not near:
                break
        width = 2.0 * width
    if (lo == lo0).all() and (hi == hi0).all():
        return None
    counts = np.ceil((hi - lo) / spacing) + 1
    if np.prod(counts) > most:  # the most samples: fewer per axis
        counts = np.maximum(2, np.floor(counts * (most / np.prod(counts)) ** (1.0 / m)))
    return dataclasses.replace(
        pde, manifold_ranges=tuple((float(a), float(b), int(k)) for a, b, k in zip(lo, hi, counts))
    )


def _grid_side(pde, e, t_levels, t0, speed):
    """The grid's levels of the evolution variable in tau; all must lie on the side of
    the data the characteristics go to."""
    tau_levels = (t_levels - t0) / speed
    if (tau_levels < -1e-15).any():
        side = ">=" if speed > 0 else "<="
        raise SpecError(
            f"the grid's {pde.variables[e]} values must lie on the side of the data the "
            f"characteristics go to ({pde.variables[e]} {side} {t0:g}): solving back from "
            "the data is not supported", field=f"grid.{pde.variables[e]}",
        )  # fmt: skip
    return tau_levels


def _probe_states(pde, c, S, y, ok):
    """The initial ray states at the probe's data parameters ``S`` (in ``y``, ``ok``):
    for Charpit, where Newton from the default start fails (p = 0 where F_p is 0/0 there,
    as for |grad u|), again from the gradient of the nearest sample of the data."""
    K.initial_states(c["icode"], c["iconsts"], c["iprog"], c["fcode"], c["fconsts"],
                     c["fprog"], c["n"], c["charpit"], S, initial_guesses(pde, S), y, ok)  # fmt: skip
    if not c["charpit"] or ok.all():
        return
    n = c["n"]
    have = np.flatnonzero(np.isfinite(c["y0"][:, n + 1 : 2 * n + 1]).all(axis=1))
    redo = np.flatnonzero(~ok)
    if not have.size:
        return
    from scipy.spatial import cKDTree

    _, near = cKDTree(c["S"][have]).query(S[redo])
    guess = c["y0"][have[np.asarray(near).ravel()], n + 1 : 2 * n + 1].copy()
    y2, ok2 = np.empty((len(redo), y.shape[1])), np.zeros(len(redo), np.bool_)
    K.initial_states(c["icode"], c["iconsts"], c["iprog"], c["fcode"], c["fconsts"],
                     c["fprog"], n, True, np.ascontiguousarray(S[redo]), guess, y2, ok2)  # fmt: skip
    y[redo[ok2]] = y2[ok2]
    ok[redo[ok2]] = True


def _check_rays(pde, d, evolution):
    """Refuse data whose traced rays alone would not fit in the memory available (states of
    ``d`` numbers at the levels traced), before the samples are taken."""
    from charme.solvers.gillespie.driver import available_memory

    rays = float(np.prod([float(k) for _, _, k in pde.manifold_ranges]))
    levels = EVOLUTION_LEVELS + pde.grid[evolution][2] if evolution is not None else 2 * TRACE_STEPS
    need = rays * 8.0 * d * (levels + 4)
    if need < 2**26:
        return
    have = available_memory()
    if need > have:
        raise SpecError(
            f"the data's {rays:.3g} samples start as many rays, whose traced states need "
            f"about {need / 2**30:.3g} GiB of memory, more than the {have / 2**30:.3g} GiB "
            "available; use fewer samples", field="initial.parameters",
        )  # fmt: skip


def _check_memory(pde, n):
    """Refuse a grid whose solution alone would not fit in the memory available."""
    from charme.solvers.gillespie.driver import available_memory

    points = float(np.prod([float(k) for _, _, k in pde.grid]))
    need = points * 8.0 * (4 * n + 16)  # u, gradient, mask and the evaluation's work arrays
    if need < 2**26:  # 64 MiB: not worth asking the system
        return
    have = available_memory()
    if need > have:
        raise SpecError(
            f"the grid has {points:.3g} points: its solution needs about {need / 2**30:.3g} GiB "
            f"of memory, more than the {have / 2**30:.3g} GiB available; use fewer points",
            field="grid",
        )  # fmt: skip


def _located(exc, pde):
    """``exc`` with the spec's file and the line of its top-level field filled in."""
    import re

    if not getattr(pde, "source_path", ""):
        return exc
    line = None
    key = (exc.field or "").split(".")[0].split("[")[0]
    if key:
        pattern = re.compile(rf'^\s*"?{re.escape(key)}"?\s*[:=]')
        line = next((i + 1 for i, text in enumerate(pde.source_text.splitlines())
                     if pattern.match(text)), None)  # fmt: skip
    return exc.located(file=pde.source_path, line=line)


def _solve_pde(pde, *, rtol, atol, crossing, save_rays, evaluation, check_only=False,
               widened=0):  # fmt: skip
    started = time.perf_counter()
    settings = dict(pde.settings)
    rtol = float(settings.get("rtol", 1e-13) if rtol is None else rtol)
    atol = float(settings.get("atol", 1e-15) if atol is None else atol)
    if not 0 < rtol < 1:  # (NaN too)
        raise SpecError(f"rtol must lie in (0, 1), not {rtol!r}", field="rtol")
    if not 0 < atol < math.inf:
        raise SpecError(f"atol must be positive and finite, not {atol!r}", field="atol")
    if not isinstance(save_rays, (bool, np.bool_)):
        raise SpecError(f"save_rays must be True or False, not {save_rays!r}")
    crossing = crossing or settings.get("crossing", "stop")
    evaluation = evaluation or settings.get("evaluation", "newton")
    if evaluation not in ("newton", "hermite", "raster"):
        raise SpecError(f"unknown evaluation {evaluation!r} (newton, hermite, raster)")
    if crossing not in ("stop", "multivalued", "viscosity", "shock"):
        raise SpecError(f"unknown --crossing {crossing!r} (stop, multivalued, viscosity, shock)")
    info = classify(pde)
    if crossing == "viscosity" and info.kink_in_p:
        raise SpecError(
            "--crossing viscosity needs an equation differentiable in the gradient; this one "
            f"has a kink in it (its second derivative has {info.kink_in_p}): the viscosity "
            "solution there is made of characteristics that fan out of the kink, which are "
            "not traced. Write it smoothly (e.g. sqrt(u_x^2 + 1e-6) for abs(u_x)), or use "
            "--crossing stop or multivalued", field="equation",
        )  # fmt: skip
    cp = compile_pde(pde)
    charpit = cp.charpit
    n, nz = cp.n, cp.nz
    m = n - 1
    e = cp.evolution if cp.evolution >= 0 else None
    speed, t0 = (cp.speed, cp.t0) if e is not None else (None, None)
    code, consts, prog = cp.code, cp.consts, cp.prog
    icode, iconsts, iprog = cp.icode, cp.iconsts, cp.iprog
    fcode, fconsts, fprog = cp.fcode, cp.fconsts, cp.fprog

    # rays from the sampled manifold (for Charpit, p completed by Newton on each)
    _check_memory(pde, n)  # (the grid's, then the rays')
    _check_rays(pde, nz * n, e)
    S = manifold_samples(pde)
    guesses = initial_guesses(pde, S)
    d = nz * (m + 1)
    y0 = np.empty((len(S), d))
    built = np.zeros(len(S), np.bool_)
    K.initial_states(
        icode, iconsts, iprog, fcode, fconsts, fprog, n, charpit, S, guesses, y0, built
    )
    # the data's tangents dx0/ds_k of every sample (rows of the transversality matrix)
    xs = np.stack([y0[:, nz + k * nz : nz + k * nz + n] for k in range(m)], axis=1)
    _check_tangents(pde, S, xs)
    two = None
    if charpit and not built.all():
        # data undefined at a sample, or without a first derivative there (the apex of a
        # cone, 0/0), or, where Newton did complete the gradient, a second (|x|^1.5 at 0:
        # the gradient's variation dp/ds is undefined): no ray there, as for quasilinear
        # equations.  (Newton failing on finite data stays an error: no real gradient.)
        cols = [*range(n + 1), *(nz + k * nz + i for k in range(m) for i in range(n + 1))]
        lost = ~built & ~np.isfinite(y0[:, cols]).all(axis=1)
        completed = np.isfinite(y0[:, n + 1 : 2 * n + 1]).all(axis=1)  # (p NaN: Newton failed)
        failed = np.flatnonzero(~built & ~lost & completed)
        if failed.size:
            second = np.arange(n + 1 + n * m + m, len(cp.iprog))
            got = np.empty((len(failed), len(second)))
            K.eval_rows(cp.icode, cp.iconsts, cp.iprog, second, S[failed], got)
            lost[failed[~np.isfinite(got).all(axis=1)]] = True
        if e is not None:
            # a sample at a critical point of the data where F has a kink in the gradient
            # (u_t + sqrt(u_x^2 + u_y^2) = 0 where grad u0 = 0): the gradient there is
            # the data's, but F_p is 0/0, so Newton failed, and no ray starts there
            failed = np.flatnonzero(~built & ~lost & ~completed)
            if failed.size:
                lost[failed[_no_ray_direction(pde, cp, y0[failed], e)]] = True
        y0[lost] = np.nan
        built |= lost
    if charpit and not built.all() and not pde.guess and not pde.branch:
        two = _complete_both_ways(cp, pde, S, built, y0)
    off = _off_grid(pde, S)
    if not built.all() and off.any():
        # shorthand data where the solver widened them past the grid: no gradient there
        # (sqrt(1 - u_x^2) with u_x > 1, a degenerate point) means no ray there
        drop = ~built & off
        y0[drop] = np.nan
        built |= drop
    if not built.all():
        r = int(np.flatnonzero(~built)[0])
        where = ", ".join(f"{s}={S[r, k]:g}" for k, s in enumerate(pde.manifold))
        if two is not None and r in two:
            names = ", ".join(pde.derivative_names)
            raise SpecError(
                f"two gradients complete the data at {where}: ({names}) = "
                f"{_fmt_vector(two[r][0])} and {_fmt_vector(two[r][1])}: choose one with "
                "initial.branch (+1 or -1, the side of the data the gradient points to) or "
                "initial.guess", field="initial",
            )  # fmt: skip
        if charpit and m == 1 and 1 < r < len(S) - 2 and built[[r - 2, r - 1, r + 1, r + 2]].all():
            # the data characteristic at the sample itself (F_p along the data's normal
            # 0: the gradient is not determined there, so Newton cannot complete it): the
            # transversality determinant changes sign from one neighbour to the other,
            # and the gradient runs on continuously across (where there is no real
            # gradient at the sample, it jumps between the two sides' branches)
            pair = y0[[r - 1, r + 1]]
            a_n = _eval_a({"code": code, "consts": consts, "prog": prog, "n": n}, pair[:, :nz])
            p4 = y0[[r - 2, r - 1, r + 1, r + 2], n + 1 : 2 * n + 1]
            with np.errstate(all="ignore"):
                det_n = np.linalg.det(np.stack([pair[:, nz : nz + n], a_n], axis=1))
                steps = np.linalg.norm(np.diff(p4, axis=0), axis=1)  # (across: the middle)
            on = steps[1] <= 4.0 * max(steps[0], steps[2]) + 1e-12 * (1.0 + np.abs(p4).max())
            if np.isfinite(det_n).all() and det_n[0] * det_n[1] < 0 and on:
                raise SpecError(
                    f"the Cauchy data are characteristic (not transversal) at {where}: "
                    f"det [dx/d{pde.manifold[0]}, dx/dtau] changes sign across it, and the "
                    "gradient there is not determined by F = 0 and the strip condition; "
                    "take the data on one side of that point", field="initial",
                )  # fmt: skip
        given = " from initial.guess" if pde.guess else (
            " on initial.branch's side" if pde.branch else "")  # fmt: skip
        advice = ("give a better starting point under initial.guess" if pde.guess else
                  "give a starting point under initial.guess" if pde.branch else
                  "give a starting point under initial.guess, or the side of the data the "
                  "gradient points to under initial.branch")  # fmt: skip
        raise SpecError(
            f"completing the initial gradient (F = 0 and the strip condition) by Newton failed "
            f"at {where}{given}: there may be no real gradient there (e.g. |du/ds| > |dx/ds| "
            f"for |grad u| = 1), or {advice}", field="initial",
        )  # fmt: skip
    if pde.guess and not charpit:
        raise SpecError(
            "initial.guess starts Newton's completion of the gradient for fully nonlinear "
            f"equations; this one is {info.kind}: its gradient on the data is unique",
            field="initial.guess",
        )  # fmt: skip
    if pde.branch:
        _check_branch(pde, S, y0, n, nz, m, charpit)
    if crossing == "viscosity" and charpit and m > 1 and e is not None:
        _refuse_cone_kink(pde, cp, S, y0, e)
    # transversality: [x_s1 .. x_sm, dx/dtau] must be invertible on the data
    a0 = _eval_a({"code": code, "consts": consts, "prog": prog, "n": n}, y0[:, :nz])
    J0 = np.concatenate([xs, a0[:, None, :]], axis=1)
    with np.errstate(all="ignore"):
        det0 = np.linalg.det(J0)
        # Hadamard's bound: |det| <= the product of the rows' lengths (the tangents' and
        # the speed's), so a fast ray off good data is not taken for a characteristic one
        scale = np.prod(np.linalg.norm(J0, axis=2), axis=1)
    # data undefined at a point (a jump sampled exactly, 0/0) give no ray there
    undefined = ~np.isfinite(det0)
    if undefined.all() or not np.isfinite(y0).all(axis=1).any():
        where = ""
        if pde.from_shorthand:  # sampled on the grid's range widened: say where
            where = " (the shorthand samples them on " + ", ".join(
                f"{name} in [{a:g}, {b:g}]" for name, (a, b, _) in zip(pde.manifold,
                                                                   pde.manifold_ranges)
            ) + "; give the full form with parameters where they are defined)"  # fmt: skip
        raise SpecError(f"the Cauchy data are not finite at any sample{where}", field="initial")
    bad = np.flatnonzero(~undefined & ~(np.abs(det0) > 1e-12 * np.maximum(scale, 1e-300)))
    if e is not None:
        # data at t = t0 of an evolution problem: det = speed x the tangents' own, which
        # _check_tangents saw; a speed whose space part is huge beside its constant time
        # part (u_t + exp(u) u_x = 0 from u = x: exp(28.5)) only tilts the ray
        bad = np.flatnonzero(~undefined & (det0 == 0))
    if bad.size and off[bad].any():  # (shorthand data past the grid: no ray there)
        y0[bad[off[bad]]] = np.nan
        det0[bad[off[bad]]] = np.nan
        undefined = ~np.isfinite(det0)
        bad = bad[~off[bad]]
    if bad.size:
        where = ", ".join(f"{s}={S[bad[0], k]:g}" for k, s in enumerate(pde.manifold))
        raise SpecError(
            f"the Cauchy data are characteristic (not transversal) at {where}", field="initial"
        )
    if m == 1:  # between two samples: the determinant changes sign
        turn = np.flatnonzero(det0[:-1] * det0[1:] < 0)
        a, b, _ = pde.grid[pde.variables.index(pde.manifold[0])] if off.any() else (0, 0, 0)
        for k in turn[off[turn] & off[turn + 1]]:  # shorthand data past the grid, both
            if S[k + 1, 0] < min(a, b):  # samples on one side of it: the far side goes
                far = np.arange(len(S)) <= k
            elif S[k, 0] > max(a, b):
                far = np.arange(len(S)) > k
            else:  # (a narrow grid between them: the data turn there, an error)
                continue
            y0[far], det0[far] = np.nan, np.nan
        if turn.size and off.any():
            turn = np.flatnonzero(det0[:-1] * det0[1:] < 0)
        if turn.size:
            a, b = S[turn[0], 0], S[turn[0] + 1, 0]
            raise SpecError(
                f"the Cauchy data are characteristic (not transversal) between "
                f"{pde.manifold[0]}={a:g} and {b:g}: det [dx/d{pde.manifold[0]}, dx/dtau] "
                "changes sign there; take the data on one side of that point",
                field="initial",
            )  # fmt: skip

    if check_only:
        if e is not None:
            _grid_side(pde, e, np.linspace(*pde.grid[e]), t0, speed)
        return len(S)
    grid_axes = [np.linspace(a, b, k) for a, b, k in pde.grid]
    shape = tuple(len(a) for a in grid_axes)
    s_lo = np.array([a for a, _, _ in pde.manifold_ranges])
    s_hi = np.array([b for _, b, _ in pde.manifold_ranges])
    lo_g = np.array([a for a, _, _ in pde.grid])
    hi_g = np.array([b for _, b, _ in pde.grid])
    ctx = dict(code=code, consts=consts, prog=prog, icode=icode, iconsts=iconsts, iprog=iprog,
               fcode=fcode, fconsts=fconsts, fprog=fprog, n=n, m=m, nz=nz, d=d, charpit=charpit,
               straight=cp.straight,
               S=S, y0=y0, det0=det0, rtol=rtol, atol=atol, s_lo=s_lo, s_hi=s_hi,
               s_counts=np.array([k for _, _, k in pde.manifold_ranges]),
               grid_axes=grid_axes, shape=shape, lo_g=lo_g, hi_g=hi_g,
               save_rays=bool(save_rays),
               # rays that start: data and their derivatives finite (a jump sampled exactly,
               # 0/0, sqrt at 0 give no ray there, and no ray's end counts as a blow-up)
               started=np.isfinite(det0) & np.isfinite(y0).all(axis=1))  # fmt: skip
    if e is None:
        if crossing == "shock":
            raise SpecError(
                "--crossing shock is for 1-D conservation laws u_t + f(u)_x = 0 (an evolution "
                "problem)"
            )
        if crossing == "viscosity" and not info.charpit:
            raise SpecError(
                "--crossing viscosity is for Hamilton-Jacobi (fully nonlinear) equations"
            )
        if evaluation == "hermite":
            raise SpecError(
                "hermite evaluation is for 1-D evolution problems; without an evolution "
                "variable use newton or raster"
            )
        if evaluation == "raster" and n != 2:
            raise SpecError(
                "raster evaluation is for 2-D problems without an evolution variable so far"
            )
        u, grad, taus, out, breaking_tau, breaking_at, blow_tau, extra_attrs = _general(
            info, pde, ctx, crossing, evaluation
        )
    else:
        if evaluation == "raster":
            raise SpecError(
                "raster evaluation is for 2-D problems without an evolution variable so far "
                "(evolution problems: newton, or hermite in 1-D)"
            )

        def evolution():
            t_levels = grid_axes[e]
            ctx["t_levels"] = t_levels
            tau_levels = _grid_side(pde, e, t_levels, t0, speed)
            # rays are traced to twice the grid's reach, so that a crossing just beyond it is reported
            horizon = 2.0 * tau_levels.max() if tau_levels.max() > 0 else 1.0
            ctx["searched_to"] = float(t0 + speed * horizon)
            if crossing == "shock":  # smooth data and a convex flux: one compiled pass
                fast = _convex_shock(info, pde, cp, ctx, crossing, evaluation, save_rays,
                                     tau_levels, horizon)  # fmt: skip
                if fast is not None:
                    return fast
            coarse = np.linspace(0, horizon, EVOLUTION_LEVELS)
            # the grid's levels, and coarse levels not within rounding of one of them
            gap = np.abs(coarse[:, None] - tau_levels[None, :]).min(axis=1)
            coarse = coarse[gap > 1e-9 * max(horizon, 1e-300)]
            taus = np.unique(np.concatenate([[0.0], coarse, tau_levels]))
            out = np.empty((len(S), len(taus), d))
            status = np.empty(len(S), np.int64)
            reached = np.empty(len(S))
            # the grid's levels are landed on; the coarse ones (for crossings) are sampled by
            # the dense output unless the rays are saved
            exact = np.isin(taus, tau_levels) | (taus == 0.0) | save_rays
            ctx["exact"] = exact
            h_ray = np.empty(len(S))
            over_rows(K.trace_rows, len(y0), code, consts, prog, nz, y0, taus, exact, rtol,
                      atol, out, status, reached, h_ray, cp.straight)  # fmt: skip
            ctx["h_ray"] = h_ray
            if pde.from_shorthand and m == 1 and widened < 2:
                # the grid reaches past the data's rays (sample farther), or rays from
                # outside the data land on it: the data taken out to them
                wider = _wider_data(pde, ctx, out, taus, tau_levels, e) if not widened else None
                if wider is not None:
                    return _Resample(wider, 1)

            tb_ray, at_ray = _crossings(ctx, out, taus, det0, n, nz, m, e)
            tb_found, at_found = tb_ray.copy(), at_ray.copy()
            if m == 1:
                ctx["swapped"] = _swapped_neighbours(out, taus, tb_found, 1 - e)
            _refine_crossings(info, ctx, out, taus, tb_ray, at_ray)
            ctx["tb_ray"] = tb_ray
            # rarefaction fans from kinks (Charpit) or jumps (quasilinear) of 1-D data
            fans, ctx["kinks"], converging = FANS.detect(info, pde, ctx, e,
                                                         lambda z: _eval_a(ctx, z))  # fmt: skip
            for fan in fans:
                FANS.trace(ctx, fan, taus)
            ctx["fans"] = fans
            # (the speed falling across a stretch narrower than the samples: rays there
            # cross between them)
            steep = _steep_crossings(ctx, float(taus[-1]))
            if pde.from_shorthand and m == 1:  # data without ends: crossings on the grid count
                candidates = _on_grid_crossings(info, pde, ctx, out, taus, tb_found, at_found,
                                                converging, e, steep)  # fmt: skip
            else:
                candidates = [(tb_ray[r], at_ray[r]) for r in np.flatnonzero(np.isfinite(tb_ray))]
                candidates += _between_samples(pde, ctx, tb_ray) + steep
                candidates += [(0.0, x) for x, _ in converging]  # jumps, kinks closing at once
                if pde.from_shorthand and m > 1 and np.isfinite(tb_ray).any():
                    # (the least between the samples from the rays crossing on the grid's
                    # range too: where data repeat, as periodic ones, a crossing as early
                    # lies inside it, and the one inside is the one to report)
                    space = [i for i in range(n) if i != e]
                    with np.errstate(invalid="ignore"):
                        on = ((at_ray[:, space] >= lo_g[space] - 1e-9)
                              & (at_ray[:, space] <= hi_g[space] + 1e-9)).all(axis=1)  # fmt: skip
                    if on.any() and not on[np.nanargmin(np.where(np.isfinite(tb_ray), tb_ray,
                                                                 np.nan))]:  # fmt: skip
                        candidates += _between_samples(pde, ctx, np.where(on, tb_ray, np.inf))
            ctx["converging_s"] = np.array([s for _, s in converging])
            breaking_tau, breaking_at = np.inf, None
            if candidates:
                breaking_tau = min(c[0] for c in candidates)
                first = [
                    c
                    for c in candidates
                    if c[0] <= breaking_tau + 1e-9 * max(1.0, abs(breaking_tau))
                ]
                space = [i for i in range(n) if i != e]  # inside the grid's space range
                inside = [c for c in first
                          if ((c[1][space] >= lo_g[space] - 1e-9) & (c[1][space] <= hi_g[space] + 1e-9)).all()]  # fmt: skip
                breaking_at = (inside or first)[0][1]  # prefer a crossing inside the grid
            if pde.from_shorthand and widened < 2 and (m == 1 or crossing != "stop"):
                # rays from outside the data that land on the grid (at the levels whose
                # values are wanted): the data taken out to them.  (In 2+ dimensions not
                # for --crossing stop: the values before the first crossing are right, and
                # a shell of rays costs as much as the data)
                wanted = tau_levels
                if crossing == "stop":
                    wanted = tau_levels[tau_levels <= breaking_tau * (1 + 1e-9) + 1e-300]
                # (1-D: and the rays passing through the grid's range up to the first
                # crossing there found so far, or the traced horizon)
                bound = min(breaking_tau, horizon) * (1 + 1e-9)
                wider = _probe_data(pde, ctx, wanted, e, taus[(taus > 0) & (taus <= bound)])
                if wider is not None:
                    return _Resample(wider, 2)
            # (rays from points where the data are undefined never started: not a blow-up)
            blown = (status == K.RAY_BLOW_UP) & ctx["started"]
            blow_tau = float(reached[blown].min()) if blown.any() else np.inf
            if blown.any():  # the first blow-up between the samples
                blow_tau = min(blow_tau, _blow_up_between_samples(ctx, reached, blown))

            # evaluate on the grid: Newton on s from the traced rays around each point
            from scipy.spatial import cKDTree

            u = np.full(shape, np.nan)
            grad = np.full((*shape, n), np.nan)
            others = [i for i in range(n) if i != e]
            if evaluation == "hermite" and n != 2:
                raise SpecError(
                    "hermite evaluation is implemented for one space dimension (variables "
                    "[t, x]); use newton"
                )
            if evaluation == "hermite" and crossing == "stop":
                u, grad = _hermite(info, pde, ctx, e, speed, tau_levels, taus, out,
                                   breaking_tau)  # fmt: skip
                return u, grad, taus, out, breaking_tau, breaking_at, blow_tau, {}
            if crossing != "stop":
                extra = _after_crossing(
                    info, pde, ctx, crossing, e, t0, speed, tau_levels, taus, out, evaluation
                )
                return (*extra[:2], taus, out, breaking_tau, breaking_at, blow_tau, extra[2])
            for lvl, tau in enumerate(tau_levels):
                if tau > breaking_tau + 1e-9 * max(1.0, abs(breaking_tau)):
                    # --crossing stop: nothing after the first crossing (at it, u is still
                    # continuous).  A ray that blows up ends there, and with it the points
                    # only it reaches: Newton cannot land on it.
                    continue
                kk = int(np.searchsorted(taus, tau))
                pos = out[:, kk][:, others]
                good = np.isfinite(pos).all(axis=1)
                if not good.any():
                    continue
                pts = np.array(
                    list(itertools.product(*(grid_axes[i] for i in others))), float
                ).reshape(-1, m)
                if m == 1:  # from the rays around each point
                    seeds, near, zss = _bracket_seeds(out[:, kk], S, pts, others[0], nz)
                else:
                    seeds, near = np.zeros((len(pts), m)), np.full(len(pts), -1)
                    zss = np.empty((0, nz))
                bracket, bracket_sign = _newton_brackets(out[:, kk], S, others[0], near, pts[:, 0])
                rest = np.flatnonzero(near < 0)
                if rest.size:  # Newton from the nearest ray, one linear step away
                    idx_good = np.flatnonzero(good)
                    _, nr = cKDTree(pos[good]).query(pts[rest])
                    near[rest] = idx_good[nr]
                    seeds[rest] = _linear_seeds(out[near[rest], kk], S[near[rest]], pts[rest],
                                                others, nz, m, s_lo, s_hi)  # fmt: skip
                # points inside a fan, bracketed across its kink: no ray of the data there
                todo = np.arange(len(pts))
                if m == 1 and ctx.get("fans"):
                    todo = np.flatnonzero(~_in_fans(ctx, kk, others[0], pts[:, 0], near, S[:, 0]))
                seed_p = (
                    y0[near[todo], n + 1 : 2 * n + 1] if charpit else np.zeros((len(todo), n))
                ).copy()
                u_q = np.full(len(pts), np.nan)
                g_q = np.full((len(pts), n), np.nan)
                ok = np.zeros(len(pts), np.bool_)
                got = (np.empty(len(todo)), np.empty((len(todo), n)), np.empty((len(todo), m)),
                       np.zeros(len(todo), np.bool_))  # fmt: skip
                over_rows(K.locate, len(todo), code, consts, prog, icode, iconsts, iprog, fcode,
                          fconsts, fprog, n, charpit, e, pts[todo], np.full(len(todo), tau),
                          seeds[todo], seed_p, h_ray[near[todo]],
                          zss[todo] if len(zss) else zss, s_lo, s_hi, bracket[todo],
                          bracket_sign[todo], rtol, atol, *got, cp.straight)  # fmt: skip
                u_q[todo], g_q[todo], ok[todo] = got[0], got[1], got[3]
                sl = [slice(None)] * n
                sl[e] = lvl
                sub_shape = tuple(len(grid_axes[i]) for i in others)
                u[tuple(sl)] = np.where(ok, u_q, np.nan).reshape(sub_shape)
                gsl = (*sl, slice(None))
                grad[gsl] = np.where(ok[:, None], g_q, np.nan).reshape((*sub_shape, n))
                _fan_fill(info, ctx, e, kk, u[tuple(sl)], grad[gsl])

            return u, grad, taus, out, breaking_tau, breaking_at, blow_tau, {}

        got = evolution()
        if isinstance(got, _Resample):
            return _solve_pde(got.pde, rtol=rtol, atol=atol, crossing=crossing,
                              save_rays=save_rays, evaluation=evaluation,
                              widened=got.widened)  # fmt: skip
        u, grad, taus, out, breaking_tau, breaking_at, blow_tau, extra_attrs = got
        _data_level(pde, cp, grid_axes, e, u, grad)
    mask = np.isfinite(u)

    # drift of F at the grid points (how well the solution satisfies the equation)
    f_drift = _grid_residual(pde, grid_axes, u, grad)
    strip_drift, ray_drift = float("nan"), None
    if charpit:  # F along every strip (it is conserved exactly; drift is integration error)
        ray_drift = np.full(len(S), np.nan)
        on_grid = -np.inf  # the largest |F| on the strips where they cross the grid's box
        # at the levels landed on exactly (F at dense-output samples would measure the
        # interpolant's error, not the strips')
        for part, exact in ctx.get("ray_parts") or [(out, ctx["exact"])]:
            levels = exact | (np.arange(part.shape[1]) == part.shape[1] - 1)
            part = part[:, levels]
            zenv = {name: part[:, :, i] for i, name in enumerate(info.z_names)}
            with np.errstate(all="ignore"):
                f = np.broadcast_to(np.abs(evaluate_array(pde.F, zenv)), part.shape[:2])
            f = np.where(np.isnan(f), -np.inf, f)  # NaN: after a ray's end
            ray_drift = np.fmax(ray_drift, np.where(f.max(axis=1) == -np.inf, np.nan,
                                                    f.max(axis=1)))  # fmt: skip
            # the summary: over the grid's span and box only (the rays go on to twice the
            # span, for the crossings, and may leave the box far behind: x ~ 6e4 by t = 10
            # for u_t + u_x^2/2 - x^2/2 = 0, where F's terms are ~1e9 and its rounding 1e-6)
            inside = np.ones(part.shape[:2], np.bool_)
            if e is not None and not ctx.get("ray_parts"):
                reach = float(np.abs((grid_axes[e] - t0) / speed).max())
                inside &= (np.abs(taus[levels]) <= reach * (1 + 1e-12))[None, :]
                for i in (i for i in range(n) if i != e):
                    pad = 0.1 * (hi_g[i] - lo_g[i])
                    with np.errstate(invalid="ignore"):
                        inside &= (part[:, :, i] >= lo_g[i] - pad) & (
                            part[:, :, i] <= hi_g[i] + pad
                        )
            if inside.any():
                on_grid = max(on_grid, float(f[inside].max()))
        if on_grid > -np.inf:
            strip_drift = on_grid

    if breaking_at is not None and e is not None and np.isfinite(breaking_tau):
        breaking_at = np.array(breaking_at, float)  # its time is the breaking time, exactly
        breaking_at[e] = t0 + speed * breaking_tau
    dims = tuple(pde.variables)
    branches = extra_attrs.pop("branches", None)
    shocks = extra_attrs.pop("shocks", None)
    data_vars = {pde.unknown: (dims, u), "mask": (dims, mask.astype(np.int8))}
    if branches is not None:  # --crossing multivalued: every branch, NaN-padded
        data_vars[f"{pde.unknown}_branches"] = ((*dims, "branch"), branches)
    var_attrs = {pde.unknown: {"long_name": f"solution {pde.unknown}"},
                 "mask": {"long_name": "1 where a characteristic reaches the point"}}  # fmt: skip
    if shocks is not None:  # --crossing shock: (t, x) of every shock at every output level
        for col, var in enumerate((pde.variables[e], pde.variables[1 - e])):
            name = _shock_name(pde, var)
            data_vars[name] = (("shock",), shocks[:, col])
            var_attrs[name] = {"long_name": f"{var} of a shock (one per shock and output level)"}
    for i, dname in enumerate(pde.derivative_names):
        data_vars[dname] = (dims, grad[..., i])
    coords = {v: ax for v, ax in zip(pde.variables, grid_axes)}
    attrs = {
        "title": f"charme characteristics: {pde.name}", "solver": "characteristics",
        "model": pde.name, "equation_class": info.kind, "crossing": crossing,
        # the values used (a spec's, or --set's: spec_text keeps the file's)
        "parameters": repr({k: float(v) for k, v in pde.parameters.items()}),
        "evolution_variable": pde.variables[e] if e is not None else "none", "rays": len(S), "rtol": rtol, "atol": atol,
        "breaking_time": float(t0 + speed * breaking_tau) if np.isfinite(breaking_tau) and e is not None else "none",
        # rays are traced (and crossings looked for) up to here: "none" means none before it
        **({"breaking_time_searched_to": ctx["searched_to"]} if "searched_to" in ctx else {}),
        **{f"breaking_location_{v}": float(breaking_at[i]) if breaking_at is not None else "none"
           for i, v in enumerate(pde.variables)},
        "blow_up_time": (float(t0 + speed * blow_tau) if e is not None else float(blow_tau)) if np.isfinite(blow_tau) else "none",
        "F_residual_max": f_drift, "F_drift_along_strips": strip_drift, "spec_path": pde.source_path, "spec_text": pde.source_text,
        **provenance(), "wall_time_s": time.perf_counter() - started,
        "Conventions": "CF-1.8",
        # kinks or jumps of 2+ D data where the rays spread apart: fans are not built there
        **({"fans_not_built_at": ", ".join(
            f"{v}={ctx['unbuilt_fans'][0][0][i]:.6g}" for i, v in enumerate(pde.variables)
            if i != e)} if ctx.get("unbuilt_fans") else {}),  # fmt: skip
        **_undefined_data(pde, S, np.isfinite(y0).all(axis=1) | off),
        **extra_attrs,
    }  # fmt: skip
    if save_rays:
        coords["step"] = np.arange(len(taus))
        coords["dim"] = np.array(pde.variables, dtype=str)
        data_vars["ray"] = (("ray", "step", "dim"), out[:, :, :n])
        data_vars["ray_u"] = (("ray", "step"), out[:, :, n])
        if charpit:
            data_vars["ray_p"] = (("ray", "step", "dim"), out[:, :, n + 1 : 2 * n + 1])
            data_vars["ray_F_drift"] = (("ray",), ray_drift)
            var_attrs["ray_F_drift"] = {"long_name": "max |F| along each strip (F = 0 on "
                                                     "the data; the rest is integration error)"}  # fmt: skip
        data_vars["ray_tau"] = (("step",), taus)
    return Result("characteristics", coords, data_vars, attrs, var_attrs)


def _undefined_data(pde, S, started):
    """Attributes saying where no ray starts because the data (or their derivatives
    along the manifold) are not finite there, as a cone's apex, 0/0, or a stretch
    outside their domain (``started``: the samples whose initial states are finite, or
    which the shorthand widened past the grid on purpose; a sample whose data are
    finite but the equation's coefficients there are not is not counted); none if
    there is no such sample."""
    if started.all():
        return {}
    first = int(np.flatnonzero(~started)[0])
    return {"data_undefined_samples": int((~started).sum()),
            "data_undefined_at": ", ".join(f"{name}={S[first, k]:.6g}"
                                           for k, name in enumerate(pde.manifold))}  # fmt: skip


def _off_grid(pde, S):
    """Shorthand data: the samples (rows of ``S``) outside the grid's range of their
    variable, where the solver widened the data (all False for the full form)."""
    off = np.zeros(len(S), np.bool_)
    if not pde.from_shorthand:
        return off
    for k, name in enumerate(pde.manifold):  # (the shorthand's parameters: free variables)
        a, b, _ = pde.grid[pde.variables.index(name)]
        off |= (S[:, k] < min(a, b)) | (S[:, k] > max(a, b))
    return off


def _check_tangents(pde, S, xs):
    """A SpecError at the first sample where the data's tangents dx0/ds_k (``xs``,
    float[R, m, n]) are linearly dependent: no ray is defined there."""
    m = xs.shape[1]
    finite = np.isfinite(xs).all(axis=(1, 2))
    if m == 1:
        flat = ~(np.abs(xs[:, 0]).max(axis=1) > 0)
    else:  # the Gram determinant against the tangents' size
        gram = xs @ np.swapaxes(xs, 1, 2)
        with np.errstate(all="ignore"):
            size = np.trace(gram, axis1=1, axis2=2) / m
            flat = np.abs(np.linalg.det(gram)) <= 1e-24 * size**m
    bad = np.flatnonzero(flat & finite)
    if bad.size:
        where = ", ".join(f"{s}={S[bad[0], k]:g}" for k, s in enumerate(pde.manifold))
        names = ", ".join(f"dx/d{s}" for s in pde.manifold)
        raise SpecError(
            f"the data are degenerate at {where}: "
            + (f"the tangent {names} is zero" if m == 1 else
               f"the tangents {names} are linearly dependent")
            + " there (a pole, cusp or single "
            "point of the parametrisation), so no characteristic is defined: leave such "
            "points out of the parameters' ranges (a point source: start from a small "
            "circle or sphere around it)", field="initial",
        )  # fmt: skip


def _complete_both_ways(cp, pde, S, built, y0):
    """The Charpit completion where Newton from p = 0 failed (no guess, no branch given),
    started again from the least-norm gradient of the strip conditions plus either unit
    normal of the data (:func:`initial_guesses` with branch +1 and -1).  Where both
    starts reach the same gradient it is the only one near: taken (``y0`` and ``built``
    updated in place).  Returns {ray: (p one way, p the other)} where they differ."""
    n = cp.n
    redo = np.flatnonzero(~built)
    states = []
    for side in (1.0, -1.0):
        y = np.empty((len(redo), y0.shape[1]))
        ok = np.zeros(len(redo), np.bool_)
        K.initial_states(cp.icode, cp.iconsts, cp.iprog, cp.fcode, cp.fconsts, cp.fprog, n,
                         True, S[redo], initial_guesses(pde, S[redo], branch=side), y, ok)  # fmt: skip
        states.append((y, ok))
    (ya, oka), (yb, okb) = states
    pa, pb = ya[:, n + 1 : 2 * n + 1], yb[:, n + 1 : 2 * n + 1]
    both = oka & okb
    same = both & (np.abs(pa - pb) <= 1e-10 * (1.0 + np.abs(pa))).all(axis=1)
    y0[redo[same]] = ya[same]
    built[redo[same]] = True
    return {int(redo[j]): (pa[j], pb[j]) for j in np.flatnonzero(both & ~same)}


def _fmt_vector(v):
    return "(" + ", ".join(f"{x:.6g}" for x in v) + ")"


def _shock_name(pde, var):
    """``shock_<var>``, the data variable of the shocks' ``var`` coordinate (``front_<var>``
    if the unknown itself is called ``shock``: its derivatives are ``shock_<var>``)."""
    return f"{'front' if pde.unknown == 'shock' else 'shock'}_{var}"


#: nodes per slab of the grid residual's NumPy evaluation: temporaries of 0.5 MB are
#: reused from the heap (fresh large ones cost page faults, more than the arithmetic)
RESIDUAL_SLAB = 1 << 16


def _swapped_neighbours(out, taus, tb, o):
    """Per interval between neighbouring rays of 1-D data (traced states ``out`` at the
    levels ``taus``, first crossings ``tb`` from their Jacobians): True where the two
    change places along x_o at a level before either ray's Jacobian shows a crossing.
    Rays between them then cross though no sampled one does: the data jump or have a
    kink there (x (1 - H(x - 1)) for Burgers, min(x^2, 1) for u_t + u_x^2/2 = 0) or a
    stretch steeper than the samples, which the samples' values need not make stand
    out."""
    x = out[:, :, o]
    with np.errstate(all="ignore"):
        gap = np.sign(x[1:] - x[:-1])
        turned = gap * gap[:, :1] < 0
        before = np.abs(taus)[None, :] < np.fmin(tb[:-1], tb[1:])[:, None]
    return (turned & before).any(axis=1)


def _refuse_cone_kink(pde, cp, S, y0, e):
    """--crossing viscosity in 2+ space dimensions: a SpecError where F_p jumps at a zero
    space gradient (a cone, |grad u|, whose second derivative has no delta for the 1-D
    test of ``kink_in_p`` to see) and the data's gradient comes to 0 within a sample's
    reach (a critical point): the viscosity solution there fans out of it, which is not
    built, and the rays around it gave values that are not it."""
    n, m, nz = cp.n, cp.n - 1, cp.nz
    space = [i for i in range(n) if i != e]
    good = np.flatnonzero(np.isfinite(y0).all(axis=1))
    if not good.size:
        return
    p = y0[good][:, [n + 1 + i for i in space]]
    size = np.linalg.norm(p, axis=1)
    step = (cp.s_hi - cp.s_lo) / np.maximum(np.array([k for _, _, k in pde.manifold_ranges]) - 1, 1)
    dp = sum(np.linalg.norm(y0[good][:, [nz + k * nz + n + 1 + i for i in space]], axis=1)
             * abs(step[k]) for k in range(m))  # fmt: skip
    if not (size <= 2.0 * dp).any():
        return
    z = y0[good[np.argmin(size)], :nz].copy()
    jumps = False
    with np.errstate(all="ignore"):
        for i in space:
            ends = []
            for sign in (1.0, -1.0):
                q = z.copy()
                q[[n + 1 + j for j in space]] = 0.0
                q[n + 1 + i] = sign * 1e-9
                ends.append(_eval_a({"code": cp.code, "consts": cp.consts, "prog": cp.prog,
                                     "n": n}, q[None])[0])  # fmt: skip
            gap = np.abs(ends[0] - ends[1])
            jumps |= not (
                np.isfinite(gap).all() and gap.max() <= 1e-3 * (1.0 + np.abs(ends[0]).max())
            )
    if jumps:
        where = ", ".join(
            f"{v}={S[good[np.argmin(size)], k]:g}" for k, v in enumerate(pde.manifold)
        )
        raise SpecError(
            "--crossing viscosity needs an equation differentiable in the gradient where the "
            "data's gradient vanishes; this one has a kink at grad u = 0 (the rays' direction "
            f"F_p jumps there, as for |grad u|), and the data's gradient comes to 0 near "
            f"{where}: the viscosity solution there is made of characteristics fanning out "
            "of that point in every direction, which are not traced in more than one space "
            "dimension. Write it smoothly (e.g. sqrt(u_x^2 + u_y^2 + 1e-6)), or use "
            "--crossing stop or multivalued", field="equation",
        )  # fmt: skip


def _evolution_derivative(pde, e, x, u, p):
    """u's derivative along the evolution variable ``e`` from F = 0, which is linear in it
    (F = F0 + p_e (F1 - F0)), at the points ``x`` (one array per variable) with values
    ``u`` and the other derivatives in the columns of ``p`` (its column ``e`` is used as
    scratch)."""
    env = {v: xi for v, xi in zip(pde.variables, x)}
    env[pde.unknown] = u
    f = []
    for p_e in (0.0, 1.0):
        p[:, e] = p_e
        env.update({name: p[:, i] for i, name in enumerate(pde.derivative_names)})
        f.append(np.broadcast_to(evaluate_array(pde.F, env), (len(u),)).astype(float))
    return -f[0] / (f[1] - f[0])


def _no_ray_direction(pde, cp, y, e):
    """For samples of an evolution problem's data (states ``y``, p not completed): whether
    the gradient the data fix there (the strip conditions give its space part, F = 0,
    linear in p_e, the rest) leaves the rays' direction F_p undefined (0/0: a critical
    point of the data where F has a kink in the gradient)."""
    n, m, nz = cp.n, cp.n - 1, cp.nz
    space = [i for i in range(n) if i != e]
    out = np.zeros(len(y), np.bool_)
    z = y[:, :nz].copy()
    with np.errstate(all="ignore"):
        for r in range(len(y)):
            xs = np.array([[y[r, nz + k * nz + i] for i in space] for k in range(m)])
            us = np.array([y[r, nz + k * nz + n] for k in range(m)])
            try:
                z[r, [n + 1 + i for i in space]] = np.linalg.solve(xs, us)
            except np.linalg.LinAlgError:
                z[r, n + 1 :] = np.nan
        z[:, n + 1 + e] = _evolution_derivative(pde, e, [z[:, i] for i in range(n)],
                                                z[:, n], z[:, n + 1 :])  # fmt: skip
        fine = np.isfinite(z).all(axis=1)
        if fine.any():
            a = _eval_a({"code": cp.code, "consts": cp.consts, "prog": cp.prog, "n": n},
                        z[fine])  # fmt: skip
            out[np.flatnonzero(fine)[~np.isfinite(a).all(axis=1)]] = True
    return out


def _data_level(pde, cp, grid_axes, e, u, grad):
    """Shorthand data ``u(x, t=t0) = g(x)``: the grid's nodes at t0 that no ray gave a
    value (their sample started none: the apex of a cone, ``|x|^1.5`` at 0) take g
    there, in place; their gradient is g's derivatives and u_t from F = 0 (which is
    linear in it), NaN where g has no derivative."""
    if not pde.from_shorthand or e is None:
        return
    n, m = cp.n, cp.n - 1
    space = [i for i in range(n) if i != e]
    names = [pde.variables[i] for i in space]
    if sorted(pde.manifold) != sorted(names):
        return
    for lvl in np.flatnonzero(grid_axes[e] == cp.t0):
        at = [slice(None)] * n
        at[e] = int(lvl)
        sub, gsub = u[tuple(at)], grad[tuple(at)]  # (views)
        miss = np.argwhere(np.isnan(sub))
        if not len(miss):
            continue
        coords = {v: grid_axes[i][miss[:, j]] for j, (v, i) in enumerate(zip(names, space))}
        S = np.ascontiguousarray(np.stack([coords[v] for v in pde.manifold], axis=1))
        rows = np.array([n, *(n + 1 + n * m + k for k in range(m))])
        got = np.empty((len(S), len(rows)))
        K.eval_rows(cp.icode, cp.iconsts, cp.iprog, rows, S, got)
        p = np.zeros((len(S), n))
        for k, v in enumerate(pde.manifold):
            p[:, pde.variables.index(v)] = got[:, 1 + k]
        x = [coords.get(v, np.full(len(S), float(cp.t0))) for v in pde.variables]
        with np.errstate(all="ignore"):
            p[:, e] = _evolution_derivative(pde, e, x, got[:, 0], p)
        p[~np.isfinite(p).all(axis=1)] = np.nan
        idx = tuple(miss.T)
        sub[idx] = got[:, 0]
        gsub[idx] = p


def _grid_residual(pde, grid_axes, u, grad):
    """max |F(x, u, grad u)| over the grid's reached nodes (NaN if none, NaN values of F
    left out), by NumPy on the open grid (axes broadcast, no mesh) in slabs of the
    first axis, so that its temporaries stay small."""
    n = len(grid_axes)
    per_row = max(1, int(np.prod(u.shape[1:], dtype=np.int64)))
    rows = max(1, RESIDUAL_SLAB // per_row)
    worst = -1.0
    for lo in range(0, u.shape[0], rows):
        sl = slice(lo, lo + rows)
        env = {}
        for i, (name, axis) in enumerate(zip(pde.variables, grid_axes)):
            env[name] = (axis[sl] if i == 0 else axis).reshape([-1 if j == i else 1
                                                                for j in range(n)])  # fmt: skip
        env[pde.unknown] = u[sl]
        for i, dname in enumerate(pde.derivative_names):
            env[dname] = grad[sl][..., i]
        with np.errstate(all="ignore"):
            f = np.abs(np.broadcast_to(evaluate_array(pde.F, env), u[sl].shape))
            f = np.where(np.isfinite(u[sl]) & ~np.isnan(f), f, -1.0)
        if f.size:
            worst = max(worst, float(f.max()))
    return float("nan") if worst < 0.0 else worst


def _check_branch(pde, S, y0, n, nz, m, charpit):
    """``initial.branch``: the completed gradient's component along the data's normal
    must have that sign at every sample (else Newton found another branch)."""
    if not charpit:
        raise SpecError(
            "initial.branch picks a root of F = 0 for fully nonlinear equations; this one is "
            "not: its gradient on the data is unique", field="initial.branch",
        )  # fmt: skip
    xs = np.stack([y0[:, nz + k * nz : nz + k * nz + n] for k in range(m)], axis=1)
    with np.errstate(invalid="ignore"):
        side = np.einsum("ri,ri->r", y0[:, n + 1 : 2 * n + 1], manifold_normals(xs))
    ray = np.isfinite(y0).all(axis=1)  # (samples where the data give no ray: nothing to check)
    bad = np.flatnonzero(ray & ~(np.sign(side) == pde.branch))
    if bad.size:
        r = int(bad[0])
        where = ", ".join(f"{s}={S[r, k]:g}" for k, s in enumerate(pde.manifold))
        raise SpecError(
            f"the gradient completed at {where} is not on branch {pde.branch:+d} (its component "
            "along the data's normal has the other sign or is zero): give initial.guess",
            field="initial.branch",
        )


def _bracket_seeds(Y, S, pts, o, nz):
    """Newton's starts on 1-D data: for each point x the root, between the first pair of
    neighbouring rays (states ``Y`` at one level) whose positions bracket it, of the
    Hermite interpolant of x(s) (:func:`kernels.hermite_seeds`).  Returns (seeds[q, 1],
    the bracket's left ray or -1 where no pair brackets the point, d(z_s)/ds at the seeds
    (:func:`kernels.seed_curvatures`; NaN rows where there is no bracket))."""
    seeds = np.zeros((len(pts), 1))
    near = np.full(len(pts), -1)
    zss = np.full((len(pts), nz), np.nan)
    qs, lin, left = BR.brackets(Y[:, o], S[:, 0], pts[:, 0])
    if qs.size:
        qs, first = np.unique(qs, return_index=True)  # a point on a ray: two brackets
        lin, left = lin[first].copy(), left[first]
        zss[qs] = _hermite_start(Y, S[:, 0], o, nz, left, pts[qs, 0], lin)
        seeds[qs, 0] = lin
        near[qs] = left
    return seeds, near, zss


def _hermite_start(Y, S, o, nz, left, xt, seeds):
    """Newton's starts between the bracketing rays ``left``, ``left + 1`` (states ``Y`` at
    one level, 1-D parameters ``S``) for the targets ``xt``: ``seeds`` refined in place on
    the Hermite interpolant of x(s) (:func:`kernels.hermite_seeds`); returns d(z_s)/ds at
    them (:func:`kernels.seed_curvatures`), for :func:`kernels.locate`'s linear finish."""
    S = np.ascontiguousarray(S, float)
    x, x_s = np.ascontiguousarray(Y[:, o]), np.ascontiguousarray(Y[:, nz + o])
    K.hermite_seeds(S, x, x_s, left, np.ascontiguousarray(xt, float), seeds)
    zss = np.empty((len(seeds), nz))
    K.seed_curvatures(S, np.ascontiguousarray(Y[:, nz : 2 * nz]), left, seeds, zss)
    return zss


def _linear_seeds(y, s, pts, others, nz, m, s_lo, s_hi):
    """Newton's start on the manifold: one linear step from the nearest ray, using its x_s."""
    J = np.stack([y[:, nz + k * nz + np.array(others)] for k in range(m)], axis=2)  # dx/ds_k
    dx = pts - y[:, others]
    with np.errstate(all="ignore"):
        ok = np.abs(np.linalg.det(J)) > 1e-12
        step = np.zeros_like(s)
        if ok.any():
            step[ok] = np.linalg.solve(J[ok], dx[ok][..., None])[..., 0]
    seeds = s + step
    bad = ~np.isfinite(seeds).all(axis=1) | (np.abs(step) > (s_hi - s_lo)).any(axis=1)
    seeds[bad] = s[bad]
    return np.clip(seeds, s_lo, s_hi)


def _hermite(info, pde, c, e, speed, tau_levels, taus, out, end):
    """Cubic Hermite interpolation of u in x between the rays, per time level."""
    from scipy.interpolate import CubicHermiteSpline

    n, nz = c["n"], c["nz"]
    if n != 2:
        raise SpecError(
            "hermite evaluation is implemented for one space dimension (variables "
            "[t, x]); use newton"
        )
    o = 1 - e
    u = np.full(c["shape"], np.nan)
    grad = np.full((*c["shape"], n), np.nan)
    xs = c["grid_axes"][o]
    for lvl, tau in enumerate(tau_levels):
        if tau > end + 1e-9 * max(1.0, abs(end)):
            continue  # --crossing stop
        y = out[:, int(np.searchsorted(taus, tau))]
        fin = np.isfinite(y).all(axis=1)
        y, s_ray = y[fin], c["S"][fin, 0]
        if c["charpit"]:
            ux = y[:, n + 1 + o]
        else:  # u_x from [x_s, a]^T p = [u_s, b] on each ray
            a = _eval_a(c, y[:, :nz])
            b = _eval_b(c, y[:, :nz])
            J = np.stack([y[:, nz : nz + n], a], axis=1)
            rhs = np.stack([y[:, nz + n], b], axis=1)
            ux = np.linalg.solve(J, rhs[..., None])[:, o, 0]
        x, uu = y[:, o], y[:, n]
        order = np.argsort(x)
        x, uu, ux, s_ray = x[order], uu[order], ux[order], s_ray[order]
        keep = np.concatenate([[True], np.diff(x) > 0])
        spline = CubicHermiteSpline(x[keep], uu[keep], ux[keep], extrapolate=False)
        # a node on the first or last ray within rounding of its x counts as on it
        lo, hi = x[keep][0], x[keep][-1]
        tol = 1e-12 * (1.0 + np.abs(xs))
        at = np.where(
            (xs < lo) & (xs >= lo - tol), lo, np.where((xs > hi) & (xs <= hi + tol), hi, xs)
        )
        level_u = spline(at)
        level_ux = spline(at, 1)
        # no cubic across a kink or jump of the data (two rays either side of it: at
        # t = 0 nothing lies between them, and no ray starts at a jump): no value there
        # (a fan's, below; the data's own at t0, for shorthand data)
        kinks = np.asarray(c.get("kinks", ()), float)
        if kinks.size:
            xk, sk = x[keep], s_ray[keep]
            j = np.clip(np.searchsorted(xk, at, side="right") - 1, 0, max(len(xk) - 2, 0))
            a_s, b_s = np.minimum(sk[j], sk[j + 1]), np.maximum(sk[j], sk[j + 1])
            across = ((kinks[None, :] > a_s[:, None]) & (kinks[None, :] < b_s[:, None])).any(axis=1)
            on_ray = np.isin(at, xk)  # (a node on a ray itself: its value)
            level_u[across & ~on_ray] = np.nan
            level_ux[across & ~on_ray] = np.nan
        # u along the evolution variable from the equation: F is linear in p_e with slope `speed`
        env = {pde.variables[o]: xs}
        env[pde.variables[e]] = np.full(len(xs), c["t_levels"][lvl])
        env[pde.unknown] = level_u
        env[pde.derivative_names[o]] = level_ux
        env[pde.derivative_names[e]] = np.zeros(len(xs))
        with np.errstate(all="ignore"):
            level_ue = -np.broadcast_to(evaluate_array(solved_equation(pde), env), len(xs)) / speed
        sl = [slice(None)] * n
        sl[e] = lvl
        u[tuple(sl)] = level_u
        g = np.empty((len(xs), n))
        g[:, o], g[:, e] = level_ux, level_ue
        grad[(*sl, slice(None))] = np.where(np.isfinite(level_u)[:, None], g, np.nan)
        _fan_fill(
            info, c, e, int(np.searchsorted(taus, tau)), u[tuple(sl)], grad[(*sl, slice(None))]
        )
    return u, grad


def _sample_position(c, s):
    """Where the manifold parameters ``s`` (float[k, m]) lie in the data's grid of
    samples, in sample spacings along each parameter (0 at its first sample)."""
    lo, hi = c["s_lo"], c["s_hi"]
    return (s - lo) / np.where(hi > lo, hi - lo, 1.0) * (c["s_counts"] - 1)


def _past_focus(c, s, tau, tb=None):
    """Which rays of the data (manifold parameters ``s``, float[k, m]) are past their
    first crossing (focal point) at ``tau``: every traced ray at the corners of its cell
    of samples crossed before (``c["tb_ray"]``, their first crossings).  Past it a ray
    minimises nothing (the Hopf-Lax value is reached before), so a viscosity solution
    never takes it: where only such rays arrive (data focusing to a point, after which
    the value is -inf) there is none.  ``tau``: a number or one per ray; ``tb``: the
    first crossings to use (default ``c["tb_ray"]``)."""
    tb = c["tb_ray"] if tb is None else tb
    counts = c["s_counts"]
    k = np.clip(np.floor(_sample_position(c, s)), 0, np.maximum(counts - 2, 0)).astype(np.int64)
    late = tau * (1.0 - 1e-9)
    past = np.ones(len(s), np.bool_)
    for corner in itertools.product((0, 1), repeat=s.shape[1]):
        idx = np.minimum(k + np.array(corner), counts - 1)
        past &= tb[np.ravel_multi_index(tuple(idx.T), tuple(counts))] < late
    return past


def _fan_fill(info, c, e, level, u, grad):
    """Points inside a rarefaction fan take the fan's value (in place, one level)."""
    xs = c["grid_axes"][1 - e]
    for fan in c.get("fans", ()):
        q, fan_u, fan_g, _, _ = FANS.branches(info, c, e, fan, level, xs,
                                              lambda z: _eval_a(c, z), lambda z: _eval_b(c, z))  # fmt: skip
        u[q], grad[q] = fan_u, fan_g


def _in_fans(c, level, o, x, left, S, edges=False):
    """Whether each point ``x`` (space coordinate ``o``) lies strictly inside a fan at
    ``level`` (``edges``: or on its edge rays) while its bracket, rays ``left`` and
    ``left + 1`` of the data's parameters ``S`` (1-D; -1: no bracket), spans that fan's
    kink: no ray of the data passes there (the data's rays on either side of the kink
    bound the fan), so Newton onto them would only fail, at the cost of its every
    iteration."""
    inside = np.zeros(len(x), np.bool_)
    has = left >= 0
    lo_s, hi_s = S[np.where(has, left, 0)], S[np.where(has, left + 1, 0)]
    for fan in c["fans"]:
        edge = fan.out[:, level, o]
        if not np.isfinite(edge).all():
            continue
        a, b = float(edge.min()), float(edge.max())
        pad = (-1.0 if edges else 1.0) * 1e-12 * (1.0 + max(abs(a), abs(b)))
        inside |= (has & (lo_s <= fan.s_star) & (hi_s >= fan.s_star)
                   & (x > a + pad) & (x < b - pad))  # fmt: skip
    return inside


def _eval_b(c, z):
    """du/dtau (component n of g) at the ray states ``z`` (compiled)."""
    out = np.empty((len(z), 1))
    K.eval_rows(c["code"], c["consts"], c["prog"], np.array([c["n"]]), np.ascontiguousarray(z),
                out)  # fmt: skip
    return out[:, 0]


def _convex_shock(info, pde, cp, c, crossing, evaluation, save_rays, tau_levels, horizon):
    """--crossing shock by :mod:`.convex1d` where it applies (else None): what
    ``evolution`` returns, with no traced rays."""
    programs = CONVEX.prepare(info, pde, cp, crossing, evaluation, save_rays)
    S = c["S"]
    if programs is None or not c["started"].all() or len(S) < 3 or not S[0, 0] < S[-1, 0]:
        return None
    e, o = cp.evolution, 1 - cp.evolution
    xs = c["grid_axes"][o]
    u, ux, ut, shocks, brk = CONVEX.solve(cp, programs, S, xs, tau_levels, c["lo_g"][o],
                                          c["hi_g"][o], horizon)  # fmt: skip
    if u is None:  # (data the compiled pass does not cover after all, or a flux neither
        return None  # convex nor concave over them, which the general path refuses)
    if e == 1:
        u, ux, ut = u.T, ux.T, ut.T
    grad = np.empty((*u.shape, 2))
    grad[..., e], grad[..., o] = ut, ux
    breaking_at = None
    if np.isfinite(brk[0]):
        breaking_at = np.zeros(2)
        breaking_at[o] = brk[2]
    shocks = np.column_stack([cp.t0 + cp.speed * shocks[:, 0], shocks[:, 1]])
    extra = {"crossing_method": crossing, "shock_path": "compiled", "shocks": shocks}
    return u, grad, tau_levels, None, float(brk[0]), breaking_at, np.inf, extra


def _after_crossing(info, pde, c, crossing, e, t0, speed, tau_levels, taus, out,
                    evaluation="newton"):  # fmt: skip
    """Every branch at each grid point of a 1-D evolution problem, then a choice.

    ``multivalued`` keeps them all (``u`` is the first); ``viscosity`` takes
    the smallest u (Hopf-Lax / first arrival: right for Hamilton-Jacobi
    equations convex in p); ``shock`` takes the branch that minimises the
    Lax-Oleinik functional U0(s) + u0(s) (x - x0(s)) - t f(u0(s)) of the
    conservation law u_t + f(u)_x = 0 (f convex): the entropy solution, with
    the shocks where the choice jumps (located by Newton on the difference of
    the two branches' functionals, Rankine-Hugoniot holding by construction).
    The rays through each level's points are one :class:`.branches.Branches`
    table; the choices are array operations on it.  With
    ``evaluation="hermite"`` each ray through a point is found on the cubic
    Hermite interpolant between two traced rays (:func:`_hermite_branches`)
    instead of by Newton on the rays.
    """
    n = c["n"]
    if crossing == "viscosity" and not info.charpit:
        raise SpecError(
            "--crossing viscosity is for Hamilton-Jacobi equations (fully nonlinear, convex "
            "in the gradient); for a 1-D conservation law u_t + f(u)_x = 0 use --crossing "
            "shock, otherwise multivalued (every branch)"
        )
    if n != 2:
        if crossing == "shock":
            raise SpecError(
                "--crossing shock is for conservation laws in one space dimension "
                "(variables [t, x]); in more use multivalued"
            )
        return _branches_nd(info, c, crossing, e, speed, tau_levels, taus, out)
    o = 1 - e
    S = c["S"][:, 0]
    flux = _flux(info, pde) if crossing == "shock" else None
    # +1: the smallest value wins (f or H convex), -1: the largest (concave)
    sign = 1.0
    if crossing == "shock":
        sign = _flux_sign(info, pde, c)
    elif crossing == "viscosity":
        sign = _hamiltonian_sign(info, c, out, [o], speed)
    xs = c["grid_axes"][o]
    kinks = c.get("kinks", ())
    u = np.full(c["shape"], np.nan)
    grad = np.full((*c["shape"], n), np.nan)
    per_level, shocks = [], []
    folds = {}  # (level: where x(s) turns between two rays)
    for lvl, tau in enumerate(tau_levels):
        kk = int(np.searchsorted(taus, tau))
        pos = out[:, kk, o]
        t = t0 + speed * tau

        def branches(targets, pos=pos, tau=tau, kk=kk):
            """Every ray through each target x (a :class:`Branches` table)."""
            targets = np.asarray(targets, float)
            qs, seeds, left = BR.brackets(pos, S, targets)
            if c.get("fans"):  # inside a fan, across its kink: no ray of the data there
                # (the Hermite interpolant across the kink is no ray: not at the edges either)
                keep = ~_in_fans(c, kk, o, targets[qs], left, S, evaluation == "hermite")
                qs, seeds, left = qs[keep], seeds[keep], left[keep]
            if evaluation == "hermite":
                # no cubic across a kink or jump of the data: Newton onto the rays there
                across = np.zeros(len(qs), np.bool_)
                for s_k in kinks:
                    across |= (S[left] <= s_k) & (S[left + 1] >= s_k)
                parts = [_hermite_branches(c, e, out[:, kk], S, targets, qs[~across],
                                           left[~across], seeds[~across])]  # fmt: skip
                if across.any():
                    parts.append(_locate_branches(c, e, n, tau, out[:, kk], S, targets,
                                                  qs[across], left[across], seeds[across]))  # fmt: skip
            else:
                if kk not in folds:  # (once per level)
                    folds[kk] = _folds(out[:, kk], S, o, c["nz"])
                parts = [
                    _locate_branches(c, e, n, tau, out[:, kk], S, targets, qs, left, seeds),
                    _fold_branches(c, e, n, tau, out[:, kk], S, targets, folds[kk]),
                ]
            for fan in c.get("fans", ()):
                parts.append(FANS.branches(info, c, e, fan, kk, targets,
                                           lambda z: _eval_a(c, z), lambda z: _eval_b(c, z)))  # fmt: skip
            # targets no pair of rays brackets (beyond the last ray before the data's
            # edge, where the data end or their derivative is infinite): Newton from the
            # nearest ray, as with --crossing stop
            hit = np.zeros(len(targets), np.bool_)
            for part in parts:
                hit[part[0]] = True
            alone = np.flatnonzero(~hit)
            if alone.size and evaluation != "hermite":
                parts.append(_unbracketed(c, e, n, tau, out[:, kk], S, targets, alone))
            return BR.Branches.build(len(targets), n, parts)

        def lax_oleinik(s, x, w, t=speed * tau):
            """The Lax-Oleinik functional of rays (s, fan value w) at x, least wins (``t``:
            the time elapsed since the data's, t - t0)."""
            return sign * _lax_oleinik(pde, flux, s, x, t, w, kinks, c)

        table = branches(xs)
        if crossing == "multivalued":
            key = None
        elif crossing == "viscosity":  # no ray past its focal point: none minimises
            past = np.isnan(table.w) & _past_focus(c, table.s[:, None], tau)
            key = np.where(past, np.inf, sign * table.u)
        else:  # a point reached by one ray has nothing to choose
            key = np.zeros(len(table.u))
            multi = table.counts[table.q] > 1
            if multi.any():
                key[multi] = lax_oleinik(table.s[multi], xs[table.q[multi]], table.w[multi])
        picks = BR.pick(table, key)
        if key is not None:  # only rays past their focal point: no value
            picks[picks >= 0] = np.where(np.isinf(key[picks[picks >= 0]]), -1, picks[picks >= 0])
        has = picks >= 0
        sl = [slice(None)] * n
        sl[e] = lvl
        level_u = np.full(len(xs), np.nan)
        level_g = np.full((len(xs), n), np.nan)
        level_u[has] = table.u[picks[has]]
        level_g[has] = table.g[picks[has]]
        u[tuple(sl)] = level_u
        grad[(*sl, slice(None))] = level_g
        if crossing == "multivalued":
            per_level.append(table)
        if crossing == "shock" and tau > 0:
            # rays folded over at this level (x_s turned against its sign on the data)
            folded = out[:, kk, c["nz"] + o] * out[:, 0, c["nz"] + o] < 0
            # and a stretch of rays met in one point, at the time a ramp of the data
            # closes into a jump (max(0, min(1, -x)) for Burgers at t = 1): a shock is
            # born whole there (not one ray's x_s touching 0, as at a smooth caustic's tip)
            with np.errstate(invalid="ignore"):
                met = np.abs(out[:, kk, c["nz"] + o]) <= 1e-12 * np.abs(out[:, 0, c["nz"] + o])
            if met.any():
                pair = met[:-1] & met[1:]
                folded[:-1] |= pair
                folded[1:] |= pair
            jumps = np.union1d(BR.handovers(table, picks),
                               BR.across_folds(table, picks, S, folded))  # fmt: skip
            # (and across a jump of the data whose rays converge: a shock from t = 0)
            jumps = np.union1d(jumps, BR.across_jumps(table, picks, c.get("converging_s", ())))
            for q in jumps:
                known = [(table.at(i), key[table.start[i] : table.start[i + 1]])
                         if table.counts[i] > 1 else None for i in (q, q + 1)]  # fmt: skip
                x_shocks = _shocks_between(
                    xs[q], xs[q + 1], table.entry(picks[q]), table.entry(picks[q + 1]),
                    lambda x, branches=branches: branches([x]).at(0),
                    lambda bs, x, lo=lax_oleinik: lo(np.array([br[2] for br in bs]),
                                                     np.full(len(bs), x),
                                                     np.array([br[3] for br in bs])),
                    sign, known, _fold_middle(out[:, kk, o], S, folded, table.s[picks[q]],
                                              table.s[picks[q + 1]]),
                )  # fmt: skip
                shocks += [(float(t), x) for x in x_shocks]
    extra = {"crossing_method": crossing}
    if crossing == "shock":
        extra["shock_path"] = "general"
        extra["shocks"] = np.array(shocks, float).reshape(-1, 2)  # rows (t, x)
    if crossing == "multivalued":
        width = max((int(tb.counts.max(initial=0)) for tb in per_level), default=1)
        br = np.full((*c["shape"], max(width, 1)), np.nan)
        for lvl, tb in enumerate(per_level):
            j = np.arange(len(tb.q)) - tb.start[tb.q]
            if e == 0:
                br[lvl, tb.q, j] = tb.u
            else:
                br[tb.q, lvl, j] = tb.u
        extra["branches"] = br
    return u, grad, extra


BRANCH_SEEDS = 12
#: ... and at most, for points where the first seeds found several branches
BRANCH_SEEDS_MOST = 192


def _branches_nd(info, c, crossing, e, speed, tau_levels, taus, out):
    """Every branch at each grid point of an evolution problem in 2+ space dimensions.

    Per output level, Newton on the manifold parameters from up to
    ``BRANCH_SEEDS`` rays near the point that lie well apart on the data;
    the distinct solutions are the branches.  ``viscosity`` takes the
    smallest u (the largest for a Hamiltonian concave in the gradient),
    ``multivalued`` keeps them all (``u`` is the smallest).
    """
    from scipy.spatial import cKDTree

    n, m, S, y0 = c["n"], c["m"], c["S"], c["y0"]
    others = [i for i in range(n) if i != e]
    sign = _hamiltonian_sign(info, c, out, others, speed) if crossing == "viscosity" else 1.0
    spacing = np.maximum((c["s_hi"] - c["s_lo"]) / np.maximum(len(S) ** (1 / m), 1), 1e-300)
    pts = np.array(list(itertools.product(*(c["grid_axes"][i] for i in others))), float)
    sub_shape = tuple(len(c["grid_axes"][i]) for i in others)
    u = np.full(c["shape"], np.nan)
    grad = np.full((*c["shape"], n), np.nan)
    per_level = []  # (owner, u) of every distinct branch, each point's in order of sign * u
    for lvl, tau in enumerate(tau_levels):
        kk = int(np.searchsorted(taus, tau))
        pos = out[:, kk][:, others]
        good = np.flatnonzero(np.isfinite(pos).all(axis=1))
        owner, uq, gq = np.empty(0, np.int64), np.empty(0), np.empty((0, n))
        if good.size:
            tree = cKDTree(pos[good])
            # every cell of the data's lattice whose rays' box covers a point: a ray through
            # the point may start in it, whatever the rays nearest the point are
            cell_q, cell_ray, cell_s = _cell_seeds(c, pos, [c["grid_axes"][i] for i in others])

            def found(points, seeds, tau=tau, good=good, tree=tree, cell_q=cell_q,
                      cell_ray=cell_ray, cell_s=cell_s):  # fmt: skip
                """The distinct branches through ``points`` from up to ``seeds`` seeds
                each (and the cells covering them): (owner, u, grad), by point then
                sign * u, and how many distinct rays each point had before the viscosity
                solution's choice."""
                _, near = tree.query(pts[points], k=min(good.size, 8 * seeds))
                chosen = np.empty((len(points), seeds), np.int64)
                K.spread_seeds(good[np.asarray(near).reshape(len(points), -1)], S, spacing,
                               3.0, chosen)  # fmt: skip
                owner, slot = np.nonzero(chosen >= 0)  # point by point, nearest seed first
                rays = chosen[owner, slot]
                owner = points[owner]
                start_s = S[rays]
                if cell_q.size:  # and from the middle of each cell covering a point
                    take = np.isin(cell_q, points)
                    owner = np.concatenate([owner, cell_q[take]])
                    rays = np.concatenate([rays, cell_ray[take]])
                    start_s = np.concatenate([start_s, cell_s[take]])
                    order = np.argsort(owner, kind="stable")
                    owner, rays, start_s = owner[order], rays[order], start_s[order]
                seed_p = (
                    y0[rays, n + 1 : 2 * n + 1] if c["charpit"] else np.zeros((len(rays), n))
                ).copy()
                uq, gq = np.empty(len(rays)), np.empty((len(rays), n))
                sq, ok = np.empty((len(rays), m)), np.zeros(len(rays), np.bool_)
                over_rows(K.locate, len(rays), c["code"], c["consts"], c["prog"], c["icode"],
                          c["iconsts"], c["iprog"], c["fcode"], c["fconsts"], c["fprog"], n,
                          c["charpit"], e, pts[owner], np.full(len(rays), tau),
                          np.ascontiguousarray(start_s), seed_p, c["h_ray"][rays],
                          np.empty((0, c["nz"])), c["s_lo"], c["s_hi"], np.zeros((len(rays), 2)),
                          np.zeros(len(rays)), c["rtol"], c["atol"], uq, gq, sq, ok,
                          c["straight"])  # fmt: skip
                if c["charpit"] and ok.any():
                    ok[ok] &= _on_branch(c, sq[ok], seed_p[ok])
                keep = np.empty(len(rays), np.bool_)
                K.distinct_rays(owner, sq, ok, spacing, 1e-6, keep)
                rays_found = np.bincount(owner[keep], minlength=len(pts))
                if crossing == "viscosity" and keep.any():  # no ray past its focal point
                    keep[keep] &= ~_past_focus(c, sq[keep], tau)
                order = np.flatnonzero(keep)
                order = order[np.lexsort((sign * uq[order], owner[order]))]  # ties: as found
                return owner[order], uq[order], gq[order], rays_found

            # points where the seeds found several rays may have more than they reached:
            # again from four times the seeds, while a quarter of them find distinct rays
            # (up to BRANCH_SEEDS_MOST)
            points, seeds = np.arange(len(pts)), BRANCH_SEEDS
            owner, uq, gq, counts = found(points, seeds)
            while seeds < BRANCH_SEEDS_MOST:
                points = points[counts[points] >= max(2, seeds // 4)]
                if not points.size:
                    break
                seeds *= 4
                *more, counts = found(points, seeds)
                again = np.isin(owner, points)
                owner, uq, gq = (np.concatenate([a[~again], b]) for a, b in zip((owner, uq, gq),
                                                                               more))  # fmt: skip
                order = np.lexsort((sign * uq, owner))
                owner, uq, gq = owner[order], uq[order], gq[order]
        start = np.searchsorted(owner, np.arange(len(pts) + 1))  # each point's branches
        per_level.append((owner, uq, start))
        has = np.diff(start) > 0
        lu = np.full(len(pts), np.nan)
        lg = np.full((len(pts), n), np.nan)
        lu[has] = uq[start[:-1][has]]
        lg[has] = gq[start[:-1][has]]
        sl = [slice(None)] * n
        sl[e] = lvl
        u[tuple(sl)] = lu.reshape(sub_shape)
        grad[(*sl, slice(None))] = lg.reshape((*sub_shape, n))
    extra = {"crossing_method": crossing}
    if crossing == "multivalued":
        width = max((int(np.diff(start).max()) for _, _, start in per_level), default=1)
        br = np.full((*c["shape"], max(width, 1)), np.nan)
        by_level = np.moveaxis(br, e, 0)  # a view: levels first
        for lvl, (owner, uq, start) in enumerate(per_level):
            level = np.full((len(pts), br.shape[-1]), np.nan)
            level[owner, np.arange(len(owner)) - start[owner]] = uq  # the branch's place
            by_level[lvl] = level.reshape((*sub_shape, br.shape[-1]))
        extra["branches"] = br
    return u, grad, extra


#: (point, cell) pairs of :func:`_cell_seeds` at most per level (else none are used) ...
CELL_PAIRS_MOST = 2_000_000
#: ... and grid points one cell covers at most (a cell torn across the grid, its rays
#: sent far apart, gives no seeds: its neighbours' nearest rays are seeds already)
CELL_COVERS_MOST = 256


def _cell_seeds(c, pos, axes):
    """Newton seeds from the cells of the data's lattice (2+ D evolution problems): for
    every cell whose corner rays' box at this level (positions ``pos``, float[R, m])
    covers a grid point (the regular ``axes``), the pair (point, the cell's first ray, the
    cell's middle in s).  A branch through a point starts in a cell that covers it, also
    where its rays spread far apart or overlap others (nearest rays miss it there).
    Cells covering more than ``CELL_COVERS_MOST`` points are left out; all are if there
    are more than ``CELL_PAIRS_MOST`` pairs (empty arrays)."""
    m = c["m"]
    shape = tuple(int(k) for k in c["s_counts"])
    empty = np.empty(0, np.int64), np.empty(0, np.int64), np.empty((0, m))
    if pos.shape[0] != int(np.prod(shape)) or min(shape) < 2:
        return empty
    lo, hi = _cell_range(pos.reshape(*shape, m), m)  # each cell's box, per coordinate
    lo, hi = lo.reshape(-1, m), hi.reshape(-1, m)  # (NaN where a corner has no ray)
    first, last = np.empty(lo.shape, np.int64), np.empty(lo.shape, np.int64)
    sizes = np.array([len(ax) for ax in axes])
    with np.errstate(invalid="ignore"):
        for k, ax in enumerate(axes):
            h = ax[1] - ax[0] if len(ax) > 1 else 1.0
            f = np.ceil((lo[:, k] - ax[0]) / h - 1e-9)
            g = np.floor((hi[:, k] - ax[0]) / h + 1e-9)
            ok = np.isfinite(f) & np.isfinite(g)
            first[:, k] = np.where(ok, np.clip(f, 0, sizes[k]), 1)
            last[:, k] = np.where(ok, np.clip(g, -1, sizes[k] - 1), 0)
    counts = np.maximum(last - first + 1, 0)
    total = counts.prod(axis=1)
    total[total > CELL_COVERS_MOST] = 0  # a cell torn across the grid (rays far apart)
    counts[total == 0] = 0
    if total.sum() > CELL_PAIRS_MOST or not total.any():
        return empty
    cells = np.repeat(np.arange(len(total)), total)
    offset = np.arange(int(total.sum())) - np.repeat(np.cumsum(total) - total, total)
    q = np.zeros(len(cells), np.int64)
    for k in range(m):  # the covered points' indices, C order over the grid's axes
        stride = counts[cells, k + 1 :].prod(axis=1)
        q = q * sizes[k] + first[cells, k] + (offset // stride) % counts[cells, k]
    corner = np.array(np.unravel_index(cells, tuple(k - 1 for k in shape))).T
    ray = np.ravel_multi_index(tuple(corner.T), shape)
    step = (c["s_hi"] - c["s_lo"]) / np.maximum(c["s_counts"] - 1, 1)
    return q, ray, c["S"][ray] + 0.5 * step


def _cell_range(values, m):
    """(least, most) over the 2^m corners of each cell of a lattice: ``values`` has the
    lattice on its first m axes (NaN at a corner makes its cells' NaN)."""
    lo = hi = values
    for k in range(m):
        a_ = tuple(slice(None, -1) if j == k else slice(None) for j in range(m))
        b_ = tuple(slice(1, None) if j == k else slice(None) for j in range(m))
        lo, hi = np.minimum(lo[a_], lo[b_]), np.maximum(hi[a_], hi[b_])
    return lo, hi


def _locate_branches(c, e, n, tau, Y, S, targets, qs, left, seeds):
    """Newton onto the data's rays through each target x, from the bracketing pairs
    (rays ``left`` and ``left + 1`` of the level's states ``Y``), started on the
    Hermite interpolant between them; (q, u, grad, s, w) arrays of the rays found
    (w NaN: rays of the data)."""
    pts = np.asarray(targets, float)[qs][:, None]
    seeds = seeds.copy()
    zss = _hermite_start(Y, S, 1 - e, c["nz"], left, pts[:, 0], seeds)
    seeds = seeds[:, None]
    near = np.searchsorted(S, seeds[:, 0]).clip(0, len(S) - 1)
    return _rays_through(c, e, n, tau, qs, pts, seeds, near, zss,
                         *_newton_brackets(Y, S[:, None], 1 - e, left, pts[:, 0]))  # fmt: skip


def _rays_through(c, e, n, tau, qs, pts, seeds, near, zss, bracket, bracket_sign):
    """:func:`kernels.locate` on 1-D data for the targets ``qs`` at ``pts`` (float[k, 1])
    from ``seeds`` near the rays ``near`` (arguments as it takes them): (q, u, grad, s, w)
    arrays of the rays found (w NaN: rays of the data)."""
    seed_p = (c["y0"][near, n + 1 : 2 * n + 1] if c["charpit"]
              else np.zeros((len(qs), n))).copy()  # fmt: skip
    uq, gq, sq = np.empty(len(qs)), np.empty((len(qs), n)), np.empty((len(qs), 1))
    okq = np.zeros(len(qs), np.bool_)
    over_rows(K.locate, len(qs), c["code"], c["consts"], c["prog"], c["icode"], c["iconsts"],
              c["iprog"], c["fcode"], c["fconsts"], c["fprog"], n, c["charpit"], e, pts,
              np.full(len(qs), tau), seeds, seed_p, c["h_ray"][near], zss, c["s_lo"],
              c["s_hi"], bracket, bracket_sign, c["rtol"], c["atol"], uq, gq, sq, okq,
              c["straight"])  # fmt: skip
    return qs[okq], uq[okq], gq[okq], sq[okq, 0], np.full(int(okq.sum()), np.nan)


def _folds(Y, S, o, nz):
    """Where x(s) turns between two neighbouring rays (states ``Y`` at one level): the
    turns of the cubic Hermite interpolant of x(s) from x and x_s at the two rays.  A list
    of (k, cuts, values): the interval from ray k to k + 1, the ends of its monotone
    stretches (as fractions of it) and the cubic's values there."""
    h = np.diff(S)
    p0, p1 = Y[:-1, o], Y[1:, o]
    m0, m1 = Y[:-1, nz + o] * h, Y[1:, nz + o] * h
    # p'(w) = A w^2 + B w + C for the Hermite cubic p on [0, 1]
    A, B, C = 6 * (p0 - p1) + 3 * (m0 + m1), 6 * (p1 - p0) - 4 * m0 - 2 * m1, m0
    with np.errstate(all="ignore"):
        disc = np.sqrt(B * B - 4 * A * C)
        r1 = np.where(A != 0, (-B - disc) / (2 * A), -C / B)
        r2 = np.where(A != 0, (-B + disc) / (2 * A), np.nan)
    w = np.sort(np.stack([r1, r2], axis=1), axis=1)
    w[~((w > 0) & (w < 1))] = np.nan
    k = np.flatnonzero(np.isfinite(w).any(axis=1) & np.isfinite(Y[:-1]).all(axis=1)
                       & np.isfinite(Y[1:]).all(axis=1))  # fmt: skip
    if not k.size:
        return []
    # the cubic at 0, the turns and 1 (a turn missing: at the other's place, no stretch)
    cuts = np.column_stack([np.zeros(len(k)), w[k], np.ones(len(k))])
    cuts[:, 1] = np.where(np.isnan(cuts[:, 1]), cuts[:, 2], cuts[:, 1])
    cuts[:, 2] = np.where(np.isnan(cuts[:, 2]), cuts[:, 1], cuts[:, 2])
    vals, _ = FANS._hermite(p0[k, None], p1[k, None], m0[k, None], m1[k, None], cuts)
    steps = np.diff(vals, axis=1)
    # (x_s touching 0 without a turn, as at a caustic's tip at its breaking time: no fold)
    turns = ((steps[:, :-1] * steps[:, 1:] < 0) | (steps[:, :-2] * steps[:, 2:] < 0)).any(axis=1)
    return [(int(k[i]), cuts[i], vals[i]) for i in np.flatnonzero(turns)]


def _fold_branches(c, e, n, tau, Y, S, targets, folds):
    """The rays through the targets inside ``folds`` (see :func:`_folds`) of the level's
    states ``Y``: where x(s) turns between two neighbouring rays, two or three rays pass
    through points their two ends need not bracket (a young shock narrower than the
    rays' spacing).  Each monotone stretch of the interpolant that reaches a target
    seeds Newton there, unbracketed.  (q, u, grad, s, w) arrays as
    :func:`_locate_branches` gives (rays found twice are merged by
    :meth:`.branches.Branches.build`)."""
    o, nz = 1 - e, c["nz"]
    none = (np.empty(0, np.int64), np.empty(0), np.empty((0, n)), np.empty(0), np.empty(0))
    if not folds:
        return none
    targets = np.asarray(targets, float)
    order = np.argsort(targets, kind="stable")
    sorted_t = targets[order]
    qs, ks, ts = [], [], []
    for k, cuts, vals in folds:
        x0, x1 = Y[k, o], Y[k + 1, o]
        d0, d1 = Y[k, nz + o] * (S[k + 1] - S[k]), Y[k + 1, nz + o] * (S[k + 1] - S[k])
        for a, b, va, vb in zip(cuts[:-1], cuts[1:], vals[:-1], vals[1:]):
            i0 = np.searchsorted(sorted_t, min(va, vb))
            i1 = np.searchsorted(sorted_t, max(va, vb), side="right")
            if i1 <= i0:
                continue
            q = order[i0:i1]
            xt = targets[q]
            frac = np.clip((xt - va) / (vb - va), 0.0, 1.0) if vb != va else np.full(len(q), 0.5)
            ones = np.ones(len(q))
            t = FANS.solve_cubic(x0 * ones, x1 * ones, d0 * ones, d1 * ones, xt,
                                 a + frac * (b - a), 1e-12, 40)  # fmt: skip
            qs.append(q)
            ks.append(np.full(len(q), k))
            ts.append(np.clip(t, a, b))
    if not qs:
        return none
    qs, ks, ts = np.concatenate(qs), np.concatenate(ks), np.concatenate(ts)
    seeds = (S[ks] + ts * (S[ks + 1] - S[ks]))[:, None]
    near = np.where(ts < 0.5, ks, ks + 1)
    bracket, sign = np.full((len(qs), 2), np.nan), np.zeros(len(qs))
    return _rays_through(c, e, n, tau, qs, targets[qs][:, None], seeds, near,
                         np.empty((0, nz)), bracket, sign)  # fmt: skip


def _unbracketed(c, e, n, tau, Y, S, targets, qs):
    """Newton onto the data's rays through the targets ``qs`` from the nearest ray at the
    level (states ``Y``), one linear step away: (q, u, grad, s, w) of the rays found, as
    :func:`_locate_branches` gives for bracketed targets."""
    o = 1 - e
    good = np.flatnonzero(np.isfinite(Y).all(axis=1))
    xt = np.asarray(targets, float)[qs]
    if not good.size:
        return qs[:0], np.empty(0), np.empty((0, n)), np.empty(0), np.empty(0)
    order = good[np.argsort(Y[good, o])]
    at = np.clip(np.searchsorted(Y[order, o], xt), 1, max(len(order) - 1, 1))
    lower, upper = order[at - 1], order[np.minimum(at, len(order) - 1)]
    near = np.where(np.abs(Y[lower, o] - xt) <= np.abs(Y[upper, o] - xt), lower, upper)
    seeds = _linear_seeds(Y[near], S[near][:, None], xt[:, None], [o], c["nz"], 1,
                          c["s_lo"], c["s_hi"])  # fmt: skip
    return _rays_through(c, e, n, tau, qs, xt[:, None], seeds, near, np.empty((0, c["nz"])),
                         np.full((len(qs), 2), np.nan), np.zeros(len(qs)))  # fmt: skip


def _newton_brackets(Y, S, o, left, xt):
    """For :func:`kernels.locate` on 1-D data: the brackets (s of rays ``left`` and
    ``left + 1``, states ``Y`` at one level, parameters ``S[:, 0]``) of the targets
    ``xt`` and the sign of x - target at the first end (0: no bracket, ``left`` < 0)."""
    bracket = np.full((len(xt), 2), np.nan)
    sign = np.zeros(len(xt))
    has = left >= 0
    if S.shape[1] != 1 or not has.any():
        return bracket, sign
    k = left[has]
    bracket[has, 0], bracket[has, 1] = S[k, 0], S[k + 1, 0]
    at_a, at_b = Y[k, o] - xt[has], Y[k + 1, o] - xt[has]
    # a target on the first ray: the sign is the one the other end has not
    sign[has] = np.where(at_a != 0, np.sign(at_a), -np.sign(at_b))
    return bracket, sign


def _hermite_branches(c, e, Y, S, targets, qs, k, seeds):
    """:func:`_locate_branches` on the cubic Hermite interpolants of the traced
    rays ``Y`` (one level) in s: x(s) between the two bracketing rays is
    solved for each target by Newton, u (and p) read off at that s; fourth
    order in the ray spacing, no ray integrated again."""
    nz = c["nz"]
    o = 1 - e
    h = S[k + 1] - S[k]
    x0, x1 = Y[k, o], Y[k + 1, o]
    xt = np.asarray(targets, float)[qs]
    sig = FANS.solve_cubic(x0, x1, Y[k, nz + o] * h, Y[k + 1, nz + o] * h, xt,
                           np.clip((seeds - S[k]) / h, 0.0, 1.0), 1e-9, 40)  # fmt: skip
    value, _ = FANS._hermite(x0, x1, Y[k, nz + o] * h, Y[k + 1, nz + o] * h, sig)
    ok = np.abs(value - xt) <= 1e-12 * (1.0 + np.abs(xt)) + 1e-9 * np.abs(x1 - x0)
    u, grad = FANS.on_cubics(c, e, Y, k, h, xt, sig, lambda z: _eval_a(c, z),
                             lambda z: _eval_b(c, z))  # fmt: skip
    s_at = S[k] + sig * h
    ok &= np.isfinite(u)
    return qs[ok], u[ok], grad[ok], s_at[ok], np.full(int(ok.sum()), np.nan)


def _fold_middle(x, S, folded, sa, sb):
    """The middle of the x-range of the folded rays with s between ``sa`` and ``sb`` (every
    branch of the fold exists there), or None if there are none."""
    between = folded & (S > min(sa, sb)) & (S < max(sa, sb))
    if not between.any():
        return None
    return 0.5 * float(x[between].min() + x[between].max())


def _shock_between(lo, hi, a, b, branches_at, values, sign=1.0, ends=(None, None),
                   start=None, crowded=None):  # fmt: skip
    """Where branch ``a`` (chosen at ``lo``) hands over to ``b`` (chosen at ``hi``).

    The shock is the zero of G(x) = L_a(x) - L_b(x), the difference of the
    Lax-Oleinik values of the two branches continued to x, with G'(x) =
    u_a - u_b (the functional is stationary along a ray, so dL/dx = u):
    Newton kept inside the bracket [lo, hi], bisection on which branch wins
    where a step leaves it, and on which branch is left where the other cannot be
    continued (the handover lies where both exist).  ``branches_at(x)``
    lists the rays through x as (u, grad, s, w); ``values(bs, x)`` gives their
    functional times ``sign`` (-1 for a concave flux: the largest value wins).
    ``ends`` may give (rays, their values) at ``lo`` and ``hi`` already known;
    ``start``, a point where both branches exist (inside the fold), is where Newton
    starts when the ends do not both have the two branches.  ``crowded``, a list, gets
    for each x evaluated whether a third ray's value comes within rounding of the two's
    (or below): another branch may win near the handover.
    """

    alone = [0]  # where diff is None: +1 if only a's branch is at x, -1 only b's, 0 none

    def diff(x, known=None):
        bs, v = known if known is not None else (branches_at(x), None)
        alone[0] = 0
        if not bs:
            return None
        ia = min(range(len(bs)), key=lambda i: abs(bs[i][2] - a[2]))
        ib = min(range(len(bs)), key=lambda i: abs(bs[i][2] - b[2]))
        if len(bs) < 2 or ia == ib:  # one of the two is not continued to x
            alone[0] = 1 if abs(bs[ia][2] - a[2]) <= abs(bs[ib][2] - b[2]) else -1
            return None
        if v is None:
            v = values(bs, x)
        if crowded is not None:
            top = max(v[ia], v[ib])
            others = np.delete(np.asarray(v, float), [ia, ib])
            crowded.append(bool((others <= top + 1e-9 * (1.0 + abs(top))).any()))
        # (the values' rounding: G below it is zero)
        noise = 8 * np.finfo(float).eps * max(abs(v[ia]), abs(v[ib]), 1.0)
        return v[ia] - v[ib], sign * (bs[ia][0] - bs[ib][0]), v[ia] <= v.min(), noise

    # start from the secant of G through the bracket's ends
    ends = [diff(lo, ends[0]), diff(hi, ends[1])]
    x = start if start is not None and lo < start < hi else 0.5 * (lo + hi)
    if None not in ends and ends[0][0] != ends[1][0]:
        guess = lo + ends[0][0] / (ends[0][0] - ends[1][0]) * (hi - lo)
        if lo < guess < hi:
            x = guess
    best = None  # (|G|, x) of the least |G| met
    for _ in range(100):
        got = diff(x)
        if got is None:  # a branch ends before x: bisect on which one is left there
            if not alone[0]:
                break
            lo, hi = (x, hi) if alone[0] > 0 else (lo, x)
            if hi - lo <= 4e-16 * max(1.0, abs(x)):
                return float(0.5 * (lo + hi))
            x = 0.5 * (lo + hi)
            continue
        g, slope, a_wins, noise = got
        if abs(g) <= noise:  # G is zero to its rounding here (Newton's steps would be
            return float(x)  # the rounding's, and wander)
        if best is None or abs(g) < best[0]:
            best = (abs(g), x)
        if a_wins:
            lo = x
        else:
            hi = x
        step = g / slope if slope != 0 else np.inf
        if abs(step) <= 4e-16 * max(1.0, abs(x)):
            return float(x - step)  # converged to rounding
        new = x - step
        if not lo <= new <= hi:  # outside the bracket: bisect
            new = 0.5 * (lo + hi)
        if hi - lo <= 4e-16 * max(1.0, abs(x)):
            return float(new)
        x = new
    if best is not None and lo <= best[1] <= hi:
        return float(best[1])
    return float(0.5 * (lo + hi))


#: a handover split into shocks around a third branch at most this deep
SHOCK_SPLITS = 4


def _shocks_between(lo, hi, a, b, branches_at, values, sign=1.0, ends=(None, None),
                    start=None, depth=0):  # fmt: skip
    """Every shock between ``lo`` and ``hi``, where the choice goes from branch ``a`` to
    ``b`` (arguments of :func:`_shock_between`).  Two young shocks closer than the grid's
    spacing have a branch between them that no grid point picks: the handover found is
    then the first of them (or the last).  So the winner just left of it must be a's
    continuation and just right of it b's; where it is a third branch instead, the
    shocks between it and a (or b) are looked for in turn, ``SHOCK_SPLITS`` deep."""
    crowded = []
    x = _shock_between(lo, hi, a, b, branches_at, values, sign, ends, start, crowded)
    if depth >= SHOCK_SPLITS or not lo < x < hi or not crowded or not crowded[-1]:
        return [x]  # (no third ray near winning where Newton ended: the one shock)
    near = 1e-7 * (hi - lo)

    def third(at, own):
        """The ray winning at ``at`` if it is not ``own``'s continuation (the ray of
        nearest s), else None."""
        bs = branches_at(at)
        if len(bs) < 2:
            return None
        best = int(np.argmin(values(bs, at)))
        mine = min(range(len(bs)), key=lambda i: abs(bs[i][2] - own[2]))
        return None if best == mine else bs[best]

    left, right = third(x - near, a), third(x + near, b)
    found = [x] if left is None or right is None else []  # (both: x is no handover)
    if left is not None:
        found = _shocks_between(lo, x - near, a, left, branches_at, values, sign,
                                depth=depth + 1) + found  # fmt: skip
    if right is not None:
        found += _shocks_between(x + near, hi, right, b, branches_at, values, sign,
                                 depth=depth + 1)  # fmt: skip
    return found


def _curvature_sign(values, what):
    """+1 if every matrix of ``values`` (float[N, k, k]) is positive semidefinite, -1 if
    every one is negative semidefinite (0 everywhere counts as +1), else a SpecError."""
    values = values[np.isfinite(values).all(axis=(1, 2))]
    if not values.size:
        return 1.0
    k = values.shape[1]
    if k == 1:
        eig = values[:, 0]
    elif k == 2:  # closed form: the mean of the diagonal -+ the half spread
        a, b, d = values[:, 0, 0], 0.5 * (values[:, 0, 1] + values[:, 1, 0]), values[:, 1, 1]
        half = np.hypot(0.5 * (a - d), b)
        eig = np.concatenate([0.5 * (a + d) - half, 0.5 * (a + d) + half])
    else:
        eig = np.linalg.eigvalsh(values)
    tol = 1e-9 * max(float(np.abs(eig).max()), 1e-300)
    if (eig >= -tol).all():
        return 1.0
    if (eig <= tol).all():
        return -1.0
    raise SpecError(f"{what} is neither convex nor concave over the values the characteristics "
                    "carry, so no branch is the entropy / viscosity one by a minimum or a "
                    "maximum: use --crossing multivalued (every branch) or stop",
                    field="equation")  # fmt: skip


def _hamiltonian_sign(info, c, out, space, speed=None):
    """+1 if F is convex in the gradient components ``space`` at every traced state
    (the smallest u is the viscosity solution), -1 if concave (the largest); for an
    evolution problem F = speed * (u_t + H), so H's curvature is F's over ``speed``."""
    if info.Fpp is None:
        raise SpecError("cannot tell whether the equation is convex in the gradient (its second "
                        "derivatives do not compile): --crossing viscosity needs that",
                        field="equation")  # fmt: skip
    entries = [info.Fpp[i][j] for i in space for j in space]
    if all(t[0] == "num" for t in entries):  # a constant Hessian (|p|^2, p^2/2, ...)
        z = np.zeros((1, len(info.z_names)))
    else:
        z = out[:, :, : len(info.z_names)].reshape(-1, len(info.z_names))
        z = z[np.isfinite(z).all(axis=1)]
    env = {name: z[:, i] for i, name in enumerate(info.z_names)}
    hess = np.empty((len(z), len(space), len(space)))
    for a, i in enumerate(space):
        for b, j in enumerate(space):
            with np.errstate(all="ignore"):
                hess[:, a, b] = np.broadcast_to(evaluate_array(info.Fpp[i][j], env), len(z))
    if speed is not None and speed < 0:
        hess = -hess
    what = "the Hamiltonian" if speed is not None else "the equation, in the gradient,"
    return _curvature_sign(hess, what)


def _flux_sign(info, pde, c):
    """+1 for a flux convex over the data's values (the Lax-Oleinik minimum is the entropy
    solution), -1 for a concave one (the maximum: u -> -u makes it convex)."""
    us = c["y0"][:, c["n"]]
    us = us[np.isfinite(us)]
    if not us.size:
        return 1.0
    grid = np.concatenate([us, np.linspace(us.min(), us.max(), 401)])
    with np.errstate(all="ignore"):
        f2 = np.broadcast_to(np.asarray(_flux_curvature_of(tuple(info.a), tuple(pde.variables),
                                                           pde.unknown)(grid), float), grid.shape)  # fmt: skip
    return _curvature_sign(f2.reshape(-1, 1, 1), "the flux f(u)")


@functools.lru_cache(maxsize=64)
def _flux_curvature_of(speeds_tree, variables, unknown):
    """f''(u) of the conservation law (see :func:`_flux_of`), as a function."""
    import sympy as sp

    U, f = _flux_sym(speeds_tree, variables, unknown)
    return sp.lambdify(U, sp.diff(f, U, 2), "numpy")


def _flux(info, pde):
    """f with f'(u) = the speed of u_t + f'(u) u_x = 0 (a conservation law), as a function."""
    if info.charpit or info.b != ("num", 0.0):
        raise SpecError("--crossing shock needs a scalar conservation law u_t + f(u)_x = 0")
    return _flux_of(tuple(info.a), tuple(pde.variables), pde.unknown)


@functools.lru_cache(maxsize=64)
def _flux_of(speeds_tree, variables, unknown):
    import sympy as sp

    return sp.lambdify(*_flux_sym(speeds_tree, variables, unknown), "numpy")


@functools.lru_cache(maxsize=64)
def _flux_sym(speeds_tree, variables, unknown):
    """(u, f(u)) as SymPy objects: f' is the speed of u_t + f'(u) u_x = 0."""
    import sympy as sp

    from charme.solvers.characteristics.symbolic import to_sympy

    sym = {v: sp.Symbol(v, real=True) for v in (*variables, unknown)}
    speeds = [to_sympy(a, sym) for a in speeds_tree]
    U = sym[unknown]
    evo = [i for i, a in enumerate(speeds) if a.is_number and a != 0]
    other = [a for i, a in enumerate(speeds) if i not in evo]
    if len(evo) != 1 or other[0].free_symbols - {U}:
        raise SpecError("--crossing shock needs a scalar conservation law u_t + f(u)_x = 0")
    w = sp.Symbol("w", real=True)
    f = sp.integrate(other[0].subs(U, w), (w, 0, U)) / speeds[evo[0]]
    return U, f


#: Gauss-Legendre on one interval between neighbouring rays (exact to degree 23; the
#: error on an interval h of an integrand the rays resolve is far below rounding)
_GAUSS = np.polynomial.legendre.leggauss(12)


def _lobatto(points):
    """Gauss-Lobatto nodes and weights on [-1, 1] (the ends and the zeros of P'_{k-1};
    exact to degree 2 k - 3)."""
    inner = np.polynomial.legendre.Legendre.basis(points - 1).deriv().roots()
    nodes = np.concatenate([[-1.0], np.sort(inner.real), [1.0]])
    p = np.polynomial.legendre.Legendre.basis(points - 1)(nodes)
    return nodes, 2.0 / (points * (points - 1) * p**2)


#: ... and the rule it is checked against (exact to degree 15): on such intervals the two
#: agree to rounding unless the data have a kink there.  Gauss-Lobatto, whose nodes
#: include the ends: a kink near an end, between it and the first Gauss node of both
#: rules, made them agree on the wrong value (a clipped sine's corner 8e-4 inside an
#: interval of 0.17: 6e-7 off, and a shock 2e-6 off its place)
_GAUSS_CHECK = _lobatto(9)


def _lax_oleinik(pde, flux, s, x, t, u_ray=None, breaks=(), c=None):
    """U0(s) + u0(s) (x - x0(s)) - t f(u0(s)) for arrays of rays: minimal on the entropy
    solution's ray.

    A ray of a rarefaction fan starts at the kink x0(s) with its own value
    ``u_ray`` (NaN for rays of the data; None: all are).  U0(s) = integral of u0 dx0 from
    the data's start, from a table of its values at the rays' samples and
    the ``breaks`` (kinks and jumps, cached in ``c``) plus Gauss-Legendre from
    the table's last node below s.  The data (u0, x0, dx0/ds) are evaluated
    by the compiled programs of the solve's context ``c``.
    """
    o = [i for i, e in enumerate(pde.x0) if e[0] != "num"][0]
    s = np.asarray(s, float)
    key = ("lax_oleinik_table", tuple(breaks))
    if c.get("_u0_table", (None,))[0] != key:
        a, b = pde.manifold_ranges[0][:2]
        nodes = np.unique(np.concatenate([c["S"][:, 0], [a, b], [k for k in breaks if a < k < b]]))
        smooth = []  # the table's intervals the check accepted whole
        steps = _u_dx_integral(c, o, nodes[:-1], nodes[1:], accepted=smooth)
        cum = np.concatenate([[0.0], np.cumsum(steps)])
        c["_u0_table"] = (key, nodes, cum, np.concatenate([smooth[0], [False]]))
    _, nodes, cum, smooth = c["_u0_table"]
    j = np.clip(np.searchsorted(nodes, s, side="right") - 1, 0, len(nodes) - 1)
    # from the table's node to s; none where s is the node (a fan's ray at its jump,
    # where the data themselves are undefined: 0 * NaN would lose the ray).  Inside an
    # interval the check accepted whole, the rule alone (a part of it is integrated
    # more accurately than the whole was)
    part = np.zeros(len(s))
    live = s > nodes[j]
    if live.any():
        part[live] = _u_dx_integral(c, o, nodes[j][live], s[live], trusted=smooth[j][live])
    big_u = cum[j] + part
    data = _data_at(c, o, s)
    u_s = data[:, 1]
    if u_ray is not None:
        given = np.asarray(u_ray, float)
        u_s = np.where(np.isnan(given), u_s, given)
    return big_u + u_s * (np.asarray(x) - data[:, 0]) - t * np.broadcast_to(flux(u_s), s.shape)


def _data_at(c, o, s):
    """Columns x0_o(s), u0(s), dx0_o/ds(s) from the compiled data programs (1-D data)."""
    n = c["n"]
    flat = np.ascontiguousarray(np.asarray(s, float).reshape(-1, 1))
    out = np.empty((len(flat), 3))
    K.eval_rows(c["icode"], c["iconsts"], c["iprog"], np.array([o, n, n + 1 + o]), flat, out)
    return out


def _u_dx_integral(c, o, lo, hi, tol=None, depth=0, trusted=None, accepted=None):
    """Integral of u0 dx0/ds over [lo, hi] (arrays; short intervals: between neighbouring
    samples of the data), by Gauss-Legendre (:data:`_GAUSS`), checked against a rule of
    lower order (:data:`_GAUSS_CHECK`): where the two differ by more than ``tol`` (by
    default 1e-15 of the largest |u0 dx0/ds| times interval; a kink of the data the
    samples do not resolve, a ramp's corner) the halves are integrated in turn, down to
    1e-12 of s and at most ``U_DX_DEPTH`` times.  Intervals where ``trusted`` (a boolean
    array) lie inside one the check accepted: the rule alone, unchecked.  ``accepted``, a
    list, gets the boolean array of the intervals the check accepted whole."""
    lo, hi = np.asarray(lo, float), np.asarray(hi, float)
    if trusted is not None and trusted.any():
        value = np.empty(len(lo))
        if not trusted.all():
            value[~trusted] = _u_dx_integral(c, o, lo[~trusted], hi[~trusted], tol, depth)
        half = 0.5 * (hi[trusted] - lo[trusted])
        sig = lo[trusted][:, None] + half[:, None] * (_GAUSS[0] + 1)
        data = _data_at(c, o, sig).reshape(*sig.shape, 3)
        value[trusted] = (data[..., 1] * data[..., 2] * _GAUSS[1]).sum(axis=1) * half
        value[(np.abs(hi - lo) <= 1e-12 * (1.0 + np.abs(lo))) & ~np.isfinite(value)] = 0.0
        return value
    half = 0.5 * (hi - lo)
    nodes = np.concatenate([_GAUSS[0], _GAUSS_CHECK[0]])
    sig = lo[:, None] + half[:, None] * (nodes + 1)
    data = _data_at(c, o, sig).reshape(*sig.shape, 3)
    f = data[..., 1] * data[..., 2]
    k = len(_GAUSS[0])
    value = (f[:, :k] * _GAUSS[1]).sum(axis=1) * half
    check = (f[:, k:] * _GAUSS_CHECK[1]).sum(axis=1) * half
    if tol is None:
        with np.errstate(invalid="ignore"):
            tol = 1e-15 * float(np.nanmax(np.abs(f).max(axis=1) * np.abs(hi - lo), initial=0.0))
    with np.errstate(invalid="ignore"):
        off = np.flatnonzero((np.abs(value - check) > tol)
                             & (np.abs(hi - lo) > 1e-12 * (1.0 + np.abs(lo))))  # fmt: skip
    if accepted is not None:
        whole = np.isfinite(value) & np.isfinite(check)
        whole[off] = False
        accepted.append(whole)
    if off.size and depth < U_DX_DEPTH:
        mid = 0.5 * (lo[off] + hi[off])
        value[off] = (_u_dx_integral(c, o, lo[off], mid, tol, depth + 1)
                      + _u_dx_integral(c, o, mid, hi[off], tol, depth + 1))  # fmt: skip
    # an interval within rounding of nothing where the data are undefined inside it adds
    # nothing (a sample within rounding of a jump's break, where a NaN would spoil every
    # value beyond it); one where they are defined, its rule's value (the last of the
    # halvings towards a jump at its end: its nodes all lie on the jump's one side)
    value[(np.abs(hi - lo) <= 1e-12 * (1.0 + np.abs(lo))) & ~np.isfinite(value)] = 0.0
    return value


#: halvings of an interval of the Lax-Oleinik integrals at most (a kink: 2^-40 of it)
U_DX_DEPTH = 40


REFINED_RAYS = 32
MAX_REFINED = 4096
SUBDIVISIONS = 16


#: sampled local minima of the rays' crossing times refined between the samples
BETWEEN_SAMPLES = 8


def _between_samples(pde, c, tb):
    """The first crossing between the data's samples (1-D data): see
    :func:`_least_between_samples`.  Returns (tau, x) candidates."""
    return _least_between_samples(
        c, tb, lambda v, k: _crossing_of_ray(pde, c, v, c["y0"][k], float(tb[k]))
    )


def _blow_up_between_samples(c, reached, blown):
    """The first blow-up between the data's samples (1-D data): the least ``reached``
    over the rays that blow up, refined like the breaking time.  Returns tau or inf."""
    times = np.where(blown, np.abs(reached), np.inf)
    found = _least_between_samples(
        c, times, lambda v, k: (_blow_up_of_ray(c, v, k, 2.0 * times[k]), None)
    )
    return min((t for t, _ in found), default=np.inf)


def _least_between_samples(c, times, time_at):
    """Minima of a per-ray time (a smooth function of s on 1-D data) between the
    samples: around the sampled local minima within 1e-3 of the least, successive
    parabolic interpolation through the three best points, each new point
    ``time_at(s, k) -> (time, payload)`` (a ray traced from the data near ray k),
    finds the minimum to rounding in a few steps.  Returns (time, payload) pairs."""
    if c["m"] != 1:
        return _least_between_samples_nd(c, times, time_at)
    S = c["S"][:, 0]
    finite = np.isfinite(times)
    if finite.sum() < 3:
        return []
    low = times[finite].min()
    r = np.arange(1, len(times) - 1)
    local = r[finite[r] & finite[r - 1] & finite[r + 1] & (times[r] <= times[r - 1])
              & (times[r] <= times[r + 1]) & (times[r] <= low + 1e-3 * max(1.0, low))]  # fmt: skip
    out = []
    for k in local[np.argsort(times[local])][:BETWEEN_SAMPLES]:
        pts = [(float(S[j]), float(times[j])) for j in (k - 1, k, k + 1)]
        # (the vertex may leave the three points, not their bracket)
        best = _parabolic_least(pts, float(S[k - 1]), float(S[k + 1]),
                                lambda v, k=k: time_at(v, k))  # fmt: skip
        if best is not None and best[0] <= times[k]:
            out.append(best)
    # a least time beside a ray without one (falling towards it: the speed has a kink
    # there, as 1.5 sqrt(u) where u = max(0, sin x)^2 ends): the time's limit at the end
    # of the rays that have one, by bisection
    for k, j in _one_sided_least(times, finite, low):
        best = (float(times[k]), None)
        good, none = float(S[k]), float(S[j])
        for _ in range(60):
            mid = 0.5 * (good + none)
            if mid in (good, none):
                break
            got = time_at(mid, k)
            if np.isfinite(got[0]):
                good = mid
                if got[0] < best[0]:
                    best = got
            else:
                none = mid
        if best[1] is not None:
            out.append(best)
    return out


def _one_sided_least(times, finite, low):
    """(k, j): sampled least ``times`` (within 1e-3 of the least ``low``) whose neighbour
    j on one side has none and on the other side a later one."""
    if finite.all():
        return []
    r = np.arange(1, len(times) - 1)
    near = finite[r] & (times[r] <= low + 1e-3 * max(1.0, low))
    pairs = []
    for side in (1, -1):
        other = r - side
        ends = r[near & ~finite[r + side] & finite[other] & (times[r] <= times[other])]
        pairs += [(int(k), int(k + side)) for k in ends]
    return pairs[:BETWEEN_SAMPLES]


def _parabolic_least(pts, lo, hi, time_at, steps=8):
    """Successive parabolic interpolation to a least time: from three (s, time) points
    ``pts``, at most ``steps`` vertices inside (lo, hi), each evaluated by ``time_at(s) ->
    (time, payload)`` and kept with the two lowest before it.  Returns the least
    (time, payload) evaluated, or None."""
    best = None
    for _ in range(steps):
        (s1, f1), (s2, f2), (s3, f3) = sorted(pts)
        v = _vertex(s1, f1, s2, f2, s3, f3)
        if v is None:
            break
        if not lo < v < hi or any(abs(v - q) <= 1e-15 * max(1.0, abs(v)) for q, _ in pts):
            break
        t, payload = time_at(v)
        if not np.isfinite(t):
            break
        if best is None or t < best[0]:
            best = (t, payload)
        pts = sorted([*pts, (v, t)], key=lambda q: q[1])[:3]  # the three lowest
    return best


def _vertex(s1, f1, s2, f2, s3, f3):
    """Where the parabola through (s1, f1), (s2, f2), (s3, f3) has its extremum (None if
    the three points lie on a line)."""
    den = (s2 - s1) * (f2 - f3) - (s2 - s3) * (f2 - f1)
    if den == 0.0:
        return None
    return s2 - 0.5 * ((s2 - s1) ** 2 * (f2 - f3) - (s2 - s3) ** 2 * (f2 - f1)) / den


#: cycles of parabolic steps along each data parameter in turn (2+ dimensional data)
BETWEEN_CYCLES = 12


def _least_between_samples_nd(c, times, time_at):
    """:func:`_least_between_samples` on data of 2+ dimensions: from the sample of least
    time, a parabolic step along each parameter in turn through the point and two
    probes either side (each a ray traced from the data), the probes' spacing shrinking
    with the steps; ``BETWEEN_CYCLES`` cycles.  Returns [(time, payload)] if it found
    a time below the samples' least."""
    finite = np.isfinite(times)
    if not finite.any():
        return []
    k = int(np.argmin(np.where(finite, times, np.inf)))
    lo, hi = c["s_lo"], c["s_hi"]
    h = (hi - lo) / np.maximum(c["s_counts"] - 1, 1)
    floor = 1e-9 * h
    point, best_t, best = c["S"][k].astype(float), float(times[k]), None
    improved = False  # (a payload may be None: a blow-up's time has none)
    for _ in range(BETWEEN_CYCLES):
        for d in range(len(point)):
            tried = [(0.0, best_t, best)]  # (offset along d, time, payload)
            for off in (-h[d], h[d]):
                if lo[d] <= point[d] + off <= hi[d]:
                    tried.append((off, *time_at(_moved(point, d, off), k)))
            tried = [q for q in tried if np.isfinite(q[1])]
            v = 0.0
            if len(tried) == 3:  # the parabola's vertex, if it lies between the probes
                (a, fa, _), (b, fb, _), (e, fe, _) = sorted(tried, key=lambda q: q[0])
                v = _vertex(a, fa, b, fb, e, fe) or 0.0
                if a < v < e and v != 0.0:
                    tried.append((v, *time_at(_moved(point, d, v), k)))
            off, t, payload = min(tried, key=lambda q: q[1] if np.isfinite(q[1]) else np.inf)
            if t < best_t:
                point, best_t, best = _moved(point, d, off), float(t), payload
                improved = True
            h[d] = max(min(abs(v), h[d]) if v != 0.0 else 0.5 * h[d], floor[d])
    return [(best_t, best)] if improved else []


def _moved(point, d, off):
    """``point`` with ``off`` added to its component ``d`` (a copy)."""
    q = point.copy()
    q[d] += off
    return q


def _start_ray(c, s_value, like):
    """The data's ray state at manifold parameter ``s_value`` (None if it cannot be
    built); ``like``: a neighbouring ray's initial state (its p starts Newton)."""
    n = c["n"]
    guess = like[n + 1 : 2 * n + 1] if c["charpit"] else np.zeros(n)
    y = FANS._state_at(c, None, s_value, guess)
    return None if y is None else y.copy()


def _blow_up_of_ray(c, s_value, k, end):
    """|tau| where the data's ray at ``s_value`` blows up (inf if it does not by
    ``end``); ``k``: a neighbouring ray (its p starts Newton)."""
    y0 = _start_ray(c, s_value, c["y0"][k])
    if y0 is None:
        return np.inf
    status, _, tau = K._integrate(c["code"], c["consts"], c["prog"], c["nz"], y0, 0.0, end,
                                 c["rtol"], c["atol"], 0.0, c["straight"])  # fmt: skip
    return abs(tau) if status == K.RAY_BLOW_UP else np.inf


def _crossing_of_ray(pde, c, s_value, like, estimate):
    """(|tau|, x) of the first crossing of the data's ray at ``s_value`` near ``estimate``
    (inf, None if there is none there); ``like``: a neighbouring ray's initial state
    (its p starts Newton's completion)."""
    n, nz, d = c["n"], c["nz"], c["d"]
    y0 = _start_ray(c, s_value, like)
    if y0 is None:
        return np.inf, None
    lo, hi = 0.5 * estimate, 1.1 * estimate + 1e-12  # (a step between coarse samples
    # of 2-D data can move the crossing well below the samples' estimate)
    status, _, _ = K._integrate(c["code"], c["consts"], c["prog"], nz, y0, 0.0, lo, c["rtol"],
                               c["atol"], 0.0, c["straight"])  # fmt: skip
    if status != K.RAY_OK:
        return np.inf, None
    y_at = np.empty(d)
    st, t = K.refine_crossing(c["code"], c["consts"], c["prog"], nz, n, y0, lo, hi, c["rtol"],
                              c["atol"], SUBDIVISIONS, y_at, c["straight"])  # fmt: skip
    if st in (K.CROSSING_FOUND, K.CROSSING_TOUCH):
        return abs(t), y_at[:n].copy()
    return np.inf, None


#: shorthand data: pairs of neighbouring rays whose first crossings lie either side of
#: the grid's edge, refined onto it, at most
EDGE_PAIRS = 16


def _on_grid_crossings(info, pde, c, out, taus, tb, at, converging, e, steep=()):
    """The crossings that end the classical solution on the grid's range, for shorthand
    data ``u(x, t=0) = g(x)``: (tau, x) candidates for the breaking time.

    Shorthand data have no ends: the rays are sampled on a range around the grid
    chosen by the solver, and a first crossing among them outside the grid's range in
    space depends on that choice, not on the problem, and leaves the grid's values
    classical.  What counts is where rays cross on the grid's range (the probe of
    :func:`_probe_data` brings in the rays from farther out that land there).  ``tb``,
    ``at``: every ray's first crossing as :func:`_crossings` found it (refined here for
    the rays near the range).  The caustic's entry through the range's edge is found
    exactly (Illinois on the ray parameter, each step a ray's crossing refined), and so
    is the entry of the rays crossing at once at a jump or kink of the data
    (``converging``, from :func:`.fans.detect`) outside the range: the first time one
    of the jump's two edge rays reaches it.  One space dimension (in more, the probe
    does not run for ``--crossing stop``: every sampled crossing counts).
    """
    n = c["n"]
    space = np.array([i for i in range(n) if i != e])
    lo, hi = c["lo_g"][space], c["hi_g"][space]
    slack = 1e-9 * np.maximum(1.0, np.maximum(np.abs(lo), np.abs(hi)))

    def inside(x):
        x = np.asarray(x, float)[space]
        return bool(((x >= lo - slack) & (x <= hi + slack)).all())

    def on_range(tb, at):
        ins = np.zeros(len(tb), np.bool_)
        finite = np.flatnonzero(np.isfinite(tb))
        ins[finite] = [inside(at[r]) for r in finite]
        return ins

    # the rays crossing on the range and their neighbours, the earliest refined
    ins = on_range(tb, at)
    near = _with_neighbours(ins)
    tb_near, at_near = np.where(near, tb, np.inf), at.copy()
    _refine_crossings(info, c, out, taus, tb_near, at_near)
    tb, at = np.where(near, tb_near, tb), np.where(near[:, None], at_near, at)
    ins = on_range(tb, at)
    found = [(tb[r], at[r]) for r in np.flatnonzero(ins)]
    # least crossing times between the samples, from the rays crossing on the range and
    # their neighbours (a minimum near the edge has a neighbour past it)
    found += [cd for cd in _between_samples(pde, c, np.where(_with_neighbours(ins), tb, np.inf))
              if inside(cd[1])]  # fmt: skip
    # the caustic through the range's edge: between neighbouring rays whose crossings lie
    # on either side of an edge (one inside, or the two either side of a narrow range),
    # or whose one crossing lies off the range and the other's not before the horizon
    o = int(space[0])
    x = at[:, o]
    fin = np.isfinite(tb)
    with np.errstate(invalid="ignore"):
        meets = (np.fmin(x[:-1], x[1:]) <= hi[0] + slack[0]) & (
            np.fmax(x[:-1], x[1:]) >= lo[0] - slack[0])  # fmt: skip
    pairs = np.flatnonzero((fin[:-1] & fin[1:] & ~(ins[:-1] & ins[1:]) & meets)
                           | (fin[:-1] != fin[1:]) & ~ins[:-1] & ~ins[1:])  # fmt: skip
    S = c["S"][:, 0]
    horizon = float(taus[-1])
    for r in pairs[np.argsort(np.fmin(tb[pairs], tb[pairs + 1]))][:EDGE_PAIRS]:
        found += _caustic_at_edges(c, o, float(lo[0]), float(hi[0]), float(S[r]),
                                   float(S[r + 1]), c["y0"][r], horizon)  # fmt: skip
    # a ray past its first crossing lies inside a fold (three rays through each point):
    # where one enters the range, the fold has (also where the fold's far side is no
    # caustic but rays of unbounded speed, at an end of the data where they are defined)
    found += _folded_rays_enter(c, out, taus, tb, o, float(lo[0]), float(hi[0]))
    found += [cd for cd in steep if inside(cd[1])]
    for x_j, s_j in converging:
        if inside(x_j):
            found.append((0.0, x_j))  # (the rays cross at once there)
        else:
            got = _jump_reaches(c, o, float(lo[0]), float(hi[0]), s_j, taus)
            if got is not None:
                found.append(got)
    return found


#: rays across a steep stretch of the speed whose crossings are computed
STEEP_PROBES = 33


def _steep_crossings(c, horizon):
    """(tau, x) of the first crossing across each steep stretch of the rays' speed in
    ``c["steep_speeds"]`` (from :func:`.fans.detect`: the speed falls across a width far
    below the samples' spacing, so no sampled ray crosses there): the least crossing
    time of ``STEEP_PROBES`` rays across four widths either side, refined by parabolic
    steps."""
    found = []
    for s0, k, width, ray in c.get("steep_speeds", ()):
        like = c["y0"][ray]

        def time_at(v, s0=s0, k=k, like=like):
            s = np.array(s0, float)
            s[k] = v
            return _crossing_within(c, s, like, horizon)

        grid = float(s0[k]) + width * np.linspace(-4.0, 4.0, STEEP_PROBES)
        got = [time_at(v) for v in grid]
        times = np.array([g[0] for g in got])
        if not np.isfinite(times).any():
            continue
        j = int(np.argmin(times))
        best = got[j]
        if 0 < j < len(grid) - 1 and np.isfinite(times[j - 1 : j + 2]).all():
            pts = [(float(grid[i]), float(times[i])) for i in (j - 1, j, j + 1)]
            here = _parabolic_least(pts, float(grid[j - 1]), float(grid[j + 1]), time_at)
            if here is not None and here[0] < best[0]:
                best = here
        found.append(best)
    return found


def _with_neighbours(mask):
    """``mask`` (1-D data's rays) with each marked ray's two neighbours marked too."""
    out = mask.copy()
    out[1:] |= mask[:-1]
    out[:-1] |= mask[1:]
    return out


#: folded rays whose entry into the grid's range is refined at most
FOLDED_ENTRIES = 8


def _folded_rays_enter(c, out, taus, tb, o, lo, hi):
    """(tau, x) when rays past their first crossing (times ``tb``) first enter the grid's
    range [lo, hi] of x_o (1-D data; the traced states ``out`` at the levels ``taus``):
    the earliest ``FOLDED_ENTRIES``, each bisected on tau to the range's edge from the
    level before (a ray past its crossing already inside the range at it counts at the
    crossing itself, found elsewhere)."""
    folded = np.flatnonzero(np.isfinite(tb))
    if not folded.size:
        return []
    x = out[folded][:, :, o]
    after = np.abs(taus)[None, :] > tb[folded][:, None]
    with np.errstate(invalid="ignore"):
        below, above = x < lo, x > hi
        inside = ~below & ~above & np.isfinite(x)
        # in the range at a level, or passed over it since the level before
        passed = np.zeros_like(inside)
        passed[:, 1:] = (below[:, :-1] & above[:, 1:]) | (above[:, :-1] & below[:, 1:])
    hit = (inside | passed) & after
    hit[:, 1:] &= after[:, :-1]  # (the level before is past the crossing too)
    hit[:, 0] = False
    rows = np.flatnonzero(hit.any(axis=1))
    if not rows.size:
        return []
    first = hit[rows].argmax(axis=1)
    order = np.argsort(np.abs(taus[first]))[:FOLDED_ENTRIES]
    found = []
    for j in order:
        r, k = folded[rows[j]], int(first[j])
        y_lo = out[r, k - 1].copy()
        if lo <= y_lo[o] <= hi:  # inside already: from the level at or before the crossing
            k = max(int(np.searchsorted(np.abs(taus), tb[r], side="right")), 1)
            y_lo = out[r, k - 1].copy()
        if not np.isfinite(y_lo).all() or lo <= y_lo[o] <= hi:
            continue  # (inside before it crossed: its crossing lies on the range)
        from_below = y_lo[o] < lo
        t_in, x_at = _edge_reached(c, y_lo, float(taus[k - 1]), float(taus[k]),
                                   out[r, k, : c["n"]], o, lo if from_below else hi,
                                   from_below)  # fmt: skip
        found.append((max(t_in, float(tb[r])), x_at))  # (it enters folded)
    return found


#: pieces of the horizon searched in turn for a ray's first crossing
CROSSING_PIECES = 8


def _crossing_within(c, s_value, like, horizon):
    """(|tau|, x) of the first crossing of the data's ray at ``s_value`` up to
    ``horizon`` (inf, None if it has none by then): :func:`kernels.refine_crossing` on
    ``CROSSING_PIECES`` pieces of the horizon in turn (on the whole, it may refine a
    later one of an odd number of sign changes)."""
    y = _start_ray(c, s_value, like)
    if y is None:
        return np.inf, None
    y_at = np.empty(c["d"])
    # (a straight ray in two variables: det is linear in tau, one root at most)
    pieces = 1 if c["straight"] and c["n"] == 2 else CROSSING_PIECES
    edges = np.linspace(0.0, horizon, pieces + 1)
    for a, b in zip(edges[:-1], edges[1:]):
        st, t = K.refine_crossing(c["code"], c["consts"], c["prog"], c["nz"], c["n"], y,
                                  float(a), float(b), c["rtol"], c["atol"], SUBDIVISIONS,
                                  y_at, c["straight"])  # fmt: skip
        if st in (K.CROSSING_FOUND, K.CROSSING_TOUCH):
            return abs(t), y_at[: c["n"]].copy()
        status, _, _ = K._integrate(c["code"], c["consts"], c["prog"], c["nz"], y, float(a),
                                    float(b), c["rtol"], c["atol"], 0.0,
                                    c["straight"])  # fmt: skip
        if status != K.RAY_OK:
            break
    return np.inf, None


def _caustic_at_edges(c, o, lo, hi, a, b, like, horizon):
    """(tau, x) where the first crossings of the data's rays with parameters between
    ``a`` and ``b`` reach the grid's edges x_o = ``lo`` or ``hi`` (1-D data; each
    crossing to full precision, up to ``horizon``).  An end whose ray does not cross by
    the horizon is first moved, by bisection, to the last ray that does; then, for each
    edge between the two ends' crossings, the Illinois method on the ray parameter."""

    def at(s):
        return _crossing_within(c, s, like, horizon)

    (ta, xa), (tb_, xb) = at(a), at(b)
    if xa is None and xb is None:
        return []
    if xa is None:  # bisection to the last ray crossing by the horizon
        a, (ta, xa) = _last_crossing(at, a, b, (tb_, xb))
    elif xb is None:
        b, (tb_, xb) = _last_crossing(at, b, a, (ta, xa))
    found = []
    for edge in sorted({lo, hi}):
        fa, fb = xa[o] - edge, xb[o] - edge
        if fa * fb > 0:
            continue
        if fa == 0 or fb == 0:
            found.append((ta, xa) if fa == 0 else (tb_, xb))
            continue
        got = _illinois_on_rays(at, o, edge, a, b, fa, fb, (ta, xa), (tb_, xb))
        if got is not None:
            found.append(got)
    return found


def _last_crossing(at, none, good, kept):
    """Bisection between ray parameters ``none`` (its ray does not cross by the
    horizon) and ``good`` (it does, at ``kept`` = (tau, x)): the parameter nearest
    ``none`` whose ray crosses, and its (tau, x)."""
    for _ in range(60):
        mid = 0.5 * (good + none)
        if mid in (good, none):
            break
        got = at(mid)
        if got[1] is None:
            none = mid
        else:
            good, kept = mid, got
    return good, kept


def _illinois_on_rays(at, o, edge, a, b, fa, fb, pa, pb):
    """The Illinois method for x_o(s) = ``edge`` between ray parameters ``a`` and ``b``
    (``fa``, ``fb``: x_o - edge there, of opposite signs; ``pa``, ``pb``: (tau, x) of
    their crossings), ``at(s)`` giving a ray's crossing: (tau, x) there, or None."""
    wa, wb = fa, fb  # the ends' weights: the end kept twice in a row counts half
    kept = 0
    for _ in range(100):
        s = (a * wb - b * wa) / (wb - wa)
        if not a < s < b:
            s = 0.5 * (a + b)
        if s in (a, b):  # the bracket is down to rounding
            break
        ps = at(s)
        if ps[1] is None:
            return None
        fs = ps[1][o] - edge
        if fs == 0:
            return ps
        if (fs < 0) == (fa < 0):
            a, fa, pa, wa = s, fs, ps, fs
            wb, kept = (0.5 * wb if kept == 1 else wb), 1
        else:
            b, fb, pb, wb = s, fs, ps, fs
            wa, kept = (0.5 * wa if kept == -1 else wa), -1
    return pa if abs(fa) <= abs(fb) else pb


def _jump_reaches(c, o, lo, hi, s_j, taus):
    """(tau, x) when the rays crossing at a jump (or kink) of 1-D data at parameter
    ``s_j``, outside the grid's range [lo, hi] in x_o, first reach it: the first time
    one of the two edge rays (the data's one-sided limits there) does.  None if
    neither does by the last level of ``taus``."""
    S = c["S"][:, 0]
    k = int(np.clip(np.searchsorted(S, s_j), 1, len(S) - 1))
    delta = 1e-13 * max(1.0, abs(s_j), abs(S[k] - S[k - 1]))
    best = None
    for s_edge, like in ((s_j - delta, c["y0"][k - 1]), (s_j + delta, c["y0"][k])):
        y = _start_ray(c, s_edge, like)
        if y is None:
            continue
        below = y[o] < lo  # the side of the range the ray starts on
        prev_y, prev_t = y.copy(), 0.0
        for t1 in taus[1:]:
            if best is not None and abs(t1) > best[0] + abs(t1 - prev_t):
                break
            st, _, _ = K._integrate(c["code"], c["consts"], c["prog"], c["nz"], y, prev_t,
                                   float(t1), c["rtol"], c["atol"], 0.0,
                                   c["straight"])  # fmt: skip
            if st != K.RAY_OK:
                break
            if (y[o] >= lo) if below else (y[o] <= hi):  # reached between the two levels
                got = _edge_reached(c, prev_y, prev_t, float(t1), y[: c["n"]], o,
                                    lo if below else hi, below)  # fmt: skip
                if best is None or got[0] < best[0]:
                    best = got
                break
            prev_y, prev_t = y.copy(), float(t1)
    return best


def _edge_reached(c, y_lo, t_lo, t_hi, x_hi, o, edge, from_below):
    """(|tau|, x) where a ray at state ``y_lo`` at ``t_lo``, short of x_o = ``edge`` on
    the side ``from_below`` says, and past it at ``t_hi`` (position ``x_hi`` there),
    reaches it: bisection on tau, each point integrated from ``t_lo``."""
    a, b, x_at = t_lo, t_hi, np.array(x_hi, float)
    for _ in range(100):
        mid = 0.5 * (a + b)
        if not min(a, b) < mid < max(a, b):
            break
        z = y_lo.copy()
        st, _, _ = K._integrate(c["code"], c["consts"], c["prog"], c["nz"], z, t_lo, mid,
                                c["rtol"], c["atol"], 0.0, c["straight"])  # fmt: skip
        if st != K.RAY_OK:
            break
        if (z[o] >= edge) if from_below else (z[o] <= edge):
            b, x_at = mid, z[: c["n"]].copy()
        else:
            a = mid
    return abs(b), x_at


def _refine_crossings(info, c, out, taus, tb, at):
    """Crossing times of the earliest-crossing rays to full precision (in place).

    ``_crossings`` interpolates the Jacobian linearly between recorded
    levels; here the rays whose crossing may be the first are integrated
    again from the level before, and the zero of the determinant is found
    by the Illinois (regula falsi) method.
    """
    finite = np.flatnonzero(np.isfinite(tb))
    if not finite.size:
        return
    step = float(np.max(np.abs(np.diff(taus))))
    window = tb[finite].min() + 2 * step
    refined = np.zeros(len(tb), np.bool_)
    batch_size = 2
    while refined.sum() < MAX_REFINED:
        # refine the earliest estimates until none left unrefined is earlier than a refined one
        open_ = np.flatnonzero(np.isfinite(tb) & ~refined & (tb <= window))
        best = tb[refined & np.isfinite(tb)].min() if (refined & np.isfinite(tb)).any() else np.inf
        open_ = open_[tb[open_] < best]
        if not open_.size:
            break
        batch = open_[np.argsort(tb[open_])][:batch_size]
        batch_size = min(2 * batch_size, REFINED_RAYS)
        refined[batch] = True
        _refine_rays(info, c, out, taus, tb, at, batch)


def _refine_rays(info, c, out, taus, tb, at, rays, exact=None):
    """The crossing of each of ``rays`` integrated again from the level before it (see
    :func:`_refine_crossings`); ``exact`` marks the levels landed on (default: the
    evolution problem's, ``c["exact"]``), the others are dense-output samples."""
    n, nz = c["n"], c["nz"]
    exact = c.get("exact") if exact is None else exact
    y_at = np.empty(c["d"])
    for r in rays:
        k = int(np.searchsorted(np.abs(taus), tb[r]))
        k = min(max(k, 1), len(taus) - 1)
        lo_t, hi_t = float(taus[k - 1]), float(taus[k])
        y_lo = out[r, k - 1].copy()
        if exact is not None and not exact[k - 1]:  # a dense-output sample: land on it
            j = int(np.flatnonzero(exact[:k])[-1])
            y_lo = out[r, j].copy()
            st, _, _ = K._integrate(c["code"], c["consts"], c["prog"], nz, y_lo, float(taus[j]),
                                   lo_t, c["rtol"], c["atol"], 0.0,
                                   c["straight"])  # fmt: skip
            if st != K.RAY_OK:
                continue
        status, t = K.refine_crossing(c["code"], c["consts"], c["prog"], nz, n, y_lo, lo_t, hi_t,
                                      c["rtol"], c["atol"], SUBDIVISIONS, y_at,
                                      c["straight"])  # fmt: skip
        if status in (K.CROSSING_FOUND, K.CROSSING_TOUCH):
            tb[r], at[r] = abs(t), y_at[:n]
        elif status == K.CROSSING_NONE:
            tb[r], at[r] = np.inf, np.nan  # rounding noise, not a crossing


def _crossings(c, out, taus, det0, n, nz, m, e=None):
    """First tau where each ray's Jacobian [x_s, dx/dtau] changes sign, and where.

    ``taus`` runs away from 0 (either direction); rays without a crossing get inf.
    For an evolution problem (variable ``e``, whose x_s are 0 and whose dx_e/dtau
    is a constant) the determinant is that constant times the minor of the other
    x_s, up to a sign fixed by the layout: only the minor is computed.
    """
    R = out.shape[0]
    if e is not None:
        others = [i for i in range(n) if i != e]

        def xs(k, i):  # d x_others[i] / d s_k at every ray and level
            return out[:, :, nz + k * nz + others[i]]

        with np.errstate(invalid="ignore"):
            if m == 1:
                minor = xs(0, 0)
            elif m == 2:  # closed form: no stacking of 2 x 2 matrices
                minor = xs(0, 0) * xs(1, 1) - xs(0, 1) * xs(1, 0)
            else:
                minor = np.linalg.det(np.stack([np.stack([xs(k, i) for i in range(m)], axis=-1)
                                                for k in range(m)], axis=-2))  # fmt: skip
        sign0 = np.sign(minor[:, 0]) * np.sign(det0)  # the layout's sign (with the speed's)
        det = minor * np.where(sign0 != 0, sign0, 1.0)[:, None]  # NaN where a ray ended
    else:  # each ray only up to its first sign change (or touch)
        flip = np.empty(R, np.int64)
        before, after, touch = np.empty(R), np.empty(R), np.empty(R)
        over_rows(K.first_sign_changes, R, c["code"], c["consts"], c["prog"], nz, n, out,
                  np.ascontiguousarray(taus, float), np.ascontiguousarray(det0, float), TOUCH,
                  flip, before, after, touch)  # fmt: skip
        tb, at = _crossing_at(out, taus, n, np.flatnonzero(flip >= 0), flip[flip >= 0],
                              before[flip >= 0], after[flip >= 0])  # fmt: skip
        dip = np.flatnonzero(np.isfinite(touch))
        tb[dip], at[dip] = np.abs(touch[dip]), out[dip, flip[dip] - 1, :n]
        return tb, at
    flip = (det * det0[:, None] <= 0) & np.isfinite(out[:, :, 0])
    flip[:, 0] = False
    r = np.flatnonzero(flip.any(axis=1))
    k = np.argmax(flip[r], axis=1)  # the first level past the sign change
    tb, at = _crossing_at(out, taus, n, r, k, det[r, k - 1], det[r, k])
    if m >= 2:  # rays focusing in 2+ dimensions: det can touch 0 without changing sign
        _touches(out, taus, n, det * np.sign(det0)[:, None], tb, at)
    return tb, at


#: a dip of det J whose parabola through three levels reaches below this fraction of
#: det J on the data counts as touching 0: a focus (det ~ (1 - t)^2 for fronts focusing
#: to a point in 2-D, which never changes sign)
TOUCH = 1e-6


def _touches(out, taus, n, g, tb, at):
    """Earlier crossings where ``g`` (det J, positive on the data) dips to 0 between
    levels without changing sign (in place in ``tb``, ``at``): the vertex of the
    parabola through three consecutive levels at a local minimum
    (:func:`kernels.first_dips`)."""
    vertex, level = np.empty(len(g)), np.empty(len(g), np.int64)
    K.first_dips(np.ascontiguousarray(taus, float), np.ascontiguousarray(g, float),
                 TOUCH * np.abs(g[:, 0]), tb, vertex, level)  # fmt: skip
    rays = np.flatnonzero(level >= 0)
    tb[rays] = np.abs(vertex[rays])
    at[rays] = out[rays, level[rays], :n]


def _first_crossing(info, c, runs):
    """(|tau|, position) of the first crossing over the runs of :func:`_general` (rays
    one way, and the other), or None.  The estimate from the sampled levels is made
    precise on its ray: integrated again from the level before to the zero of det J
    (:func:`_refine_rays`), or, where that finds no sign change (det J only touches 0,
    at a focus), the ray landed at the dip's time (its position was the level's before)."""
    best = min(((float(r[2][i]), k, i) for k, r in enumerate(runs)
                for i in [int(np.argmin(r[2]))] if np.isfinite(r[2]).any()), default=None)  # fmt: skip
    if best is None:
        return None
    tb_r, k, i = best
    taus, out = runs[k][:2]
    tb, at = np.array([tb_r]), np.array(runs[k][3][i : i + 1])
    # (on copies: the ray's tb and at of the run stay the sampled ones)
    _refine_rays(info, c, out[i : i + 1], taus, tb, at, [0], exact=c["ray_exact"][k])
    if np.isfinite(tb[0]) and np.isfinite(at[0]).all():
        if k == 0 and float(taus[-1]) > 0:  # (rays forward: between the samples too)
            between = [cd for cd in _between_samples(None, c, runs[0][2]) if cd[1] is not None]
            if between and min(between, key=lambda cd: cd[0])[0] < tb[0]:
                t_b, x_b = min(between, key=lambda cd: cd[0])
                return float(t_b), np.asarray(x_b, float)
        return float(tb[0]), at[0]
    y = c["y0"][i].copy()  # the ray from the data to the estimate's tau
    tau = math.copysign(tb_r, float(taus[-1]))
    st, _, _ = K._integrate(c["code"], c["consts"], c["prog"], c["nz"], y, 0.0, tau, c["rtol"],
                           c["atol"], 0.0, c["straight"])  # fmt: skip
    return (tb_r, y[: c["n"]]) if st == K.RAY_OK else (tb_r, runs[k][3][i])


def _crossing_at(out, taus, n, r, k, before, after):
    """(tb, at) of every ray: rays ``r`` change sign between levels ``k - 1`` and ``k``
    (determinants ``before`` and ``after``), found by linear interpolation; inf and
    NaN for the others."""
    tb = np.full(out.shape[0], np.inf)
    at = np.full((out.shape[0], n), np.nan)
    with np.errstate(all="ignore"):
        w = before / (before - after)
    tb[r] = np.abs(taus[k - 1] + w * (taus[k] - taus[k - 1]))
    at[r] = out[r, k - 1, :n] + w[:, None] * (out[r, k, :n] - out[r, k - 1, :n])
    return tb, at


def _general(info, pde, c, crossing="stop", evaluation="newton"):
    """No evolution variable: rays traced both ways, Newton on (s, tau) per grid point.

    With ``--crossing stop`` a point counts only if it lies before the first
    crossing of the rays next to its own.  With ``viscosity`` every ray that
    reaches the point forward (tau >= 0) is found, from seeds on up to
    ``VISCOSITY_SEEDS`` distinct nearby rays, and the smallest u wins: the
    first arrival of an eikonal front, the Hopf-Lax value of a convex
    Hamilton-Jacobi equation.
    """

    n, m, nz, d, S, y0 = c["n"], c["m"], c["nz"], c["d"], c["S"], c["y0"]
    # how far to trace: twice the grid's diameter plus its distance from the data, over
    # the data's typical speed (data reaching far beyond the grid need not be followed
    # across their whole extent: the rays through the grid leave the data near it)
    pos = y0[np.isfinite(y0[:, :n]).all(axis=1), :n]
    outside = np.maximum(np.maximum(c["lo_g"] - pos, pos - c["hi_g"]), 0.0)
    gap = float(np.linalg.norm(outside, axis=1).min()) if len(pos) else 0.0
    extent = float(np.linalg.norm(c["hi_g"] - c["lo_g"])) + gap
    if not extent > 0:  # a grid of one node on the data: the data's extent
        corners = np.vstack([y0[:, :n], c["lo_g"], c["hi_g"]])
        extent = float(np.linalg.norm(np.nanmax(corners, axis=0) - np.nanmin(corners, axis=0)))
    speeds = np.linalg.norm(_eval_a(c, y0[:, :nz]), axis=1)
    speeds = speeds[np.isfinite(speeds)]  # (no ray where the data are undefined)
    speed = float(np.median(speeds)) if speeds.size else 1.0
    horizon = 2.0 * extent / max(speed, 1e-300)
    c["tau_span"], c["ray_speed"] = horizon, speed
    runs = []
    # first arrival uses the forward rays only
    for sign in (1.0,) if crossing == "viscosity" else (1.0, -1.0):
        taus = np.linspace(0.0, sign * horizon, TRACE_STEPS)
        out = np.empty((len(S), len(taus), d))
        status = np.empty(len(S), np.int64)
        reached = np.empty(len(S))
        # the levels are Newton's seeds, the crossings' and the raster cells' corners: dense
        # output is accurate enough for them (landed on exactly only if the rays are saved)
        exact = np.zeros(len(taus), np.bool_)
        exact[0] = True
        exact[:] |= c["save_rays"]
        exact[-1] = True  # the end is always landed on
        c.setdefault("ray_exact", []).append(exact)
        over_rows(K.trace_rows, len(y0), c["code"], c["consts"], c["prog"], nz, y0, taus,
                  exact, c["rtol"], c["atol"], out, status, reached,
                  np.empty(len(S)), c["straight"])  # fmt: skip
        tb, at = _crossings(c, out, taus, c["det0"], n, nz, m)
        runs.append((taus, out, tb, at, status, reached))
    if crossing == "viscosity" and _hamiltonian_sign(info, c, runs[0][1], list(range(n))) < 0:
        raise SpecError(
            "--crossing viscosity without an evolution variable is the first arrival for an "
            "equation convex in the gradient; this one is concave (write it the other way "
            "round, e.g. u_x^2 + u_y^2 = 1 rather than 1 = u_x^2 + u_y^2)", field="equation",
        )  # fmt: skip
    extra = {}
    if evaluation == "raster":
        u, grad, extra = _raster(c, runs, crossing)
    else:
        u, grad, extra = _multi_seed(pde, c, runs, crossing)
    first = _first_crossing(info, c, runs)
    breaking_at = first[1] if first is not None else None
    blow = [r[5][(r[4] == K.RAY_BLOW_UP) & c["started"]] for r in runs]
    blow_tau = min((float(np.abs(b).min()) for b in blow if b.size), default=np.inf)
    # for the strips' drift of F
    c["ray_parts"] = [(r[1], exact) for r, exact in zip(runs, c["ray_exact"])]
    if len(runs) == 1:
        return u, grad, runs[0][0], runs[0][1], np.inf, breaking_at, blow_tau, extra
    if not c["save_rays"]:  # the rays both ways as one array only when they are written
        return u, grad, None, None, np.inf, breaking_at, blow_tau, extra
    taus = np.concatenate([runs[1][0][::-1], runs[0][0][1:]])
    out = np.concatenate([runs[1][1][:, ::-1], runs[0][1][:, 1:]], axis=1)
    return u, grad, taus, out, np.inf, breaking_at, blow_tau, extra


#: most branches a node keeps with raster evaluation and ``--crossing multivalued`` (the
#: nearest along their rays; ``branch_lists_full`` counts the nodes that reached it)
RASTER_BRANCHES = 6


def _raster(c, runs, crossing):
    """Every grid node from the bicubic ray cells (see :mod:`.cells`): the first
    arrival (``viscosity``), the branch nearest the data before its rays cross
    (``stop``), or every branch (``multivalued``)."""
    from charme.solvers.characteristics import cells as RA

    xs, ys = c["grid_axes"]
    bands = threads()
    mode = {"viscosity": RA.FIRST_ARRIVAL, "stop": RA.NEAREST}.get(crossing, RA.ALL_BRANCHES)
    width = RASTER_BRANCHES if mode == RA.ALL_BRANCHES else 1
    score = np.full((len(xs), len(ys), width), np.inf)
    best_u = np.full((len(xs), len(ys), width), np.nan)
    best_g = np.full((len(xs), len(ys), width, 2), np.nan)
    for taus, out, tb, *_ in runs:
        # (still a Numba parallel kernel: compiled serially for the thread pool of
        # .threads, it took 2 s less to compile but ran 10 to 20% slower)
        RA.rasterise(out, c["code"], c["consts"], c["prog"], c["S"][:, 0].copy(), taus, c["nz"],
                     c["charpit"], xs, ys, bands, mode, np.abs(tb), score, best_u, best_g)  # fmt: skip
    # nodes no cell reached kept their NaN (a view when there is one branch per node)
    u = best_u[..., 0] if width == 1 else best_u[..., 0].copy()
    grad = best_g[..., 0, :] if width == 1 else best_g[..., 0, :].copy()
    extra = {"crossing_method": crossing}
    if mode == RA.ALL_BRANCHES:
        count = np.isfinite(score).sum(axis=-1)
        used = max(1, int(count.max()))
        extra["branches"] = best_u[..., :used].copy()
        # a full list may have lost branches farther along their rays: say where
        extra["branch_lists_full"] = int((count == width).sum())
    return u, grad, extra


VISCOSITY_SEEDS = 12
#: most Newton steps of a seed on the traced samples before Newton on the rays
SEED_ROUNDS = 8


def _multi_seed(pde, c, runs, crossing):
    """Newton from seeds on up to ``VISCOSITY_SEEDS`` distinct nearby rays per point.

    ``stop``: rays both ways, a solution counts if it lies before its ray's
    first crossing, the one nearest the data (smallest |tau|) wins.
    ``viscosity``: forward rays only, up to their first crossing (a ray past
    its focal point is no shortest path), the smallest u wins (first arrival).
    ``multivalued``: rays both ways, every distinct solution is a branch
    (``u_branches``, in order of |tau|: nearest the data along its ray
    first, the first arrival for fronts), ``u`` is the first.
    """
    from scipy.spatial import cKDTree

    n, S, y0 = c["n"], c["S"], c["y0"]
    use = runs[:1] if crossing == "viscosity" else runs
    pos = np.concatenate([r[1][:, :, :n].reshape(-1, n) for r in use])
    tau_of = np.concatenate([np.broadcast_to(r[0], r[1].shape[:2]).ravel() for r in use])
    ray_of = np.concatenate([np.repeat(np.arange(len(S)), len(r[0])) for r in use])
    # the samples near the grid: the seeds' pool (within half the grid's diameter of its
    # box, or a few times the samples' spacing, across rays or along them)
    data = y0[np.isfinite(y0[:, :n]).all(axis=1), :n]
    spread = float(np.linalg.norm(data.max(axis=0) - data.min(axis=0))) if len(data) else 0.0
    reach = max(0.5 * float(np.linalg.norm(c["hi_g"] - c["lo_g"])),
                4.0 * spread / max(len(S), 1) ** (1.0 / c["m"]),
                4.0 * c["tau_span"] * c["ray_speed"] / TRACE_STEPS)  # fmt: skip
    with np.errstate(invalid="ignore"):
        good = ((pos >= c["lo_g"] - reach) & (pos <= c["hi_g"] + reach)).all(axis=1)
    pts = np.array(list(itertools.product(*c["grid_axes"])), float).reshape(-1, n)
    # each direction its own seeds, from its own samples: where the rays one way crowd
    # (towards a focus) they would otherwise take every seed from the rays the other way
    per = VISCOSITY_SEEDS // len(use)
    wide = 0.05 * float(np.max(c["s_counts"]))  # (a twentieth of the samples along s)
    ways = np.column_stack([ray_of, tau_of >= 0]).astype(float)  # each sample's ray, way
    ends = np.cumsum([0] + [r[1].shape[0] * r[1].shape[1] for r in use])
    chosen = np.full((len(pts), per * len(use)), -1, np.int64)
    for j, (lo, hi) in enumerate(zip(ends[:-1], ends[1:])):
        idx = lo + np.flatnonzero(good[lo:hi])
        if not idx.size:
            continue
        _, near = cKDTree(pos[idx]).query(pts, k=min(len(idx), 8 * per))
        cands = idx[np.asarray(near).reshape(len(pts), -1)]
        # and the nearest samples of every stride-th ray: near a focus the rays of one
        # branch pass so densely that all the nearest samples are theirs
        stride = max(1, int(wide // 4))
        sub = idx[ray_of[idx] % stride == 0] if stride > 1 else idx[:0]
        if sub.size:
            _, near = cKDTree(pos[sub]).query(pts, k=min(len(sub), 8 * per))
            cands = np.concatenate([cands, sub[np.asarray(near).reshape(len(pts), -1)]],
                                   axis=1)  # fmt: skip
        if crossing == "viscosity":  # earliest samples first: near a focus, the direct rays
            cands = np.take_along_axis(cands, np.argsort(np.abs(tau_of[cands]), axis=1,
                                                         kind="stable"), axis=1)  # fmt: skip
        # distinct rays (more than 2 rays apart, or traced the other way); half of them
        # the nearest, half far apart on the data (a twentieth of its samples along a
        # parameter): rays of another branch, where one branch's crowd round a focus
        part = np.empty((len(pts), per), np.int64)
        K.spread_seeds(cands, ways, np.array([1.0, 0.25]), 2.0, part, wide, (per + 1) // 2)
        chosen[:, j * per : (j + 1) * per] = part
    owner, slot = np.nonzero(chosen >= 0)  # point by point, in the order tried
    seed_idx = chosen[owner, slot]
    rays = ray_of[seed_idx]
    seed_p = (y0[rays, n + 1 : 2 * n + 1] if c["charpit"] else np.zeros((len(rays), n))).copy()
    step = (c["s_hi"] - c["s_lo"]) / np.maximum(c["s_counts"] - 1, 1)  # between samples
    step = np.where(step != 0, step, 1.0)
    spacing = np.abs(step)
    # Newton's first steps from each seed on the traced samples (no integration): on to
    # the sample nearest the solution it heads for
    first_s, first_t = S[rays].copy(), tau_of[seed_idx].copy()
    dtau = c["tau_span"] / (TRACE_STEPS - 1)
    K.refine_seeds(c["code"], c["consts"], c["prog"], c["nz"], n, use[0][1],
                   use[1][1] if len(use) > 1 else np.empty((0, 0, c["d"])), dtau, S,
                   c["s_counts"], c["s_lo"], step, pts[owner], first_s, first_t,
                   SEED_ROUNDS)  # fmt: skip
    if crossing == "stop":  # each point's seeds nearest the data along their rays first
        tried = np.lexsort((np.abs(first_t), owner))
        owner, seed_idx, rays = owner[tried], seed_idx[tried], rays[tried]
        seed_p, first_s, first_t = seed_p[tried], first_s[tried], first_t[tried]
    u_q, g_q = np.full(len(rays), np.nan), np.full((len(rays), n), np.nan)
    t_q, s_q = np.full(len(rays), np.nan), np.full((len(rays), c["m"]), np.nan)
    ok = np.zeros(len(rays), np.bool_)
    # Each point's seeds in turn, one per point in each round.  A seed is not solved when
    # its first steps land within half a cell of the samples (half a spacing along each
    # parameter and half a level in tau) from a solution already found for its point (an
    # acceptable one, which any seed's Newton would keep, or with ``viscosity`` one behind
    # the data, which none would), or from a ray off the data that Newton took (any tau:
    # tau NaN in ``roots``): Newton converges onto that same ray.
    # Neither when Newton's iterates come there (``locate_general``).  With ``stop``
    # neither when they lie a level farther along their ray than an acceptable solution.
    cell = np.append(0.5 * spacing, 0.5 * dtau)
    first = np.column_stack([first_s, first_t])
    with np.errstate(invalid="ignore"):
        todo = np.isfinite(first).all(axis=1) & (np.abs(first_t) <= 2.0 * c["tau_span"])
    found = np.zeros(len(pts), np.int64)  # solutions found per point
    roots = np.full((len(pts), chosen.shape[1], c["m"] + 1), np.nan)
    nearest = np.full(len(pts), np.inf)  # |tau| of each point's nearest acceptable solution
    while todo.any():
        pending = np.flatnonzero(todo)
        if found.any():
            known = roots[owner[pending], : found.max()]
            near = np.abs(first[pending, None, :] - known) <= cell
            near[..., -1] |= np.isnan(known[..., -1])
            done = near.all(axis=2).any(axis=1)
            if crossing == "stop":
                done |= np.abs(first_t[pending]) > nearest[owner[pending]] + dtau
            todo[pending[done]] = False
            pending = pending[~done]
            if not pending.size:
                break
        batch = pending[np.r_[True, owner[pending][1:] != owner[pending][:-1]]]
        todo[batch] = False
        status = np.empty(len(batch), np.int64)
        u_b, g_b = np.empty(len(batch)), np.empty((len(batch), n))
        t_b, s_b = np.empty(len(batch)), np.empty((len(batch), c["m"]))
        over_rows(K.locate_general, len(batch), c["code"], c["consts"], c["prog"],
                  c["icode"], c["iconsts"], c["iprog"], c["fcode"], c["fconsts"], c["fprog"], n,
                  c["charpit"], pts[owner[batch]], first_s[batch], first_t[batch],
                  seed_p[batch], c["s_lo"], c["s_hi"], spacing, 2.0 * c["tau_span"],
                  roots[owner[batch], : max(1, found.max())], found[owner[batch]], cell,
                  c["rtol"], c["atol"], u_b, g_b, t_b, s_b, status, c["straight"])  # fmt: skip
        good = status == K.LOCATE_OK
        if c["charpit"] and good.any():
            good[good] &= _on_branch(c, s_b[good], seed_p[batch[good]])
        good &= _acceptable(runs, crossing, t_b, rays[batch])
        if crossing == "viscosity" and good.any():
            # (and not past the focal point of the ray Newton ended on, which may lie far
            # from the seed's: rays from the trefoil's dimples, inwards, never focus, and
            # Newton from them reached points outside on rays long past theirs)
            good[good] &= ~_past_focus(c, s_b[good], t_b[good], runs[0][2])
        u_q[batch], g_q[batch], t_q[batch], s_q[batch] = u_b, g_b, t_b, s_b
        ok[batch] = good
        off = status == K.LOCATE_OUTSIDE
        keep = good | off
        if crossing == "viscosity":  # a solution behind the data counts for no seed
            with np.errstate(invalid="ignore"):
                keep |= (status == K.LOCATE_OK) & (t_b < -1e-12)
        at = owner[batch[keep]]
        roots[at, found[at]] = np.column_stack([s_b[keep], np.where(off[keep], np.nan, t_b[keep])])
        found[at] += 1
        np.minimum.at(nearest, owner[batch[good]], np.abs(t_b[good]))
    extra = {"crossing_method": crossing}
    if crossing == "viscosity":  # the smallest u wins
        score = u_q
    else:  # the solution nearest the data along its ray first
        score = np.abs(t_q)
    # the solutions by point, then score (ties: in the order found)
    sel = np.flatnonzero(ok & (score < np.inf))
    order = sel[np.lexsort((score[sel], owner[sel]))]
    if crossing == "multivalued":  # every distinct one
        keep = np.empty(len(order), np.bool_)
        K.distinct_states(owner[order], u_q[order], np.ascontiguousarray(g_q[order]), keep)
        order = order[keep]
    start = np.searchsorted(owner[order], np.arange(len(pts) + 1))  # each point's solutions
    has = np.diff(start) > 0
    u = np.full(len(pts), np.nan)
    grad = np.full((len(pts), n), np.nan)
    u[has] = u_q[order[start[:-1][has]]]
    grad[has] = g_q[order[start[:-1][has]]]
    if crossing == "multivalued":
        width = max(1, int(np.diff(start).max(initial=0)))
        br = np.full((len(pts), width), np.nan)
        br[owner[order], np.arange(len(order)) - start[owner[order]]] = u_q[order]
        extra["branches"] = br.reshape((*c["shape"], width))
    return u.reshape(c["shape"]), grad.reshape((*c["shape"], n)), extra


def _acceptable(runs, crossing, t, rays):
    """Which of Newton's solutions (at ``t`` on rays from the seeds ``rays``) count:
    ``viscosity``, forward and not past the seed ray's focal point; ``stop``, before
    the first crossing of the seed ray in its direction; ``multivalued``, all."""
    with np.errstate(invalid="ignore"):
        if crossing == "viscosity":
            return (t >= -1e-12) & (t <= runs[0][2][rays] * (1 + 1e-9))
        if crossing == "multivalued":
            return np.isfinite(t)
        limit = np.where(t >= 0, runs[0][2][rays], runs[1][2][rays])
        return np.abs(t) < limit * (1 - 1e-9)


def _on_branch(c, s, seed_p):
    """Charpit: whether the gradient completed on the data at ``s`` from ``seed_p`` (as
    Newton onto the rays completed it) is the data's own branch there, the one completed
    from the nearest sample's gradient.  Newton can take s far from its seed ray, and
    the completion from the seed's gradient then land on another branch (the eikonal:
    the gradient pointing to the other side of the data): such a ray is not one of
    the solution's."""
    n, d = c["n"], c["d"]
    counts = c["s_counts"]
    idx = np.clip(np.rint(_sample_position(c, s)), 0, counts - 1).astype(np.int64)
    near = np.ravel_multi_index(tuple(idx.T), tuple(counts))
    p = []
    for start in (seed_p, c["y0"][near, n + 1 : 2 * n + 1]):
        y, ok = np.empty((len(s), d)), np.zeros(len(s), np.bool_)
        K.initial_states(c["icode"], c["iconsts"], c["iprog"], c["fcode"], c["fconsts"],
                         c["fprog"], n, True, np.ascontiguousarray(s, float),
                         np.ascontiguousarray(start, float), y, ok)  # fmt: skip
        p.append(np.where(ok[:, None], y[:, n + 1 : 2 * n + 1], np.nan))
    return (np.abs(p[0] - p[1]) <= 1e-8 * (1.0 + np.abs(p[1]))).all(axis=1)


def _eval_a(c, z):
    """dx/dtau (the first n components of g) at the ray states ``z`` (compiled)."""
    out = np.empty((len(z), c["n"]))
    K.eval_rows(c["code"], c["consts"], c["prog"], np.arange(c["n"]), np.ascontiguousarray(z),
                out)  # fmt: skip
    return out
