"""The report's ``index.html``: what ran, how it went, and the methods compared.

A single self-contained page (no script, no external file): the parameters (the training
``seeds`` when the report used several, else the ``seed``), one row per notebook (link to its
HTML and ``.ipynb``, status ok / failed, reused or executed now, duration, error) and the
comparison table of :func:`asdlab.analysis.compare.compare_html` (the first seed's runs).
The page carries the report's status and start time (``<meta name='asdlab-report-status'>``,
``<meta name='asdlab-report-started'>``), so that it can be matched with ``report.json``;
while the report runs (or after it was interrupted) it says so and has no comparison table.
"""

from __future__ import annotations

import html
from pathlib import Path

from asdlab.core.atomic import atomic_write_text

_CSS = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; margin: 1em 0; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.6em; text-align: right; }
th { background: #f4f4f4; }
td.name, td.error, th.name { text-align: left; }
.ok { color: #1a7f37; font-weight: bold; }
.failed { color: #cf222e; font-weight: bold; }
dl.params { display: grid; grid-template-columns: max-content auto; gap: 0.2em 1em; }
dl.params dt { font-weight: bold; }
table.per-metric th.col_heading { max-width: 6.5em; overflow-wrap: anywhere; vertical-align: bottom; }
details summary { cursor: pointer; font-weight: bold; margin-top: 0.6em; }
"""


def _esc(v) -> str:
    return html.escape(str(v))


def _duration(seconds) -> str:
    if seconds is None:
        return "-"
    m, s = divmod(float(seconds), 60)
    return f"{int(m)} min {s:.0f} s" if m else f"{s:.1f} s"


def index_html(report: dict, comparison_html: str = "") -> str:
    """The page for the ``report`` dict (the content of ``report.json``), with
    ``comparison_html`` embedded below the notebook table."""
    p = report["parameters"]
    seeds = list(p.get("seeds") or [p["seed"]])  # reports made before --seeds: one seed
    several = len(seeds) > 1
    seed_row = (("seeds", f"{', '.join(map(str, seeds))} (first: the main seed; mean ± sd over them in "
                          f"03_compare_methods)") if several else ("seed", seeds[0]))
    params = "".join(f"<dt>{_esc(k)}</dt><dd>{_esc(v)}</dd>" for k, v in [
        ("data", p["data"]), ("data fingerprint", report["data_fingerprint"]), ("preset", p["preset"]),
        seed_row, ("methods", ", ".join(p["methods"])), ("run folders", p["runs_dir"]),
        ("asdlab", report["asdlab_version"]), ("started", report["started"]),
        ("finished", report["finished"]), ("total time", _duration(report["duration_s"]))])
    rows = []
    for e in report["notebooks"]:
        status = e["status"] + ("" if e.get("executed", True) else " (reused)")
        rows.append(
            f"<tr><td class='name'><a href='{_esc(e['html'])}'>{_esc(e['name'])}</a> "
            f"(<a href='{_esc(e['ipynb'])}'>ipynb</a>)</td>"
            f"<td class='{'ok' if e['status'] == 'ok' else 'failed'}'>{_esc(status)}</td>"
            f"<td>{_duration(e['duration_s'])}</td><td class='error'>{_esc(e.get('error') or '')}</td></tr>")
    n_failed = sum(e["status"] != "ok" for e in report["notebooks"])
    status = report.get("status", "ok")
    summary = (f"<p class='failed'>{n_failed} of {len(report['notebooks'])} notebooks failed.</p>" if n_failed
               else f"<p class='ok'>All {len(report['notebooks'])} notebooks ran.</p>")
    if status in ("running", "interrupted"):
        summary = (f"<p class='failed'>This report is {'still running' if status == 'running' else 'interrupted'}"
                   f" (or was killed): the notebooks below are those finished so far, some from an "
                   f"earlier run; run asdlab report again to complete it.</p>")
    title = f"asdlab report: {Path(p['runs_dir']).parent.name}"
    meta = (f"<meta name='asdlab-report-status' content='{_esc(status)}'>"
            f"<meta name='asdlab-report-started' content='{_esc(report['started'])}'>")
    return (f"<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>{meta}<title>{_esc(title)}</title>"
            f"<style>{_CSS}</style></head><body><h1>{_esc(title)}</h1><dl class='params'>{params}</dl>"
            f"<h2>Notebooks</h2>{summary}<table class='notebooks'><thead><tr><th class='name'>notebook</th>"
            f"<th>status</th><th>duration</th><th class='name'>error</th></tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table>"
            f"<h2>Methods compared{f' (seed {seeds[0]})' if several else ''}</h2>{comparison_html}"
            f"</body></html>\n")


def write_index(out: Path, report: dict, methods: list[str]) -> Path:
    """Write ``out/index.html`` for ``report``, comparing the run folders of ``methods`` in
    ``report["parameters"]["runs_dir"]``. Returns its path."""
    from asdlab.analysis.compare import compare_html, compare_table, method_runs

    # the missing runs are listed on the page itself: no warning
    table = compare_table(method_runs(report["parameters"]["runs_dir"], methods), warn=False)
    path = Path(out) / "index.html"
    atomic_write_text(path, index_html(report, compare_html(table)))
    return path


def write_status_index(out: Path, report: dict) -> Path:
    """Write ``out/index.html`` for a report still running or interrupted: its notebooks so far,
    no comparison table (the run folders may be half-made). Returns its path."""
    path = Path(out) / "index.html"
    atomic_write_text(path, index_html(report, "<p>Written when every notebook has run.</p>"))
    return path
