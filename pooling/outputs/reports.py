"""What a person reads from a project run: a chart per headline output and one Markdown report.

Both are drawn from the outputs as written (small aggregate tables, read back with pandas), so
they show exactly what the secretariat will review. Nothing here touches a pool.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from dataclasses import dataclass

import pandas as pd
from matplotlib.figure import Figure

from projects import Chart, Output


def chart_data(cells: pd.DataFrame, chart: Chart) -> pd.DataFrame:
    """The plotted values: one row per ``x``, one column per series (see :class:`Chart`)."""
    keys = [chart.x, *([chart.series] if chart.series else [])]
    pairs = chart.pairs()
    needed = sorted({c for pair in pairs for c in pair if c})
    sums = cells.groupby(keys, dropna=False)[needed].sum(min_count=1)
    data = pd.DataFrame(index=sums.index)
    for y, per in pairs:
        label = y if per is None or isinstance(chart.per, str) else f"{y} / {per}"
        values = sums[y] if per is None else sums[y] / sums[per].where(sums[per] != 0)
        data[label] = values * chart.scale
    if chart.series:
        data = data.iloc[:, 0].unstack(chart.series)
        data.columns = [str(c) for c in data.columns]
    return data.sort_index()


def draw_cells(cells: pd.DataFrame, dims: tuple[str, ...], chart: Chart) -> bytes:
    """The chart drawn from an output's cells as released: hidden cells are null (read back as
    objects) and drop out of the sums."""
    cells = cells.copy()
    for c in cells.columns:
        if c not in dims:
            cells[c] = pd.to_numeric(cells[c], errors="coerce")
    return draw(chart_data(cells, chart), chart)


def draw(data: pd.DataFrame, chart: Chart) -> bytes:
    """The chart as PNG bytes (written by the caller, to whichever store the zone is on)."""
    many = len(data.index) > 24
    # A Figure of its own, not pyplot's global figure manager: outputs and project runs draw
    # side by side in threads, and pyplot's state is not thread-safe. Figure draws with Agg.
    fig = Figure(figsize=(12 if many else 8, 4.5), dpi=100)
    ax = fig.subplots()
    # Few short labels read best horizontally; many or long ones turned.
    rot = 0 if len(data.index) <= 12 and all(len(str(i)) <= 10 for i in data.index) else 90
    if chart.kind == "line":
        data.plot(ax=ax, marker="o", rot=rot)
    else:
        data.plot.bar(ax=ax, width=0.8, rot=rot)
    ax.set_title(chart.title)
    ax.set_xlabel(chart.x)
    ax.set_ylabel(chart.ylabel)
    ax.grid(axis="y", alpha=0.3)
    if many:
        ax.tick_params(axis="x", labelsize=6)
    ax.legend(fontsize=8)
    fig.tight_layout()
    png = io.BytesIO()
    fig.savefig(png, format="png")
    return png.getvalue()


@dataclass(frozen=True)
class OutputFacts:
    """What the report says about one written output."""

    output: Output
    rows: int
    version: int
    chart_file: str | None
    chart_data: pd.DataFrame | None


def _markdown_table(data: pd.DataFrame, digits: int = 1) -> str:
    cols = [str(data.index.name or "")] + [str(c) for c in data.columns]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for idx, row in data.iterrows():
        cells = ["" if pd.isna(v) else f"{v:,.{digits}f}" for v in row]
        lines.append("| " + " | ".join([str(idx), *cells]) + " |")
    return "\n".join(lines)


def report_markdown(
    *,
    title: str,
    question: str,
    run_id: str,
    pool_versions: Mapping[str, int],
    pool_path: str,
    outputs: Mapping[str, OutputFacts],
    min_cell_count: int,
) -> str:
    lines = [
        f"# {title}: run {run_id}",
        "",
        f"**Question.** {question}",
        "",
        "**Status: pending review.** The secretariat checks every output for disclosure risk "
        f"(cells under {min_cell_count} people among them) before anything leaves the service; "
        "until then nothing here may be shared.",
        "",
        "## Where the figures come from",
        "",
        f"Computed from the project's pool only (`{pool_path}`), at these table versions:",
        "",
        "| pool table | Delta version |",
        "|---|---|",
        *[f"| {t} | {v} |" for t, v in sorted(pool_versions.items())],
        "",
        "## Outputs",
    ]
    for name, facts in outputs.items():
        o = facts.output
        lines += [
            "",
            f"### {name}{' (headline)' if o.headline else ''}",
            "",
            f"{o.title}. {facts.rows:,} rows, one per {' × '.join(o.dims)}"
            + (f"; people are counted in `{o.count}`." if o.count else "."),
            "",
            f"*How to read it.* {o.how_to_read}",
            "",
            f"Columns: {', '.join(f'`{c}`' for c in o.df.columns)}.",
        ]
        if facts.chart_file and facts.chart_data is not None:
            lines += [
                "",
                f"![{o.chart.title}]({facts.chart_file})",
                "",
                f"The chart's figures ({o.chart.ylabel}):",
                "",
                _markdown_table(facts.chart_data),
            ]
    return "\n".join(lines) + "\n"
