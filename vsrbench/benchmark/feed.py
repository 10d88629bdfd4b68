"""Feeding a registered model by its declared interface (:class:`vsrbench.models.ModelSpec`).

All functions take and return uint8 RGB ``H x W x 3`` NumPy frames; the model sees tensors in its
own range and colour:

* ``colour='y'``: the model gets BT.601 Y (MATLAB ``rgb2ycbcr``); its Y output is merged with
  MATLAB-bicubic-upsampled Cb/Cr of the same LR frame and converted back to RGB;
* values are scaled to ``spec.input_range``; outputs are scaled back, rounded (halves away from
  zero) and clipped to uint8, as the protocol requires before any metric;
* H and W are padded (replicate, bottom/right) to ``spec.spatial_multiple`` and the output cropped;
* ``tile``: frames larger than ``tile`` LR pixels are cut into overlapping tiles (``tile_overlap``
  LR pixels on each side) whose centres are stitched, for models that do not fit in memory;
* outputs are checked: shape, NaN/inf (naming the frame), and range (an output in 0..255 from a
  model that declares 0..1 is an error, not a silent clip).

Temporal protocols:

* VSR window models: one output per LR frame, the window centred on it, ends padded with
  ``padding`` (default ``reflection_circle``, EDVR's ``new_info``; also ``reflection``,
  ``replicate``, ``zeros``, ``circle``);
* recurrent models: the whole clip in one pass;
* STVSR (Zooming Slow-Mo protocol): :func:`vsrbench.benchmark.windows.stvsr_windows` over the GT
  clip; the model gets the LR of the odd frames of each window and must return every frame of it.
"""

from __future__ import annotations

import time

import numpy as np

from vsrbench.benchmark.windows import stvsr_windows, window_indices
from vsrbench.colour import rgb_to_ycbcr, ycbcr_to_rgb
from vsrbench.degradations.imresize import imresize
from vsrbench.errors import VsrbenchError
from vsrbench.metrics.quality import to_uint8

__all__ = ["ModelRunner", "super_resolve_vsr", "super_resolve_stvsr", "super_resolve_sequence"]


