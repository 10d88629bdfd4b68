"""Runtime, parameter and FLOP profiling of registered models (``shared/reference/protocol.md``, "Runtime").

* :func:`count_parameters` - number of parameters.
* :func:`flops_per_call` - FLOPs of one forward call from ``torch.utils.flop_counter.FlopCounterMode``
  with extra formulas for ops it does not count (``torchvision::deform_conv2d``, ``grid_sampler``,
  ``im2col``). **FLOPs here = 2 x MACs; most VSR papers' "FLOPs" are MACs** - both are reported.
* :func:`profile_model` - ms per output frame, frames/s, params, FLOPs/MACs per output frame and peak
  device memory at a stated LR size, device, dtype and batch (warm-up, device synchronised around
  the timed region, median of repeats).
* :func:`format_runtime_table` - plain-text table of :func:`profile_model` rows.
"""

from __future__ import annotations

import contextlib
import math
import statistics
import time
from typing import Any

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from vsrbench.devices import device_name, resolve_device
from vsrbench.devices import synchronize as _synchronize

__all__ = [
    "count_parameters",
    "flops_per_call",
    "extra_flop_formulas",
    "profile_model",
    "format_runtime_table",
    "device_name",
]

_DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}


def count_parameters(model: nn.Module) -> int:
    """Total number of parameter elements (trainable or not; shared parameters counted once)."""
    return int(sum(p.numel() for p in model.parameters()))


# --------------------------------------------------------------------------------------------- FLOP formulas
# Formulas receive shapes (``FlopCounterMode`` wraps them with ``shape_wrapper``): tensors become
# ``torch.Size``, other arguments pass through unchanged; ``out_shape`` is the output's shape.


def _deform_conv2d_flop(input_shape, weight_shape, offset_shape, mask_shape, bias_shape, *args, out_shape=None,
                        **kwargs) -> int:
    """``torchvision::deform_conv2d``: the convolution with the same weight shape,
    ``2 * B * Cout * Hout * Wout * (Cin / groups) * kh * kw`` (as ``FlopCounterMode`` counts a conv,
    bias not counted), plus the bilinear sampling of every input tap,
    ``2 * B * Cin * kh * kw * Hout * Wout * 4`` (4 neighbours, one multiply-add each). The DCNv2
    modulation (mask multiply) and the offset arithmetic are not counted."""
    b, cin = input_shape[0], input_shape[1]
    cout, cin_per_group, kh, kw = weight_shape
    hout, wout = out_shape[-2], out_shape[-1]
    conv = 2 * b * cout * hout * wout * cin_per_group * kh * kw
    sampling = 2 * b * cin * kh * kw * hout * wout * 4
    return int(conv + sampling)


_GRID_TAPS_2D = {0: 4, 1: 0, 2: 16}  # interpolation_mode: bilinear, nearest (a gather: 0), bicubic


def _grid_sampler_2d_flop(input_shape, grid_shape, interpolation_mode=0, *args, out_shape=None, **kwargs) -> int:
    """``aten::grid_sampler_2d``: ``2 * taps * N * C * Hout * Wout`` with 4 taps for bilinear
    (one multiply-add per neighbour), 16 for bicubic, 0 for nearest (a gather)."""
    n, c = input_shape[0], input_shape[1]
    hout, wout = grid_shape[1], grid_shape[2]
    return int(2 * _GRID_TAPS_2D.get(int(interpolation_mode), 4) * n * c * hout * wout)


def _cudnn_grid_sampler_flop(input_shape, grid_shape, *args, out_shape=None, **kwargs) -> int:
    """``aten::cudnn_grid_sampler`` (cuDNN path of bilinear ``grid_sample``): as bilinear above."""
    return _grid_sampler_2d_flop(input_shape, grid_shape, 0)


def _grid_sampler_3d_flop(input_shape, grid_shape, interpolation_mode=0, *args, out_shape=None, **kwargs) -> int:
    """``aten::grid_sampler_3d``: ``2 * 8 * N * C * Dout * Hout * Wout`` for trilinear, 0 for nearest."""
    n, c = input_shape[0], input_shape[1]
    taps = 0 if int(interpolation_mode) == 1 else 8
    return int(2 * taps * n * c * grid_shape[1] * grid_shape[2] * grid_shape[3])


