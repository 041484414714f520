"""Peer PDE solvers for ``moc_speed.py``: PyClaw (Burgers) and scikit-fmm (eikonal).

This script is NOT part of charme and charme never depends on what it imports.  It
runs in a throwaway virtualenv that holds the peers::

    apt-get install -y gfortran            # clawpack builds its Fortran kernels
    python3.11 -m venv /work/pdevenv
    /work/pdevenv/bin/pip install numpy clawpack scikit-fmm
    /work/pdevenv/bin/python benchmarks/pde_peers.py pyclaw --t 1.5 --n 400 --scheme weno5
    /work/pdevenv/bin/python benchmarks/pde_peers.py skfmm --n 1000 --order 2 --repeat 3

Each run prints ONE JSON object on stdout (numbers as lists; with ``--out DIR`` the
arrays go to ``.npy`` files there instead and the JSON names them).

``pyclaw``  inviscid Burgers u_t + (u^2/2)_x = 0 on [0, 2 pi] periodic, N cells, data
            the exact cell averages of sin x, output at t = T.  ``godunov``:
            ``ClawSolver1D`` with ``order = 1`` (first-order Godunov, no limiter),
            ``weno5``: ``SharpClawSolver1D`` (WENO5, ``SSP104``: PyClaw's defaults).
            Riemann solver ``riemann.burgers_1D`` (Fortran) with its entropy fix.
            ``seconds``: best over ``--repeat`` of ``claw.run()`` alone (controller built
            anew, untimed, before each); ``total_seconds``: the best of setup + run.
``skfmm``   ``skfmm.distance(phi, dx=h, order=...)`` for phi = sqrt(x^2+y^2) - 0.5 on
            [-1, 1]^2 with N x N nodes; errors against the exact signed distance, over
            the whole grid and away from the origin (r > 2h), where it is not smooth.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def _arrays(out_dir, tag, **arrays):
    """The arrays as lists, or saved to ``out_dir`` (then their paths)."""
    import numpy as np

    if not out_dir:
        return {k: np.asarray(v).tolist() for k, v in arrays.items()}
    os.makedirs(out_dir, exist_ok=True)
    paths = {}
    for k, v in arrays.items():
        path = os.path.join(out_dir, f"{tag}_{k}.npy")
        np.save(path, np.asarray(v))
        paths[k + "_npy"] = path
    return paths


def run_pyclaw(args) -> dict:
    import tempfile

    import burgers_reference as ref

    # PyClaw writes pyclaw.log into the working directory on import: keep it out of the tree
    if args.out:
        args.out = os.path.abspath(args.out)
    os.chdir(tempfile.gettempdir())
    import numpy as np
    from clawpack import pyclaw, riemann

    n, t_end = args.n, args.t

    def build():
        if args.scheme == "godunov":
            solver = pyclaw.ClawSolver1D(riemann.burgers_1D)
            solver.order = 1
            solver.limiters = pyclaw.limiters.tvd.minmod  # unused at order 1
            solver.cfl_desired, solver.cfl_max = args.cfl or 0.8, 1.0
        else:
            solver = pyclaw.SharpClawSolver1D(riemann.burgers_1D)
            solver.weno_order = 5
            solver.time_integrator = "SSP104"
            if args.cfl:  # else PyClaw's defaults for SSP104 (2.45 desired, 2.5 max)
                solver.cfl_desired, solver.cfl_max = args.cfl, args.cfl * 1.02
        solver.kernel_language = "Fortran"
        solver.bc_lower[0] = pyclaw.BC.periodic
        solver.bc_upper[0] = pyclaw.BC.periodic
        shift = args.offset * 2 * np.pi / n
        x = pyclaw.Dimension(shift, 2 * np.pi + shift, n, name="x")
        domain = pyclaw.Domain(x)
        state = pyclaw.State(domain, 1)
        edges = x.nodes
        state.q[0, :] = ref.initial_cell_averages(edges)
        state.problem_data["efix"] = True
        claw = pyclaw.Controller()
        claw.tfinal = t_end
        claw.num_output_times = 1
        claw.solution = pyclaw.Solution(state, domain)
        claw.solver = solver
        claw.output_format = None
        claw.keep_copy = True
        claw.verbosity = 0
        solver.dt_initial = 0.5 * (2 * np.pi / n)  # |u| <= 1: a CFL-safe first step
        return claw, state

    best_run = best_total = np.inf
    steps = None
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        claw, state = build()
        t1 = time.perf_counter()
        status = claw.run()
        t2 = time.perf_counter()
        best_run = min(best_run, t2 - t1)
        best_total = min(best_total, t2 - t0)
        steps = status.get("numsteps") if isinstance(status, dict) else None
    frame = claw.frames[-1]
    q = np.asarray(frame.state.q[0, :], float)
    centres = np.asarray(frame.state.grid.x.centers, float)
    from clawpack import __version__ as claw_version

    result = {
        "tool": "pyclaw",
        "scheme": args.scheme,
        "n": n,
        "offset": args.offset,
        "t": float(frame.t),
        "seconds": best_run,
        "total_seconds": best_total,
        "steps": steps,
        "cfl_desired": claw.solver.cfl_desired,
        "time_integrator": getattr(claw.solver, "time_integrator", "classic"),
        "version": claw_version,
    }
    result.update(
        _arrays(args.out, f"pyclaw_{args.scheme}_{n}_{t_end:g}_{args.offset:g}", x=centres, q=q)
    )
    return result


def run_skfmm(args) -> dict:
    import numpy as np
    import skfmm

    n, radius = args.n, 0.5
    ax = np.linspace(-1.0, 1.0, n)
    h = float(ax[1] - ax[0])  # skfmm wants a Python float (np.float64 fails its type check)
    X, Y = np.meshgrid(ax, ax, indexing="ij")
    r = np.hypot(X, Y)
    phi = r - radius
    best = np.inf
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        d = skfmm.distance(phi, dx=h, order=args.order)
        best = min(best, time.perf_counter() - t0)
    err = np.abs(np.asarray(d) - (r - radius))
    away = r > 2 * h
    return {
        "tool": "scikit-fmm",
        "n": n,
        "order": args.order,
        "h": h,
        "seconds": best,
        "max_err": float(err.max()),
        "mean_err": float(err.mean()),
        "max_err_away": float(err[away].max()),
        "mean_err_away": float(err[away].mean()),
        "version": getattr(skfmm, "__version__", "?"),
    }


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="tool", required=True)
    p = sub.add_parser("pyclaw")
    p.add_argument("--t", type=float, required=True)
    p.add_argument("--n", type=int, required=True)
    p.add_argument("--scheme", choices=("godunov", "weno5"), required=True)
    p.add_argument("--offset", type=float, default=0.0, help="shift the cells by this many")
    p.add_argument("--cfl", type=float, default=None, help="cfl_desired (default: see doc)")
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--out", default=None, help="directory for .npy output (else JSON lists)")
    f = sub.add_parser("skfmm")
    f.add_argument("--n", type=int, required=True)
    f.add_argument("--order", type=int, choices=(1, 2), default=2)
    f.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args(argv)
    result = run_pyclaw(args) if args.tool == "pyclaw" else run_skfmm(args)
    sys.stdout.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
