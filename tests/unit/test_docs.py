"""The documentation matches the code: generated parts current, examples that run."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

import charme

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
EXAMPLES = ROOT / "examples"
SCRIPTS = sorted(EXAMPLES.glob("*.py"))


def fenced(path: Path, language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```", path.read_text(), re.S | re.M)


@pytest.fixture(scope="module")
def generator():
    spec = importlib.util.spec_from_file_location("charme_docs_generate", DOCS / "generate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_generated_parts_are_current():
    """`python docs/generate.py --check`: the docs match the schema, the CLI and the API."""
    proc = subprocess.run(
        [sys.executable, str(DOCS / "generate.py"), "--check"],
        capture_output=True, text=True, timeout=300, cwd=ROOT,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr


def _spec_problems(generator, **changes):
    saved = {name: dict(getattr(generator, name)) for name in changes}
    try:
        for name, update in changes.items():
            table = getattr(generator, name)
            for key, value in update.items():
                if value is None:
                    table.pop(key)
                else:
                    table[key] = value
        problems: list[str] = []
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            generator.spec_blocks(problems)
        return problems
    finally:
        for name, table in saved.items():
            getattr(generator, name).clear()
            getattr(generator, name).update(table)


def test_generator_accepts_the_current_models(generator):
    assert _spec_problems(generator) == []


def test_generator_fails_on_a_field_without_description(generator):
    problems = _spec_problems(generator, DESCRIPTIONS={"pde.equation": None})
    assert any(p.startswith("pde.equation: no description") for p in problems), problems


def test_generator_fails_on_a_stale_entry(generator):
    problems = _spec_problems(
        generator,
        DESCRIPTIONS={"network.ssa.gone": "A field that does not exist."},
        EXAMPLES={"pde.nothing": "nothing: 1"},
    )
    assert any("network.ssa.gone" in p and "stale" in p for p in problems), problems
    assert any("pde.nothing" in p and "stale" in p for p in problems), problems


def test_generator_fails_on_a_repeated_or_missing_or_wrong_example(generator):
    problems = _spec_problems(
        generator,
        DESCRIPTIONS={"network.name": "Repeats what the model says."},
        EXAMPLES={"network.ssa.points": "points: 1", "network.ssa.runs": None},
    )
    assert any(p.startswith("network.name: described by the model") for p in problems)
    assert any(p.startswith("network.ssa.points: example") for p in problems), problems
    assert any(p.startswith("network.ssa.runs: no example") for p in problems), problems


def test_network_tables_cover_charme_schema(generator):
    """Every property of `charme schema`, nested ones included, has a row."""
    schema = generator.network_schema()
    text = (DOCS / "spec-reference.md").read_text()
    for name in schema["properties"]:
        assert f"| `{name}` |" in text
    for model in schema["$defs"].values():
        for name in model["properties"]:
            assert f"| `{name}` |" in text


def test_cli_reference_lists_every_command():
    from charme.cli.main import COMMANDS

    text = (DOCS / "cli-reference.md").read_text()
    for name, (target, _) in COMMANDS.items():
        module = target.split(":")[0]
        if importlib.util.find_spec(module) is None:
            continue  # not written yet: the generator skips it with a warning
        assert f"charme {name}" in text, name


def test_spec_reference_examples_load(monkeypatch):
    """Every complete spec on the page loads (a chain's generator file from examples/)."""
    from charme.models.network import ReactionNetwork
    from charme.spec.chain import MarkovChain
    from charme.spec.pde import FirstOrderPDE

    monkeypatch.chdir(EXAMPLES)
    blocks = fenced(DOCS / "spec-reference.md", "yaml")
    kinds = {type(charme.loads(block)) for block in blocks}
    assert kinds == {ReactionNetwork, MarkovChain, FirstOrderPDE}


def test_kernels_page_code_runs(monkeypatch):
    monkeypatch.chdir(ROOT)
    blocks = fenced(DOCS / "kernels.md", "python")
    assert len(blocks) >= 3
    for i, block in enumerate(blocks):
        exec(compile(block, f"docs/kernels.md[{i}]", "exec"), {"__name__": "docs_kernels"})


def test_docs_link_to_existing_pages():
    for page in DOCS.glob("*.md"):
        for target in re.findall(r"\]\(([\w.-]+\.md)(?:#[\w-]+)?\)", page.read_text()):
            assert (DOCS / target).exists(), (page.name, target)


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_example_script_runs(script):
    proc = subprocess.run(
        [sys.executable, str(script), "2000"],
        capture_output=True, text=True, timeout=300, cwd=ROOT,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip()


def test_every_example_script_is_described():
    text = (DOCS / "examples.md").read_text()
    for script in SCRIPTS:
        assert f"`{script.name}`" in text, script.name
    for spec in EXAMPLES.glob("*.*"):
        if spec.suffix in (".yaml", ".toml", ".json"):
            assert f"`{spec.name}`" in text, spec.name
