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


def render_md(boards: list[Board], notes: list[str] = ()) -> str:
    out = []
    for b in boards:
        out.append(f"## {b.title}\n")
        if b.df.empty:
            out.append("(no rows)\n")
            continue
        mask = b.best_mask()
        cols = _display_cols(b)
        out.append("| " + " | ".join(cols) + " |")
        out.append("|" + "|".join("---" if c in ROW_KEYS or b.df[c].dtype == object else "---:" for c in cols) + "|")
        for i, r in b.df.iterrows():
            cells = []
            for c in cols:
                s = _md(_cell(b, c, r[c]))
                cells.append(f"**{s}**" if mask.at[i, c] else s)
            out.append("| " + " | ".join(cells) + " |")
        out.append("")
        out.extend(f"- {n}" for n in b.notes)
        out.append("")
    if notes:
        out.append("---")
        out.extend(f"- {n}" for n in notes)
    return "\n".join(out).rstrip() + "\n"


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
        cols = _display_cols(b)
        out.append(f"% {b.title}")
        out.append("\\begin{table}[t]\n\\centering\n\\small")
        out.append(f"\\caption{{{_tex(b.title)}}}\\label{{tab:vsrbench-{b.name}}}")
        align = "".join("l" if c in ROW_KEYS or b.df[c].dtype == object else "r" for c in cols)
        out.append(f"\\begin{{tabular}}{{{align}}}\n\\toprule")
        out.append(" & ".join(_tex(c) for c in cols) + " \\\\\n\\midrule")
        mask = b.best_mask()
        for i, r in b.df.iterrows():
            cells = []
            for c in cols:
                s = _tex(_cell(b, c, r[c]))
                cells.append(f"\\textbf{{{s}}}" if mask.at[i, c] else s)
            out.append(" & ".join(cells) + " \\\\")
        out.append("\\bottomrule\n\\end{tabular}\n\\end{table}\n")
    out.extend(f"% {n}" for n in notes)
    return "\n".join(out) + "\n"


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
td.best{font-weight:bold;background:#e6f4e6}tr.reported td{color:#555;font-style:italic}img{max-width:48%;margin:4px}
.note{color:#555;font-size:12px}
"""


def render_html(boards: list[Board], notes: list[str] = (), images: dict[str, bytes] | None = None,
                title: str = "vsrbench leaderboard") -> str:
    """One self-contained page; ``images``: caption -> PNG bytes, embedded as base64."""
    e = html.escape
    out = ["<!DOCTYPE html>", "<html><head><meta charset='utf-8'>", f"<title>{e(title)}</title>",
           f"<style>{_CSS}</style>", f"<script>{_SCRIPT}</script>", "</head><body>", f"<h1>{e(title)}</h1>"]
    for b in boards:
        tid = f"board-{b.name}"
        out.append(f"<h2>{e(b.title)}</h2>")
        cols = _display_cols(b)
        mask = b.best_mask()
        out.append(f"<table class='board' id='{tid}'><thead><tr>")
        out.append("".join(f"<th data-col='{j}' title='click to sort'>{e(c)}</th>" for j, c in enumerate(cols)))
        out.append("</tr></thead><tbody>")
        for i, r in b.df.iterrows():
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
        out.extend(f"<p class='note'>{e(n)}</p>" for n in b.notes)
    if images:
        out.append("<h2>Plots</h2>")
        for cap, png in images.items():
            data = base64.b64encode(png).decode("ascii")
            out.append(f"<img alt='{e(cap)}' title='{e(cap)}' src='data:image/png;base64,{data}'>")
    out.extend(f"<p class='note'>{e(n)}</p>" for n in notes)
    out.append("</body></html>")
    return "\n".join(out) + "\n"


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
