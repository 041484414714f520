"""charme's method of characteristics side by side with PyClaw and scikit-fmm in one run.

Usage::

    python benchmarks/moc_speed.py [--peer-python /work/pdevenv/bin/python] [--quick]
        [--sizes 200,400,800,1600] [--eikonal-sizes 1000,2000] [--repeat 3] [--threads 1]

The peers run through ``pde_peers.py`` in their own virtualenv (see its docstring for
the set-up), one subprocess per figure, JSON back; the exact solutions come from
``burgers_reference.py``.  Nothing here is a test: figures depend on the machine's load,
so only the ratios measured side by side in one run mean much.

Burgers (u_t + u u_x = 0, u0 = sin x, 2 pi-periodic; breaking at t = 1, x = pi)
    at t = 0.9 (``crossing="stop"``) and t = 1.5 (``crossing="shock"``), N cells.
    charme: point values at PyClaw's cell centres, scored against the exact point
    values; PyClaw (first-order Godunov ``ClawSolver1D`` and WENO5 ``SharpClawSolver1D``):
    cell averages, scored against the exact cell averages.  Errors: L1 = h sum |err| and
    max.  Times: best of ``--repeat`` of the solve alone (charme after one warm-up call,
    so Numba compilation is excluded and reported apart; PyClaw's ``claw.run()``).
Eikonal (|grad u| = 1, u = 0 on the circle r = 1/2, [-1, 1]^2, N x N nodes)
    scikit-fmm ``distance`` (orders 1 and 2, one thread: it has no other) against charme:
    one ``crossing="stop"`` solve with rays both ways (``branch: -1``), on ``--threads``
    threads and on all the machine's; and two ``crossing="viscosity"`` solves, fronts going
    out (u = r - 1/2 outside) and in (u = 1/2 - r inside, negated), together the signed
    distance scikit-fmm computes; charme's time is their sum.  Errors
    (max, mean) over the whole grid and away from the origin (r > 2h), where the distance
    is not smooth.  charme's evaluation is ``"raster"`` where charme has it, else its
    default (Newton per grid point), which is too slow for large grids: sizes above
    ``--slow-limit`` are then skipped unless ``--allow-slow``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import burgers_reference as ref  # noqa: E402

import charme  # noqa: E402
from charme.errors import SpecError  # noqa: E402
from charme.solvers.characteristics.driver import solve_pde  # noqa: E402

PI = repr(math.pi)
TWO_PI = repr(2 * math.pi)
RADIUS = 0.5


# -- charme problems -------------------------------------------------------------------------


def burgers_pde(n: int, t: float, rays: int, offset: float = 0.0):
    """Burgers from sin x, evaluated at t on PyClaw's N cell centres."""
    h = 2 * math.pi / n
    lo, hi = h * (0.5 + offset), 2 * math.pi - h * (0.5 - offset)
    text = f"""kind: pde
name: burgers_bench
variables: [t, x]
equation: u_t + u*u_x = 0
initial: {{parameters: {{s: [{-math.pi!r}, {3 * math.pi!r}, {rays}]}}, t: 0, x: s, u: sin(s)}}
grid: {{t: [{t!r}, {t!r}, 1], x: [{lo!r}, {hi!r}, {n}]}}
"""
    return charme.loads(text, fmt="yaml")


def eikonal_pde(n: int, rays: int, outward: bool | None):
    """|grad u| = 1 from the circle r = 1/2, fronts going out (or in); ``outward=None``:
    the gradient picked pointing out by ``branch: -1`` (for rays both ways)."""
    if outward is None:
        side = "branch: -1"
    else:
        sign = "" if outward else "-"
        side = f"guess: {{u_x: {sign}cos(s), u_y: {sign}sin(s)}}"
    text = f"""kind: pde
name: eikonal_bench
variables: [x, y]
equation: u_x^2 + u_y^2 = 1
initial: {{parameters: {{s: [0, {TWO_PI}, {rays}]}}, x: {RADIUS}*cos(s), y: {RADIUS}*sin(s),
  u: 0, {side}}}
grid: {{x: [-1, 1, {n}], y: [-1, 1, {n}]}}
"""
    return charme.loads(text, fmt="yaml")


def timed(fn, repeat: int):
    """(best seconds, last result) over ``repeat`` calls."""
    best, out = math.inf, None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


# -- peers -----------------------------------------------------------------------------------


