"""Figures of the report: curves with their 95% bootstrap bands, heatmaps of the grid, gradient
diagnostics against the target scale, the article's examples over seeds, time to target, learning-rate
sensitivity, and why cells fail at the budget.

Plot functions take slices of the results tables and return ``(fig, axes, data)``, ``data`` the
numbers they plot as a tidy frame (a row per point, square or line drawn); they never write files.
:func:`save_svg` writes a figure as deterministic SVG with its text as text, :func:`save_figure`
also its data as CSV next to it (``<figure>.csv``). :func:`write_curve_figures` and
:func:`write_study_figures` are the entry points of the workflow's figure rules. Which figures a
study gets is decided by :mod:`lossatlas.design.plan`, from the config alone.

Modules: :mod:`.style` (the shared look, layout, legends, saving), :mod:`.curves` (training loss
and test RMSE of one dataset and experiment), :mod:`.grid` (heatmaps), :mod:`.scale` (gradient
diagnostics), :mod:`.article` (the article's examples), :mod:`.time` (time to target and learning
rates), :mod:`.mechanism` (distances needed and travelled), :mod:`.svg` (compact SVG, text as text),
:mod:`.write` (reading and writing).
This package reads :mod:`lossatlas.core.results`, :mod:`lossatlas.design.plan`, :mod:`lossatlas.design.views` and
:mod:`lossatlas.core.textfmt`;
it never imports :mod:`lossatlas.report`.
"""

from lossatlas.figures.article import plot_article_seeds
from lossatlas.figures.curves import plot_by_loss, plot_loss_curves, plot_test_rmse
from lossatlas.figures.grid import plot_nrmse_heatmap
from lossatlas.figures.mechanism import plot_mechanism
from lossatlas.figures.scale import SCALE_METRICS, plot_gradient_curves, plot_nrmse_vs_scale, plot_scale_diagnostics
from lossatlas.figures.style import STYLE, figure_data_path, round_path_data, save_figure, save_svg
from lossatlas.figures.time import plot_lr_sensitivity, plot_time_to_target, time_lines
from lossatlas.figures.write import write_curve_figures, write_figures, write_study_figures

__all__ = [
    "SCALE_METRICS",
    "STYLE",
    "figure_data_path",
    "plot_article_seeds",
    "plot_by_loss",
    "plot_gradient_curves",
    "plot_loss_curves",
    "plot_lr_sensitivity",
    "plot_mechanism",
    "plot_nrmse_heatmap",
    "plot_nrmse_vs_scale",
    "plot_scale_diagnostics",
    "plot_test_rmse",
    "plot_time_to_target",
    "round_path_data",
    "save_figure",
    "save_svg",
    "time_lines",
    "write_curve_figures",
    "write_figures",
    "write_study_figures",
]
