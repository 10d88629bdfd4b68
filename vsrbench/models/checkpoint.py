"""Safe checkpoint loading: ``torch.load(..., weights_only=True)``, wrapped forms, strict by default."""

from __future__ import annotations

import os
import re
import warnings
from collections.abc import Mapping

import torch
from torch import nn

from vsrbench.errors import VsrbenchError

__all__ = ["load_checkpoint", "extract_state_dict"]

#: wrapper keys tried in this order (EMA weights first: they are the ones released for evaluation)
WRAPPER_KEYS = ("params_ema", "params", "state_dict", "model")
_MAX_LIST = 20


def _is_state_dict(d) -> bool:
    return isinstance(d, Mapping) and len(d) > 0 and all(isinstance(v, torch.Tensor) for v in d.values())


def extract_state_dict(obj, key: str | None = None) -> dict[str, torch.Tensor]:
    """The tensor mapping inside a loaded checkpoint.

    Accepts a bare state_dict or ``{'params_ema' | 'params' | 'state_dict' | 'model': state_dict, ...}``
    (``key`` forces one); strips a ``module.`` prefix (``DataParallel``) when every key has it.
    """
    sd = obj
    if key is not None:
        if not isinstance(obj, Mapping) or key not in obj:
            raise KeyError(key)
        sd = obj[key]
    elif not _is_state_dict(obj) and isinstance(obj, Mapping):
        for k in WRAPPER_KEYS:
            if k in obj and isinstance(obj[k], Mapping):
                sd = obj[k]
                break
    if not _is_state_dict(sd):
        raise TypeError(f"not a state_dict (a non-empty mapping of names to tensors): {type(sd).__name__}")
    sd = dict(sd)
    if sd and all(k.startswith("module.") for k in sd):
        sd = {k[len("module."):]: v for k, v in sd.items()}
    return sd


#: MMagic / MMEditing model wrappers keep the network under these prefixes (EMA weights first)
GENERATOR_PREFIXES = ("generator_ema.", "generator.")


def _generator_of(sd: dict[str, torch.Tensor], own: Mapping) -> dict[str, torch.Tensor]:
    """An MMagic checkpoint's network: the ``generator.`` entries (``generator_ema.`` when present),
    prefix removed. The wrapper's own entries (``step_counter``, a GAN's ``discriminator.*``) are
    not part of the network and are left out. Applies only when the model's own names do not carry
    the prefix; otherwise ``sd`` is returned as is."""
    for prefix in GENERATOR_PREFIXES:
        if any(k.startswith(prefix) for k in sd) and not any(k.startswith(prefix) for k in own):
            return {k[len(prefix):]: v for k, v in sd.items() if k.startswith(prefix)}
    return sd


def _fmt(keys: list[str]) -> str:
    shown = ", ".join(keys[:_MAX_LIST])
    return shown + (f", ... ({len(keys) - _MAX_LIST} more)" if len(keys) > _MAX_LIST else "")


def _refused_global(e: Exception) -> str:
    """The code a refused pickle refers to (``posix.system``), when torch names it plainly."""
    m = re.search(r"unsupported GLOBAL ([A-Za-z_][\w.]{0,100})", str(e))
    return f"; it refers to {m.group(1)}" if m and "weights_only" not in m.group(1) else ""


