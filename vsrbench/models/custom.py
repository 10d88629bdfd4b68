"""Your own model without a plugin package: ``--model package.module:factory``.

Any importable callable that returns a ``torch.nn.Module`` (a function or the class itself) can be
evaluated, swept, profiled and used for upscaling. How the harness feeds it (:class:`ModelSpec`)
comes from a ``vsrbench_spec`` attribute on the factory (a dict of ModelSpec fields, or a
ModelSpec), overridden by the interface flags ``--frames-in 7|recurrent --task vsr|stvsr
--colour rgb|y --range 0,1|0,255 --scales 4[,2]``. A factory with a ``scale`` parameter needs no
scales: it is built at the scale the suite (or ``upscale``/``profile --scale``) asks for. Registered models (built-in or from a plug-in
package's entry point) declare their own interface; the flags are refused for them.

Security: importing ``package.module`` runs its code; that is what the user asked for on the
command line (or in the Python API). Names are resolved only from those explicit arguments, never
from a result record, a leaderboard, a baseline or any other file vsrbench reads.

* :func:`is_custom_name`, :func:`resolve_factory`, :func:`custom_spec`, :func:`custom_model_info`
  (used by :func:`vsrbench.models.get_model_info` for names with a ``:``);
* :func:`add_model_interface_args` and :func:`spec_overrides_from_args`: the CLI flags, for every
  command that takes ``--model`` (evaluate, sweep, profile, upscale).
"""

from __future__ import annotations

import inspect
import re
from typing import Callable

from vsrbench.errors import VsrbenchError
from vsrbench.numeric import positive_int
from vsrbench.models.spec import ModelCard, ModelInfo, ModelSpec

__all__ = [
    "is_custom_name", "resolve_factory", "custom_spec", "custom_model_info", "parse_spec_flags",
    "add_model_interface_args", "spec_overrides_from_args", "FLAGS",
]

_IDENT = r"[A-Za-z_][A-Za-z0-9_]*"
_NAME_RE = re.compile(rf"{_IDENT}(?:\.{_IDENT})*:{_IDENT}(?:\.{_IDENT})*", re.ASCII)

#: ModelSpec field -> the CLI flag that sets it
FLAGS = {"frames_in": "--frames-in", "task": "--task", "colour": "--colour", "input_range": "--range",
         "scales": "--scales"}
_FIELDS = ("task", "frames_in", "frames_out", "colour", "scales", "input_range", "spatial_multiple")
_MISSING = {"frames_in": "--frames-in N|recurrent", "colour": "--colour rgb|y", "scales": "--scales S[,S...]"}
_ALIASES = {"range": "input_range", "color": "colour", "scale": "scales"}
_RANGES = {(0.0, 1.0), (0.0, 255.0)}
_EXAMPLE = "e.g. --model mymodels.net:build"


def is_custom_name(name) -> bool:
    """Whether ``name`` names a model of your own (``package.module:factory``) rather than a registered one."""
    return isinstance(name, str) and ":" in name


def _check_name(name: str) -> tuple[str, str]:
    if not _NAME_RE.fullmatch(name):
        raise VsrbenchError(
            f"--model {name!r}: a model of your own is named package.module:factory (Python names joined by dots, "
            f"one ':'), {_EXAMPLE}; registered models have plain names (vsrbench models)")
    module, _, attr = name.partition(":")
    return module, attr


def resolve_factory(name: str) -> Callable:
    """Import ``package.module`` of ``package.module:factory`` and return its callable ``factory``
    (a dotted attribute path is followed). Every failure is a one-line :class:`VsrbenchError`."""
    import importlib

    module_name, attr = _check_name(name)
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as e:
        missing = e.name or ""
        if missing and (module_name == missing or module_name.startswith(missing + ".")):
            raise VsrbenchError(
                f"cannot import module {module_name!r} (from --model {name}): no module named {missing!r}; put the "
                f"folder that holds it on PYTHONPATH (PYTHONPATH=/path/to/folder vsrbench ...; the vsrbench command "
                f"does not look in the current folder) or install its package (pip install -e /path/to/project)"
            ) from None
        raise VsrbenchError(f"importing module {module_name!r} (from --model {name}) failed: "
                            f"{_exc_line(e)}; install what it needs or fix the module") from None
    except Exception as e:  # noqa: BLE001 - the user's module: SyntaxError, ImportError of a dependency, ...
        raise VsrbenchError(f"importing module {module_name!r} (from --model {name}) failed: {_exc_line(e)}; "
                            "fix the module") from None
    obj = module
    for part in attr.split("."):
        if not hasattr(obj, part):
            where = getattr(module, "__file__", None) or module_name
            have = sorted(n for n, v in vars(obj).items() if callable(v) and not n.startswith("_")
                          and getattr(v, "__module__", None) == module.__name__)[:12]
            raise VsrbenchError(
                f"module {module_name!r} ({where}) has no attribute {attr!r} (from --model {name}); "
                f"its own callables: {', '.join(have) or 'none'}")
        obj = getattr(obj, part)
    if not callable(obj):
        raise VsrbenchError(f"{name} is a {type(obj).__name__}, not a callable; --model needs a function or class "
                            "that returns a torch.nn.Module")
    return obj


