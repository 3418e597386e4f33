"""One HTML review page per output: the table, its checks, what suppression would hide, its chart.

Written under ``<run>/review/`` for the secretariat; nothing on a page is ever released.
"""

from __future__ import annotations

import base64
import html

import pandas as pd

from pooling.core.config import Conf
from pooling.core.storage import Storage
from pooling.review.disclosure import Check
from pooling.review.examine import OutputReview, RunReview


def write_pages(storage: Storage, run: RunReview, conf: Conf) -> dict[str, str]:
    """One HTML review page per output under ``<run>/review/``."""
    spec = conf.project(run.project)
    for name, r in run.outputs.items():
        png = f"{run.directory}/{name}.png"
        chart = storage.read_bytes(png) if storage.exists(png) else None
        page = f"{run.directory}/review/{name}.html"
        storage.write_text(page, _page(run, spec.title, name, r, chart))
        run.pages[name] = page
    return run.pages


def _status_word(check: Check) -> str:
    if check.passed:
        return "PASS"
    return "FAIL" if check.severity == "fail" else "CHECK"


def _page(run: RunReview, title: str, name: str, r: OutputReview, png: bytes | None) -> str:
    e = html.escape
    rows = []
    for c in r.checks:
        listed = "".join(
            f"<li>{e(', '.join(f'{k}={v}' for k, v in cell.items()))}</li>" for cell in c.cells[:25]
        )
        more = f"<li>… and {len(c.cells) - 25} more</li>" if len(c.cells) > 25 else ""
        rows.append(
            f"<tr class='{_status_word(c).lower()}'><td>{e(c.name)}</td>"
            f"<td><b>{_status_word(c)}</b></td><td>{len(c.cells)}</td>"
            f"<td>{e(c.description)}<ul>{listed}{more}</ul></td></tr>"
        )
    hidden = r.suppression.hidden
    table_rows = []
    for i in r.cells.index[:300]:
        tds = []
        for col in r.cells.columns:
            v = r.cells.at[i, col]
            if hidden.at[i, col]:
                tds.append(f"<td class='hidden' title='would be suppressed'>{e(str(v))}</td>")
            else:
                tds.append(f"<td>{e('' if pd.isna(v) else str(v))}</td>")
        table_rows.append("<tr>" + "".join(tds) + "</tr>")
    head = "".join(f"<th>{e(c)}</th>" for c in r.cells.columns)
    chart = ""
    if png is not None:
        data = base64.b64encode(png).decode()
        chart = f"<h2>Chart</h2><img alt='chart' src='data:image/png;base64,{data}'>"
    verdict = (
        "All automatic checks pass."
        if not r.failing
        else (
            f"Checks failing: {', '.join(r.failing)}. "
            + (
                f"With the suppression below ({len(r.suppression.cells)} cells hidden) they pass."
                if not r.failing_after
                else f"Even with suppression, failing: {', '.join(r.failing_after)}."
            )
        )
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Review: {e(run.project)} {e(name)}</title>
<style>
body {{ font-family: sans-serif; max-width: 70em; margin: 2em auto; color: #222; }}
table {{ border-collapse: collapse; margin: 1em 0; }}
td, th {{ border: 1px solid #ccc; padding: 0.2em 0.5em; vertical-align: top; }}
tr.fail td {{ background: #fde2e1; }} tr.check td {{ background: #fff4d6; }}
tr.pass td {{ background: #e6f4ea; }} td.hidden {{ background: #444; color: #fff; }}
</style></head><body>
<h1>{e(title)}: {e(name)}</h1>
<p><b>Run</b> {e(run.run_id)} · <b>status</b> {e(run.manifest.status)} ·
<b>rows</b> {len(r.cells):,} · <b>cells</b> one per {e(" × ".join(r.meta.dims))}</p>
<p><b>What it is.</b> {e(r.source.title)}</p>
<h2>Verdict of the automatic checks</h2><p>{e(verdict)}</p>
<table><tr><th>check</th><th>result</th><th>cells</th><th>what it means</th></tr>
{"".join(rows)}</table>
<h2>The table</h2>
<p>Dark cells are the ones suppression would hide (primary: failing a check; secondary: so
that a hidden cell cannot be recomputed from a total). First 300 rows.</p>
<table><tr>{head}</tr>{"".join(table_rows)}</table>
{chart}
</body></html>
"""
