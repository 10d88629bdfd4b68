"""Every board format from one store holding trained, official-weight, full, smoke and reported rows
over two suites and two devices (one real bicubic record on the demo, varied), checked as a reader
would paste them: Markdown within 120 columns, LaTeX balanced with every row as wide as its column
spec and no table over 12 columns (compiled when pdflatex is installed), runtime ranked only within
one device and LR size, the papers' rows there without VSRBENCH_SHARED, hostile names escaped in
every format; and the plots' labels inside their axes."""

from __future__ import annotations

import copy
import csv
import io
import json
import re
import shutil
import subprocess

import pytest

from vsrbench.benchmark.harness import evaluate
from vsrbench.benchmark.results import load_results
from vsrbench.cli import main
from vsrbench.leaderboard.boards import build_boards
from vsrbench.leaderboard.render import render_csv, render_html, render_latex, render_md

SCRIPT = "</script><script>alert(1)</script>"
IMG = "<img src=x onerror=alert(2)>"
PIPE = "a|b\nc | d"
CTRL = "esc\x1b[31mred\x07bell\u202eevil\u2066x"
FORMULA = "=HYPERLINK(\"http://x\",\"y\")"
CPU, GPU = "Intel(R) Xeon(R) Processor", "NVIDIA H200"


def _variant(base: dict, **kw) -> dict:
    r = copy.deepcopy(base)
    rt = kw.pop("runtime", {})
    for k, v in kw.items():
        r[k] = v
    r["runtime"] = {**r["runtime"], **rt}
    r["id"] = f"{r['model']}-{r['suite']}-{r['runtime']['device']}-{r['weights']}"[:60]
    r.setdefault("provenance", {})["date"] = "2024-01-01T00:00:00"
    r["provenance"]["device"] = "cuda:0" if r["runtime"]["device"] == GPU else "cpu"
    return r


def mixed_records(base: dict) -> list[dict]:
    """Records over suites demo and vid4 and devices CPU and GPU: bicubic (no weights), fstrn trained
    by vsrbench, zsm on official weights, a smoke check (random weights, a crop), and hostile names."""
    sha = "sha256:" + "ab" * 32
    full = {**base["settings"], "crop": None, "limit_clips": None}
    train = {"trained_by": "vsrbench", "recipe": "quick", "iterations": 200}
    out = []
    for suite, lr in (("demo", "36x44, 48x64"), ("vid4", "144x180, 144x176, 120x180")):
        for dev, ms in ((CPU, 1.0), (GPU, 0.01)):
            def add(model, weights, psnr, t, **kw):
                out.append(_variant(base, model=model, suite=suite, weights=weights, settings=kw.pop("settings", full),
                                    psnr=psnr, runtime={"device": dev, "lr_size": lr, "ms_per_frame": t * ms,
                                                        "fps": 1000 / (t * ms)}, **kw))
            add("bicubic", "none", 23.5, 5.0)
            add("fstrn", sha.replace("ab", "cd"), 25.5, 40.0, training=train)
            add("zsm", sha, 26.2, 90.0)
            add("lcvsr", "random(seed=0)", 12.0, 3.0, settings={**full, "crop": [32, 32], "limit_clips": 1})
    # hostile names: one full row each (CPU, demo)
    for name in (SCRIPT, IMG, PIPE, CTRL, FORMULA):
        out.append(_variant(base, model=name, suite="demo", weights="none", settings=full, psnr=20.0,
                            runtime={"device": CPU, "lr_size": "36x44, 48x64", "ms_per_frame": 7.0, "fps": 1000 / 7}))
    # a lone row at another LR size on the GPU: a time with nothing to rank against is not bold
    out.append(_variant(base, model="bilinear", suite="demo", weights="none", settings=full, psnr=22.0,
                        runtime={"device": GPU, "lr_size": "180x320", "ms_per_frame": 0.001, "fps": 1e6}))
    return out


@pytest.fixture(scope="module")
def base_record(prepared_home, tmp_path_factory):
    res = tmp_path_factory.mktemp("boards_base")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("VSRBENCH_HOME", str(prepared_home))
        return evaluate("bicubic", "demo", device="cpu", limit_clips=1, crop=(32, 32), results=res, progress=False,
                        temporal=False)


@pytest.fixture(scope="module")
def store(base_record, tmp_path_factory):
    res = tmp_path_factory.mktemp("boards_store")
    for k, r in enumerate(mixed_records(base_record)):
        (res / r["suite"]).mkdir(exist_ok=True)
        (res / r["suite"] / f"r{k:02d}.json").write_text(json.dumps(r))
    return res


