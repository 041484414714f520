"""Solve the chemical master equation of a network: transient or stationary.

Data path: ``ReactionNetwork -> Projection (enumerate_states, transitions,
assemble_csr) -> integrator -> Result``.  Without bounds the projection
grows (upper bounds of the species whose flow leaves it, by half) until the
mass that has left it by ``t_end``, the certified L1 error, is below
``tol``.
"""

from __future__ import annotations

import math
import time

import numpy as np

from charme.errors import SolverError, SpecError
from charme.models.network import ReactionNetwork
from charme.results.result import Result, provenance
from charme.solvers.master_equation import statespace as S
from charme.solvers.master_equation.integrators import METHODS

MAX_GROWTH_ROUNDS = 40
#: Expokit's error estimate is an estimate, not a bound: it is counted ten times.
KRYLOV_SAFETY = 10.0


def resolve(network: ReactionNetwork, **given) -> dict:
    from charme.spec.schema import CMESettings, merged_settings

    s = merged_settings(CMESettings, network.cme_settings, given)
    if not s.get("steady_state"):
        if s.get("t_end") is None:
            raise SpecError("t_end is not set: give --t-end or 'cme: {t_end: ...}' in the spec")
        if not (math.isfinite(s["t_end"]) and s["t_end"] > 0):
            raise SpecError(f"t_end must be a finite number > 0, got {s['t_end']!r}")
    if not (0 < s["tol"] < 1):
        raise SpecError(f"tol must lie in (0, 1), got {s['tol']!r}")
    if s["method"] not in ("auto", *METHODS):
        raise SpecError(f"unknown method {s['method']!r} (auto, {', '.join(METHODS)})")
    if int(s["points"]) < 2:
        raise SpecError("points must be >= 2")
    return s


def choose_method(gen, t_end) -> str:
    """Pick an integrator from the work lam*t (matrix products uniformization needs).

    Uniformization (rigorous, cheapest per product) while lam*t <= 5e4;
    beyond, SciPy's BDF for small chains (its sparse LU stays cheap there)
    and Krylov, whose steps adapt to the smoothness of the solution, for
    large ones.  Thresholds measured with benchmarks/cme_speed.py.
    """
    work = gen.max_exit * t_end
    if work <= 5e4:
        return "uniformization"
    if gen.n <= 20_000:
        return "implicit"
    return "krylov"


def _grow(network, proj, p_end, lo, hi, grow) -> bool:
    """Raise the upper bounds of species whose flow leaves the box; False if none can grow."""
    from charme.solvers.gillespie.compile import compile_network
    from charme.solvers.gillespie.kernels import propensity

    compiled, _ = compile_network(network)
    flux = np.zeros(len(lo))
    stack = np.zeros(max(compiled.stack_size, 1))
    edge = np.flatnonzero(proj.generator.outflow > 0)
    for i in edge:
        x = proj.states[i]
        for j in range(network.n_reactions):
            ch = network.change(j)
            leaves = [network.species.index(sp) for sp, d in ch.items()
                      if x[network.species.index(sp)] + d > hi[network.species.index(sp)]]  # fmt: skip
            if leaves:
                a = propensity(compiled, j, x, stack)
                for s in leaves:
                    flux[s] += a * max(p_end[i], 1e-300)
    candidates = np.flatnonzero((flux > 0) & grow)
    if candidates.size == 0:
        return False
    for s in candidates:
        hi[s] = int(math.ceil(hi[s] * 1.5)) + 5
    return True


