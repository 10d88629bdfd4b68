"""What ``vsrbench models`` lists, without importing torch for the built-in models.

Each model file is the one place that declares its models (``register_model(name, spec, card)``:
interface, paper, checkpoint name and source page; the parameter count is that of the network its
factory builds). ``listing.json`` beside this file is **generated** from those registrations
(``python -m vsrbench.models.listing --write``), with, per model, a digest of the source of its
module and of every ``vsrbench.models`` module that module imports. Listing reads the file and
checks the digests (hashing a few small files, no import): a model whose source changed since the
file was written is imported and listed from the live registry instead, so the listing is never
stale, only slower. ``tests/test_frictions.py`` checks that the shipped file is current. Models
registered in the running process or by plug-ins (entry-point group ``vsrbench.models``) are
imported and counted as before.
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from vsrbench.models.registry import BUILTIN_MODULES, ENTRY_POINT_GROUP, _REGISTRY
from vsrbench.models.spec import ModelCard, ModelSpec

__all__ = ["Listing", "builtin_listing", "model_listing", "generate", "LISTING_FILE", "weights_hint", "no_weights_message"]

LISTING_FILE = Path(__file__).with_name("listing.json")
_FORMAT = 1
_HERE = Path(__file__).parent
#: modules that decide nothing listed (loading, your own models, provenance): left out of the digests
_NOT_LISTED = {"vsrbench.models.custom", "vsrbench.models.checkpoint", "vsrbench.models.provenance",
               "vsrbench.models.listing"}


@dataclass(frozen=True)
class Listing:
    """One registered model as listed: its module, interface, parameter count and card."""

    module: str
    spec: ModelSpec
    params: int | str
    card: ModelCard

    @property
    def checkpoint_name(self) -> str | None:
        return self.card.checkpoint_name

    @property
    def checkpoint_url(self) -> str | None:
        """The checkpoint's source page (or the file's URL)."""
        return self.card.checkpoint_url

    def row(self, name: str) -> dict:
        return {"name": name, "spec": self.spec.as_dict(), "params": self.params,
                "checkpoint_name": self.checkpoint_name, "checkpoint_url": self.checkpoint_url,
                "card": self.card.as_dict()}


# ------------------------------------------------------------------------------ source digests
def _models_imports(path: Path) -> set[str]:
    """The ``vsrbench.models.X`` modules ``path`` imports at module level (X a file of this package)."""
    out = set()
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        names = []
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("vsrbench.models"):
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        out |= {n for n in names if n.startswith("vsrbench.models.") and n not in _NOT_LISTED
                and (_HERE / f"{n.rsplit('.', 1)[1]}.py").is_file()}
    return out


def source_digest(module: str) -> str:
    """sha256 over the source of ``module`` and of the ``vsrbench.models`` modules it imports at module
    level, transitively (those of :data:`_NOT_LISTED` left out)."""
    seen, todo = set(), [module]
    while todo:
        m = todo.pop()
        if m not in seen:
            seen.add(m)
            todo.extend(_models_imports(_HERE / f"{m.rsplit('.', 1)[1]}.py"))
    h = hashlib.sha256()
    for m in sorted(seen):
        h.update(m.encode() + b"\0" + (_HERE / f"{m.rsplit('.', 1)[1]}.py").read_bytes() + b"\0")
    return h.hexdigest()


# ------------------------------------------------------------------------------ live and stored
def _count_params(name: str) -> int | str:
    import torch

    from vsrbench.models.registry import create_model, get_model_info

    try:
        with torch.device("meta"):  # shapes only: no memory, no initialisation
            net = create_model(name, scale=get_model_info(name).spec.scales[0])
        return int(sum(p.numel() for p in net.parameters()))
    except Exception as e:  # a broken third-party model must not hide the others
        return f"error: {e}"


def _live(name: str) -> Listing:
    info = _REGISTRY[name]
    return Listing(info.factory.__module__, info.spec, _count_params(name), info.card)


def _import_modules(modules) -> None:
    import importlib

    for mod in modules:
        importlib.import_module(mod)


def generate() -> dict:
    """The content of ``listing.json``: every built-in model from its live registration (imports torch)."""
    _import_modules(BUILTIN_MODULES)
    models = {}
    for name, info in sorted(_REGISTRY.items()):
        if info.factory.__module__ in BUILTIN_MODULES:
            item = _live(name)
            models[name] = {"module": item.module, "digest": source_digest(item.module), "spec": item.spec.as_dict(),
                            "params": item.params, "card": item.card.as_dict()}
    return {"format": _FORMAT, "generated_by": "python -m vsrbench.models.listing --write", "models": models}


def _from_stored(entry: dict) -> Listing:
    spec = dict(entry["spec"])
    spec["scales"] = tuple(spec["scales"])
    spec["input_range"] = tuple(spec["input_range"])
    return Listing(entry["module"], ModelSpec(**spec), entry["params"], ModelCard(**entry["card"]))


def _stored() -> dict:
    try:
        data = json.loads(LISTING_FILE.read_text(encoding="utf-8"))
        return data["models"] if data.get("format") == _FORMAT else {}
    except (OSError, ValueError, KeyError, TypeError):
        return {}  # missing or damaged: every model is listed live


def builtin_listing() -> dict[str, Listing]:
    """The built-in models, from ``listing.json`` where its digests match the sources, else live."""
    digests = {m: source_digest(m) for m in BUILTIN_MODULES}
    fresh: dict[str, Listing] = {}
    bad: set = set()
    for name, entry in _stored().items():
        try:
            if entry["module"] in digests and entry["digest"] == digests[entry["module"]]:
                fresh[name] = _from_stored(entry)
        except (KeyError, TypeError, ValueError):
            bad.add(entry.get("module") if isinstance(entry, dict) else None)
    stale = (set(BUILTIN_MODULES) - {item.module for item in fresh.values()}) | (bad & set(BUILTIN_MODULES))
    if stale:  # sources changed since the file was written (or a module is new): ask the registry
        _import_modules(BUILTIN_MODULES)
        fresh = {n: item for n, item in fresh.items() if item.module not in stale}
        fresh.update({n: _live(n) for n, info in _REGISTRY.items() if info.factory.__module__ in stale})
    return fresh


def _has_plugins() -> bool:
    from importlib.metadata import entry_points

    return bool(list(entry_points(group=ENTRY_POINT_GROUP)))


def model_listing() -> list[dict]:
    """One row per model, sorted by name: ``name``, ``spec`` (dict), ``params``, ``checkpoint_name``,
    ``checkpoint_url`` (the source page), ``card`` (dict). Built-in rows come from ``listing.json``
    (no torch import while it is current); others are built on the ``meta`` device to count their
    parameters."""
    if _has_plugins():
        from vsrbench.models.registry import _load_builtin_and_entry_points

        _load_builtin_and_entry_points()
    builtin = builtin_listing()
    rows = {n: item.row(n) for n, item in builtin.items()}
    for n, info in _REGISTRY.items():
        if n not in builtin or info.factory.__module__ != builtin[n].module:
            rows[n] = _live(n).row(n)
    return [rows[n] for n in sorted(rows)]


def no_weights_message(model: str) -> str:
    """The one wording of "this model has parameters and was given no weights" (evaluate, upscale)."""
    hint = weights_hint(model)
    return (f"model {model} has no weights: pass --checkpoint FILE" + (f" ({hint})" if hint else "")
            + ", or --random-weights for a smoke run")


def weights_hint(name: str) -> str:
    """Where a built-in model's weights come from, in words: ``--weights NAME`` where vsrbench can
    fetch an official checkpoint, the official source page otherwise, or that none exists and
    ``vsrbench train`` makes them; '' for models without parameters or not built in."""
    from vsrbench.models.weights import weights_of

    b = builtin_listing().get(name)
    if b is None or not b.params:
        return ""
    official = weights_of(name)
    if official:
        return (f"official weights: --weights {'|'.join(official)} downloads and verifies one "
                f"(`vsrbench models` lists them)")
    if b.checkpoint_url:
        return (f"the official weights {b.checkpoint_name} are linked (Google Drive) from the README of "
                f"{b.checkpoint_url}")
    return f"no published weights exist; train them with `vsrbench train --model {name}`"


def _write() -> None:
    text = json.dumps(generate(), indent=1, sort_keys=True) + "\n"
    tmp = LISTING_FILE.with_name(f".{LISTING_FILE.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, LISTING_FILE)  # atomic: never a half-written listing


if __name__ == "__main__":
    if sys.argv[1:] != ["--write"]:
        sys.exit("usage: python -m vsrbench.models.listing --write  (regenerates listing.json from the model files)")
    _write()
    print(f"wrote {LISTING_FILE}")
