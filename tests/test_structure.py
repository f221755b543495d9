"""The code's structure is a fact a machine checks: the layers and the acyclic imports of
pyproject.toml's import-linter contracts, ruff's lint and format, and no import hidden inside a
function without the reason it buys written beside it."""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT

CODE = [ROOT / "src", ROOT / "tests", ROOT / "bench"]


def tool(name: str) -> str:
    """A command-line tool of this venv (the test extra installs it)."""
    found = shutil.which(name, path=str(Path(sys.executable).parent))
    assert found, f"{name} is not installed: pip install -e '.[test]'"
    return found


def test_the_import_contracts_hold():
    """Layers (each imports only those below), Lightning only in the adapters and the recipes, the
    core free of configuration, and no cycle anywhere in the package."""
    out = subprocess.run([tool("lint-imports"), "--no-cache"], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]
    assert "0 broken" in out.stdout or "broken" not in out.stdout.split("Contracts:")[-1], out.stdout[-2000:]


def test_the_contracts_name_every_part_of_the_package():
    """A new module or subpackage gets a place in the layers: every top-level part of gatelab is in
    the layers contract (a module outside every layer would be checked by none)."""
    import tomllib

    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    layers = next(c for c in config["contracts"] if c["type"] == "layers")["layers"]
    named = {part.strip() for layer in layers for part in layer.replace("|", ":").split(":")}
    package = ROOT / "src" / "gatelab"
    parts = {
        f"gatelab.{p.stem}" for p in package.iterdir() if (p.suffix == ".py" and p.stem != "__init__") or (p / "__init__.py").is_file()
    }
    assert parts == named, f"not in a layer: {sorted(parts - named)}; no such part: {sorted(named - parts)}"


@pytest.mark.parametrize("command", [["check"], ["format", "--check"]], ids=["lint", "format"])
def test_ruff_is_clean(command):
    out = subprocess.run([tool("ruff"), *command, *map(str, CODE)], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]


#: The core's unit tests: plain functions of torch tensors, no Lightning and no subprocess.
CORE_TESTS = ["tests/test_core.py", "tests/test_gates.py", "tests/test_anatomy.py"]


@pytest.mark.slow
def test_the_cores_unit_tests_need_no_lightning(without_lightning):
    """Run as their own suite with Lightning unimportable, they all pass: the core is testable
    (and usable) without the training stack."""
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-n", "0", "-p", "no:cacheprovider", *CORE_TESTS],
        cwd=ROOT, env={**os.environ, **without_lightning}, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]
    assert " passed" in out.stdout and "skipped" not in out.stdout, out.stdout[-2000:]


def imports_inside_functions(path: Path) -> list[tuple[int, str]]:
    """(line, text) of the first import of each block of imports inside a function."""
    lines = path.read_text().splitlines()
    found = []
    for function in ast.walk(ast.parse(path.read_text())):
        if not isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        previous_end = None
        for node in ast.walk(function):
            if isinstance(node, (ast.Import, ast.ImportFrom)) and node.lineno != previous_end:
                if previous_end is None or node.lineno > previous_end + 2:  # (a block may have a blank line in it)
                    found.append((node.lineno, lines[node.lineno - 1]))
                previous_end = node.end_lineno
    return found


def test_an_import_inside_a_function_says_why():
    """The design's rule: an import inside a function is for a named reason only (the speed of
    --help, a heavy library a caller mostly does not need, an optional extra), said in a comment on
    its line or just above it."""
    unexplained = []
    for path in sorted((ROOT / "src").rglob("*.py")):
        lines = path.read_text().splitlines()
        for lineno, text in imports_inside_functions(path):
            context = lines[max(lineno - 4, 0) : lineno]
            if not any("#" in line for line in context):
                unexplained.append(f"{path.relative_to(ROOT)}:{lineno}: {text.strip()}")
    assert not unexplained, "\n".join(unexplained)
