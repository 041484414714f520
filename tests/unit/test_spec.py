import textwrap

import pytest

import charme
from charme.errors import SpecError
from charme.spec.network import parse_equation, parse_side

GOOD = textwrap.dedent(
    """\
    name: toggle
    species: {A: 0, B: 10}
    parameters: {k1: 1.0, v: 50, K: 20, n: 2}
    reactions:
      - {eq: "A + B -> C", rate: k1}
      - {eq: "0 -> A", propensity: "v*K^n/(K^n + B^n)"}
      - {eq: "2 A -> 0", rate: 0.01}
    ssa: {t_end: 50, points: 51, runs: 1000, seed: 1}
    """
)


def write(tmp_path, text, name="model.yaml"):
    p = tmp_path / name
    p.write_text(text)
    return p


@pytest.mark.parametrize(
    "side, expected",
    [
        ("A + B", (("A", 1), ("B", 1))),
        ("2 A", (("A", 2),)),
        ("2A", (("A", 2),)),
        ("2*A + B", (("A", 2), ("B", 1))),
        ("A + A", (("A", 2),)),
        ("0", ()),
        ("", ()),
        ("  ", ()),
        ("X_1 + 3 Y2", (("X_1", 1), ("Y2", 3))),
    ],
)
def test_parse_side(side, expected):
    assert parse_side(side) == expected


@pytest.mark.parametrize(
    "eq", ["A + -> B", "A B -> C", "A -> B -> C", "A = B", "0 A -> B", "A+", "1.5 A -> B"]
)
def test_malformed_equations(eq):
    with pytest.raises(SpecError):
        parse_equation(eq)


def test_reversible_arrow_is_explained():
    with pytest.raises(SpecError, match="two reactions"):
        parse_equation("A <-> B")


def test_issue_example_loads(tmp_path):
    net = charme.load(write(tmp_path, GOOD))
    assert net.species == ("A", "B", "C")
    assert net.initial == (0, 10, 0)
    assert net.reactions[2].reactants == (("A", 2),)
    assert net.settings["runs"] == 1000
    assert any("'C'" in w for w in net.warnings)


def test_same_network_from_yaml_toml_json(tmp_path):
    yaml_net = charme.load(write(tmp_path, GOOD))
    toml = textwrap.dedent(
        """\
        name = "toggle"
        species = {A = 0, B = 10}
        parameters = {k1 = 1.0, v = 50, K = 20, n = 2}
        reactions = [
          {eq = "A + B -> C", rate = "k1"},
          {eq = "0 -> A", propensity = "v*K^n/(K^n + B^n)"},
          {eq = "2 A -> 0", rate = 0.01},
        ]
        ssa = {t_end = 50, points = 51, runs = 1000, seed = 1}
        """
    )
    json_text = """{"name": "toggle", "species": {"A": 0, "B": 10},
      "parameters": {"k1": 1.0, "v": 50, "K": 20, "n": 2},
      "reactions": [{"eq": "A + B -> C", "rate": "k1"},
                    {"eq": "0 -> A", "propensity": "v*K^n/(K^n + B^n)"},
                    {"eq": "2 A -> 0", "rate": 0.01}],
      "ssa": {"t_end": 50, "points": 51, "runs": 1000, "seed": 1}}"""
    for net in (
        charme.load(write(tmp_path, toml, "m.toml")),
        charme.load(write(tmp_path, json_text, "m.json")),
    ):
        assert net.species == yaml_net.species
        assert net.initial == yaml_net.initial
        assert dict(net.parameters) == dict(yaml_net.parameters)
        assert net.reactions == yaml_net.reactions
        assert dict(net.settings) == dict(yaml_net.settings)


