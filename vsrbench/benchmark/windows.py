"""Which input frames feed which output frames: sliding windows and space-time windows (pure)."""

from __future__ import annotations

__all__ = ["PADDING_MODES", "window_indices", "stvsr_windows"]

PADDING_MODES = ("reflection_circle", "reflection", "replicate", "zeros", "circle")


def window_indices(centre: int, n_frames: int, window: int, padding: str = "reflection_circle") -> list[int]:
    """Indices of the ``window`` frames centred on ``centre`` in a clip of ``n_frames``.

    Out-of-range positions follow ``padding`` as BasicSR's ``generate_frame_indices`` / EDVR's
    ``index_generation``: ``reflection_circle`` (EDVR's ``new_info``, the default), ``reflection``
    (mirror without repeating the edge), ``replicate`` (repeat the edge), ``circle``; ``zeros``
    returns -1 for positions the caller must fill with a black frame (DUF).
    """
    if padding not in PADDING_MODES:
        raise ValueError(f"unknown padding {padding!r}; valid: {', '.join(PADDING_MODES)}")
    last = n_frames - 1
    half = window // 2
    out = []
    for i in range(centre - half, centre + half + 1):
        if 0 <= i <= last:
            j = i
        elif padding == "replicate":
            j = 0 if i < 0 else last
        elif padding == "reflection":
            j = -i if i < 0 else 2 * last - i
        elif padding == "reflection_circle":
            j = centre + half - i if i < 0 else (centre - half) - (i - last)
        elif padding == "circle":
            j = window + i if i < 0 else i - window
        else:  # zeros
            j = -1
        out.append(min(max(j, -1 if padding == "zeros" else 0), last))
    return out


def stvsr_windows(n_frames: int, window: int = 7) -> list[tuple[int, int, list[int]]]:
    """Space-time windows over a GT clip of ``n_frames`` (Zooming Slow-Mo protocol).

    Windows of ``window`` GT frames step by ``window - 1`` (they share their end frames); where the
    clip length leaves frames uncovered an end-aligned tail window covers them. Returns
    ``[(start, length, [gt indices this window scores]), ...]``: each GT frame is scored exactly
    once, by the first window that produces it. The model sees the odd frames of the window
    (``start, start + 2, ..., start + length - 1``).
    Clips shorter than ``window`` get one window of the largest odd length that fits.
    """
    if n_frames < 1:
        return []
    if n_frames < window:
        length = n_frames if n_frames % 2 == 1 else n_frames - 1
        plan = [(0, length, list(range(length)))]
        if length < n_frames:
            plan.append((n_frames - length, length, [n_frames - 1]))
        return plan
    plan, scored, start = [], -1, 0
    while True:
        if start + window > n_frames:
            start = n_frames - window
        frames = [i for i in range(start, start + window) if i > scored]
        plan.append((start, window, frames))
        scored = start + window - 1
        if scored >= n_frames - 1:
            return plan
        start += window - 1