def peer(python: str, args: list[str], timeout: float = 3600) -> dict:
    cmd = [python, str(HERE / "pde_peers.py"), *args]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if out.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def errors(values, exact, h) -> dict:
    err = np.abs(np.asarray(values, float) - exact)
    nan = int(np.isnan(err).sum())
    return {"l1": float(h * np.nansum(err)), "max": float(np.nanmax(err)), "nan": nan}


# -- Burgers ---------------------------------------------------------------------------------


def burgers(args, rows: list, log) -> None:
    tmp = tempfile.mkdtemp(prefix="moc_speed_")
    first_call = None
    for t in args.times:
        crossing = "stop" if t < 1 else "shock"
        for n in args.sizes:
            h = 2 * math.pi / n
            centres = ref.cell_centres(n, args.offset)
            exact_pts = ref.exact_points(centres, t)
            exact_avg = ref.exact_cell_averages(ref.cell_edges(n, args.offset), t)
            row = {"t": t, "n": n, "crossing": crossing, "offset": args.offset}
            # charme: one warm-up call (compilation / cache load), then best of repeat
            pde = burgers_pde(n, t, args.rays, args.offset)
            t0 = time.perf_counter()
            solve_pde(pde, crossing=crossing)
            warm = time.perf_counter() - t0
            first_call = warm if first_call is None else first_call
            sec, res = timed(lambda pde=pde, c=crossing: solve_pde(pde, crossing=c), args.repeat)
            x = np.asarray(res.coords["x"], float)
            assert np.abs(x - centres).max() < 1e-12, "charme's grid is not PyClaw's centres"
            u = np.asarray(res["u"], float)[0]
            row["charme"] = {"seconds": sec, "warmup_seconds": warm,
                             **errors(u, exact_pts, h)}  # fmt: skip
            if args.hermite_rays:  # the cheaper evaluation: Hermite between more rays
                hp = burgers_pde(n, t, args.hermite_rays, args.offset)
                solve_pde(hp, crossing=crossing, evaluation="hermite")
                sec_h, res_h = timed(lambda hp=hp, c=crossing: solve_pde(
                    hp, crossing=c, evaluation="hermite"), args.repeat)  # fmt: skip
                row["charme_hermite"] = {"seconds": sec_h, "rays": args.hermite_rays,
                                         **errors(np.asarray(res_h["u"], float)[0], exact_pts,
                                                  h)}  # fmt: skip
            # PyClaw, both schemes, side by side
            for scheme in ("godunov", "weno5"):
                if not args.peer_python:
                    continue
                try:
                    r = peer(args.peer_python, ["pyclaw", "--t", repr(t), "--n", str(n),
                                                "--scheme", scheme, "--repeat", str(args.repeat),
                                                "--offset", repr(args.offset), "--out", tmp])  # fmt: skip
                except Exception as exc:  # noqa: BLE001  (report and go on)
                    log(f"  PyClaw {scheme} N={n} t={t}: {exc}")
                    continue
                q = np.load(r["q_npy"])
                xc = np.load(r["x_npy"])
                assert np.abs(xc - centres).max() < 1e-12
                row[scheme] = {"seconds": r["seconds"], "total_seconds": r["total_seconds"],
                               "steps": r["steps"], "version": r["version"],
                               **errors(q, exact_avg, h),
                               "point_errors": errors(q, exact_pts, h)}  # fmt: skip
            rows.append(row)
            c = row["charme"]
            if "charme_hermite" in row:
                ch = row["charme_hermite"]
                log(f"  t={t} N={n}: charme hermite {ch['seconds']:.4f}s L1 {ch['l1']:.2e}")
            log(f"  t={t} N={n}: charme {c['seconds']:.4f}s L1 {c['l1']:.2e} max {c['max']:.2e}"
                + "".join(f"; {s} {row[s]['seconds']:.4f}s L1 {row[s]['l1']:.2e}"
                          for s in ("godunov", "weno5") if s in row))  # fmt: skip
    rows.append({"first_call_seconds": first_call})


