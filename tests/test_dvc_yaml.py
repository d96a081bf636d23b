"""dvc.yaml against the code: every stage depends on exactly the code it runs.

For each stage, the project files its entry point imports (transitively, read from the
source by :mod:`pipeline.core.code`) must be covered by the stage's ``deps``, and every code
dependency it declares must be reached. Two kinds of files are exempt, each for a reason the
test checks: ``__init__.py`` files with nothing but a docstring (no code to change an output),
and ``pipeline/tracking/`` (MLflow and the console: nothing there writes a stage's outputs).

``python tests/test_dvc_yaml.py`` prints the code dependencies each stage should declare.
"""

from __future__ import annotations

import ast
import shlex
from pathlib import Path

import pytest
import yaml

from pipeline.core.code import imported_files, module_file

REPO = Path(__file__).resolve().parents[1]
STAGE_NAMES = ("download", "preprocess", "tune", "train", "evaluate", "explain")
EXEMPT_PACKAGE = "pipeline/tracking/"
PIPELINE_FILES = sorted(REPO.glob("**/dvc.yaml"))


def docstring_only(path: Path) -> bool:
    body = ast.parse(path.read_text()).body
    return all(isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
               for node in body)


def exempt(relative: str) -> bool:
    return relative.startswith(EXEMPT_PACKAGE) or (
        relative.endswith("__init__.py") and docstring_only(REPO / relative))


def stages() -> list[tuple[Path, str, dict]]:
    """(dvc.yaml, stage name, stage) of every stage of every pipeline file."""
    found = []
    for dvc_file in PIPELINE_FILES:
        for name, stage in yaml.safe_load(dvc_file.read_text())["stages"].items():
            found.append((dvc_file, name, stage))
    return found


def entry_module(command: str) -> str:
    """The module ``python -m MODULE ...`` runs (a package runs its ``__main__``)."""
    words = shlex.split(command)
    assert words[:2] == ["python", "-m"], f"{command!r}: stages run `python -m <module>`"
    module = words[2]
    path = module_file(module, REPO)
    assert path is not None, f"{command!r}: no module {module}"
    return f"{module}.__main__" if path.name == "__init__.py" else module


def reached_files(module: str) -> set[str]:
    return {path.relative_to(REPO).as_posix() for path in imported_files(module, REPO)
            if not exempt(path.relative_to(REPO).as_posix())}


def code_deps(dvc_file: Path, stage: dict) -> list[str]:
    """The stage's code dependencies, relative to the repository."""
    folder = dvc_file.parent / stage.get("wdir", ".")
    deps = [(folder / dep).resolve().relative_to(REPO).as_posix() for dep in stage["deps"]]
    return [dep for dep in deps if dep.startswith("pipeline/")]


def covers(dep: str, path: str) -> bool:
    return path == dep or path.startswith(dep.rstrip("/") + "/")


STAGES = stages()


@pytest.mark.parametrize(("dvc_file", "name", "stage"), STAGES,
                         ids=[f"{f.relative_to(REPO)}:{n}" for f, n, _ in STAGES])
def test_stage_depends_on_exactly_the_code_it_runs(dvc_file: Path, name: str, stage: dict
                                                   ) -> None:
    reached = reached_files(entry_module(stage["cmd"]))
    declared = code_deps(dvc_file, stage)
    missing = sorted(path for path in reached if not any(covers(dep, path) for dep in declared))
    assert not missing, f"{name} runs code it does not depend on: {missing}"
    for dep in declared:
        target = REPO / dep
        assert target.exists(), f"{name} depends on {dep}, which does not exist"
        files = ([dep] if target.is_file() else
                 [path.relative_to(REPO).as_posix() for path in target.rglob("*.py")])
        unreached = sorted(path for path in files if path not in reached and not exempt(path))
        assert not unreached, f"{name} depends on {dep}, but never runs {unreached}"


def test_every_stage_is_checked() -> None:
    """The pipeline files hold a stage for every stage module of every experiment, and no
    other (a guard against a test that looks in the wrong place and checks nothing)."""
    names = {name for _, name, _ in STAGES} - {"report"}
    modules = {f"{path.parent.name}-{path.stem}"
               for path in (REPO / "pipeline/experiments").glob("*/*.py")
               if path.stem in STAGE_NAMES}
    assert names == modules


def test_exempt_packages_hold_no_stage_code() -> None:
    """What makes the tracking package exempt: no module there imports the ML toolkit or an
    experiment, so it can only report on a stage, never compute one."""
    for path in (REPO / EXEMPT_PACKAGE).glob("*.py"):
        imported = {file.relative_to(REPO).as_posix() for file in imported_files(
            "pipeline.tracking." + path.stem if path.stem != "__init__" else "pipeline.tracking",
            REPO)}
        computing = sorted(file for file in imported if file.startswith(
            ("pipeline/ml/", "pipeline/experiments/", "pipeline/download/")))
        assert not computing, f"{path.name} imports stage code: {computing}"


if __name__ == "__main__":
    for dvc_file, name, stage in STAGES:
        print(f"{dvc_file.relative_to(REPO)}:{name}")
        for path in sorted(reached_files(entry_module(stage["cmd"]))):
            print(f"        - {path}")
