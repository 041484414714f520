from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path

import numpy as np
import pytest
import scipy.io
import scipy.sparse

from charme.errors import SpecError
from charme.spec.chain import MarkovChain, build_chain, is_chain_spec, load_chain
from charme.spec.loader import parse_spec_text

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

# columns convention: A[i, j] = rate from j to i
A3 = np.array(
    [
        [-2.0, 1.0, 0.25],
        [2.0, -1.5, 0.0],
        [0.0, 0.5, -0.25],
    ]
)


def write_mtx(path, matrix):
    scipy.io.mmwrite(str(path), scipy.sparse.coo_matrix(matrix))
    return path


def make(tmp_path, body=None, matrix=A3, mtx="gen.mtx", name="chain.yaml", **fields):
    """Write a generator file and a chain spec; ``fields`` replace YAML lines."""
    if matrix is not None:
        write_mtx(tmp_path / mtx, matrix)
    if body is None:
        lines = {
            "kind": "markov-chain",
            "name": "test",
            "generator": mtx,
            "convention": "columns",
            "labels": "[off, on, blocked]",
            "initial": "{off: 1.0}",
        }
        lines.update(fields)
        body = "".join(f"{k}: {v}\n" for k, v in lines.items() if v is not None)
    p = tmp_path / name
    p.write_text(textwrap.dedent(body))
    return p


def expect_error(path, field, *words):
    """Loading ``path`` fails at ``field``; the message contains every word."""
    with pytest.raises(SpecError) as info:
        load_chain(path)
    err = info.value
    text = str(err)
    assert err.field == field, text
    assert err.file == str(path)
    if err.line is not None:
        assert text.startswith(f"{path}:{err.line}: {field}:"), text
    for word in words:
        assert word in text, text
    return err


def line_of(path, key):
    for no, line in enumerate(Path(path).read_text().splitlines(), start=1):
        if line.startswith(f"{key}:"):
            return no
    raise AssertionError(key)


# ------------------------------------------------------------------ good input


def test_example_loads():
    chain = load_chain(EXAMPLES / "three_state_chain.yaml")
    assert isinstance(chain, MarkovChain)
    assert chain.name == "three_state"
    assert chain.labels == ("off", "on", "blocked")
    A = chain.generator
    assert scipy.sparse.isspmatrix_csr(A)
    assert A.dtype == np.float64
    assert A.has_sorted_indices and A.has_canonical_format
    np.testing.assert_array_equal(A.toarray(), A3)
    np.testing.assert_allclose(np.asarray(A.sum(axis=0)).ravel(), 0.0, atol=1e-15)
    np.testing.assert_array_equal(chain.initial, [1.0, 0.0, 0.0])
    assert chain.initial.dtype == np.float64
    assert chain.settings == {"t_end": 5.0, "points": 11}
    assert chain.convention == "columns"
    assert chain.description
    assert "three_state_chain.mtx" in chain.source_text
    assert chain.source_path.endswith("three_state_chain.yaml")
    assert chain.n_states == 3 and chain.nnz == 7


def test_summary():
    text = load_chain(EXAMPLES / "three_state_chain.yaml").summary()
    assert "three_state" in text
    assert "states: 3" in text
    assert "nonzeros: 7" in text
    assert "columns convention" in text
    assert "off, on, blocked" in text
    assert "off=1" in text


def test_is_chain_spec():
    assert is_chain_spec({"kind": "markov-chain"})
    assert not is_chain_spec({"kind": "reaction-network"})
    assert not is_chain_spec({"species": {"A": 1}})


def test_rows_convention_is_transposed(tmp_path):
    p = make(tmp_path, matrix=A3.T, convention="rows")
    chain = load_chain(p)
    np.testing.assert_array_equal(chain.generator.toarray(), A3)
    assert chain.convention == "rows"
    assert "rows convention" in chain.summary()


def test_convention_defaults_to_columns(tmp_path):
    chain = load_chain(make(tmp_path, convention=None))
    np.testing.assert_array_equal(chain.generator.toarray(), A3)