class ModelRunner:
    """Wraps a model: numpy uint8 frames in, uint8 frames out, with padding, tiling and checks.

    ``timings`` accumulates the synchronised wall time of model calls and the frames they produced
    (for the runtime column of a result).
    """

    def __init__(
        self, model, scale: int, device=None, dtype: str = "fp32", tile: int = 0, tile_overlap: int = 8, batch: int = 1
    ):
        import torch

        self.model = model
        self.spec = model.spec
        self.scale = int(scale)
        self.device = device or torch.device("cpu")
        self.dtype = dtype
        self.tile = int(tile or 0)
        self.tile_overlap = int(tile_overlap)
        self.batch = max(int(batch), 1)
        self.model_seconds = 0.0
        self.model_frames = 0
        self.calls = 0
        if dtype == "fp16" and self.device.type != "cuda":
            raise VsrbenchError("--dtype fp16 needs a CUDA device; use fp32 or bf16 on the CPU")

    # -- tensors -------------------------------------------------------------------------------
    def _to_input(self, windows: list[list[np.ndarray]]):
        import torch

        arr = np.stack([np.stack(w) for w in windows]).astype(np.float64)  # B x T x H x W x 3
        if self.spec.colour == "y":
            arr = rgb_to_ycbcr(arr)[..., :1]
        lo, hi = self.spec.input_range
        if hi <= 1.0:
            arr = arr / 255.0
        t = torch.from_numpy(np.ascontiguousarray(arr.transpose(0, 1, 4, 2, 3)))
        work = torch.float64 if hi > 1.0 else torch.float32
        return t.to(device=self.device, dtype=work)

    def _forward(self, x):
        import torch
        import torch.nn.functional as F

        b, n, c, h, w = x.shape
        m = max(int(self.spec.spatial_multiple), 1)
        ph, pw = (-h) % m, (-w) % m
        if ph or pw:
            x = F.pad(x.reshape(b * n, c, h, w), (0, pw, 0, ph), mode="replicate").reshape(b, n, c, h + ph, w + pw)
        if self.spec.input_upsample:
            x = self._upsample_input(x)
        with torch.no_grad():
            if self.dtype in ("fp16", "bf16") and x.dtype != torch.float64:
                dt = torch.float16 if self.dtype == "fp16" else torch.bfloat16
                with torch.autocast(self.device.type, dtype=dt):
                    y = self.model(x)
                y = y.float()
            else:
                y = self.model(x)
        if y.dim() == 4 and isinstance(self.spec.frames_in, int) and self.spec.frames_out == 1:
            y = y.unsqueeze(1)  # the centre frame alone (EDVR / DUF / TOFlow return B x C x sH x sW)
        s = self.scale
        if y.dim() != 5 or y.shape[0] != b or y.shape[2] != c or y.shape[3] != (h + ph) * s or y.shape[4] != (w + pw) * s:
            raise VsrbenchError(
                f"model {getattr(self.model, 'model_name', type(self.model).__name__)!r} returned shape "
                f"{tuple(y.shape)} for input {tuple(x.shape)}; expected B x T_out x {c} x {(h + ph) * s} x {(w + pw) * s} "
                f"(x{s}); is the checkpoint for this scale and architecture?"
            )
        return y[..., : h * s, : w * s]

    def _upsample_input(self, x):
        """``input_upsample='bicubic'``: MATLAB bicubic x scale of ``B x T x C x h x w``, rounded to 8 bits
        (TOFlow was tested on ``BIx4up_direct`` PNGs made this way), back in the model's range."""
        import torch

        from vsrbench.degradations.imresize import imresize_torch

        k = 255.0 / float(self.spec.input_range[1])
        v = x.to(torch.float64) * k
        if self.spec.colour == "rgb":
            v = torch.round(v)  # the 8-bit values the frames came from, exactly
        return (imresize_torch(v, scale=self.scale, quantize=True) / k).to(x.dtype)

    def _forward_tiled(self, x):
        import torch

        t = self.tile
        h, w = x.shape[-2:]
        if not t or (h <= t and w <= t):
            return self._forward(x)
        s, ov = self.scale, self.tile_overlap
        out = None
        for y0 in range(0, h, t):
            for x0 in range(0, w, t):
                y1, x1 = min(y0 + t, h), min(x0 + t, w)
                ya, xa = max(y0 - ov, 0), max(x0 - ov, 0)
                yb, xb = min(y1 + ov, h), min(x1 + ov, w)
                part = self._forward(x[..., ya:yb, xa:xb])
                if out is None:
                    out = torch.empty(*part.shape[:3], h * s, w * s, dtype=part.dtype, device=part.device)
                out[..., y0 * s : y1 * s, x0 * s : x1 * s] = part[
                    ..., (y0 - ya) * s : (y0 - ya + y1 - y0) * s, (x0 - xa) * s : (x0 - xa + x1 - x0) * s
                ]
        return out

    def __call__(self, frames: list[np.ndarray]) -> "np.ndarray":
        """Frames (a window) -> the raw model output as float64 ``T_out x sH x sW x C`` on 0..255."""
        return self.run_batch([frames])[0]

    def run_batch(self, windows: list[list[np.ndarray]]) -> "np.ndarray":
        """Equal-length windows, one model call -> float64 ``B x T_out x sH x sW x C`` on 0..255."""
        import torch

        x = self._to_input(windows)
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        t0 = time.perf_counter()
        y = self._forward_tiled(x)
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        self.model_seconds += time.perf_counter() - t0
        self.calls += 1
        self.model_frames += int(y.shape[0] * y.shape[1])
        y = y.detach()
        peak = y.abs().amax() if y.numel() else None  # one pass: NaN and inf propagate to the peak
        if peak is not None and not bool(torch.isfinite(peak)):
            finite = torch.isfinite(y)
            bad = sorted(set((~finite).flatten(2).any(dim=2).nonzero()[:, 1].tolist()))
            raise VsrbenchError(
                f"the model produced NaN/inf in output frame(s) {bad} of a window of {len(windows[0])} input frames"
            )
        arr = y.to("cpu", torch.float64)
        lo, hi = self.spec.input_range
        if hi <= 1.0:
            peak = float(peak) if peak is not None else 0.0
            if peak > 4.0:
                raise VsrbenchError(
                    f"model output reaches {peak:.1f}, but the model declares values in {self.spec.input_range}; "
                    "fix its ModelSpec.input_range or the output scaling"
                )
            arr = arr * 255.0  # float64, as in NumPy: the same values
        return arr.numpy().transpose(0, 1, 3, 4, 2)

    def to_rgb(self, out: np.ndarray, lr_frame: np.ndarray) -> np.ndarray:
        """One output frame (``sH x sW x C``, 0..255) -> uint8 RGB (Y merged with bicubic CbCr)."""
        if self.spec.colour == "y":
            ycc = imresize(rgb_to_ycbcr(lr_frame), self.scale)
            ycc[..., 0] = out[..., 0]
            return to_uint8(ycbcr_to_rgb(ycc))
        return to_uint8(out)


