"""The look every figure shares, and the helpers that draw and save with it.

:data:`STYLE` is Matplotlib's rc settings; :func:`new_figure` lays out panels at the report's text
width with room for one legend below them (:func:`add_legend`); :func:`draw_band` draws one mean
curve and its confidence band, thinned to :data:`lossatlas.design.plan.MAX_POINTS` points
(:func:`thin`); :func:`save_svg` writes a figure as deterministic, compact SVG
(:mod:`lossatlas.figures.svg`), its text as text in :data:`FONT` (selectable in the browser and
the PDF), and :func:`save_figure` writes it with the
numbers it plots as CSV next to it (:func:`figure_data_path`).
"""

from __future__ import annotations

import io
import math
import os
import re
from pathlib import Path
from typing import Sequence

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.ticker import (  # noqa: E402
    Formatter, FuncFormatter, LogFormatterMathtext, LogFormatterSciNotation, LogLocator, MaxNLocator, NullFormatter, NullLocator,
)

from lossatlas.core import results  # noqa: E402
from lossatlas.core.atomic import write_text  # noqa: E402
from lossatlas.core.results import CELL  # noqa: E402
from lossatlas.core.textfmt import superscript  # noqa: E402
from lossatlas.design.plan import MAX_POINTS  # noqa: E402
from lossatlas.figures.svg import compact_svg  # noqa: E402

# Dimensions a line of a curve figure can differ in, in the order its label names them (the curves are
# of the default view, where the learning rate is the optimizer's: it never labels a line).
LINE_DIMENSIONS = tuple(d for d in CELL if d not in ("dataset", "learning_rate"))
LINESTYLES = ("-", "--", ":", "-.")
#: The columns of a curve's points in a figure's data: the cell, the metric, the evaluation point and
#: the mean over seeds with its 95% CI (the curves table's).
CURVE_COLUMNS = [*CELL, "metric", "epoch", "mean", "ci_low", "ci_high"]
MARKERS = ("o", "s", "^", "D", "v", "P", "X")
PANEL_COLUMNS = 4
#: The font of every figure's text: written as text, not outlines (``svg.fonttype: none``), so it must
#: be one the browser and WeasyPrint both have: Debian's fonts-dejavu-core (Matplotlib ships it too).
FONT = "DejaVu Sans"
FIGURE_WIDTH = 7.0  # inches: the text width of an A4 page, so that the report shows figures at 1:1
PANEL_HEIGHT = 2.2  # inches per row of panels
LEGEND_ROW_HEIGHT = 0.16  # inches per row of legend entries, below the panels
STYLE = {
    "font.size": 8,
    "axes.titlesize": 9,
    "axes.labelsize": 8,
    "legend.fontsize": 7,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "font.family": FONT,
    "svg.fonttype": "none",
}
# Horizontal reference lines: a loss floor by target preprocessing; "raw" also for the noise level.
FLOOR_STYLES = {
    "raw": {"color": "black", "linestyle": (0, (1, 1.5)), "linewidth": 1.0},
    "standardized": {"color": "0.45", "linestyle": (0, (4, 1.5, 1, 1.5)), "linewidth": 1.0},
}
# A vertical line at the fixed budget, on axes that run past it (horizon experiments).
BUDGET_STYLE = {"color": "0.5", "linestyle": (0, (3, 2)), "linewidth": 0.8}
# A horizontal line at the nRMSE threshold.
THRESHOLD_STYLE = {"color": "#b03a2e", "linestyle": (0, (5, 2)), "linewidth": 0.9}


def check_curves(curves: pd.DataFrame, metric: str) -> pd.DataFrame:
    """The rows of ``metric``, sorted by cell and epoch; ValueError if a column of the curves table
    (:data:`lossatlas.core.results.TABLES`) or the metric is missing."""
    results.check(curves, "curves")
    rows = curves[curves["metric"] == metric]
    if rows.empty:
        raise ValueError(f"curves table has no rows for metric {metric!r}")
    return rows.sort_values([*CELL, "epoch"], kind="stable")


def check_columns(frame: pd.DataFrame, columns: Sequence[str], name: str) -> None:
    """ValueError naming the columns of ``columns`` that ``frame`` (a slice of the ``name`` table) lacks."""
    missing = [column for column in columns if column not in frame.columns]
    if missing:
        raise ValueError(f"{name} table lacks column(s) {', '.join(missing)}")


