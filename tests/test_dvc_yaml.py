"""dvc.yaml against the code: a module that computes a stage's outputs must be a dependency of
some stage, or a change to it would leave stale outputs that DVC calls up to date."""

from __future__ import annotations

import ast
from pathlib import Path

import yaml
from dvc_project import REPO

# Imported by the datasets, but not part of what any stage computes.
INFRASTRUCTURE = {
    "pipeline/config.py": "params validation: a params change already reruns the stages",
    "pipeline/errors.py": "exception types",
    "pipeline/paths.py": "where outputs go",
    "pipeline/tracking.py": "MLflow logging",
    "pipeline/plots.py": "figures only: a restyle should not rerun training",
    "pipeline/datasets/base.py": "the stage interface every dataset implements",
}


def module_path(module: str) -> Path:
    path = REPO / Path(*module.split("."))
    return path.with_suffix(".py") if path.with_suffix(".py").exists() else path / "__init__.py"


def pipeline_imports(path: Path) -> set[str]:
    modules = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == (
                "pipeline"):
            if node.module == "pipeline":  # from pipeline import a, b
                modules |= {f"pipeline.{alias.name}" for alias in node.names}
            else:
                modules.add(node.module)
        elif isinstance(node, ast.Import):
            modules |= {alias.name for alias in node.names
                        if alias.name.split(".")[0] == "pipeline"}
    return modules


def modules_of_datasets() -> set[str]:
    """Every pipeline module the dataset modules import, directly or not, as repo paths."""
    pending = [f"pipeline.datasets.{path.stem}" for path in (REPO / "pipeline/datasets").glob(
        "*.py") if path.stem not in ("__init__", "base")]
    seen: set[str] = set()
    while pending:
        module = pending.pop()
        if module not in seen:
            seen.add(module)
            pending.extend(pipeline_imports(module_path(module)))
    return {module_path(module).relative_to(REPO).as_posix() for module in seen}


def test_every_module_a_stage_computes_with_is_a_dependency() -> None:
    stages = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
    deps = {dep for stage in stages.values() for dep in stage.get("do", stage).get("deps", [])}
    modules = modules_of_datasets()
    covered = {path for path in modules if any(
        path == dep or path.startswith(dep.rstrip("/") + "/")
        or (dep == "pipeline/datasets/${item}.py" and path.startswith("pipeline/datasets/"))
        for dep in deps)}
    missing = modules - covered - set(INFRASTRUCTURE)
    assert not missing, f"imported by a dataset but a dependency of no stage in dvc.yaml: {missing}"
    for dep in deps:
        if dep.startswith("pipeline/") and "${item}" not in dep:
            assert (REPO / dep).exists(), f"dvc.yaml names {dep}, which does not exist"


def test_stages_loading_saved_models_depend_on_their_layers_code() -> None:
    """A stage that loads a saved model runs the code of the model's custom layers: a change to
    a layer's forward pass that leaves the saved file byte-identical must still rerun it."""
    layer_modules = {
        path.relative_to(REPO).as_posix() for path in (REPO / "pipeline").glob("*.py")
        if "register_keras_serializable" in path.read_text()}
    assert layer_modules, "no module registers Keras layers: this test looks in the wrong place"
    stages = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
    for name, stage in stages.items():
        deps = stage.get("do", stage).get("deps", [])
        if "data/models/${item}" in deps or "data/tune/${item}" in deps:
            missing = layer_modules - set(deps)
            assert not missing, f"stage {name} loads saved models but does not depend on {missing}"
