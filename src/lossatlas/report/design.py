"""The method section and the threats to validity, from the config alone: datasets, models,
optimizers, experiments (learning rates, tuning, horizon), excluded and flagged cells, the metric
settings and the stall rule, what the grid leaves out."""

from __future__ import annotations

import dataclasses
import itertools
import math
import numbers
from typing import Sequence

from lossatlas.core.results import BASE, CELL
from lossatlas.core.textfmt import (
    format_bounds,
    format_count,
    format_known,
    format_number,
    format_rate,
    format_steps,
    heading,
    join_words,
    loss_name,
)
from lossatlas.data.datasets import FAMILIES
from lossatlas.design.plan import statistics
from lossatlas.design.study import Experiment
from lossatlas.report.sections import TABLE_DIMENSIONS


def yes_no(value: bool) -> str:
    return "yes" if value else "no"


def rates_text(study, experiment: str) -> str:
    """The learning rates ``experiment`` trains, per optimizer: ``"adam 0.001"``, or for a tuned
    experiment ``"adam: 3 rates, 0.001 to 0.1 (sweep)"``."""
    parts = []
    for optimizer in study.experiments[experiment].optimizers:
        rates = study.learning_rates(experiment, optimizer)
        if len(rates) == 1:
            parts.append(f"{optimizer} {format_rate(rates[0])}")
        else:
            parts.append(f"{optimizer}: sweep of {format_count(len(rates))}, {format_rate(min(rates))} to "
                         f"{format_rate(max(rates))}")
    return "; ".join(parts)


def experiments_table(study) -> list[dict]:
    """The experiments, one row per field of :class:`lossatlas.design.config.Experiment` (lists joined by
    commas, numbers by :func:`lossatlas.core.textfmt.format_number`; the horizon's rate factors as
    trained, ``"—"`` without a horizon), then the cells run and excluded; one column per experiment.

    Returns:
        rows ``{"heading", "values"}``, ``values`` in the config's experiment order; the first row
        is the experiments' labels.
    """
    def text(value) -> str:
        if value is None:
            return "—"
        if isinstance(value, tuple):
            return ", ".join(text(item) for item in value) or "none"
        if isinstance(value, bool):
            return yes_no(value)
        return format_number(value) if isinstance(value, numbers.Real) else str(value)

    def value(experiment, name: str):
        if name == "horizon_rate_factors":  # the factors it trains (its own or the horizon section's)
            if not experiment.horizon:
                return None
            return tuple(f"{format_number(f)}×" for f in study.horizon_rate_factors(experiment.label))
        return getattr(experiment, name)

    experiments = list(study.experiments.values())
    rows = [
        {
            "heading": "Experiment" if field.name == "label" else heading(field.name),
            "values": [text(value(experiment, field.name)) for experiment in experiments],
        }
        for field in dataclasses.fields(Experiment)
    ]
    rows.append({"heading": "Learning rates", "values": [rates_text(study, e.label) for e in experiments]})
    for title, items in (("Cells planned", study.cells), ("Excluded", [item.cell for item in study.excluded])):
        counts = [sum(cell.experiment == experiment.label for cell in items) for experiment in experiments]
        rows.append({"heading": title, "values": [format_count(count) for count in counts]})
    return rows


def product_rows(keys: Sequence[tuple]) -> list[list[list[str]]]:
    """``keys`` (tuples of equal length) as few rows as this finds, each row the Cartesian product of
    its columns' value lists, together exactly ``keys``: a set that is a full product is one row;
    otherwise it is split by the first column with more than one value, recursively, and rows
    that differ in one column only are then merged. Values keep their first-seen order.

    Returns:
        rows, each a list of value lists, one per position of the keys.
    """
    keys = list(dict.fromkeys(keys))
    if not keys:
        return []
    values = [list(dict.fromkeys(key[i] for key in keys)) for i in range(len(keys[0]))]
    if math.prod(len(v) for v in values) == len(keys):
        return [values]
    split = next(i for i, v in enumerate(values) if len(v) > 1)
    rows = [row for value in values[split] for row in product_rows([k for k in keys if k[split] == value])]
    merged = True
    while merged:
        merged = False
        for a, b in itertools.combinations(range(len(rows)), 2):
            differing = [i for i in range(len(values)) if rows[a][i] != rows[b][i]]
            if len(differing) == 1:
                column = differing[0]
                rows[a] = [*rows[a][:column], rows[a][column] + rows[b][column], *rows[a][column + 1 :]]
                del rows[b]
                merged = True
                break
    return rows


