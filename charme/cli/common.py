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
        try:
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
