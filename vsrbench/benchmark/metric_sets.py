"""The metric protocols ``--metrics`` names (pure: imports nothing else of the harness, so the
options schema and the TecoGAN runner can both use it)."""

from __future__ import annotations

from vsrbench.errors import VsrbenchError

__all__ = ["METRIC_SETS", "parse_metrics"]

METRIC_SETS = ("default", "tecogan")


def parse_metrics(value) -> list[str]:
    """``"default"``, ``"tecogan"``, ``"default,tecogan"`` (or a list) -> the sorted, checked list."""
    if value is None:
        return ["default"]
    items = value.split(",") if isinstance(value, str) else list(value)
    out = sorted({str(v).strip().lower() for v in items if str(v).strip()})
    bad = [v for v in out if v not in METRIC_SETS]
    if bad or not out:
        raise VsrbenchError(f"--metrics {value!r}: choose from {', '.join(METRIC_SETS)} (comma-separated)")
    return out