def _copy_flop(*args, out_shape=None, **kwargs) -> int:
    """``aten::im2col`` / ``aten::col2im`` (``F.unfold`` / ``F.fold``): a copy (im2col) or a scatter-add
    that we count as 0 FLOPs; the contraction that follows (``einsum`` -> ``bmm``/``mm``) is counted
    by ``FlopCounterMode`` itself."""
    return 0


def extra_flop_formulas() -> dict:
    """The ``custom_mapping`` passed to ``FlopCounterMode``: op overload packet -> shape formula."""
    mapping = {
        torch.ops.aten.grid_sampler_2d: _grid_sampler_2d_flop,
        torch.ops.aten.grid_sampler_3d: _grid_sampler_3d_flop,
        torch.ops.aten.cudnn_grid_sampler: _cudnn_grid_sampler_flop,
        torch.ops.aten.im2col: _copy_flop,
        torch.ops.aten.col2im: _copy_flop,
    }
    try:
        import torchvision  # noqa: F401  (registers torch.ops.torchvision.*)

        mapping[torch.ops.torchvision.deform_conv2d] = _deform_conv2d_flop
    except (ImportError, AttributeError, RuntimeError):  # torchvision absent or without C++ ops
        pass
    return mapping


def flops_per_call(model: nn.Module, x: Any) -> dict:
    """FLOPs of one ``model(x)`` call (``x`` a tensor, or a tuple of positional arguments).

    Counted with ``torch.utils.flop_counter.FlopCounterMode(display=False, custom_mapping=...)``
    under ``torch.no_grad``; the extra formulas (:func:`extra_flop_formulas`) cover
    ``torchvision::deform_conv2d`` (conv of the same weight shape + 4-tap bilinear sampling of every
    tap), ``aten::grid_sampler_2d/3d`` and ``cudnn_grid_sampler`` (2 x taps x N x C x output pixels)
    and ``aten::im2col`` (``F.unfold``; a copy, 0 FLOPs; the following ``einsum`` is counted as
    ``bmm``). Ops without a formula (element-wise ops, activations, interpolation) count 0.

    **FLOPs here = 2 x MACs; most VSR papers' "FLOPs" are MACs.**

    Returns ``{'flops': int, 'macs': flops / 2, 'by_op': {op name: flops}}``.
    """
    args = x if isinstance(x, tuple) else (x,)
    counter = FlopCounterMode(display=False, custom_mapping=extra_flop_formulas())
    with torch.no_grad(), counter:
        model(*args)
    total = int(counter.get_total_flops())
    by_op = {str(k): int(v) for k, v in counter.get_flop_counts().get("Global", {}).items()}
    return {"flops": total, "macs": total / 2, "by_op": by_op}


# --------------------------------------------------------------------------------------------- profiling
def _autocast(dev: torch.device, dtype: str):
    if dtype == "fp32":
        return contextlib.nullcontext()
    if dev.type == "cpu" and dtype == "fp16":
        raise ValueError("dtype 'fp16' is not supported on CPU (autocast on CPU runs bf16); use 'fp32' or 'bf16'")
    return torch.autocast(device_type=dev.type, dtype=_DTYPES[dtype])


def _upsampled(spec) -> int:
    """The factor by which the model's input exceeds the LR size (TOFlow: its scale; others: 1)."""
    return int(spec.scales[0]) if getattr(spec, "input_upsample", None) else 1


def _input_shape(spec, lr_size, batch: int) -> tuple[int, int, int, int, int]:
    t = spec.frames_in if isinstance(spec.frames_in, int) else 7
    c = 1 if spec.colour == "y" else 3
    m = max(1, int(spec.spatial_multiple))
    h, w = (int(math.ceil(int(s) / m) * m) for s in lr_size)
    h, w = h * _upsampled(spec), w * _upsampled(spec)  # TOFlow sees its frames upsampled
    return (int(batch), int(t), c, h, w)


