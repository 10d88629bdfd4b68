"""Text read from stores, records and CSV files, made safe to show: on a terminal, in Markdown, HTML,
LaTeX and CSV. Each output format has exactly one cell-escaping function here, and the renderers
build every cell and header through it (a name is untrusted input: ``</script>``, ``|``, a newline,
ESC or an RTL override in a model name must not change the table or the terminal).
"""

from __future__ import annotations

import math
import re
import unicodedata

__all__ = ["csv_cell", "html_text", "md_cell", "md_text", "plural", "strip_controls", "tex_cell"]

#: the bidi embedding / override / isolate characters (U+202A-202E, U+2066-2069) and the marks
_BIDI = set("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c")


def strip_controls(s, *, keep_newlines: bool = False) -> str:
    """``s`` without control characters (C0, DEL, C1: ESC, BEL, CR, ...) and bidi overrides; tabs and
    (unless ``keep_newlines``) line breaks become spaces."""
    out = []
    for ch in str(s):
        if ch == "\n" and keep_newlines:
            out.append(ch)
        elif ch in "\t\n\r\v\f\x85\u2028\u2029":
            out.append(" ")
        elif ch in _BIDI or unicodedata.category(ch) == "Cc":
            continue
        else:
            out.append(ch)
    return "".join(out)


_MD_SPECIAL = re.compile(r"([\\`*_\[\]|$~#!{}])")
_HTML = {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;"}


def md_cell(s) -> str:
    """One Markdown table cell or header: one line, no control characters, Markdown's specials
    backslash-escaped (``|`` would add a column) and HTML's ``& < > "`` as entities (GitHub renders
    raw HTML in tables)."""
    text = _MD_SPECIAL.sub(r"\\\1", strip_controls(s))
    return "".join(_HTML.get(ch, ch) for ch in text)


def md_text(s) -> str:
    """Prose for a Markdown board (notes): no control characters, HTML's specials as entities; code
    spans in backticks are kept."""
    return "".join(_HTML.get(ch, ch) for ch in strip_controls(s))


def html_text(s) -> str:
    """Text for the HTML page before jinja2's autoescape: no control characters."""
    return strip_controls(s)


_TEX = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{",
        "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}", "<": r"\textless{}",
        ">": r"\textgreater{}", "|": r"\textbar{}", '"': r"\textquotedbl{}"}


def tex_cell(s) -> str:
    """A LaTeX cell, header or caption: no control characters, every special character escaped."""
    return "".join(_TEX.get(ch, ch) for ch in strip_controls(s))


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "|", "%")


def _is_number(s: str) -> bool:
    try:
        v = float(s)
    except ValueError:
        return False
    return not math.isnan(v) or s.strip().lower() == "nan"


def csv_cell(v) -> str:
    """A CSV cell: no control characters, and text a spreadsheet would run as a formula (starting
    with ``= + - @``, tab or CR, OWASP's list) prefixed with ``'``; numbers (``-0.5``) stay numbers."""
    raw = str(v)
    if raw[:1] in _FORMULA_START and not _is_number(raw):
        return "'" + strip_controls(raw)
    return strip_controls(raw)


def plural(n: int, word: str) -> str:
    """``plural(1, 'clip') == '1 clip'``, ``plural(3, 'clip') == '3 clips'``."""
    return f"{n} {word}{'' if n == 1 else 's'}"
