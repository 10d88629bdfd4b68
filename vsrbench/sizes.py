"""One convention for frame sizes shown to people: width x height, labelled ``(WxH)``.

Arrays are ``H x W x C`` and the input flags ``--crop`` / ``--lr-size`` read ``HEIGHTxWIDTH`` (as
they always have); everything printed says ``720x576 (WxH)``. Stored records keep their ``HxW``
strings (``runtime.lr_size``), so old and new records compare; these helpers only format.
"""

from __future__ import annotations

__all__ = ["wh", "hw_label", "hw_to_wh"]


def wh(height: int, width: int) -> str:
    """``wh(576, 720) == '720x576 (WxH)'``."""
    return f"{int(width)}x{int(height)} (WxH)"


def hw_label(text) -> str:
    """A stored ``'HxW'`` string (e.g. ``runtime.lr_size`` ``'144x180'``) -> ``'180x144 (WxH)'``.

    Anything that is not two integers joined by ``x`` is returned unchanged (``''``, ``None`` -> ``'-'``).
    """
    if not text:
        return "-"
    if "," in str(text):  # one size per distinct clip size (Vid4's frames have three): '144x180, 144x176'
        labels = [hw_label(t.strip()) for t in str(text).split(",")]
        if all(lab.endswith(" (WxH)") for lab in labels):
            return ", ".join(lab[: -len(" (WxH)")] for lab in labels) + " (WxH)"
        return str(text)
    parts = str(text).lower().split("x")
    if len(parts) != 2 or not all(p.strip().isascii() and p.strip().isdigit() for p in parts):
        return str(text)
    return wh(int(parts[0]), int(parts[1]))


def hw_to_wh(text) -> str:
    """``'144x180'`` (stored H x W) -> ``'180x144'``, for a column already labelled ``(WxH)``."""
    label = hw_label(text)
    return label[: -len(" (WxH)")] if label.endswith(" (WxH)") else label
