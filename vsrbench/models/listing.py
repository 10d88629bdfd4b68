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

__all__ = ["BUILTIN_MODULES", "BUILTIN", "model_listing"]

_INTERP = ModelSpec(task="vsr", frames_in=1, frames_out=1, colour="rgb", scales=(2, 3, 4, 8, 16),
                    input_range=(0.0, 255.0), spatial_multiple=1)

#: BasicVSR, IconVSR, BasicVSR++: RGB x4, the whole clip per call
_RECURRENT_X4 = ModelSpec(task="vsr", frames_in="recurrent", frames_out=1, colour="rgb", scales=(4,))


_BASICSR_ZOO = "https://github.com/XPixelGroup/BasicSR/blob/master/docs/ModelZoo.md"


def _window(frames: int, scales: tuple[int, ...], multiple: int = 1, upsample: str | None = None) -> ModelSpec:
    """An RGB [0, 1] centre-frame window model (the BasicSR reference models)."""
    return ModelSpec(task="vsr", frames_in=frames, frames_out=1, colour="rgb", scales=scales,
                     spatial_multiple=multiple, input_upsample=upsample)


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
                     ModelSpec(task="vsr", frames_in=7, frames_out=1, colour="y", scales=(3, 4)), 5_483_320),
    "fstrn": Listing("vsrbench.models.fstrn",
                     ModelSpec(task="vsr", frames_in=5, frames_out=1, colour="y", scales=(4,)), 426_561),
    "dksan": Listing("vsrbench.models.dksan",
                     ModelSpec(task="vsr", frames_in=7, frames_out=1, colour="rgb", scales=(16,)), 29_477_560),
    "zsm": Listing("vsrbench.models.zsm",
                   ModelSpec(task="stvsr", frames_in=4, frames_out=7, colour="rgb", scales=(4,), spatial_multiple=4),
                   11_102_771, "xiang2020zooming.pth", "https://github.com/Mukosame/Zooming-Slow-Mo-CVPR-2020"),
    "edvr-m": Listing("vsrbench.models.edvr", _window(5, (4,), 4), 3_300_131,
                      "EDVR_M_x4_SR_REDS_official-32075921.pth", _BASICSR_ZOO),
    "edvr-l": Listing("vsrbench.models.edvr", _window(5, (4,), 4), 20_633_827,
                      "EDVR_L_x4_SR_REDS_official-9f5f5039.pth", _BASICSR_ZOO),
    "edvr-l-vimeo90k": Listing("vsrbench.models.edvr", _window(7, (4,), 4), 20_699_363,
                               "EDVR_L_x4_SR_Vimeo90K_official-162b54e4.pth", _BASICSR_ZOO),
    "tof": Listing("vsrbench.models.tof", _window(7, (4,), 4, "bicubic"), 1_405_899,
                   "tof_x4_vimeo90k_official-32c9e01f.pth", _BASICSR_ZOO),
    "duf-16l": Listing("vsrbench.models.duf", _window(7, (2, 3, 4)), 1_737_488,
                       "DUF_x4_16L_official-bf8f0cfa.pth", _BASICSR_ZOO),
    "duf-28l": Listing("vsrbench.models.duf", _window(7, (4,)), 2_118_432,
                       "DUF_x4_28L_official-cbada450.pth", _BASICSR_ZOO),
    "duf-52l": Listing("vsrbench.models.duf", _window(7, (4,)), 5_821_952,
                       "DUF_x4_52L_official-483d2c78.pth", _BASICSR_ZOO),
    "basicvsr": Listing("vsrbench.models.basicvsr", _RECURRENT_X4, 6_291_311, "BasicVSR_REDS4-543c8261.pth",
                        "https://github.com/XPixelGroup/BasicSR/blob/master/docs/ModelZoo.md"),
    "iconvsr": Listing("vsrbench.models.iconvsr", _RECURRENT_X4, 8_694_991, "IconVSR_REDS-aaa5367f.pth",
                       "https://github.com/XPixelGroup/BasicSR/blob/master/docs/ModelZoo.md"),
    "basicvsrpp": Listing("vsrbench.models.basicvsrpp", _RECURRENT_X4, 7_322_927,
                          "basicvsr_plusplus_c64n7_8x1_600k_reds4_20210217-db622b2f.pth",
                          "https://download.openmmlab.com/mmediting/restorers/basicvsr_plusplus/"
                          "basicvsr_plusplus_c64n7_8x1_600k_reds4_20210217-db622b2f.pth"),
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
