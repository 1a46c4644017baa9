"""The weekly failure-rate chart as plain geometry for a server-rendered SVG (no JavaScript, no
CDN): the template draws what this computes, and escapes every name itself."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from compensation.quality import SupplierSeries

# Distinguishable on white and for the common colour-vision deficiencies (Okabe-Ito).
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#F0E442")
WIDTH, HEIGHT = 720, 240
LEFT, RIGHT, TOP, BOTTOM = 48, 32, 12, 32


@dataclass(frozen=True)
class ChartPoint:
    x: float
    y: float
    title: str


@dataclass(frozen=True)
class ChartLine:
    supplier: str
    colour: str
    points: list[ChartPoint]

    @property
    def polyline(self) -> str:
        return " ".join(f"{p.x:.1f},{p.y:.1f}" for p in self.points)


@dataclass(frozen=True)
class ChartTick:
    position: float
    label: str


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    left: int
    right: float
    top: int
    bottom: float
    lines: list[ChartLine]
    y_ticks: list[ChartTick]
    x_ticks: list[ChartTick]

    @property
    def empty(self) -> bool:
        return not self.lines


def _percent(rate: Decimal) -> str:
    return f"{rate * 100:.1f}%"


def weekly_chart(series: list[SupplierSeries]) -> Chart:
    weeks: list[date] = sorted({p.week for s in series for p in s.points})
    plot_right, plot_bottom = WIDTH - RIGHT, HEIGHT - BOTTOM
    top_rate = max((p.failure_rate for s in series for p in s.points), default=Decimal(0))
    # The y axis ends at the next 10% above the worst week (at least 10%, at most 100%).
    y_max = Decimal(min(10, max(1, math.ceil(top_rate * 10)))) / 10

    def x_of(week: date) -> float:
        if len(weeks) == 1:
            return (LEFT + plot_right) / 2
        return LEFT + weeks.index(week) * (plot_right - LEFT) / (len(weeks) - 1)

    def y_of(rate: Decimal) -> float:
        return plot_bottom - float(rate / y_max) * (plot_bottom - TOP)

    lines = [
        ChartLine(
            supplier=s.supplier,
            colour=PALETTE[i % len(PALETTE)],
            points=[
                ChartPoint(
                    x=x_of(p.week),
                    y=y_of(p.failure_rate),
                    title=(
                        f"{s.supplier}, week of {p.week:%d %b %Y}: {p.failed} of {p.delivered} "
                        f"failed ({_percent(p.failure_rate)})"
                    ),
                )
                for p in s.points
            ],
        )
        for i, s in enumerate(series)
    ]
    y_ticks = [
        ChartTick(position=y_of(y_max * k / 4), label=_percent(y_max * k / 4)) for k in range(5)
    ]
    # At most ~8 week labels, evenly spaced, always the last week.
    step = max(1, math.ceil(len(weeks) / 8))
    shown = [w for i, w in enumerate(weeks) if i % step == 0 or i == len(weeks) - 1]
    x_ticks = [ChartTick(position=x_of(w), label=f"{w:%d %b}") for w in shown]
    return Chart(
        width=WIDTH,
        height=HEIGHT,
        left=LEFT,
        right=plot_right,
        top=TOP,
        bottom=plot_bottom,
        lines=lines,
        y_ticks=y_ticks,
        x_ticks=x_ticks,
    )
