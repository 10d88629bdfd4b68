"""What is prepared locally: complete stores under ``$VSRBENCH_HOME`` per dataset."""

from __future__ import annotations

from pathlib import Path

from vsrbench.datasets.catalog import vsrbench_home
from vsrbench.datasets.stores import MARKER, REGISTRY, is_complete, store_damage

__all__ = ["local_status"]


def local_status(dataset: str, home=None) -> list[str]:
    """Human-readable list of the complete stores of ``dataset`` (``lmdb/test/BIx4.lmdb`` ...)."""
    root = (Path(home) if home is not None else vsrbench_home()) / dataset
    if not root.is_dir():
        return []
    out = []
    backends = sorted(REGISTRY.values(), key=lambda b: b.layout.per_set)  # the trees first, as they sit in root
    for b in backends:
        if not b.layout.per_set:
            out += [f"{p.name}/ ({b.name})" for p in sorted(root.iterdir()) if p.is_dir() and (p / MARKER).is_file()]
            continue
        for p in sorted((root / b.name).glob(f"*/*{b.layout.suffix}")):
            if is_complete(p):
                out.append(str(p.relative_to(root)))
            elif store_damage(p) is not None:
                out.append(f"{p.relative_to(root)} DAMAGED (rerun prepare to rewrite it)")
    partial = sorted(q.name for q in root.rglob("*.partial"))
    if partial:
        out.append(f"interrupted (rerun prepare to finish): {', '.join(partial)}")
    return out
