"""The ``charme`` command: a Click group whose commands load lazily.

Only Click is imported at start-up so that ``charme --help`` answers at
once; numba, numpy and the writers are imported inside the commands.
"""

from __future__ import annotations

import importlib
import sys

import click

from charme._version import __version__

#: command name -> "module:function"
COMMANDS = {
    "ssa": ("charme.cli.ssa:ssa", "Simulate exact stochastic trajectories (Gillespie)."),
    "characteristics": (
        "charme.cli.characteristics:characteristics",
        "Solve a first-order PDE by the method of characteristics.",
    ),
    "moc": ("charme.cli.characteristics:characteristics", "Alias of 'characteristics'."),
    "cme": ("charme.cli.cme:cme", "Solve the master equation (finite state projection)."),
    "sweep": ("charme.cli.sweep:sweep", "Solve a spec over a grid of parameter values."),
    "plot": ("charme.cli.plot:plot", "Plot a result file (needs charme[plot])."),
    "info": ("charme.cli.info:info", "Print what a result file holds."),
    "convert": ("charme.cli.convert:convert", "Convert between spec files, SBML and Antimony."),
    "validate": ("charme.cli.inspect:validate", "Check a spec file and print what it defines."),
    "schema": ("charme.cli.inspect:schema", "Print the JSON Schema of spec files."),
}


class LazyGroup(click.Group):
    """A group that imports a command's module only when it is run."""

    def list_commands(self, ctx):
        return list(COMMANDS)

    def get_command(self, ctx, name):
        if name not in COMMANDS:
            return None
        target, _ = COMMANDS[name]
        module, attr = target.split(":")
        return getattr(importlib.import_module(module), attr)

    def format_commands(self, ctx, formatter):
        rows = [(name, help_) for name, (_, help_) in COMMANDS.items()]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="charme")
def cli():
    """charme: exact stochastic simulation, master equations and characteristics.

    Run `charme COMMAND --help` for the options of a command.
    """


def main(argv=None):
    """Console-script entry point."""
    try:
        return cli.main(args=argv, prog_name="charme", standalone_mode=True)
    except KeyboardInterrupt:  # pragma: no cover - Click turns most into Abort
        sys.exit(130)


if __name__ == "__main__":  # pragma: no cover
    main()
