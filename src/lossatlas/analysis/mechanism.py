"""Why a cell fails at the article's budget, which remedies work best, and the numbers the discussion quotes.

For each cell a paired claim compares (at each optimizer's default rate, the article's setting),
:func:`mechanism_table` sets three measurements side by side:

* how far the parameters must travel: the largest change of any weight from its initial value
  to where the trial ended, median over the seeds that reached the threshold (training past the
  budget ends soon after a cell reaches it: the long-horizon endpoint);
* how far they did travel in the budget (the same distance after the budget), and how far the
  optimizer could travel at most: Adam and RMSprop move each weight by about one learning rate per
  step whatever the gradient's size, so at most ``learning_rate x budget steps``; SGD moves it by
  ``learning_rate x gradient``, with no such bound;
* how much of the budget the output spends saturated (the mean over the evaluations of the
  fraction of training samples whose output activation's derivative is below the threshold).

A cell that does not reach the threshold within the budget is then put in the first category that
applies: ``saturated output`` (saturated at least ``mechanism.saturated_fraction`` of the budget),
``step budget`` (it needs to travel further than its optimizer can in the budget), ``small gradient``
(SGD, which travelled less than it needs to), ``undecided`` (it never reached the threshold, so the
distance it needs is unknown), ``other``. No TensorFlow here.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from lossatlas.analysis.claims import verdict
from lossatlas.core.results import BASE, MECHANISM_CATEGORIES
from lossatlas.core.seeds import derive_seed
from lossatlas.design.selection import RATE_FACTOR, claim_rows, claim_select, pairs
from lossatlas.design.views import view
from lossatlas.stats.bootstrap import bootstrap_seed_statistic_ci
from lossatlas.stats.survival import censored_median

#: Optimizers whose step has a size of about one learning rate, whatever the gradient's.
SIGN_LIKE = ("adam", "rmsprop")
#: A cell of the mechanism table: its base cell (:data:`lossatlas.core.results.BASE`), then its rate.
KEY = [*BASE, "learning_rate"]
#: The mechanism table's columns, in order (an empty table has them too).
COLUMNS = [*KEY, "claims", "optimizer_name", "budget_steps", "reach_steps", "required_linf", "moved_linf", "capacity_linf",
           "mean_saturation", "initial_grad_norm", "category"]


def claim_cells(claims: dict, cells: pd.DataFrame, study, tuned: pd.DataFrame) -> pd.DataFrame:
    """The cells (rows of the cells table, at each optimizer's default rate) that the paired claims
    compare, each once, with ``claims``: the ids of the claims that compare it."""
    default = view(cells, "default", study, tuned)
    found: dict[tuple, list[str]] = {}
    for claim in claims["claims"]:
        if claim["kind"] != "paired" or claim.get("contrast") == RATE_FACTOR:
            continue
        selected = claim_select(default, claim["select"], claim["id"])
        levels = {str(level) for pair in claim["pairs"] for level in pair}
        for row in selected[selected[claim["contrast"]].astype(str).isin(levels)][KEY].itertuples(index=False):
            found.setdefault(tuple(row), []).append(claim["id"])
    rows = [dict(zip(KEY, key), claims=", ".join(ids)) for key, ids in found.items()]
    return pd.DataFrame(rows, columns=[*KEY, "claims"])


def mechanism_table(claim_cells_: pd.DataFrame, trials: pd.DataFrame, study) -> pd.DataFrame:
    """One row per cell of ``claim_cells_`` (see the module doc): its coordinates, ``claims``,
    ``optimizer_name``, ``budget_steps``, ``reach_steps`` (Kaplan-Meier median, inf when not
    reached), ``required_linf``, ``moved_linf``, ``capacity_linf`` (NaN for SGD),
    ``mean_saturation``, ``initial_grad_norm`` (medians over seeds) and ``category``."""
    share = study.config["mechanism"]["saturated_fraction"]
    grouped = trials.groupby(KEY, sort=False)
    rows = []
    for cell in claim_cells_.itertuples(index=False):
        key = tuple(getattr(cell, c) for c in KEY)
        group = grouped.get_group(key)
        kept = group[~group["diverged"]]
        budget = study.steps_per_epoch(cell.experiment, cell.dataset) * study.experiments[cell.experiment].epochs
        name = study.optimizers[cell.optimizer].name
        reach = censored_median(group["steps_to_threshold"].to_numpy(float), group["reached_threshold"].to_numpy(bool))
        reached = kept[kept["reached_threshold"]]
        required = float(reached["end_distance_linf"].median()) if len(reached) * 2 >= len(group) else math.nan
        moved = float(kept["final_distance_linf"].median()) if len(kept) else math.nan
        capacity = float(cell.learning_rate) * budget if name in SIGN_LIKE else math.nan
        saturation = float(kept["mean_output_saturation"].median()) if len(kept) else math.nan
        if reach <= budget:
            category = "reaches within the budget"
        elif saturation >= share:
            category = "saturated output"
        elif math.isnan(required):
            category = "undecided"
        elif name in SIGN_LIKE and capacity < required:
            category = "step budget"
        elif name == "sgd" and moved < required:
            category = "small gradient"
        else:
            category = "other"
        rows.append({**dict(zip(KEY, key)), "claims": cell.claims, "optimizer_name": name, "budget_steps": budget,
                     "reach_steps": reach, "required_linf": required, "moved_linf": moved, "capacity_linf": capacity,
                     "mean_saturation": saturation, "initial_grad_norm": float(kept["initial_grad_norm"].median()),
                     "category": category})
    return pd.DataFrame(rows, columns=COLUMNS)


def _pooled_ratio(log_ratios: np.ndarray, n_resamples: int, seed: int) -> tuple[float, float, float]:
    """``exp`` of the median of the finite ``log_ratios`` ``(n,)`` and its percentile bootstrap CI,
    pairs resampled (:func:`lossatlas.stats.bootstrap.bootstrap_seed_statistic_ci`)."""
    values = log_ratios[np.isfinite(log_ratios)]
    if values.size == 0:
        return (math.nan, math.nan, math.nan)
    median, low, high = bootstrap_seed_statistic_ci(
        values.size, lambda indices, axis=-1: np.median(values[indices], axis=axis), n_resamples=n_resamples, seed=seed)
    return (math.exp(median), math.exp(low), math.exp(high))


def remedy_table(claims: dict, details: pd.DataFrame, trials: pd.DataFrame, study, tuned: pd.DataFrame,
                 n_resamples: int, seed: int) -> pd.DataFrame:
    """The effect of every paired claim, at each rate it is judged at; those marked ``remedy: true``
    make the practitioner's table.

    Columns: ``id``, ``name``, ``remedy`` (marked so), ``rate``; ``effect`` (how many times lower the
    better level's final metric is than the baseline's at the budget: ``exp`` of the median over all
    seeds and contexts of ``log(baseline / better)``, paired by seed) with its 95% bootstrap CI
    ``effect_ci_low``, ``effect_ci_high``; ``n_pairs``; by time to target where judged so,
    ``time_ratio_median`` (the median over the contexts where either reached the threshold of how
    many times sooner the better level reaches it; inf where only it did) and ``time_sooner`` /
    ``time_contexts`` (contexts where it does robustly, of all); ``verdict_budget`` and
    ``verdict_time``; ``rank`` of a remedy (by its effect at the default rate, the article's
    setting, then at the tuned rate; NaN for other claims).
    """
    rows = []
    for claim in claims["claims"]:
        if claim["kind"] != "paired":
            continue
        for rate in claim["rates"]:
            selected = claim_select(claim_rows(claim, trials, rate, study, tuned, "budget"), claim["select"], claim["id"])
            logs = []
            for _, _, better, baseline, group in pairs(claim, selected, claim["contrast"]):
                group = group.assign(**{claim["contrast"]: group[claim["contrast"]].astype(str)})
                values = group[claim["metric"]].where(~group["diverged"])
                wide = group.assign(value=values).pivot(index="seed", columns=claim["contrast"], values="value")
                with np.errstate(divide="ignore", invalid="ignore"):
                    logs.append(np.log(wide[baseline].to_numpy(float) / wide[better].to_numpy(float)))
            effect, low, high = _pooled_ratio(np.concatenate(logs), n_resamples, derive_seed(seed, "remedy", claim["id"], rate))
            part = details[(details["id"] == claim["id"]) & (details["rate"] == rate)]
            budget, time = part[part["judged"] == "budget"], part[part["judged"] == "time"]
            ratios = time["ratio"].to_numpy(float) if len(time) else np.array([])
            ratios = ratios[~np.isnan(ratios)]
            rows.append({
                "id": claim["id"], "name": claim["name"], "remedy": bool(claim.get("remedy")), "rate": rate, "effect": effect,
                "effect_ci_low": low, "effect_ci_high": high, "n_pairs": int(np.isfinite(np.concatenate(logs)).sum()),
                "time_ratio_median": float(np.median(ratios)) if ratios.size else math.nan,
                "time_sooner": int(time["holds"].sum()) if len(time) else 0, "time_contexts": len(time),
                "verdict_budget": verdict(budget["holds"].tolist(), budget["fails"].tolist()) if len(budget) else "",
                "verdict_time": verdict(time["holds"].tolist(), time["fails"].tolist()) if len(time) else "",
            })
    table = pd.DataFrame(rows)
    if table.empty:
        return table
    remedies = table[table["remedy"]]
    key = remedies.pivot_table(index="id", columns="rate", values="effect", aggfunc="first").reindex(columns=["default", "tuned"])
    order = key.sort_values(["default", "tuned"], ascending=False, na_position="last").index.tolist()
    table["rank"] = table["id"].map({claim_id: float(index + 1) for index, claim_id in enumerate(order)})
    return table.sort_values(["rank", "id", "rate"], kind="stable", na_position="last").reset_index(drop=True)


def findings(mechanisms: pd.DataFrame, verdicts: pd.DataFrame, remedies: pd.DataFrame, study) -> dict:
    """The numbers the discussion quotes, each computed here: counts of the claim cells by category,
    the median ratio of the distance needed to the optimizer's reach for ``step budget`` cells,
    the median saturation of ``saturated output`` cells, how many cells that fail at the budget
    reach the threshold later (and the median multiple of the budget they need), the claims whose
    verdict changes with the rate, and the best remedy at each rate."""
    failing = mechanisms[mechanisms["category"] != "reaches within the budget"]
    later = failing[np.isfinite(failing["reach_steps"].to_numpy(float))]
    steps = mechanisms[mechanisms["category"] == "step budget"]
    saturated = mechanisms[mechanisms["category"] == "saturated output"]
    changed = verdicts[(verdicts["verdict_budget_tuned"] != "") & (verdicts["verdict_budget_tuned"] != verdicts["verdict_budget_default"])]
    best = {}
    for rate in ("default", "tuned"):
        part = remedies[remedies["rate"] == rate] if len(remedies) else remedies
        if "remedy" in part:
            part = part[part["remedy"].astype(bool)]
        if len(part):
            top = part.sort_values("effect", ascending=False).iloc[0]
            best[rate] = {"id": top["id"], "name": top["name"], "effect": float(top["effect"]),
                          "effect_ci_low": float(top["effect_ci_low"]), "effect_ci_high": float(top["effect_ci_high"])}
    budgets = sorted({int(value) for value in mechanisms["budget_steps"]}) if len(mechanisms) else []
    return _json_safe({
        "n_cells": int(len(mechanisms)),
        "budget_steps": budgets,
        "cap_steps": int(study.config["horizon"]["cap_steps"]),
        "threshold": float(study.config["metrics"]["nrmse_threshold"]),
        "categories": {category: int((mechanisms["category"] == category).sum()) for category in MECHANISM_CATEGORIES} if len(mechanisms) else {},
        "n_failing": int(len(failing)),
        "n_reach_later": int(len(later)),
        "later_budget_multiple_median": float(np.median(later["reach_steps"] / later["budget_steps"])) if len(later) else math.nan,
        "step_budget_need_over_reach_median": float(np.median(steps["required_linf"] / steps["capacity_linf"])) if len(steps) else math.nan,
        "saturated_fraction_median": float(saturated["mean_saturation"].median()) if len(saturated) else math.nan,
        "saturated_fraction_threshold": float(study.config["mechanism"]["saturated_fraction"]),
        "verdicts_changed_by_tuning": changed["id"].tolist(),
        "best_remedy": best,
    })


def _json_safe(value):
    """``value`` with every non-finite float replaced by None (JSON has no NaN)."""
    if isinstance(value, dict):
        return {key: _json_safe(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_json_safe(item) for item in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
