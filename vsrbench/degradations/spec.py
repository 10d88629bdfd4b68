"""Degradation specs: strings such as ``bi:x4``, ``bd:x4+noise``, ``bi:x4+jpeg:q=20``, ``frames:odd``.

Grammar: ``op[:key=value,...][:xS]`` joined by ``+``, applied left to right. Valid ops:

========================  =======================================================================
``bi:xS``                 MATLAB ``imresize(gt, 1/S, 'bicubic')`` (antialiased)
``bd:xS``                 BasicVSR/mmagic MATLAB BD: 12x12 Gaussian sigma 1.6, replicate, rows 1,5,..
``bd-duf:xS``             DUF BD: 13x13 Gaussian sigma 0.4 S, reflect-101, rows 0, 4, 8, ...
``gauss:sigma=1,size=3:xS``  LCVSR: Gaussian blur then every S-th pixel
``blur-bicubic:sigma=2:xS``  FSTRN: Gaussian smoothing (5x5) then MATLAB bicubic down
``noise[:sigma=25.5,p=0.1]``  Gaussian + random-valued impulse noise (ToFlow / ZSM)
``jpeg:q=Q``              baseline JPEG round trip at quality Q (1..100)
``frames:odd``            keep frames 1, 3, 5, ... (1-based), for space-time SR
========================  =======================================================================

Parameters are checked against :data:`PARAM_RANGES` (blur sigma 0.1..20, kernel size 1..99 (odd for
bd-duf), noise sigma 0..255 and p 0..1, JPEG q 1..100; no key twice, one scale per op, at most
:data:`MAX_OPS` ops and :data:`MAX_SPEC_CHARS` characters); frames smaller than the total scale are
refused (:meth:`Degradation.check_frame_size`).

Scales: 2, 3, 4, 8, 16. GT is modcropped to a multiple of the total scale first. Random ops draw from
a generator seeded by (dataset, clip, frame index, canonical spec, op position): the same bytes on
every machine, rerun, order and worker count.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field

import numpy as np

from vsrbench.degradations import blur, noise
from vsrbench.degradations.imresize import imresize, matlab_round_uint8
from vsrbench.numeric import fold_wide

__all__ = ["Degradation", "DegradationOp", "parse_spec", "VALID_OPS", "SCALES", "modcrop", "frame_rng"]

SCALES = (2, 3, 4, 8, 16)

#: op name -> (default params, takes a scale, is random, help)
VALID_OPS: dict[str, tuple[dict, bool, bool, str]] = {
    "bi": ({}, True, False, "MATLAB bicubic downscaling"),
    "bd": ({"sigma": 1.6}, True, False, "BasicVSR/mmagic MATLAB blur-downsampling (12x12, sigma 1.6)"),
    "bd-duf": ({"sigma": None, "size": 13}, True, False, "DUF blur-downsampling (13x13, sigma 0.4*scale)"),
    "gauss": ({"sigma": 1.0, "size": 3}, True, False, "LCVSR Gaussian blur then subsampling"),
    "blur-bicubic": ({"sigma": 2.0, "size": 5}, True, False, "FSTRN Gaussian smoothing then bicubic down"),
    "noise": ({"sigma": 25.5, "p": 0.1}, False, True, "Gaussian + 10% random-valued impulse noise"),
    "jpeg": ({"q": None}, False, False, "JPEG round trip at quality q"),
    "frames": ({}, False, False, "frame selection: frames:odd"),
}

#: ops that treat the three channels alike and independently: applied to BGR they give the BGR of
#: the RGB result, bit for bit (not noise: its random draws follow channel order; not JPEG: YCbCr)
CHANNEL_SYMMETRIC = frozenset({"bi", "bd", "bd-duf", "gauss", "blur-bicubic", "frames"})


#: valid parameter ranges, (low, high, integer): the literature's values sit well inside them
#: (bd sigma 1.6, bd-duf sigma 0.4 x scale, gauss 1 / 3x3, blur-bicubic 2 / 5x5, noise 25.5 / 0.1,
#: jpeg 10..50); outside them a blur is a no-op or a NaN (sigma 0), or runs for ages (huge kernels)
_BLUR_SIGMA = (0.1, 20.0, False)
_KERNEL_SIZE = (1, 99, True)
PARAM_RANGES: dict[str, dict[str, tuple[float, float, bool]]] = {
    "bd": {"sigma": _BLUR_SIGMA},
    "bd-duf": {"sigma": _BLUR_SIGMA, "size": _KERNEL_SIZE},
    "gauss": {"sigma": _BLUR_SIGMA, "size": _KERNEL_SIZE},
    "blur-bicubic": {"sigma": _BLUR_SIGMA, "size": _KERNEL_SIZE},
    "noise": {"sigma": (0.0, 255.0, False), "p": (0.0, 1.0, False)},
    "jpeg": {"q": (1, 100, True)},
}
#: a spec longer than this is refused (store and folder names are derived from it)
MAX_SPEC_CHARS = 200
MAX_OPS = 8


def _valid_list() -> str:
    return (
        "bi:x4, bd:x4, bd-duf:x4, gauss:sigma=1,size=3:x4, blur-bicubic:sigma=2:x4, noise, "
        "jpeg:q=20, frames:odd (compose with '+'; scales x2, x3, x4, x8, x16)"
    )


def _spec_error(spec: str, why: str) -> ValueError:
    from vsrbench.errors import VsrbenchError

    return VsrbenchError(f"invalid degradation spec {spec!r}: {why}. Valid specs: {_valid_list()}")


def modcrop(img: np.ndarray, scale: int) -> np.ndarray:
    """Crop bottom/right so that height and width are multiples of ``scale`` (BasicSR's modcrop)."""
    h, w = img.shape[:2]
    return img[: h - h % scale, : w - w % scale]


def frame_rng(dataset: str, clip: str, index: int, spec: str, position: int = 0) -> np.random.Generator:
    """The generator for one random op on one frame, seeded from what identifies it."""
    key = f"vsrbench-degradation\0{dataset}\0{clip}\0{index}\0{spec}\0{position}".encode()
    seed = int.from_bytes(hashlib.sha256(key).digest()[:16], "little")
    return np.random.Generator(np.random.PCG64(seed))


def _fmt(v) -> str:
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


@dataclass(frozen=True)
class DegradationOp:
    name: str
    params: tuple[tuple[str, object], ...] = ()
    scale: int = 1

    @property
    def p(self) -> dict:
        return dict(self.params)

    @property
    def channel_symmetric(self) -> bool:
        """Whether the op commutes with a channel permutation (see :data:`CHANNEL_SYMMETRIC`)."""
        return self.name in CHANNEL_SYMMETRIC

    def canonical(self) -> str:
        s = self.name
        if self.name == "frames":
            return "frames:odd"
        defaults = dict(VALID_OPS[self.name][0])
        if self.name == "bd-duf":
            defaults["sigma"] = round(0.4 * self.scale, 6)
        shown = [(k, v) for k, v in self.params if v is not None and v != defaults.get(k)]
        if shown:
            s += ":" + ",".join(f"{k}={_fmt(v)}" for k, v in shown)
        if self.scale != 1:
            s += f":x{self.scale}"
        return s

    def apply(self, img: np.ndarray, rng_factory) -> np.ndarray:
        p = self.p
        s = self.scale
        if self.name == "bi":
            return imresize(img, 1.0 / s)
        if self.name == "bd":
            return matlab_round_uint8(blur.bd_downsample(img, s, p["sigma"]))
        if self.name == "bd-duf":
            return matlab_round_uint8(blur.duf_downsample(img, s, p["sigma"], int(p["size"])))
        if self.name == "gauss":
            return matlab_round_uint8(blur.gaussian_subsample(img, s, p["sigma"], int(p["size"])))
        if self.name == "blur-bicubic":
            return matlab_round_uint8(blur.blur_bicubic_downsample(img, s, p["sigma"], int(p["size"])))
        if self.name == "noise":
            return noise.gaussian_impulse_noise(img, rng_factory(), p["sigma"], p["p"])
        if self.name == "jpeg":
            return noise.jpeg_roundtrip(img, int(p["q"]))
        raise AssertionError(self.name)


@dataclass(frozen=True)
class Degradation:
    """A parsed, canonical degradation spec: a chain of ops applied left to right."""

    ops: tuple[DegradationOp, ...] = field(default_factory=tuple)

    @property
    def spec(self) -> str:
        return "+".join(op.canonical() for op in self.ops)

    def __str__(self) -> str:
        return self.spec

    @property
    def scale(self) -> int:
        s = 1
        for op in self.ops:
            s *= op.scale
        return s

    @property
    def is_random(self) -> bool:
        return any(VALID_OPS[op.name][2] for op in self.ops)

    @property
    def channel_symmetric(self) -> bool:
        """Every op commutes with a channel permutation: the chain may run on BGR frames as is."""
        return all(op.channel_symmetric for op in self.ops)

    @property
    def frame_ops(self) -> tuple[DegradationOp, ...]:
        return tuple(op for op in self.ops if op.name != "frames")

    def select_frames(self, n: int) -> list[int]:
        """Indices (0-based, into the GT clip) of the frames this spec keeps."""
        idx = list(range(n))
        for op in self.ops:
            if op.name == "frames":
                idx = idx[::2]
        return idx

    def check_frame_size(self, height: int, width: int, where: str = "") -> None:
        """Refuse a frame smaller than the total scale (its LR frame would be empty)."""
        s = self.scale
        if height < s or width < s:
            from vsrbench.errors import VsrbenchError

            raise VsrbenchError(
                f"{where + ': ' if where else ''}frame is {width}x{height} (width x height), too small for "
                f"{self.spec}: the minimum is {s}x{s} (one LR pixel at x{s}); use larger frames or a smaller scale"
            )

    def apply_frame(self, img: np.ndarray, *, dataset: str = "", clip: str = "", index: int = 0) -> np.ndarray:
        """Degrade one uint8 RGB GT frame (modcropped first). ``index`` is its 0-based GT index."""
        if img.dtype != np.uint8:
            raise ValueError(f"degradations take uint8 frames, got {img.dtype}")
        self.check_frame_size(img.shape[0], img.shape[1], f"{clip} frame {index}" if clip else "")
        x = modcrop(img, self.scale) if self.scale > 1 else img
        spec = self.spec
        for pos, op in enumerate(self.ops):
            if op.name == "frames":
                continue
            x = op.apply(x, lambda pos=pos: frame_rng(dataset, clip, index, spec, pos))
        return x

    def apply_clip(self, frames: list[np.ndarray], *, dataset: str = "", clip: str = "") -> list[tuple[int, np.ndarray]]:
        """Degrade a clip: ``[(gt_index, lr_frame), ...]`` for the frames the spec keeps."""
        return [
            (i, self.apply_frame(frames[i], dataset=dataset, clip=clip, index=i))
            for i in self.select_frames(len(frames))
        ]


def _parse_value(spec: str, op: str, key: str, raw: str):
    lo, hi, integer = PARAM_RANGES[op][key]
    what = f"an integer in {lo:g}..{hi:g}" if integer else f"a number in {lo:g}..{hi:g}"
    shown = raw if len(raw) <= 24 else raw[:24] + "..."
    try:
        v = float(raw) if raw and "_" not in raw else float("nan")
    except ValueError:
        v = float("nan")
    if not math.isfinite(v) or (integer and not v.is_integer()) or not lo <= v <= hi:
        raise _spec_error(spec, f"{op} {key}={shown}: {key} must be {what}")
    return int(v) if integer else v


def _parse_op(spec: str, text: str) -> DegradationOp:
    parts = text.strip().split(":")
    name = parts[0].strip().lower()
    if name not in VALID_OPS:
        raise _spec_error(spec, f"unknown operation {name!r}")
    defaults, takes_scale, _, _ = VALID_OPS[name]
    params = dict(defaults)
    given: set[str] = set()
    scale = None
    for part in parts[1:]:
        part = part.strip()
        if not part:
            raise _spec_error(spec, f"empty field in {text!r}")
        if part[0] in "xX" and part[1:].isascii() and part[1:].isdigit():
            if not takes_scale:
                raise _spec_error(spec, f"{name!r} takes no scale")
            if scale is not None:
                raise _spec_error(spec, f"{name!r} has two scales in {text!r}; give one, e.g. {name}:x4")
            scale = int(part[1:])
            if scale not in SCALES:
                raise _spec_error(spec, f"scale x{scale} is not supported (use x2, x3, x4, x8 or x16)")
        elif name == "frames":
            if part != "odd":
                raise _spec_error(spec, f"frames:{part} is not supported (use frames:odd)")
        else:
            for kv in part.split(","):
                if "=" not in kv:
                    raise _spec_error(spec, f"expected key=value in {text!r}, got {kv!r}")
                k, v = (t.strip() for t in kv.split("=", 1))
                if k not in defaults:
                    raise _spec_error(spec, f"{name!r} has no parameter {k!r} (it takes: {', '.join(defaults) or 'none'})")
                if k in given:
                    raise _spec_error(spec, f"{name!r} parameter {k!r} is given twice")
                given.add(k)
                params[k] = _parse_value(spec, name, k, v)
    scale = scale or 1
    if takes_scale and scale == 1:
        raise _spec_error(spec, f"{name!r} needs a scale, e.g. {name}:x4")
    if name == "frames" and len(parts) != 2:
        raise _spec_error(spec, "use frames:odd")
    if name == "jpeg" and params["q"] is None:
        raise _spec_error(spec, "jpeg needs a quality, e.g. jpeg:q=20 (an integer in 1..100)")
    if name == "bd-duf":
        if params["sigma"] is None:
            params["sigma"] = round(0.4 * scale, 6)
        if params["size"] % 2 == 0:
            raise _spec_error(spec, f"bd-duf size={params['size']}: size must be odd (DUF's kernel is centred; default 13)")
    return DegradationOp(name, tuple(params.items()), scale)


def parse_spec(spec: str | Degradation) -> Degradation:
    """Parse a spec string into a :class:`Degradation`; errors list the valid specs."""
    if isinstance(spec, Degradation):
        return spec
    if not isinstance(spec, str) or not spec.strip():
        raise _spec_error(str(spec), "empty spec")
    spec = fold_wide(spec)  # full-width forms ('ｂｉ:ｘ４', CJK keyboards) read as ASCII
    bad = next((c for c in spec if not c.isascii()), None)
    if bad is not None:
        raise _spec_error(spec[:40], f"character {bad!r} (U+{ord(bad):04X}) is not allowed: a spec is ASCII letters, "
                                     f"digits 0-9 and ':=,+.-'")
    if len(spec) > MAX_SPEC_CHARS:
        raise _spec_error(spec[:40] + "...", f"{len(spec)} characters; a spec has at most {MAX_SPEC_CHARS}")
    if spec.count("+") >= MAX_OPS:
        raise _spec_error(spec, f"{spec.count('+') + 1} operations; a spec chains at most {MAX_OPS}")
    ops = tuple(_parse_op(spec, t) for t in spec.split("+"))
    if sum(1 for op in ops if op.scale > 1) > 1:
        raise _spec_error(spec, "only one resizing operation per spec")
    return Degradation(ops)
