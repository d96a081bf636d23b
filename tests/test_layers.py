"""The architecture the folders show: shared layers below, one folder per experiment above,
the report and the command line on top, and imports pointing down only."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.core.code import imported_files, imported_names, module_file

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "pipeline"
# each layer, and the layers it may import (besides itself)
LAYERS = {
    "tracking": set(),  # MLflow and the console: below everything, knows no project code
    "core": {"tracking"},  # the stage runner reports to MLflow
    "download": {"core", "tracking"},
    "ml": {"core", "tracking"},
    "datasets": {"core", "tracking", "download", "ml"},  # sources read by several experiments
    "experiments": {"core", "tracking", "download", "ml", "datasets"},
    "report": {"core", "tracking"},
}
MAX_LINES = 400


def layer_of(path: Path) -> str:
    relative = path.relative_to(PACKAGE)
    return relative.parts[0] if len(relative.parts) > 1 else relative.stem


def experiment_of(path: Path) -> str | None:
    parts = path.relative_to(PACKAGE).parts
    return parts[1] if parts[0] == "experiments" and len(parts) > 2 else None


MODULES = sorted(path for path in PACKAGE.rglob("*.py") if "__pycache__" not in path.parts)


def direct_imports(path: Path) -> set[Path]:
    """Project files ``path`` imports itself (not through the files it imports)."""
    files = {module_file(name, REPO) for name in imported_names(path)}
    return {file for file in files if file is not None and file != path}


@pytest.mark.parametrize("path", [p for p in MODULES if layer_of(p) in LAYERS],
                         ids=lambda p: p.relative_to(PACKAGE).as_posix())
def test_imports_point_down_only(path: Path) -> None:
    own = layer_of(path)
    allowed = LAYERS[own] | {own}
    for imported in direct_imports(path):
        layer = layer_of(imported)
        if layer == "__init__":  # the package marker every import passes through
            continue
        assert layer in allowed, (
            f"{path.relative_to(REPO)} ({own}) reaches {imported.relative_to(REPO)} ({layer})")
        if own == "experiments" and layer == "experiments":
            assert experiment_of(imported) in (experiment_of(path), None), (
                f"{path.relative_to(REPO)} reaches another experiment's "
                f"{imported.relative_to(REPO)}: shared code belongs in a shared layer")


def test_no_shared_module_imports_an_experiment() -> None:
    """The same rule stated once for the whole tree, transitively."""
    for path in MODULES:
        if layer_of(path) in ("core", "tracking", "download", "ml", "datasets"):
            module = ".".join(path.relative_to(REPO).with_suffix("").parts)
            reached = imported_files(module.removesuffix(".__init__"), REPO)
            assert not [file for file in reached if layer_of(file) == "experiments"], path


def test_modules_are_short_enough_to_read_in_one_sitting() -> None:
    long = {path.relative_to(REPO).as_posix(): lines for path in MODULES
            if (lines := len(path.read_text().splitlines())) > MAX_LINES}
    assert not long, f"modules over {MAX_LINES} lines: {long}"


def test_test_fakes_live_under_tests() -> None:
    """Servers and writers that imitate the internet are test code, not pipeline code."""
    for path in MODULES:
        text = path.read_text()
        assert "ThreadingHTTPServer" not in text and "BaseHTTPRequestHandler" not in text, path