@pytest.fixture
def boards(store, monkeypatch):
    monkeypatch.delenv("VSRBENCH_SHARED", raising=False)  # the papers' rows ship with vsrbench
    return build_boards(load_results(store))


def test_reported_rows_without_vsrbench_shared(boards):
    bs, notes = boards
    q = bs[0].df
    rep = q[q["kind"] == "reported"]
    assert len(rep) > 20 and "survey (seed 002) Table 1" in set(rep["paper"])
    bic = rep[(rep["model"] == "Bicubic") & (rep["paper"] == "survey (seed 002) Table 1")].iloc[0]
    assert bic["vid4 PSNR"] == pytest.approx(23.78)
    assert "shipped with vsrbench" in notes[0]
    assert not any("protocol.md" in n for b in bs for n in b.notes)


def test_markdown_fits_and_escapes(boards):
    text = render_md(*boards)
    long = [ln for ln in text.splitlines() if len(ln) > 120]
    assert not long, long[:3]
    assert "<script>" not in text and "<img" not in text and "&lt;/script&gt;" in text
    assert not re.search("[\x00-\x08\x0b-\x1f\x7f\u202a-\u202e\u2066-\u2069]", text)
    # every table row has as many cells as its header (a '|' or newline in a name adds none)
    for block in re.split(r"\n(?!\|)", text):
        rows = [ln for ln in block.splitlines() if ln.startswith("|")]
        if rows:
            n = len(re.split(r"(?<!\\)\|", rows[0]))
            assert all(len(re.split(r"(?<!\\)\|", ln)) == n for ln in rows), rows
    # no one-column tables: every runtime table has its timing, dtype and LR size together
    runtime = text.split("## Runtime", 1)[1]
    headers = [ln for ln in runtime.splitlines() if ln.startswith("| model")]
    assert headers and all("ms/frame" in h and "LR size" in h for h in headers)
    assert "#### Device: NVIDIA H200" in runtime and "not stated by the paper" in runtime
    # paper runtime rows say their device and LR size where the paper does
    gtx = [ln for ln in runtime.splitlines() if "LCVSR (seed 000)" in ln and "2320.00" in ln]
    assert gtx and "480x270" in gtx[0]
    assert "brcn5 (no suite here)" in text
    # no word cut in the middle: a shortened cell ends at a word boundary
    for m in re.finditer(r"(\w+)…", text):
        assert m.group(1)  # the ellipsis follows a whole word ...
    assert "vid4-lcvsr: gauss sigma=1 size=3 x4; 10…" not in text


def _latex_tables(text: str) -> list[str]:
    return re.findall(r"\\begin\{tabular\}.*?\\end\{tabular\}", text, re.DOTALL)


def _spec_width(spec: str) -> int:
    spec = re.sub(r"\[[^\]]*\]", "", spec)  # S[table-format=2.2] -> S
    return len(re.findall(r"[lcrS]", spec))


def test_latex_balanced_and_rectangular(boards):
    text = render_latex(*boards)
    assert text.count("\\begin{table}") == text.count("\\end{table}") > 4
    body = re.sub(r"\\[{}]", "", "\n".join(ln for ln in text.splitlines() if not ln.startswith("%")))
    depth = 0
    for ch in body:
        depth += {"{": 1, "}": -1}.get(ch, 0)
        assert depth >= 0
    assert depth == 0
    tables = _latex_tables(text)
    assert len(tables) > 4
    for t in tables:
        spec = re.match(r"\\begin\{tabular\}\{(.*)\}\n", t).group(1)
        n = _spec_width(spec)
        assert n <= 12, spec
        for ln in t.splitlines():
            if not ln.endswith("\\\\"):
                continue
            cells = re.split(r"(?<!\\)&", ln[:-2])
            width = sum(int(m.group(1)) if (m := re.search(r"\\multicolumn\{(\d+)\}", c)) else 1 for c in cells)
            assert width == n, (spec, ln)
    assert "\\textbf{" in text and "\\underline{" in text and "booktabs" in text
    assert "Y channel" in text and "crop border 0" in text and "all frames" in text and "bi:x4" in text
    assert "\\textless{}/script\\textgreater{}" in text and "<script>" not in text


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex is not installed (texlive-latex-recommended, "
                                                              "texlive-science); the other LaTeX checks still run")
