"""Messages for bad ``kind: pde`` input: located at file, line and field, exit status 2."""

import pytest
from click.testing import CliRunner

import charme
from charme.cli.main import cli
from charme.errors import SpecError

HEAD = "kind: pde\nunknown: u\nvariables: [t, x]\n"
GRID = "grid: {t: [0, 0.5, 3], x: [-1, 1, 5]}\n"
FULL_DATA = "initial:\n  parameters: {s: [-1, 1, 21]}\n  t: 0\n  x: s\n  u: s\n"


def moc(tmp_path, text, *extra, out="out.nc"):
    """Run ``charme moc`` on ``text``; the result, the output's path and the spec's name."""
    spec = tmp_path / "p.yaml"
    spec.write_text(text)
    target = tmp_path / out
    res = CliRunner().invoke(cli, ["moc", str(spec), "-o", str(target), *extra])
    return res, target, str(spec)


def expect_usage_error(tmp_path, text, where, *words, out="out.nc", extra=()):
    """Exit status 2, the message starts with ``where`` and holds ``words``, nothing written."""
    res, target, spec = moc(tmp_path, text, *extra, out=out)
    assert res.exit_code == 2, res.output
    assert f"charme: error: {where.replace('{spec}', spec)}" in res.output
    for word in words:
        assert word in res.output
    assert not target.exists()
    assert not list(tmp_path.glob("out*"))
    return res.output


def located(text, field, line):
    with pytest.raises(SpecError) as info:
        charme.loads(text)
    assert info.value.field == field and info.value.line == line
    return info.value.message


# 1. second derivatives


@pytest.mark.parametrize(
    "equation, name",
    [
        ("u_t + u*u_x = u_xx", "u_xx"),
        ("u_tt = u_xx", "u_tt"),
        ("u_t + u_x_x = 0", "u_x_x"),
        ("u_t + u_tx = 0", "u_tx"),
        ("u_t = u_xxx", "u_xxx"),
    ],
)
def test_a_second_derivative_asks_for_a_first_order_equation(equation, name):
    message = located(f'{HEAD}equation: "{equation}"\n{FULL_DATA}{GRID}', "equation", 4)
    assert "first order" in message and repr(name) in message
    assert "unknown name" not in message


def test_a_second_derivative_is_refused_by_moc(tmp_path):
    expect_usage_error(tmp_path, f'{HEAD}equation: "u_t + u*u_x = u_xx"\n{FULL_DATA}{GRID}',
                       "{spec}:4: equation: ", "first order", "'u_xx'")  # fmt: skip


def test_a_variable_with_a_longer_name_keeps_its_first_derivative():
    """variables [x, xx]: u_xx is the first derivative along xx, not a second one."""
    pde = charme.loads(
        'kind: pde\nvariables: [x, xx]\nequation: "u_x + u_xx = 0"\n'
        'initial: "u(xx, x=0) = sin(xx)"\ngrid: {x: [0, 1, 3], xx: [0, 1, 5]}\n'
    )
    assert pde.derivative_names == ("u_x", "u_xx")
    message = located(
        'kind: pde\nvariables: [x, xx]\nequation: "u_x + u_xxx = 0"\n'
        'initial: "u(xx, x=0) = sin(xx)"\ngrid: {x: [0, 1, 3], xx: [0, 1, 5]}\n',
        "equation",
        3,
    )
    assert "first order" in message and "'u_xxx'" in message


def test_an_unknown_name_is_still_an_unknown_name():
    message = located(f'{HEAD}equation: "u_t + k*u_x = 0"\n{FULL_DATA}{GRID}', "equation", 4)
    assert message == "unknown name 'k'"


# 2. the spec's kind


def test_a_wrong_kind_lists_the_kinds(tmp_path):
    text = f'{HEAD}equation: "u_t + u*u_x = 0"\n{FULL_DATA}{GRID}'.replace("kind: pde", "kind: PDE")
    out = expect_usage_error(tmp_path, text, "{spec}:1: kind: ", "unknown kind 'PDE'",
                             "reaction-network, markov-chain, pde", "did you mean 'pde'")  # fmt: skip
    assert "Input should be" not in out
    message = located(text.replace("kind: PDE", "kind: transport"), "kind", 1)
    assert "reaction-network, markov-chain, pde" in message and "did you mean" not in message


def test_the_known_kinds_still_load():
    assert charme.loads(f'{HEAD}equation: "u_t + u*u_x = 0"\n{FULL_DATA}{GRID}').unknown == "u"
    network = "species: {A: 10}\nparameters: {k: 1}\nreactions: [{eq: A -> 0, rate: k}]\n"
    assert charme.loads(network) is not None
    assert charme.loads("kind: reaction-network\n" + network) is not None


# 3. initial.branch