def _exc_line(e: BaseException) -> str:
    """``Type: message (file:line)`` of an exception raised in user code, on one line."""
    import traceback

    text = " ".join(str(e).split()) or "(no message)"
    loc = ""
    if isinstance(e, SyntaxError) and e.filename:
        loc = f" ({e.filename}:{e.lineno})"
    else:
        tb = traceback.extract_tb(e.__traceback__)
        if tb:
            loc = f" ({tb[-1].filename}:{tb[-1].lineno})"
    return f"{type(e).__name__}: {text}{loc}"


# ------------------------------------------------------------------------------------------------ spec
def parse_spec_flags(*, frames_in=None, task=None, colour=None, range=None, scales=None) -> dict:  # noqa: A002
    """The interface flags' texts -> ModelSpec field overrides (only the flags given)."""
    out: dict = {}
    if frames_in is not None:
        v = str(frames_in).strip().lower()
        if v == "recurrent":
            out["frames_in"] = "recurrent"
        else:
            try:
                out["frames_in"] = positive_int(v, "--frames-in")
            except VsrbenchError:
                out["frames_in"] = None
            if out["frames_in"] is None:
                raise VsrbenchError(f"--frames-in must be a window size (an integer >= 1, e.g. 7) or 'recurrent', "
                                    f"got {frames_in!r}")
    if task is not None:
        v = str(task).strip().lower()
        if v not in ("vsr", "stvsr"):
            raise VsrbenchError(f"--task must be vsr (same frame rate) or stvsr (space-time), got {task!r}")
        out["task"] = v
    if colour is not None:
        v = str(colour).strip().lower()
        if v not in ("rgb", "y"):
            raise VsrbenchError(f"--colour must be rgb or y (BT.601 luma only), got {colour!r}")
        out["colour"] = v
    if range is not None:
        out["input_range"] = _parse_range(range, "--range")
    if scales is not None:
        out["scales"] = _parse_scales(scales, "--scales")
    return out


def _parse_range(value, flag: str) -> tuple[float, float]:
    try:
        if isinstance(value, str):
            parts = [float(p) for p in value.replace(" ", "").split(",")]
        else:
            parts = [float(p) for p in value]
        rng = tuple(parts)
    except (TypeError, ValueError):
        rng = None
    if rng not in _RANGES:
        raise VsrbenchError(f"{flag} must be 0,1 or 0,255 (the value range of the model's inputs and outputs), "
                            f"got {value!r}")
    return rng


def _parse_scales(value, flag: str) -> tuple[int, ...]:
    try:
        items = value.replace(" ", "").split(",") if isinstance(value, str) else list(value)
        out = tuple(positive_int(str(s).lower().lstrip("x"), flag) for s in items)
    except (TypeError, ValueError, VsrbenchError):
        out = ()
    if not out:
        raise VsrbenchError(f"{flag} must be the scale factors the model supports, e.g. 4 or 4,2; got {value!r}")
    return out


def _declared(factory: Callable, name: str) -> dict:
    """The factory's ``vsrbench_spec`` (dict or ModelSpec) as a dict of ModelSpec fields."""
    raw = getattr(factory, "vsrbench_spec", None)
    if raw is None:
        return {}
    if isinstance(raw, ModelSpec):
        return raw.as_dict()
    if not isinstance(raw, dict):
        raise VsrbenchError(f"{name}.vsrbench_spec is a {type(raw).__name__}; make it a dict of ModelSpec fields "
                            f"({', '.join(_FIELDS)}) or a vsrbench.models.ModelSpec")
    out = {}
    for k, v in raw.items():
        key = _ALIASES.get(k, k)
        if key not in _FIELDS:
            raise VsrbenchError(f"{name}.vsrbench_spec has an unknown field {k!r}; the fields are {', '.join(_FIELDS)}")
        out[key] = v
    return out


