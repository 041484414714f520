"""charme: fast solvers for Markov jump processes and first-order PDEs.

Public API (imported lazily so that ``import charme`` stays light):

- :func:`charme.load` / :func:`charme.loads`: read a spec into a problem.
- :func:`charme.simulate`: exact SSA ensemble of a reaction network.
- :func:`charme.solve_cme`: master equation (FSP) of a network or explicit chain.
- :func:`charme.solve_pde`: first-order PDE by the method of characteristics.
- :func:`charme.sweep`: solve one spec over a grid of parameter values.
- :func:`charme.open_result`: read a result file written by charme.
- :class:`charme.Result`: what every solver returns (``.write``, ``.to_xarray``).
- :mod:`charme.kernels`: the ``@njit`` kernels for users' own Numba code.
"""

from charme._version import __version__

_LAZY = {
    "load": ("charme.spec", "load"),
    "loads": ("charme.spec", "loads"),
    "simulate": ("charme.solvers.gillespie.driver", "simulate"),
    "solve_cme": ("charme.solvers.master_equation.driver", "solve"),
    "solve_pde": ("charme.solvers.characteristics.driver", "solve_pde"),
    "sweep": ("charme.sweeps", "sweep"),
    "open_result": ("charme.results.reader", "open_result"),
    "Result": ("charme.results.result", "Result"),
    "SpecError": ("charme.errors", "SpecError"),
    "SolverError": ("charme.errors", "SolverError"),
    "kernels": ("charme.kernels", None),
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name):
    if name not in _LAZY:
        raise AttributeError(f"module 'charme' has no attribute {name!r}")
    import importlib

    module, attr = _LAZY[name]
    mod = importlib.import_module(module)
    value = mod if attr is None else getattr(mod, attr)
    globals()[name] = value
    return value
