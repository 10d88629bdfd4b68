"""Model registry: ``register_model``, ``create_model``, ``list_models`` (timm's pattern).

Every model is a ``torch.nn.Module`` built by a registered factory. Its :class:`ModelSpec` says how
the evaluation harness must feed it; its :class:`ModelCard` says where it comes from.

Tensor convention for every registered model: ``forward`` takes ``B x T x C x H x W`` (``T`` =
``spec.frames_in`` for window models, any length for recurrent ones; ``C`` = 1 for ``colour='y'``,
3 for ``'rgb'``; values in ``spec.input_range``) and returns ``B x T_out x C x sH x sW`` in the same
range (``T_out`` = ``spec.frames_out``; for STVSR ``2T - 1``). A window model with ``frames_out=1``
may instead return the centre frame alone, ``B x C x sH x sW`` (the official EDVR / DUF / TOFlow
modules do). A model with ``input_upsample='bicubic'`` (TOFlow) takes its frames already upsampled
to ``sH x sW`` (MATLAB bicubic, rounded to 8 bits as the PNGs it was tested on) and returns that size.

Third-party packages add models through the ``vsrbench.models`` entry-point group: each entry point
names a module (or a callable) that, when loaded, calls :func:`register_model`.
"""

from __future__ import annotations

from typing import Callable

from vsrbench.models import custom
from vsrbench.models.spec import ModelCard, ModelInfo, ModelSpec

__all__ = [
    "ModelSpec",
    "ModelCard",
    "register_model",
    "create_model",
    "list_models",
    "get_model_info",
    "ModelInfo",
]

ENTRY_POINT_GROUP = "vsrbench.models"

#: the modules that register the built-in models (each model file calls :func:`register_model`
#: for its own models: the one place that declares their spec, card and configuration)
BUILTIN_MODULES = (
    "vsrbench.models.interpolation", "vsrbench.models.lcvsr", "vsrbench.models.fstrn", "vsrbench.models.dksan",
    "vsrbench.models.zsm", "vsrbench.models.edvr", "vsrbench.models.tof", "vsrbench.models.duf",
    "vsrbench.models.basicvsr", "vsrbench.models.iconvsr", "vsrbench.models.basicvsrpp",
)


_REGISTRY: dict[str, ModelInfo] = {}
_ENTRY_POINTS_LOADED = False


def register_model(name: str, spec: ModelSpec, card: ModelCard | None = None, **default_kwargs):
    """Decorator registering a model factory under ``name``.

    >>> @register_model("mynet", ModelSpec(task="vsr", frames_in=5, frames_out=1, colour="rgb",
    ...                                    scales=(4,)))
    ... def mynet(scale=4, **kw):
    ...     return MyNet(scale=scale, **kw)
    """

    def decorator(factory: Callable) -> Callable:
        if name in _REGISTRY and _REGISTRY[name].factory is not factory:
            raise ValueError(f"a model named {name!r} is already registered")
        _REGISTRY[name] = ModelInfo(name, factory, spec, card or ModelCard(), dict(default_kwargs))
        return factory

    return decorator


def _load_builtin_and_entry_points() -> None:
    global _ENTRY_POINTS_LOADED
    if _ENTRY_POINTS_LOADED:
        return
    import importlib

    for mod in BUILTIN_MODULES:  # registers the built-in models (imports torch)
        importlib.import_module(mod)
    _ENTRY_POINTS_LOADED = True
    from importlib.metadata import entry_points

    for ep in entry_points(group=ENTRY_POINT_GROUP):
        obj = ep.load()
        if callable(obj) and not isinstance(obj, type(__import__("sys"))):
            obj()


def list_models(task: str | None = None) -> list[str]:
    """Sorted names of the registered models (optionally only ``task='vsr'`` or ``'stvsr'``)."""
    _load_builtin_and_entry_points()
    return sorted(n for n, i in _REGISTRY.items() if task is None or i.spec.task == task)


def get_model_info(name: str, spec_overrides: dict | None = None, *, scale: int | None = None) -> ModelInfo:
    """The registered model ``name``, or a model of your own named ``package.module:factory``
    (imported; its spec from ``factory.vsrbench_spec`` overridden by ``spec_overrides``, see
    :mod:`vsrbench.models.custom`). ``spec_overrides`` for a registered name is an error.
    ``scale``: the scale asked for (a suite's): a model of your own whose factory takes ``scale``
    and declares no scales is built at it; registered models declare theirs (it is not used)."""
    if custom.is_custom_name(name):
        return custom.custom_model_info(name, spec_overrides, scale)
    _load_builtin_and_entry_points()
    custom.refuse_overrides(name, spec_overrides)
    if name not in _REGISTRY:
        from vsrbench.errors import VsrbenchError

        raise VsrbenchError(
            f"unknown model {name!r}; registered models: {', '.join(list_models())}"
        )
    return _REGISTRY[name]


def create_model(name: str | ModelInfo, spec_overrides: dict | None = None, **kwargs):
    """Build the registered model ``name``; ``kwargs`` override its constructor defaults.

    ``name`` may also be ``package.module:factory`` (with ``spec_overrides``, see
    :func:`get_model_info`) or a :class:`ModelInfo` that ``get_model_info`` returned.
    The returned module carries ``.spec`` (:class:`ModelSpec`), ``.card`` and ``.model_name``.
    """
    info = name if isinstance(name, ModelInfo) else get_model_info(name, spec_overrides, scale=kwargs.get("scale"))
    name = info.name
    model = info.factory(**{**info.default_kwargs, **kwargs})
    model.spec = info.spec
    model.card = info.card
    model.model_name = name
    return model
