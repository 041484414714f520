"""Figures of charme results (needs matplotlib: ``pip install 'charme[plot]'``).

:func:`figure_for` turns a :class:`~charme.results.Result` into a
:class:`matplotlib.figure.Figure`, choosing the picture from the result's
kind:

- ``ssa`` / ``cme``: mean +- sd bands over time per species (a panel per
  species when their scales differ a lot), a few saved trajectories, and for
  the master equation a time x count heat map of each species' marginal;
  with ``time`` the distribution at that time; explicit chains show p(state).
- ``characteristics``: in 1-D + time, u(x) at the output times coloured by
  time with shocks marked, beside the rays in the (x, t) plane when saved;
  in 2-D an image with contour lines (small multiples over time when there
  is an evolution variable), rays projected onto the plane.
- ``sweep``: a scalar summary (mean at the final time, RMS of u, or any
  per-point statistic such as ``breaking_time``) against one varied
  parameter, a heat map over two, or a curve over the points of a zip sweep.

Only :class:`matplotlib.figure.Figure` is used, never ``pyplot``: there is no
global state and no GUI backend; ``Figure.savefig`` renders with Agg.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from charme.errors import SpecError

#: saved trajectories drawn over the ensemble bands
MAX_TRAJECTORIES = 5
#: species with a marginal heat map, and panels of a sweep heat map
MAX_HEATMAPS = 6
#: peak ratio above which species get a panel each
SPLIT_RATIO = 8.0
#: rays drawn (evenly subsampled)
MAX_RAYS = 48
#: curves of u(x) drawn (evenly subsampled output times)
MAX_CURVES = 12
#: images in a small multiple over time
MAX_FRAMES = 4
#: states drawn as lines for an explicit chain (more: a heat map)
MAX_STATE_LINES = 12
#: probabilities below this fraction of the peak are cropped from heat maps
CROP = 1e-5

PANEL = (6.4, 4.0)


@dataclass(frozen=True)
class PlotOptions:
    """What to draw: a variable, a species subset, a time slice, the title."""

    var: str | None = None
    species: tuple[str, ...] | None = None
    time: float | None = None
    title: str | None = None
    log: bool = False


def figure_for(result, *, var=None, species=None, time=None, title=None, log=False):
    """The figure that shows ``result`` best.

    Parameters
    ----------
    result
        A :class:`~charme.results.Result` (e.g. from :func:`charme.open_result`).
    var
        Variable to draw instead of the default (``trajectories``,
        ``marginal``, ``fsp_error``, ``u_x``, ``breaking_time``...).
    species
        Species (or recorded rule variables) to show: names, or one
        comma-separated string.
    time
        Draw the slice nearest this time (the evolution variable of a PDE;
        the time a sweep's summary is taken at).
    title
        Figure title (default: the result's ``title`` attribute).
    log
        Logarithmic colour scale for heat maps.

    Raises
    ------
    SpecError
        When an option does not fit the result (unknown variable or species).
    """
    if isinstance(species, str):
        species = [s.strip() for s in species.split(",") if s.strip()]
    opts = PlotOptions(var, tuple(species) if species else None, time, title, log)
    builders = {
        "ssa": _ensemble_figure,
        "cme": _ensemble_figure,
        "characteristics": _pde_figure,
        "sweep": _sweep_figure,
    }
    if result.kind not in builders:
        raise SpecError(f"cannot plot a result of kind {result.kind!r}")
    if opts.species and (result.kind == "characteristics" or "species" not in result.coords):
        raise SpecError("--species applies to results with species (ssa, cme, their sweeps)")
    fig = builders[result.kind](result, opts)
    fig.suptitle(opts.title or str(result.attrs.get("title", f"charme {result.kind}")))
    return fig


# --------------------------------------------------------------------- helpers


def _new_figure(rows=1, cols=1, width=None, height=None):
    from matplotlib.figure import Figure

    return Figure(
        figsize=(width or PANEL[0] * cols**0.8, height or PANEL[1] * rows**0.75),
        layout="constrained",
    )


def _fmt(value) -> str:
    return f"{float(value):.4g}"


def _nearest(axis, value) -> int:
    return int(np.argmin(np.abs(np.asarray(axis, dtype=float) - value)))


def _level(axis, value) -> int:
    """The index nearest ``value``, the last one when ``value`` is None."""
    return len(axis) - 1 if value is None else _nearest(axis, value)


def _evenly(n: int, most: int) -> np.ndarray:
    """Up to ``most`` indices spread evenly over ``range(n)``, ends included."""
    return np.unique(np.linspace(0, n - 1, min(n, most)).round().astype(int))


def _number_or_none(value):
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out if np.isfinite(out) else None


def _variable(result, name):
    if name not in result.data_vars:
        raise SpecError(
            f"no variable {name!r} in this result (have: {', '.join(result.data_vars)})"
        )
    return result.data_vars[name]


def _pick_species(result, wanted) -> list[tuple[int, str]]:
    names = [str(s) for s in result.coords["species"]]
    if not wanted:
        return list(enumerate(names))
    unknown = [w for w in wanted if w not in names]
    if unknown:
        raise SpecError(f"unknown species {unknown[0]!r} (have: {', '.join(names)})")
    return [(names.index(w), w) for w in wanted]


def _is_geometric(values) -> bool:
    v = np.asarray(values, dtype=float)
    return v.size > 2 and bool((v > 0).all()) and v.max() / v.min() >= 20


def _colour_norm(values, log):
    from matplotlib.colors import LogNorm, Normalize

    finite = np.asarray(values, dtype=float)[np.isfinite(values)]
    if finite.size == 0:
        return Normalize(0, 1)
    if log:
        top = finite.max() if finite.max() > 0 else 1.0
        return LogNorm(vmin=top * CROP, vmax=top, clip=True)
    return Normalize(finite.min(), finite.max())


# ------------------------------------------------------------ ssa / cme


def _ensemble_figure(result, opts):
    if "species" not in result.coords:
        return _chain_figure(result, opts)
    names = _pick_species(result, opts.species)
    if opts.var not in (None, "mean"):
        return _variable_figure(result, opts.var, names, opts)
    if "time" not in result.coords:
        return _snapshot_figure(result, names, None, opts)
    if opts.time is not None:
        return _snapshot_figure(result, names, _nearest(result.coords["time"], opts.time), opts)
    return _bands_figure(result, names, opts)


def _scales_differ(mean, sd, names) -> bool:
    peaks = np.array([np.nanmax(np.abs(mean[:, i]) + sd[:, i]) for i, _ in names])
    peaks = peaks[np.isfinite(peaks) & (peaks > 0)]
    return peaks.size > 1 and peaks.max() / peaks.min() > SPLIT_RATIO


def _bands_figure(result, names, opts):
    """Mean +- sd over time; thin trajectories; marginal heat maps beside (cme)."""
    t, mean, sd = result.coords["time"], result["mean"], result["sd"]
    heat = names[:MAX_HEATMAPS] if "marginal" in result else []
    split = _scales_differ(mean, sd, names)
    rows = max(len(names) if split else 1, len(heat), 1)
    cols = 2 if heat else 1
    fig = _new_figure(rows, cols, height=max(PANEL[1], 2.3 * rows))
    grid = fig.add_gridspec(rows, cols, width_ratios=[1.0, 1.15] if heat else None)
    if split:
        axes = [fig.add_subplot(grid[k, 0]) for k in range(len(names))]
    else:
        axes = [fig.add_subplot(grid[:, 0])] * len(names)
    for k, ((i, name), ax) in enumerate(zip(names, axes)):
        colour = f"C{k % 10}"
        ax.fill_between(t, mean[:, i] - sd[:, i], mean[:, i] + sd[:, i], color=colour,
                        alpha=0.25, linewidth=0)  # fmt: skip
        ax.plot(t, mean[:, i], color=colour, linewidth=1.8, label=f"{name} mean ± sd")
        _draw_trajectories(ax, result, i, colour)
    for ax in dict.fromkeys(axes):
        ax.set_xlabel("time")
        ax.set_ylabel("count")
        ax.legend(fontsize="small", loc="best")
    if "trajectories" in result:
        shown = min(MAX_TRAJECTORIES, result["trajectories"].shape[0])
        axes[0].set_title(f"thin lines: {shown} of {result['trajectories'].shape[0]} runs",
                          fontsize="small")  # fmt: skip
    for k, (i, name) in enumerate(heat):
        _marginal_heatmap(fig, fig.add_subplot(grid[k, 1]), result, i, name, opts.log)
    return fig


def _draw_trajectories(ax, result, i, colour, most=MAX_TRAJECTORIES):
    if "trajectories" not in result:
        return
    paths = result["trajectories"]
    for r in range(min(most, paths.shape[0])):
        ax.plot(result.coords["time"], paths[r, :, i], color=colour, linewidth=0.6,
                alpha=0.7, drawstyle="steps-post")  # fmt: skip


def _crop_counts(marg):
    """Index range of counts that carry probability (all of it if none does)."""
    peak = np.nanmax(marg) if marg.size else 0.0
    keep = np.flatnonzero(np.nanmax(marg, axis=0) > peak * CROP) if peak > 0 else []
    if len(keep) == 0:
        return 0, marg.shape[1]
    return int(keep[0]), int(keep[-1]) + 1


def _marginal_heatmap(fig, ax, result, i, name, log):
    """P(count) over time x count, the mean drawn over it."""
    t, counts = result.coords["time"], result.coords["count"]
    marg = np.asarray(result["marginal"][:, i, :], dtype=float)
    lo, hi = _crop_counts(marg)
    shown = marg[:, lo:hi]
    norm = _colour_norm(shown, log)
    if not log:  # the initial delta would wash out the rest: saturate the top columns
        norm.vmax = float(np.quantile(np.nanmax(shown, axis=1), 0.9)) or norm.vmax
    mesh = ax.pcolormesh(t, counts[lo:hi], np.ma.masked_less_equal(shown.T, 0), norm=norm,
                         shading="nearest", cmap="magma")  # fmt: skip
    ax.plot(t, result["mean"][:, i], color="white", linewidth=0.8, label="mean")
    ax.set_ylim(counts[lo] - 0.5, counts[hi - 1] + 0.5)
    ax.set_xlabel("time")
    ax.set_ylabel(f"{name} count")
    ax.set_facecolor(mesh.cmap(0.0))
    fig.colorbar(mesh, ax=ax, label=f"P({name} = n)", extend="neither" if log else "max")


def _snapshot_figure(result, names, k, opts):
    """The law at one time (k; None for a stationary result), per species."""
    at = "stationary" if k is None else f"time = {_fmt(result.coords['time'][k])}"
    sel = (lambda a: a) if k is None else (lambda a: a[k])
    if "marginal" not in result and "trajectories" not in result:
        fig = _new_figure()
        ax = fig.add_subplot()
        idx = [i for i, _ in names]
        ax.errorbar(range(len(names)), sel(result["mean"])[idx], yerr=sel(result["sd"])[idx],
                    fmt="o", capsize=4)  # fmt: skip
        ax.set_xticks(range(len(names)), [n for _, n in names])
        ax.set_ylabel("mean ± sd")
        ax.set_title(at)
        return fig
    shown = names[:MAX_HEATMAPS]
    cols = min(3, len(shown))
    rows = -(-len(shown) // cols)
    fig = _new_figure(rows, cols)
    for j, (i, name) in enumerate(shown):
        ax = fig.add_subplot(rows, cols, j + 1)
        if "marginal" in result:
            p = np.asarray(sel(result["marginal"])[i], dtype=float)
            lo, hi = _crop_counts(p[None, :])
            ax.bar(result.coords["count"][lo:hi], p[lo:hi], width=1.0, color=f"C{j % 10}")
            ax.set_ylabel("probability")
        else:
            runs = result["trajectories"][:, k, i]
            ax.hist(runs, bins=min(50, max(5, len(np.unique(runs)))), color=f"C{j % 10}")
            ax.set_ylabel("runs")
        ax.set_xlabel(f"{name} count")
        ax.set_title(at, fontsize="small")
    return fig


def _variable_figure(result, var, names, opts):
    """Any other variable: trajectories, marginal heat maps, or lines over time."""
    dims, arr = _variable(result, var)
    if var == "trajectories":
        fig = _new_figure()
        ax = fig.add_subplot()
        for k, (i, name) in enumerate(names):
            _draw_trajectories(ax, result, i, f"C{k % 10}", most=4 * MAX_TRAJECTORIES)
            ax.plot([], [], color=f"C{k % 10}", label=name)
        ax.set(xlabel="time", ylabel="count")
        ax.legend(fontsize="small")
        return fig
    if var == "marginal" and dims == ("time", "species", "count"):
        shown = names[:MAX_HEATMAPS]
        fig = _new_figure(len(shown), 1, height=max(PANEL[1], 2.6 * len(shown)))
        for k, (i, name) in enumerate(shown):
            _marginal_heatmap(fig, fig.add_subplot(len(shown), 1, k + 1), result, i, name, opts.log)
        return fig
    return _lines_over_time(result, var, dims, arr, names, opts.log)


def _lines_over_time(result, var, dims, arr, names=None, log=False):
    if not dims or dims[0] != "time" or len(dims) > 2:
        raise SpecError(f"cannot plot {var!r} with dimensions ({', '.join(dims)})")
    t = result.coords["time"]
    fig = _new_figure()
    ax = fig.add_subplot()
    label = str(result.var_attrs.get(var, {}).get("long_name", var))
    if len(dims) == 1:
        ax.plot(t, arr, marker=".")
        ax.set_ylabel(label)
    else:
        labels = [str(s) for s in result.coords[dims[1]]]
        chosen = names if dims[1] == "species" and names else list(enumerate(labels))
        idx = [i for i, _ in chosen]
        _lines_or_heatmap(fig, ax, t, arr[:, idx], [n for _, n in chosen], label, log)
    finite = np.asarray(arr, dtype=float)[np.isfinite(arr)]
    if len(dims) == 1 and finite.size and (finite > 0).all() and finite.max() / finite.min() > 100:
        ax.set_yscale("log")
    ax.set_xlabel("time")
    return fig


def _lines_or_heatmap(fig, ax, t, values, labels, label, log):
    """A line per column over time, or a heat map when there are too many columns."""
    if len(labels) <= MAX_STATE_LINES:
        for j, name in enumerate(labels):
            ax.plot(t, values[:, j], label=name)
        ax.legend(fontsize="small", ncol=1 + len(labels) // 7)
        ax.set_ylabel(label)
        return
    mesh = ax.pcolormesh(t, np.arange(len(labels)), values.T, shading="nearest",
                         norm=_colour_norm(values, log), cmap="magma")  # fmt: skip
    fig.colorbar(mesh, ax=ax, label=label)
    ax.set_ylabel("index")


def _chain_figure(result, opts):
    """An explicit Markov chain: p(time, state), or p(state) when stationary."""
    if opts.var not in (None, "p"):
        dims, arr = _variable(result, opts.var)
        return _lines_over_time(result, opts.var, dims, arr, log=opts.log)
    labels = [str(s) for s in result.coords["state"]]
    p = np.asarray(result["p"], dtype=float)
    fig = _new_figure()
    ax = fig.add_subplot()
    if "time" not in result.coords or opts.time is not None:
        k = None if "time" not in result.coords else _nearest(result.coords["time"], opts.time)
        row = p if k is None else p[k]
        ax.bar(range(len(labels)), row, color="C0")
        ax.set_xticks(range(len(labels)), labels, rotation=45 if len(labels) > 8 else 0)
        ax.set_ylabel("probability")
        ax.set_title("stationary" if k is None else f"time = {_fmt(result.coords['time'][k])}")
        return fig
    _lines_or_heatmap(fig, ax, result.coords["time"], p, labels, "probability", opts.log)
    ax.set_xlabel("time")
    return fig


# ------------------------------------------------------------ characteristics


def _unknown_name(result) -> str:
    """The solution variable: same dims as the mask, ``long_name`` 'solution ...'."""
    if "mask" not in result.data_vars:
        raise SpecError("a characteristics result without a 'mask' variable")
    grid = result.data_vars["mask"][0]
    names = [k for k, (d, _) in result.data_vars.items() if d == grid and k != "mask"]
    for k in names:
        if str(result.var_attrs.get(k, {}).get("long_name", "")).startswith("solution"):
            return k
    if not names:
        raise SpecError("a characteristics result without a solution variable")
    return min(names, key=len)


def _evolution(result, dims):
    evo = str(result.attrs.get("evolution_variable", "none"))
    return evo if evo in dims else None


def _take(arr, dims, fixed: dict[str, int]):
    """Index ``arr`` at ``fixed`` positions; the remaining dims and array."""
    index = tuple(fixed.get(d, slice(None)) for d in dims)
    return tuple(d for d in dims if d not in fixed), np.asarray(arr[index], dtype=float)


def _pde_figure(result, opts):
    name = opts.var or _unknown_name(result)
    dims, arr = _variable(result, name)
    grid_dims = result.data_vars["mask"][0] if "mask" in result.data_vars else dims
    if name.endswith("_branches") and dims == (*grid_dims, "branch"):
        return _branches_figure(result, name, grid_dims, arr, opts)
    if dims != grid_dims:
        raise SpecError(f"{name!r} is not a variable on the grid ({', '.join(grid_dims)})")
    evo = _evolution(result, dims)
    if opts.time is not None and evo is None:
        raise SpecError("--time needs a PDE with an evolution variable")
    space = [d for d in dims if d != evo]
    if len(space) >= 2:
        return _plane_figure(result, name, dims, arr, evo, space, opts)
    if evo is not None and space:
        return _curves_figure(result, name, dims, arr, evo, space[0], opts)
    fig = _new_figure()
    ax = fig.add_subplot()
    ax.plot(result.coords[dims[0]], arr, marker=".", markersize=3)
    ax.set(xlabel=dims[0], ylabel=name)
    return fig


def _branches_figure(result, name, dims, arr, opts):
    """``--var u_branches`` (``--crossing multivalued``): in one space dimension u(x)
    with every branch; in more, an image of how many branches reach each point."""
    evo = _evolution(result, dims)
    if opts.time is not None and evo is None:
        raise SpecError("--time needs a PDE with an evolution variable")
    space = [d for d in dims if d != evo]
    base = name[: -len("_branches")]
    if len(space) == 1 and evo is not None and base in result.data_vars:
        return _curves_figure(result, base, dims, np.asarray(result[base], float), evo,
                              space[0], opts)  # fmt: skip
    count = np.isfinite(np.asarray(arr, float)).sum(axis=-1).astype(float)
    count[count == 0] = np.nan  # no ray: blank, as u is
    label = f"branches of {base}"
    if len(space) >= 2:
        return _plane_figure(result, label, dims, count, evo, space, opts)
    fig = _new_figure()
    ax = fig.add_subplot()
    ax.plot(result.coords[dims[0]], count, marker=".", markersize=3)
    ax.set(xlabel=dims[0], ylabel=label)
    return fig


def _shocks(result, evo, x):
    """(t, x) of every shock (the ``shock_<var>`` variables of ``--crossing shock``)."""
    for prefix in ("shock", "front"):
        if f"{prefix}_{evo}" in result.data_vars and f"{prefix}_{x}" in result.data_vars:
            ts, xs = result[f"{prefix}_{evo}"], result[f"{prefix}_{x}"]
            if result.data_vars[f"{prefix}_{x}"][0] == ("shock",):
                return [(float(t), float(p)) for t, p in zip(ts, xs)]
    return []


def _breaking_note(result, evo):
    t = _number_or_none(result.attrs.get("breaking_time"))
    return "" if t is None else f"breaking at {evo} = {_fmt(t)}"


def _curves_figure(result, name, dims, arr, evo, x, opts):
    """u(x) at the output times, coloured by time; shocks; rays in (x, t) when saved."""
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize

    levels = result.coords[evo]
    xs = result.coords[x]
    if opts.time is not None:
        chosen = [_nearest(levels, opts.time)]
    else:
        chosen = list(_evenly(len(levels), MAX_CURVES))
    rays = "ray" in result.data_vars
    fig = _new_figure(1, 2 if rays else 1)
    ax = fig.add_subplot(1, 2 if rays else 1, 1)
    cmap = _cmap("viridis")
    norm = Normalize(float(levels.min()), float(levels.max()) or 1.0)
    branches = f"{name}_branches" in result.data_vars
    for k in chosen:
        colour = cmap(norm(levels[k]))
        _, curve = _take(arr, dims, {evo: k})
        ax.plot(xs, curve, color=colour, linewidth=1.4)
        if branches:
            _, many = _take(result[f"{name}_branches"], (*dims, "branch"), {evo: k})
            for b in range(many.shape[-1]):
                ax.plot(xs, many[:, b], linestyle="none", marker=".", markersize=2, color=colour)
    shocks = _shocks(result, evo, x)
    picked = {float(levels[k]) for k in chosen}
    for ts, xsh in shocks:
        if any(abs(ts - lv) <= 1e-9 * max(1.0, abs(lv)) for lv in picked):
            ax.axvline(xsh, color=cmap(norm(ts)), linestyle="--", linewidth=1.0)
    if shocks:
        ax.plot([], [], color="grey", linestyle="--", label="shock")
        ax.legend(fontsize="small", loc="best")
    ax.set(xlabel=x, ylabel=name)
    ax.set_title(_breaking_note(result, evo) or "no crossing of characteristics", fontsize="small")
    fig.colorbar(ScalarMappable(norm=norm, cmap=cmap), ax=ax, label=evo)
    if rays:
        _rays_panel(fig.add_subplot(1, 2, 2), result, x, evo, shocks)
    return fig


def _cmap(name):
    import matplotlib

    return matplotlib.colormaps[name]


def _ray_column(result, name) -> int:
    """Column of ``ray(ray, step, dim)`` that holds the variable ``name``."""
    return [str(d) for d in result.coords["dim"]].index(name)


def _visible_rays(result, columns: dict[str, int]) -> np.ndarray:
    """Up to MAX_RAYS rays, evenly chosen among those that pass through the grid."""
    ray = result["ray"]
    inside = np.ones(ray.shape[:2], dtype=bool)
    for name, col in columns.items():
        axis = result.coords[name]
        with np.errstate(invalid="ignore"):
            inside &= (ray[:, :, col] >= axis.min()) & (ray[:, :, col] <= axis.max())
    seen = np.flatnonzero(inside.any(axis=1))
    return seen[_evenly(len(seen), MAX_RAYS)] if len(seen) else seen


def _rays_panel(ax, result, x, evo, shocks):
    """Characteristics in the (x, evo) plane, shocks and the breaking time marked."""
    ray = result["ray"]
    ix, it = _ray_column(result, x), _ray_column(result, evo)
    for r in _visible_rays(result, {x: ix, evo: it}):
        ax.plot(ray[r, :, ix], ray[r, :, it], color="0.35", linewidth=0.4)
    if shocks:
        ax.plot([s[1] for s in shocks], [s[0] for s in shocks], "o", color="C3",
                markersize=4, label="shock")  # fmt: skip
    t_break = _number_or_none(result.attrs.get("breaking_time"))
    levels = result.coords[evo]
    if t_break is not None and levels.min() <= t_break <= levels.max():
        ax.axhline(t_break, color="C1", linestyle=":", label=f"breaking {evo} = {_fmt(t_break)}")
    ax.set_xlim(result.coords[x].min(), result.coords[x].max())
    ax.set_ylim(levels.min(), levels.max())
    ax.set(xlabel=x, ylabel=evo)
    ax.set_title("characteristics", fontsize="small")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize="small", loc="upper right")


def _plane_figure(result, name, dims, arr, evo, space, opts):
    """An image with contours in the first two space variables; frames over time."""
    a, b = space[:2]
    rest = {d: len(result.coords[d]) // 2 for d in space[2:]}
    note = ", ".join(f"{d} = {_fmt(result.coords[d][i])}" for d, i in rest.items())
    if evo is None:
        frames = [None]
    elif opts.time is not None:
        frames = [_nearest(result.coords[evo], opts.time)]
    else:
        frames = list(_evenly(len(result.coords[evo]), MAX_FRAMES))
    images = []
    for k in frames:
        fixed = dict(rest) if k is None else {**rest, evo: k}
        kept, img = _take(arr, dims, fixed)
        images.append(img if kept.index(a) == 0 else img.T)
    norm = _colour_norm(np.stack(images), opts.log)
    if len(frames) > 1:
        fig = _new_figure(width=1.5 + 3.3 * len(frames), height=3.4)
    else:
        fig = _new_figure(width=PANEL[0], height=5.0)
    axes = []
    for j, (k, img) in enumerate(zip(frames, images)):
        ax = fig.add_subplot(1, len(frames), j + 1)
        mesh = _image(ax, result, a, b, img, norm)
        upto = None if k is None else float(result.coords[evo][k])
        if "ray" in result.data_vars:
            _projected_rays(ax, result, a, b, evo, upto)
        label = [] if k is None else [f"{evo} = {_fmt(upto)}"]
        ax.set_title(", ".join(label + ([note] if note else [])), fontsize="small")
        axes.append(ax)
    fig.colorbar(mesh, ax=axes, label=name, shrink=0.9)
    return fig


def _image(ax, result, a, b, img, norm):
    xa, yb = result.coords[a], result.coords[b]
    data = np.ma.masked_invalid(img.T)
    mesh = ax.pcolormesh(xa, yb, data, shading="nearest", norm=norm, cmap="viridis")
    if data.count() > 3 and np.ptp(data.compressed()) > 0 and min(data.shape) > 2:
        ax.contour(xa, yb, data, levels=10, colors="k", linewidths=0.5, alpha=0.7)
    ax.set(xlabel=a, ylabel=b)
    ax.set_xlim(xa.min(), xa.max())
    ax.set_ylim(yb.min(), yb.max())
    span = np.ptp(xa) / (np.ptp(yb) or 1.0)
    if 1 / 3 <= span <= 3:
        ax.set_aspect("equal")
    return mesh


def _projected_rays(ax, result, a, b, evo, upto):
    """Rays onto the (a, b) plane; only their part before ``upto`` in ``evo``."""
    ray = result["ray"]
    ia, ib = _ray_column(result, a), _ray_column(result, b)
    it = None if upto is None else _ray_column(result, evo)
    for r in _visible_rays(result, {a: ia, b: ib}):
        xa, yb = ray[r, :, ia], ray[r, :, ib]
        if it is not None:
            early = ray[r, :, it] <= upto + 1e-12
            xa, yb = xa[early], yb[early]
        ax.plot(xa, yb, color="white", linewidth=0.4, alpha=0.45)


# --------------------------------------------------------------------- sweeps


@dataclass
class Summary:
    """A scalar per sweep point and series: ``values[..., series]``."""

    values: np.ndarray
    labels: list[str]
    ylabel: str
    spread: np.ndarray | None = None


def _sweep_figure(result, opts):
    params = [p for p in str(result.attrs.get("sweep_parameters", "")).split(",") if p]
    if not params:
        raise SpecError("a sweep result without 'sweep_parameters'")
    zipped = "point" in result.coords and params[0] not in result.coords
    sweep_dims = ("point",) if zipped else tuple(params)
    summary = _sweep_summary(result, sweep_dims, opts)
    if zipped:
        return _point_figure(result, params, summary)
    if len(sweep_dims) == 1:
        return _response_figure(result, sweep_dims[0], summary)
    return _sweep_heatmaps(result, sweep_dims, summary, opts)


def _sweep_summary(result, sweep_dims, opts) -> Summary:
    """The scalar to plot per point: a statistic, a value at a time, or an RMS."""
    solver = str(result.attrs.get("sweep_solver", ""))
    default = "mean" if solver in ("ssa", "cme") else None
    name = opts.var or default or _unknown_name(result)
    dims, arr = _variable(result, name)
    n = len(sweep_dims)
    if tuple(dims[:n]) != sweep_dims:
        raise SpecError(f"{name!r} does not vary over the sweep ({', '.join(sweep_dims)})")
    inner = dims[n:]
    where = ""
    fixed = {}
    evo = "time" if "time" in inner else _evolution(result, inner)
    if evo is not None:
        fixed[evo] = _level(result.coords[evo], opts.time)
        where = f" at {evo} = {_fmt(result.coords[evo][fixed[evo]])}"
    elif opts.time is not None:
        raise SpecError(f"--time: {name!r} has no time dimension")
    rest, sliced = _take(arr, dims, fixed)
    rest = rest[n:]
    if not rest:
        return Summary(sliced[..., None], [name], name + where)
    if rest == ("species",):
        names = _pick_species(result, opts.species)
        idx = [i for i, _ in names]
        spread = None
        if name == "mean" and "sd" in result.data_vars:
            spread = _take(result["sd"], result.data_vars["sd"][0], fixed)[1][..., idx]
        return Summary(sliced[..., idx], [s for _, s in names], name + where, spread)
    if solver == "characteristics":
        axes = tuple(range(n, sliced.ndim))
        with np.errstate(all="ignore"):
            rms = np.sqrt(np.nanmean(sliced**2, axis=axes))
        return Summary(rms[..., None], [f"RMS of {name}"], f"RMS of {name}{where}")
    raise SpecError(
        f"cannot reduce {name!r} over ({', '.join(rest)}) to one number per point; "
        "choose --var among: " + ", ".join(_scalar_vars(result, sweep_dims))
    )


def _scalar_vars(result, sweep_dims):
    return [k for k, (d, _) in result.data_vars.items() if tuple(d) == tuple(sweep_dims)]


def _response_figure(result, param, summary):
    """The summary against one varied parameter, one line per series."""
    xs = np.asarray(result.coords[param], dtype=float)
    fig = _new_figure()
    ax = fig.add_subplot()
    _series_lines(ax, xs, summary)
    if _is_geometric(xs):
        ax.set_xscale("log")
    ax.set(xlabel=param, ylabel=summary.ylabel)
    return fig


def _series_lines(ax, xs, summary):
    for j, label in enumerate(summary.labels):
        y = summary.values[..., j]
        ax.plot(xs, y, marker="o", markersize=4, color=f"C{j % 10}", label=label)
        if summary.spread is not None:
            s = summary.spread[..., j]
            ax.fill_between(xs, y - s, y + s, color=f"C{j % 10}", alpha=0.2, linewidth=0)
    if len(summary.labels) > 1 or summary.spread is not None:
        ax.legend(fontsize="small", title="± sd" if summary.spread is not None else None)


def _point_figure(result, params, summary):
    """A zip / explicit-points sweep: the summary over the points, values below."""
    points = np.asarray(result.coords["point"])
    if len(params) == 1 and params[0] in result.data_vars:
        xs = np.asarray(result[params[0]], dtype=float)
        order = np.argsort(xs)
        fig = _new_figure()
        ax = fig.add_subplot()
        ordered = Summary(summary.values[order], summary.labels, summary.ylabel,
                          None if summary.spread is None else summary.spread[order])  # fmt: skip
        _series_lines(ax, xs[order], ordered)
        ax.set(xlabel=params[0], ylabel=summary.ylabel)
        return fig
    fig = _new_figure(2, 1, height=PANEL[1] * 1.4)
    top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=[2, 1])
    _series_lines(top, points, summary)
    top.set_ylabel(summary.ylabel)
    for j, p in enumerate(params):
        if p in result.data_vars:
            bottom.plot(points, result[p], marker="s", markersize=3, linestyle=":",
                        color=f"C{j % 10}", label=p)  # fmt: skip
    bottom.set(xlabel="point", ylabel="value")
    bottom.legend(fontsize="small", ncol=min(4, len(params)))
    return fig


def _sweep_heatmaps(result, sweep_dims, summary, opts):
    """The summary over the first two varied parameters; others at their middle."""
    a, b = sweep_dims[:2]
    rest = {d: len(result.coords[d]) // 2 for d in sweep_dims[2:]}
    _, values = _take(summary.values, (*sweep_dims, "series"), rest)
    note = ", ".join(f"{d} = {_fmt(result.coords[d][i])}" for d, i in rest.items())
    series = summary.labels[:MAX_HEATMAPS]
    cols = min(3, len(series))
    rows = -(-len(series) // cols)
    fig = _new_figure(rows, cols)
    xa, yb = result.coords[a], result.coords[b]
    for j, label in enumerate(series):
        ax = fig.add_subplot(rows, cols, j + 1)
        grid = values[..., j]
        mesh = ax.pcolormesh(xa, yb, np.ma.masked_invalid(grid.T), shading="nearest",
                             norm=_colour_norm(grid, opts.log), cmap="viridis")  # fmt: skip
        if grid.size <= 64:
            _annotate_cells(ax, xa, yb, grid)
        if _is_geometric(xa):
            ax.set_xscale("log")
        if _is_geometric(yb):
            ax.set_yscale("log")
        ax.set(xlabel=a, ylabel=b)
        ax.set_title(", ".join([label] + ([note] if note else [])), fontsize="small")
        fig.colorbar(mesh, ax=ax, label=summary.ylabel)
    return fig


def _annotate_cells(ax, xa, yb, grid):
    for i, x in enumerate(xa):
        for k, y in enumerate(yb):
            if np.isfinite(grid[i, k]):
                ax.text(x, y, f"{grid[i, k]:.3g}", ha="center", va="center", fontsize=7,
                        color="white", path_effects=_outline())  # fmt: skip


def _outline():
    from matplotlib import patheffects

    return [patheffects.withStroke(linewidth=1.5, foreground="black")]
