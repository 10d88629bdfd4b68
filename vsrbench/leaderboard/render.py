"""Render boards as Markdown, CSV (tidy: one value per line), LaTeX (pandas' ``Styler.to_latex``) or
one self-contained HTML page (a jinja2 template, ``templates/leaderboard.html.j2``).

The HTML page has no external resources: plots are base64 PNGs, and a few lines of plain
JavaScript sort a table when a header is clicked. ``#sort=<table-id>:<column>:<asc|desc>`` in the URL
(column = index or header text) runs the same sort on load, so a headless browser can check it.
"""

from __future__ import annotations

import base64
import csv
import io
import math

import pandas as pd

from vsrbench.leaderboard.boards import ROW_KEYS, Board

__all__ = ["FORMATS", "render", "render_csv", "render_html", "render_latex", "render_md"]

FORMATS = ("md", "html", "csv", "latex")


def _cell(board: Board, col: str, v) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    if isinstance(v, float) and math.isinf(v):
        return "inf"
    fmt = board.formats.get(col)
    if fmt and isinstance(v, (int, float)):
        return fmt.format(v)
    return str(v)


def _display_cols(board: Board) -> list[str]:
    return list(board.df.columns)


def _md(s: str) -> str:
    """A Markdown table cell: ``|`` would end the cell, a line break the row, ``$`` start math."""
    return " ".join(s.splitlines()).replace("|", "\\|").replace("$", "\\$")


MD_WIDTH = 120  # every line of a Markdown board fits this many columns
_MD_CELL = 40  # longer text cells are shortened (the CSV / HTML keep them whole)
SMOKE_TITLE = "Smoke checks (random weights, a crop or a clip limit): not ranked, not comparable with full runs"
REPORTED_TITLE = "Reported by the papers (copied from reported.csv; never ranked)"


def _short(s: str) -> str:
    if s.startswith("trained by vsrbench ("):  # kept whole: the recipe and iterations are the point
        return s
    if s.startswith("sha256:") and len(s) > 19:
        s = s[:19] + "…"
    return s if len(s) <= _MD_CELL else s[: _MD_CELL - 1] + "…"


def _md_table(cells: list[list[str]], right: list[bool]) -> list[str]:
    """A pipe table by pandas (``DataFrame.to_markdown``, tabulate): ``cells[0]`` is the header, the
    cells are already formatted strings (no number re-parsing), ``right`` aligns value columns."""
    df = pd.DataFrame(cells[1:], columns=range(len(cells[0])))
    df.columns = cells[0]
    text = df.to_markdown(index=False, tablefmt="pipe", disable_numparse=True,
                          colalign=["right" if r else "left" for r in right])
    return text.splitlines()


def _md_chunks(header: list[str], body: list[list[str]], n_id: int, groups: list[list[int]], right: list[bool]):
    """Split the value columns (``groups`` of column indices kept together) over as many tables as it
    takes for every line to fit :data:`MD_WIDTH`; the first ``n_id`` columns are repeated in each."""
    def width(cols):  # as tabulate lays a pipe table out: headers get 2 spaces of padding at least
        return 1 + sum(max([len(header[c]) + 2] + [len(r[c]) for r in body]) + 3 for c in cols)

    ids = list(range(n_id))
    chunks, cur = [], []
    for g in groups:
        if cur and width(ids + cur + g) > MD_WIDTH:
            chunks.append(cur)
            cur = []
        cur = cur + g
    chunks.append(cur)
    out = []
    for ch in chunks:
        cols = ids + ch
        rows = [[r[c] for c in cols] for r in body]
        keep = [i for i, r in enumerate(rows) if any(r[k] != "-" for k in range(n_id, len(cols)))] if ch else range(len(rows))
        out.extend(_md_table([[header[c] for c in cols]] + [rows[i] for i in keep], [right[c] for c in cols]))
        out.append("")
    return out


def _md_section(b: Board, rows, mask, id_cols: list[str]) -> list[str]:
    df = b.df.loc[rows]
    vals = [c for c in b.df.columns if c not in ROW_KEYS and df[c].map(lambda v: _cell(b, c, v) != "-").any()]
    cols = id_cols + vals
    header = list(cols)
    body = []
    for i, r in df.iterrows():
        cells = []
        for c in cols:
            s = _md(_short(_cell(b, c, r[c])))
            cells.append(f"**{s}**" if mask.at[i, c] else s)
        body.append(cells)
    right = [c not in ROW_KEYS and b.df[c].dtype != object for c in cols]
    if b.suite_columns:
        order = list(dict.fromkeys(c.rsplit(" ", 1)[0] for c in vals))
        groups = [[len(id_cols) + k for k, c in enumerate(vals) if c.rsplit(" ", 1)[0] == s] for s in order]
    else:
        groups = [[len(id_cols) + k] for k in range(len(vals))]
    return _md_chunks(header, body, len(id_cols), groups, right)


