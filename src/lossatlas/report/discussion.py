"""Why gradients go missing and what to do, as the report says it: the answer the abstract leads with
and the discussion (``results/analysis/findings.json``), the mechanism of every cell the paired
claims compare (``mechanism.csv``), the tuned learning rates (``tuned_rates.csv``) and the
practitioner's table of remedies (``remedies.csv``).

Every number comes from those files (and the cells table), formatted by :mod:`lossatlas.core.textfmt`;
the words that go with each category of the mechanism are fixed here (:data:`CATEGORY_WORDS`).
"""

from __future__ import annotations

import math
from typing import Mapping, Sequence

import pandas as pd

from lossatlas.core.results import BASE
from lossatlas.core.textfmt import (
    format_bounds,
    format_count,
    format_error,
    format_interval,
    format_number,
    format_rate,
    format_ratio,
    format_steps,
    heading,
    join_words,
)
from lossatlas.report.findings import require
from lossatlas.report.sections import is_wide, label_text, table_dimensions
from lossatlas.report.verdicts import text, verdict_entry

#: What each category of :data:`lossatlas.core.results.MECHANISM_CATEGORIES` says of a cell, in running text;
#: ``{saturated}``, ``{saturated_median}`` and ``{need_over_reach}`` are filled from findings.json.
CATEGORY_WORDS = {
    "reaches within the budget": "reach the threshold within the budget",
    "saturated output": ("had a saturated output (the activation's derivative below the threshold) for at least "
                         "{saturated}% of the budget (median {saturated_median}%)"),
    "step budget": ("need their weights to travel further than Adam or RMSprop can in the budget's steps "
                    "(median {need_over_reach} times the optimizer's reach)"),
    "small gradient": "are trained by SGD, whose steps scale with the gradient, and travelled less far than they need",
    "undecided": "never reached the threshold, even past the budget, so the distance they need is unknown",
    "other": "fail for none of these reasons",
}
FINDINGS_KEYS = ("n_cells", "n_failing", "budget_steps", "cap_steps", "threshold", "categories", "n_reach_later",
                 "later_budget_multiple_median", "step_budget_need_over_reach_median", "saturated_fraction_median",
                 "saturated_fraction_threshold", "verdicts_changed_by_tuning", "best_remedy")
MECHANISM_COLUMNS = (*BASE, "learning_rate", "claims", "optimizer_name", "budget_steps", "reach_steps", "required_linf",
                     "moved_linf", "capacity_linf", "mean_saturation", "initial_grad_norm", "category")
REMEDY_COLUMNS = ("id", "name", "rate", "effect", "effect_ci_low", "effect_ci_high", "n_pairs", "time_ratio_median",
                  "time_sooner", "time_contexts", "verdict_budget", "verdict_time", "rank")
TUNED_COLUMNS = (*BASE, "tuned_learning_rate", "edge", "n_rates", "default_learning_rate", "lowest_rate", "highest_rate")
RATES = ("default", "tuned")


def percent(value) -> str:
    return format_number(None if value is None else 100 * float(value))


# --------------------------------------------------------------------------------------------
# The answer (findings.json)
# --------------------------------------------------------------------------------------------


def answer_context(findings: Mapping) -> dict:
    """The answer to the title question, from ``findings.json`` (:func:`lossatlas.analysis.mechanism.findings`):
    ``n_cells``, ``n_failing``, ``threshold``, ``budget`` (the budgets in steps), ``cap``,
    ``categories`` (the failing categories with a cell: ``{"name", "count", "words"}``),
    ``n_reach_later``, ``later_multiple`` (``""`` when none reach it later), ``best`` (per rate with a
    remedy: ``{"rate", "id", "name", "effect"}``, the effect as ``"2.891 [2.749, 3.32]"``) and
    ``changed`` (claims whose budget verdict changes with tuning)."""
    missing = [key for key in FINDINGS_KEYS if key not in findings]
    if missing:
        raise ValueError(f"findings lack key(s) {', '.join(missing)}")
    fill = {
        "saturated": percent(findings["saturated_fraction_threshold"]),
        "saturated_median": percent(findings["saturated_fraction_median"]),
        "need_over_reach": format_ratio(findings["step_budget_need_over_reach_median"]),
    }
    categories = [
        {"name": name, "count": format_count(count), "words": CATEGORY_WORDS.get(name, name).format(**fill)}
        for name, count in findings["categories"].items()
        if count and name != "reaches within the budget"
    ]
    best = []
    for rate in RATES:
        remedy = findings["best_remedy"].get(rate)
        if remedy:
            best.append({"rate": rate, "id": str(remedy["id"]), "name": str(remedy["name"]),
                         "effect": format_interval(remedy["effect"], remedy["effect_ci_low"], remedy["effect_ci_high"], "ratio")})
    later = findings["later_budget_multiple_median"]
    return {
        "n_cells": format_count(findings["n_cells"]),
        "n_failing": format_count(findings["n_failing"]),
        "n_reaching": format_count(findings["n_cells"] - findings["n_failing"]),
        "all_fail": findings["n_failing"] == findings["n_cells"],
        "threshold": format_number(findings["threshold"]),
        "budget": join_words([format_steps(b) for b in findings["budget_steps"]]) or "n/a",
        "cap": format_steps(findings["cap_steps"]),
        "categories": categories,
        "n_reach_later": format_count(findings["n_reach_later"]),
        "later_multiple": format_ratio(later) if later is not None else "",
        "best": best,
        "changed": [str(claim_id) for claim_id in findings["verdicts_changed_by_tuning"]],
    }


