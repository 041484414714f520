"""SBML and Antimony import: each semantic rule, and each refusal."""

import numpy as np
import pytest

import charme
from charme.errors import SpecError
from charme.spec.sbml import network_from_sbml_string

HEAD = """<?xml version="1.0" encoding="UTF-8"?>
<sbml xmlns="http://www.sbml.org/sbml/level3/version1/core" level="3" version="1">
  <model id="m">
"""
TAIL = """  </model>
</sbml>
"""
MATH = '<math xmlns="http://www.w3.org/1998/Math/MathML">{}</math>'


def ci(name):
    return f"<ci>{name}</ci>"


def cn(v):
    return f"<cn>{v}</cn>"


def apply(op, *args):
    return f"<apply><{op}/>{''.join(args)}</apply>"


def compartment(cid="C", size="1"):
    size_attr = f' size="{size}"' if size is not None else ""
    return f'<compartment id="{cid}"{size_attr} constant="true"/>'


def species(
    sid, amount=None, conc=None, only_substance=True, boundary=False, constant=False, comp="C"
):
    init = f' initialAmount="{amount}"' if amount is not None else ""
    init += f' initialConcentration="{conc}"' if conc is not None else ""
    return (
        f'<species id="{sid}" compartment="{comp}"{init} hasOnlySubstanceUnits="{str(only_substance).lower()}" '
        f'boundaryCondition="{str(boundary).lower()}" constant="{str(constant).lower()}"/>'
    )


def param(pid, value, constant=True):
    return f'<parameter id="{pid}" value="{value}" constant="{str(constant).lower()}"/>'


def reaction(rid, reactants, products, law, local="", extra="", reversible=False):
    def refs(items):
        return "".join(
            f'<speciesReference species="{s}" stoichiometry="{n}" constant="true"/>'
            for s, n in items
        )

    r = f"<listOfReactants>{refs(reactants)}</listOfReactants>" if reactants else ""
    p = f"<listOfProducts>{refs(products)}</listOfProducts>" if products else ""
    loc = f"<listOfLocalParameters>{local}</listOfLocalParameters>" if local else ""
    return (
        f'<reaction id="{rid}" reversible="{str(reversible).lower()}" fast="false"{extra}>{r}{p}'
        f"<kineticLaw>{MATH.format(law)}{loc}</kineticLaw></reaction>"
    )


def model(compartments="", species_="", params="", reactions="", rules="", events="", functions=""):
    body = ""
    if functions:
        body += f"<listOfFunctionDefinitions>{functions}</listOfFunctionDefinitions>"
    body += f"<listOfCompartments>{compartments or compartment()}</listOfCompartments>"
    body += f"<listOfSpecies>{species_}</listOfSpecies>"
    if params:
        body += f"<listOfParameters>{params}</listOfParameters>"
    if rules:
        body += f"<listOfRules>{rules}</listOfRules>"
    body += f"<listOfReactions>{reactions}</listOfReactions>"
    if events:
        body += f"<listOfEvents>{events}</listOfEvents>"
    return HEAD + body + TAIL


def read(text):
    return network_from_sbml_string(text, "m.xml")


def propensities(net):
    from charme.kernels import compile_network, propensity

    c, x0 = compile_network(net)
    stack = np.zeros(max(c.stack_size, 1))
    return [propensity(c, j, x0, stack) for j in range(net.n_reactions)]


DEATH = reaction("d", [("X", 1)], [], apply("times", ci("k"), ci("X")))


def test_kinetic_law_and_stoichiometry():
    net = read(
        model(
            species_=species("X", 10) + species("Y", 0),
            params=param("k", 0.5),
            reactions=reaction(
                "r", [("X", 2)], [("Y", 3)], apply("times", ci("k"), ci("X"), ci("X"))
            ),
        )
    )
    assert net.reactions[0].reactants == (("X", 2),)
    assert net.change(0) == {"X": -2, "Y": 3}
    assert propensities(net) == [pytest.approx(0.5 * 100)]


