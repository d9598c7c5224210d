"""What the analysis found, as the report shows it: the article's examples over seeds and the best
loss of every context (at each optimizer's default rate). The claims are in
:mod:`lossatlas.report.verdicts`, the mechanism, remedies and discussion in
:mod:`lossatlas.report.discussion`.

Everything here is read from the analysis tables (``results/analysis/``); nothing is computed but
the layout: the best losses come from the analysis stage's ``best_losses.csv``.
"""

from __future__ import annotations

import itertools
from typing import Sequence

import pandas as pd

from lossatlas.core.results import LOSS_CONTEXT
from lossatlas.core.source import N_TEST
from lossatlas.core.textfmt import (
    format_count,
    format_error,
    format_interval,
    format_number,
    format_rate,
    heading,
    interval_parts,
    loss_name,
)
from lossatlas.report.sections import PORTRAIT_WIDTH, text_width

# Rows of the paired comparison of examples 3 and 2: (column of article_examples_2_vs_3.csv, heading);
# each value is written as the kind of number EXAMPLE_COMPARISON_KINDS gives it (default: a measurement).
EXAMPLE_COMPARISON_ROWS = (
    ("n_pairs", "Seeds paired (examples 2 and 3 share each seed's data)"),
    ("n_dropped", "Pairs dropped (a non-finite value)"),
    ("median_a", "Median test MSE, example 3 (sigmoid + binary cross-entropy)"),
    ("median_b", "Median test MSE, example 2 (sigmoid + MSE)"),
    ("mean_difference", "Mean paired difference, example 3 − example 2 [95% BCa CI]"),
    ("hodges_lehmann", "Hodges–Lehmann estimate of the paired difference, example 3 − example 2"),
    ("wilcoxon_statistic", "Wilcoxon signed-rank statistic"),
    ("p_value", "Two-sided p (Wilcoxon signed-rank, Pratt's zero handling)"),
    ("min_attainable_p", "Smallest p attainable with these pairs"),
    ("cliffs_delta", "Cliff's delta (positive: example 3 lower)"),
    ("paired_cohens_d", "Paired Cohen's d_z (positive: example 3 lower)"),
    ("probability_of_improvement", "Fraction of seeds where example 3 is lower (ties count ½)"),
)
EXAMPLE_COMPARISON_KINDS = {"n_pairs": "count", "n_dropped": "count", "median_a": "error", "median_b": "error",
                            "mean_difference": "error", "hodges_lehmann": "error", "cliffs_delta": "ratio",
                            "paired_cohens_d": "ratio", "probability_of_improvement": "rate"}
SUMMARY_COLUMNS = ("example", "n_seeds", "printed_loss", "final_loss_median", "final_loss_low", "final_loss_high",
                   "printed_inside", "printed_quantile", "test_mse_median", "test_mse_low", "test_mse_high")
#: The columns of ``results/analysis/best_losses.csv`` (one row per context with two or more losses).
BEST_LOSS_COLUMNS = (*LOSS_CONTEXT, "best", "best_median", "n_losses", "n_beaten", "all_beaten")
# Columns of a best-loss table at most (see comparison_tables).
MAX_BEST_COLUMNS = 8


def require(frame: pd.DataFrame, columns: Sequence[str], name: str) -> None:
    """ValueError naming the ``columns`` that the ``name`` table ``frame`` lacks."""
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"{name} lacks column(s) {', '.join(missing)}")


def as_bool(values: pd.Series) -> pd.Series:
    """A column of booleans as a CSV may give it back (bool, or the text ``True``/``False``)."""
    if values.dtype == bool:
        return values
    return values.astype(str).str.strip().str.lower() == "true"


# --------------------------------------------------------------------------------------------
# The article's examples
# --------------------------------------------------------------------------------------------