def test_branch_zero_is_refused(tmp_path):
    text = f'{HEAD}equation: "u_t + u*u_x = 0"\n{FULL_DATA}  branch: 0\n{GRID}'
    message = located(text, "initial.branch", 10)
    assert "+1 or -1" in message and "leave it out" in message
    expect_usage_error(tmp_path, text, "{spec}:10: initial.branch: ", "+1 or -1")


@pytest.mark.parametrize("value, expected", [("1", 1), ("-1", -1), ('"+"', 1), ('"-1"', -1)])
def test_branch_plus_or_minus_one_and_none(value, expected):
    base = f'{HEAD}equation: "u_t + u*u_x = 0"\n{FULL_DATA}'
    assert charme.loads(f"{base}  branch: {value}\n{GRID}").branch == expected
    assert charme.loads(f"{base}{GRID}").branch == 0  # not given


# 4. conditions


def test_a_condition_in_the_shorthand_data_is_located(tmp_path):
    text = f'{HEAD}equation: "u_t + u*u_x = 0"\ninitial: "u(x, t=0) = piecewise(1, x < 0, 0)"\n'
    message = located(text + GRID, "initial", 5)
    assert "conditions" in message and "piecewise" in message and "abs" in message
    expect_usage_error(tmp_path, text + GRID, "{spec}:5: initial: ", "conditions")


def test_a_condition_in_the_full_data_is_located(tmp_path):
    text = f'{HEAD}equation: "u_t + u*u_x = 0"\n{FULL_DATA}{GRID}'
    text = text.replace("u: s\n", "u: piecewise(1, s < 0, 0)\n")
    message = located(text, "initial.u", 9)
    assert "conditions" in message and "s/abs(s)" in message
    expect_usage_error(tmp_path, text, "{spec}:9: initial.u: ", "conditions")
    located(text.replace("  x: s\n", "  x: s + (s > 0)\n"), "initial.x", 8)


def test_a_condition_in_the_equation_is_located(tmp_path):
    text = f'{HEAD}equation: "u_t + piecewise(1, u > 0, -1)*u_x = 0"\n{FULL_DATA}{GRID}'
    message = located(text, "equation", 4)
    assert "conditions" in message
    expect_usage_error(tmp_path, text, "{spec}:4: equation: ", "conditions")


def test_a_condition_on_parameters_only_is_folded_away():
    text = (
        f'{HEAD}parameters: {{a: 1}}\nequation: "u_t + piecewise(2, a > 0, 1)*u_x = 0"\n'
        f"{FULL_DATA}{GRID}"
    )
    assert charme.loads(text).unknown == "u"


# 5. the moc command


BLOW_UP = 'kind: pde\nvariables: [t, x]\nequation: "u_t = u^2"\ninitial: "u(x, t=0) = 1"\n'


def test_the_summary_names_a_blow_up(tmp_path):
    """u_t = u^2 from u = 1: u = 1/(1 - t) blows up at t = 1."""
    res, target, _ = moc(tmp_path, BLOW_UP + "grid: {t: [0, 2, 5], x: [0, 1, 3]}\n")
    assert res.exit_code == 0, res.output
    assert target.exists()
    assert "blow-up at t=1," in res.output


def test_the_summary_has_no_blow_up_without_one(tmp_path):
    res, _, _ = moc(tmp_path, f'{HEAD}equation: "u_t + u*u_x = 0"\n{FULL_DATA}{GRID}')
    assert res.exit_code == 0, res.output
    assert "blow-up" not in res.output


def test_save_rays_needs_netcdf(tmp_path):
    text = BLOW_UP + "grid: {t: [0, 0.5, 3], x: [0, 1, 3]}\n"
    expect_usage_error(tmp_path, text, f"{tmp_path / 'out.csv'}: --save-rays", "NetCDF", ".nc",
                       out="out.csv", extra=("--save-rays",))  # fmt: skip
    res, target, _ = moc(tmp_path, text, "--save-rays", out="rays.nc")
    assert res.exit_code == 0, res.output
    assert target.exists()


def test_the_note_counts_the_nodes_after_the_first_crossing(tmp_path):
    """With --crossing stop the nodes after the breaking time have no value: the summary
    says how many of the NaN nodes that accounts for."""
    out = tmp_path / "b.nc"
    res = CliRunner().invoke(cli, ["moc", "examples/burgers_shock.yaml", "-o", str(out),
                                   "--crossing", "stop"])  # fmt: skip
    assert res.exit_code == 0, res.output
    # t = 1.5 and 2 after t* = 1: 2 x 201 nodes
    assert "402 of 1005 grid points have no value" in res.output
    assert "402 of them after the first crossing" in res.output