def test_local_parameter_shadows_global():
    local = '<localParameter id="k" value="2"/>'
    net = read(model(species_=species("X", 10), params=param("k", 0.5),
                     reactions=reaction("d", [("X", 1)], [], apply("times", ci("k"), ci("X")), local=local)))  # fmt: skip
    assert propensities(net) == [pytest.approx(20.0)]


def test_boundary_and_constant_species_are_not_changed():
    net = read(
        model(
            species_=species("S", 5, boundary=True) + species("K", 3, boundary=True, constant=True)
            + species("X", 0),
            reactions=reaction("r", [("S", 1), ("K", 1)], [("X", 1)], apply("times", ci("S"), ci("K"))),
        )
    )  # fmt: skip
    assert net.boundary == {"S", "K"}
    assert net.change(0) == {"X": 1}
    r = charme.simulate(net, t_end=1, points=3, runs=50, seed=1)
    species_ = list(r.coords["species"])
    assert (r["mean"][:, species_.index("S")] == 5).all()
    assert (r["mean"][:, species_.index("K")] == 3).all()
    assert r["mean"][-1, species_.index("X")] > 5


def test_concentration_species_in_non_unit_compartment():
    net = read(
        model(
            compartments=compartment("C", "2.5"),
            species_=species("X", conc=4, only_substance=False),
            params=param("k", 0.3),
            reactions=DEATH,
        )
    )
    assert net.initial == (10,)  # 4 per volume x 2.5 volumes
    assert propensities(net) == [pytest.approx(0.3 * 10 / 2.5)]


def test_amount_species_in_non_unit_compartment():
    net = read(model(compartments=compartment("C", "2.5"), species_=species("X", 10),
                     params=param("k", 0.3), reactions=DEATH))  # fmt: skip
    assert propensities(net) == [pytest.approx(3.0)]


def test_compartment_size_usable_in_laws():
    law = apply("times", ci("C"), ci("k"), ci("X"))
    net = read(model(compartments=compartment("C", "3"), species_=species("X", 10),
                     params=param("k", 0.5), reactions=reaction("d", [("X", 1)], [], law)))  # fmt: skip
    assert propensities(net) == [pytest.approx(15.0)]


def test_assignment_rule_inlined_recorded_and_initial():
    rules = f'<assignmentRule variable="y">{MATH.format(apply("times", cn(2), ci("X")))}</assignmentRule>'
    law = apply("times", ci("k"), ci("y"))
    net = read(
        model(
            species_=species("X", 10),
            params=param("k", 0.1) + param("y", 0, constant=False),
            rules=rules,
            reactions=reaction("d", [("X", 1)], [], law),
        )
    )
    assert propensities(net) == [pytest.approx(0.1 * 20)]
    r = charme.simulate(net, t_end=2, points=3, runs=100, seed=1, save_trajectories=True)
    assert list(r.coords["species"]) == ["X", "y"]
    traj = r["trajectories"]
    assert traj[0, 0, 1] == 20.0  # the rule gives the initial value too
    np.testing.assert_array_equal(traj[:, :, 1], 2 * traj[:, :, 0])


def test_function_definitions_are_inlined():
    fn = (
        '<functionDefinition id="f"><math xmlns="http://www.w3.org/1998/Math/MathML">'
        "<lambda><bvar><ci>a</ci></bvar><bvar><ci>b</ci></bvar>"
        + apply("times", ci("a"), ci("b"))
        + "</lambda></math></functionDefinition>"
    )
    law = "<apply><ci>f</ci><ci>k</ci><ci>X</ci></apply>"
    net = read(model(functions=fn, species_=species("X", 10), params=param("k", 0.25),
                     reactions=reaction("d", [("X", 1)], [], law)))  # fmt: skip
    assert propensities(net) == [pytest.approx(2.5)]


