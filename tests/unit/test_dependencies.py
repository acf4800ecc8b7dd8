"""The declared dependencies are the ones the code uses, so the two cannot drift apart.

Every third-party module the package imports is a declared dependency (pyproject.toml), every
declared dependency is imported or is a command the workflow runs, the extra ``fan`` holds what
face-alignment (installed apart) needs, and pip and conda install the same torch.
"""

from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
from collections import defaultdict
from pathlib import Path

import pytest
import yaml

tomllib = pytest.importorskip("tomllib")  # Python 3.11+

REPO = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
# Declared for the commands they bring, which the workflow and the README run, not for an import.
COMMANDS = {"dvc", "snakemake", "snakemake-executor-plugin-slurm"}
# Installed apart with `pip install --no-deps` (its requirements name opencv-python, whose cv2
# would replace opencv-python-headless's); the extra fan declares what it needs instead.
INSTALLED_APART = {"face-alignment"}
# Test tools that are run or loaded, not imported: pytest's plugin, linters, the notebooks' kernel.
DEV_TOOLS = {"pytest-timeout", "ruff", "snakefmt", "ipykernel"}


def normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_names(requirements: list[str]) -> set[str]:
    return {normalized(re.match(r"[A-Za-z0-9._-]+", r).group()) for r in requirements}


RUNTIME = requirement_names(PYPROJECT["dependencies"])
EXTRAS = {
    name: requirement_names(reqs) for name, reqs in PYPROJECT["optional-dependencies"].items()
}


def imported_modules(files: list[Path]) -> dict[str, set[str]]:
    """Top-level modules the files import (at any depth, or look up with ``find_spec("x")``),
    each with the files that do, without the standard library's and the project's own (the
    package, the tests, and modules beside the files, as the benchmarks import theirs)."""
    found: dict[str, set[str]] = defaultdict(set)
    for path in files:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            elif isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "find_spec":
                names = [a.value for a in node.args[:1] if isinstance(a, ast.Constant)]
            for name in names:
                found[name.split(".")[0]].add(path.name)
    own = set(sys.stdlib_module_names) | {"__future__", "marlinflow", "tests"}
    own |= {path.stem for path in files}
    return {module: files for module, files in found.items() if module not in own}


def module_distributions() -> dict[str, set[str]]:
    """Top-level module -> the installed distributions whose files hold it, read from their
    RECORD: extension modules too, which top_level.txt can miss (dlib-bin's dlib)."""
    owners: dict[str, set[str]] = defaultdict(set)
    for dist in importlib.metadata.distributions():
        name, record = normalized(dist.metadata["Name"]), dist.read_text("RECORD") or ""
        for path in {line.split(",", 1)[0] for line in record.splitlines()}:
            top, _, rest = path.partition("/")
            if top.endswith((".dist-info", ".egg-info", ".pth")) or top in ("..", "__pycache__"):
                continue
            owners[top if rest else top.split(".")[0]].add(name)
    return owners


OWNERS = module_distributions()


def undeclared(imports: dict[str, set[str]], declared: set[str]) -> dict[str, str]:
    return {
        module: f"{sorted(OWNERS.get(module, {'not installed'}))} in {sorted(files)}"
        for module, files in imports.items()
        if not OWNERS.get(module, set()) & declared
    }


def test_every_module_the_package_imports_is_declared():
    imports = imported_modules(sorted((REPO / "src/marlinflow").rglob("*.py")))
    assert undeclared(imports, RUNTIME | EXTRAS["fan"] | INSTALLED_APART) == {}


def test_every_declared_dependency_is_imported_or_a_command():
    imports = imported_modules(sorted((REPO / "src/marlinflow").rglob("*.py")))
    used = {dist for module in imports for dist in OWNERS.get(module, ())}
    assert RUNTIME - used - COMMANDS == set()
    assert not COMMANDS & used  # a command that is imported after all belongs with the rest


def test_the_tests_import_only_declared_modules_and_dev_holds_only_what_they_use():
    imports = imported_modules(sorted((REPO / "tests").rglob("*.py")))
    declared = RUNTIME | EXTRAS["fan"] | EXTRAS["dev"] | INSTALLED_APART
    assert undeclared(imports, declared) == {}
    used = {dist for module in imports for dist in OWNERS.get(module, ())}
    assert EXTRAS["dev"] - used - DEV_TOOLS == set()


def test_the_fan_extra_is_what_face_alignment_needs_without_opencv_python():
    try:
        dist = importlib.metadata.distribution("face-alignment")
    except importlib.metadata.PackageNotFoundError:
        pytest.skip("face-alignment is not installed (make venv installs it)")
    files = [Path(dist.locate_file(f)) for f in dist.files if f.suffix == ".py"]
    needs = {d for module in imported_modules(files) for d in OWNERS.get(module, ())}
    assert EXTRAS["fan"] <= needs
    installed = {normalized(d.metadata["Name"]) for d in importlib.metadata.distributions()}
    assert "opencv-python" not in installed
    # the one line that installs it, the same in the Makefile, the README and environment.yml
    line = re.search(r"^FACE_ALIGNMENT := (.+)$", (REPO / "Makefile").read_text(), re.M).group(1)
    for document in ("README.md", "environment.yml"):
        assert f'pip install --no-deps "{line}"' in (REPO / document).read_text(), document


def test_pip_and_conda_install_the_same_torch():
    makefile = re.search(r"^TORCH \?= (\S+)$", (REPO / "Makefile").read_text(), re.M).group(1)
    conda = yaml.safe_load((REPO / "environment.yml").read_text())["dependencies"]
    pip_section = next(item["pip"] for item in conda if isinstance(item, dict))
    assert [r for r in pip_section if r.startswith("torch")] == [makefile]
    assert any(r.startswith("-e .[") and "fan" in r for r in pip_section)