def _load_weights_only(path: str):
    """``torch.load(weights_only=True)``; every failure becomes one VsrbenchError of our own words.

    torch's own messages are never passed on: they advise re-running with ``weights_only=False``,
    which would execute whatever code the file holds.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # e.g. "Detected pickle protocol 4": noise for the user
            return torch.load(path, map_location="cpu", weights_only=True)
    except OSError as e:
        raise VsrbenchError(f"cannot read checkpoint {path!r}: {(e.strerror or str(e)).lower()}; check the path") from None
    except EOFError:
        raise VsrbenchError(f"checkpoint {path!r} is empty or truncated; download it again") from None
    except MemoryError:
        raise VsrbenchError(f"checkpoint {path!r} declares tensors too large for this machine's memory: damaged or "
                            "not a model's weights; download it again") from None
    except RuntimeError as e:
        if "PytorchStreamReader" in str(e) or "zip archive" in str(e):
            raise VsrbenchError(
                f"checkpoint {path!r} is damaged or truncated (a torch zip file that cannot be read); download it again"
            ) from None
        m = re.search(r"record size \((\d+) bytes\) does not match expected size \((\d+) bytes", str(e))
        if m or "allocate" in str(e) or "storage" in str(e).lower():  # torch rebuilt no tensor: sizes, not code
            what = (f"a tensor declares {int(m.group(2)):,} bytes, the file holds {int(m.group(1)):,} for it" if m
                    else "a tensor's declared size cannot be allocated or does not match its data")
            raise VsrbenchError(f"checkpoint {path!r} is damaged ({what}); download it again") from None
        raise VsrbenchError(_NOT_WEIGHTS.format(path=path, why="")) from None
    except Exception as e:  # noqa: BLE001 - UnpicklingError and anything else an unsafe / foreign file raises
        raise VsrbenchError(_NOT_WEIGHTS.format(path=path, why=_refused_global(e))) from None


_NOT_WEIGHTS = ("{path!r} is not a weights-only checkpoint (it contains code or is not a torch file{why}); "
                "vsrbench never unpickles code: use a checkpoint that holds only tensors (a state_dict)")


def load_checkpoint(model: nn.Module, path: str | os.PathLike, strict: bool = True, key: str | None = None) -> nn.Module:
    """Load the weights in ``path`` (.pth / .pt) into ``model`` and return ``model``.

    Read with ``torch.load(path, map_location='cpu', weights_only=True)`` (no arbitrary pickles).
    Accepted forms: a bare state_dict, ``{'state_dict': ...}``, ``{'params': ...}``,
    ``{'params_ema': ...}`` (preferred when both are present; ``key=`` chooses), ``{'model': ...}``,
    each optionally with ``module.``-prefixed keys; MMagic's released files (``{'meta', 'state_dict'}``
    whose keys are ``generator.<name>`` beside the wrapper's ``step_counter``) load their generator.

    Raises:
        VsrbenchError: the file is missing or unreadable, not a weights-only checkpoint (torch's
            advice to pass ``weights_only=False`` is never passed on), or its keys do not fit the model. The
            message names the file and the missing, unexpected (both only when ``strict``) and
            mis-shaped keys (always).
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        kind = ("does not exist" if not os.path.lexists(path) else "is a broken link" if not os.path.exists(path)
                else "is a folder, not a file" if os.path.isdir(path) else
                f"is not a regular file ({'a link to ' + os.path.realpath(path) if os.path.islink(path) else 'a device, fifo or socket'})")
        raise VsrbenchError(f"checkpoint {path!r} {kind}; pass the .pth file")
    obj = _load_weights_only(path)
    try:
        sd = extract_state_dict(obj, key)
    except (KeyError, TypeError) as e:
        top = list(obj.keys())[:10] if isinstance(obj, Mapping) else type(obj).__name__
        raise VsrbenchError(
            f"checkpoint {path!r} holds no state_dict (looked for {key or 'a bare mapping or ' + ', '.join(WRAPPER_KEYS)}; "
            f"found {top})"
        ) from e

    own = model.state_dict()
    sd = _generator_of(sd, own)
    missing = [k for k in own if k not in sd]
    unexpected = [k for k in sd if k not in own]
    misshaped = [
        f"{k} (checkpoint {tuple(sd[k].shape)}, model {tuple(own[k].shape)})"
        for k in own
        if k in sd and tuple(sd[k].shape) != tuple(own[k].shape)
    ]
    problems = []
    if misshaped:
        problems.append(f"mis-shaped keys: {_fmt(misshaped)}")
    if strict and missing:
        problems.append(f"missing keys: {_fmt(missing)}")
    if strict and unexpected:
        problems.append(f"unexpected keys: {_fmt(unexpected)}")
    if problems:
        name = getattr(model, "model_name", type(model).__name__)
        raise VsrbenchError(f"checkpoint {path!r} does not fit model {name!r}: " + "; ".join(problems))
    _check_dtypes(path, sd, own)
    model.load_state_dict({k: v for k, v in sd.items() if k in own}, strict=strict)
    return model


def _check_dtypes(path: str, sd: Mapping, own: Mapping) -> None:
    """Refuse a checkpoint whose tensors are not of the model's kind: a floating-point weight must come
    as floating point (any precision: load_state_dict converts), any other tensor (an integer buffer
    such as BatchNorm's ``num_batches_tracked``) as the model's own dtype. An int64 state_dict would
    otherwise load (converted silently) and be scored."""
    for k, want in own.items():
        got = sd.get(k)
        if got is None:
            continue
        ok = got.is_floating_point() if want.is_floating_point() else got.dtype == want.dtype
        if not ok:
            kind = "floating point" if want.is_floating_point() else str(want.dtype).replace("torch.", "")
            raise VsrbenchError(
                f"checkpoint {path!r}: tensor {k!r} is {str(got.dtype).replace('torch.', '')}, the model's is "
                f"{kind}; use a checkpoint of the model's trained weights (not converted to another dtype)"
            )