def event(trigger, assignments, initial="false", extra=""):
    ea = "".join(
        f'<eventAssignment variable="{v}">{MATH.format(val)}</eventAssignment>'
        for v, val in assignments
    )
    return (
        f'<event id="e" useValuesFromTriggerTime="true">'
        f'<trigger initialValue="{initial}" persistent="true">{MATH.format(trigger)}</trigger>'
        f"{extra}<listOfEventAssignments>{ea}</listOfEventAssignments></event>"
    )


TIME = '<csymbol encoding="text" definitionURL="http://www.sbml.org/sbml/symbols/time">t</csymbol>'


@pytest.mark.parametrize("op", ["geq", "gt"])
def test_time_event_is_hit_exactly(op):
    ev = event(apply(op, TIME, cn(2.5)), [("X", cn(100))])
    net = read(model(species_=species("X", 0), params=param("k", 0.0), reactions=DEATH, events=ev))
    r = charme.simulate(net, t_end=5, points=11, runs=20, seed=1, save_trajectories=True)
    traj = r["trajectories"][:, :, 0]
    assert (traj[:, :5] == 0).all()  # t < 2.5
    assert (traj[:, 5:] == 100).all()  # t >= 2.5: right-continuous, fired at 2.5 exactly


def test_state_event_fires_on_rising_edge_only():
    # X grows from 0; when X > 5 it is reset to 0, so it never exceeds 6
    birth = reaction("b", [], [("X", 1)], ci("k"))
    ev = event(apply("gt", ci("X"), cn(5)), [("X", cn(0))])
    net = read(model(species_=species("X", 0), params=param("k", 10.0), reactions=birth, events=ev))
    r = charme.simulate(net, t_end=10, points=101, runs=50, seed=2, save_trajectories=True)
    traj = r["trajectories"][:, :, 0]
    assert traj.max() <= 5
    assert traj[:, 50:].min() == 0 or traj.max() == 5


def test_event_initial_value_false_fires_at_start():
    ev = event(apply("geq", TIME, cn(0)), [("X", cn(7))], initial="false")
    net = read(model(species_=species("X", 0), params=param("k", 0.0), reactions=DEATH, events=ev))
    r = charme.simulate(net, t_end=1, points=2, runs=3, seed=1)
    assert (r["mean"][:, 0] == 7).all()
    ev = event(apply("geq", TIME, cn(0)), [("X", cn(7))], initial="true")
    net = read(model(species_=species("X", 0), params=param("k", 0.0), reactions=DEATH, events=ev))
    r = charme.simulate(net, t_end=1, points=2, runs=3, seed=1)
    assert (r["mean"][:, 0] == 0).all()


def test_antimony(tmp_path):
    ant = tmp_path / "m.ant"
    ant.write_text(
        "function f(a, b)\n  a*b\nend\n"
        "model m\n  compartment C = 2;\n  species X in C = 5;\n  species $S in C = 3;\n"
        "  k = 0.5;\n  J1: S -> X; f(k, S);\n  J2: X -> ; k*X;\n  y := X + 1;\n"
        "  at (time >= 3): X = 0;\nend\n"
    )
    net = charme.load(ant)
    assert net.species == ("X", "S") and net.initial == (10, 6)
    assert net.boundary == {"S"}
    assert [n for n, _ in net.rules] == ["y"]
    assert len(net.events) == 1
    assert any("reversible" in w for w in net.warnings)
    assert propensities(net) == [pytest.approx(0.5 * 3), pytest.approx(0.5 * 5)]
    assert "J1" in net.summary()