def _md_reported_long(b: Board, rows) -> list[str]:
    """Reported rows of a suite board, one line per (row, suite): model | paper | suite | metrics."""
    df = b.df.loc[rows]
    vals = [c for c in b.df.columns if c not in ROW_KEYS]
    suites = list(dict.fromkeys(c.rsplit(" ", 1)[0] for c in vals))
    labels = list(dict.fromkeys(c.rsplit(" ", 1)[1] for c in vals))
    header = ["model", "paper", "suite"] + labels
    body = []
    for _, r in df.iterrows():
        for s in suites:
            cells = [_cell(b, f"{s} {lab}", r[f"{s} {lab}"]) if f"{s} {lab}" in r.index else "-" for lab in labels]
            if all(c == "-" for c in cells):
                continue
            body.append([_short(str(r["model"])), _short(str(r["paper"])), _short(s)] + cells)
    right = [False, False, False] + [True] * len(labels)
    return _md_chunks(header, [[_md(c) for c in row] for row in body], 3,
                      [[3 + k] for k in range(len(labels))], right)


def render_md(boards: list[Board], notes: list[str] = ()) -> str:
    """Markdown: per board, the measured rows (best in bold), then the smoke checks and the papers'
    reported rows in tables of their own (reported rows of the quality / temporal boards one line per
    suite); wide tables are split by columns so every line fits :data:`MD_WIDTH`."""
    out = []
    for b in boards:
        out.append(f"## {b.title}\n")
        if b.df.empty:
            out.append("(no rows)\n")
            continue
        mask = b.best_mask()
        kind = b.df["kind"] if "kind" in b.df else None
        measured = b.df.index[kind == "measured"] if kind is not None else b.df.index
        smoke = b.df.index[kind == "smoke"] if kind is not None else []
        reported = b.df.index[kind == "reported"] if kind is not None else []
        if len(measured):
            out.extend(_md_section(b, measured, mask, ["model", "weights", "settings"]))
        else:
            out.append("(no full-suite measured rows)\n")
        if len(smoke):
            out.append(f"### {SMOKE_TITLE}\n")
            out.extend(_md_section(b, smoke, mask, ["model", "weights", "settings"]))
        if len(reported):
            out.append(f"### {REPORTED_TITLE}\n")
            if b.suite_columns:
                out.extend(_md_reported_long(b, reported))
            else:
                out.extend(_md_section(b, reported, mask, ["model", "paper", "settings"]))
        out.extend(_md_note(n) for n in b.notes)
        out.append("")
    if notes:
        out.append("---")
        out.extend(_md_note(n) for n in notes)
    return "\n".join(out).rstrip() + "\n"


def _md_note(text: str) -> str:
    import textwrap

    return "\n".join(textwrap.wrap(str(text), MD_WIDTH, initial_indent="- ", subsequent_indent="  ",
                                   break_long_words=True, break_on_hyphens=False)) or "-"


def _split_smoke(b: Board) -> tuple[list, list]:
    """Row labels of (the main table: measured and reported rows, the smoke-check table)."""
    if "kind" not in b.df:
        return list(b.df.index), []
    smoke = b.df["kind"] == "smoke"
    return list(b.df.index[~smoke]), list(b.df.index[smoke])


