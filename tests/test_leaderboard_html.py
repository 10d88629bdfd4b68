"""The HTML leaderboard in a real headless Chromium: the tables' rows are there, and the page's own
sort function (run on load from ``#sort=<table-id>:<column>:<dir>``) orders the rows."""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import pytest

from vsrbench.benchmark.harness import evaluate
from vsrbench.cli import main

CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if os.path.exists("/usr/bin/chromium") else None)


@pytest.fixture(scope="module")
def page(prepared_home, shared_dir, tmp_path_factory):
    if CHROMIUM is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed in CI (.ci/run installs Debian's chromium)")
        pytest.skip("chromium is not installed (apt-get install -y chromium)")
    tmp = tmp_path_factory.mktemp("lb_html")
    res = tmp / "results"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("VSRBENCH_HOME", str(prepared_home))
        for model, crop in (("bicubic", (32, 32)), ("fstrn", (16, 16)), ("zsm", (16, 16))):
            evaluate(model, "demo", device="cpu", limit_clips=1, crop=crop, results=res, progress=False,
                     random_weights=model != "bicubic")
        evaluate("bicubic", "vid4", device="cpu", limit_clips=1, crop=(32, 32), results=res, progress=False)
    out = tmp / "board.html"
    assert main(["leaderboard", "--results", str(res), "--format", "html", "--out", str(out),
                 "--reported", str(shared_dir / "reference" / "reported.csv")]) == 0
    return out


def dump_dom(path, fragment: str = "", tmp=None) -> str:
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           "--disable-dev-shm-usage", f"--user-data-dir={tmp}", "--dump-dom", f"file://{path}{fragment}"]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "</html>" in r.stdout, r.stderr[-2000:]
    return r.stdout


def table_rows(dom: str, table_id: str) -> list[list[str]]:
    m = re.search(rf"<table[^>]*id=\"{table_id}\"[^>]*>(.*?)</table>", dom, re.DOTALL)
    assert m, f"no table {table_id}"
    body = m.group(1).split("<tbody>", 1)[1]
    rows = []
    for tr in re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.DOTALL):
        rows.append([re.sub(r"<[^>]+>", "", td).strip() for td in re.findall(r"<td[^>]*>(.*?)</td>", tr, re.DOTALL)])
    return rows


def header(dom: str, table_id: str) -> list[str]:
    m = re.search(rf"<table[^>]*id=\"{table_id}\"[^>]*>.*?<thead>(.*?)</thead>", dom, re.DOTALL)
    return [re.sub(r"<[^>]+>", "", th).strip() for th in re.findall(r"<th[^>]*>(.*?)</th>", m.group(1), re.DOTALL)]


def test_page_is_self_contained(page):
    text = page.read_text()
    assert "<script src" not in text and "<link" not in text and "http://" not in text and "https://" not in text
    assert "data:image/png;base64," in text  # plots embedded


def test_rows_render_in_chromium(page, tmp_path):
    dom = dump_dom(page, tmp=tmp_path / "ud")
    q = table_rows(dom, "board-quality")
    cols = header(dom, "board-quality")
    assert cols[:5] == ["model", "kind", "paper", "weights", "settings"]
    assert not [r for r in q if r[1] != "reported"]  # every run here is a smoke check: none in the main table
    smoke = table_rows(dom, "board-quality-smoke")
    assert sorted(r[0] for r in smoke) == ["bicubic", "fstrn", "zsm"] and {r[1] for r in smoke} == {"smoke"}
    assert any(r[0] == "Bicubic" and r[1] == "reported" and r[2] == "survey (seed 002) Table 1" for r in q)
    assert len(table_rows(dom, "board-temporal-smoke")) == 3  # bicubic: one row, vid4 and demo columns
    assert len([r for r in table_rows(dom, "board-runtime-smoke") if r[1] == "smoke"]) == 4
    assert "best" not in dom.split('id="board-quality-smoke"', 1)[1].split("</table>", 1)[0]  # never bolded


@pytest.mark.parametrize("direction", ["desc", "asc"])
def test_sorting_in_chromium(page, tmp_path, direction):
    dom0 = dump_dom(page, tmp=tmp_path / "ud0")
    cols = header(dom0, "board-quality")
    ci = cols.index("vid4 PSNR")
    dom = dump_dom(page, f"#sort=board-quality:{ci}:{direction}", tmp=tmp_path / "ud1")
    rows = table_rows(dom, "board-quality")
    vals = [float(r[ci]) for r in rows if r[ci] not in ("-", "")]
    assert len(vals) >= 5
    assert vals == sorted(vals, reverse=(direction == "desc"))
    # empty cells go last, and the sorted order differs from the default one
    first_empty = next(i for i, r in enumerate(rows) if r[ci] == "-")
    assert all(r[ci] == "-" for r in rows[first_empty:])
    assert [r[0] for r in rows] != [r[0] for r in table_rows(dom0, "board-quality")]
    assert f'data-dir="{direction}"' in dom


def test_sort_by_header_name_in_chromium(page, tmp_path):
    dom = dump_dom(page, "#sort=board-quality:model:asc", tmp=tmp_path / "ud")
    names = [r[0].lower() for r in table_rows(dom, "board-quality")]
    assert names == sorted(names)
