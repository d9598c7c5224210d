"""Claims in words: each claim's rule and the evidence line of each context, for the claims
table and the report. Numbers to 3 significant digits; "n/a" where undefined."""

from __future__ import annotations

import math

import pandas as pd


def _fmt(value: float) -> str:
    return "n/a" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.3g}"


def _times(value: float) -> str:
    """A ratio as "12x sooner" ("n/a" when undefined: neither reached the threshold)."""
    return "n/a" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{_fmt(value)}x sooner"


def evidence(claim: dict, details: pd.DataFrame, judged: str = "budget") -> list[str]:
    lines = []
    for row in details.itertuples(index=False):
        if claim["kind"] == "paired" and judged == "time":
            lines.append(
                f"{row.context}: {row.better} vs {row.baseline}: Kaplan-Meier median steps to the threshold "
                f"{_fmt(row.median_a)} vs {_fmt(row.median_b)}, {row.better} {_times(row.ratio)} "
                f"(95% CI [{_fmt(row.ratio_ci_low)}, {_fmt(row.ratio_ci_high)}]); {row.better} {row.better_status}, "
                f"{row.baseline} {row.baseline_status}: {row.outcome}"
            )
        elif claim["kind"] == "paired":
            lines.append(
                f"{row.context}: {row.better} vs {row.baseline}: median {claim['metric']} {_fmt(row.median_a)} vs "
                f"{_fmt(row.median_b)}, P(better) {_fmt(row.probability_of_improvement)}, Holm p {_fmt(row.p_holm)}, n {row.n_pairs}"
            )
        elif claim["kind"] == "slope":
            lines.append(f"{row.context}: slope {_fmt(row.slope)} [{_fmt(row.slope_ci_low)}, {_fmt(row.slope_ci_high)}] over scales {row.scales}")
        else:
            lines.append(
                f"{row.successes} of {row.n} runs with {claim['metric']} <= {claim['at_most']:g} "
                f"(rate {_fmt(row.success_rate)}, 95% CI [{_fmt(row.rate_ci_low)}, {_fmt(row.rate_ci_high)}])"
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
