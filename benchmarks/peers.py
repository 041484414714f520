"""Speed of peer Gillespie (SSA) simulators on three reference models.

This script is NOT part of charme and charme never depends on what it imports.
It runs in a throwaway virtualenv that holds the peers::

    python3.11 -m venv /work/peervenv
    /work/peervenv/bin/pip install python-copasi gillespy2 numpy
    /work/peervenv/bin/python benchmarks/peers.py --list
    /work/peervenv/bin/python benchmarks/peers.py --model a --tool copasi --repeats 3

(GillesPy2's C++ solver compiles the model with ``g++`` and SCons; the script puts
the running interpreter's ``bin`` directory on ``PATH`` so the venv's ``scons``
is found.)  Each run prints ONE JSON line on stdout::

    {"tool": ..., "model": ..., "events": ..., "seconds": ..., "events_per_s": ...,
     "version": ..., "events_method": ..., ...}

Tools
-----
``copasi``      COPASI (python-copasi), time course task, "Stochastic (Direct method)".
``copasi-nrm``  COPASI, "Stochastic (Gibson + Bruck)" next reaction method.
``gillespy2``   GillesPy2 ``SSACSolver`` (C++ direct method), one trajectory.
``python``      a plain-Python direct method written here (dependency-free reference,
                not a peer; useful as the slow baseline and to check the others).

What is measured
----------------
``seconds`` is the best (minimum) wall time over ``--repeats`` runs of the simulation
call only: COPASI's ``task.processRaw``, GillesPy2's ``solver.run`` (which includes
spawning the compiled executable and parsing its output, ~ms), the Python loop.
Model building, COPASI task initialisation and the GillesPy2 C++ compilation are
excluded; GillesPy2 is also run once untimed (warm-up) before timing.  Every run
uses the same seed, so each repeat does exactly the same work.  Output is
recorded at 101 equally spaced times only, so output cost is negligible.
Run single threaded (the script sets ``OMP_NUM_THREADS=1``; the peers are serial).

``events`` (total reaction firings) is counted exactly.  Neither peer reports it,
so the peer model is built a second time with an extra species ``_events`` added
as a product (stoichiometry 1) of every reaction.  With mass action a product
never enters a propensity, so the trajectory is unchanged; the counted run uses
the same seed as the timed runs, and the script checks that all original
species agree at every output time (``events_method`` says whether they did).
The Python reference counts its own loop iterations.

Models
------
``model_a()``, ``model_b()``, ``model_c()`` return plain Python data (no peer
import, importable by charme's own benchmark)::

    dict(species={name: initial_count},
         reactions=[(reactants: dict, products: dict, rate: float), ...],
         t_end=float)

Rates are stochastic rate constants with combinatorial mass-action propensities:
``{}`` -> c, ``{A: 1}`` -> c*A, ``{A: 1, B: 1}`` -> c*A*B, ``{A: 2}`` -> c*A*(A-1)/2.
(COPASI's and GillesPy2's mass action use c*A*(A-1) for 2A, so they get c/2.)

(a) birth-death, 0 -> A (10), A -> 0 (0.1), A(0) = 0, t_end = 50000;
    stationary mean A = 100, 20 events per unit time, ~1.0e6 events.
(b) dimerisation, 0 -> A (100), 2A -> B (0.01), B -> 2A (1), B -> 0 (0.1),
    A(0) = B(0) = 0; stationary A ~ 332, B ~ 500 and ~1200 events per unit time,
    so t_end = 850 gives ~1.0e6 events.
(c) ``random_network(42)``: 100 species, 200 reactions (see its docstring),
    50 molecules of each species initially; ~2080 events per unit time, so
    t_end = 480 gives ~1.0e6 events (95 of the 100 species have late means > 1).
"""

from __future__ import annotations

import argparse
import bisect
import itertools
import json
import math
import os
import platform
import random
import shutil
import sys
import tempfile
import time

SEED = 2024
N_POINTS = 101
COUNTER = "_events"

