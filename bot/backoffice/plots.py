"""Server-side SVG plots (pygal) for the back office: no script, no network, safe to inline in a page.

Each builder takes figures already computed (``bot.staff.stats.compute``, ``outreach.stats``) and wording
already translated, and returns an ``<svg>`` string. Every plotted number is also in the SVG as
``<desc class="value">`` (pygal's own markup), and the pages show the same numbers in a table.
"""
from __future__ import annotations

import copy
import math
import re

import pygal
from pygal.style import Style

# drawn at 560x400 and scaled to the page width: fonts large enough to read on a phone
STYLE = Style(background="#ffffff", plot_background="#ffffff", foreground="#1f2933", foreground_strong="#111827",
              foreground_subtle="#52606d", font_family="system-ui, sans-serif", label_font_size=15,
              major_label_font_size=15, legend_font_size=16, title_font_size=18, value_font_size=14,
              tooltip_font_size=14,
              colors=("#1d4ed8", "#0f766e", "#b45309", "#7c3aed", "#15803d", "#6b7280", "#be123c", "#0369a1"))
_SCRIPT = re.compile(r"<script\b[^>]*>.*?</script>", re.S)


# colours with a meaning, for callers that plot statuses or on-time / late
BLUE, TEAL, AMBER, PURPLE, GREEN, GREY, RED = "#1d4ed8", "#0f766e", "#b45309", "#7c3aed", "#15803d", "#6b7280", "#be123c"


def _config(title: str, colors: tuple[str, ...] | None = None, **kw) -> dict:
    style = STYLE
    if colors:
        style = copy.copy(STYLE)
        style.colors = tuple(colors)
    return dict(title=title, style=style, js=[], margin_bottom=30, disable_xml_declaration=True, width=560, height=400,
                legend_at_bottom=True, legend_at_bottom_columns=3, truncate_legend=14, truncate_label=14,
                x_label_rotation=kw.pop("x_label_rotation", 0), print_values=False, show_y_guides=True,
                no_data_text=kw.pop("no_data_text", "—"), value_formatter=_fmt, **kw)


def _fmt(v) -> str:
    if v is None:
        return "-"
    return str(int(v)) if float(v).is_integer() else f"{v:.2f}".rstrip("0").rstrip(".")


def _count_axis(values: list) -> dict:
    """Whole-number ticks (counts are never fractions): about five steps up to the largest value."""
    top = max([v for v in values if v is not None] + [1])
    step = max(1, math.ceil(top / 5))
    return {"y_labels": list(range(0, top + step, step))}


def _svg(chart) -> str:
    """pygal adds an inline configuration script for its tooltips; the console sends none (CSP)."""
    return _SCRIPT.sub("", chart.render(is_unicode=True))


def stacked_bars(title: str, x_labels: list[str], series: list[tuple[str, list[int]]], **kw) -> str:
    """Bars over time: at most about 6 period labels are written under the axis (every bar is still drawn)."""
    every = max(1, len(x_labels) // 6)
    totals = [sum(v[i] or 0 for _, v in series) for i in range(len(x_labels))]
    chart = pygal.StackedBar(**_config(title, x_label_rotation=30 if len(x_labels) > 4 else 0,
                                       show_minor_x_labels=False, x_labels_major_every=every,
                                       **_count_axis(totals), **kw))
    chart.x_labels = x_labels
    for name, values in series:
        chart.add(name, values)
    return _svg(chart)


def bars(title: str, x_labels: list[str], series: list[tuple[str, list]], **kw) -> str:
    chart = pygal.Bar(**_config(title, x_label_rotation=30 if len(x_labels) > 3 else 0,
                                **_count_axis([x for _, v in series for x in v]), **kw))
    chart.x_labels = x_labels
    for name, values in series:
        chart.add(name, values)
    return _svg(chart)


def pie(title: str, parts: list[tuple[str, int]], **kw) -> str:
    chart = pygal.Pie(**_config(title, inner_radius=0.45, **kw))
    for name, value in parts:
        chart.add(name, [value])
    return _svg(chart)
