"""Plain-text tables for the terminal, by tabulate (the library pandas' ``DataFrame.to_markdown``
uses; called directly here so that listings such as ``vsrbench models`` do not import pandas).
Cells are given as text, formatted by the caller; numbers are not re-parsed."""

from __future__ import annotations

__all__ = ["text_table"]


def text_table(header: list[str], rows: list[list | None], right=(), indent: str = "") -> str:
    """``header`` and ``rows`` as aligned columns under a dashed rule (tabulate's ``simple``
    format); the columns whose index is in ``right`` are right-aligned, the others left-aligned;
    a row ``None`` is a dashed rule (before a summary row)."""
    from tabulate import SEPARATING_LINE, tabulate

    right = set(right)
    align = ["right" if i in right else "left" for i in range(len(header))]
    body = [SEPARATING_LINE if r is None else ["" if c is None else str(c) for c in r] for r in rows]
    text = tabulate(body, headers=[str(h) for h in header], tablefmt="simple", colalign=align,
                    disable_numparse=True)
    if not body:  # tabulate omits the rule of an empty table
        text = tabulate([["" for _ in header]], headers=[str(h) for h in header], tablefmt="simple",
                        colalign=align, disable_numparse=True).rsplit("\n", 1)[0]
    return "\n".join((indent + line).rstrip() for line in text.splitlines())