def custom_spec(name: str, declared: dict, overrides: dict | None = None, *, scale: int | None = None,
                takes_scale: bool = False) -> ModelSpec:
    """The :class:`ModelSpec` of a model of your own: ``declared`` (its ``vsrbench_spec``)
    overridden by ``overrides`` (the flags). ``task`` defaults to ``vsr`` and ``input_range`` to
    ``(0, 1)``; ``frames_in`` and ``colour`` must be given by one or the other, and ``scales`` too
    unless the factory takes ``scale`` (``takes_scale``): then it is built at the scale asked for,
    ``scale`` (a suite's, ``upscale --scale``'s), and its spec says ``scales=(scale,)``.
    ``frames_out`` is 1 for VSR and ``2 * frames_in - 1`` for STVSR unless declared (and neither
    ``task`` nor ``frames_in`` overridden)."""
    overrides = dict(overrides or {})
    for k in overrides:
        if k not in _FIELDS:
            raise VsrbenchError(f"unknown model interface field {k!r}; the fields are {', '.join(_FIELDS)}")
    merged = {"task": "vsr", "input_range": (0.0, 1.0), "spatial_multiple": 1, **declared, **overrides}
    follows = takes_scale and merged.get("scales") is None  # built at the scale the suite (or --scale) asks for
    missing = [_MISSING[k] for k in ("frames_in", "colour", "scales") if merged.get(k) is None
               and not (k == "scales" and follows)]
    if missing:
        raise VsrbenchError(
            f"model {name} does not say how to feed it: pass {' '.join(missing)} (and --task vsr|stvsr, "
            f"--range 0,1|0,255 where not vsr, 0,1), or give the factory a vsrbench_spec dict (see README)")
    if follows:
        if scale is None:
            raise VsrbenchError(f"model {name} is built at the scale it is asked for (its factory takes scale): "
                                "pass --scale S (or --scales S[,S...] for the scales it supports)")
        merged["scales"] = (positive_int(scale, "scale"),)
    what = "" if overrides else f" (from {name}.vsrbench_spec)"
    frames_in = merged["frames_in"]
    if isinstance(frames_in, str) and frames_in.strip().lower() == "recurrent":
        frames_in = "recurrent"
    elif isinstance(frames_in, bool) or not isinstance(frames_in, int) or frames_in < 1:
        raise VsrbenchError(f"frames_in{what} must be an integer >= 1 or 'recurrent', got {frames_in!r}")
    task = merged["task"]
    if task not in ("vsr", "stvsr"):
        raise VsrbenchError(f"task{what} must be 'vsr' or 'stvsr', got {task!r}")
    if task == "stvsr" and (frames_in == "recurrent" or frames_in < 2):
        raise VsrbenchError(f"an STVSR model takes a window of N >= 2 frames and returns 2N - 1: pass --frames-in N "
                            f"(got {frames_in!r})")
    colour = merged["colour"]
    if colour not in ("rgb", "y"):
        raise VsrbenchError(f"colour{what} must be 'rgb' or 'y', got {colour!r}")
    scales = _parse_scales(merged["scales"] if not isinstance(merged["scales"], int) else [merged["scales"]], "scales")
    rng = _parse_range(merged["input_range"], "input_range (--range)")
    derived = 1 if task == "vsr" or frames_in == "recurrent" else 2 * frames_in - 1
    frames_out = merged.get("frames_out")
    if frames_out is None or {"task", "frames_in"} & set(overrides):
        frames_out = derived
    sm = merged["spatial_multiple"]
    if isinstance(sm, bool) or not isinstance(sm, int) or sm < 1 or not isinstance(frames_out, int) or frames_out < 1:
        raise VsrbenchError(f"{name}: spatial_multiple and frames_out must be integers >= 1 "
                            f"(got {sm!r}, {frames_out!r})")
    return ModelSpec(task=task, frames_in=frames_in, frames_out=int(frames_out), colour=colour, scales=scales,
                     input_range=rng, spatial_multiple=int(sm))


