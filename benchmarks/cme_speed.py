"""Master-equation speed: charme's integrators beside SciPy's expm_multiply.

Usage::

    python benchmarks/cme_speed.py [--sizes 1e4,1e5,1e6] [--t-end 1] [--assemble-only 1e7]

Model: a genetic toggle switch, synthesis a/(1 + (y/K)^2) of each repressor
and first-order degradation, on the box [0, N]^2 (fixed bounds, so the
projection is the whole box: N = 100, 316, 1000 give 1e4, 1e5, 1e6 states).
Each (size, method) runs in its own process so that the peak memory (max
RSS) is its own; the L1 error at t_end is against a reference computed by
uniformization at tol 1e-12 (a rigorous bound) in the same run.  For
``expm_multiply`` the same CSR generator is handed to SciPy.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def model_text(n_max: int) -> str:
    a = 0.3 * n_max
    k = 0.1 * n_max
    return (
        "name: toggle_bench\nspecies: {U: 0, V: 0}\n"
        f"parameters: {{a: {a}, K: {k}, d: 1.0}}\nreactions:\n"
        '  - {eq: "0 -> U", propensity: "a / (1 + (V/K)^2)"}\n  - {eq: "U -> 0", rate: d}\n'
        '  - {eq: "0 -> V", propensity: "a / (1 + (U/K)^2)"}\n  - {eq: "V -> 0", rate: d}\n'
    )


def worker(n_max: int, method: str, t_end: float, tol: float, out: str, assemble_only: bool):
    """Run one method in this process; write p(t_end) and figures."""
    import charme
    from charme.solvers.master_equation import statespace as S
    from charme.solvers.master_equation.integrators import METHODS

    net = charme.loads(model_text(n_max))
    if method == "charme-cme":  # the whole command: projection, auto method, certified error
        from charme.solvers.master_equation.driver import solve

        t0 = time.perf_counter()
        r = solve(net, t_end=t_end, points=2, tol=1e-6, bounds={"U": (0, n_max), "V": (0, n_max)})
        res = {"n_states": r.attrs["n_states"], "assembly_s": float("nan"),
               "solve_s": time.perf_counter() - t0, "matvecs": r.attrs["matvecs"],
               "fsp_error": float(r["fsp_error"][-1]), "method": r.attrs["method"]}  # fmt: skip
        res["max_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(json.dumps(res))
        return
    lo = np.zeros(2, np.int64)
    hi = np.array([n_max, n_max], np.int64)
    t0 = time.perf_counter()
    proj = S.project(net, lo, hi, max_states=(n_max + 1) ** 2)
    t_asm = time.perf_counter() - t0
    gen = proj.generator
    res = {"n_states": gen.n, "nnz": int(gen.indptr[-1]), "assembly_s": t_asm}
    if not assemble_only:
        p0 = np.zeros(gen.n)
        p0[0] = 1.0
        times = np.array([0.0, t_end])
        t0 = time.perf_counter()
        if method == "expm_multiply":
            from scipy.sparse.linalg import expm_multiply

            p = expm_multiply(gen.to_scipy() * t_end, p0)
            est = float("nan")
        else:
            P, est = METHODS[method](gen, p0, times, tol)
            p = P[-1]
        res.update(solve_s=time.perf_counter() - t0, matvecs=gen.matvecs, estimate=est,
                   lost=float(1 - p.sum()))  # fmt: skip
        np.save(out, p)
    res["max_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(res))


def run(n_max, method, t_end, tol, tmp, assemble_only=False):
    out = str(Path(tmp) / f"{n_max}_{method}.npy")
    cmd = [sys.executable, __file__, "--worker", str(n_max), method, str(t_end), str(tol), out]
    if assemble_only:
        cmd.append("--assemble-only-flag")
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=7200)
    if proc.returncode != 0:
        return {"error": proc.stderr.strip().splitlines()[-1] if proc.stderr else "failed"}, None
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    p = np.load(out) if not assemble_only and method != "charme-cme" else None
    return res, p


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "--worker":
        n_max, method, t_end, tol, out = argv[1:6]
        worker(int(n_max), method, float(t_end), float(tol), out, "--assemble-only-flag" in argv)
        return 0
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1e4,1e5,1e6")
    ap.add_argument("--t-end", type=float, default=1.0)
    ap.add_argument("--tol", type=float, default=1e-9)
    ap.add_argument("--methods", default="krylov,uniformization,implicit,expm_multiply,charme-cme")
    ap.add_argument(
        "--assemble-only", default="", help="sizes to assemble without solving, e.g. 1e7"
    )
    args = ap.parse_args(argv)
    methods = args.methods.split(",")
    print(f"toggle switch, t_end = {args.t_end}, integrator tol = {args.tol}\n")
    print(
        "| states | method | solve (s) | assembly (s) | matvecs | max RSS (MB) | L1 error vs reference | speed-up vs expm_multiply |"
    )
    print("|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for size in args.sizes.split(","):
            n_max = int(round(float(size) ** 0.5)) - 1
            ref_res, ref = run(n_max, "uniformization", args.t_end, 1e-12, tmp)
            rows = {}
            for m in methods:
                if m == "implicit" and float(size) > 2e5:
                    rows[m] = ({"error": "skipped (sparse LU of this size is not its use)"}, None)
                    continue
                rows[m] = run(n_max, m, args.t_end, args.tol, tmp)
            base = rows.get("expm_multiply", ({}, None))[0].get("solve_s")
            if "error" not in ref_res:  # the reference itself: uniformization at tol 1e-12
                speed = f"{base / ref_res['solve_s']:.1f}x" if base else ""
                print(f"| {ref_res['n_states']} | uniformization, tol 1e-12 (the reference) | "
                      f"{ref_res['solve_s']:.2f} | {ref_res['assembly_s']:.2f} | {ref_res['matvecs']} | "
                      f"{ref_res['max_rss_mb']:.0f} | 0 (by definition) | {speed} |")  # fmt: skip
            for m, (res, p) in rows.items():
                if "error" in res:
                    print(f"| {ref_res.get('n_states', size)} | {m} | {res['error']} | | | | | |")
                    continue
                if p is None:  # the end-to-end row reports its certified error instead
                    print(f"| {res['n_states']} | charme cme --tol 1e-6 ({res['method']}, end to end) | "
                          f"{res['solve_s']:.2f} | incl. | {res['matvecs']} | {res['max_rss_mb']:.0f} | "
                          f"certified {res['fsp_error']:.1e} | |", flush=True)  # fmt: skip
                    continue
                err = float(np.abs(p - ref).sum()) if ref is not None else float("nan")
                speed = f"{base / res['solve_s']:.1f}x" if base and m != "expm_multiply" else ""
                print(f"| {res['n_states']} | {m} | {res['solve_s']:.2f} | {res['assembly_s']:.2f} | "
                      f"{res.get('matvecs', '')} | {res['max_rss_mb']:.0f} | {err:.1e} | {speed} |", flush=True)  # fmt: skip
        for size in filter(None, args.assemble_only.split(",")):
            n_max = int(round(float(size) ** 0.5)) - 1
            res, _ = run(n_max, "none", args.t_end, args.tol, tmp, assemble_only=True)
            print(f"\nassembly only, {res.get('n_states')} states: {res.get('assembly_s', 0):.1f} s, "
                  f"max RSS {res.get('max_rss_mb', 0):.0f} MB, nnz {res.get('nnz')}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