def test_npz(tmp_path):
    scipy.sparse.save_npz(tmp_path / "gen.npz", scipy.sparse.csc_matrix(A3))
    chain = load_chain(make(tmp_path, matrix=None, generator="gen.npz"))
    assert scipy.sparse.isspmatrix_csr(chain.generator)
    np.testing.assert_array_equal(chain.generator.toarray(), A3)


def test_dense_matrix_market_and_duplicates(tmp_path):
    # array format
    scipy.io.mmwrite(str(tmp_path / "dense.mtx"), A3)
    chain = load_chain(make(tmp_path, matrix=None, generator="dense.mtx"))
    np.testing.assert_array_equal(chain.generator.toarray(), A3)
    assert chain.generator.nnz == 7  # stored zeros dropped
    # duplicate coordinate entries are summed
    (tmp_path / "dup.mtx").write_text(
        "%%MatrixMarket matrix coordinate real general\n2 2 5\n"
        "1 1 -1\n2 1 0.5\n2 1 0.5\n1 2 3\n2 2 -3\n"
    )
    chain = load_chain(
        make(tmp_path, matrix=None, generator="dup.mtx", labels=None, initial="[1, 0]")
    )
    np.testing.assert_array_equal(chain.generator.toarray(), [[-1.0, 3.0], [1.0, -3.0]])
    assert chain.generator.has_canonical_format


def test_default_labels_and_list_initial(tmp_path):
    chain = load_chain(make(tmp_path, labels=None, initial="[0.25, 0.25, 0.5]"))
    assert chain.labels == ("0", "1", "2")
    np.testing.assert_array_equal(chain.initial, [0.25, 0.25, 0.5])
    assert chain.settings == {}


def test_default_labels_with_numeric_keys(tmp_path):
    chain = load_chain(make(tmp_path, labels=None, initial="{0: 0.5, 2: 0.5}"))
    np.testing.assert_array_equal(chain.initial, [0.5, 0.0, 0.5])


def test_yaml_boolean_words_are_labels(tmp_path):
    # YAML 1.1 reads plain yes/no/on/off as booleans; as labels they are names
    chain = load_chain(make(tmp_path, labels="[yes, no, 'off']", initial="{no: 1}"))
    assert chain.labels == ("yes", "no", "off")
    np.testing.assert_array_equal(chain.initial, [0.0, 1.0, 0.0])


def test_labels_file(tmp_path):
    (tmp_path / "names.txt").write_text("off\non\n\nblocked\n")
    chain = load_chain(make(tmp_path, labels="names.txt", initial="{blocked: 1}"))
    assert chain.labels == ("off", "on", "blocked")
    np.testing.assert_array_equal(chain.initial, [0.0, 0.0, 1.0])


def test_initial_is_read_only(tmp_path):
    chain = load_chain(make(tmp_path))
    with pytest.raises(ValueError):
        chain.initial[0] = 0.5


def test_all_cme_settings(tmp_path):
    chain = load_chain(
        make(tmp_path, cme="{t_end: 2.5, points: 3, tol: 1.0e-8, method: uniformization}")
    )
    assert chain.settings == {"t_end": 2.5, "points": 3, "tol": 1e-8, "method": "uniformization"}


def test_toml_and_json(tmp_path):
    write_mtx(tmp_path / "gen.mtx", A3)
    toml = tmp_path / "chain.toml"
    toml.write_text(
        'kind = "markov-chain"\nname = "t"\ngenerator = "gen.mtx"\n'
        'labels = ["off", "on", "blocked"]\ninitial = {on = 1.0}\n'
        "[cme]\nt_end = 5\npoints = 11\n"
    )
    chain = load_chain(toml)
    np.testing.assert_array_equal(chain.initial, [0.0, 1.0, 0.0])
    assert chain.settings == {"t_end": 5.0, "points": 11}
    js = tmp_path / "chain.json"
    js.write_text(
        json.dumps(
            {
                "kind": "markov-chain",
                "generator": "gen.mtx",
                "convention": "columns",
                "initial": [0, 0, 1],
            }
        )
    )
    chain = load_chain(js)
    assert chain.name == "chain"
    np.testing.assert_array_equal(chain.initial, [0.0, 0.0, 1.0])