def article_context(summary: pd.DataFrame, comparison: pd.DataFrame) -> dict:
    """The article's examples over seeds, from ``article_summary.csv`` and ``article_examples_2_vs_3.csv``.

    Returns:
        ``examples``: per example its texts (seeds, printed loss, median, 2.5-97.5% range, whether
        the printed value lies in it, the printed value's quantile, the test MSE median and range;
        losses and errors to 3 significant digits, a range to its median's decimals);
        ``comparison``: ``{"heading", "value"}`` per row of :data:`EXAMPLE_COMPARISON_ROWS`;
        ``n_seeds``, ``n_test``.
    """
    require(summary, SUMMARY_COLUMNS, "article summary")
    require(comparison, [key for key, _ in EXAMPLE_COMPARISON_ROWS] + ["mean_difference_ci_low", "mean_difference_ci_high"],
            "article comparison")
    if len(comparison) != 1:
        raise ValueError(f"article comparison must be one row, not {len(comparison)}")
    examples = []
    inside = as_bool(summary["printed_inside"])
    for (_, row), row_inside in zip(summary.iterrows(), inside):
        median, spread = interval_parts(row["final_loss_median"], row["final_loss_low"], row["final_loss_high"], "error")
        test_median, test_spread = interval_parts(row["test_mse_median"], row["test_mse_low"], row["test_mse_high"], "error")
        examples.append(
            {
                "example": str(row["example"]),
                "n_seeds": format_count(row["n_seeds"]),
                "printed": format_error(row["printed_loss"]),
                "median": median,
                "range": spread,
                "inside": "yes" if row_inside else "no",
                "quantile": format_rate(row["printed_quantile"]),
                "test_median": test_median,
                "test_range": test_spread,
            }
        )
    result = comparison.iloc[0]
    rows = []
    for key, title in EXAMPLE_COMPARISON_ROWS:
        kind = EXAMPLE_COMPARISON_KINDS.get(key)
        if key == "mean_difference":
            value = format_interval(result["mean_difference"], result["mean_difference_ci_low"],
                                    result["mean_difference_ci_high"], kind)
        else:
            value = format_number(result[key], kind)
        rows.append({"heading": title, "value": value})
    return {
        "examples": examples,
        "comparison": rows,
        "n_test": format_count(N_TEST),
        "n_seeds": ", ".join(sorted({e["n_seeds"] for e in examples})),
    }


# --------------------------------------------------------------------------------------------
# Loss comparisons
# --------------------------------------------------------------------------------------------


def check_best_losses(best: pd.DataFrame) -> pd.DataFrame:
    """``best`` (``best_losses.csv``) with ``all_beaten`` as booleans; ValueError naming the columns
    of :data:`BEST_LOSS_COLUMNS` it lacks. A context without a best loss (no finite median) has no
    text in ``best``."""
    require(best, BEST_LOSS_COLUMNS, "best-losses table")
    return best.assign(all_beaten=as_bool(best["all_beaten"]))


def order_contexts(best: pd.DataFrame, study) -> pd.DataFrame:
    """``best`` in the study's grid order of its contexts (that of each context's first cell);
    contexts the study does not list come last, sorted."""
    position: dict[tuple, int] = {}
    for index, cell in enumerate(study.cells):
        position.setdefault(tuple(str(getattr(cell, c)) for c in LOSS_CONTEXT), index)
    keys = [position.get(tuple(map(str, row)), len(position)) for row in best[LOSS_CONTEXT].itertuples(index=False)]
    return best.assign(_order=keys).sort_values(["_order", *LOSS_CONTEXT], kind="stable").drop(columns="_order")


