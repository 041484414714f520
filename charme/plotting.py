"""Figures of charme results (matplotlib, Agg; imported only when a figure is made).

:func:`figure_for` picks the figure from the result's kind:

- ``ssa``/``cme``: mean +- sd bands over time per species, a few saved
  trajectories, and for ``cme`` the marginal distributions as time x count
  heat maps;
- ``characteristics``: u(x) curves at the output times (1-D), with shocks
  and the breaking time marked and rays when saved; images for 2-D grids;
- ``sweep``: a response curve (one varied parameter) or a heat map (two) of
  a scalar summary.
"""

from __future__ import annotations

import ast

import numpy as np

from charme.errors import SpecError

MAX_TRAJECTORIES = 5


def _figure(width=7.0, height=4.5):
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def figure_for(result, *, var=None, species=None, time=None, title=None):
    """A :class:`matplotlib.figure.Figure` of ``result`` (a :class:`charme.Result`)."""
    if result.kind in ("ssa", "cme"):
        fig = _stochastic(result, species)
    elif result.kind == "characteristics":
        fig = _characteristics(result, var, time)
    elif result.kind == "sweep":
        fig = _sweep(result, var, species)
    else:
        raise SpecError(f"no figure for results of kind {result.kind!r}")
    if title or result.attrs.get("title"):
        fig.suptitle(title or str(result.attrs["title"]))
    return fig


def _species(result, species):
    names = [str(s) for s in result.coords["species"]]
    if not species:
        return list(range(len(names))), names
    wanted = [s.strip() for s in species.split(",") if s.strip()]
    unknown = [s for s in wanted if s not in names]
    if unknown:
        raise SpecError(f"--species: {unknown[0]!r} is not in this result ({', '.join(names)})")
    return [names.index(s) for s in wanted], names


def _stochastic(result, species):
    idx, names = _species(result, species)
    t = result.coords["time"]
    has_marg = "marginal" in result.data_vars
    fig = _figure(11 if has_marg else 7, 4.5)
    axes = fig.subplots(1, 2) if has_marg else [fig.subplots()]
    ax = axes[0]
    mean, sd = result["mean"], result["sd"]
    for k in idx:
        line = ax.plot(t, mean[:, k], label=names[k])[0]
        ax.fill_between(t, mean[:, k] - sd[:, k], mean[:, k] + sd[:, k], alpha=0.2,
                        color=line.get_color(), lw=0)  # fmt: skip
        if "trajectories" in result.data_vars:
            paths = result["trajectories"]
            for r in range(min(MAX_TRAJECTORIES, paths.shape[0])):
                ax.plot(t, paths[r, :, k], color=line.get_color(), lw=0.6, alpha=0.6,
                        drawstyle="steps-post")  # fmt: skip
    ax.set_xlabel("time")
    ax.set_ylabel("count (mean ± sd)")
    ax.legend(loc="best", fontsize="small")
    if has_marg:
        k = idx[0]
        marg = result["marginal"][:, k, :]
        counts = result.coords["count"]
        with np.errstate(divide="ignore"):
            img = np.log10(np.where(marg > 0, marg, np.nan))
        mesh = axes[1].pcolormesh(t, counts, img.T, shading="nearest", cmap="viridis",
                                  vmin=max(np.nanmin(img), -8) if np.isfinite(img).any() else -8)  # fmt: skip
        axes[1].set_xlabel("time")
        axes[1].set_ylabel(f"{names[k]} count")
        axes[1].set_title(f"log10 P({names[k]} = n)", fontsize="medium")
        fig.colorbar(mesh, ax=axes[1])
    return fig


def _grid_dims(result, name):
    dims = result.data_vars[name][0]
    return dims, [result.coords[d] for d in dims]


def _characteristics(result, var, time):
    name = var or _unknown(result)
    if name not in result.data_vars:
        raise SpecError(f"--var: no variable {name!r} (have {', '.join(result.data_vars)})")
    dims, axes = _grid_dims(result, name)
    u = result[name]
    evo = result.attrs.get("evolution_variable", "none")
    fig = _figure()
    if len(dims) == 2 and evo in dims:
        e = dims.index(evo)
        o = 1 - e
        if "ray" in result.data_vars:
            fig = _figure(11, 4.5)
            ax, ray_ax = fig.subplots(1, 2, width_ratios=[3, 2])
            _rays_1d(ray_ax, result, dims, o)
        else:
            ax = fig.subplots()
        levels = axes[e]
        import matplotlib

        cmap = matplotlib.colormaps["viridis"]
        for i, tv in enumerate(levels):
            row = u[i] if e == 0 else u[:, i]
            ax.plot(axes[o], row, color=cmap(i / max(len(levels) - 1, 1)),
                    label=f"{evo} = {tv:.3g}")  # fmt: skip
        shocks = _shocks(result)
        for k, (_, x_s) in enumerate(shocks):
            ax.axvline(x_s, color="r", lw=0.6, ls=":", label="shock" if k == 0 else None)
        ax.set_xlabel(dims[o])
        ax.set_ylabel(name)
        bt = result.attrs.get("breaking_time", "none")
        ax.set_title(f"breaking time {bt if isinstance(bt, str) else f'{bt:.6g}'}",
                     fontsize="medium")  # fmt: skip
        if len(levels) <= 10:
            ax.legend(fontsize="small")
        return fig
    if len(dims) == 2:
        ax = fig.subplots()
        _image(fig, ax, axes[0], axes[1], u, dims, name)
        return fig
    if len(dims) == 3 and evo in dims:
        e = dims.index(evo)
        picks = _pick_levels(len(axes[e]), time, axes[e])
        panels = fig.subplots(1, len(picks), squeeze=False)[0]
        others = [i for i in range(3) if i != e]
        for ax, i in zip(panels, picks):
            sl = [slice(None)] * 3
            sl[e] = i
            _image(fig, ax, axes[others[0]], axes[others[1]], u[tuple(sl)],
                   [dims[j] for j in others], f"{name}, {evo} = {axes[e][i]:.3g}")  # fmt: skip
        return fig
    raise SpecError(f"no figure for a {len(dims)}-D grid yet: use 'charme info' or xarray")


