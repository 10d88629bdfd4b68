"""Interpolation baselines (the field's "Bicubic" row and friends) as registered models.

Each wraps MATLAB-compatible :func:`vsrbench.degradations.imresize.imresize_torch` (float64 inside)
on single frames: ``B x 1 x 3 x H x W`` in 0..255 -> ``B x 1 x 3 x sH x sW`` in 0..255, unrounded
(the harness rounds to uint8 as MATLAB does).
"""

from __future__ import annotations

import torch
from torch import nn

from vsrbench.degradations.imresize import imresize_torch
from vsrbench.models.registry import ModelCard, ModelSpec, register_model

_SPEC = ModelSpec(
    task="vsr",
    frames_in=1,
    frames_out=1,
    colour="rgb",
    scales=(2, 3, 4, 8, 16),
    input_range=(0.0, 255.0),
    spatial_multiple=1,
)


class Interpolation(nn.Module):
    """MATLAB ``imresize`` upscaling by ``scale`` with the given kernel; no parameters."""

    def __init__(self, scale: int = 4, kernel: str = "cubic"):
        super().__init__()
        self.scale = int(scale)
        self.kernel = kernel

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = imresize_torch(x.to(torch.float64), scale=self.scale, kernel=self.kernel, quantize=False)
        return y if x.dtype == torch.float64 else y.to(x.dtype)


def _card(kernel: str) -> ModelCard:
    return ModelCard(
        paper="MATLAB imresize",
        notes=f"MATLAB imresize upscaling, kernel {kernel!r}, no parameters.",
    )


@register_model("bicubic", _SPEC, _card("cubic"))
def bicubic(scale: int = 4) -> Interpolation:
    return Interpolation(scale, "cubic")


@register_model("bilinear", _SPEC, _card("triangle"))
def bilinear(scale: int = 4) -> Interpolation:
    return Interpolation(scale, "triangle")


@register_model("nearest", _SPEC, _card("box"))
def nearest(scale: int = 4) -> Interpolation:
    return Interpolation(scale, "box")


@register_model("lanczos", _SPEC, _card("lanczos3"))
def lanczos(scale: int = 4) -> Interpolation:
    return Interpolation(scale, "lanczos3")
