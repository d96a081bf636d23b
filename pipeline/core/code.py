"""The project code a module runs: the files it imports, transitively, and their fingerprint.

The closure is read from the source (every ``import`` statement, also inside functions), not
from what happens to be loaded, so it is the same on every machine and before anything runs.
``dvc.yaml`` declares each stage's closure as its code dependencies (a test checks this), and
the tune stage keys its resumable search by the closure's fingerprint.
"""

from __future__ import annotations

import ast
import hashlib
from functools import cache
from pathlib import Path

PACKAGE = "pipeline"
SOURCE_ROOT = Path(__file__).resolve().parents[2]  # the folder holding the package


def module_file(module: str, root: Path = SOURCE_ROOT) -> Path | None:
    """``pipeline/a/b.py`` or ``pipeline/a/b/__init__.py`` for ``pipeline.a.b``; None when
    the name is not a project module (an attribute imported from a module, say)."""
    base = root.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def imported_names(path: Path) -> set[str]:
    """Project module names an ``import`` in ``path`` may refer to (attributes included:
    they are filtered out when no file has that name)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names |= {f"{node.module}.{alias.name}" for alias in node.names}
    return {name for name in names if name.split(".")[0] == PACKAGE}


def _with_parents(module: str) -> list[str]:
    """``pipeline.a.b`` and the packages Python imports before it: pipeline, pipeline.a."""
    parts = module.split(".")
    return [".".join(parts[:end]) for end in range(1, len(parts) + 1)]


@cache
def imported_files(module: str, root: Path = SOURCE_ROOT) -> tuple[Path, ...]:
    """Every project file that running ``module`` (``python -m module``) imports, itself and
    its parent packages included, sorted."""
    seen: dict[str, Path] = {}
    pending = [module]
    while pending:
        name = pending.pop()
        for candidate in _with_parents(name):
            if candidate in seen:
                continue
            path = module_file(candidate, root)
            if path is None:
                continue
            seen[candidate] = path
            pending.extend(imported_names(path))
    if module not in seen:
        raise ModuleNotFoundError(f"no project module {module!r} under {root}")
    return tuple(sorted(seen.values()))


def code_fingerprint(module: str, root: Path = SOURCE_ROOT) -> str:
    """A short sha256 of the paths and contents of every file ``module`` imports."""
    digest = hashlib.sha256()
    for path in imported_files(module, root):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]
