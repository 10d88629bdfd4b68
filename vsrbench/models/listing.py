"""What ``vsrbench models`` lists, without importing torch for the built-in models.

The built-in models' interface (:class:`ModelSpec`), parameter count (at the first supported
scale) and checkpoint name are written here once more, as plain data, so a listing costs
milliseconds instead of importing torch and building every network (about 5 s).
``tests/test_frictions.py`` checks every entry against the registered model (spec, card and the
parameters of the built network), so this table cannot drift. Models registered in the running
process or by plug-ins (entry-point group ``vsrbench.models``) are imported and counted as before.
"""

from __future__ import annotations

from dataclasses import dataclass

from vsrbench.models.registry import ENTRY_POINT_GROUP, ModelSpec, _REGISTRY

__all__ = ["BUILTIN_MODULES", "BUILTIN", "model_listing", "weights_hint"]

_INTERP = ModelSpec(task="vsr", frames_in=1, frames_out=1, colour="rgb", scales=(2, 3, 4, 8, 16),
                    input_range=(0.0, 255.0), spatial_multiple=1)


@dataclass(frozen=True)
class Listing:
    module: str
    spec: ModelSpec
    params: int
    checkpoint_name: str | None = None
    checkpoint_url: str | None = None


BUILTIN: dict[str, Listing] = {
    "bicubic": Listing("vsrbench.models.interpolation", _INTERP, 0),
    "bilinear": Listing("vsrbench.models.interpolation", _INTERP, 0),
    "nearest": Listing("vsrbench.models.interpolation", _INTERP, 0),
    "lanczos": Listing("vsrbench.models.interpolation", _INTERP, 0),
    "lcvsr": Listing("vsrbench.models.lcvsr",
                     ModelSpec(task="vsr", frames_in=7, frames_out=1, colour="y", scales=(3, 4)), 5_423_416),
    "fstrn": Listing("vsrbench.models.fstrn",
                     ModelSpec(task="vsr", frames_in=5, frames_out=1, colour="y", scales=(4,)), 426_561),
    "dksan": Listing("vsrbench.models.dksan",
                     ModelSpec(task="vsr", frames_in=7, frames_out=1, colour="rgb", scales=(16,)), 29_487_045),
    "zsm": Listing("vsrbench.models.zsm",
                   ModelSpec(task="stvsr", frames_in=4, frames_out=7, colour="rgb", scales=(4,), spatial_multiple=4),
                   11_102_771, "xiang2020zooming.pth", "https://github.com/Mukosame/Zooming-Slow-Mo-CVPR-2020"),
}

#: the modules that register the built-in models, in registration order
BUILTIN_MODULES = tuple(dict.fromkeys(item.module for item in BUILTIN.values()))


def _has_plugins() -> bool:
    from importlib.metadata import entry_points

    return bool(list(entry_points(group=ENTRY_POINT_GROUP)))


def _count_params(name: str) -> int | str:
    from vsrbench.models.registry import create_model, get_model_info

    import torch

    try:
        with torch.device("meta"):  # shapes only: no memory, no initialisation
            net = create_model(name, scale=get_model_info(name).spec.scales[0])
        return int(sum(p.numel() for p in net.parameters()))
    except Exception as e:  # a broken third-party model must not hide the others
        return f"error: {e}"


def model_listing() -> list[dict]:
    """One row per model, sorted by name: ``name``, ``spec`` (dict), ``params``, ``checkpoint_name``,
    ``checkpoint_url``. Built-in rows come from :data:`BUILTIN` (no torch import); others are built
    on the ``meta`` device to count their parameters."""
    if _has_plugins():
        from vsrbench.models.registry import _load_builtin_and_entry_points

        _load_builtin_and_entry_points()
    rows = {n: {"name": n, "spec": b.spec.as_dict(), "params": b.params, "checkpoint_name": b.checkpoint_name,
                "checkpoint_url": b.checkpoint_url} for n, b in BUILTIN.items()}
    for n, info in _REGISTRY.items():
        if n not in BUILTIN or info.factory.__module__ != BUILTIN[n].module:
            rows[n] = {"name": n, "spec": info.spec.as_dict(), "params": _count_params(n),
                       "checkpoint_name": info.card.checkpoint_name, "checkpoint_url": info.card.checkpoint_url}
    return [rows[n] for n in sorted(rows)]


def weights_hint(name: str) -> str:
    """Where a built-in model's weights come from, in words: the official source of a published
    checkpoint, or that none exists and ``vsrbench train`` makes them; '' for other models."""
    b = BUILTIN.get(name)
    if b is None or not b.params:
        return ""
    if b.checkpoint_url:
        return (f"the official weights {b.checkpoint_name} are linked (Google Drive) from the README of "
                f"{b.checkpoint_url}")
    return f"no published weights exist; train them with `vsrbench train --model {name}`"
