"""``charme convert``: between charme specs, SBML and Antimony."""

from __future__ import annotations

import click

from charme.cli.common import handle_errors, overwrite_option


@click.command()
@click.argument("model", type=click.Path(dir_okay=False))
@click.option(
    "-o", "--output", "out", required=True, type=click.Path(dir_okay=False),
    help="Output: .yaml/.yml or .json (charme spec), .xml/.sbml (SBML L3V1).",
)  # fmt: skip
@overwrite_option
@handle_errors
def convert(model, out, overwrite):
    """Convert MODEL (spec, SBML or Antimony) to a charme spec or to SBML.

    SBML and Antimony models become an editable YAML/JSON spec with the same
    dynamics (concentrations turned into counts, rules and events kept).
    A spec becomes SBML Level 3 in amounts, one compartment of size 1:
    every construct charme has maps to SBML, so nothing is lost.
    """
    from charme.spec import load
    from charme.spec.export import write_network

    network = load(model)
    for w in getattr(network, "warnings", ()):
        click.echo(f"charme: note: {w}", err=True)
    path = write_network(network, out, overwrite=overwrite)
    click.echo(f"wrote {path}", err=True)
