"""charme's SSA speed, side by side with COPASI and GillesPy2 in one run.

Usage::

    python benchmarks/ssa_speed.py [--peer-python /work/peervenv/bin/python] [--repeats 3]

Prints a Markdown table of events per second, single thread, for the three
models of ``benchmarks/peers.py`` ((a) birth-death, (b) dimerisation, (c) a
random mass-action network of 100 species and 200 reactions, each ~1e6
events in one trajectory), with the peers run through ``peers.py`` in their
own virtualenv when ``--peer-python`` exists (see peers.py for its set-up);
then the speed-up of an ensemble on 2 threads over 1 thread, and the wall
time of a whole second ``charme ssa`` process on a small model.

charme's figure is the best of ``--repeats`` calls of the ensemble kernel
(one run, 101 output points, cached machine code, compile excluded), as for
the peers.  Nothing here is a test: figures depend on the machine's load.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import peers  # noqa: E402  (plain-data model definitions, no peer imports)

import charme  # noqa: E402

PEER_TOOLS = ("copasi", "copasi-nrm", "gillespy2")


def to_network(model: dict, name: str):
    def side(d):
        return " + ".join(s if n == 1 else f"{n} {s}" for s, n in d.items()) or "0"

    spec = {
        "name": name,
        "species": model["species"],
        "reactions": [
            {"eq": f"{side(r)} -> {side(p)}", "rate": c} for r, p, c in model["reactions"]
        ],
    }
    return charme.loads(json.dumps(spec), fmt="json")


def charme_rate(model: dict, name: str, repeats: int) -> dict:
    net = to_network(model, name)
    best = None
    for i in range(repeats + 1):  # first call loads/compiles, not counted
        r = charme.simulate(net, t_end=model["t_end"], points=101, runs=1, seed=2024, threads=1)
        if i and (best is None or r.attrs["wall_time_s"] < best.attrs["wall_time_s"]):
            best = r
    a = best.attrs
    return {
        "events": a["total_events"],
        "seconds": a["wall_time_s"],
        "events_per_s": a["events_per_s"],
    }


def peer_rate(python: str, model: str, tool: str, repeats: int) -> dict | None:
    cmd = [
        python,
        str(HERE / "peers.py"),
        "--model",
        model,
        "--tool",
        tool,
        "--repeats",
        str(repeats),
    ]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=1800, check=True)
        return json.loads(out.stdout.strip().splitlines()[-1])
    except (subprocess.SubprocessError, ValueError, IndexError) as exc:
        print(f"  ({tool} on ({model}) failed: {exc})", file=sys.stderr)
        return None


def thread_scaling(repeats: int) -> tuple[float, float]:
    net = charme.load(HERE.parent / "examples" / "toggle.yaml")
    times = {}
    for threads in (1, 2):
        best = None
        for _ in range(repeats):
            r = charme.simulate(net, runs=4000, seed=1, threads=threads)
            best = min(best or 1e9, r.attrs["wall_time_s"])
        times[threads] = best
    return times[1], times[2]


def second_run_wall() -> float:
    spec = HERE.parent / "examples" / "immigration_death.yaml"
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "o.nc"
        cmd = ["charme", "ssa", str(spec), "-o", str(out), "--overwrite", "-q"]
        subprocess.run(cmd, check=True)  # first: may compile / fill the cache
        walls = []
        for _ in range(3):
            t0 = time.perf_counter()
            subprocess.run(cmd, check=True)
            walls.append(time.perf_counter() - t0)
    return min(walls)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--peer-python", default="/work/peervenv/bin/python")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--models", default="abc")
    args = ap.parse_args(argv)
    have_peers = os.path.exists(args.peer_python)
    models = {"a": peers.model_a, "b": peers.model_b, "c": peers.model_c}
    names = {"a": "birth-death", "b": "dimerisation", "c": "random 100x200"}

    print(f"## Single trajectory, single thread (M events/s, best of {args.repeats})\n")
    cols = ["charme"] + (list(PEER_TOOLS) if have_peers else [])
    print("| model | events | " + " | ".join(cols) + " | charme / best peer |")
    print("|---" * (len(cols) + 3) + "|")
    for key in args.models:
        model = models[key]()
        ours = charme_rate(model, names[key], args.repeats)
        row = [
            f"({key}) {names[key]}",
            f"{ours['events']:.3g}",
            f"{ours['events_per_s'] / 1e6:.1f}",
        ]
        best_peer = 0.0
        if have_peers:
            for tool in PEER_TOOLS:
                res = peer_rate(args.peer_python, key, tool, args.repeats)
                if res is None:
                    row.append("failed")
                    continue
                row.append(f"{res['events_per_s'] / 1e6:.1f}")
                best_peer = max(best_peer, res["events_per_s"])
        row.append(f"{ours['events_per_s'] / best_peer:.1f}x" if best_peer else "n/a")
        print("| " + " | ".join(row) + " |", flush=True)

    t1, t2 = thread_scaling(args.repeats)
    print("\n## Ensemble, examples/toggle.yaml, 4000 runs\n")
    print("| threads | wall (s) |\n|---|---|")
    print(f"| 1 | {t1:.3f} |\n| 2 | {t2:.3f} |")
    print(f"\nspeed-up on 2 threads: {t1 / t2:.2f}x (cores here: {os.cpu_count()})")
    print(f"\nsecond run of `charme ssa examples/immigration_death.yaml` (whole process): "
          f"{second_run_wall():.2f} s")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
