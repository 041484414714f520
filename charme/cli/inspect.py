"""``charme validate`` and ``charme schema``."""

from __future__ import annotations

import json

import click

from charme.cli.common import handle_errors, parse_sets, set_option


@click.command()
@click.argument("spec", type=click.Path(dir_okay=False))
@set_option
@handle_errors
def validate(spec, sets):
    """Check SPEC and print what it defines (network, chain or PDE).

    Exit status 0 when valid, 2 with a located message (file:line: field:
    problem) when not.
    """
    from charme.spec import load

    network = load(spec, overrides=parse_sets(sets))
    for w in getattr(network, "warnings", ()):
        click.echo(f"charme: note: {w}", err=True)
    from charme.spec.pde import FirstOrderPDE

    if isinstance(network, FirstOrderPDE):  # the data as the solver will use them
        from charme.solvers.characteristics.driver import check_pde
        from charme.solvers.characteristics.symbolic import classify

        rays = check_pde(network)  # (first: its errors are located in the file)
        click.echo(network.summary())
        done = ", the gradient completed on each" if classify(network).charpit else ""
        click.echo(f"  Cauchy data: {rays} rays, transversal{done}")
    else:
        click.echo(network.summary())
    from charme.models.network import ReactionNetwork

    if isinstance(network, ReactionNetwork):
        from charme.solvers.master_equation.statespace import conservation_laws

        laws = conservation_laws(network)
        if laws:
            text = "; ".join(
                " + ".join(f"{c}*{s}" if c != 1 else s for s, c in law.items()) for law in laws
            )
            click.echo(f"  conserved: {text}")


@click.command()
@click.option("--kind", type=click.Choice(["network", "markov-chain", "pde"]), default="network",
              show_default=True, help="Which kind of spec file.")  # fmt: skip
def schema(kind):
    """Print the JSON Schema of spec files of one kind (for editors)."""
    if kind == "network":
        from charme.spec.schema import NetworkSpec as model
    elif kind == "markov-chain":
        from charme.spec.chain import ChainSpec as model
    else:
        from charme.spec.pde import PDESpec as model

    doc = model.model_json_schema()
    doc["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    doc["title"] = f"charme {kind} spec"
    click.echo(json.dumps(doc, indent=2))