# --------------------------------------------------------------------------------------------
# Mechanism
# --------------------------------------------------------------------------------------------


def distance(value) -> str:
    """A distance of the mechanism table; ``n/a`` where it is unknown or does not apply."""
    return format_number(float(value)) if value is not None and not pd.isna(value) else "n/a"


def mechanism_context(mechanism: pd.DataFrame) -> dict:
    """The mechanism table: ``dimensions`` (the coordinates that vary, and the loss, activation and
    rate), ``rows`` (per cell its labels, ``claims``, ``category``, ``budget`` and ``reach`` steps,
    distances ``needed``, ``travelled`` and ``capacity``, ``saturation`` and ``gradient``) and
    ``counts`` (cells per category, in order of appearance)."""
    require(mechanism, MECHANISM_COLUMNS, "mechanism table")
    dims = table_dimensions(mechanism, always=("dataset", "optimizer", "learning_rate", "loss", "activation"), skip=())
    rows = []
    for _, row in mechanism.iterrows():
        rows.append({
            "labels": {d: label_text(row, d) for d in dims},
            "claims": text(row["claims"]),
            "category": str(row["category"]),
            "budget": format_count(row["budget_steps"]),
            "reach": format_steps(float(row["reach_steps"])),
            "needed": distance(row["required_linf"]),
            "travelled": distance(row["moved_linf"]),
            "capacity": distance(row["capacity_linf"]),
            "saturation": distance(row["mean_saturation"]),
            "gradient": distance(row["initial_grad_norm"]),
        })
    counts = mechanism["category"].astype(str).value_counts(sort=False)
    fields = ("claims", "category", "budget", "reach", "needed", "travelled", "capacity", "saturation", "gradient")
    headings = [*(heading(d) for d in dims), "Claims", "Category", "Budget steps", "Steps to threshold", "Needed",
                "Travelled in budget", "Reach in budget", "Saturated fraction", "Initial gradient norm"]
    return {
        "kind": "table",
        "dimensions": [{"name": d, "heading": heading(d)} for d in dims],
        "rows": rows,
        "landscape": is_wide(headings, [[*(r["labels"][d] for d in dims), *(r[f] for f in fields)] for r in rows], font=6.0),
        "counts": [{"category": c, "count": format_number(int(n))} for c, n in counts.items()],
    }


# --------------------------------------------------------------------------------------------
# Tuned rates
# --------------------------------------------------------------------------------------------


def nrmse_at(rates_by_base: Mapping[tuple, list], row, rate: float) -> str:
    """The median final test nRMSE of the cell of ``row`` at ``rate`` (``n/a`` if absent), from
    :func:`rates_by_base` of the cells table."""
    key = tuple(str(row[column]) for column in BASE)
    for cell_rate, value in rates_by_base.get(key, ()):
        if abs(cell_rate - rate) <= 1e-9 * abs(rate):
            return format_error(value)
    return "n/a"


def rates_by_base(cells: pd.DataFrame) -> dict[tuple, list[tuple[float, float]]]:
    """Base cell (its coordinates as text) -> ``(learning rate, median final test nRMSE)`` of each
    of its cells, in the order of the cells table."""
    keys = zip(*(cells[column].astype(str) for column in BASE))
    values = zip(cells["learning_rate"].astype(float), cells["final_test_nrmse_median"].astype(float))
    by_base: dict[tuple, list[tuple[float, float]]] = {}
    for key, value in zip(keys, values):
        by_base.setdefault(key, []).append(value)
    return by_base


