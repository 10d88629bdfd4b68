"""The data root: ``$VSRBENCH_HOME`` (``~`` and ``~user`` expanded) or ``~/.cache/vsrbench``.

The one place that reads the variable; every default location under it (datasets, results,
caches, weights) comes from :func:`vsrbench_home`. Imports nothing from vsrbench but its errors.
"""

from __future__ import annotations

import os
from pathlib import Path

from vsrbench.errors import VsrbenchError

__all__ = ["vsrbench_home", "HOME_VARIABLE"]

HOME_VARIABLE = "VSRBENCH_HOME"


def vsrbench_home() -> Path:
    """``$VSRBENCH_HOME`` (user-expanded) or ``~/.cache/vsrbench``; a ``~`` that cannot be expanded
    (an unknown user, no home directory) is a one-line :class:`VsrbenchError` naming the variable."""
    p = os.environ.get(HOME_VARIABLE)
    try:
        return Path(p).expanduser() if p else Path.home() / ".cache" / "vsrbench"
    except (RuntimeError, KeyError):  # pathlib: "Could not determine home directory."
        if p:
            user = p[1:].split("/", 1)[0].split(os.sep, 1)[0]
            who = f"no user {user!r} on this machine" if user else "no home directory is known (HOME is unset)"
            raise VsrbenchError(f"{HOME_VARIABLE}={p!r}: cannot expand '~{user}': {who}; set {HOME_VARIABLE} to "
                                f"an absolute path (e.g. /data/vsrbench)") from None
        raise VsrbenchError(f"no home directory is known (HOME is unset) for the default data root "
                            f"~/.cache/vsrbench; set {HOME_VARIABLE} to an absolute path (e.g. /data/vsrbench)") from None