def varying_dimensions(curves: pd.DataFrame, dimensions=LINE_DIMENSIONS) -> list[str]:
    """The dimensions that take more than one value in ``curves`` (at least the last one)."""
    varying = [d for d in dimensions if curves[d].nunique() > 1]
    return varying or [dimensions[-1]]


def line_style(index: int, colormap) -> dict:
    """Colour and dash of the ``index``-th line: the colormap's colours, then the next dash."""
    count = colormap.N
    return {"color": colormap(index % count), "linestyle": LINESTYLES[(index // count) % len(LINESTYLES)]}


def y_scale(values: np.ndarray) -> str:
    """``"log"`` when every finite value is positive and they span more than a factor of 10."""
    finite = np.asarray(values, dtype=np.float64)
    finite = finite[np.isfinite(finite)]
    if finite.size and finite.min() > 0 and finite.max() / finite.min() > 10:
        return "log"
    return "linear"


def thin(curve: pd.DataFrame, points: int = MAX_POINTS) -> pd.DataFrame:
    """At most ``points`` rows of ``curve``, evenly spaced, the first and last kept (a long curve's
    drawing, to keep the SVG small; the values are not changed)."""
    if len(curve) <= points:
        return curve
    return curve.iloc[np.unique(np.linspace(0, len(curve) - 1, points).round().astype(int))]


def draw_band(ax, curve: pd.DataFrame, label: str, style: dict) -> pd.DataFrame:
    """One mean line and its ``ci_low..ci_high`` band; ``curve`` holds one cell's rows, by epoch
    (drawn at :data:`lossatlas.design.plan.MAX_POINTS` points at most, :func:`thin`). Returns the rows drawn."""
    curve = thin(curve)
    epochs = curve["epoch"].to_numpy()
    ax.fill_between(
        epochs, curve["ci_low"].to_numpy(), curve["ci_high"].to_numpy(), color=style["color"], alpha=0.18, linewidth=0
    )
    ax.plot(epochs, curve["mean"].to_numpy(), label=label, linewidth=1.2, **style)
    return curve


def short_count(value: float, _position=None) -> str:
    """A tick label for a count that stays narrow on small panels: 800, 2.5k, 40k, 1.2M."""
    for limit, suffix in ((1e6, "M"), (1e3, "k")):
        if abs(value) >= limit:
            return f"{value / limit:.3g}{suffix}"
    return f"{value:g}"


def draw_lines(ax, curves: pd.DataFrame, keys: list[tuple], dimensions: list[str], colormap) -> pd.DataFrame:
    """Draws every line of ``curves`` (grouped by ``dimensions``); ``keys`` fixes each line's style.
    Returns the rows drawn (:data:`CURVE_COLUMNS`), line by line."""
    drawn = [curves.iloc[0:0]]
    for key, curve in curves.groupby(dimensions, sort=True):
        key = key if isinstance(key, tuple) else (key,)
        drawn.append(draw_band(ax, curve, line_labels([key])[0], line_style(keys.index(key), colormap)))
    ax.set_xlabel("epoch")
    ax.xaxis.set_major_locator(MaxNLocator(nbins=5, integer=True))
    ax.xaxis.set_major_formatter(FuncFormatter(short_count))
    ax.grid(True, linewidth=0.3, alpha=0.5)
    return pd.concat(drawn, ignore_index=True)[CURVE_COLUMNS]


def new_figure(
    panels: int, legend_rows: int, share_y: bool = False, columns: int | None = None, panel_height: float = PANEL_HEIGHT
) -> tuple[Figure, np.ndarray]:
    """A figure ``FIGURE_WIDTH`` wide with ``panels`` axes in rows of at most ``columns``
    (``PANEL_COLUMNS``) and room below them for ``legend_rows`` rows of legend; returns
    ``(fig, axes)``, ``axes`` of shape ``(panels,)``."""
    if panels < 1:
        raise ValueError(f"a figure needs at least one panel, got {panels}")
    columns = min(panels, columns or PANEL_COLUMNS)
    rows = math.ceil(panels / columns)
    height = panel_height * rows + 0.4 + LEGEND_ROW_HEIGHT * legend_rows
    fig = Figure(figsize=(FIGURE_WIDTH, height), layout="constrained")
    axes = fig.subplots(rows, columns, squeeze=False, sharey=share_y).ravel()
    for ax in axes[panels:]:
        ax.set_visible(False)
    return fig, axes[:panels]


def legend_columns(labels: list[str], font_size: float = STYLE["legend.fontsize"]) -> int:
    """How many legend entries of the longest label fit side by side across ``FIGURE_WIDTH``."""
    entry_points = 0.6 * font_size * max(len(label) for label in labels) + 3 * font_size
    return max(1, min(len(labels), int(FIGURE_WIDTH * 72 * 0.95 // entry_points)))


def line_labels(keys: list[tuple]) -> list[str]:
    """The legend label of each line key: its values joined by " / "."""
    return [" / ".join(map(str, key)) for key in keys]


def legend_rows(keys: list[tuple], extra: int = 0) -> int:
    """Rows the legend of ``keys`` (and ``extra`` more entries) takes, its title included."""
    labels = line_labels(keys) + ["floor, standardized targets"] * extra
    return math.ceil(len(labels) / legend_columns(labels)) + 1


def add_legend(fig: Figure, axes, keys: list[tuple], dimensions: list[str], extra: Sequence[tuple] = ()) -> None:
    """One legend below the panels naming every line, in ``keys`` order, then the ``extra``
    ``(handle, label)`` entries."""
    handles = {}
    for ax in axes:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            handles.setdefault(label, handle)
    labels = line_labels(keys)
    entries = [(handles[label], label) for label in labels if label in handles] + list(extra)
    fig.legend(
        [handle for handle, _ in entries],
        [label for _, label in entries],
        loc="outside lower center",
        ncols=legend_columns([label for _, label in entries]),
        frameon=False,
        title=" / ".join(dimensions),
    )


#: Ticks at 1, 2 and 5 times the powers of ten are never thinned out (Matplotlib's LogLocator drops
#: them all when a narrow panel would need it to skip some).
LOG_TICKS = 100


#: A log x axis spanning more than this many decades is ticked at the powers of ten only.
LOG_DECADES = 3


def log_ticks(ax) -> None:
    """On a log x axis, labelled ticks at 1, 2 and 5 times the powers of ten (at the powers of ten
    only where it spans more than :data:`LOG_DECADES` decades), and no minor labels. Call it after
    drawing, when the axis has its limits."""
    if ax.get_xscale() == "log":
        low, high = ax.get_xlim()
        wide = low > 0 and math.log10(high / low) > LOG_DECADES
        ax.xaxis.set_major_locator(LogLocator(subs=(1.0,) if wide else (1.0, 2.0, 5.0), numticks=LOG_TICKS))
        ax.xaxis.set_major_formatter(LogFormatterSciNotation(labelOnlyBase=False))
        ax.xaxis.set_minor_formatter(NullFormatter())


def _round(match: re.Match, decimals: int = 2) -> str:
    text = f"{float(match.group(0)):.{decimals}f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def round_path_data(svg: str, decimals: int = 2) -> str:
    """``svg`` with the coordinates of every path (``d`` attributes) rounded to ``decimals`` places:
    a hundredth of a point is finer than any display (:func:`save_svg` goes further:
    :func:`lossatlas.figures.svg.compact_svg`)."""
    number = re.compile(r"-?\d+\.\d{%d,}" % (decimals + 1))
    return re.sub(r'(\sd=")([^"]*)(")', lambda m: m.group(1) + number.sub(lambda n: _round(n, decimals), m.group(2)) + m.group(3), svg)


#: A log axis spanning more than this many decades gets no minor ticks (its labelled ticks suffice,
#: and each tick is an element of the SVG).
MINOR_TICK_DECADES = 2


def drop_dense_minor_ticks(fig: Figure, decades: float = MINOR_TICK_DECADES) -> None:
    """No minor ticks on the log axes of ``fig`` that span more than ``decades`` decades."""
    for ax in fig.axes:
        for axis, limits in ((ax.xaxis, ax.get_xlim), (ax.yaxis, ax.get_ylim)):
            if axis.get_scale() != "log":
                continue
            low, high = sorted(limits())
            if low > 0 and math.log10(high / low) > decades:
                axis.set_minor_locator(NullLocator())


#: A label of Matplotlib's log formatters (:class:`~matplotlib.ticker.LogFormatterMathtext` and its
#: subclasses): mathtext of a sign, a coefficient and a power of ten ("$\mathdefault{2\times10^{-3}}$"),
#: or of a number ("$\mathdefault{0.5}$").
MATHTEXT_LABEL = re.compile(r"\$\\mathdefault\{(-?)(?:(?:(\d+)\\times)?10\^\{(-?\d+)\}|(\d[\d.e+-]*))\}\$")


def plain_label(label: str) -> str:
    """A log formatter's mathtext ``label`` as plain text, its power of ten in superscript digits as
    the report writes numbers (``"$\\mathdefault{2\\times10^{-3}}$"`` -> ``"2×10⁻³"``, a minus sign
    as U+2212); any other label unchanged."""
    match = MATHTEXT_LABEL.fullmatch(label)
    if match is None:
        return label
    sign, coefficient, exponent, number = match.groups()
    text = number if number is not None else f"{coefficient + '×' if coefficient else ''}10{superscript(exponent)}"
    return ("\u2212" if sign else "") + text


class PlainLabels(Formatter):
    """A log axis's formatter whose labels are written as plain text (:func:`plain_label`): one text
    element each in the SVG instead of mathtext's several, and no mathtext to parse. Which ticks get
    a label, and the numbers, are those of the wrapped ``formatter``."""

    def __init__(self, formatter: Formatter):
        self.formatter = formatter

    def set_axis(self, axis) -> None:
        super().set_axis(axis)
        self.formatter.set_axis(axis)

    def set_locs(self, locs) -> None:
        self.formatter.set_locs(locs)

    def __call__(self, x, pos=None) -> str:
        return plain_label(self.formatter(x, pos))

    def format_ticks(self, values) -> list[str]:
        return [plain_label(label) for label in self.formatter.format_ticks(values)]


def plain_log_labels(fig: Figure) -> None:
    """Every log formatter of the axes of ``fig`` (major and minor, mathtext labels) wrapped in
    :class:`PlainLabels`."""
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            for get, set_ in ((axis.get_major_formatter, axis.set_major_formatter), (axis.get_minor_formatter, axis.set_minor_formatter)):
                if isinstance(get(), LogFormatterMathtext):
                    set_(PlainLabels(get()))


def save_svg(fig: Figure, path: str | os.PathLike) -> None:
    """Writes ``fig`` to ``path`` as SVG, atomically, with the same bytes for the same figure.

    Text is written as text in :data:`FONT` (``svg.fonttype: none``), element ids are hashed with a
    fixed salt and then renamed in order, the SVG carries no date or other metadata, log axes of
    many decades have no minor ticks (:func:`drop_dense_minor_ticks`), their labels are plain text
    (:func:`plain_log_labels`), and the SVG is made compact
    without changing what it shows (:func:`lossatlas.figures.svg.compact_svg`: coordinates to a
    tenth of a point, styles as classes, ...).
    """
    drop_dense_minor_ticks(fig)
    plain_log_labels(fig)
    buffer = io.StringIO()
    with matplotlib.rc_context({**STYLE, "svg.hashsalt": "lossatlas"}):
        fig.savefig(buffer, format="svg", metadata={"Date": None, "Format": None, "Type": None, "Creator": None})
    write_text(path, compact_svg(buffer.getvalue(), FONT))


def figure_data_path(path: str | os.PathLike) -> Path:
    """Where the numbers a figure plots are written: its SVG ``path`` with the suffix ``.csv``."""
    return Path(path).with_suffix(".csv")


def data_csv(data: pd.DataFrame) -> str:
    """``data`` as the CSV text :func:`save_figure` writes: no index, ``\\n`` line ends, every float
    written exactly (``repr``), empty for a missing value; the same bytes for the same frame."""
    return data.to_csv(index=False, lineterminator="\n")


def save_figure(fig: Figure, data: pd.DataFrame, path: str | os.PathLike) -> tuple[Path, Path]:
    """Writes ``fig`` as SVG at ``path`` (:func:`save_svg`) and ``data``, the numbers it plots, as CSV
    next to it (:func:`figure_data_path`), both atomically; returns the two paths."""
    save_svg(fig, path)
    csv_path = figure_data_path(path)
    write_text(csv_path, data_csv(data))
    return Path(path), csv_path