@pytest.mark.parametrize("guess", ["", ", guess: {u_x: s/2, u_y: 2*s}"])
def test_data_characteristic_at_a_sample_say_so(tmp_path, guess):
    """u_x u_y = u from u(0, y) = y^2 with y = 0 sampled: u_y = 0 there, so F = 0 leaves
    u_x free and Newton's completion fails.  The message blamed Newton ('there may be no
    real gradient there', or the guess even when it was exact); the data are
    characteristic at that sample, as the sign change of the transversality
    determinant across it shows."""
    text = ("kind: pde\nvariables: [x, y]\nequation: u_x*u_y = u\n"
            f"initial: {{parameters: {{s: [-2, 2, 401]}}, x: 0, y: s, u: s^2{guess}}}\n"
            "grid: {x: [0, 1, 11], y: [-1, 1, 21]}\n")  # fmt: skip
    out = expect_usage_error(tmp_path, text, "{spec}:4: initial:",
                             "characteristic (not transversal) at s=0")  # fmt: skip
    assert "Newton" not in out


BASE = ("kind: pde\nvariables: [t, x]\nequation: u_t + u*u_x = 0\n"
        'initial: "u(x, t=0) = sin(x)"\n')  # fmt: skip


@pytest.mark.parametrize("grid, field", [
    ("grid: {t: [0, .inf, 3], x: [0, 1, 5]}\n", "grid.t"),
    ("grid: {t: [0, 1, 3], x: [-1.7e308, 1.7e308, 5]}\n", "grid.x"),  # (stop - start: inf)
])  # fmt: skip
def test_a_grid_without_finite_ends(tmp_path, grid, field):
    """Infinite grid ends (or a span that overflows) crashed the solve with a traceback
    (exit 1), or blamed the data; `validate` passed them."""
    expect_usage_error(tmp_path, BASE + grid, f"{{spec}}:5: {field}:", "must be finite")
    res = CliRunner().invoke(cli, ["validate", str(tmp_path / "p.yaml")])
    assert res.exit_code == 2 and f"{field}: start and stop must be finite" in res.output


def test_data_parameters_without_finite_ends_or_too_many(tmp_path):
    text = ("kind: pde\nvariables: [t, x]\nequation: u_t + u*u_x = 0\n"
            "initial:\n  parameters: {s: [0, .inf, 101]}\n  t: 0\n  x: s\n  u: sin(s)\n"
            "grid: {t: [0, 0.9, 10], x: [0, 1, 11]}\n")  # fmt: skip
    expect_usage_error(tmp_path, text, "{spec}:5: initial.parameters.s:", "must be finite")
    # 1e10 samples: refused before any is taken (it ran out of memory, unlocated)
    expect_usage_error(tmp_path, text.replace("[0, .inf, 101]", "[0, 6.28, 10000000000]"),
                       "{spec}:", "initial.parameters: the data's 1e+10 samples",
                       "use fewer samples")  # fmt: skip


@pytest.mark.parametrize("command", ["cme", "ssa"])
def test_a_pde_given_to_another_solver(tmp_path, command):
    """`charme cme` on a PDE spec was an AttributeError traceback; `charme ssa` called it a
    markov-chain spec."""
    spec = tmp_path / "p.yaml"
    spec.write_text(BASE + "grid: {t: [0, 1, 3], x: [0, 1, 5]}\n")
    res = CliRunner().invoke(cli, [command, str(spec), "-o", str(tmp_path / "o.nc")])
    assert res.exit_code == 2, res.output
    assert ("a PDE spec (kind: pde) is solved by 'charme characteristics', "
            f"not 'charme {command}'") in res.output  # fmt: skip
    assert not list(tmp_path.glob("o*"))


@pytest.mark.parametrize("text, words", [
    # a 'billion laughs': 9^9 entries from a few lines (it never finished)
    ("".join(f"{a}: &{a} [{', '.join([f'*{b}'] * 9) if b else ', '.join(['x'] * 9)}]\n"
             for a, b in zip("abcdefghij", [None, *"abcdefghi"])) + "kind: pde\n",
     "aliases expand to more than"),
    ("kind: pde\na: &a [1, *a]\n", "alias to a node inside itself"),
])  # fmt: skip
def test_yaml_aliases_that_never_end(tmp_path, text, words):
    spec = tmp_path / "p.yaml"
    spec.write_text(text)
    res = CliRunner().invoke(cli, ["validate", str(spec)])
    assert res.exit_code == 2 and words in res.output, res.output


@pytest.mark.parametrize("data, words", [
    ("sqrt(-1)*sin(x)", "not a number (NaN)"),
    ("1/0 + sin(x)", "a constant here is infinite"),
])  # fmt: skip
def test_constants_out_of_their_domain(tmp_path, data, words):
    """sqrt(-1), 0/0, log(-1), acos(2) were all called 'too large for a float'."""
    text = BASE.replace("sin(x)", data) + "grid: {t: [0, 1, 3], x: [0, 1, 5]}\n"
    expect_usage_error(tmp_path, text, "{spec}:4: initial:", words)


