"""Typed benchmark results (a median and its spread per row) and their Markdown rendering."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace

import numpy as np


@dataclass(frozen=True)
class Summary:
    """Repeated measurements of one quantity; the report shows median, min-max and IQR."""

    values: tuple[float, ...]

    @classmethod
    def of(cls, values: Iterable[float]) -> Summary:
        """Summarise an iterable of numbers (at least one)."""
        values = tuple(float(v) for v in values)
        if not values:
            raise ValueError("a summary needs at least one value")
        return cls(values)

    def map(self, function: Callable[[float], float]) -> Summary:
        """The same repeats in another unit (e.g. s/step -> steps/s), value by value."""
        return Summary.of(function(v) for v in self.values)

    @property
    def n(self) -> int:
        """Number of repeats."""
        return len(self.values)

    @property
    def median(self) -> float:
        """Median over repeats (robust to the odd repeat slowed by a background job)."""
        return float(np.median(self.values))

    @property
    def minimum(self) -> float:
        """Smallest repeat."""
        return min(self.values)

    @property
    def maximum(self) -> float:
        """Largest repeat."""
        return max(self.values)

    @property
    def quartiles(self) -> tuple[float, float]:
        """(Q1, Q3), linear interpolation."""
        q1, q3 = np.percentile(self.values, [25, 75])
        return float(q1), float(q3)


@dataclass(frozen=True)
class Row:
    """One line of a figure: a label, its unit and the repeats (or a single derived value)."""

    label: str
    unit: str
    summary: Summary
    derived: bool = False
    """Computed from other rows' medians or counted exactly: shown without a spread."""

    @classmethod
    def exact(cls, label: str, unit: str, value: float) -> Row:
        """A counted or derived value (FLOPs, bytes, a ratio of medians)."""
        return cls(label, unit, Summary.of([value]), derived=True)


@dataclass(frozen=True)
class Table:
    """A captioned group of rows within a figure."""

    caption: str
    rows: tuple[Row, ...]


@dataclass(frozen=True)
class Grid:
    """A captioned table of per-run values (one line per seed, say) with its own columns."""

    caption: str
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


@dataclass(frozen=True)
class Figure:
    """One numbered benchmark figure: what it measures, its tables, and how to reproduce it."""

    section: str
    """The --only name that runs it (env, td3, her, memory, fast)."""
    title: str
    description: str
    tables: tuple[Table | Grid, ...]
    notes: tuple[str, ...] = ()
    number: int = 0
    command: str = ""
    seconds: float = field(default=0.0, compare=False)
    """Wall time of the section that produced it."""

    def numbered(self, number: int, command: str, seconds: float) -> Figure:
        """A copy with its place in the report and its reproduction command filled in."""
        return replace(self, number=number, command=command, seconds=seconds)


def format_number(value: float) -> str:
    """About four significant digits, thousands separated: 1,234 / 123 / 12.3 / 1.23 / 0.123.

    Infinity (a target never reached) shows as ∞, NaN (nothing to show) as —.
    """
    if np.isnan(value):
        return "—"
    if np.isinf(value):
        return "∞" if value > 0 else "-∞"
    magnitude = abs(value)
    if magnitude >= 1000:
        return f"{value:,.0f}"
    if magnitude >= 100:
        return f"{value:.0f}"
    if magnitude >= 10:
        return f"{value:.1f}"
    if magnitude >= 1:
        return f"{value:.2f}"
    if magnitude == 0:
        return "0"
    return f"{value:.3g}"


def _row_cells(row: Row) -> list[str]:
    summary = row.summary
    if row.derived or summary.n == 1:
        spread = iqr = "—"
    else:
        q1, q3 = summary.quartiles
        spread = f"{format_number(summary.minimum)} – {format_number(summary.maximum)}"
        iqr = f"{format_number(q1)} – {format_number(q3)}"
    count = "derived" if row.derived else str(summary.n)
    return [row.label, row.unit, format_number(summary.median), spread, iqr, count]


def render_table(table: Table) -> str:
    """A Markdown table: measure, unit, median, min-max, IQR, number of repeats."""
    header = ["Measure", "Unit", "Median", "Min – max", "IQR (Q1 – Q3)", "n"]
    lines = [f"**{table.caption}**", "", _markdown_row(header), _markdown_row(["---"] * 6)]
    lines += [_markdown_row(_row_cells(row)) for row in table.rows]
    return "\n".join(lines)


def render_grid(grid: Grid) -> str:
    """A Markdown table with the grid's own header."""
    lines = [f"**{grid.caption}**", "", _markdown_row(grid.header)]
    lines.append(_markdown_row(["---"] * len(grid.header)))
    lines += [_markdown_row(row) for row in grid.rows]
    return "\n".join(lines)


def _markdown_row(cells: Sequence[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def render_figure(figure: Figure) -> str:
    """A Markdown section for one figure."""
    parts = [f"### Figure {figure.number}. {figure.title}", "", figure.description, ""]
    for table in figure.tables:
        parts += [render_table(table) if isinstance(table, Table) else render_grid(table), ""]
    for note in figure.notes:
        parts.append(f"- {note}")
    if figure.notes:
        parts.append("")
    parts.append(f"Reproduce: `{figure.command}` (section took {figure.seconds:.0f} s).")
    return "\n".join(parts) + "\n"


def render_machine(info: Sequence[tuple[str, str]]) -> str:
    """A two-column Markdown table of machine facts."""
    lines = ["### Machine", "", "| | |", "| --- | --- |"]
    lines += [f"| {key} | {value} |" for key, value in info]
    return "\n".join(lines) + "\n"