def burgers_tables(rows: list) -> list[str]:
    out = []
    first = next((r["first_call_seconds"] for r in rows if "first_call_seconds" in r), None)
    for t in sorted({r["t"] for r in rows if "t" in r}):
        sel = [r for r in rows if r.get("t") == t]
        phase = "before breaking" if t < 1 else "after breaking"
        out += [f"### Burgers, t = {t:g} ({phase}; charme `crossing={sel[0]['crossing']}`)", ""]
        out += ["Errors: charme's point values vs exact point values at the cell centres; "
                "PyClaw's cell averages vs exact cell averages.", ""]  # fmt: skip
        out += ["| N | charme L1 | charme max | Godunov L1 | Godunov max | WENO5 L1 | WENO5 max |",
                "|---|---|---|---|---|---|---|"]  # fmt: skip
        for r in sel:
            cells = [f"{r['n']}", f"{r['charme']['l1']:.2e}", f"{r['charme']['max']:.2e}"]
            for s in ("godunov", "weno5"):
                cells += [f"{r[s]['l1']:.2e}", f"{r[s]['max']:.2e}"] if s in r else ["-", "-"]
            if r["charme"]["nan"]:
                cells[1] += f" ({r['charme']['nan']} NaN)"
            out.append("| " + " | ".join(cells) + " |")
        out += ["", "Seconds (best of the repeats); PyClaw's `claw.run()` alone, then with its "
                "set-up (controller, grid, data) in brackets.", "",
                "| N | charme s | Godunov s (steps) | WENO5 s (steps) | charme / Godunov | "
                "charme / WENO5 |", "|---|---|---|---|---|---|"]  # fmt: skip
        for r in sel:
            c = r["charme"]["seconds"]
            cells = [f"{r['n']}", f"{c:.4f}"]
            for s in ("godunov", "weno5"):
                cells.append(f"{r[s]['seconds']:.4f} [{r[s]['total_seconds']:.4f}] "
                             f"({r[s]['steps']})" if s in r else "-")  # fmt: skip
            for s in ("godunov", "weno5"):
                cells.append(f"{c / r[s]['seconds']:.1f}x" if s in r else "-")
            out.append("| " + " | ".join(cells) + " |")
        out.append("")
        # targets
        if any("charme_hermite" in r for r in sel):
            rays = next(r["charme_hermite"]["rays"] for r in sel if "charme_hermite" in r)
            out += [f"charme with `--evaluation hermite` ({rays} rays; fourth order in their "
                    "spacing, no ray integrated again):", "",
                    "| N | L1 | max | seconds | / Godunov | / WENO5 |", "|---|---|---|---|---|---|"]  # fmt: skip
            for r in sel:
                ch = r.get("charme_hermite")
                if ch:
                    ratios = [f"{ch['seconds'] / r[s]['seconds']:.2f}x" if s in r else "-"
                              for s in ("godunov", "weno5")]  # fmt: skip
                    out.append(f"| {r['n']} | {ch['l1']:.2e} | {ch['max']:.2e} | "
                               f"{ch['seconds']:.4f} | {ratios[0]} | {ratios[1]} |")  # fmt: skip
            out.append("")
        for r in sel:
            c = r["charme"]
            if t < 1 and "godunov" in r:
                ok = c["max"] < 1e-13 and c["seconds"] <= 2 * r["godunov"]["seconds"]
                out.append(f"- N={r['n']}: machine precision (max {c['max']:.1e} < 1e-13) at "
                           f"<= 2x Godunov's time ({c['seconds'] / r['godunov']['seconds']:.1f}x): "
                           f"**{'met' if ok else 'NOT met'}**")  # fmt: skip
            if t > 1 and "weno5" in r:
                w = r["weno5"]
                ok = c["l1"] < w["l1"] and c["seconds"] <= 0.1 * w["seconds"]
                out.append(f"- N={r['n']}: L1 below WENO5's ({c['l1']:.1e} vs {w['l1']:.1e}) at "
                           f"<= 1/10 of its time ({c['seconds'] / w['seconds']:.2f}x): "
                           f"**{'met' if ok else 'NOT met'}**")  # fmt: skip
        with_weno = [r for r in sel if "weno5" in r]
        if t > 1 and with_weno:  # across grids: charme's smallest N against WENO5's largest
            lo, hi = with_weno[0], with_weno[-1]
            c, w = lo["charme"], hi["weno5"]
            out.append(f"- Across grids: charme at N={lo['n']} (L1 {c['l1']:.1e}, "
                       f"{c['seconds']:.4f} s) against WENO5 at N={hi['n']} (L1 {w['l1']:.1e}, "
                       f"{w['seconds']:.4f} s): {c['seconds'] / w['seconds']:.2f}x the time "
                       f"for {w['l1'] / max(c['l1'], 1e-300):.0e} times smaller L1")  # fmt: skip
        out.append("")
    if first is not None:
        out += [f"charme's first Burgers call in this process (Numba cache load included): "
                f"{first:.2f} s.", ""]  # fmt: skip
    cold = next((r["cold_compile"] for r in rows if "cold_compile" in r), None)
    if cold and "error" not in cold:
        out += ["Compilation (fresh process, empty Numba cache, N = 200): first call / second "
                "call " + ", ".join(f"`{k}` {a:.1f} s / {b:.3f} s" for k, (a, b) in cold.items())
                + ".", ""]  # fmt: skip
    return out