def render_csv(boards: list[Board], notes: list[str] = ()) -> str:
    """Tidy CSV: board, model, kind, paper, weights, settings, column, value, best (1 = best measured)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["board"] + ROW_KEYS + ["column", "value", "best"])
    for b in boards:
        mask = b.best_mask()
        for i, r in b.df.iterrows():
            for c in b.df.columns:
                if c in ROW_KEYS:
                    continue
                v = r[c]
                if v is None or (isinstance(v, float) and math.isnan(v)) or v == "":
                    continue
                val = ("inf" if math.isinf(v) else repr(float(v))) if isinstance(v, float) else str(v)
                w.writerow([b.name] + [r[k] for k in ROW_KEYS] + [c, val, int(bool(mask.at[i, c]))])
    return buf.getvalue()


_TEX = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{",
        "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}


def _tex(s: str) -> str:
    """A caption for LaTeX (the cells and headers are escaped by pandas' Styler)."""
    return "".join(_TEX.get(ch, ch) for ch in s)


def render_latex(boards: list[Board], notes: list[str] = ()) -> str:
    """One booktabs table per board (and one for its smoke checks), by pandas' ``Styler.to_latex``;
    the best measured value of a column in bold."""
    out = ["% vsrbench leaderboard; needs \\usepackage{booktabs}"]
    for b in boards:
        main_rows, smoke_rows = _split_smoke(b)
        for part, rows in (("", main_rows), ("-smoke", smoke_rows)):
            if part and not rows:
                continue
            out.extend(_latex_table(b, rows, part))
    out.extend(f"% {n}" for n in notes)
    return "\n".join(out) + "\n"


def _latex_table(b: Board, rows, part: str) -> list[str]:
    cols = _display_cols(b)
    title = b.title + (" -- " + SMOKE_TITLE if part else "")
    df = b.df.loc[rows, cols]
    cells = pd.DataFrame({c: [_cell(b, c, v) for v in df[c]] for c in cols}, index=df.index, columns=cols)
    bold = b.best_mask().loc[rows, cols]
    st = cells.style.hide(axis="index").format(escape="latex").format_index(escape="latex", axis=1)
    st = st.apply(lambda _: bold.replace({True: "textbf:--rwrap;", False: ""}), axis=None)
    st.set_table_styles([{"selector": "small", "props": ":;"}], overwrite=False)
    align = "".join("l" if c in ROW_KEYS or b.df[c].dtype == object else "r" for c in cols)
    tex = st.to_latex(hrules=True, position="t", position_float="centering", column_format=align,
                      caption=_tex(title), label=f"tab:vsrbench-{b.name}{part}")
    return [f"% {title}", tex]


def _template():
    """The HTML page's jinja2 template (package data: ``templates/leaderboard.html.j2``)."""
    from importlib.resources import files

    import jinja2

    text = files("vsrbench.leaderboard").joinpath("templates/leaderboard.html.j2").read_text(encoding="utf-8")
    return jinja2.Environment(autoescape=True, keep_trailing_newline=True).from_string(text)


def render_html(boards: list[Board], notes: list[str] = (), images: dict[str, bytes] | None = None,
                title: str = "vsrbench leaderboard") -> str:
    """One self-contained page (from a jinja2 template); ``images``: caption -> PNG bytes, embedded
    as base64."""
    ctx = []
    for b in boards:
        main_rows, smoke_rows = _split_smoke(b)
        ctx.append({"title": b.title, "notes": list(b.notes), "main": _html_table(b, main_rows, f"board-{b.name}"),
                    "smoke": _html_table(b, smoke_rows, f"board-{b.name}-smoke") if smoke_rows else None})
    imgs = [{"caption": cap, "data": base64.b64encode(png).decode("ascii")} for cap, png in (images or {}).items()]
    return _template().render(title=title, boards=ctx, images=imgs, notes=list(notes), smoke_title=SMOKE_TITLE)


def _html_table(b: Board, rows, tid: str) -> dict:
    """What the template needs of one table: its id, header texts, and per row its kind and cells
    (text shown, ``data-v`` sort key, classes)."""
    cols = _display_cols(b)
    mask = b.best_mask()
    body = []
    for i, r in b.df.loc[rows].iterrows():
        cells = []
        for c in cols:
            v = r[c]
            num = isinstance(v, (int, float)) and not isinstance(v, bool)
            if num and isinstance(v, float) and math.isnan(v):
                dv = ""
            elif num:
                dv = "1e308" if math.isinf(v) else repr(float(v))
            else:
                dv = str(v)
            cls = ("num " if num else "") + ("best" if mask.at[i, c] else "")
            cells.append({"text": _cell(b, c, v), "v": dv, "cls": cls.strip()})
        body.append({"kind": str(r.get("kind", "")), "cells": cells})
    return {"id": tid, "cols": [str(c) for c in cols], "rows": body}


def render(boards: list[Board], fmt: str, notes: list[str] = (), images: dict[str, bytes] | None = None) -> str:
    if fmt == "md":
        return render_md(boards, notes)
    if fmt == "csv":
        return render_csv(boards, notes)
    if fmt == "latex":
        return render_latex(boards, notes)
    if fmt == "html":
        return render_html(boards, notes, images)
    raise ValueError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
