"""The public page's one plot of its own: percentages per province, drawn with the back office's pygal
configuration (:mod:`bot.backoffice.plots`: same style, no script) on a fixed 0-100 axis."""
from __future__ import annotations

import pygal

from bot.backoffice import plots


def percent_bars(title: str, x_labels: list[str], series: list[tuple[str, list[float]]], **kw) -> str:
    chart = pygal.Bar(**plots._config(title, x_label_rotation=30 if len(x_labels) > 3 else 0,
                                      y_labels=list(range(0, 101, 20)), range=(0, 100), **kw))
    chart.x_labels = x_labels
    for name, values in series:
        chart.add(name, values)
    return plots._svg(chart)