def super_resolve_vsr(
    runner: ModelRunner,
    lr: list[np.ndarray],
    indices: list[int] | None = None,
    padding: str = "reflection_circle",
    on_frame=None,
) -> dict[int, np.ndarray]:
    """VSR: ``{t: SR frame t}`` for the requested LR indices (default all). ``on_frame(t, frame)``,
    when given, is called as each SR frame is ready (the harness starts its scoring work early)."""
    spec = runner.spec
    n = len(lr)
    wanted = list(range(n)) if indices is None else list(indices)
    if spec.frames_in == "recurrent":
        out = runner(lr)
        if out.shape[0] != n:
            raise VsrbenchError(f"recurrent model returned {out.shape[0]} frames for {n} inputs")
        result = {}
        for t in wanted:
            result[t] = runner.to_rgb(out[t], lr[t])
            if on_frame is not None:
                on_frame(t, result[t])
        return result
    win = int(spec.frames_in)
    black = np.zeros_like(lr[0])
    result = {}
    for b0 in range(0, len(wanted), runner.batch):
        group = wanted[b0 : b0 + runner.batch]
        windows = []
        for t in group:
            idx = [t] if win == 1 else window_indices(t, n, win, padding)
            windows.append([lr[i] if i >= 0 else black for i in idx])
        outs = runner.run_batch(windows)
        for t, out in zip(group, outs):
            k = out.shape[0] // 2 if out.shape[0] > 1 else 0
            result[t] = runner.to_rgb(out[k], lr[t])
            if on_frame is not None:
                on_frame(t, result[t])
    return result


def super_resolve_stvsr(
    runner: ModelRunner, lr_all: list[np.ndarray], indices: list[int] | None = None, window: int | None = None,
    on_frame=None,
) -> dict[int, np.ndarray]:
    """STVSR (Zooming Slow-Mo protocol) on the LR of *every* GT frame: ``{gt index: SR frame}``.

    The model sees only the odd frames of each window (``start, start + 2, ...``) and must return all
    of the window's frames; each GT frame is scored once, by the first window producing it.
    """
    n = len(lr_all)
    window = window or (2 * int(runner.spec.frames_in) - 1)
    wanted = set(range(n) if indices is None else indices)
    result = {}
    for start, length, scored in stvsr_windows(n, window):
        keep = [i for i in scored if i in wanted]
        if not keep:
            continue
        inputs = [lr_all[i] for i in range(start, start + length, 2)]
        out = runner(inputs)
        if out.shape[0] != length:
            raise VsrbenchError(
                f"STVSR model returned {out.shape[0]} frames for {len(inputs)} inputs; expected {length} (2N - 1)"
            )
        for i in keep:
            j = i - start
            result[i] = runner.to_rgb(out[j], lr_all[start + (j // 2) * 2])
            if on_frame is not None:
                on_frame(i, result[i])
    return result


def super_resolve_sequence(runner: ModelRunner, lr: list[np.ndarray], on_frame=None) -> list[np.ndarray]:
    """Folder upscaling (no GT): VSR -> one frame per input; STVSR -> ``2n - 1`` frames from ``n``
    inputs, consecutive windows of ``frames_in`` inputs sharing their end frames. ``on_frame(t, frame)``,
    when given, is called as each output frame is ready (a progress bar)."""
    if runner.spec.task != "stvsr":
        out = super_resolve_vsr(runner, lr, on_frame=on_frame)
        return [out[t] for t in range(len(lr))]
    k = int(runner.spec.frames_in)
    n = len(lr)
    starts = list(range(0, max(n - k, 0) + 1, k - 1)) if n >= k else [0]
    if n >= k and starts[-1] + k < n:
        starts.append(n - k)
    result: dict[int, np.ndarray] = {}
    for s in starts:
        sel = lr[s : s + k]
        out = runner(sel)
        for j in range(out.shape[0]):
            if 2 * s + j not in result:
                result[2 * s + j] = runner.to_rgb(out[j], sel[j // 2])
                if on_frame is not None:
                    on_frame(2 * s + j, result[2 * s + j])
    return [result[i] for i in sorted(result)]