def cells_by_reason(items: Sequence[tuple]) -> dict:
    """Cells listed under the reason they share, for the excluded and the flagged cells, compactly:
    each row stands for every combination of the values it lists (:func:`product_rows`). A reason
    does not depend on the learning rate: a cell is listed once, whatever the rates it has.

    Args:
        items: ``(cell, reason)`` pairs, cells of :class:`lossatlas.design.study.Cell`.
    Returns:
        ``{"headings", "groups"}``: the coordinates shown (``dataset`` and the table dimensions,
        and any other that takes more than one value) and, per reason in first-seen order,
        ``{"reason", "count", "experiments", "cells"}``: ``experiments`` the cell count per
        experiment (``"grid 30, remedies 6"``), ``cells`` rows of texts, one per coordinate shown
        (several values joined by ", ").
    """
    unique = list(dict.fromkeys((tuple(getattr(cell, c) for c in BASE), reason) for cell, reason in items))
    keys = [dict(zip(BASE, key)) for key, _ in unique]
    shown = [d for d in BASE if d in ("dataset", *TABLE_DIMENSIONS) or len({k[d] for k in keys}) > 1]
    groups: dict[str, list] = {}
    experiments: dict[str, dict[str, int]] = {}
    for key, (_, reason) in zip(keys, unique):
        groups.setdefault(reason, []).append(tuple(key[d] for d in shown))
        counts = experiments.setdefault(reason, {})
        counts[key["experiment"]] = counts.get(key["experiment"], 0) + 1
    return {
        "headings": [heading(d) for d in shown],
        "groups": [
            {
                "reason": r,
                "count": format_count(len(c)),
                "experiments": ", ".join(f"{e} {format_count(n)}" for e, n in experiments[r].items()),
                "cells": [[", ".join(v) for v in row] for row in product_rows(c)],
            }
            for r, c in groups.items()
        ],
    }


def scaled_text(values: Sequence, scales: Sequence[float], write, separator: str = "; ") -> str:
    """Per-dataset values of one family, compactly: the one value they share; ``"k × s"`` when every
    value is ``k`` times its dataset's scale ``s`` (and the scales differ); else every value, in the
    datasets' order, joined by ``separator``. ``write`` writes one value."""
    texts = [write(v) for v in values]
    if len(set(texts)) == 1:
        return texts[0]
    if len(set(scales)) == len(scales) and all(scales):
        unit = {write(scaled(value, 1 / scale)) for value, scale in zip(values, scales)}
        if len(unit) == 1:
            return f"{unit.pop()} × s"
    return separator.join(texts)


def scaled(value, factor: float):
    """``value`` (a number, a pair of numbers, or None) times ``factor``."""
    if value is None:
        return None
    if isinstance(value, tuple):
        return tuple(v * factor for v in value)
    return value * factor


def range_text(bounds: tuple[float, float]) -> str:
    """A target range: ``"[0, 1]"``; ``"unbounded"`` when neither end is finite."""
    if not any(math.isfinite(b) for b in bounds):
        return "unbounded"
    return format_bounds(*bounds)


def dataset_families(study) -> list[dict]:
    """The datasets of the config, one row per family in the config's order of first use:
    ``family``, ``description`` (its generating process, once), ``datasets`` (the labels, by
    ascending scale), ``scales`` (``"0.001, 1, 1,000"``), and ``n_train``, ``n_test``,
    ``n_validation``, ``sizes`` (``"100 / 100 / 1,000"``: train / validation / test), ``noise_sd`` and
    ``target_range`` by :func:`scaled_text`: one value where the datasets share it, ``"0.05 × s"``
    where it is proportional to the scale s, else one per dataset in the order of ``datasets``, joined
    by ``"; "``. A noise sd that is not known (real data) reads "unknown"."""
    families: dict[str, list] = {}
    for spec in study.datasets.values():
        families.setdefault(spec.family, []).append(spec)
    rows = []
    for family, specs in families.items():
        specs = sorted(specs, key=lambda spec: spec.scale)
        scales = [spec.scale for spec in specs]
        ones = [1.0] * len(specs)
        rows.append({
            "family": family,
            "description": FAMILIES[family].description,
            "datasets": ", ".join(spec.label for spec in specs),
            "scales": scaled_text(scales, ones, format_number, ", "),
            "n_train": scaled_text([spec.n_train for spec in specs], ones, format_count),
            "n_test": scaled_text([spec.n_test for spec in specs], ones, format_count),
            "n_validation": scaled_text([spec.n_validation for spec in specs], ones, format_count),
            "sizes": scaled_text([(spec.n_train, spec.n_validation, spec.n_test) for spec in specs], ones,
                                 lambda sizes: " / ".join(map(format_count, sizes))),
            "noise_sd": scaled_text([spec.noise_sd for spec in specs], scales, format_known),
            "target_range": scaled_text([spec.target_range for spec in specs], scales, range_text),
        })
    return rows


def design_context(study) -> dict:
    """The grid that was run, from the config: datasets (one row per family, :func:`dataset_families`),
    models, optimizers, experiments, seeds, excluded cells (with reasons) and flagged cells (with
    the flag's text)."""
    return {
        "datasets": dataset_families(study),
        "models": [{"label": m.label, "layers": m.describe()} for m in study.models.values()],
        "optimizers": [{"label": o.label, "setting": o.describe()} for o in study.optimizers.values()],
        "experiments": experiments_table(study),
        "base_seed": str(study.base_seed),  # an identifier: no thousands separators
        "cell_headings": [heading(d) for d in CELL],
        "excluded": cells_by_reason([(item.cell, item.reason) for item in study.excluded]),
        "n_excluded": format_count(len(study.excluded)),
        "flagged": cells_by_reason(list(study.flags.items())),
        "n_flagged": format_count(len({tuple(getattr(cell, c) for c in BASE) for cell in study.flags})),
        "tuned": [e.label for e in study.experiments.values() if e.tune],
        "horizon": [e.label for e in study.experiments.values() if e.horizon],
        "tuning": tuning_context(study),
    }


