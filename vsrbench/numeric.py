"""Every number a user passes, checked once: command-line flags and Python API arguments alike.

Each check takes the value (a string from the command line, or a number from a script) and the name
to show (``--seed`` for a flag, ``seed`` for an argument) and returns the clean value or raises one
:class:`~vsrbench.errors.VsrbenchError` line naming the name, the valid range and the value given.
:func:`flag` turns a check into an argparse ``type=`` so that a bad flag is refused at parse time
(status 2, one line, before anything is written).

Digits are ASCII; full-width digits (``'４'``, typed on CJK keyboards) are read as their ASCII
forms (:func:`fold_wide`); superscript, circled and other digits are refused.

Worker counts are capped at the CPU cores this process may use (``os.sched_getaffinity``), with one
warning line: more processes than cores only add memory and switching.

Imports nothing from vsrbench but its errors.
"""

from __future__ import annotations

import argparse
import math
import operator
import os
import re
import sys
import unicodedata

from vsrbench.errors import VsrbenchError

__all__ = [
    "fold_wide", "check_int", "check_float", "positive_int", "non_negative_int", "check_seed", "check_hw",
    "usable_cores", "check_workers", "flag", "MAX_SEED", "MAX_SIDE",
]

#: the largest seed: numpy's legacy and torch's generators both take 0 .. 2**32 - 1
MAX_SEED = 2**32 - 1
#: the largest side of a HEIGHTxWIDTH flag (a crop or a profiled LR frame)
MAX_SIDE = 16384
_INT = re.compile(r"[+-]?[0-9]{1,30}")
_FLOAT = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]{1,3})?")


def fold_wide(text: str) -> str:
    """Full-width forms (``'４'`` U+FF14, ``'ｘ'``) -> their ASCII characters; everything else unchanged."""
    if text.isascii():
        return text
    return "".join(unicodedata.normalize("NFKC", c) if unicodedata.decomposition(c).startswith("<wide>") else c
                   for c in text)


def _shown(value) -> str:
    r = repr(value)
    return r if len(r) <= 40 else r[:37] + "..."


def _num(v) -> str:
    return str(v) if isinstance(v, int) else f"{v:g}"


def _span(low, high) -> str:
    if high is None:
        return f">= {_num(low)}" if low is not None else "(any)"
    if low is None:
        return f"<= {_num(high)}"
    return f"in {_num(low)}..{_num(high)}"


def check_int(value, name: str, low: int | None = None, high: int | None = None) -> int:
    """An integer in ``low..high`` (either bound may be None): an int, or a string of ASCII digits."""
    n = None
    if isinstance(value, str):
        t = fold_wide(value).strip()
        n = int(t) if _INT.fullmatch(t) else None
    elif not isinstance(value, (bool, float)):
        try:
            n = operator.index(value)  # int, numpy integers; never a float or a bool
        except TypeError:
            n = None
    if n is None:
        raise VsrbenchError(f"{name} must be an integer {_span(low, high)}, got {_shown(value)}")
    if (low is not None and n < low) or (high is not None and n > high):
        raise VsrbenchError(f"{name} must be {_span(low, high)}, got {n}")
    return n


def check_float(value, name: str, low: float | None = None, high: float | None = None) -> float:
    """A finite number in ``low..high``: an int or float, or a decimal string of ASCII digits."""
    x = math.nan
    if isinstance(value, str):
        t = fold_wide(value).strip()
        x = float(t) if _FLOAT.fullmatch(t) else math.nan
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        x = float(value)
    if not math.isfinite(x):
        raise VsrbenchError(f"{name} must be a number {_span(low, high)}, got {_shown(value)}")
    if (low is not None and x < low) or (high is not None and x > high):
        raise VsrbenchError(f"{name} must be {_span(low, high)}, got {x:g}")
    return x


def positive_int(value, name: str) -> int:
    return check_int(value, name, 1)


def non_negative_int(value, name: str) -> int:
    return check_int(value, name, 0)


def check_seed(value, name: str = "--seed") -> int:
    """A seed every generator vsrbench seeds takes: 0 .. 2**32 - 1."""
    return check_int(value, name, 0, MAX_SEED)


def check_hw(value, name: str) -> tuple[int, int]:
    """``'HEIGHTxWIDTH'`` (or a pair) -> ``(h, w)``, both sizes in 1..MAX_SIDE."""
    parts = fold_wide(value).lower().split("x") if isinstance(value, str) else value
    try:
        h, w = parts
        return check_int(h, name, 1, MAX_SIDE), check_int(w, name, 1, MAX_SIDE)
    except (TypeError, ValueError, VsrbenchError):
        raise VsrbenchError(f"{name} must be HEIGHTxWIDTH with sizes in 1..{MAX_SIDE}, e.g. 180x320 (height first), "
                            f"got {_shown(value)}") from None


def usable_cores() -> int:
    """CPU cores this process may run on (its affinity mask where the OS has one)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def check_workers(value, name: str = "--workers", low: int = 1) -> int:
    """A worker-process count ``>= low``, capped at :func:`usable_cores` with one warning line."""
    n = check_int(value, name, low)
    cores = usable_cores()
    if n > cores:
        print(f"vsrbench: warning: {name} {n} is more than the {cores} usable CPU core(s); using {cores}",
              file=sys.stderr, flush=True)
        return cores
    return n


def flag(check, name: str, *args):
    """``check`` as an argparse ``type=``: a bad value is refused at parse time, its one line naming ``name``."""

    def parse(text: str):
        try:
            return check(text, name, *args)
        except VsrbenchError as e:
            raise argparse.ArgumentTypeError(str(e)) from None

    parse.__name__ = name.lstrip("-").replace("-", "_")
    return parse