Reaction = tuple[dict[str, int], dict[str, int], float]


# --------------------------------------------------------------------------- models


def model_a() -> dict:
    """Birth-death: 0 -> A (10), A -> 0 (0.1); ~1e6 events up to t_end = 50000."""
    return {
        "species": {"A": 0},
        "reactions": [({}, {"A": 1}, 10.0), ({"A": 1}, {}, 0.1)],
        "t_end": 50000.0,
    }


def model_b() -> dict:
    """Dimerisation: 0 -> A, 2A -> B, B -> 2A, B -> 0; ~1e6 events up to t_end = 850."""
    return {
        "species": {"A": 0, "B": 0},
        "reactions": [
            ({}, {"A": 1}, 100.0),
            ({"A": 2}, {"B": 1}, 0.01),
            ({"B": 1}, {"A": 2}, 1.0),
            ({"B": 1}, {}, 0.1),
        ],
        "t_end": 850.0,
    }


def random_network(seed: int = 42) -> tuple[list[str], list[int], list[Reaction]]:
    """Deterministic random mass-action network: 100 species, 200 reactions.

    Reactions 0-99 are first-order degradations ``S_i -> 0``.  Reactions 100-199
    are drawn from ``numpy.random.default_rng(seed)`` one after the other:
    25% zero-order sources, 50% first-order and 25% second-order
    (``S_i + S_j`` or ``2 S_i``) reactions with 1-2 products (0-2 for second
    order).  Reactants are drawn among species produced by earlier reactions.
    The products of zero- and first-order reactions are taken from a random
    permutation of all species until every species has been used (forcing
    two-product first-order reactions near the end if needed), so every
    species is fed from a source through a chain of linear reactions and none
    dies out; second-order products are uniform random species.

    Bounded by construction: second-order reactions never increase the total
    molecule count, and each degradation rate is 0.1 plus the net production
    rate constant of the first-order reactions consuming that species, so the
    expected total molecule count stays finite.

    Returns plain Python lists: species names, initial counts (50 each) and
    reactions ``(reactants, products, rate)``.
    """
    import numpy as np

    rng = np.random.default_rng(seed)
    n_species = 100
    names = [f"S{i}" for i in range(n_species)]
    queue = [int(k) for k in rng.permutation(n_species)]  # species still to be fed
    fed: list[int] = []  # species produced by the reactions drawn so far
    drawn: list[Reaction] = []
    growth = [0.0] * n_species  # net first-order production per molecule of S_i
    for k in range(n_species):
        must_feed = len(queue) >= 2 * (n_species - k) - 1
        kind = int(rng.choice(3, p=[0.25, 0.5, 0.25])) if fed else 0
        if must_feed and kind == 2:
            kind = 1
        if kind == 0:
            reactants: dict[str, int] = {}
            rate = float(rng.uniform(5.0, 50.0))
        elif kind == 1:
            reactants = {names[fed[int(rng.integers(len(fed)))]]: 1}
            rate = float(rng.uniform(0.1, 1.0))
        else:
            i, j = (fed[int(v)] for v in rng.integers(len(fed), size=2))
            reactants = {names[i]: 2} if i == j else {names[i]: 1, names[j]: 1}
            rate = float(rng.uniform(1e-4, 1e-3))
        n_products = 2 if must_feed else int(rng.integers(1 if kind < 2 else 0, 3))
        picks = []
        for _ in range(n_products):
            if kind < 2 and queue:
                picks.append(queue.pop())
            else:
                picks.append(int(rng.integers(n_species)))
        products: dict[str, int] = {}
        for p in picks:
            products[names[p]] = products.get(names[p], 0) + 1
        if kind == 1 and n_products > 1:
            growth[names.index(next(iter(reactants)))] += rate * (n_products - 1)
        drawn.append((reactants, products, rate))
        fed.extend(p for p in picks if p not in fed)
    degradations: list[Reaction] = [({names[i]: 1}, {}, 0.05 + growth[i]) for i in range(n_species)]
    return names, [50] * n_species, degradations + drawn