# (replacement of a line of GOOD, expected line, expected field, expected message part)
BAD = [
    ('      - {eq: "A + B -> C", rate: kk}', 5, "reactions[0].rate", "unknown name 'kk'"),
    ('      - {eq: "A + Q -> C", rate: k1}', 5, "reactions[0].eq", "unknown species 'Q'"),
    ('      - {eq: "A + B => C", rate: k1}', 5, "reactions[0].eq", "malformed"),
    ('      - {eq: "A + B -> C", rate: k1, colour: red}', 5, "reactions[0].colour", "unknown key"),
    ('      - {eq: "A + B -> C"}', 5, "reactions[0]", "exactly one"),
    ('      - {eq: "A + B -> C", rate: k1, propensity: k1}', 5, "reactions[0]", "exactly one"),
    (
        '      - {eq: "A + B -> C", rate: "__import__(\'os\')"}',
        5,
        "reactions[0].rate",
        "not allowed",
    ),
    ('      - {eq: "A + B -> C", rate: "k1*A"}', 5, "reactions[0].rate", "cannot read species"),
    (
        '      - {eq: "0 -> A", propensity: "v*K^n/(K^n + Z^n)"}',
        6,
        "reactions[1].propensity",
        "unknown name 'Z'",
    ),
    ("    species: {A: -1, B: 10}", 2, "species.A", "greater than or equal to 0"),
    ("    species: {A: 1.5, B: 10}", 2, "species", "integer"),
    ("    ssa: {t_end: 0, points: 51, runs: 1000, seed: 1}", 8, "ssa.t_end", "greater than 0"),
    ("    ssa: {t_end: -5, points: 51, runs: 1000, seed: 1}", 8, "ssa.t_end", "greater than 0"),
    ("    ssa: {t_end: 50, points: 51, runs: 10.5, seed: 1}", 8, "ssa.runs", "integer"),
    ("    ssa: {t_end: 50, points: 51, runs: many, seed: 1}", 8, "ssa.runs", "integer"),
    (
        "    ssa: {t_end: 50, points: 1, runs: 10, seed: 1}",
        8,
        "ssa.points",
        "greater than or equal to 2",
    ),
    ("    ssa: {t_end: 50, points: 51, runs: 10, method: fast}", 8, "ssa.method", "direct"),
    ("    parameters: {k1: one, v: 50, K: 20, n: 2}", 3, "parameters.k1", "number"),
    (
        "    parameters: {B: 1.0, k1: 1, v: 50, K: 20, n: 2}",
        3,
        "parameters.B",
        "both a species and a parameter",
    ),
    ("    parameters: {exp: 1.0, k1: 1, v: 50, K: 20, n: 2}", 3, "parameters.exp", "function name"),
    ("    nmae: toggle", 1, "nmae", "unknown key"),
]


@pytest.mark.parametrize("line, lineno, field, message", BAD)
def test_bad_input_is_located(tmp_path, line, lineno, field, message):
    lines = GOOD.splitlines()
    lines[lineno - 1] = line[4:]  # the table is indented like GOOD before dedent
    path = write(tmp_path, "\n".join(lines) + "\n")
    with pytest.raises(SpecError) as info:
        charme.load(path)
    err = info.value
    assert err.file == str(path)
    assert err.line == lineno, str(err)
    assert err.field == field, str(err)
    assert message in err.message, str(err)
    assert str(err).startswith(f"{path}:{lineno}: {field}: ")
    assert "\n" not in str(err)


def test_bad_toml_and_json_are_located(tmp_path):
    toml = 'name = "x"\nspecies = {A = 1}\n\n[[reactions]]\neq = "A -> 0"\nrate = "kk"\n'
    with pytest.raises(SpecError) as info:
        charme.load(write(tmp_path, toml, "m.toml"))
    assert (info.value.line, info.value.field) == (6, "reactions[0].rate")
    js = '{\n "species": {"A": 1},\n "reactions": [\n  {"eq": "A -> 0", "rate": "kk"}\n ]\n}\n'
    with pytest.raises(SpecError) as info:
        charme.load(write(tmp_path, js, "m.json"))
    assert (info.value.line, info.value.field) == (4, "reactions[0].rate")


@pytest.mark.parametrize(
    "text, name, part",
    [
        ("species: {A: 1\n", "m.yaml", "invalid YAML"),
        ("species: {A: 1}\nspecies: {B: 2}\n", "m.yaml", "duplicate key"),
        ("[1, 2]\n", "m.yaml", "mapping"),
        ('{"species": }', "m.json", "invalid JSON"),
        ("species = {A = }", "m.toml", "invalid TOML"),
        ("species: {A: 1}", "m.txt", "unknown spec file type"),
    ],
)
def test_unreadable_files(tmp_path, text, name, part):
    with pytest.raises(SpecError, match=part):
        charme.load(write(tmp_path, text, name))


def test_missing_file(tmp_path):
    with pytest.raises(SpecError, match="no such file"):
        charme.load(tmp_path / "nope.yaml")


def test_overrides(tmp_path):
    net = charme.load(write(tmp_path, GOOD), overrides={"k1": 2.5, "B": 3})
    assert net.parameters["k1"] == 2.5
    assert net.initial[net.species.index("B")] == 3
    with pytest.raises(SpecError, match="unknown parameter or species 'zz'"):
        charme.load(write(tmp_path, GOOD), overrides={"zz": 1})
    with pytest.raises(SpecError, match="non-negative integer"):
        charme.load(write(tmp_path, GOOD), overrides={"B": 1.5})
    with pytest.raises(SpecError, match="non-negative integer"):
        charme.load(write(tmp_path, GOOD), overrides={"B": -1})


def test_keyword_names_are_usable(tmp_path):
    text = (
        "species: {A: 1}\nparameters: {lambda: 0.5}\nreactions:\n  - {eq: A -> 0, rate: lambda}\n"
    )
    net = charme.load(write(tmp_path, text))
    assert net.rate_constant(0) == 0.5


def test_schema_is_json_schema():
    from charme.spec.schema import NetworkSpec

    schema = NetworkSpec.model_json_schema()
    assert schema["additionalProperties"] is False
    assert {"species", "reactions"} <= set(schema["required"])