def tuning_context(study) -> dict:
    """The learning-rate sweep of tuned experiments (the config's ``tuning`` section), as text."""
    tuning = study.config["tuning"]
    return {
        "min": format_rate(tuning["min"]),
        "max": format_rate(tuning["max"]),
        "per_decade": format_number(tuning["per_decade"]),
        "extend_steps": format_count(tuning["extend_steps"]),
    }


def rate_factors_text(study) -> str:
    """The multiples of the default rate trained past the budget, as words: one list when every horizon
    experiment trains the same ones, else per experiment ("0.1× and 10× in remedies; none in clipping")."""
    by_factors: dict[tuple, list[str]] = {}
    for label, experiment in study.experiments.items():
        if experiment.horizon:
            by_factors.setdefault(study.horizon_rate_factors(label), []).append(label)
    def words(factors):
        return join_words([f"{format_number(f)}×" for f in factors]) or "none"
    if len(by_factors) <= 1:
        return words(next(iter(by_factors), ()))
    return "; ".join(f"{words(factors)} in {join_words(labels)}" for factors, labels in by_factors.items())


def horizon_context(study) -> dict:
    """The horizon settings and the stall rule (the config's ``horizon`` section), as text."""
    horizon = study.config["horizon"]
    return {
        "cap_steps": format_steps(horizon["cap_steps"]),
        "points_per_doubling": format_count(horizon["points_per_doubling"]),
        "stall_improvement": format_number(horizon["stall_improvement"]),
        "stall_improvement_percent": format_number(100 * horizon["stall_improvement"]),
        "stall_factor": format_number(horizon["stall_factor"]),
        "factors": rate_factors_text(study),
    }


def metrics_context(study) -> dict:
    """The settings the metric definitions quote, from the config (the statistics settings from
    :func:`lossatlas.design.plan.statistics`)."""
    metrics = study.config["metrics"]
    settings = statistics(study)
    return {
        "nrmse_threshold": format_number(metrics["nrmse_threshold"]),
        "stagnation_window": format_number(metrics["stagnation_window"]),
        "stagnation_window_percent": format_number(100 * metrics["stagnation_window"]),
        "stagnation_tolerance": format_number(metrics["stagnation_tolerance"]),
        "stagnation_margin": format_number(metrics["stagnation_margin"]),
        "stagnation_bound": format_number(1 + metrics["stagnation_margin"]),
        "saturation_threshold": format_number(study.config["diagnostics"]["saturation_threshold"]),
        "bootstrap_resamples": format_count(settings["bootstrap_resamples"]),
        "comparison_alpha": format_number(settings["alpha"]),
        "horizon": horizon_context(study),
        "saturated_fraction_percent": format_number(100 * study.config["mechanism"]["saturated_fraction"]),
    }


def threats_context(study) -> dict:
    """What the grid does not cover, from the config, and the fixed scope of the code."""
    specs = list(study.datasets.values())
    families = sorted({spec.family for spec in specs})
    epochs = sorted({e.epochs for e in study.experiments.values()})
    seeds = sorted({e.n_seeds for e in study.experiments.values()})
    losses = list(dict.fromkeys(loss for e in study.experiments.values() for loss in e.losses))
    activations = list(dict.fromkeys(a for e in study.experiments.values() for a in e.activations))
    batch = sorted({e.batch_size for e in study.experiments.values()})
    features = sorted({spec.n_features for spec in specs})
    real_data = any(FAMILIES[f].n_rows is not None for f in families)
    missing = [*(["real data"] if not real_data else []), *(["several inputs"] if features == [1] else []), "classification targets"]
    tuned = [e.label for e in study.experiments.values() if e.tune]
    horizon = [e.label for e in study.experiments.values() if e.horizon]
    untuned = [e.label for e in study.experiments.values() if not e.tune]
    return {
        "tuned": join_words(tuned),
        "untuned": join_words(untuned),
        "horizon": join_words(horizon),
        "n_horizon": len(horizon),
        "tuning": tuning_context(study),
        "cap": horizon_context(study),
        "families": [{"family": f, "description": FAMILIES[f].description} for f in families],
        "real_data": real_data,
        "not_covered": "No " + ", no ".join(missing) + ".",
        "n_features": join_words([format_count(n) for n in features]),
        "one_feature": features == [1],
        "n_train": join_words([format_count(n) for n in sorted({s.n_train for s in specs})]),
        "models": [m.describe() for m in study.models.values()],
        "optimizers": [o.describe() for o in study.optimizers.values()],
        "losses": join_words([loss_name(loss) for loss in losses]),
        "activations": join_words(activations),
        "epochs": join_words([format_count(e) for e in epochs]),
        "batch_sizes": join_words([format_count(b) for b in batch]),
        "seeds": join_words([format_count(n) for n in seeds]),
        "n_excluded": format_count(len(study.excluded)),
    }
