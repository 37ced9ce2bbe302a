"""Server-side SVG plots (pygal) for the back office: no script, no network, safe to inline in a page.

Each builder takes figures already computed (``bot.staff.stats.compute``, ``outreach.stats``) and wording
already translated, and returns an ``<svg>`` string. Every plotted number is also in the SVG as
``<desc class="value">`` (pygal's own markup), and the pages show the same numbers in a table.
"""
from __future__ import annotations

import re

import pygal
from pygal.style import Style

STYLE = Style(background="#ffffff", plot_background="#ffffff", foreground="#1f2933", foreground_strong="#111827",
              foreground_subtle="#52606d", font_family="system-ui, sans-serif", label_font_size=12,
              major_label_font_size=12, legend_font_size=13, title_font_size=15, value_font_size=12,
              tooltip_font_size=12,
              colors=("#1d4ed8", "#0f766e", "#b45309", "#7c3aed", "#15803d", "#6b7280", "#be123c", "#0369a1"))
_SCRIPT = re.compile(r"<script\b[^>]*>.*?</script>", re.S)


def _config(title: str, **kw) -> dict:
    return dict(title=title, style=STYLE, js=[], disable_xml_declaration=True, width=720, height=360,
                legend_at_bottom=True, legend_at_bottom_columns=3, truncate_legend=30, truncate_label=18,
                x_label_rotation=kw.pop("x_label_rotation", 0), print_values=False, show_y_guides=True,
                no_data_text=kw.pop("no_data_text", "—"), value_formatter=_fmt, **kw)


def _fmt(v) -> str:
    if v is None:
        return "-"
    return str(int(v)) if float(v).is_integer() else f"{v:.2f}".rstrip("0").rstrip(".")


def _svg(chart) -> str:
    """pygal adds an inline configuration script for its tooltips; the console sends none (CSP)."""
    return _SCRIPT.sub("", chart.render(is_unicode=True))


def stacked_bars(title: str, x_labels: list[str], series: list[tuple[str, list[int]]], **kw) -> str:
    chart = pygal.StackedBar(**_config(title, x_label_rotation=30 if len(x_labels) > 8 else 0, **kw))
    chart.x_labels = x_labels
    for name, values in series:
        chart.add(name, values)
    return _svg(chart)


def bars(title: str, x_labels: list[str], series: list[tuple[str, list]], **kw) -> str:
    chart = pygal.Bar(**_config(title, x_label_rotation=30 if len(x_labels) > 6 else 0, **kw))
    chart.x_labels = x_labels
    for name, values in series:
        chart.add(name, values)
    return _svg(chart)


def pie(title: str, parts: list[tuple[str, int]], **kw) -> str:
    chart = pygal.Pie(**_config(title, inner_radius=0.45, **kw))
    for name, value in parts:
        chart.add(name, [value])
    return _svg(chart)