def comparison_tables(cells: pd.DataFrame, best: pd.DataFrame, study) -> list[dict]:
    """Per experiment with loss comparisons: the best loss of every context as a compact grid
    (rows: dataset, inputs, targets, model, where they vary; columns: optimizer and activation, where
    they vary, the optimizer moving to the rows when that makes more than
    :data:`MAX_BEST_COLUMNS` columns), and a tally per loss (contexts where it is compared, best,
    significantly best).

    Args:
        cells: the cells table (which losses each context compares).
        best: ``results/analysis/best_losses.csv`` (:data:`BEST_LOSS_COLUMNS`).
    Returns:
        tables in config experiment order: ``experiment``, ``row_headings``, ``column_groups``
        (``{"label", "span"}`` per optimizer, when it varies), ``column_labels`` (activation or
        optimizer), ``rows`` (``{"labels", "cells"}``, a cell ``{"loss", "mark", "median"}`` or
        None), ``tally`` and ``landscape``; ids are given later.
    """
    best = order_contexts(check_best_losses(best), study)
    tables = []
    for experiment in [*study.experiments, *sorted(set(best["experiment"]) - set(study.experiments))]:
        part = best[best["experiment"] == experiment]
        if part.empty:
            continue
        row_dims = [d for d in ("dataset", "inputs", "targets", "model") if part[d].nunique() > 1] or ["dataset"]
        column_dims = [d for d in ("optimizer", "activation") if part[d].nunique() > 1] or ["activation"]
        if len(column_dims) == 2 and len(part[column_dims].drop_duplicates()) > MAX_BEST_COLUMNS:
            row_dims, column_dims = [*row_dims, "optimizer"], ["activation"]
        elif column_dims == ["optimizer"] and part["optimizer"].nunique() > MAX_BEST_COLUMNS:
            row_dims, column_dims = [*row_dims, "optimizer"], ["activation"]
        row_keys = list(dict.fromkeys(map(tuple, part[row_dims].itertuples(index=False))))
        column_keys = list(dict.fromkeys(map(tuple, part[column_dims].itertuples(index=False))))
        if column_dims == ["optimizer", "activation"]:
            column_keys.sort(key=lambda key: list(dict.fromkeys(part["optimizer"])).index(key[0]))
        lookup = {(tuple(r[d] for d in row_dims), tuple(r[d] for d in column_dims)): r for r in part.to_dict("records")}
        rows = []
        for row_key in row_keys:
            entries = []
            for column_key in column_keys:
                entry = lookup.get((row_key, column_key))
                if entry is None:
                    entries.append(None)
                elif not (isinstance(entry["best"], str) and entry["best"]):
                    entries.append({"loss": "n/a", "mark": "", "median": ""})
                else:
                    entries.append({"loss": loss_name(entry["best"]), "mark": "*" if entry["all_beaten"] else "",
                                    "median": format_error(entry["best_median"])})
            rows.append({"labels": list(row_key), "cells": entries})
        groups = []
        if len(column_dims) == 2:
            for label, keys in itertools.groupby(column_keys, key=lambda key: key[0]):
                groups.append({"label": label, "span": len(list(keys))})
        tally = []
        losses = list(study.experiments[experiment].losses) if experiment in study.experiments else []
        compared = cells[cells["experiment"] == experiment]
        for loss in [*losses, *sorted(set(compared["loss"]) - set(losses))]:
            contexts = set(map(tuple, compared[compared["loss"] == loss][LOSS_CONTEXT].itertuples(index=False)))
            in_part = part[[tuple(k) in contexts for k in part[LOSS_CONTEXT].itertuples(index=False)]]
            if in_part.empty:
                continue
            tally.append(
                {
                    "loss": loss,
                    "contexts": format_count(len(in_part)),
                    "best": format_count(int((in_part["best"] == loss).sum())),
                    "significant": format_count(int(((in_part["best"] == loss) & in_part["all_beaten"]).sum())),
                }
            )
        width = text_width([[heading(d), *(str(k[i]) for k in row_keys)] for i, d in enumerate(row_dims)], font=7)
        width += len(column_keys) * (0.6 * 7 * 12 + 8)
        tables.append(
            {
                "kind": "table",
                "experiment": experiment,
                "n_contexts": format_count(len(part)),
                "n_all_beaten": format_count(int(part["all_beaten"].sum())),
                "row_headings": [heading(d) for d in row_dims],
                "column_heading": " / ".join(heading(d) for d in column_dims),
                "column_groups": groups,
                "column_labels": [key[-1] for key in column_keys],
                "rows": rows,
                "tally": tally,
                "landscape": width > PORTRAIT_WIDTH,
            }
        )
    return tables


def comparisons_context(cells: pd.DataFrame, comparisons: pd.DataFrame, best: pd.DataFrame, study) -> dict:
    """The loss-comparison section: ``tables`` (:func:`comparison_tables`), ``landscape`` (whether
    the section goes on landscape pages), ``n_rows`` (comparisons in ``loss_comparisons.csv``),
    ``n_significant`` and ``metric`` (the metric compared)."""
    significant = as_bool(comparisons["significant"]) if "significant" in comparisons else pd.Series([], dtype=bool)
    metrics = sorted(set(comparisons["metric"])) if "metric" in comparisons else []
    tables = comparison_tables(cells, best, study)
    return {
        "tables": tables,
        # One table too wide for a portrait page puts the whole section on landscape pages.
        "landscape": any(table["landscape"] for table in tables),
        "n_rows": format_count(len(comparisons)),
        "n_significant": format_count(int(significant.sum())),
        "metric": ", ".join(metrics) or "final_test_nrmse",
    }