def tuned_context(tuned: pd.DataFrame, cells: pd.DataFrame) -> dict:
    """The tuned-rates table: per row of ``tuned_rates.csv`` the cell's labels (the coordinates that
    vary, and loss and activation), ``default`` and ``tuned`` rate, ``rates`` (how many were trained
    and their range), ``edge`` (``"high"``/``"low"`` where the tuned rate stayed at an end of the
    rates trained, ``""`` inside) and the median final test nRMSE at the default and at the tuned rate
    (from the cells table); ``n_edge`` and ``n_moved`` (cells whose tuned rate is not the default)."""
    require(tuned, TUNED_COLUMNS, "tuned-rates table")
    dims = table_dimensions(tuned, always=("experiment", "dataset", "optimizer", "loss", "activation"), skip=("learning_rate",))
    rows, moved, by_base = [], 0, rates_by_base(cells)
    for _, row in tuned.iterrows():
        default, best = float(row["default_learning_rate"]), float(row["tuned_learning_rate"])
        moved += not math.isclose(default, best, rel_tol=1e-9)
        fastest = row.get("time_tuned_learning_rate", math.nan)
        rows.append({
            "labels": {d: label_text(row, d) for d in dims},
            "default": format_rate(default),
            "tuned": format_rate(best),
            "time_tuned": format_rate(float(fastest)) if pd.notna(fastest) else "—",
            "rates": f"{format_count(row['n_rates'])} {format_bounds(row['lowest_rate'], row['highest_rate'], 'rate')}",
            "edge": text(row["edge"]),
            "nrmse_default": nrmse_at(by_base, row, default),
            "nrmse_tuned": nrmse_at(by_base, row, best),
            "budget_status": status_words(row.get("budget_tuned_status"), row.get("budget_tuned_diagnosis")),
            "time_status": status_words(row.get("time_tuned_status"), row.get("time_tuned_diagnosis")),
            "trap": bool(row.get("trap", False)),
        })
    fields = ("default", "tuned", "time_tuned", "rates", "edge", "nrmse_default", "nrmse_tuned", "budget_status", "time_status")
    headings = [*(heading(d) for d in dims), "Default rate", "Budget-tuned rate", "Time-tuned rate", "Rates trained [range]",
                "At an edge", "nRMSE, default rate", "nRMSE, budget-tuned rate", "By time, budget-tuned rate", "By time, time-tuned rate"]
    traps = [row for row in tuned.to_dict("records") if row.get("trap") is True]
    return {
        "kind": "table",
        "dimensions": [{"name": d, "heading": heading(d)} for d in dims],
        "rows": rows,
        "landscape": is_wide(headings, [[*(r["labels"][d] for d in dims), *(r[f] for f in fields)] for r in rows]),
        "n_cells": format_number(len(rows)),
        "n_edge": format_number(sum(bool(row["edge"]) for row in rows)),
        "n_moved": format_number(moved),
        "timed": "time_tuned_learning_rate" in tuned,
        "n_trap": format_number(len(traps)),
        "trap_example": trap_text(traps[0]) if traps else "",
    }


#: What a rate does to a cell, by the diagnosis of its stall.
TRAP_WORDS = {"saturated output": "saturates the output", "step-size floor": "keeps the steps too large to settle",
              "vanishing step": "lets the steps vanish", "diverged": "diverges"}


def status_words(status, diagnosis) -> str:
    """A cell's horizon status with its diagnosis: ``"stalled (saturated output)"``; ``"—"`` where unknown."""
    if not isinstance(status, str) or not status:
        return "—"
    return f"{status} ({diagnosis})" if isinstance(diagnosis, str) and diagnosis else status


def trap_text(row) -> str:
    """One trap of a budget-tuned rate in words, from a row of ``tuned_rates.csv``: ``"for mse with a
    sigmoid output on scale_1e-2 (adam), a rate of 1 saturates the output and stalls, while 0.01
    reaches the target"``."""
    words = TRAP_WORDS.get(row.get("budget_tuned_diagnosis"), "stalls")
    outcome = {"reached": "reaches the target", "undecided": "is still descending at the cap"}.get(row.get("time_tuned_status"), "does not stall")
    return (f"for {row['loss']} with a {row['activation']} output on {row['dataset']} ({row['optimizer']}), a rate of "
            f"{format_rate(float(row['tuned_learning_rate']))} {words} and stalls, while "
            f"{format_rate(float(row['time_tuned_learning_rate']))} {outcome}")


