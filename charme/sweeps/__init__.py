"""Parameter sweeps: one spec solved over a grid (or list) of parameter values."""

from charme.sweeps.design import Design, make_design, parse_values, parse_vary, read_sweep_file
from charme.sweeps.run import point_seed, sweep

__all__ = ["Design", "make_design", "parse_values", "parse_vary", "point_seed",
           "read_sweep_file", "sweep"]  # fmt: skip
