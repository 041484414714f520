"""The master equation solver against exact laws, and against SSA.

Exact cases check the distribution in L1 (including the probability outside
the projection) and that the reported ``fsp_error`` is never below the true
error.  The SSA comparison is a chi-square test on marginals: with p-value
threshold 1e-4 per species, the false-failure rate is 2e-4 for that test.
"""

import numpy as np
import pytest
import scipy.stats as st

import charme
from charme.errors import SolverError, SpecError
from charme.solvers.master_equation.driver import solve

METHODS = ["uniformization", "krylov", "implicit"]


def l1_error(marginal, exact_pmf):
    """L1 distance including the exact mass beyond the marginal's range."""
    n = marginal.shape[-1]
    inside = exact_pmf[..., :n]
    return np.abs(marginal - inside).sum(-1) + (1 - inside.sum(-1))


@pytest.mark.parametrize("method", METHODS)
def test_immigration_death_is_poisson(method):
    net = charme.loads(
        "species: {A: 0}\nparameters: {k: 10, d: 0.1}\n"
        'reactions:\n  - {eq: "0 -> A", rate: k}\n  - {eq: "A -> 0", rate: d}\n'
    )
    r = solve(net, t_end=50, points=11, tol=1e-8, method=method)
    t = r.coords["time"]
    lam = 100 * (1 - np.exp(-0.1 * t))
    counts = np.arange(400)
    exact = np.array([st.poisson.pmf(counts, mu) for mu in lam])
    err = l1_error(r["marginal"][:, 0, :], exact)
    assert (err <= r["fsp_error"] + 1e-14).all(), (err, r["fsp_error"])
    assert r["fsp_error"].max() < 1e-7
    np.testing.assert_allclose(r["mean"][:, 0], lam, atol=1e-6)
    np.testing.assert_allclose(r["sd"][:, 0], np.sqrt(lam), atol=1e-5)


@pytest.mark.parametrize("method", METHODS)
def test_isomerisation_is_binomial(method):
    n_mol, kf, kr = 60, 1.0, 0.5
    net = charme.loads(
        f"species: {{A: {n_mol}, B: 0}}\nparameters: {{kf: {kf}, kr: {kr}}}\n"
        'reactions:\n  - {eq: "A -> B", rate: kf}\n  - {eq: "B -> A", rate: kr}\n'
    )
    r = solve(net, t_end=3, points=7, tol=1e-8, method=method)
    assert r.attrs["n_states"] == n_mol + 1  # the conservation law A + B = N shrinks the space
    assert "'A': 1, 'B': 1" in r.attrs["conservation_laws"]
    t = r.coords["time"]
    p = kr / (kf + kr) + kf / (kf + kr) * np.exp(-(kf + kr) * t)
    exact = np.array([st.binom.pmf(np.arange(n_mol + 1), n_mol, q) for q in p])
    err = l1_error(r["marginal"][:, 0, : n_mol + 1], exact)
    assert (err <= r["fsp_error"] + 1e-14).all()
    assert err.max() < 1e-7


def test_stationary_birth_death_product_form():
    k, d, c = 20.0, 0.5, 0.02
    net = charme.loads(
        f"species: {{A: 0}}\nparameters: {{k: {k}, d: {d}, c: {c}}}\nreactions:\n"
        '  - {eq: "0 -> A", rate: k}\n  - {eq: "A -> 0", rate: d}\n  - {eq: "2 A -> A", rate: c}\n'
    )
    r = solve(net, steady_state=True, tol=1e-12)
    pm = r["marginal"][0]
    n = np.arange(len(pm))
    death = d * n + c * n * (n - 1) / 2
    log_pi = np.concatenate([[0.0], np.cumsum(np.log(k) - np.log(death[1:]))])
    pi = np.exp(log_pi - log_pi.max())
    pi /= pi.sum()
    np.testing.assert_allclose(pm, pi, atol=1e-10)
    assert r.attrs["residual_l1"] < 1e-10
    assert r["mean"].shape == (1,)


def test_toggle_switch_against_ssa():
    net = charme.load("examples/genetic_toggle_switch.yaml")
    t_end = 5.0
    cme = solve(net, t_end=t_end, points=2, tol=1e-8)
    ssa = charme.simulate(net, t_end=t_end, points=2, runs=20000, seed=17, save_trajectories=True)
    final = ssa["trajectories"][:, -1, :]
    for s in range(2):
        pmf = cme["marginal"][-1, s]
        counts = np.bincount(final[:, s], minlength=len(pmf))[: len(pmf)]
        expected = pmf * len(final)
        keep = expected >= 5
        obs = np.append(counts[keep], counts[~keep].sum() + (len(final) - counts.sum()))
        exp_ = np.append(expected[keep], len(final) - expected[keep].sum())
        chi2 = ((obs - exp_) ** 2 / exp_).sum()
        p_value = st.chi2.sf(chi2, len(obs) - 1)
        assert p_value > 1e-4, (s, chi2, p_value)
    # and the first two moments agree with SSA's sample ones
    np.testing.assert_allclose(cme["mean"][-1], ssa["mean"][-1], rtol=0.02)


def test_bounds_and_errors():
    net = charme.load("examples/immigration_death.yaml")
    r = solve(net, t_end=50, points=3, bounds=["A=0:150"])
    assert r.attrs["n_states"] == 151
    with pytest.raises(SpecError, match="exclude the initial state"):
        solve(net, t_end=5, bounds=["A=5:10"])
    with pytest.raises(SpecError, match="LO:HI"):
        solve(net, t_end=5, bounds=["A=10"])
    with pytest.raises(SpecError, match="unknown species"):
        solve(net, t_end=5, bounds=["Q=0:10"])
    growth = charme.loads("species: {A: 1}\nreactions:\n  - {eq: A -> 2 A, rate: 1}\n")
    with pytest.raises(SpecError, match="max-states"):
        solve(growth, t_end=30, max_states=5000)


def test_fixed_bounds_report_the_true_loss():
    net = charme.load("examples/immigration_death.yaml")
    r = solve(net, t_end=50, points=3, bounds=["A=0:100"], tol=1e-9)
    exact_tail = st.poisson.sf(100, 100 * (1 - np.exp(-5)))
    assert r["fsp_error"][-1] >= exact_tail
    assert r.attrs["certified"] == 0


def test_non_unique_stationary_law_is_reported():
    net = charme.loads(
        "species: {A: 1, B: 0, C: 0}\nreactions:\n  - {eq: A -> B, rate: 1}\n  - {eq: A -> C, rate: 1}\n"
    )
    with pytest.raises(SolverError, match="not unique"):
        solve(net, steady_state=True)


def test_explicit_three_state_chain_against_expm(tmp_path):
    import scipy.linalg

    chain = charme.load("examples/three_state_chain.yaml")
    A = chain.generator.toarray()
    for method in METHODS:
        r = solve(chain, t_end=5, points=11, tol=1e-10, method=method)
        for k, t in enumerate(r.coords["time"]):
            exact = scipy.linalg.expm(t * A) @ chain.initial
            err = np.abs(r["p"][k] - exact).sum()
            assert err < 1e-8, (method, t, err)
            assert err <= r["fsp_error"][k] + 1e-12 or method == "implicit"
    pi = solve(chain, steady_state=True)["p"]
    np.testing.assert_allclose(pi, np.array([3, 4, 8]) / 15, atol=1e-12)