def _unknown(result):
    """The PDE's unknown: the variable described as the solution."""
    for name in result.data_vars:
        if str(result.var_attrs.get(name, {}).get("long_name", "")).startswith("solution"):
            return name
    return next(iter(result.data_vars))


def _pick_levels(n, time, values):
    if time is not None:
        return [int(np.argmin(np.abs(np.asarray(values) - time)))]
    return sorted(set(np.linspace(0, n - 1, min(n, 3)).round().astype(int).tolist()))


def _image(fig, ax, xs, ys, field, dims, label):
    mesh = ax.pcolormesh(xs, ys, np.asarray(field).T, shading="nearest", cmap="viridis")
    finite = np.isfinite(field)
    if finite.sum() > 4 and np.nanmax(field) > np.nanmin(field):
        ax.contour(xs, ys, np.asarray(field).T, levels=10, colors="w", linewidths=0.4)
    ax.set_xlabel(dims[0])
    ax.set_ylabel(dims[1])
    ax.set_aspect("equal", adjustable="box")
    ax.set_title(label, fontsize="medium")
    fig.colorbar(mesh, ax=ax, shrink=0.8)


def _shocks(result):
    text = result.attrs.get("shock_positions")
    if not text or text == "none":
        return []
    try:
        return [(float(t), float(x)) for t, x in ast.literal_eval(str(text))]
    except (ValueError, SyntaxError, TypeError):
        return []


def _rays_1d(ax, result, dims, o):
    """The traced characteristics in the (x, t) plane, with the shocks."""
    rays = result["ray"]
    step = max(1, rays.shape[0] // 80)
    for r in range(0, rays.shape[0], step):
        ax.plot(rays[r, :, o], rays[r, :, 1 - o], color="0.35", lw=0.3)
    shocks = _shocks(result)
    if shocks:
        ax.plot([x for _, x in shocks], [t for t, _ in shocks], "r.", ms=4, label="shock")
        ax.legend(fontsize="small", loc="upper right")
    ax.set_xlim(float(np.min(result.coords[dims[o]])), float(np.max(result.coords[dims[o]])))
    ax.set_ylim(0, float(np.max(result.coords[dims[1 - o]])))
    ax.set_xlabel(dims[o])
    ax.set_ylabel(dims[1 - o])
    ax.set_title("characteristics", fontsize="medium")


def _sweep(result, var, species):
    names = [n for n in str(result.attrs.get("sweep_parameters", "")).split(",") if n]
    solver = result.attrs.get("sweep_solver", "")
    if solver in ("ssa", "cme"):
        idx, sp = _species(result, species)
        mean = result["mean"]
        summary = mean[..., -1, :]  # (sweep dims..., species): mean at the final time
        label = [f"mean {sp[k]} at t = {result.coords['time'][-1]:g}" for k in idx]
        series = [summary[..., k] for k in idx]
    else:
        name = var or _unknown(result)
        u = result[name]
        nd = len(names) if "point" not in result.data_vars[name][0] else 1
        flat = u.reshape(u.shape[:nd] + (-1,))
        series = [np.sqrt(np.nanmean(flat**2, axis=-1))]
        label = [f"rms {name} over the grid"]
    fig = _figure()
    ax = fig.subplots()
    if "point" in result.coords:
        x = result.coords["point"]
        for s, lab in zip(series, label):
            ax.plot(x, s, "o-", label=lab)
        ax.set_xlabel("point (" + ", ".join(names) + ")")
        ax.legend(fontsize="small")
        return fig
    if len(names) == 1:
        for s, lab in zip(series, label):
            ax.plot(result.coords[names[0]], s, "o-", label=lab)
        ax.set_xlabel(names[0])
        ax.legend(fontsize="small")
        return fig
    if len(names) == 2:
        _image(fig, ax, result.coords[names[0]], result.coords[names[1]], series[0], names,
               label[0])  # fmt: skip
        ax.set_aspect("auto")
        return fig
    raise SpecError("sweeps over more than two parameters: plot a slice from xarray")
