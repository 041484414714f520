import math
import time

import numpy as np
import pytest

from charme.errors import SpecError
from charme.solvers.gillespie.compile import to_postfix
from charme.solvers.gillespie.kernels import eval_program
from charme.spec.expressions import evaluate, names_in, parse_expression, substitute

NAMES = {"A", "B", "k", "v", "K", "n", "lambda"}


@pytest.mark.parametrize(
    "text, env, expected",
    [
        ("v*K^n/(K^n + B^n)", dict(v=50, K=20, n=2, B=10), 40.0),
        ("2^3^2", {}, 2.0**9),  # right-associative like **
        ("-A^2", dict(A=3), -9.0),  # unary minus binds looser than power
        ("k*A*(A-1)/2", dict(k=0.5, A=4), 3.0),
        ("min(A, B, 3)", dict(A=5, B=4), 3.0),
        ("max(A, 2)", dict(A=1), 2.0),
        ("exp(log(2))+sqrt(16)+abs(-1)", {}, 7.0),
        ("pow(2, 10)", {}, 1024.0),
        ("lambda * A", {"lambda": 0.1, "A": 10}, 1.0),
        ("2*pi", {}, 2 * math.pi),
        ("1e3 + .5", {}, 1000.5),
        (3, {}, 3.0),
        ("A < B", dict(A=1, B=2), 1.0),
        ("A >= B", dict(A=1, B=2), 0.0),
        ("A > 1 and B > 1", dict(A=2, B=2), 1.0),
        ("A > 1 && B > 5 || A == 2", dict(A=2, B=2), 1.0),
        ("!(A != 2)", dict(A=2), 1.0),
        ("not A", dict(A=0), 1.0),
        ("1 < A < 3", dict(A=3), 0.0),
        ("piecewise(10, A > 1, 20)", dict(A=2), 10.0),
        ("piecewise(10, A > 1, 20, A > 0, 30)", dict(A=1), 20.0),
        ("k * (A > 5)", dict(k=2, A=6), 2.0),
    ],
)
def test_evaluate(text, env, expected):
    expr = parse_expression(text, NAMES)
    assert evaluate(expr, env) == pytest.approx(expected)


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("__import__('os').system('ls')", "not allowed"),
        ('__import__("os")', "not allowed"),
        ("a.b", "not allowed"),
        ("A.__class__", "not allowed"),
        ("x[0]", "not allowed"),
        ("lambda: 1", "not allowed"),
        ("(1, 2)", "not allowed"),
        ("A if B else k", "cannot parse"),
        ("A | B", "not allowed"),
        ("A & B", "not allowed"),
        ("A = B", "cannot parse"),
        ("A is B", "cannot parse"),
        ("A in B", "cannot parse"),
        ("A; B", "not allowed"),
        ("open('f')", "not allowed"),
        ("eval(A)", "unknown function"),
        ("exec(A)", "unknown function"),
        ("exp(A, B)", "takes 1"),
        ("min(A)", "at least 2"),
        ("exp(x=1)", "unsupported call"),
        ("kk * A", "unknown name 'kk'"),
        ("A +", "cannot parse"),
        ("", "empty"),
        ("A @ B", "not allowed"),
        ("A // B", "not allowed"),
        ("A % B", "not allowed"),
        ("True", "unknown name"),
        ("1j", "only real numbers"),
        ("(" * 300 + "A" + ")" * 300, ""),
        ("-" * 1000 + "A", "nested"),
        ("A" * 30000, "longer than"),
    ],
)
def test_rejects_hostile_or_malformed(text, fragment):
    with pytest.raises(SpecError) as info:
        parse_expression(text, NAMES)
    assert fragment in str(info.value)


def test_rejects_bool_and_other_types():
    for bad in (True, None, [1], {"a": 1}):
        with pytest.raises(SpecError):
            parse_expression(bad, NAMES)


def test_huge_exponents_do_not_hang():
    t0 = time.perf_counter()
    for text in ("10^10^10^10", "9^9^9^9^9", "2**2**2**2**2**2", "1" * 4000 + "^" + "9" * 4000):
        try:
            expr = parse_expression(text, NAMES)
            folded = substitute(expr, {})
            assert folded[0] == "num"
            assert math.isinf(folded[1]) or math.isfinite(folded[1])
        except SpecError:
            pass
    assert time.perf_counter() - t0 < 5.0  # generous: a hang would take forever


def test_names_and_substitution():
    expr = parse_expression("v*K^n/(K^n + B^n)", NAMES)
    assert names_in(expr) == {"v", "K", "n", "B"}
    folded = substitute(expr, dict(v=50, K=20, n=2))
    assert names_in(folded) == {"B"}
    assert evaluate(folded, dict(B=10)) == pytest.approx(40.0)


@pytest.mark.parametrize(
    "text",
    [
        "v*K^n/(K^n + B^n)",
        "k*A*(A-1)/2 - -B",
        "min(A, B, k) + max(A, 1)",
        "exp(-A/10) + log(B+1) + sqrt(A) + tanh(B) + sin(A) * cos(B)",
        "abs(A - B) / (1 + A^2)",
        "floor(A/3) + ceil(B/3) + log10(A+1) + log2(B+1) + atan(A)",
    ],
)
def test_postfix_matches_python(text):
    expr = parse_expression(text, NAMES)
    expr = substitute(expr, dict(k=0.7, v=50, K=20, n=2))
    code, consts = [], []
    depth = to_postfix(expr, {"A": 0, "B": 1}, code, consts)
    code = np.array(code, np.int64).reshape(-1, 2)
    consts = np.array(consts, np.float64)
    stack = np.zeros(depth)
    for a, b in [(0, 0), (3, 7), (12, 1), (100, 250)]:
        x = np.array([a, b], np.int64)
        got = eval_program(code, consts, 0, len(code), x, stack, 0.0)
        assert got == pytest.approx(evaluate(expr, dict(A=a, B=b)), rel=1e-12)


def test_postfix_division_by_zero_gives_inf_not_exception():
    expr = parse_expression("1/A", NAMES)
    code, consts = [], []
    to_postfix(expr, {"A": 0}, code, consts)
    code = np.array(code, np.int64).reshape(-1, 2)
    got = eval_program(
        code, np.array(consts), 0, len(code), np.zeros(1, np.int64), np.zeros(2), 0.0
    )
    assert math.isinf(got)