def solve(
    network: ReactionNetwork,
    *,
    t_end=None,
    points=None,
    tol=None,
    method=None,
    bounds=None,
    max_states=None,
    steady_state=False,
    save_distribution=False,
) -> Result:
    """Transient (or stationary) distribution of the network's master equation.

    Returns a :class:`Result` with ``mean``/``sd`` (time, species) as
    ``charme ssa`` writes them, ``marginal(time, species, count)``,
    ``fsp_error(time)`` (certified L1 distance to the exact law, plus the
    integrator's error estimate), and with ``save_distribution`` the states
    and ``p(time, state)``.
    """
    from charme.spec.chain import MarkovChain

    if isinstance(network, MarkovChain):
        if bounds or max_states:
            raise SpecError("--bounds and --max-states apply to reaction networks, not to a chain")
        return solve_chain(network, t_end=t_end, points=points, tol=tol, method=method,
                           steady_state=steady_state)  # fmt: skip
    s = resolve(network, t_end=t_end, points=points, tol=tol, method=method,
                steady_state=steady_state)  # fmt: skip
    started = time.perf_counter()
    laws = S.conservation_laws(network)
    bnds = S.parse_bounds(bounds, network.species) if not isinstance(bounds, dict) else bounds
    lo, hi, grow = S.initial_box(network, bnds, laws)
    max_states = int(max_states) if max_states else S.default_max_states(network.n_reactions)
    if steady_state:
        return _steady(network, s, lo, hi, grow, max_states, laws, started, save_distribution)
    tol_ = float(s["tol"])
    times = np.linspace(0.0, float(s["t_end"]), int(s["points"]))
    p0_state = np.array(network.initial, np.int64)
    rounds = 0
    while True:
        proj = S.project(network, lo, hi, max_states)
        gen = proj.generator
        chosen = s["method"] if s["method"] != "auto" else choose_method(gen, times[-1])
        p0 = np.zeros(gen.n)
        p0[0] = 1.0  # states[0] is the initial state
        assert (proj.states[0] == p0_state).all()
        # integrate with a fraction of the budget; the rest is for the projection
        P, integ_err = METHODS[chosen](gen, p0, times, tol_ * 1e-3)
        lost = 1.0 - P.sum(axis=1)
        if lost[-1] <= tol_ or rounds >= MAX_GROWTH_ROUNDS:
            break
        if not _grow(network, proj, P[-1], lo, hi, grow):
            if bnds:
                break  # the user fixed the bounds: report the error honestly
            raise SpecError(
                f"the projection loses {lost[-1]:.2e} > tol by t_end and cannot grow further; "
                "give wider --bounds"
            )
        rounds += 1
    # negative round-off entries are cut off; their mass counts as error
    negative = np.clip(-P, 0.0, None).sum(axis=1)
    P = np.clip(P, 0.0, None)
    safety = KRYLOV_SAFETY if chosen == "krylov" else 1.0
    fsp_error = np.clip(1.0 - P.sum(axis=1), 0.0, None) + safety * integ_err + negative
    wall = time.perf_counter() - started
    res = _result(network, proj, P, times, fsp_error, save_distribution)
    res.attrs.update({
        "method": chosen, "tol": tol_, "t_end": float(times[-1]), "points": len(times),
        "n_states": gen.n, "nnz": int(gen.indptr[-1]), "projection_rounds": rounds + 1,
        "bounds": repr({sp: (int(a), int(b)) for sp, a, b in zip(network.species, proj.lo, proj.hi)}),
        "conservation_laws": repr(laws), "integration_error": float(integ_err),
        "matvecs": gen.matvecs, "wall_time_s": wall,
        "certified": int(fsp_error[-1] <= tol_),
    })  # fmt: skip
    return res


