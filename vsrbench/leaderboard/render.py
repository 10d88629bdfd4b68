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
import re

import pandas as pd

from vsrbench.leaderboard.boards import ROW_KEYS, Board, suite_label
from vsrbench.text import csv_cell, html_text, md_cell, md_text, strip_controls, tex_cell

__all__ = ["FORMATS", "render", "render_csv", "render_html", "render_latex", "render_md"]

FORMATS = ("md", "html", "csv", "latex")


def _cell(board: Board, col: str, v) -> str:
    """A value as text (not yet escaped for any format)."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    if isinstance(v, float) and math.isinf(v):
        return "inf"
    fmt = board.formats.get(col)
    if fmt and isinstance(v, (int, float)):
        return fmt.format(v)
    return str(v) if str(v) != "" else "-"


def _display_cols(board: Board) -> list[str]:
    return list(board.df.columns)


MD_WIDTH = 120  # every line of a Markdown board fits this many columns
_MD_CELL = 40  # longer text cells are shortened at a word boundary (the CSV / HTML keep them whole)
_MD_MIN = 12  # ... but never below this many characters
SMOKE_TITLE = "Smoke checks (random weights, a crop or a clip limit): not ranked, not comparable with full runs"
REPORTED_TITLE = "Reported by the papers (shipped with vsrbench, each with its citation; never ranked)"


def _cut_words(s: str, n: int) -> str:
    """``s`` in at most ``n`` characters, cut at a word boundary where there is one, ``…`` marking the cut."""
    if len(s) <= n:
        return s
    cut = s[: n - 1]
    sp = max(cut.rfind(" "), cut.rfind("/"))
    if sp >= n // 2:
        cut = cut[:sp]
    return cut.rstrip(" ,;:(") + "…"


def _protected(s: str) -> bool:
    return s.startswith("trained by vsrbench (")  # kept whole: the recipe and iterations are the point


def _short(s: str, n: int = _MD_CELL) -> str:
    if _protected(s):
        return s
    if s.startswith("sha256:") and len(s) > 15:
        return s[:15] + "…"
    return _cut_words(s, n)


def _md_fit(raw: str, n: int) -> str:
    """``raw`` as a Markdown cell (:func:`vsrbench.text.md_cell`) of at most ``n`` characters, escapes
    included, shortened at a word boundary (a trained-weights label is kept whole)."""
    if _protected(raw):
        if len(md_cell(raw)) <= n or n >= _MD_CELL:
            return md_cell(raw)
        # too wide beside the other columns: the compact form keeps recipe, iterations and hash
        raw = re.sub(r"^trained by vsrbench \((.*), (\d+) iterations?; sha256:(\w+)\)$", r"trained (\1, \2 it.; \3)", raw)
    k = n
    while True:
        text = md_cell(_short(raw, k))
        if len(text) <= n or k <= 2:
            return text
        k -= max(1, len(text) - n)


def _md_table(cells: list[list[str]], right: list[bool]) -> list[str]:
    """A pipe table by pandas (``DataFrame.to_markdown``, tabulate): ``cells[0]`` is the header, the
    cells are already escaped strings (no number re-parsing), ``right`` aligns value columns."""
    df = pd.DataFrame(cells[1:], columns=range(len(cells[0])))
    df.columns = cells[0]
    text = df.to_markdown(index=False, tablefmt="pipe", disable_numparse=True,
                          colalign=["right" if r else "left" for r in right])
    return text.splitlines()


def _md_mark(text: str, mark: int) -> str:
    """An escaped cell with its rank mark: best in bold, second in italics."""
    return f"**{text}**" if mark == 1 else (f"*{text}*" if mark == 2 else text)


def _md_chunks(header: list[str], body: list[list[str]], n_id: int, groups: list[list[int]], right: list[bool],
               marks: list[list[int]] | None = None):
    """Markdown tables of raw (unescaped) ``header`` and ``body`` texts, every cell built by
    :func:`vsrbench.text.md_cell`. The value columns (``groups`` of column indices kept together) are
    split over as many tables as it takes for every line to fit :data:`MD_WIDTH`, the first ``n_id``
    columns repeated in each; where one group with the id columns is still too wide, the id columns'
    text is shortened (at word boundaries) until it fits."""
    marks = marks or [[0] * len(header) for _ in body]
    limits = [_MD_CELL] * len(header)

    def cell(i, c):
        return _md_mark(_md_fit(body[i][c], limits[c]), marks[i][c])

    def col_width(c):  # as tabulate lays a pipe table out: headers get 2 spaces of padding at least
        return max([len(md_cell(header[c])) + 2] + [len(cell(i, c)) for i in range(len(body))])

    def width(cols):
        return 1 + sum(col_width(c) + 3 for c in cols)

    ids = list(range(n_id))
    for g in groups:  # shorten the widest id column until the widest group fits beside the ids
        while width(ids + g) > MD_WIDTH:
            cand = [c for c in ids if limits[c] > _MD_MIN and col_width(c) > _MD_MIN + 2]
            plain = [c for c in cand if not any(_protected(r[c]) for r in body)]  # trained labels last
            if not cand:
                break
            c = max(plain or cand, key=col_width)
            limits[c] = max(_MD_MIN, min(limits[c], max(len(_md_fit(r[c], limits[c])) for r in body)) - 2)
    groups = [part for g in groups for part in ([g] if width(ids + g) <= MD_WIDTH else [[c] for c in g])]
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
        keep = [i for i in range(len(body)) if not ch or any(body[i][c] != "-" for c in ch)]
        out.extend(_md_table([[md_cell(header[c]) for c in cols]] + [[cell(i, c) for c in cols] for i in keep],
                             [right[c] for c in cols]))
        out.append("")
    return out


def _md_section(b: Board, rows, id_cols: list[str], groups_of=None) -> list[str]:
    df = b.df.loc[rows]
    if "settings" in id_cols and (df["settings"] == "full").all():  # the suite's protocol as is: said once
        id_cols = [c for c in id_cols if c != "settings"]
    vals = [c for c in b.df.columns if c not in ROW_KEYS and df[c].map(lambda v: _cell(b, c, v) != "-").any()]
    cols = id_cols + vals
    best, second = b.best_mask(), b.best_mask(2)
    body = [[_cell(b, c, r[c]) for c in cols] for _, r in df.iterrows()]
    marks = [[1 if best.at[i, c] else (2 if second.at[i, c] else 0) for c in cols] for i in df.index]
    right = [c not in ROW_KEYS and pd.api.types.is_numeric_dtype(b.df[c]) for c in cols]
    if groups_of is not None:
        groups = groups_of(vals, len(id_cols))
    elif b.suite_columns:
        order = list(dict.fromkeys(c.rsplit(" ", 1)[0] for c in vals))
        groups = [[len(id_cols) + k for k, c in enumerate(vals) if c.rsplit(" ", 1)[0] == s] for s in order]
    else:
        groups = [[len(id_cols) + k] for k in range(len(vals))]
    return _md_chunks(cols, body, len(id_cols), groups, right, marks)


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
            body.append([str(r["model"]), str(r["paper"]), suite_label(s)] + cells)
    right = [False, False, False] + [True] * len(labels)
    return _md_chunks(header, body, 3, [[3 + k for k in range(len(labels))]], right)


_RUNTIME_MD = ["ms/frame", "params", "FLOPs/frame (G)", "peak memory (MiB)", "dtype", "LR size (WxH)"]


def _md_runtime(b: Board, rows, id_cols: list[str]) -> list[str]:
    """The runtime board in Markdown: one table per device (a time is only comparable on its own
    device), its values kept in one table (never split into one-column tables); fps (= 1000 / ms)
    is in the CSV and HTML boards."""
    out = []
    best, second = b.best_mask(), b.best_mask(2)
    df = b.df.loc[rows]
    dev = df["device"].map(lambda d: d or "")
    for d in dict.fromkeys(dev):
        part = df[dev == d]
        out.append(f"#### Device: {md_cell(d) if d else 'not stated by the paper'}\n")
        vals = [c for c in _RUNTIME_MD if c in part and (c in ("ms/frame", "dtype", "LR size (WxH)")
                                                         or part[c].map(lambda v: _cell(b, c, v) != "-").any())]
        cols = id_cols + vals
        body = [[_cell(b, c, r[c]) for c in cols] for _, r in part.iterrows()]
        marks = [[1 if best.at[i, c] else (2 if second.at[i, c] else 0) for c in cols] for i in part.index]
        right = [c not in ROW_KEYS and c not in ("dtype", "LR size (WxH)") for c in cols]
        out.extend(_md_chunks(cols, body, len(id_cols), [list(range(len(id_cols), len(cols)))], right, marks))
    return out


def render_md(boards: list[Board], notes: list[str] = ()) -> str:
    """Markdown: per board, the measured rows (best in bold, second in italics), then the smoke checks
    and the papers' reported rows in tables of their own (reported rows of the quality / temporal
    boards one line per suite; the runtime board one table per device); wide tables are split by
    columns so every line fits :data:`MD_WIDTH`. Every cell and header is escaped by
    :func:`vsrbench.text.md_cell`."""
    out = []
    for b in boards:
        out.append(f"## {md_text(b.title)}\n")
        if b.df.empty:
            out.append("(no rows)\n")
            continue
        kind = b.df["kind"] if "kind" in b.df else None
        measured = b.df.index[kind == "measured"] if kind is not None else b.df.index
        smoke = b.df.index[kind == "smoke"] if kind is not None else []
        reported = b.df.index[kind == "reported"] if kind is not None else []
        runtime = "device" in b.df.columns and not b.suite_columns
        section = (lambda rows, ids: _md_runtime(b, rows, ids)) if runtime else (lambda rows, ids: _md_section(b, rows, ids))
        if len(measured):
            out.extend(section(measured, ["model", "weights", "settings"]))
        else:
            out.append("(no full-suite measured rows)\n")
        if len(smoke):
            out.append(f"### {SMOKE_TITLE}\n")
            out.extend(section(smoke, ["model", "weights", "settings"]))
        if len(reported):
            out.append(f"### {REPORTED_TITLE}\n")
            if b.suite_columns:
                out.extend(_md_reported_long(b, reported))
            else:
                out.extend(section(reported, ["model", "paper", "settings"]))
        out.extend(_md_note(n) for n in b.notes)
        out.append("")
    if notes:
        out.append("---")
        out.extend(_md_note(n) for n in notes)
    return "\n".join(out).rstrip() + "\n"


def _md_note(text: str) -> str:
    import textwrap

    return "\n".join(textwrap.wrap(md_text(text), MD_WIDTH, initial_indent="- ", subsequent_indent="  ",
                                   break_long_words=True, break_on_hyphens=False)) or "-"


def _split_smoke(b: Board) -> tuple[list, list]:
    """Row labels of (the main table: measured and reported rows, the smoke-check table)."""
    if "kind" not in b.df:
        return list(b.df.index), []
    smoke = b.df["kind"] == "smoke"
    return list(b.df.index[~smoke]), list(b.df.index[smoke])


def render_csv(boards: list[Board], notes: list[str] = ()) -> str:
    """Tidy CSV: board, model, kind, paper, weights, settings, column, value, best (1 = best measured).
    Every cell goes through :func:`vsrbench.text.csv_cell` (no spreadsheet formulas, no control
    characters; numbers stay numbers)."""
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
                w.writerow([csv_cell(x) for x in [b.name] + [r[k] for k in ROW_KEYS] + [c, val, int(bool(mask.at[i, c]))]])
    return buf.getvalue()


TEX_MAX_COLS = 12  # no LaTeX table is wider than this many columns


def render_latex(boards: list[Board], notes: list[str] = ()) -> str:
    """Paste-ready LaTeX (booktabs, siunitx ``S`` columns): the quality and temporal boards as one table
    per suite group (suites of one protocol, at most :data:`TEX_MAX_COLS` columns), its caption naming
    the protocol (degradation, channel, crop, frames); the runtime board as one table per device. The
    best measured value of a column in bold, the second underlined; reported rows below a rule, never
    ranked; smoke checks in tables of their own. Every cell goes through :func:`vsrbench.text.tex_cell`."""
    out = ["% vsrbench leaderboard; needs \\usepackage{booktabs} and \\usepackage{siunitx}"]
    for b in boards:
        if b.df.empty:
            continue
        tables = _latex_suite_tables(b) if b.suite_columns else _latex_runtime_tables(b)
        for n, (caption, cols, rows, heads) in enumerate(tables, 1):
            out.extend(_latex_table(b, caption, cols, rows, heads, f"tab:vsrbench-{b.name}-{n}"))
    out.extend(f"% {strip_controls(n)}" for n in notes)
    return "\n".join(out) + "\n"


def _protocol_caption(names: list[str]) -> str:
    from vsrbench.benchmark.suites import SUITES

    if names[0] not in SUITES:
        return (f"{names[0]}: no suite here (`vsrbench suites` has no suite of this protocol); the numbers are "
                f"the papers' own, under their protocol")
    s = SUITES[names[0]]
    frames = "all frames" if s.frames == "all" else "the centre frame of each clip"
    channel = "Y channel (MATLAB rgb2ycbcr)" if s.channel == "y" else "RGB"
    return f"{', '.join(names)}: degradation {s.degradation}, {channel}, crop border {s.crop_border}, {frames}"


def _suite_groups(b: Board) -> list[list[str]]:
    """The board's suites in groups of one protocol (degradation, scale, channel, crop, frames), each
    group cut so that a table stays within :data:`TEX_MAX_COLS` columns (two id columns)."""
    from vsrbench.benchmark.suites import SUITES

    vals = [c for c in b.df.columns if c not in ROW_KEYS]
    suites = list(dict.fromkeys(c.rsplit(" ", 1)[0] for c in vals))
    per = max(sum(1 for c in vals if c.rsplit(" ", 1)[0] == s) for s in suites)
    k = max(1, (TEX_MAX_COLS - 2) // per)
    groups: dict = {}
    for s in suites:
        x = SUITES.get(s)
        key = (x.convention, x.scale, x.channel, x.crop_border, x.frames) if x else ("unlisted", s)
        groups.setdefault(key, []).append(s)
    return [g[i:i + k] for g in groups.values() for i in range(0, len(g), k)]


def _latex_suite_tables(b: Board):
    vals = [c for c in b.df.columns if c not in ROW_KEYS]
    kind = b.df["kind"]
    for names in _suite_groups(b):
        cols = [c for c in vals if c.rsplit(" ", 1)[0] in names]
        has = b.df[cols].apply(pd.to_numeric, errors="coerce").notna().any(axis=1)
        main = [list(b.df.index[has & (kind == "measured")]), list(b.df.index[has & (kind == "reported")])]
        smoke = list(b.df.index[has & (kind == "smoke")])
        for parts, what in ((main, " Best measured value in bold, second underlined; rows below the rule are "
                                   "reported by the papers (not ranked)."), ([smoke], "")):
            rows = [i for p in parts for i in p]
            if not rows:
                continue
            have = [c for c in cols if pd.to_numeric(b.df.loc[rows, c], errors="coerce").notna().any()]
            shown = [s for s in names if any(c.rsplit(" ", 1)[0] == s for c in have)]
            heads = [(suite_label(s), sum(1 for c in have if c.rsplit(" ", 1)[0] == s)) for s in shown]
            cap = f"{b.title}. {_protocol_caption(shown)}."
            yield (cap + what if what else f"{SMOKE_TITLE}. {cap}"), have, parts, heads


def _latex_runtime_tables(b: Board):
    cols = [c for c in ("LR size (WxH)", "dtype", "ms/frame", "fps", "params", "FLOPs/frame (G)", "peak memory (MiB)")
            if c in b.df and b.df[c].map(lambda v: _cell(b, c, v) != "-").any()]
    dev = b.df["device"].map(lambda d: d or "")
    for kind, what in (("measured", "Bold: fastest among rows of the same LR size; second underlined"),
                       ("smoke", SMOKE_TITLE), ("reported", "Reported by the papers, on their GPUs; not ranked")):
        for d in dict.fromkeys(dev[b.df["kind"] == kind]):
            rows = list(b.df.index[(b.df["kind"] == kind) & (dev == d)])
            yield f"Runtime on {d or 'a device the paper does not state'}. {what}.", cols, [rows], []


def _tex_format(b: Board, col: str, rows) -> tuple[str, str | None]:
    """(siunitx table-format, python format) of a numeric column; (None, None) for a text column."""
    vals = pd.to_numeric(b.df.loc[rows, col], errors="coerce") if rows else pd.Series(dtype=float)
    if col in ("device", "dtype", "LR size (WxH)") or (not pd.api.types.is_numeric_dtype(b.df[col])
                                                        and vals.notna().sum() == 0):
        return None, None
    fmt = "{:.2f}" if col == "params" else b.formats.get(col, "{:.2f}")
    dec = int(fmt.split(".")[1][0]) if "." in fmt else 0
    finite = vals[vals.map(lambda v: math.isfinite(v) if v == v else False)]
    scale = 1e-6 if col == "params" else 1.0
    top = int(max([abs(v) * scale for v in finite] + [1]))
    neg = "-" if (finite < 0).any() else ""
    return f"{neg}{len(str(top))}.{dec}", fmt


def _tex_value(b: Board, col: str, v, fmt: str | None, mark: int) -> str:
    if fmt is None:
        return tex_cell(_short(_cell(b, col, v), 60))
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "{--}"
    if isinstance(v, float) and math.isinf(v):
        text = r"$\infty$"
    else:
        text = fmt.format(float(v) * (1e-6 if col == "params" else 1.0))
    if mark == 1:
        return "{\\textbf{" + text + "}}"
    if mark == 2:
        return "{\\underline{" + text + "}}"
    return text if not text.startswith("$") else "{" + text + "}"


_TEX_HEAD = {"params": "params (M)", "LR size (WxH)": "LR size (WxH)"}


def _latex_table(b: Board, caption: str, cols: list[str], parts: list[list], heads, label: str) -> list[str]:
    """One ``table``: ``parts`` are row groups separated by a rule; ``heads`` (suite, span) pairs over
    the value columns, or empty."""
    rows = [i for p in parts for i in p]
    id_cols = ["model", "weights"] if b.suite_columns else ["model", "weights", "settings"]
    fmts = {c: _tex_format(b, c, rows) for c in cols}
    spec = "l" * len(id_cols) + "".join(f"S[table-format={f[0]}]" if f[1] else "l" for f in (fmts[c] for c in cols))
    best, second = b.best_mask(), b.best_mask(2)
    n = len(id_cols) + len(cols)
    lines = ["\\begin{table}[t]", "\\centering", f"\\caption{{{tex_cell(caption)}}}", f"\\label{{{label}}}",
             f"\\begin{{tabular}}{{{spec}}}", "\\toprule"]
    if heads:
        lines.append(" & ".join([""] * len(id_cols) + [f"\\multicolumn{{{k}}}{{c}}{{{tex_cell(h)}}}" for h, k in heads])
                     + " \\\\")
        at = len(id_cols) + 1
        rules = []
        for _, k in heads:
            rules.append(f"\\cmidrule(lr){{{at}-{at + k - 1}}}")
            at += k
        lines.append(" ".join(rules))
        names = [c.rsplit(" ", 1)[1] for c in cols]
    else:
        names = [_TEX_HEAD.get(c, c) for c in cols]
    id_heads = {"model": "Model", "weights": "Weights / source", "settings": "Settings"}
    lines.append(" & ".join([id_heads[c] for c in id_cols] + [("{" + tex_cell(h) + "}") if fmts[c][1] else tex_cell(h)
                                                             for h, c in zip(names, cols)]) + " \\\\")
    lines.append("\\midrule")
    for k, part in enumerate(p for p in parts if p):
        if k:
            lines.append("\\midrule")
        for i in part:
            r = b.df.loc[i]
            ident = _tex_ident(r, b.suite_columns)
            cells = [_tex_value(b, c, r[c], fmts[c][1], 1 if best.at[i, c] else (2 if second.at[i, c] else 0))
                     for c in cols]
            assert len(ident) + len(cells) == n
            lines.append(" & ".join(ident + cells) + " \\\\")
    lines += ["\\bottomrule", "\\end{tabular}", "\\end{table}", ""]
    return lines


def _tex_ident(r, suite_board: bool) -> list[str]:
    model = str(r["model"])
    settings = str(r.get("settings", ""))
    src = str(r["paper"]) if r.get("kind") == "reported" else _short(str(r["weights"]), 60)
    if suite_board:
        if settings not in ("full", "as published", ""):
            model += f" [{settings}]"
        return [tex_cell(model), tex_cell(src)]
    return [tex_cell(model), tex_cell(src), tex_cell(_short(settings, 50))]


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
        ctx.append({"title": html_text(b.title), "notes": [html_text(n) for n in b.notes],
                    "main": _html_table(b, main_rows, f"board-{b.name}"),
                    "smoke": _html_table(b, smoke_rows, f"board-{b.name}-smoke") if smoke_rows else None})
    imgs = [{"caption": html_text(cap), "data": base64.b64encode(png).decode("ascii")} for cap, png in (images or {}).items()]
    return _template().render(title=html_text(title), boards=ctx, images=imgs, notes=[html_text(n) for n in notes],
                              smoke_title=SMOKE_TITLE)


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
                dv = html_text(v)
            cls = ("num " if num else "") + ("best" if mask.at[i, c] else "")
            cells.append({"text": html_text(_cell(b, c, v)), "v": dv, "cls": cls.strip()})
        body.append({"kind": html_text(r.get("kind", "")), "cells": cells})
    return {"id": tid, "cols": [html_text(c) for c in cols], "rows": body}


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
