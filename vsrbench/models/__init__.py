"""Registered models: interpolation baselines and the VSR / STVSR architectures, one per file.

Importing this package does not import torch: the built-in architectures are imported (and so
registered) on the first ``create_model`` / ``get_model_info`` / ``list_models`` call, and
``vsrbench.models.listing.model_listing`` lists them without importing torch at all.
"""

from vsrbench.models.registry import (  # noqa: F401
    ModelCard,
    ModelSpec,
    create_model,
    get_model_info,
    list_models,
    register_model,
)


def __getattr__(name):  # lazy: `from vsrbench.models import load_checkpoint` imports torch only then
    if name == "load_checkpoint":
        from vsrbench.models.checkpoint import load_checkpoint

        return load_checkpoint
    if name in ("interpolation", "lcvsr", "fstrn", "dksan", "zsm", "checkpoint", "layers", "edvr", "edvr_blocks", "tof",
                "duf", "basicvsr", "iconvsr", "basicvsrpp", "refblocks"):
        import importlib

        return importlib.import_module(f"vsrbench.models.{name}")
    raise AttributeError(f"module 'vsrbench.models' has no attribute {name!r}")