def _result(network, proj, P, times, fsp_error, save_distribution, steady=False) -> Result:
    from charme.solvers.master_equation.kernels import marginals

    states = proj.states
    n_counts = int((proj.hi - proj.lo).max()) + 1
    T = P.shape[0]
    mean = np.empty((T, network.n_species))
    sd = np.empty((T, network.n_species))
    marg = np.empty((T, network.n_species, n_counts))
    m1 = np.empty(network.n_species)
    m2 = np.empty(network.n_species)
    count_offset = proj.lo
    for k in range(T):
        p = P[k]
        mass = p.sum()
        marginals(states, p, count_offset, n_counts, m1, m2, marg[k])
        mean[k] = m1 / mass
        sd[k] = np.sqrt(np.maximum(m2 / mass - mean[k] ** 2, 0.0))
    if (proj.lo != 0).any():
        # marginal counts are offset by lo per species; put them on a common count axis
        full = np.zeros((T, network.n_species, int(proj.hi.max()) + 1))
        for s_, lo_s in enumerate(proj.lo):
            full[:, s_, lo_s : lo_s + n_counts] = marg[:, s_, : full.shape[2] - lo_s]
        marg = full
    lead = () if steady else ("time",)
    take = (lambda a: a[0]) if steady else (lambda a: a)
    coords = {"species": np.array(network.species, dtype=str),
              "count": np.arange(marg.shape[2], dtype=np.int64)}  # fmt: skip
    if not steady:
        coords = {"time": times, **coords}
    data_vars = {
        "mean": ((*lead, "species"), take(mean)),
        "sd": ((*lead, "species"), take(sd)),
        "marginal": ((*lead, "species", "count"), take(marg)),
        "fsp_error": (lead, take(fsp_error) if not steady else np.asarray(fsp_error[0])),
    }
    var_attrs = {
        "mean": {"long_name": "mean molecule count (FSP)"},
        "sd": {"long_name": "standard deviation of the count (FSP)"},
        "marginal": {"long_name": "probability of each count (lower bound, FSP)"},
        "fsp_error": {"long_name": "certified L1 distance to the exact distribution"},
    }
    if save_distribution:
        coords["state"] = np.arange(states.shape[0], dtype=np.int64)
        data_vars["states"] = (("state", "species"), states)
        data_vars["p"] = ((*lead, "state"), take(P))
        var_attrs["p"] = {"long_name": "probability of each state"}
    attrs = {
        "title": f"charme cme: {network.name}", "solver": "cme", "model": network.name,
        "spec_path": network.source_path, "spec_text": network.source_text,
        "parameters": repr(dict(network.parameters)),
        "initial_counts": repr(dict(zip(network.species, network.initial))),
        "steady_state": int(steady), "Conventions": "CF-1.8", **provenance(),
    }  # fmt: skip
    return Result("cme", coords, data_vars, attrs, var_attrs)


def stationary(A, describe=lambda i: str(i)):
    """Stationary law of the generator ``A`` (scipy CSR, dp/dt = A p).

    Raises :class:`SolverError` when the chain has several closed classes
    (the stationary law is not unique).  Returns ``(pi, residual_l1, how)``.
    """
    import scipy.sparse as sp
    import scipy.sparse.csgraph as csgraph
    import scipy.sparse.linalg as spla

    n = A.shape[0]
    # edges j -> i where A[i, j] > 0 (i != j)
    graph = sp.csr_matrix(A.T, copy=True)
    graph.setdiag(0)
    graph.eliminate_zeros()
    n_comp, labels = csgraph.connected_components(graph, directed=True, connection="strong")
    if n_comp > 1:
        rows, cols = graph.nonzero()
        cond = sp.csr_matrix(
            (np.ones(len(rows)), (labels[rows], labels[cols])), shape=(n_comp, n_comp)
        )
        cond.setdiag(0)
        cond.eliminate_zeros()
        closed = np.flatnonzero(np.diff(cond.indptr) == 0)
    else:
        closed = np.array([0])
    if len(closed) > 1:
        examples = [describe(np.flatnonzero(labels == c)[0]) for c in closed[:3]]
        raise SolverError(
            f"the stationary law is not unique: the chain has {len(closed)} closed classes "
            f"(e.g. states {', '.join(examples)}); no single answer exists"
        )
    members = np.flatnonzero(labels == closed[0])
    m = len(members)
    M = A[members][:, members].tolil()
    M[0, :] = np.ones(m)
    rhs = np.zeros(m)
    rhs[0] = 1.0
    if m <= 300_000:
        pi_sub = spla.spsolve(M.tocsc(), rhs)
        how = "sparse direct (normalisation row)"
    else:
        ilu = spla.spilu(M.tocsc(), drop_tol=1e-6, fill_factor=20)
        pre = spla.LinearOperator((m, m), ilu.solve)
        pi_sub, info = spla.gmres(M.tocsr(), rhs, M=pre, rtol=1e-12, restart=100, maxiter=2000)
        if info != 0:
            raise SolverError(f"the iterative stationary solver did not converge (info {info})")
        how = "GMRES with ILU"
    pi = np.zeros(n)
    pi[members] = np.clip(pi_sub, 0.0, None)
    pi /= pi.sum()
    residual = float(np.abs(A @ pi).sum())
    return pi, residual, how