def cold_compile(args) -> dict:
    """Seconds of charme's first Burgers solves in a fresh process with an empty Numba cache."""
    code = (
        "import sys, time; sys.path.insert(0, HERE)\n"
        "import moc_speed as m\n"
        "from charme.solvers.characteristics.driver import solve_pde\n"
        "out = {}\n"
        "for t, c in ((0.9, 'stop'), (1.5, 'shock')):\n"
        "    p = m.burgers_pde(200, t, RAYS)\n"
        "    t0 = time.perf_counter(); solve_pde(p, crossing=c); t1 = time.perf_counter()\n"
        "    solve_pde(p, crossing=c); t2 = time.perf_counter()\n"
        "    out[c] = [t1 - t0, t2 - t1]\n"
        "print(out)\n"
    )
    code = code.replace("HERE", repr(str(HERE))).replace("RAYS", str(args.rays))
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache, NUMBA_NUM_THREADS=str(args.threads))
        r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                           timeout=3600)  # fmt: skip
    if r.returncode:
        return {"error": r.stderr[-500:]}
    import ast

    return ast.literal_eval(r.stdout.strip().splitlines()[-1])


# -- eikonal ---------------------------------------------------------------------------------


def charme_eikonal(n: int, rays: int, evaluation: str | None):
    """Signed distance to the circle from two charme solves (out, in); (d, per-solve kw)."""
    kw = {"crossing": "viscosity"}
    if evaluation:
        kw["evaluation"] = evaluation
    out = solve_pde(eikonal_pde(n, rays, True), **kw)
    inn = solve_pde(eikonal_pde(n, rays, False), **kw)
    ax = np.asarray(out.coords["x"], float)
    X, Y = np.meshgrid(ax, ax, indexing="ij")
    r = np.hypot(X, Y)
    d = np.where(r >= RADIUS, np.asarray(out["u"], float), -np.asarray(inn["u"], float))
    return d


def charme_signed_distance(n: int, rays: int):
    """The signed distance from one charme solve: rays both ways from the circle
    (``branch: -1``, the gradient pointing out), ``crossing="stop"`` (each node from the
    nearest ray before the rays cross), raster evaluation."""
    res = solve_pde(eikonal_pde(n, rays, None), crossing="stop", evaluation="raster")
    return np.asarray(res["u"], float)


def pick_evaluation(rays: int, log) -> str | None:
    """``"raster"`` if charme accepts it for the eikonal (tried on a small grid), else None."""
    try:
        charme_eikonal(21, rays, "raster")
        return "raster"
    except SpecError as exc:
        log(f"  charme has no raster evaluation for this problem ({exc}); using the default")
        return None


def eikonal_errors(d, n) -> dict:
    ax = np.linspace(-1.0, 1.0, n)
    h = ax[1] - ax[0]
    X, Y = np.meshgrid(ax, ax, indexing="ij")
    r = np.hypot(X, Y)
    err = np.abs(d - (r - RADIUS))
    away = r > 2 * h
    return {"max": float(np.nanmax(err)), "mean": float(np.nanmean(err)),
            "max_away": float(np.nanmax(err[away])), "mean_away": float(np.nanmean(err[away])),
            "nan": int(np.isnan(err).sum())}  # fmt: skip