def profile_model(
    model: nn.Module,
    lr_size: tuple[int, int] = (180, 320),
    *,
    device: torch.device | str = "cpu",
    dtype: str = "fp32",
    batch: int = 1,
    warmup: int = 2,
    repeats: int = 5,
    count_flops: bool = True,
) -> dict:
    """Time one model at a stated LR size, device, dtype and batch.

    The input is random ``B x T x C x H x W`` in ``spec.input_range`` (``model.spec``, a
    :class:`~vsrbench.models.registry.ModelSpec`): ``T = spec.frames_in`` (7 for recurrent models),
    ``C`` = 1 for ``colour='y'``, 3 for ``'rgb'``, ``H x W`` = ``lr_size`` rounded up to
    ``spec.spatial_multiple``. The model is moved to ``device`` and put in eval mode (in place).
    ``warmup`` untimed calls, then ``repeats`` calls each timed with ``time.perf_counter`` between
    device synchronisations; the median call time is divided by the output frames per call
    (``T_out x B``, from the output's shape: ``spec.frames_out`` for window models, e.g. 7 from 4
    for ZSM; ``T`` for recurrent ones).

    ``dtype``: ``'fp32'``, or ``'fp16'`` / ``'bf16'`` through ``torch.autocast`` on the device
    (on CPU only ``'bf16'``; ``'fp16'`` raises ``ValueError``). FLOPs are counted once on an fp32
    call (:func:`flops_per_call`; FLOPs = 2 x MACs, both reported per output frame). Peak memory is
    ``torch.cuda.max_memory_allocated`` in MiB over the warm-up and timed calls on CUDA, ``None``
    elsewhere (with ``peak_memory_note``).
    """
    spec = _check_profile_args(model, dtype, batch, warmup, repeats)
    dev = resolve_device(device, pin_index=True)
    amp = _autocast(dev, dtype)  # raises for fp16 on CPU before any work
    shape = _input_shape(spec, lr_size, batch)
    model = model.to(dev).eval()
    x = _random_input(spec, shape, dev)
    if dev.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(dev)
    times, out = _timed_calls(model, x, dev, amp, warmup, repeats)
    peak_mb = torch.cuda.max_memory_allocated(dev) / 2**20 if dev.type == "cuda" else None
    frames_per_call, scale = _output_frames(model, spec, out, shape)
    del out
    row = _runtime_row(model, spec, dev, dtype, shape, scale, frames_per_call, times, peak_mb, warmup, repeats)
    if count_flops:
        fl = flops_per_call(model, x)
        row["flops_per_frame"] = fl["flops"] / frames_per_call
        row["macs_per_frame"] = fl["macs"] / frames_per_call
    return row


def _check_profile_args(model: nn.Module, dtype: str, batch, warmup, repeats):
    """The model's ``ModelSpec``, after checking the arguments (``ValueError`` naming the bad one)."""
    spec = getattr(model, "spec", None)
    if spec is None:
        raise ValueError("profile_model needs a model with a ModelSpec as `.spec` (use create_model)")
    if dtype not in _DTYPES:
        raise ValueError(f"dtype must be one of {sorted(_DTYPES)}, got {dtype!r}")
    if int(batch) < 1 or int(repeats) < 1 or int(warmup) < 0:
        raise ValueError(f"need batch >= 1, repeats >= 1, warmup >= 0 (got {batch}, {repeats}, {warmup})")
    return spec


def _random_input(spec, shape, dev: torch.device) -> torch.Tensor:
    """Seeded uniform noise in ``spec.input_range`` (drawn on the CPU: the same input on every device)."""
    lo, hi = (float(v) for v in spec.input_range)
    gen = torch.Generator(device="cpu").manual_seed(0)
    return (torch.rand(shape, generator=gen) * (hi - lo) + lo).to(dev)


