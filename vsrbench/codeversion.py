"""Which code made a number: hashes of the source files that decide it.

A result record (``benchmark.harness``) names the code that scored it: the model's file and the
protocol modules (:data:`PROTOCOL_MODULES`), with every vsrbench module they import, found from the
source's import statements (:func:`imported_files`: the static import graph, imports inside functions
included, a package's ``__init__`` with each of its modules); a cached LR store names the degradation
code that made it. A change to that code gives a new record and a rebuilt store instead of a stale
one. Hashes are over file bytes (path relative to the package, then content), computed once per process.
"""

from __future__ import annotations

import ast
import hashlib
from functools import lru_cache
from pathlib import Path

__all__ = ["PACKAGE_ROOT", "PROTOCOL_MODULES", "source_hash", "degradation_code_version", "imported_files",
           "scoring_code_files"]

PACKAGE_ROOT = Path(__file__).resolve().parent


def _files(entry: Path) -> list[Path]:
    if entry.is_dir():
        return sorted(p for p in entry.rglob("*.py") if "__pycache__" not in p.parts)
    return [entry] if entry.is_file() else []


def _read_source(path: Path) -> bytes:
    return path.read_bytes()


@lru_cache(maxsize=None)
def _hash_paths(paths: tuple[str, ...]) -> str:
    h = hashlib.sha256()
    files = sorted({f for p in paths for f in _files(Path(p))})
    for f in files:
        try:
            name = f.relative_to(PACKAGE_ROOT).as_posix()
        except ValueError:
            name = f.name
        data = _read_source(f)
        h.update(f"{name}\0{len(data)}\0".encode())
        h.update(data)
    return h.hexdigest()[:16]


def source_hash(*paths: str | Path) -> str:
    """16 hex digits of sha256 over the ``.py`` files of ``paths`` (files or folders), cached."""
    return _hash_paths(tuple(str(Path(p).resolve()) for p in paths))


def degradation_code_version() -> str:
    """Hash of ``vsrbench/degradations`` (every LR frame comes from this code)."""
    return source_hash(PACKAGE_ROOT / "degradations")


#: the modules that score every record whatever the model (each with what it imports): the harness,
#: the scoring pipeline, the feeding, suites, records (``suite_summary``), metrics, degradations, stores
#: and colour conversion, the TecoGAN metrics and their LPIPS weights, the GT temporal cache
PROTOCOL_MODULES = (
    "vsrbench.benchmark.harness", "vsrbench.benchmark.pipeline", "vsrbench.benchmark.feed",
    "vsrbench.benchmark.windows", "vsrbench.benchmark.suites", "vsrbench.benchmark.results", "vsrbench.metrics",
    "vsrbench.degradations", "vsrbench.datasets.stores", "vsrbench.colour", "vsrbench.benchmark.tecogan_run",
    "vsrbench.benchmark.lpips_weights", "vsrbench.benchmark.gt_cache",
)


def _module_file(name: str, root: Path) -> Path | None:
    """The file of module ``name`` (``vsrbench.x.y``) under the package folder ``root``, or None."""
    base = root.parent.joinpath(*name.split("."))
    for f in (base / "__init__.py", base.with_suffix(".py")):
        if f.is_file():
            return f
    return None


@lru_cache(maxsize=None)
def _imports_of(path: Path, root: Path) -> tuple[Path, ...]:
    """The files of the package modules ``path`` imports anywhere in it (with their packages' ``__init__``)."""
    pkg = root.name
    try:
        tree = ast.parse(_read_source(path), filename=str(path))
    except (OSError, SyntaxError, ValueError):
        return ()
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            # `from pkg.a import b`: the module pkg.a.b when there is one, else pkg.a
            names.update(f"{node.module}.{a.name}" if _module_file(f"{node.module}.{a.name}", root) else node.module
                         for a in node.names)
    found = set()
    for name in names:
        parts = name.split(".")
        if parts[0] != pkg:
            continue
        for i in range(1, len(parts) + 1):  # importing pkg.a.b runs pkg/__init__ and pkg/a/__init__ too
            f = _module_file(".".join(parts[:i]), root)
            if f is not None:
                found.add(f)
    return tuple(sorted(found))


def imported_files(*starts: str | Path, root: Path | None = None) -> list[Path]:
    """``starts`` (module names under ``root`` or files, also outside it) and the file of every module of
    the package ``root`` (default vsrbench) they import, transitively, from their import statements
    (static: nothing is imported; ``importlib`` calls are not followed). Sorted, cached per process."""
    root = Path(root or PACKAGE_ROOT).resolve()
    todo = []
    for s in starts:
        f = Path(s) if isinstance(s, Path) or str(s).endswith(".py") else _module_file(str(s), root)
        if f is None:
            raise ValueError(f"{s}: no such module under {root}")
        todo.append(f.resolve())
    return list(_closure(tuple(sorted(set(todo))), root))


@lru_cache(maxsize=None)
def _closure(starts: tuple[Path, ...], root: Path) -> tuple[Path, ...]:
    todo, seen = list(starts), set()
    while todo:
        f = todo.pop()
        if f not in seen:
            seen.add(f)
            todo.extend(_imports_of(f, root))
    return tuple(sorted(seen))


def scoring_code_files(*model_files: str | Path | None) -> list[Path]:
    """The source that decides a record's numbers: the protocol modules, the model's own file(s) (its
    class's, a ``package.module:factory`` model's factory file), and every vsrbench module they
    import (:func:`imported_files`)."""
    return imported_files(*PROTOCOL_MODULES, *(Path(f) for f in model_files if f))