def eikonal(args, rows: list, log) -> None:
    import numba

    evaluation = pick_evaluation(args.eikonal_rays, log)
    t0 = time.perf_counter()
    charme_eikonal(21, args.eikonal_rays, evaluation)  # warm-up (compiled already above)
    log(f"  charme eikonal evaluation: {evaluation or 'default (newton)'}; small warm-up "
        f"{time.perf_counter() - t0:.2f}s")  # fmt: skip
    for n in args.eikonal_sizes:
        row = {"n": n, "evaluation": evaluation or "newton"}
        for order in (1, 2):
            if args.peer_python:
                try:
                    row[f"skfmm{order}"] = peer(args.peer_python, ["skfmm", "--n", str(n),
                                                "--order", str(order), "--repeat", str(args.repeat)])  # fmt: skip
                except Exception as exc:  # noqa: BLE001
                    log(f"  scikit-fmm order {order} N={n}: {exc}")
        if evaluation is None and n > args.slow_limit and not args.allow_slow:
            row["charme"] = {"skipped": f"default evaluator too slow at N={n}"}
            log(f"  eikonal N={n}: charme skipped (no raster evaluation; --allow-slow to force)")
        elif evaluation == "raster":  # one solve both ways; and the two first-arrival solves
            charme_signed_distance(21, args.eikonal_rays)  # warm-up
            sec, d = timed(lambda n=n: charme_signed_distance(n, args.eikonal_rays), args.repeat)
            row["charme"] = {"seconds": sec, **eikonal_errors(d, n)}
            sec, d = timed(lambda n=n: charme_eikonal(n, args.eikonal_rays, evaluation),
                           args.repeat)  # fmt: skip
            row["charme_two"] = {"seconds": sec, **eikonal_errors(d, n)}
            threads, every = numba.get_num_threads(), numba.config.NUMBA_NUM_THREADS
            if every > threads:  # the one solve again on all the machine's threads
                numba.set_num_threads(every)
                try:
                    sec, d = timed(lambda n=n: charme_signed_distance(n, args.eikonal_rays),
                                   args.repeat)  # fmt: skip
                finally:
                    numba.set_num_threads(threads)
                row["charme_all"] = {"seconds": sec, "threads": every, **eikonal_errors(d, n)}
        else:
            sec, d = timed(lambda n=n: charme_eikonal(n, args.eikonal_rays, evaluation), 1)
            row["charme"] = {"seconds": sec, **eikonal_errors(d, n)}
        rows.append(row)
        log(f"  eikonal N={n}: " + "; ".join(
            f"{k} {v['seconds']:.3f}s max {v.get('max', v.get('max_err', math.nan)):.2e}"
            for k, v in row.items() if isinstance(v, dict) and "seconds" in v))  # fmt: skip


