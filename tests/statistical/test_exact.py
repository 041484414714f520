"""SSA ensembles against exact means and variances.

At every output time with sigma_t > 0 we compute, as the DSMTS protocol does,

    Z_t = sqrt(n) (m_t - mu_t) / sigma_t           (~ N(0, 1) for large n)
    Y_t = sqrt(n/2) (s2_t / sigma_t^2 - 1)         (~ N(0, 1 + kappa/2), kappa small here)

and require |Z_t| < 4.5 and |Y_t| < 6.  Per check the chance that a correct
simulator fails is about 7e-6 (Z) and below 1e-6 (Y); over the ~150 checks of
this file the false-failure rate is about 1e-3 for an arbitrary seed.  Seeds
are fixed, so the outcome is reproducible.
"""

import math

import numpy as np
import pytest

import charme

RUNS = 10_000
Z_MAX = 4.5
Y_MAX = 6.0


def check_moments(result, species, mu, var):
    i = list(result.coords["species"]).index(species)
    m = result["mean"][:, i]
    s2 = result["sd"][:, i] ** 2
    n = result.attrs["runs_completed"]
    assert n == RUNS
    exact = var == 0
    np.testing.assert_allclose(m[exact], mu[exact])
    np.testing.assert_allclose(s2[exact], 0.0, atol=1e-12)
    sig = np.sqrt(var[~exact])
    z = math.sqrt(n) * (m[~exact] - mu[~exact]) / sig
    y = math.sqrt(n / 2) * (s2[~exact] / sig**2 - 1)
    assert np.abs(z).max() < Z_MAX, f"max |Z| = {np.abs(z).max():.2f}"
    assert np.abs(y).max() < Y_MAX, f"max |Y| = {np.abs(y).max():.2f}"


def test_immigration_death_is_poisson():
    net = charme.loads(
        "species: {A: 0}\nparameters: {k: 10, d: 0.1}\n"
        'reactions:\n  - {eq: "0 -> A", rate: k}\n  - {eq: "A -> 0", rate: d}\n'
    )
    r = charme.simulate(net, t_end=50, points=51, runs=RUNS, seed=101)
    t = r.coords["time"]
    lam = 10 / 0.1 * (1 - np.exp(-0.1 * t))
    check_moments(r, "A", lam, lam)


def test_linear_birth_death():
    lam, mu, n0 = 0.1, 0.11, 100
    net = charme.loads(
        f"species: {{A: {n0}}}\nparameters: {{lam: {lam}, mu: {mu}}}\n"
        'reactions:\n  - {eq: "A -> 2 A", rate: lam}\n  - {eq: "A -> 0", rate: mu}\n'
    )
    r = charme.simulate(net, t_end=50, points=51, runs=RUNS, seed=202)
    t = r.coords["time"]
    g = np.exp((lam - mu) * t)
    mean = n0 * g
    var = n0 * (lam + mu) / (lam - mu) * g * (g - 1)
    check_moments(r, "A", mean, var)


@pytest.mark.parametrize("kf, kr", [(1.0, 0.5), (0.2, 2.0)])
def test_isomerisation_is_binomial(kf, kr):
    n_mol = 100
    net = charme.loads(
        f"species: {{A: {n_mol}, B: 0}}\nparameters: {{kf: {kf}, kr: {kr}}}\n"
        'reactions:\n  - {eq: "A -> B", rate: kf}\n  - {eq: "B -> A", rate: kr}\n'
    )
    r = charme.simulate(net, t_end=5, points=26, runs=RUNS, seed=303)
    t = r.coords["time"]
    p = kr / (kf + kr) + kf / (kf + kr) * np.exp(-(kf + kr) * t)
    check_moments(r, "A", n_mol * p, n_mol * p * (1 - p))
    check_moments(r, "B", n_mol * (1 - p), n_mol * p * (1 - p))


def test_dimerisation_conserves_and_rate_law_matches_mass_action():
    """A Hill-free rate law written out by hand gives the same bits as mass action."""
    base = "species: {A: 30, B: 0}\nparameters: {c: 0.02, r: 0.5}\nreactions:\n"
    ma = charme.loads(base + '  - {eq: "2 A -> B", rate: c}\n  - {eq: "B -> 2 A", rate: r}\n')
    law = charme.loads(
        base + '  - {eq: "2 A -> B", propensity: "c*A*(A-1)/2"}\n'
        '  - {eq: "B -> 2 A", propensity: "r*B"}\n'
    )
    r1 = charme.simulate(ma, t_end=10, points=11, runs=500, seed=4, save_trajectories=True)
    r2 = charme.simulate(law, t_end=10, points=11, runs=500, seed=4, save_trajectories=True)
    traj = r1["trajectories"]
    assert (traj[:, :, 0] + 2 * traj[:, :, 1] == 30).all()
    # same propensities up to rounding: the paths agree for the vast majority of runs
    same = (r1["trajectories"] == r2["trajectories"]).all(axis=(1, 2))
    assert same.mean() > 0.95