def test_build_chain_from_string_with_base_dir(tmp_path):
    write_mtx(tmp_path / "gen.mtx", A3)
    raw = parse_spec_text("kind: markov-chain\ngenerator: gen.mtx\ninitial: [1, 0, 0]\n")
    chain = build_chain(raw, base_dir=tmp_path)
    np.testing.assert_array_equal(chain.generator.toarray(), A3)


def test_absorbing_state_and_tolerance(tmp_path):
    # a zero column (absorbing state) is fine; sums off by < 1e-9 * max|A| too
    big = np.array([[-1e6, 0.0], [1e6 + 1e-4, 0.0]])
    chain = load_chain(make(tmp_path, matrix=big, labels=None, initial="[1, 0]"))
    assert chain.generator.shape == (2, 2)


# ------------------------------------------------------------------- bad input


def test_generator_missing(tmp_path):
    p = make(tmp_path, matrix=None, generator="nope.mtx")
    err = expect_error(p, "generator", "no such file", "nope.mtx")
    assert err.line == line_of(p, "generator")


def test_generator_unreadable(tmp_path):
    (tmp_path / "bad.mtx").write_text("this is not a matrix market file\n")
    expect_error(make(tmp_path, matrix=None, generator="bad.mtx"), "generator", "MatrixMarket")
    (tmp_path / "bad.npz").write_bytes(b"garbage")
    expect_error(make(tmp_path, matrix=None, generator="bad.npz"), "generator", ".npz")
    np.savez(tmp_path / "dense.npz", a=A3)  # not written by save_npz
    expect_error(make(tmp_path, matrix=None, generator="dense.npz"), "generator", "save_npz")


def test_generator_unknown_type(tmp_path):
    (tmp_path / "gen.csv").write_text("1,2\n3,4\n")
    expect_error(make(tmp_path, matrix=None, generator="gen.csv"), "generator", "gen.csv", ".mtx")


def test_generator_not_square(tmp_path):
    p = make(tmp_path, matrix=np.array([[-1.0, 1.0, 0.0], [1.0, -1.0, 0.0]]))
    expect_error(p, "generator", "square", "2x3")


def test_generator_not_finite(tmp_path):
    m = A3.copy()
    m[2, 1] = np.nan
    expect_error(make(tmp_path, matrix=m), "generator", "[2, 1]", "nan", "finite")
    m = A3.copy()
    m[0, 2] = np.inf
    expect_error(make(tmp_path, matrix=m), "generator", "[0, 2]", "inf")


def test_negative_off_diagonal(tmp_path):
    m = A3.copy()
    m[2, 0], m[1, 0] = -0.5, 2.5  # column still sums to zero
    err = expect_error(make(tmp_path, matrix=m), "generator", "negative", "[2, 0]", "-0.5")
    assert "'off' to 'blocked'" in str(err)
    # in the rows convention the same stored entry is the rate from 'blocked' to 'off'
    err = expect_error(
        make(tmp_path, matrix=m.T, convention="rows"), "generator", "negative", "[0, 2]"
    )
    assert "'off' to 'blocked'" in str(err)


def test_column_sums_suggest_rows(tmp_path):
    p = make(tmp_path, matrix=A3.T)  # a rows-convention file read as columns
    err = expect_error(p, "generator", "column", "sums to", "convention: columns", "rows")
    assert "convention: rows" in str(err)
    assert err.line == line_of(p, "generator")
    # worst column named with its sum: columns of A3.T sum to row sums of A3
    sums = A3.sum(axis=1)
    worst = int(np.argmax(np.abs(sums)))
    assert f"column {worst} " in str(err)
    assert f"{sums[worst]:.6g}" in str(err)


def test_row_sums_suggest_columns(tmp_path):
    err = expect_error(make(tmp_path, convention="rows"), "generator", "row", "convention: columns")
    assert "sums to" in str(err)


def test_sums_wrong_in_both_conventions(tmp_path):
    m = A3.copy()
    m[0, 0] = -3.0
    err = expect_error(make(tmp_path, matrix=m), "generator", "column 0", "-1")
    assert "do not sum to zero either" in str(err)


def test_labels_wrong_count(tmp_path):
    p = make(tmp_path, labels="[a, b]", initial="{a: 1}")
    err = expect_error(p, "labels", "2 labels", "3 states")
    assert err.line == line_of(p, "labels")