def model_c() -> dict:
    """The ``random_network(42)`` model; ~1e6 events up to t_end = 480."""
    names, counts, reactions = random_network(42)
    return {
        "species": dict(zip(names, counts, strict=True)),
        "reactions": reactions,
        "t_end": 480.0,
    }


MODELS = {"a": model_a, "b": model_b, "c": model_c}


def with_counter(model: dict) -> dict:
    """Copy of ``model`` where every reaction also produces one ``_events``."""
    return {
        "species": {**model["species"], COUNTER: 0},
        "reactions": [(r, {**p, COUNTER: 1}, c) for r, p, c in model["reactions"]],
        "t_end": model["t_end"],
    }


# ----------------------------------------------------------------- Python reference


def run_python(model: dict, seed: int) -> tuple[list[float], list[list[float]], int]:
    """Plain-Python direct method with a dependency graph.

    Returns the output times, the states at those times (one list per species)
    and the number of reaction firings.
    """
    names = list(model["species"])
    index = {s: k for k, s in enumerate(names)}
    x = [float(model["species"][s]) for s in names]
    reacts = [[(index[s], n) for s, n in r.items()] for r, _, _ in model["reactions"]]
    rates = [c for _, _, c in model["reactions"]]
    changes = []
    for r, p, _ in model["reactions"]:
        delta: dict[int, int] = {}
        for s, n in r.items():
            delta[index[s]] = delta.get(index[s], 0) - n
        for s, n in p.items():
            delta[index[s]] = delta.get(index[s], 0) + n
        changes.append([(k, d) for k, d in delta.items() if d])
    users: list[set[int]] = [set() for _ in names]
    for j, rs in enumerate(reacts):
        for k, _ in rs:
            users[k].add(j)
    depends = [
        sorted({j} | set().union(*(users[k] for k, _ in ch))) for j, ch in enumerate(changes)
    ]

    def propensity(j: int) -> float:
        a = rates[j]
        for k, n in reacts[j]:
            a *= x[k] if n == 1 else x[k] * (x[k] - 1.0) / 2.0
        return a

    rng = random.Random(seed)
    t_end = model["t_end"]
    times = [t_end * i / (N_POINTS - 1) for i in range(N_POINTS)]
    out: list[list[float]] = []
    a = [propensity(j) for j in range(len(rates))]
    t, events, nxt = 0.0, 0, 0
    while True:
        cum = list(itertools.accumulate(a))
        a0 = cum[-1]
        t_new = t - math.log(1.0 - rng.random()) / a0 if a0 > 0 else math.inf
        while nxt < N_POINTS and times[nxt] < t_new:
            out.append(list(x))
            nxt += 1
        if nxt == N_POINTS:
            return times, out, events
        t = t_new
        j = min(bisect.bisect_right(cum, rng.random() * a0), len(a) - 1)
        for k, d in changes[j]:
            x[k] += d
        for i in depends[j]:
            a[i] = propensity(i)
        events += 1


# -------------------------------------------------------------------------- COPASI


