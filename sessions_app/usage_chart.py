"""The Usage page's chart, drawn on the server as SVG geometry (no script, no user text in markup)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, timedelta

from django.utils.formats import date_format
from django.utils.translation import gettext

from .usage import UsageLine

WIDTH, HEIGHT = 720, 200
LEFT, BOTTOM, TOP = 48, 24, 10


# Coordinates are text already: the template then prints them as they are, without localising
# hundreds of numbers on every page view.

@dataclass(frozen=True)
class Bar:
    x: str
    y: str
    width: str
    height: str
    label: str  # the bar's tooltip: day and minutes
    day: int


@dataclass(frozen=True)
class Tick:
    y: str
    label: str


def _coordinate(value: float) -> str:
    return f"{value:.2f}"


@dataclass(frozen=True)
class DailyChart:
    width: int
    height: int
    left: int
    baseline: float
    bars: list[Bar]
    ticks: list[Tick]
    day_labels: list[Bar]


def _nice_ceiling(value: float) -> float:
    """1, 2 or 5 times a power of ten, at least `value`: round numbers on the axis."""
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    return next(step * power for step in (1, 2, 5, 10) if step * power >= value)


def daily_chart(*, first: date, days: int, lines: list[UsageLine]) -> DailyChart:
    """One bar of session-minutes per day of the month, on a 0..round-maximum axis."""
    minutes = {line.key: line.minutes for line in lines}
    top = _nice_ceiling(max(minutes.values(), default=0))
    plot_height = HEIGHT - BOTTOM - TOP
    slot = (WIDTH - LEFT) / days
    baseline = HEIGHT - BOTTOM
    bars, labels = [], []
    for index in range(days):
        day = first + timedelta(days=index)
        value = minutes.get(day, 0.0)
        height = plot_height * value / top
        bar = Bar(x=_coordinate(LEFT + index * slot + slot * 0.15), y=_coordinate(baseline - height),
                  width=_coordinate(slot * 0.7), height=_coordinate(height),
                  label=gettext("%(day)s: %(minutes)s session-minutes") % {"day": date_format(day),
                                                                            "minutes": f"{value:.2f}"},
                  day=day.day)
        bars.append(bar)
        if day.day == 1 or day.day % 5 == 0:
            labels.append(bar)
    ticks = [Tick(y=_coordinate(baseline - plot_height * step / 4), label=f"{top * step / 4:g}") for step in range(5)]
    return DailyChart(width=WIDTH, height=HEIGHT, left=LEFT, baseline=baseline, bars=bars, ticks=ticks,
                      day_labels=labels)