def test_latex_compiles(boards, tmp_path):
    doc = ("\\documentclass{article}\n\\usepackage[T1]{fontenc}\n\\usepackage{booktabs}\n\\usepackage{siunitx}\n"
           "\\usepackage[margin=1cm,landscape]{geometry}\n\\begin{document}\n" + render_latex(*boards)
           + "\\end{document}\n")
    (tmp_path / "b.tex").write_text(doc)
    r = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "b.tex"], cwd=tmp_path,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout[-3000:]


def test_runtime_ranked_within_device_and_lr_size(boards):
    rt = next(b for b in boards[0] if b.name == "runtime")
    mask = rt.best_mask()
    df = rt.df
    marked = df[mask["ms/frame"]]
    assert len(marked) == 4  # CPU and GPU, each at the demo's and at Vid4's LR sizes
    for _, r in marked.iterrows():
        peers = df[(df["kind"] == "measured") & (df["device"] == r["device"]) & (df["LR size (WxH)"] == r["LR size (WxH)"])]
        assert r["ms/frame"] == peers["ms/frame"].min() and len(peers) >= 2
    assert "bilinear" not in set(marked["model"])  # alone at its LR size: nothing to rank it against
    assert set(marked["model"]) == {"bicubic"}  # the GPU's 0.001 ms bilinear never outranks the CPU's rows
    md = render_md(*boards).split("## Runtime", 1)[1]
    assert md.count("**") // 2 == int(mask["ms/frame"].sum())  # fps is not in the Markdown board


def test_csv_and_html_neutralise_names(boards):
    text = render_csv(*boards)
    rows = list(csv.reader(io.StringIO(text)))
    models = {r[1] for r in rows[1:]}
    assert "'" + FORMULA in models and FORMULA not in models
    assert not any(m[:1] in "=+-@\t\r" for m in models)
    values = [r[7] for r in rows[1:]]
    assert all(not v.startswith("'") for v in values)  # numbers stay numbers
    assert not re.search("[\x00-\x09\x0b-\x1f\u202a-\u202e\u2066-\u2069]", text)
    from vsrbench.text import csv_cell

    assert csv_cell("-0.5") == "-0.5" and csv_cell("-x") == "'-x" and csv_cell("@SUM(A1)") == "'@SUM(A1)"
    html = render_html(*boards)
    assert SCRIPT not in html and "&lt;/script&gt;&lt;script&gt;alert(1)" in html and IMG not in html
    assert "\x1b" not in html and "\u202e" not in html


def test_a_huge_name_in_a_record_is_cut_when_read(base_record, tmp_path, capsys):
    res = tmp_path / "res"
    (res / "demo").mkdir(parents=True)
    big = dict(base_record, model="m" * 10_000_000, clips={"c" * 500: next(iter(base_record["clips"].values()))})
    (res / "demo" / "big.json").write_text(json.dumps(big))
    recs = load_results(res)
    err = capsys.readouterr().err
    assert len(recs[0]["model"]) == 200 and len(next(iter(recs[0]["clips"]))) == 200
    assert "big.json" in err and "too long" in err
    assert main(["leaderboard", "--results", str(res), "--format", "html", "--out", str(tmp_path / "b.html")]) == 0
    assert len((tmp_path / "b.html").read_text()) < 2_000_000


def _inside(fig) -> list[str]:
    """The texts of the axes (point labels) whose drawn extent leaves the axes box."""
    fig.canvas.draw()
    r = fig.canvas.get_renderer()
    out = []
    for ax in fig.axes:
        box = ax.get_window_extent(r)
        for t in ax.texts:
            e = t.get_window_extent(r)
            if e.x0 < box.x0 - 0.5 or e.x1 > box.x1 + 0.5 or e.y0 < box.y0 - 0.5 or e.y1 > box.y1 + 0.5:
                out.append(t.get_text())
    return out


