"""Claims in words: each claim's rule and the evidence line of each context, for the claims
table and the report. Numbers by the report's rule (:mod:`lossatlas.core.textfmt`): errors and
p-values to 3 significant digits, ratios and slopes to 2, steps as integers ("not reached" where a
median is infinite); "n/a" where undefined."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from lossatlas.core.textfmt import (
    format_bounds,
    format_interval,
    format_number,
    format_range,
    format_ratio,
    format_steps,
    loss_name,
)


def _fmt(value: float) -> str:
    return format_number(value)


def _times(value: float) -> str:
    """A ratio as "12x sooner" ("n/a" when undefined: neither reached the threshold; "only it
    reaches the threshold" when infinite)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return "only it reaches the threshold" if math.isinf(value) else f"{format_ratio(value)}x sooner"


def status_text(row, side: str) -> str:
    """A time row's status of its ``side`` cell with its diagnosis: ``"stalled (saturated output)"``,
    ``"undecided (still descending, 3.1% per doubling at 102,400 steps)"``."""
    status, diagnosis = getattr(row, f"{side}_status"), getattr(row, f"{side}_diagnosis", "")
    if not isinstance(diagnosis, str) or not diagnosis:
        return status
    if diagnosis == "still descending":
        diagnosis = descending_text([getattr(row, f"{side}_improvement")], [getattr(row, f"{side}_steps")])
    return f"{status} ({diagnosis})"


def descending_text(gains, steps) -> str:
    """Cells still descending where their training ended, with their improvement per doubling
    (relative) and their steps: ``"still descending, 2.1–3.1% per doubling at 102,400 steps"``."""
    trained = list(dict.fromkeys(format_steps(value) for value in sorted(steps)))
    trained = trained[0] if len(trained) == 1 else f"{trained[0]}–{trained[-1]}"
    return f"still descending, {format_range([100 * gain for gain in gains])}% per doubling at {trained} steps"


def evidence(claim: dict, details: pd.DataFrame, judged: str = "budget") -> list[str]:
    lines = []
    for row in details.itertuples(index=False):
        if claim["kind"] == "paired" and judged == "time":
            lines.append(
                f"{row.context}: {row.better} vs {row.baseline}: Kaplan-Meier median steps to the threshold "
                f"{format_steps(row.median_a)} vs {format_steps(row.median_b)}, {row.better} {_times(row.ratio)} "
                f"(95% CI {format_bounds(row.ratio_ci_low, row.ratio_ci_high, 'ratio', estimate=row.ratio)}); {row.better} {status_text(row, 'better')}, "
                f"{row.baseline} {status_text(row, 'baseline')}: {row.outcome}"
            )
        elif claim["kind"] == "paired":
            lines.append(
                f"{row.context}: {row.better} vs {row.baseline}: median {claim['metric']} {_fmt(row.median_a)} vs "
                f"{_fmt(row.median_b)}, P(better) {_fmt(row.probability_of_improvement)}, Holm p {_fmt(row.p_holm)}, n {row.n_pairs}"
            )
        elif claim["kind"] == "slope":
            lines.append(f"{row.context}: slope {format_interval(row.slope, row.slope_ci_low, row.slope_ci_high, 'ratio')} over scales {row.scales}")
        else:
            lines.append(
                f"{row.successes} of {row.n} runs with {claim['metric']} <= {claim['at_most']:g} "
                f"(rate {format_interval(row.success_rate, row.rate_ci_low, row.rate_ci_high, 'rate')}, 95% Wilson CI)"
            )
    return lines


def time_rule(claim: dict) -> str:
    """The claim's rule by time to target, in words, for the report."""
    pairs = "; ".join(f"{a} against {b}" for a, b in claim["pairs"])
    if claim["time_question"] == "stuck":
        return (f"{pairs}: stuck where the stall rule fired for {claim['pairs'][0][1]}, slow where it reached the "
                "threshold, undecided at the cap otherwise")
    return (f"{pairs}: the first reaches the threshold sooner (95% CI of the ratio of Kaplan-Meier median steps "
            "above 1, or it reached the threshold and the second stalled or diverged)")


def decision_rule(claim: dict, alpha: float) -> str:
    """The claim's threshold in words, for the report."""
    if claim["kind"] == "paired":
        pairs = "; ".join(f"{a} better than {b}" for a, b in claim["pairs"])
        return (
            f"{pairs} on {claim['metric']} (paired Wilcoxon signed-rank, Holm p <= {alpha:g}, and a negative "
            f"Hodges-Lehmann estimate of the paired difference), in every {' × '.join(claim['contexts']) or 'case'}"
        )
    if claim["kind"] == "slope":
        low, high = claim["expected_slope"]
        return f"95% CI of the log-log slope of {claim['metric']} vs target scale within [{low:g}, {high:g}], for every {' × '.join(claim['contexts'])}"
    return (
        f"at least {claim['required_rate']:.0%} of runs with {claim['metric']} <= {claim['at_most']:g}: holds when the "
        f"lower bound of the rate's 95% Wilson CI is at least {claim['required_rate']:.0%}, fails when its upper bound "
        "is below it, undecided otherwise"
    )


def diagnosis_text(rows: pd.DataFrame, side: str) -> str:
    """Why the ``side`` (``better`` or ``baseline``) cells of time rows (:func:`lossatlas.analysis.claims.evaluate_time`)
    have not reached the threshold: ``"still descending, 2.1–3.1% per doubling at 102,400 steps"``,
    ``"saturated output"``, several joined by "; " (with counts when they differ)."""
    groups = rows.groupby(f"{side}_diagnosis", sort=True)
    parts = []
    for diagnosis, part in groups:
        if not diagnosis:
            continue
        text = diagnosis
        if diagnosis == "still descending":
            text = descending_text(part[f"{side}_improvement"], part[f"{side}_steps"])
        parts.append(text if len(groups) == 1 else f"{text} in {len(part)}")
    return "; ".join(parts)


def _share(count: int, total: int, noun: str = "context") -> str:
    """``"2 of 5 contexts"``, ``"1 of 1 context"``."""
    return f"{count} of {total} {noun}{'s' if total != 1 else ''}"


def outcome_summary(claim: dict, rows: pd.DataFrame, judged: str) -> str:
    """The contexts of one claim, judgment and rate (``rows``: its details, a subset such as one
    optimizer's) in a phrase: ``"slow: 5 of 5 contexts reach the target, taking 1.2–2.0× the steps
    of BCE"``, ``"holds in 3 of 5 contexts"``; a part that covers every context by time gives only
    its diagnosis (``"still descending, 3.1% per doubling at 102,400 steps"``)."""
    n = len(rows)
    if claim["kind"] != "paired" or judged == "budget":
        return f"holds in {_share(int(rows['holds'].sum()), n)}"
    holds, fails = rows[rows["holds"]], rows[rows["fails"]]
    open_ = rows[~rows["holds"] & ~rows["fails"]]

    def part(label: str, subset: pd.DataFrame, reasons: str) -> str:
        if len(subset) == n:
            return f"{label}: {reasons}" if label and reasons else reasons or label
        head = f"{label} in {len(subset)} of {n}" if label else f"in {len(subset)} of {n}"
        return f"{head}: {reasons}" if reasons else head

    parts = []
    if claim["time_question"] == "stuck":
        better = loss_name(str(claim["pairs"][0][0]))
        if len(fails):
            reach = "reaches" if len(fails) == 1 else "reach"
            parts.append(f"slow: {_share(len(fails), n)} {reach} the target, taking {format_range(fails['ratio'])}× the steps of {better}")
        if len(holds):
            parts.append(part("stuck", holds, diagnosis_text(holds, "baseline")))
        if len(open_):
            parts.append(part("" if len(open_) == n else "undecided at the cap", open_, diagnosis_text(open_, "baseline")))
        return "; ".join(parts)
    if len(holds):
        finite = holds[np.isfinite(holds["ratio"].to_numpy(float))]
        only = len(holds) - len(finite)
        better = loss_name(str(claim["pairs"][0][0])) if len(claim["pairs"]) == 1 else "the first"
        how = [f"{format_range(finite['ratio'])}× sooner"] if len(finite) else []
        how += [f"only {better} reaches the target in {only}"] if only else []
        parts.append(f"sooner in {_share(len(holds), n)}, " + "; ".join(how))
    if len(fails):
        parts.append(f"not sooner in {_share(len(fails), n)}")
    if len(open_):
        side = open_.assign(side=np.where(open_["baseline_status"] != "reached", "baseline", "better"))
        reasons = "; ".join(text for text in (diagnosis_text(side[side["side"] == name], name) for name in ("better", "baseline")) if text)
        parts.append(part("" if len(open_) == n else "undecided", open_, reasons) or "undecided")
    return "; ".join(parts)
