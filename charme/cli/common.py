"""Helpers shared by the CLI commands: errors, ``--set`` and output checks."""

from __future__ import annotations

import functools
import math
import sys

import click

from charme.errors import SolverError, SpecError

EXIT_OK, EXIT_RUNTIME, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


def fail(message: str, code: int) -> None:
    click.echo(f"charme: error: {message}", err=True)
    sys.exit(code)


def handle_errors(func):
    """Map charme's exceptions to one-line messages and exit statuses."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        import numpy as np

        try:
            # (NumPy's floating-point warnings, overflow in data such as exp(1000 x), are
            # not for the shell: the results and notes say what came of them)
            with np.errstate(all="ignore"):
                return func(*args, **kwargs)
        except SpecError as exc:
            fail(str(exc), EXIT_USAGE)
        except SolverError as exc:
            fail(str(exc), EXIT_RUNTIME)
        except MemoryError:
            fail("out of memory: the problem is too big for this machine (fewer grid points, "
                 "rays, runs or states)", EXIT_USAGE)  # fmt: skip
        except KeyboardInterrupt:
            click.echo("charme: interrupted", err=True)
            sys.exit(EXIT_INTERRUPTED)

    return wrapper


def parse_value(text: str):
    """``"10"`` -> 10, ``"0.5"`` -> 0.5 (int first, then float)."""
    try:
        return int(text)
    except ValueError:
        pass
    try:
        value = float(text)
    except ValueError:
        raise SpecError(f"--set: value {text!r} is not a number") from None
    if not math.isfinite(value):
        raise SpecError(f"--set: value {text!r} is not a finite number")
    return value


def parse_sets(items) -> dict:
    """``("k1=0.5", "A=10")`` -> ``{"k1": 0.5, "A": 10}``."""
    out = {}
    for item in items:
        name, sep, value = item.partition("=")
        name = name.strip()
        if not sep or not name:
            raise SpecError(f"--set expects NAME=VALUE, got {item!r}")
        out[name] = parse_value(value.strip())
    return out


set_option = click.option(
    "--set",
    "sets",
    multiple=True,
    metavar="NAME=VALUE",
    help="Override a parameter (or a network's initial count); repeatable.",
)
overwrite_option = click.option(
    "--overwrite", is_flag=True, help="Replace OUT if it exists (refused otherwise)."
)


def require_kind(problem, command: str, spec) -> None:
    """A SpecError (exit 2) naming the command that solves ``problem`` when ``charme
    command`` (``ssa``, ``cme`` or ``characteristics``) does not."""
    from charme.spec import kind_and_solvers

    kind, solvers = kind_and_solvers(problem)
    if command in solvers:
        return
    by = " or ".join(f"'charme {s}'" for s in solvers) or "no charme command"
    raise SpecError(f"{kind} is solved by {by}, not 'charme {command}'", file=str(spec))