@pytest.mark.parametrize(
    "text, message",
    [
        ("<sbml", "invalid XML"),
        ("not xml at all", "invalid XML"),
        (HEAD + "<listOfSpecies><species/></listOfSpecies>" + TAIL, "invalid SBML"),
        (model(species_=species("X", 2.5), params=param("k", 1), reactions=DEATH), "whole number"),
        (model(species_=species("X", 10), params=param("k", 1),
               reactions=reaction("d", [("X", 1)], [], apply("times", ci("k"), ci("Q")))), "consistency"),
        (model(species_=species("X", 10), params=param("k", 1),
               reactions=reaction("d", [("X", 1)], [], apply("times", ci("k"), TIME))), "depends on time"),
        (model(species_=species("X", 10), params=param("k", 1, constant=False), reactions=DEATH,
               rules=f'<rateRule variable="k">{MATH.format(cn(1))}</rateRule>'), "rate rules"),
        (model(species_=species("X", 10), params=param("k", 1) + param("z", 1, constant=False), reactions=DEATH,
               rules=f"<algebraicRule>{MATH.format(apply('minus', ci('z'), cn(1)))}</algebraicRule>"), "algebraic"),
        (model(species_=species("X", 10), params=param("k", 1),
               reactions=reaction("d", [("X", 1)], [], apply("times", ci("k"), ci("X"))).replace('fast="false"', 'fast="true"')),
         "fast"),
        (model(species_=species("X", 10), params=param("k", 1), reactions=DEATH,
               events=event(apply("gt", ci("X"), cn(5)), [("X", cn(0))], extra=f"<delay>{MATH.format(cn(1))}</delay>")),
         "delay"),
        (model(species_=species("X", 10), params=param("k", 1), reactions=DEATH,
               events=event(apply("gt", ci("X"), cn(5)), [("X", cn(0))], extra=f"<priority>{MATH.format(cn(1))}</priority>")),
         "priorit"),
        (model(species_=species("X", 10), params=param("k", 1, constant=False), reactions=DEATH,
               events=event(apply("gt", ci("X"), cn(5)), [("k", cn(0))])), "may only set species"),
        (model(species_=species("X", 10), params=param("k", 1), reactions=DEATH,
               events=event(apply("gt", apply("sin", TIME), cn(0)), [("X", cn(0))])), "time may only"),
        (model(compartments=compartment("C", None), species_=species("X", conc=1, only_substance=False),
               params=param("k", 1), reactions=DEATH), "size"),
        (model(species_=species("X", 10), params=param("k", 1),
               reactions=reaction("d", [("X", 1)], [], apply("times", ci("k"), ci("X"))).replace(
                   'stoichiometry="1"', 'stoichiometry="1.5"')), "stoichiometry"),
    ],
)  # fmt: skip
def test_refusals_are_clear(text, message):
    with pytest.raises(SpecError) as info:
        net = read(text)
        charme.simulate(net, t_end=1, runs=1, seed=1)  # some refusals come at compile time
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_sbml_packages_are_refused():
    text = model(species_=species("X", 1), params=param("k", 1), reactions=DEATH).replace(
        'level="3" version="1">',
        'xmlns:distrib="http://www.sbml.org/sbml/level3/version1/distrib/version1" level="3" '
        'version="1" distrib:required="true">',
    )
    with pytest.raises(SpecError, match="package 'distrib' is not supported"):
        read(text)


def test_refusal_names_element_and_line():
    text = model(species_=species("X", 10), params=param("k", 1, constant=False), reactions=DEATH,
                 rules=f'<rateRule variable="k">{MATH.format(cn(1))}</rateRule>')  # fmt: skip
    with pytest.raises(SpecError) as info:
        read(text)
    err = info.value
    assert err.file == "m.xml" and err.line is not None and "rateRule" in err.field


def test_cli_bad_sbml_exit_2_nothing_written(tmp_path):
    from click.testing import CliRunner

    from charme.cli.main import cli

    bad = tmp_path / "bad.xml"
    bad.write_text(model(species_=species("X", 2.5), params=param("k", 1), reactions=DEATH))
    out = tmp_path / "o.nc"
    res = CliRunner().invoke(cli, ["ssa", str(bad), "--t-end", "1", "-o", str(out)])
    assert res.exit_code == 2 and "whole number" in res.output
    assert not out.exists()
    bad_ant = tmp_path / "bad.ant"
    bad_ant.write_text("model m\n  X -> ; k*\nend\n")
    res = CliRunner().invoke(cli, ["validate", str(bad_ant)])
    assert res.exit_code == 2 and "Antimony" in res.output
