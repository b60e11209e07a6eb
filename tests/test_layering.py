"""The layering of the apps (pyproject.toml, [tool.importlinter]) holds, and the check catches an
upward import: a copy of the code with one added import of a higher layer fails it."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
APPS = ("learning", "preferences", "arena", "judges", "agents", "spaces", "ledger")
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def lint_imports(cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=cwd,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(cwd)},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def copy_of_the_code(tmp_path):
    for app in APPS:
        shutil.copytree(ROOT / app, tmp_path / app, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def test_the_layering_contracts_are_kept():
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "upward_import", "contract"),
    [
        ("spaces/probe.py", "import arena.models", "Apps are layered"),
        ("ledger/probe.py", "from spaces import models", "Apps are layered"),
        ("agents/probe.py", "def late():\n    from judges import panel\n", "Apps are layered"),
        ("arena/services/probe.py", "from arena import tasks", "Services never import"),
    ],
)
def test_an_upward_import_breaks_the_check(copy_of_the_code, module, upward_import, contract):
    (copy_of_the_code / module).write_text(upward_import + "\n")
    result = lint_imports(copy_of_the_code)
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"{contract}" in result.stdout and "BROKEN" in result.stdout
    assert module.removesuffix(".py").replace("/", ".") in result.stdout


# Imports of the project's own modules inside functions, allowed where the module-level import
# would load torch (the inference stack) into every process, or in AppConfig.ready().
TORCH_LOADING = {("judges/kinds/pairwise_llm.py", "agents.inference.local")}


def function_level_imports(path: Path) -> list[tuple[str, str, str]]:
    tree = ast.parse(path.read_text())
    found = []
    for function in ast.walk(tree):
        if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        for node in ast.walk(function):
            names = []
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            for name in names:
                if name.split(".")[0] in APPS:
                    found.append((function.name, name, f"{path.relative_to(ROOT)}:{node.lineno}"))
    return found


def test_no_function_imports_the_projects_own_modules_outside_the_stated_exceptions():
    offending = []
    for app in APPS:
        for path in sorted((ROOT / app).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            relative = str(path.relative_to(ROOT))
            for function, module, where in function_level_imports(path):
                allowed = (path.name == "apps.py" and function == "ready") or (
                    relative,
                    module,
                ) in TORCH_LOADING
                if not allowed:
                    offending.append(f"{where} {function}() imports {module}")
    assert offending == [], "\n".join(offending)