def eikonal_tables(rows: list, rays: int) -> list[str]:
    if not rows:
        return []
    out = [f"### Eikonal: signed distance to the circle r = 1/2 on [-1, 1]^2 (charme: "
           f"{rays} rays, evaluation `{rows[0]['evaluation']}`; one `crossing=stop` solve with "
           "rays both ways, and two `crossing=viscosity` solves, out and in)", "",
           "| N | solver | seconds | max err | mean err | max err (r > 2h) | mean err (r > 2h) |",
           "|---|---|---|---|---|---|---|"]  # fmt: skip
    for r in rows:
        all_name = f"charme, one solve, {r.get('charme_all', {}).get('threads')} threads"
        for key, name in (("charme", "charme, one solve"), ("charme_all", all_name),
                          ("charme_two", "charme, two solves"), ("skfmm1", "scikit-fmm order 1"),
                          ("skfmm2", "scikit-fmm order 2")):  # fmt: skip
            v = r.get(key)
            if v is None:
                continue
            if "skipped" in v:
                out.append(f"| {r['n']} | {name} | skipped: {v['skipped']} | | | | |")
                continue
            mx = v.get("max", v.get("max_err"))
            mean = v.get("mean", v.get("mean_err"))
            mxa = v.get("max_away", v.get("max_err_away"))
            mna = v.get("mean_away", v.get("mean_err_away"))
            nan = f" ({v['nan']} NaN)" if v.get("nan") else ""
            out.append(f"| {r['n']} | {name} | {v['seconds']:.3f} | {mx:.2e}{nan} | {mean:.2e} | "
                       f"{mxa:.2e} | {mna:.2e} |")  # fmt: skip
    out.append("")
    for r in rows:
        for key in ("charme", "charme_all"):
            c, f = r.get(key, {}), r.get("skfmm2")
            if "seconds" not in c or f is None:
                continue
            ratio_err = f["mean_err_away"] / max(c["mean_away"], 1e-300)
            ratio_max = f["max_err_away"] / max(c["max_away"], 1e-300)
            ratio_t = c["seconds"] / f["seconds"]
            ok = min(ratio_err, ratio_max) >= 100 and ratio_t <= 1.0
            who = f"charme on {c['threads']} threads" if key == "charme_all" else "charme"
            out.append(f"- N={r['n']}, {who}: error >= 100x below scikit-fmm order 2 (r > 2h: "
                       f"mean {ratio_err:.1e}x, max {ratio_max:.1e}x) at no more time "
                       f"({ratio_t:.2f}x): **{'met' if ok else 'NOT met'}**")  # fmt: skip
    # across grids: each charme run against the cheapest scikit-fmm run that took as long
    fmm = [(r["n"], r["skfmm2"]) for r in rows if "seconds" in r.get("skfmm2", {})]
    for r in rows:
        c = r.get("charme", {})
        later = [(n, f) for n, f in fmm if f["seconds"] >= c.get("seconds", float("inf"))]
        if "seconds" in c and later:
            n, f = min(later, key=lambda nf: nf[1]["seconds"])
            out.append(f"- Across grids at equal time: charme at N={r['n']} ({c['seconds']:.3f} s, "
                       f"max {c['max_away']:.1e}) against scikit-fmm order 2 at N={n} "
                       f"({f['seconds']:.3f} s, max {f['max_err_away']:.1e}): "
                       f"{f['max_err_away'] / max(c['max_away'], 1e-300):.0e} times smaller error")  # fmt: skip
    out.append("")
    return out


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--peer-python", default="/work/pdevenv/bin/python")
    ap.add_argument("--sizes", default="200,400,800,1600", help="Burgers cell counts")
    ap.add_argument("--times", default="0.9,1.5", help="Burgers output times")
    ap.add_argument("--eikonal-sizes", default="1000,2000", help="eikonal nodes per side")
    ap.add_argument("--rays", type=int, default=101, help="charme's rays for Burgers")
    ap.add_argument("--hermite-rays", type=int, default=401,
                    help="rays for charme's --evaluation hermite column (0: skip it)")  # fmt: skip
    ap.add_argument("--offset", type=float, default=0.0,
                    help="shift the Burgers cells by this many (0.25: the shock inside a cell)")  # fmt: skip
    ap.add_argument("--eikonal-rays", type=int, default=721)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1, help="charme's Numba threads")
    ap.add_argument("--quick", action="store_true",
                    help="sizes 200,400 and eikonal 100,200, 2 repeats")  # fmt: skip
    ap.add_argument("--skip", default="", help="burgers and/or eikonal")
    ap.add_argument("--slow-limit", type=int, default=300,
                    help="largest eikonal N for charme's slow default evaluator")  # fmt: skip
    ap.add_argument("--allow-slow", action="store_true")
    ap.add_argument("--no-cold", action="store_true", help="skip the empty-cache compile timing")
    ap.add_argument("--json", default=None, help="write every figure here")
    args = ap.parse_args(argv)
    if args.quick:
        args.sizes, args.eikonal_sizes, args.repeat = "200,400", "100,200", 2
    args.sizes = [int(v) for v in args.sizes.split(",") if v]
    args.times = [float(v) for v in args.times.split(",") if v]
    args.eikonal_sizes = [int(v) for v in args.eikonal_sizes.split(",") if v]
    if args.peer_python and not os.path.exists(args.peer_python):
        print(f"no peer python at {args.peer_python}: charme only", file=sys.stderr)
        args.peer_python = None

    import numba

    numba.set_num_threads(min(args.threads, numba.config.NUMBA_NUM_THREADS))

    def log(msg):
        print(msg, file=sys.stderr, flush=True)

    b_rows, e_rows = [], []
    if "burgers" not in args.skip:
        log("Burgers ...")
        burgers(args, b_rows, log)
        if not args.no_cold:
            log("  compile time with an empty Numba cache ...")
            b_rows.append({"cold_compile": cold_compile(args)})
    if "eikonal" not in args.skip:
        log("eikonal ...")
        eikonal(args, e_rows, log)
    peers = next((r["godunov"]["version"] for r in b_rows if "godunov" in r), "-")
    fmm = next((r["skfmm2"]["version"] for r in e_rows if "skfmm2" in r), "-")
    lines = [f"## Method of characteristics vs PyClaw and scikit-fmm ({time.strftime('%Y-%m-%d')})",
             "", f"charme {charme.__version__}, numba {numba.__version__}, "
             f"{numba.get_num_threads()} charme thread(s); Clawpack {peers}, scikit-fmm {fmm}; "
             f"best of {args.repeat}; Burgers with {args.rays} charme rays, cells shifted by "
             f"{args.offset:g} cell.", ""]  # fmt: skip
    lines += burgers_tables(b_rows)
    lines += eikonal_tables(e_rows, args.eikonal_rays)
    print("\n".join(lines))
    if args.json:
        Path(args.json).write_text(json.dumps({"burgers": b_rows, "eikonal": e_rows}, indent=1))


if __name__ == "__main__":
    main()