def build_copasi(model: dict, method: str):
    """Build a COPASI data model and an initialised time-course task."""
    import COPASI as C

    dm = C.CRootContainer.addDatamodel()
    cmodel = dm.getModel()
    cmodel.setQuantityUnit("#")  # amounts in particle numbers, volume 1
    cmodel.createCompartment("cell", 1.0)
    metabs = {s: cmodel.createMetabolite(s, "cell", float(n)) for s, n in model["species"].items()}
    for j, (reactants, products, rate) in enumerate(model["reactions"]):
        reaction = cmodel.createReaction(f"R{j}")
        eq = reaction.getChemEq()
        for s, n in reactants.items():
            eq.addMetabolite(metabs[s].getKey(), float(n), C.CChemEq.SUBSTRATE)
        for s, n in products.items():
            eq.addMetabolite(metabs[s].getKey(), float(n), C.CChemEq.PRODUCT)
        reaction.setReversible(False)
        if reactants:
            # COPASI's stochastic mass action is k*A*(A-1) for 2A, hence c/2.
            order2 = any(n == 2 for n in reactants.values())
            reaction.setFunction("Mass action (irreversible)")
            reaction.setParameterValue("k1", rate / 2.0 if order2 else rate)
            for s, n in reactants.items():
                for _ in range(n):
                    reaction.addParameterObject("substrate", metabs[s])
        else:  # Mass action with no substrate is ill-defined in COPASI.
            reaction.setFunction("Constant flux (irreversible)")
            reaction.setParameterValue("v", rate)
    cmodel.compileIfNecessary()
    for s, n in model["species"].items():
        metabs[s].setInitialValue(float(n))
    cmodel.updateInitialValues(C.CCore.Framework_ParticleNumbers)

    task = dm.getTask("Time-Course")
    kind = {"direct": C.CTaskEnum.Method_directMethod, "nrm": C.CTaskEnum.Method_stochastic}
    task.setMethodType(kind[method])
    problem = task.getProblem()
    problem.setDuration(float(model["t_end"]))
    problem.setStepNumber(N_POINTS - 1)
    problem.setTimeSeriesRequested(True)
    params = task.getMethod()
    params.getParameter("Max Internal Steps").setIntValue(1_000_000_000)
    params.getParameter("Use Random Seed").setBoolValue(True)
    params.getParameter("Random Seed").setUIntValue(SEED)
    if not task.initializeRaw(C.CCopasiTask.OUTPUT_UI):
        raise RuntimeError(C.CCopasiMessage.getAllMessageText())
    return dm, task


def copasi_states(task, names: list[str]) -> list[list[float]]:
    """States at the output times, species in the order of ``names``."""
    series = task.getTimeSeries()
    column = {series.getTitle(i): i for i in range(series.getNumVariables())}
    return [[series.getData(k, column[s]) for s in names] for k in range(series.getRecordedSteps())]


def run_copasi(model: dict, repeats: int, method: str) -> dict:
    import COPASI as C

    names = list(model["species"])
    _, task = build_copasi(model, method)
    best = math.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        ok = task.processRaw(True)
        best = min(best, time.perf_counter() - t0)
        if not ok:
            raise RuntimeError(C.CCopasiMessage.getAllMessageText())
    states = copasi_states(task, names)
    _, counting = build_copasi(with_counter(model), method)
    if not counting.processRaw(True):
        raise RuntimeError(C.CCopasiMessage.getAllMessageText())
    counted = copasi_states(counting, [*names, COUNTER])
    return {
        "seconds": best,
        "states": states,
        "counted": counted,
        "version": C.CVersion.VERSION.getVersion(),
        "method": task.getMethod().getObjectName(),
    }


# ----------------------------------------------------------------------- GillesPy2


def build_gillespy2(model: dict):
    """A GillesPy2 model with 101 output times and its compiled SSACSolver."""
    import gillespy2
    import numpy as np

    gmodel = gillespy2.Model(name="bench")
    gmodel.add_species(
        [
            gillespy2.Species(name=s, initial_value=int(n), mode="discrete")
            for s, n in model["species"].items()
        ]
    )
    for j, (reactants, products, rate) in enumerate(model["reactions"]):
        # GillesPy2's mass action is k*A*(A-1)/vol for 2A, hence c/2.
        order2 = any(n == 2 for n in reactants.values())
        k = gillespy2.Parameter(name=f"k{j}", expression=repr(rate / 2.0 if order2 else rate))
        gmodel.add_parameter(k)
        gmodel.add_reaction(
            gillespy2.Reaction(
                name=f"R{j}",
                reactants=dict(reactants),
                products=dict(products),
                rate=k,
            )
        )
    gmodel.timespan(np.linspace(0.0, model["t_end"], N_POINTS))
    return gillespy2.SSACSolver(model=gmodel)  # compiles the C++ simulation


def gillespy2_states(result, names: list[str]) -> list[list[float]]:
    traj = result[0]
    return [[float(traj[s][k]) for s in names] for k in range(len(traj["time"]))]


