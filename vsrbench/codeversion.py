"""Which code made a number: hashes of the source files that decide it.

A result record (``benchmark.harness``) names the code that scored it (degradations, metrics, the
feeding of the model, the model's own file) and a cached LR store names the degradation code that
made it, so a change to that code gives a new record and a rebuilt store instead of a stale one.
Hashes are over file bytes (path relative to the package, then content), computed once per process.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path

__all__ = ["PACKAGE_ROOT", "source_hash", "degradation_code_version", "scoring_code_files"]

PACKAGE_ROOT = Path(__file__).resolve().parent


def _files(entry: Path) -> list[Path]:
    if entry.is_dir():
        return sorted(p for p in entry.rglob("*.py") if "__pycache__" not in p.parts)
    return [entry] if entry.is_file() else []


@lru_cache(maxsize=None)
def _hash_paths(paths: tuple[str, ...]) -> str:
    h = hashlib.sha256()
    files = sorted({f for p in paths for f in _files(Path(p))})
    for f in files:
        try:
            name = f.relative_to(PACKAGE_ROOT).as_posix()
        except ValueError:
            name = f.name
        data = f.read_bytes()
        h.update(f"{name}\0{len(data)}\0".encode())
        h.update(data)
    return h.hexdigest()[:16]


def source_hash(*paths: str | Path) -> str:
    """16 hex digits of sha256 over the ``.py`` files of ``paths`` (files or folders), cached."""
    return _hash_paths(tuple(str(Path(p).resolve()) for p in paths))


def degradation_code_version() -> str:
    """Hash of ``vsrbench/degradations`` (every LR frame comes from this code)."""
    return source_hash(PACKAGE_ROOT / "degradations")


def scoring_code_files(model_file: str | Path | None = None) -> list[Path]:
    """The source that decides a record's numbers: degradations, metrics, the model feeding
    (``benchmark/feed.py``, ``benchmark/windows.py``) and the model's own file."""
    files = [PACKAGE_ROOT / "degradations", PACKAGE_ROOT / "metrics", PACKAGE_ROOT / "benchmark" / "feed.py",
             PACKAGE_ROOT / "benchmark" / "windows.py"]
    if model_file:
        files.append(Path(model_file))
    return files
