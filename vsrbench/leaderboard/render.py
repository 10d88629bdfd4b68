"""Render boards as Markdown, CSV (tidy: one value per line), LaTeX or one self-contained HTML page.

The HTML page has no external resources: plots are base64 PNGs, and a few lines of plain
JavaScript sort a table when a header is clicked. ``#sort=<table-id>:<column>:<asc|desc>`` in the URL
(column = index or header text) runs the same sort on load, so a headless browser can check it.
"""

from __future__ import annotations

import base64
import csv
import html
import io
import math

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
    if s.startswith("sha256:") and len(s) > 19:
        s = s[:19] + "…"
    return s if len(s) <= _MD_CELL else s[: _MD_CELL - 1] + "…"


def _md_table(cells: list[list[str]], right: list[bool]) -> list[str]:
    out = ["| " + " | ".join(cells[0]) + " |", "|" + "|".join("---:" if r else "---" for r in right) + "|"]
    out.extend("| " + " | ".join(row) + " |" for row in cells[1:])
    return out


def _md_chunks(header: list[str], body: list[list[str]], n_id: int, groups: list[list[int]], right: list[bool]):
    """Split the value columns (``groups`` of column indices kept together) over as many tables as it
    takes for every line to fit :data:`MD_WIDTH`; the first ``n_id`` columns are repeated in each."""
    def width(cols):
        return 1 + sum(max(len(r[c]) for r in [header] + body) + 3 for c in cols)

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
    return "".join(_TEX.get(ch, ch) for ch in s)


def render_latex(boards: list[Board], notes: list[str] = ()) -> str:
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
    out = []
    cols = _display_cols(b)
    title = b.title + (" -- " + SMOKE_TITLE if part else "")
    out.append(f"% {title}")
    out.append("\\begin{table}[t]\n\\centering\n\\small")
    out.append(f"\\caption{{{_tex(title)}}}\\label{{tab:vsrbench-{b.name}{part}}}")
    align = "".join("l" if c in ROW_KEYS or b.df[c].dtype == object else "r" for c in cols)
    out.append(f"\\begin{{tabular}}{{{align}}}\n\\toprule")
    out.append(" & ".join(_tex(c) for c in cols) + " \\\\\n\\midrule")
    mask = b.best_mask()
    for i, r in b.df.loc[rows].iterrows():
        cells = []
        for c in cols:
            s = _tex(_cell(b, c, r[c]))
            cells.append(f"\\textbf{{{s}}}" if mask.at[i, c] else s)
        out.append(" & ".join(cells) + " \\\\")
    out.append("\\bottomrule\n\\end{tabular}\n\\end{table}\n")
    return out


_SCRIPT = """
function vbKey(td){var v=td.getAttribute('data-v');if(v===null||v==='')return null;var n=parseFloat(v);return isNaN(n)?v.toLowerCase():n;}
function sortTable(id,col,dir){var t=document.getElementById(id);if(!t)return;var ths=t.tHead.rows[0].cells;
 if(isNaN(parseInt(col,10))){for(var i=0;i<ths.length;i++){if(ths[i].textContent.trim()===col){col=i;break;}}}col=parseInt(col,10);
 if(isNaN(col)||col<0||col>=ths.length)return;dir=dir||(ths[col].getAttribute('data-dir')==='asc'?'desc':'asc');
 var b=t.tBodies[0],rows=Array.prototype.slice.call(b.rows);
 rows.sort(function(x,y){var a=vbKey(x.cells[col]),c=vbKey(y.cells[col]);if(a===c)return 0;if(a===null)return 1;if(c===null)return -1;
  var r=(typeof a===typeof c)?(a<c?-1:1):(typeof a==='number'?-1:1);return dir==='asc'?r:-r;});
 rows.forEach(function(r){b.appendChild(r);});for(var i=0;i<ths.length;i++)ths[i].removeAttribute('data-dir');ths[col].setAttribute('data-dir',dir);}
document.addEventListener('DOMContentLoaded',function(){
 document.querySelectorAll('table.board th').forEach(function(th){th.addEventListener('click',function(){sortTable(th.closest('table').id,th.cellIndex);});});
 var m=/(?:^|[#&?])sort=([^:&]+):([^:&]+)(?::(asc|desc))?/.exec(decodeURIComponent(location.hash+location.search));
 if(m)sortTable(m[1],m[2],m[3]||'asc');});
"""

_CSS = """
body{font-family:system-ui,sans-serif;margin:1.5em;color:#222}table.board{border-collapse:collapse;margin:.5em 0 1em;font-size:13px}
th,td{border:1px solid #ccc;padding:2px 6px}th{background:#eee;cursor:pointer;white-space:nowrap}
th[data-dir=asc]:after{content:' \\25B2'}th[data-dir=desc]:after{content:' \\25BC'}td.num{text-align:right}
td.best{font-weight:bold;background:#e6f4e6}tr.reported td{color:#555;font-style:italic}tr.smoke td{color:#777}img{max-width:48%;margin:4px}
.note{color:#555;font-size:12px}
"""


def render_html(boards: list[Board], notes: list[str] = (), images: dict[str, bytes] | None = None,
                title: str = "vsrbench leaderboard") -> str:
    """One self-contained page; ``images``: caption -> PNG bytes, embedded as base64."""
    e = html.escape
    out = ["<!DOCTYPE html>", "<html><head><meta charset='utf-8'>", f"<title>{e(title)}</title>",
           f"<style>{_CSS}</style>", f"<script>{_SCRIPT}</script>", "</head><body>", f"<h1>{e(title)}</h1>"]
    for b in boards:
        out.append(f"<h2>{e(b.title)}</h2>")
        main_rows, smoke_rows = _split_smoke(b)
        out.extend(_html_table(b, main_rows, f"board-{b.name}"))
        if smoke_rows:
            out.append(f"<h3>{e(SMOKE_TITLE)}</h3>")
            out.extend(_html_table(b, smoke_rows, f"board-{b.name}-smoke"))
        out.extend(f"<p class='note'>{e(n)}</p>" for n in b.notes)
    if images:
        out.append("<h2>Plots</h2>")
        for cap, png in images.items():
            data = base64.b64encode(png).decode("ascii")
            out.append(f"<img alt='{e(cap)}' title='{e(cap)}' src='data:image/png;base64,{data}'>")
    out.extend(f"<p class='note'>{e(n)}</p>" for n in notes)
    out.append("</body></html>")
    return "\n".join(out) + "\n"


def _html_table(b: Board, rows, tid: str) -> list[str]:
    e = html.escape
    out = []
    cols = _display_cols(b)
    mask = b.best_mask()
    out.append(f"<table class='board' id='{tid}'><thead><tr>")
    out.append("".join(f"<th data-col='{j}' title='click to sort'>{e(c)}</th>" for j, c in enumerate(cols)))
    out.append("</tr></thead><tbody>")
    for i, r in b.df.loc[rows].iterrows():
        out.append(f"<tr class='{e(str(r.get('kind', '')))}'>")
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
            out.append(f"<td class='{cls.strip()}' data-v='{e(dv)}'>{e(_cell(b, c, v))}</td>")
        out.append("</tr>")
    out.append("</tbody></table>")
    return out


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
