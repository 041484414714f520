"""Call charme's SSA kernel from your own @njit code.

A custom Monte Carlo loop: the probability that a linear birth-death
population (examples/birth_death.yaml, started from 5 individuals) is extinct
by time T, estimated inside one Numba function and compared with the exact
value p0(T)^n0, where for one ancestor
p0(t) = mu (e^{(lambda-mu) t} - 1) / (lambda e^{(lambda-mu) t} - mu).

Run:  python examples/embed_kernel.py [runs]
"""

import math
import sys
from pathlib import Path

import numpy as np
from numba import njit

import charme
from charme.kernels import STATUS_OK, compile_network, root_key, seed_stream, ssa_direct


@njit
def extinction_fraction(net, x0, t_end, runs, root):
    """Fraction of runs with A == 0 at t_end, and the number of failed runs."""
    t_grid = np.array([0.0, t_end])
    out = np.empty((2, x0.shape[0]), np.int64)
    x = np.empty(x0.shape[0], np.int64)
    a = np.empty(net.kind.shape[0])
    stack = np.empty(max(net.stack_size, 1))
    state = np.empty(4, np.uint64)
    extinct = 0
    failed = 0
    for r in range(runs):
        seed_stream(root, r, state)  # run r's own stream: reproducible
        status, _ = ssa_direct(net, x0, t_grid, 10**8, state, out, x, a, stack)
        if status != STATUS_OK:
            failed += 1
        elif out[1, 0] == 0:
            extinct += 1
    return extinct / runs, failed


def main(runs=20000):
    spec = Path(__file__).with_name("birth_death.yaml")
    network = charme.load(spec, overrides={"A": 5})
    net, x0 = compile_network(network)
    lam, mu, t_end = network.parameters["lambda"], network.parameters["mu"], 50.0
    frac, failed = extinction_fraction(net, x0, t_end, runs, root_key(2026))
    g = math.exp((lam - mu) * t_end)
    exact = (mu * (g - 1) / (lam * g - mu)) ** 5
    se = math.sqrt(exact * (1 - exact) / runs)
    print(f"P(extinct by t={t_end:g}): simulated {frac:.4f}, exact {exact:.4f} (se {se:.4f})")
    return frac, exact, se, failed


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 20000)
