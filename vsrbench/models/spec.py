"""What a model declares: :class:`ModelSpec` (how the harness feeds it), :class:`ModelCard` (where
it comes from) and :class:`ModelInfo` (a registered factory with both).

Plain data, no torch and no other vsrbench module: the registry, models of your own
(:mod:`vsrbench.models.custom`) and the listing all build on it, so none of them imports another
to get these types.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Callable

__all__ = ["ModelSpec", "ModelCard", "ModelInfo"]


@dataclass(frozen=True)
class ModelSpec:
    """The interface a model declares, used by the harness to feed it.

    Attributes:
        task: ``'vsr'`` (same frame rate) or ``'stvsr'`` (space-time: frames are interpolated too).
        frames_in: window size (int) or ``'recurrent'`` (the whole clip in one pass).
        frames_out: frames produced per window (1 for centre-frame VSR; ``2 * frames_in - 1`` for
            ZSM-style STVSR); for recurrent models, ignored (one output per input frame).
        colour: ``'y'`` (BT.601 Y only; Cb/Cr are bicubic-upsampled by the harness) or ``'rgb'``.
        scales: spatial scale factors the model supports.
        input_range: value range of inputs and outputs, ``(0, 1)`` or ``(0, 255)``.
        spatial_multiple: H and W must be multiples of this (the harness pads and crops back).
        input_upsample: ``None``, or ``'bicubic'``: the harness upsamples the LR frames by the scale
            (MATLAB bicubic, rounded to 8 bits) before the model sees them (TOFlow's ``BIx4up_direct``).
    """

    task: str
    frames_in: int | str
    frames_out: int
    colour: str
    scales: tuple[int, ...]
    input_range: tuple[float, float] = (0.0, 1.0)
    spatial_multiple: int = 1
    input_upsample: str | None = None

    def __post_init__(self):
        if self.task not in ("vsr", "stvsr"):
            raise ValueError(f"ModelSpec.task must be 'vsr' or 'stvsr', got {self.task!r}")
        if not (isinstance(self.frames_in, int) or self.frames_in == "recurrent"):
            raise ValueError(f"ModelSpec.frames_in must be an int or 'recurrent', got {self.frames_in!r}")
        if self.colour not in ("y", "rgb"):
            raise ValueError(f"ModelSpec.colour must be 'y' or 'rgb', got {self.colour!r}")
        if self.input_upsample not in (None, "bicubic"):
            raise ValueError(f"ModelSpec.input_upsample must be None or 'bicubic', got {self.input_upsample!r}")

    def as_dict(self) -> dict:
        d = dataclasses.asdict(self)
        if d["input_upsample"] is None:  # absent unless used: the spec records of other models stay as they were
            del d["input_upsample"]
        return d


@dataclass(frozen=True)
class ModelCard:
    """Provenance: the paper, its reported parameter count, the published checkpoint. The papers'
    reported numbers live in one place, ``reported.csv`` (the leaderboard's ``--reported``)."""

    paper: str = ""
    reported_params_m: float | None = None
    checkpoint_url: str | None = None
    checkpoint_name: str | None = None
    checkpoint_sha256: str | None = None
    notes: str = ""

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class ModelInfo:
    name: str
    factory: Callable
    spec: ModelSpec
    card: ModelCard = field(default_factory=ModelCard)
    default_kwargs: dict = field(default_factory=dict)