def _steady(network, s, lo, hi, grow, max_states, laws, started, save_distribution) -> Result:
    """Stationary law of the projected chain with leaving transitions dropped."""

    # without explicit bounds, grow until the stationary mass at the growing edge is tiny
    tol_ = float(s["tol"])
    for _ in range(MAX_GROWTH_ROUNDS):
        proj = S.project(network, lo, hi, max_states, reflect=True)
        gen = proj.generator
        n = gen.n
        pi, residual, how = stationary(
            gen.to_scipy(), lambda i, st=proj.states: str(tuple(int(v) for v in st[i]))
        )
        at_edge = np.zeros(n, bool)
        for i in np.flatnonzero(grow):
            at_edge |= proj.states[:, i] == proj.hi[i]
        edge_mass = float(pi[at_edge].sum())
        if edge_mass <= tol_ or not grow.any():
            break
        hi = np.where(grow, np.ceil(hi * 1.5).astype(np.int64) + 5, hi)
    res = _result(
        network,
        proj,
        pi[None, :],
        np.zeros(1),
        np.array([edge_mass]),
        save_distribution,
        steady=True,
    )
    res.var_attrs["fsp_error"] = {
        "long_name": "stationary probability on the growing edge of the projection"
    }
    res.attrs.update({
        "method": how, "tol": tol_, "n_states": n, "residual_l1": residual,
        "bounds": repr({sp_: (int(a), int(b)) for sp_, a, b in zip(network.species, proj.lo, proj.hi)}),
        "conservation_laws": repr(laws), "wall_time_s": time.perf_counter() - started,
    })  # fmt: skip
    return res


def solve_chain(chain, *, t_end=None, points=None, tol=None, method=None, steady_state=False,
                **_ignored) -> Result:  # fmt: skip
    """Transient or stationary law of an explicit chain (``kind: markov-chain``)."""
    from charme.solvers.master_equation.integrators import Generator
    from charme.spec.schema import CMESettings, merged_settings

    given = dict(t_end=t_end, points=points, tol=tol, method=method)
    st = merged_settings(CMESettings, chain.settings, given)
    started = time.perf_counter()
    A = chain.generator.tocsr()
    A.sort_indices()
    labels = np.array(chain.labels, dtype=str)
    coords = {"state": labels}
    attrs = {"title": f"charme cme: {chain.name}", "solver": "cme", "model": chain.name,
             "spec_path": chain.source_path, "spec_text": chain.source_text,
             **provenance(), "n_states": A.shape[0], "Conventions": "CF-1.8"}  # fmt: skip
    if steady_state:
        pi, residual, how = stationary(A, lambda i: repr(str(labels[i])))
        attrs.update(method=how, residual_l1=residual, steady_state=1,
                     wall_time_s=time.perf_counter() - started)  # fmt: skip
        return Result("cme", coords, {"p": (("state",), pi)}, attrs,
                      {"p": {"long_name": "stationary probability of each state"}})  # fmt: skip
    if st.get("t_end") is None:
        raise SpecError("t_end is not set: give --t-end or 'cme: {t_end: ...}' in the spec")
    gen = Generator(A.indptr.astype(np.int64), A.indices.astype(np.int32), A.data.astype(float),
                    np.zeros(A.shape[0]))  # fmt: skip
    times = np.linspace(0.0, float(st["t_end"]), int(st["points"]))
    chosen = st["method"] if st["method"] != "auto" else choose_method(gen, times[-1])
    P, err = METHODS[chosen](gen, chain.initial, times, float(st["tol"]))
    negative = np.clip(-P, 0.0, None).sum(axis=1)
    P = np.clip(P, 0.0, None)
    safety = KRYLOV_SAFETY if chosen == "krylov" else 1.0
    error = safety * err + negative + np.abs(1.0 - P.sum(axis=1))
    attrs.update(method=chosen, tol=float(st["tol"]), steady_state=0, t_end=float(times[-1]),
                 points=len(times), wall_time_s=time.perf_counter() - started, matvecs=gen.matvecs)  # fmt: skip
    return Result(
        "cme", {"time": times, **coords},
        {"p": (("time", "state"), P), "fsp_error": (("time",), error)}, attrs,
        {"p": {"long_name": "probability of each state"},
         "fsp_error": {"long_name": "estimated L1 error of the integration (no truncation)"}},
    )  # fmt: skip