def test_plot_labels_inside_axes_and_devices_named(store, monkeypatch):
    import matplotlib.pyplot as plt

    from vsrbench.leaderboard.boards import load_reported
    from vsrbench.leaderboard.plots import per_clip_bars, psnr_vs_runtime

    monkeypatch.delenv("VSRBENCH_SHARED", raising=False)
    recs = load_results(store)
    fig = psnr_vs_runtime(recs, "vid4", load_reported()[0])
    labels = [t.get_text() for t in fig.axes[0].texts]
    assert any(t.startswith("EDVR (reported") for t in labels)  # the label that ran past the right edge
    assert not _inside(fig), _inside(fig)
    r = fig.canvas.get_renderer()
    boxes = [(t.get_text(), t.get_window_extent(r)) for t in fig.axes[0].texts]
    clash = [(a, b) for i, (a, ea) in enumerate(boxes) for b, eb in boxes[i + 1:] if ea.overlaps(eb)]
    assert not clash, clash  # the reported cluster (BasicVSR, IconVSR, EDVR-M at ~70 ms) stays legible
    assert all("(" in t and t.endswith(")") for t in labels)  # every point names its device
    assert "bicubic (CPU)" in labels and "bicubic (H200)" in labels
    plt.close(fig)
    fig = per_clip_bars(recs, "vid4")
    ax = fig.axes[0]
    assert ax.get_ylim()[0] > 15  # from a floor under the lowest bar, not from 0
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert not any("lcvsr" in t for t in legend)  # the smoke check is no bar
    assert any("smoke" in t.get_text() for t in fig.texts)
    plt.close(fig)


def test_plot_without_out_dir_writes_beside_the_store(store, tmp_path, capsys):
    res = tmp_path / "res"
    shutil.copytree(store, res)
    assert main(["plot", "--results", str(res), "--suite", "vid4", "--image-format", "png"]) == 0
    err = capsys.readouterr().err
    assert str(tmp_path / "plots") in err
    assert (tmp_path / "plots" / "psnr_vs_runtime_vid4.png").is_file()


# ---------------------------------------------------------------------------------------------
# hints and widths of the first hour


def test_weights_hints_name_the_source():
    from vsrbench.benchmark.harness import no_weights_message

    zsm = no_weights_message("zsm")
    assert "https://github.com/Mukosame/Zooming-Slow-Mo-CVPR-2020" in zsm and "xiang2020zooming.pth" in zsm
    for m in ("fstrn", "lcvsr", "dksan"):
        assert f"no published weights exist; train them with `vsrbench train --model {m}`" in no_weights_message(m)
    from vsrbench.cli import result_header

    rec = {"model": "fstrn", "suite": "vid4", "weights": "random(seed=0)", "settings": {},
           "suite_settings": {"degradation": "bi:x4", "channel": "y", "crop_border": 0, "frames": "all"}}
    head = result_header(rec)
    assert "no published weights exist" in head and "pass --checkpoint for published weights" not in head


def test_train_summary_says_when_nothing_validates(tmp_path):
    from vsrbench.training.loop import startup_summary
    from vsrbench.training.recipes import get_recipe

    data = {"dataset": "vimeo90k", "set": "train", "clips": 1, "gt": {"path": "GT.lmdb"}, "lr": {"path": "BIx4.lmdb"}}
    quick = startup_summary("fstrn", get_recipe("quick", "fstrn"), data, "cpu", 1, tmp_path, False)
    text = "\n".join(quick)
    assert "no validation (pass --val-suite vid4 to score checkpoints)" in text
    assert "1 clip;" in text and "batch" in text and "patch" in text and "device cpu" in text
    paper = "\n".join(startup_summary("fstrn", get_recipe("paper", "fstrn"), data, "cpu", 1, tmp_path, False))
    assert "validation: vid4 (128x128 centre crops)" in paper  # as the README says


def test_widths_and_counts(capsys, monkeypatch):
    from vsrbench.benchmark.suites import get_suite
    from vsrbench.cli import format_score_table
    from vsrbench.datasets.catalog import get_entry
    from vsrbench.sizes import hw_label
    from vsrbench.text import plural

    assert plural(1, "clip") == "1 clip" and plural(2, "clip") == "2 clips"
    assert get_suite("realclips").dataset == get_entry("realclips").name and get_suite("realclips").channel == "y"
    assert hw_label("144x180, 144x176, 120x180") == "180x144, 176x144, 180x120 (WxH)"  # Vid4: every LR size
    monkeypatch.setenv("COLUMNS", "110")
    assert main(["suites"]) == 0
    out = capsys.readouterr().out
    assert max(len(ln) for ln in out.splitlines()) <= 110 and "--long" in out and "realclips" in out
    r = {"clips": {"a": {"n_frames": 3, "psnr": 30.0, "ssim": 0.9, "n_inf": 0}}, "n_frames": 3, "psnr": 30.0,
         "ssim": 0.9, "frame_mean": {"psnr": 30.0, "ssim": 0.9}, "channel": "y", "crop_border": 0,
         "aggregation": "mean", "n_inf": 0}
    table = format_score_table(r)
    assert all(ln == ln.rstrip() for ln in table.splitlines())  # no empty trailing column
    assert table.splitlines()[0].split() == ["clip", "frames", "PSNR", "SSIM"]