def test_the_options_own_errors_name_the_options(tmp_path):
    text = BASE + "grid: {t: [0, 1, 3], x: [0, 1, 5]}\n"
    for args, words in ((["--rtol", "nan"], "--rtol must lie in (0, 1), not nan"),
                        (["--atol", "inf"], "--atol must be positive and finite")):  # fmt: skip
        out = expect_usage_error(tmp_path, text, words, extra=args)
        assert "p.yaml" not in out


def test_an_equation_whose_derivatives_cancel(tmp_path):
    text = BASE.replace("u_t + u*u_x = 0", '"0*u_t + 0*u_x = 0"')
    text += "grid: {t: [0, 1, 3], x: [0, 1, 5]}\n"
    expect_usage_error(tmp_path, text, "{spec}:3: equation:", "involves no derivative")


def test_validate_locates_the_equation_s_errors(tmp_path):
    spec = tmp_path / "p.yaml"
    spec.write_text(BASE.replace("u*u_x", "u*u_x/0") + "grid: {t: [0, 1, 3], x: [0, 1, 5]}\n")
    res = CliRunner().invoke(cli, ["validate", str(spec)])
    assert res.exit_code == 2 and f"{spec}:3: equation:" in res.output, res.output


def test_numpy_s_warnings_stay_out_of_the_shell(tmp_path):
    """Data overflowing (exp(1000 x)) printed RuntimeWarnings with the library's paths."""
    spec = tmp_path / "p.yaml"
    spec.write_text("kind: pde\nvariables: [t, x]\nequation: u_t + u_x = 0\n"
                    'initial: "u(x, t=0) = exp(1000*x)"\n'
                    "grid: {t: [0, 0.9, 4], x: [0, 1, 21]}\n")  # fmt: skip
    res = CliRunner().invoke(cli, ["moc", str(spec), "-o", str(tmp_path / "o.nc")])
    assert res.exit_code == 0, res.output
    assert "Warning" not in res.output


def test_non_numbers_in_union_fields_say_what_they_may_be(tmp_path):
    """`parameters: {c: k}` said 'Input should be a valid integer' (the field is a
    number); `initial: 5` named pydantic's branch `initial.dict[str,any]`."""
    text = (
        BASE.replace("initial", "parameters: {c: k}\ninitial")
        + "grid: {t: [0, 1, 3], x: [0, 1, 5]}\n"
    )
    expect_usage_error(tmp_path, text, "{spec}:4: parameters.c:", "expected a number, not 'k'")
    text = ("kind: pde\nvariables: [t, x]\nequation: u_t + u*u_x = 0\ninitial: 5\n"
            "grid: {t: [0, 1, 3], x: [0, 1, 5]}\n")  # fmt: skip
    expect_usage_error(
        tmp_path, text, "{spec}:4: initial:", "expected a mapping or a string, not 5"
    )


def test_the_api_refuses_what_it_cannot_take():
    from charme.solvers.characteristics.driver import solve_pde

    with pytest.raises(SpecError, match="unknown format 'xml'"):
        charme.loads("kind: pde\n", fmt="xml")
    with pytest.raises(SpecError, match="takes a PDE from charme.load"):
        solve_pde("base.yaml")
    pde = charme.loads(BASE + "grid: {t: [0, 1, 3], x: [0, 1, 5]}\n")
    with pytest.raises(SpecError, match="rtol must be a number, not 'abc'"):
        solve_pde(pde, rtol="abc")


def test_a_sweep_s_names_and_sizes_are_located(tmp_path):
    spec = tmp_path / "p.yaml"
    spec.write_text(BASE.replace("initial", "parameters: {c: 1}\ninitial")
                    + "grid: {t: [0, 1, 3], x: [0, 1, 5]}\n")  # fmt: skip
    design = tmp_path / "d.yaml"
    design.write_text("vary: {k: [1, 2]}\n")
    res = CliRunner().invoke(cli, ["sweep", "characteristics", str(spec), "--design",
                                   str(design), "-o", str(tmp_path / "o.nc")])  # fmt: skip
    assert res.exit_code == 2 and f"{design}: vary: 'k' is not a parameter" in res.output
    res = CliRunner().invoke(cli, ["sweep", "characteristics", str(spec), "--vary",
                                   "c=1:2:1000000000000", "-o", str(tmp_path / "o.nc")])  # fmt: skip
    assert res.exit_code == 2 and "more than a sweep takes" in res.output
    assert not list(tmp_path.glob("o*"))