def _source_file(obj) -> str | None:
    try:
        return inspect.getsourcefile(obj)
    except (TypeError, OSError):
        return None


def _accepts(factory: Callable, kw: str) -> bool:
    try:
        params = inspect.signature(factory).parameters.values()
    except (TypeError, ValueError):
        return True
    return any(p.name == kw or p.kind is inspect.Parameter.VAR_KEYWORD for p in params)


def _takes_scale(factory: Callable) -> bool:
    """Whether the factory has a parameter named ``scale`` (not only ``**kwargs``)."""
    try:
        return "scale" in inspect.signature(factory).parameters
    except (TypeError, ValueError):
        return False


def _builder(name: str, factory: Callable) -> Callable:
    """``factory`` wrapped: passes ``scale`` only when it takes one, checks the result is a Module,
    turns its exceptions into one line, and tags the module with its source files (code hash)."""

    def build(**kwargs):
        from torch import nn

        if "scale" in kwargs and not _accepts(factory, "scale"):
            kwargs.pop("scale")
        shown = ", ".join(f"{k}={v!r}" for k, v in kwargs.items())
        try:
            net = factory(**kwargs)
        except VsrbenchError:
            raise
        except Exception as e:  # noqa: BLE001 - the user's code
            raise VsrbenchError(f"{name}({shown}) raised {_exc_line(e)}") from None
        if not isinstance(net, nn.Module):
            raise VsrbenchError(f"{name}({shown}) returned a {type(net).__module__}.{type(net).__qualname__}, not a "
                                "torch.nn.Module; the factory must build and return the network")
        net.source_files = tuple(f for f in (_source_file(factory),) if f)
        return net

    build.__name__ = build.__qualname__ = name
    return build


def custom_model_info(name: str, overrides: dict | None = None, scale: int | None = None) -> ModelInfo:
    """The :class:`ModelInfo` of ``package.module:factory`` (imports the module). ``scale``: the
    scale asked for (a suite's), the model's when its factory takes ``scale`` and no scales are
    declared or given (see :func:`custom_spec`)."""
    factory = resolve_factory(name)
    spec = custom_spec(name, _declared(factory, name), overrides, scale=scale, takes_scale=_takes_scale(factory))
    src = _source_file(factory)
    card = ModelCard(paper="", notes=f"your own model {name}" + (f" ({src})" if src else ""))
    return ModelInfo(name, _builder(name, factory), spec, card, {})


# ------------------------------------------------------------------------------------------------ CLI flags
def add_model_interface_args(parser) -> None:
    """The interface flags of a model of your own (``--model package.module:factory``) on ``parser``.
    Values are checked by :func:`spec_overrides_from_args` (one-line errors)."""
    g = parser.add_argument_group(
        "your own model (--model package.module:factory)",
        "how to feed it; defaults from the factory's vsrbench_spec attribute (refused for registered models)")
    g.add_argument("--frames-in", metavar="N|recurrent", help="frames per model call (window size) or recurrent")
    g.add_argument("--task", metavar="vsr|stvsr", help="vsr (default) or stvsr (2N - 1 frames out of N)")
    g.add_argument("--colour", "--color", dest="colour", metavar="rgb|y", help="RGB, or BT.601 Y only")
    g.add_argument("--range", dest="value_range", metavar="0,1|0,255", help="value range of inputs/outputs (default 0,1)")
    g.add_argument("--scales", metavar="S[,S...]", help="scale factors it supports, e.g. 4 or 4,2")


def spec_overrides_from_args(args) -> dict | None:
    """Parsed args -> the ``model_spec`` overrides for ``evaluate`` / ``upscale_folder`` /
    ``get_model_info`` (``None`` when no interface flag was given)."""
    out = parse_spec_flags(frames_in=getattr(args, "frames_in", None), task=getattr(args, "task", None),
                           colour=getattr(args, "colour", None), range=getattr(args, "value_range", None),
                           scales=getattr(args, "scales", None))
    return out or None


def refuse_overrides(name: str, overrides: dict | None) -> None:
    """A registered model declares its own interface: interface flags for it are an error."""
    if overrides:
        flags = " ".join(FLAGS.get(k, k) for k in overrides)
        raise VsrbenchError(
            f"{flags}: these describe a model of your own (--model package.module:factory); the registered model "
            f"{name!r} declares its own interface (vsrbench models): drop the flag(s)")
