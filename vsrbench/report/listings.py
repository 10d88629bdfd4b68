"""What vsrbench knows, as text: the dataset catalog, the suites, the models, a prepared dataset."""

from __future__ import annotations

import shutil

from vsrbench.text import plural

__all__ = ["terminal_width", "cut_words", "dataset_rows", "format_datasets", "format_suites", "model_rows",
           "format_models", "prepared_counts", "prepared_line", "format_prepared"]


def terminal_width() -> int:
    return max(60, shutil.get_terminal_size((100, 24)).columns)


def cut_words(text: str, n: int) -> str:
    if len(text) <= n:
        return text
    cut = text[: n - 1]
    return (cut[: cut.rfind(" ")] if cut.rfind(" ") > n // 2 else cut).rstrip(" ,;:(") + "…"


# ------------------------------------------------------------------------------------------- datasets


def dataset_rows(name: str | None = None) -> list[dict]:
    """The catalog (or one dataset of it) with what is prepared locally, as plain data (``datasets --json``)."""
    from vsrbench.datasets.catalog import CATALOG, get_entry, split_sources
    from vsrbench.datasets.status import local_status

    rows = []
    for n in [get_entry(name).name] if name else list(CATALOG):
        e = get_entry(n)
        rows.append({
            "name": e.name, "title": e.title, "clips": e.num_clips, "frames_per_clip": e.frames_summary(),
            "frame_size": e.size_summary(), "sets": list(e.sets), "default_variants": list(e.default_variants),
            "sources": [{"url": s.url, "size": s.size, "sha256": s.sha256, "browser": s.browser, "note": s.note}
                        for s in e.sources],
            "licence": e.licence, "description": e.description, "prepared": local_status(e.name),
        })
        if e.layout == "septuplets":
            rows[-1]["split_lists"] = {k: s.url for k, s in split_sources().items()}
    return rows


def _dataset_text(r: dict) -> list[str]:
    out = [f"{r['name']}: {r['title']}",
           f"  clips {r['clips']}, frames/clip {r['frames_per_clip']}, size {r['frame_size']}"
           f"{' (WxH)' if r['frame_size'][:1].isdigit() else ''}; {r['description']}",
           f"  sets: {', '.join(r['sets'])}; default variants: GT + {', '.join(r['default_variants'])}"]
    for s in r["sources"]:
        size = f" ({s['size'] / 1e9:.0f} GB)" if s["size"] else ""
        out.append(f"  source: {s['url']}{size}" + (f"\n    (browser) {s['note']}" if s["browser"] else
                                                    f"\n    (direct download) {s['note']}" if s["note"] else ""))
    if not r["sources"]:
        out.append("  source: embedded (no download)")
    for split, url in (r.get("split_lists") or {}).items():
        out.append(f"  {split} split list (original, sha256-pinned): {url}")
    out.append(f"  licence: {r['licence']}")
    out.append(f"  prepared: {'; '.join(r['prepared']) or 'nothing yet'}\n")
    return out


def format_datasets(rows: list[dict], home, width: int) -> str:
    """The catalog for people, every line wrapped to ``width`` (URLs are never broken)."""
    import textwrap

    texts = [f"data root: {home} (set VSRBENCH_HOME to change)\n"]
    for r in rows:
        texts += _dataset_text(r)
    lines = []
    for line in "\n".join(texts).split("\n"):
        ind = " " * (len(line) - len(line.lstrip()) + 2)
        lines.append("\n".join(textwrap.wrap(line, width, subsequent_indent=ind, break_long_words=False,
                                             break_on_hyphens=False)) if line.strip() else line)
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------- suites


def format_suites(suites, long: bool, width: int) -> str:
    """The suites table; without ``long`` the description column gets what the terminal has left."""
    from vsrbench.tables import text_table

    head = ["suite", "dataset", "degradation", "scale", "ch", "crop", "frames", "description"]
    rows = [[s.name, s.dataset, s.degradation, "x%d" % s.scale, s.channel, s.crop_border, s.frames, s.description]
            for s in suites]
    if not long:
        used = max(len(ln) for ln in text_table(head[:-1], [r[:-1] for r in rows]).splitlines()) + 2
        room = max(8, width - used - 3)
        rows = [r[:-1] + [cut_words(r[-1], room)] for r in rows]
    text = text_table(head, rows, right={3, 4, 5})
    if not long:
        text += "\n(descriptions cut to the terminal's width: `vsrbench suites --long` shows them whole)"
    return text


# ------------------------------------------------------------------------------------------- models


def model_rows(full: bool) -> list[dict]:
    """The registered models with their official weights; ``full`` (``--format json``) builds every
    spec and card from the registry (imports torch), else the listing's plain data is enough."""
    from vsrbench.models.listing import model_listing
    from vsrbench.models.weights import weights_of

    if not full:
        rows = [{**r, "card": {"checkpoint_name": r["checkpoint_name"], "checkpoint_url": r["checkpoint_url"]}}
                for r in model_listing()]
    else:
        from vsrbench.models import get_model_info, list_models

        params = {r["name"]: r["params"] for r in model_listing()}
        rows = [{"name": n, "spec": get_model_info(n).spec.as_dict(), "params": params[n],
                 "card": get_model_info(n).card.as_dict()} for n in list_models()]
    for r in rows:
        r["weights"] = {n: {"file": w.filename, "trained_on": w.trained_on, "url": w.url, "layout": w.layout}
                        for n, w in weights_of(r["name"]).items()}
    return rows


def _checkpoint_cell(r: dict) -> str:
    card = r["card"]
    ck = card.get("checkpoint_name") or ("-" if not card.get("checkpoint_url") else card["checkpoint_url"])
    if card.get("checkpoint_name") and card.get("checkpoint_url"):
        ck += f" ({card['checkpoint_url']})"
    elif r["params"] and ck == "-" and not isinstance(r["params"], str):
        ck = "none published: `vsrbench train`"
    return ck


def format_models(rows: list[dict]) -> str:
    from vsrbench.tables import text_table

    table = []
    for r in rows:
        sp = r["spec"]
        params = f"{r['params']:,}" if isinstance(r["params"], int) else r["params"]
        scales = ",".join("x%d" % s for s in sp["scales"])
        table.append([r["name"], sp["task"], sp["frames_in"], sp["frames_out"], sp["colour"], scales, params,
                      _checkpoint_cell(r)])
    text = text_table(["model", "task", "in", "out", "colour", "scales", "params", "checkpoint"], table,
                      right={2, 3, 6})
    official = [f"  {r['name']}: " + "; ".join(f"{n} ({w['file']}: {w['trained_on']})" for n, w in r["weights"].items())
                for r in rows if r["weights"]]
    if official:
        text += "\n\nofficial checkpoints (--weights NAME on evaluate, upscale, profile; sweep --weights MODEL=NAME):\n"
        text += "\n".join(official)
    return text


# ------------------------------------------------------------------------------------------- prepare


def prepared_counts(r) -> tuple[int, int]:
    """(clips, frames) of the GT a :class:`PrepareResult` names, counted in its stores on a rerun
    (where the result itself, having done nothing, says 0)."""
    from vsrbench.datasets import open_store

    clips, frames = r.clips, r.frames
    gt = [p for (s, v, b), p in r.stores.items() if v == "GT" and s != "*"] or \
         [p for (s, v, b), p in r.stores.items() if v == "GT"]
    if gt and not (r.did_work and clips):
        clips = frames = 0
        for p in gt:
            st = open_store(p)
            try:
                names = st.clips()
                clips += len(names)
                frames += sum(st.num_frames(c) for c in names)
            finally:
                st.close()
    return clips, frames


def prepared_line(r) -> str:
    """One line for a :class:`PrepareResult`: what is there, how big, where (also on a rerun)."""
    from vsrbench.datasets.catalog import vsrbench_home

    clips, frames = prepared_counts(r)
    state = "prepared now" if r.did_work else "already prepared"
    return f"{r.dataset} dataset {state}: {plural(clips, 'clip')}, {frames} frames at {vsrbench_home() / r.dataset}"


def format_prepared(r, progress: bool) -> str:
    """``prepare``'s report: its stores, then how the dataset came to be there (with progress on,
    prepare's own log already said "done in ..." once)."""
    from vsrbench.datasets.catalog import vsrbench_home
    from vsrbench.tables import text_table

    stores = sorted(r.stores.items(), key=lambda kv: str(kv[1]))
    lines = [text_table(["backend", "variant", "store"], [[b, v, path] for (s, v, b), path in stores])]
    if r.from_gt_stores:
        lines.append(f"{r.dataset}: the new LR variants were made from the prepared GT stores in {r.seconds:.1f} s")
    elif r.did_work:
        if not progress:
            lines.append(f"{r.dataset}: {r.frames} GT frames of {plural(r.clips, 'clip')} prepared in {r.seconds:.1f} s")
    else:
        clips, frames = prepared_counts(r)
        lines.append(f"{r.dataset}: already prepared; nothing to do ({plural(clips, 'clip')}, {frames} frames at "
                     f"{vsrbench_home() / r.dataset})")
    return "\n".join(lines)