def run_gillespy2(model: dict, repeats: int) -> dict:
    import gillespy2

    bindir = os.path.dirname(sys.executable)  # the venv's scons
    os.environ["PATH"] = bindir + os.pathsep + os.environ.get("PATH", "")
    if shutil.which("g++") is None:
        raise RuntimeError("g++ not found: GillesPy2's SSACSolver needs it")
    names = list(model["species"])
    solver = build_gillespy2(model)
    solver.run(seed=SEED)  # warm-up, untimed
    best, result = math.inf, None
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = solver.run(seed=SEED)
        best = min(best, time.perf_counter() - t0)
    counting = build_gillespy2(with_counter(model))
    return {
        "seconds": best,
        "states": gillespy2_states(result, names),
        "counted": gillespy2_states(counting.run(seed=SEED), [*names, COUNTER]),
        "version": gillespy2.__version__,
        "method": "SSACSolver (C++ direct method)",
    }


# ---------------------------------------------------------------------------- driver


def run_reference(model: dict, repeats: int) -> dict:
    best, states, events = math.inf, [], 0
    for _ in range(repeats):
        t0 = time.perf_counter()
        _, states, events = run_python(model, SEED)
        best = min(best, time.perf_counter() - t0)
    return {
        "seconds": best,
        "states": states,
        "events": events,
        "version": platform.python_version(),
        "method": "plain-Python direct method (reference, this file)",
    }


TOOLS = {
    "copasi": lambda m, r: run_copasi(m, r, "direct"),
    "copasi-nrm": lambda m, r: run_copasi(m, r, "nrm"),
    "gillespy2": run_gillespy2,
    "python": run_reference,
}
IMPORTS = {"copasi": "COPASI", "copasi-nrm": "COPASI", "gillespy2": "gillespy2", "python": None}


def available() -> dict[str, str]:
    """Tool name -> "ok" or the reason it cannot be imported."""
    status = {}
    for tool, module in IMPORTS.items():
        try:
            if module:
                __import__(module)
            status[tool] = "ok"
        except Exception as exc:  # noqa: BLE001 - any import failure means unavailable
            status[tool] = f"{type(exc).__name__}: {exc}"
    return status


def summarise(model: dict, tool: str, key: str, run: dict) -> dict:
    """The JSON record for one tool x model measurement."""
    names = list(model["species"])
    states = run["states"]
    if "events" in run:
        events, how = run["events"], "counted in the simulation loop"
    else:
        counted = run["counted"]
        events = int(round(counted[-1][-1]))
        same = [row[:-1] for row in counted] == states
        how = (
            "counter species, same seed, separate run; trajectory identical to the timed run"
            if same
            else "counter species, same seed, separate run; trajectory DIFFERS (approximate)"
        )
    late = states[len(states) // 2 :]
    return {
        "tool": tool,
        "model": key,
        "events": events,
        "seconds": run["seconds"],
        "events_per_s": events / run["seconds"],
        "version": run["version"],
        "events_method": how,
        "method": run["method"],
        "t_end": model["t_end"],
        "seed": SEED,
        "late_mean": {s: sum(r[i] for r in late) / len(late) for i, s in enumerate(names[:3])},
        "late_mean_total": sum(sum(r) for r in late) / len(late),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=sorted(MODELS))
    parser.add_argument("--tool", choices=sorted(TOOLS))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--list", action="store_true", help="print which tools import")
    args = parser.parse_args(argv)
    if args.list:
        print(json.dumps(available()))
        return 0
    if not (args.model and args.tool):
        parser.error("--model and --tool are required (or --list)")
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    model = MODELS[args.model]()
    cwd = os.getcwd()
    with tempfile.TemporaryDirectory() as tmp:
        os.chdir(tmp)  # keeps stray peer output files out of the work tree
        try:
            run = TOOLS[args.tool](model, args.repeats)
        finally:
            os.chdir(cwd)
    print(json.dumps(summarise(model, args.tool, args.model, run)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