def test_labels_duplicate(tmp_path):
    expect_error(
        make(tmp_path, labels="[a, b, a]", initial="{a: 1}"), "labels[2]", "duplicate", "'a'"
    )


def test_labels_not_strings(tmp_path):
    js = tmp_path / "chain.json"
    write_mtx(tmp_path / "gen.mtx", A3)
    js.write_text(
        json.dumps(
            {
                "kind": "markov-chain",
                "generator": "gen.mtx",
                "labels": [1, 2, 3],
                "initial": [1, 0, 0],
            }
        )
    )
    expect_error(js, "labels[0]", "string")
    expect_error(make(tmp_path, labels="{a: 1}"), "labels", "list")


def test_labels_file_problems(tmp_path):
    expect_error(make(tmp_path, labels="missing.txt"), "labels", "no such labels file")
    (tmp_path / "dup.txt").write_text("off\non\noff\n")
    expect_error(make(tmp_path, labels="dup.txt"), "labels", "duplicate", "dup.txt:1", "dup.txt:3")
    (tmp_path / "two.txt").write_text("off\non\n")
    expect_error(make(tmp_path, labels="two.txt"), "labels", "2 labels", "3 states")


def test_initial_negative(tmp_path):
    p = make(tmp_path, initial="{off: 1.5, on: -0.5}")
    err = expect_error(p, "initial.on", "negative", "-0.5")
    assert err.line == line_of(p, "initial")
    expect_error(make(tmp_path, initial="[1.5, -0.5, 0]"), "initial[1]", "negative")


def test_initial_unknown_label(tmp_path):
    err = expect_error(make(tmp_path, initial="{of: 1.0}"), "initial.of", "unknown", "'of'")
    assert "'off'" in str(err)  # lists the known labels


def test_initial_wrong_length(tmp_path):
    expect_error(make(tmp_path, initial="[0.5, 0.5]"), "initial", "got 2", "3 states")


def test_initial_sum(tmp_path):
    expect_error(make(tmp_path, initial="{off: 0.5, on: 0.4}"), "initial", "sum to 0.9", "not 1")
    expect_error(make(tmp_path, initial="{}"), "initial", "sum to 0")


def test_initial_not_numbers(tmp_path):
    expect_error(make(tmp_path, initial="{off: yes}"), "initial.off", "number")
    expect_error(make(tmp_path, initial='{off: "1"}'), "initial.off", "number")
    expect_error(make(tmp_path, initial="{off: .nan}"), "initial.off", "finite")
    expect_error(make(tmp_path, initial="1.0"), "initial", "mapping")


def test_initial_missing(tmp_path):
    expect_error(make(tmp_path, initial=None), "initial", "required key 'initial'")


@pytest.mark.parametrize(
    "key, value, field, words",
    [
        ("colour", "blue", "colour", ["unknown key 'colour'"]),
        ("convention", "diagonal", "convention", ["columns", "rows"]),
        ("kind", "reaction-network", "kind", ["markov-chain"]),
        ("cme", "{t_end: -1}", "cme.t_end", ["greater than 0"]),
        ("cme", "{points: 1}", "cme.points", ["2"]),
        ("cme", "{points: true}", "cme.points", ["boolean"]),
        ("cme", "{tol: 1.5}", "cme.tol", ["less than 1"]),
        ("cme", "{method: euler}", "cme.method", ["krylov"]),
        ("cme", "{runs: 10}", "cme.runs", ["unknown key 'runs'"]),
    ],
)
def test_shape_errors(tmp_path, key, value, field, words):
    p = make(tmp_path, **{key: value})
    err = expect_error(p, field, *words)
    assert err.line == line_of(p, key)


def test_missing_generator_key(tmp_path):
    expect_error(make(tmp_path, generator=None), "generator", "required key 'generator'")


def test_error_format(tmp_path):
    p = make(tmp_path, initial="{off: 0.5}")
    with pytest.raises(SpecError) as info:
        load_chain(p)
    assert re.match(rf"^{re.escape(str(p))}:\d+: initial: ", str(info.value))