# --------------------------------------------------------------------------------------------
# What to do (remedies.csv)
# --------------------------------------------------------------------------------------------


def sooner_text(ratio: float) -> str:
    """How many times sooner a remedy reaches the target: ``"17"``; ``"only the remedy reaches it"``
    where the baseline never does (an infinite ratio); ``"n/a"`` where neither does."""
    if math.isnan(ratio):
        return "n/a"
    return "only the remedy reaches it" if math.isinf(ratio) else format_ratio(ratio)


def remedy_rate(row) -> dict:
    """One remedy at one rate: ``effect`` (``"3.521 [3.392, 4.106]"``), ``pairs``, ``time``
    (``"17"`` times sooner, median over contexts, or ``"n/a"``), ``sooner`` (``"1 of 1"``), and the
    budget and time verdicts (None where not judged so)."""
    judged_time = int(row["time_contexts"]) > 0
    return {
        "effect": format_interval(row["effect"], row["effect_ci_low"], row["effect_ci_high"], "ratio"),
        "pairs": format_count(row["n_pairs"]),
        "time": sooner_text(float(row["time_ratio_median"])) if judged_time else "n/a",
        "sooner": f"{format_count(row['time_sooner'])} of {format_count(row['time_contexts'])}" if judged_time else "n/a",
        "budget_verdict": verdict_entry(row["verdict_budget"], str(row["id"])),
        "time_verdict": verdict_entry(row["verdict_time"], str(row["id"])),
    }


def remedies_context(remedies: pd.DataFrame) -> dict:
    """The practitioner's table: one row per remedy claim, by ``rank`` (its tuned effect where it has
    one, else its default one): ``rank``, ``id``, ``name`` and ``rates``: per rate it is judged at
    (in the order of :data:`RATES`), ``{"rate", "values"}`` with its :func:`remedy_rate`."""
    require(remedies, REMEDY_COLUMNS, "remedies table")
    if "remedy" in remedies:
        remedies = remedies[remedies["remedy"].astype(str).str.lower().isin(["true", "1"])]
    rows = []
    for claim_id, part in remedies.sort_values(["rank", "rate"], kind="stable").groupby("id", sort=False):
        by_rate = {str(row["rate"]): remedy_rate(row) for _, row in part.iterrows()}
        first = part.iloc[0]
        rows.append({"rank": format_count(first["rank"]), "id": str(claim_id), "name": str(first["name"]),
                     "rates": [{"rate": rate, "values": by_rate[rate]} for rate in RATES if rate in by_rate]})
    return {"kind": "table", "rows": rows}


# --------------------------------------------------------------------------------------------
# The discussion
# --------------------------------------------------------------------------------------------


def changed_text(changed: Sequence[str], claims: Sequence[dict]) -> list[dict]:
    """The claims whose budget verdict changes with tuning, each with its default and tuned verdict."""
    by_id = {claim["id"]: claim for claim in claims}
    items = []
    for claim_id in changed:
        claim = by_id.get(claim_id)
        if claim is None:
            continue
        verdicts = {(j["judged"], j["rate"]): j["verdict"] for j in claim["judgments"]}
        items.append({"id": claim_id, "name": claim["name"], "default": verdicts[("budget", "default")],
                      "tuned": verdicts[("budget", "tuned")]})
    return items


def discussion_context(answer: Mapping, claims: Sequence[dict], time: Mapping | None, tuned: Mapping | None,
                       remedies: Mapping | None) -> dict:
    """What the discussion quotes besides the answer: the time verdicts (per optimizer), the claims
    whose verdict tuning changes, how many tuned rates moved or stayed at an edge, and the remedies
    in rank order (name, effect per rate)."""
    ranked = []
    for row in (remedies or {}).get("rows", []):
        effects = [{"rate": r["rate"], "effect": r["values"]["effect"]} for r in row["rates"]]
        ranked.append({"rank": row["rank"], "id": row["id"], "name": row["name"], "effects": effects})
    return {
        "time_claims": (time or {}).get("claims", []),
        "changed": changed_text(answer["changed"], claims) if answer else [],
        "tuned": tuned,
        "ranked": ranked,
    }
