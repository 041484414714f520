from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import charme
from charme.cli.main import cli
from charme.kernels import compile_network, propensity

ROOT = Path(__file__).resolve().parents[2]
DSMTS = ROOT / "tests" / "data" / "dsmts"


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def props(net, x):
    c, _ = compile_network(net)
    stack = np.zeros(max(c.stack_size, 1))
    return np.array(
        [propensity(c, j, np.asarray(x, np.int64), stack) for j in range(net.n_reactions)]
    )


@pytest.mark.parametrize("case", ["00011", "00019", "00024", "00028", "00033"])
def test_sbml_to_yaml_keeps_the_dynamics_bit_for_bit(case, tmp_path):
    xml = DSMTS / case / f"{case}-sbml-l3v1.xml"
    out = tmp_path / "m.yaml"
    assert run("convert", xml, "-o", out).exit_code == 0
    a, b = charme.load(xml), charme.load(out)
    assert a.species == b.species and a.initial == b.initial
    assert a.boundary == b.boundary and len(a.events) == len(b.events)
    ra = charme.simulate(a, t_end=50, points=11, runs=200, seed=3, threads=1)
    rb = charme.simulate(b, t_end=50, points=11, runs=200, seed=3, threads=1)
    assert list(ra.coords["species"]) == list(rb.coords["species"])
    np.testing.assert_array_equal(ra["mean"], rb["mean"])
    np.testing.assert_array_equal(ra["sd"], rb["sd"])


@pytest.mark.parametrize(
    "spec",
    sorted(
        p.name
        for p in (ROOT / "examples").iterdir()
        if p.suffix in (".yaml", ".json", ".toml")
        and "markov-chain" not in p.read_text()
        and "kind: pde" not in p.read_text()
    ),
)
def test_spec_to_sbml_and_back(spec, tmp_path):
    src = ROOT / "examples" / spec
    xml = tmp_path / "m.xml"
    back = tmp_path / "back.yaml"
    assert run("convert", src, "-o", xml).exit_code == 0
    assert run("convert", xml, "-o", back).exit_code == 0
    a, b, c = charme.load(src), charme.load(xml), charme.load(back)
    assert a.species == b.species == c.species and a.initial == b.initial == c.initial
    rng = np.random.default_rng(0)
    for _ in range(5):
        x = rng.integers(0, 60, size=a.n_species)
        np.testing.assert_allclose(props(b, x), props(a, x), rtol=1e-12)
        np.testing.assert_allclose(props(c, x), props(a, x), rtol=1e-12)


def test_events_and_rules_survive_sbml(tmp_path):
    spec = tmp_path / "ev.yaml"
    spec.write_text(
        "species: {X: 0}\nparameters: {a: 1, mu: 0.1}\nreactions:\n"
        "  - {eq: 0 -> X, rate: a}\n  - {eq: X -> 0, rate: mu}\n"
        "rules: {y: 2*X + 1}\n"
        "events:\n  - {trigger: time >= 25, assign: {X: 50}, initial_value: false, name: reset}\n"
    )
    xml = tmp_path / "ev.xml"
    assert run("convert", spec, "-o", xml).exit_code == 0
    net = charme.load(xml)
    assert [n for n, _ in net.rules] == ["y"] and net.events[0].label == "reset"
    r = charme.simulate(net, t_end=30, points=31, runs=100, seed=1)
    assert r["mean"][25, 0] == 50 and r["mean"][25, 1] == 101


def test_antimony_to_yaml(tmp_path):
    ant = tmp_path / "m.ant"
    ant.write_text("model m\n  X = 5;\n  k = 0.5;\n  J: X => ; k*X;\nend\n")
    out = tmp_path / "m.yaml"
    assert run("convert", ant, "-o", out).exit_code == 0
    assert charme.load(out).initial == (5,)


def test_convert_refuses_chains(tmp_path):
    res = run("convert", ROOT / "examples" / "three_state_chain.yaml", "-o", tmp_path / "c.xml")
    assert res.exit_code == 2 and "markov-chain or PDE" in res.output


def test_convert_refusals(tmp_path):
    src = ROOT / "examples" / "toggle.yaml"
    existing = tmp_path / "x.yaml"
    existing.write_text("keep")
    res = run("convert", src, "-o", existing)
    assert res.exit_code == 2 and existing.read_text() == "keep"
    res = run("convert", src, "-o", tmp_path / "x.pdf")
    assert res.exit_code == 2 and "cannot write" in res.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.yaml"]