def _timed_calls(model: nn.Module, x: torch.Tensor, dev: torch.device, amp, warmup, repeats):
    """``(seconds of each timed call, the last output)``: ``warmup`` untimed calls, then ``repeats``
    calls each between device synchronisations."""
    times = []
    with torch.no_grad():
        with amp:
            out = None
            for _ in range(int(warmup)):
                out = model(x)
            _synchronize(dev)
            for _ in range(int(repeats)):
                _synchronize(dev)
                t0 = time.perf_counter()
                out = model(x)
                _synchronize(dev)
                times.append(time.perf_counter() - t0)
    return times, out


def _output_frames(model: nn.Module, spec, out, shape) -> tuple[int, int]:
    """``(output frames per call, scale)``: from a ``B x T x C x H x W`` output's shape, else the spec's."""
    if isinstance(out, torch.Tensor) and out.dim() == 5:
        return int(out.shape[0] * out.shape[1]), int(round(out.shape[-1] / shape[-1]))
    t_out = spec.frames_out if isinstance(spec.frames_in, int) else shape[1]
    return int(t_out) * shape[0], int(getattr(model, "scale", spec.scales[0]))


def _runtime_row(model, spec, dev, dtype: str, shape, scale: int, frames_per_call: int, times: list, peak_mb,
                 warmup, repeats) -> dict:
    """The runtime row: the median call time per output frame and what it was measured on."""
    ms_call = statistics.median(times) * 1e3
    ms_frame = ms_call / frames_per_call
    row = {
        "model": getattr(model, "model_name", type(model).__name__),
        "device": device_name(dev),
        "dtype": dtype,
        "batch": int(shape[0]),
        "lr_size": f"{shape[3] // _upsampled(spec)}x{shape[4] // _upsampled(spec)}",
        "scale": scale,
        "frames_in": shape[1],
        "frames_per_call": frames_per_call,
        "ms_per_frame": ms_frame,
        "fps": 1e3 / ms_frame if ms_frame > 0 else math.inf,
        "ms_per_call": ms_call,
        "params": count_parameters(model),
        "flops_per_frame": None,
        "macs_per_frame": None,
        "flops_note": "FLOPs = 2 x MACs (torch.utils.flop_counter); most VSR papers' 'FLOPs' are MACs",
        "peak_memory_mb": peak_mb,
        "torch": torch.__version__,
        "repeats": int(repeats),
        "warmup": int(warmup),
    }
    if peak_mb is None:
        row["peak_memory_note"] = f"peak memory is only measured on CUDA; not measured on {dev.type}"
    return row


def _fmt(v, spec: str, scale: float = 1.0) -> str:
    if v is None:
        return "-"
    return format(v / scale, spec)


def format_runtime_table(rows: list[dict]) -> str:
    """Plain-text table: model, device, dtype, batch, LR size, ms/frame, fps, params (M),
    GFLOPs/frame and GMACs/frame (FLOPs = 2 x MACs), peak MB (``-`` where not measured)."""
    from vsrbench.sizes import hw_to_wh

    header = ["model", "device", "dtype", "batch", "LR size (WxH)", "ms/frame", "fps", "params (M)",
              "GFLOPs/frame", "GMACs/frame", "peak MB"]
    body = []
    for r in rows:
        body.append([
            str(r.get("model", "")),
            str(r.get("device", "")),
            str(r.get("dtype", "")),
            str(r.get("batch", "")),
            hw_to_wh(r.get("lr_size", "")) + (f" x{r['scale']}" if r.get("scale") else ""),
            _fmt(r.get("ms_per_frame"), ".2f"),
            _fmt(r.get("fps"), ".2f"),
            _fmt(r.get("params"), ".3f", 1e6),
            _fmt(r.get("flops_per_frame"), ".2f", 1e9),
            _fmt(r.get("macs_per_frame"), ".2f", 1e9),
            _fmt(r.get("peak_memory_mb"), ".0f"),
        ])
    from vsrbench.tables import text_table

    out = [text_table(header, body, right={3, 5, 6, 7, 8, 9, 10})]
    out.append("FLOPs = 2 x MACs (torch.utils.flop_counter); most VSR papers' 'FLOPs' are MACs.")
    return "\n".join(out)
