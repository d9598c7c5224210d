"""Verdicts for the article's claims, computed from the results; none is written by hand.

A claims file (YAML) lists each claim in plain words, the comparison that decides it and its
threshold. Three kinds of claim, each decided per context: it *holds*, *fails*, or neither
(*undecided*):

``paired``: within ``select``, for each context (combination of the ``contexts`` columns) and each
    ``[better, baseline]`` pair of levels of the ``contrast`` column, the two are compared on
    ``metric`` (lower is better) over seeds, paired, with a Wilcoxon signed-rank test; the p-values
    of the claim's comparisons are Holm-corrected together. The claim *holds* in a context when
    the test rejects (Holm p <= alpha) and the Hodges-Lehmann estimate of the paired difference
    ``better - baseline`` (the estimate that goes with the signed-rank test) is negative; it *fails*
    wherever it does not hold, so a paired context is never undecided. (The direction is not taken
    from the mean difference: one outlying seed can flip the mean's sign against the test.)
``slope``: the log-log slope of ``metric`` (mean over seeds) against the target scale, per context,
    with a 95% bootstrap CI over seeds, read from the analysis's slopes table (one estimate and
    one CI per slope, whoever reads it). It holds where the CI lies inside ``expected_slope`` and
    fails where the CI lies outside it; elsewhere it is undecided.
``rate``: the fraction of the article's verbatim runs (``select``) with ``metric`` at most
    ``at_most``, with its 95% Wilson CI, against ``required_rate``. It holds when the CI's lower
    bound is at least ``required_rate``, fails when the CI's upper bound is below it, and is
    undecided otherwise (the runs cannot tell).

Verdict (:data:`VERDICTS`), over the claim's contexts: *supported* when the claim holds in every
context; *not supported* when it fails in every context; *mixed* when it holds in at least one
context and fails in at least one; *undecided* otherwise, i.e. when some context is undecided and
deciding it could still change the verdict (nothing fails and something is undecided, or nothing
holds and something is undecided). So an undecided context never counts as failing: a claim is
called supported or not supported only when every context is decided.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from statsmodels.stats.proportion import proportion_confint

from lossatlas.compare import holm_correct, paired_comparison
from lossatlas.seeds import derive_seed
from lossatlas.stats import CONFIDENCE

KINDS = ("paired", "slope", "rate")
#: Every verdict a claim can get; see the module documentation for the rule.
VERDICTS = ("supported", "not supported", "mixed", "undecided")
REQUIRED = {
    "paired": ("select", "contrast", "pairs", "metric", "contexts"),
    "slope": ("select", "metric", "contexts", "expected_slope"),
    "rate": ("select", "metric", "at_most", "required_rate"),
}


def load_claims(path: str | Path) -> dict:
    """Reads and checks a claims file; raises ValueError naming the file, claim and key."""
    document = yaml.safe_load(Path(path).read_text())
    if not isinstance(document, dict) or not isinstance(document.get("claims"), list):
        raise ValueError(f"{path}: expected a mapping with a list under 'claims'")
    seen = set()
    for index, claim in enumerate(document["claims"]):
        where = f"{path}: claims[{index}]"
        for key in ("id", "name", "claim", "article", "kind"):
            if key not in claim:
                raise ValueError(f"{where}: missing key '{key}'")
        if claim["kind"] not in KINDS:
            raise ValueError(f"{where} ({claim['id']}): kind {claim['kind']!r} is not one of {', '.join(KINDS)}")
        for key in REQUIRED[claim["kind"]]:
            if key not in claim:
                raise ValueError(f"{where} ({claim['id']}): missing key '{key}' for a {claim['kind']} claim")
        if claim["id"] in seen:
            raise ValueError(f"{where}: id {claim['id']!r} is used twice")
        seen.add(claim["id"])
    if "alpha" in document:
        raise ValueError(f"{path}: key 'alpha' is set once for the whole study, as the config's statistics.alpha")
    return document


def _select(frame: pd.DataFrame, select: dict, claim_id: str) -> pd.DataFrame:
    mask = pd.Series(True, index=frame.index)
    for column, value in select.items():
        if column not in frame:
            raise ValueError(f"claim {claim_id}: select names column {column!r}, which the results do not have")
        mask &= frame[column].isin(value if isinstance(value, list) else [value])
    selected = frame[mask]
    if selected.empty:
        raise ValueError(f"claim {claim_id}: select {select} matches no results (is that part of the grid in the config?)")
    return selected


def _context_text(columns, values) -> str:
    return ", ".join(f"{column} {value}" for column, value in zip(columns, values)) or "all"


def _verdict(holds: list[bool], fails: list[bool]) -> str:
    """The claim's verdict (one of :data:`VERDICTS`) from its contexts.

    Args:
        holds, fails: ``(n_contexts,)`` bool each, never both True for a context; a context with
            neither is undecided.
    Returns:
        ``"supported"`` if it holds in every context, ``"not supported"`` if it fails in every
        context, ``"mixed"`` if it holds in one or more and fails in one or more (whatever the
        undecided ones), else ``"undecided"``.
    """
    holds, fails = np.asarray(holds, dtype=bool), np.asarray(fails, dtype=bool)
    if holds.shape != fails.shape or holds.ndim != 1 or holds.size == 0:
        raise ValueError(f"holds and fails must be non-empty and of the same length, got {holds.shape} and {fails.shape}")
    if np.any(holds & fails):
        raise ValueError("a context cannot both hold and fail")
    if holds.all():
        return "supported"
    if fails.all():
        return "not supported"
    if holds.any() and fails.any():
        return "mixed"
    return "undecided"


def evaluate_paired(claim: dict, trials: pd.DataFrame, alpha: float, n_resamples: int, seed: int):
    """One row per context and pair: :func:`lossatlas.compare.paired_comparison` of ``better``
    (``a``) against ``baseline`` (``b``), ``p_holm`` over the claim's rows, ``holds`` (Holm rejects
    at ``alpha`` and ``hodges_lehmann < 0``) and ``fails`` (``not holds``)."""
    selected = _select(trials, claim["select"], claim["id"])
    metric, contrast, contexts = claim["metric"], claim["contrast"], list(claim["contexts"])
    rows = []
    for key, group in selected.groupby(contexts, sort=True) if contexts else [((), selected)]:
        key = key if isinstance(key, tuple) else (key,)
        values = group.assign(**{metric: group[metric].where(~group["diverged"])})
        wide = values.pivot(index="seed", columns=contrast, values=metric)
        for better, baseline in claim["pairs"]:
            if better not in wide or baseline not in wide:
                raise ValueError(f"claim {claim['id']}: {contrast} {better!r} or {baseline!r} missing in {_context_text(contexts, key)}")
            result = paired_comparison(
                wide[better].to_numpy(),
                wide[baseline].to_numpy(),
                seed=derive_seed(seed, "claim", claim["id"], *key, better, baseline),
                n_resamples=n_resamples,
            )
            rows.append({"context": _context_text(contexts, key), "better": better, "baseline": baseline, **result})
    details = pd.DataFrame(rows)
    rejected, adjusted = holm_correct(details["p_value"].to_numpy(), alpha)
    details["p_holm"] = adjusted
    details["holds"] = rejected & (details["hodges_lehmann"] < 0)
    details["fails"] = ~details["holds"]
    return details


def evaluate_slope(claim: dict, slopes: pd.DataFrame):
    """The rows of the slopes table (:func:`lossatlas.analysis.scale_slopes`) that ``select`` and
    ``metric`` name, with ``context``, ``holds`` (CI inside ``expected_slope``) and ``fails`` (CI
    outside it)."""
    if "dataset" in claim["select"]:
        raise ValueError(f"claim {claim['id']}: a slope is taken over the target-scale datasets; select cannot name 'dataset'")
    slopes = _select(slopes[slopes["metric"] == claim["metric"]], claim["select"], claim["id"])
    low, high = claim["expected_slope"]
    contexts = list(claim["contexts"])
    details = slopes.assign(context=[_context_text(contexts, row) for row in slopes[contexts].itertuples(index=False)])
    details["holds"] = (details["slope_ci_low"] >= low) & (details["slope_ci_high"] <= high)
    details["fails"] = (details["slope_ci_high"] < low) | (details["slope_ci_low"] > high)
    return details


def evaluate_rate(claim: dict, runs: pd.DataFrame):
    """One row: ``successes`` of ``n`` runs with ``metric <= at_most``, ``rate``, its 95% Wilson CI
    ``rate_ci_low``/``_high``; ``holds`` when ``rate_ci_low >= required_rate``, ``fails`` when
    ``rate_ci_high < required_rate``, neither (undecided) otherwise."""
    required = claim["required_rate"]
    if not 0 <= required <= 1:
        raise ValueError(f"claim {claim['id']}: required_rate must lie in [0, 1], got {required}")
    selected = _select(runs, claim["select"], claim["id"])
    successes = int((selected[claim["metric"]] <= claim["at_most"]).sum())
    total = len(selected)
    low, high = proportion_confint(successes, total, alpha=1 - CONFIDENCE, method="wilson")
    return pd.DataFrame(
        [{"context": _context_text([], ()), "successes": successes, "n": total, "rate": successes / total,
          "rate_ci_low": low, "rate_ci_high": high, "holds": bool(low >= required), "fails": bool(high < required)}]
    )


def _fmt(value: float) -> str:
    return "n/a" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.3g}"


def _evidence(claim: dict, details: pd.DataFrame) -> list[str]:
    lines = []
    for row in details.itertuples(index=False):
        if claim["kind"] == "paired":
            lines.append(
                f"{row.context}: {row.better} vs {row.baseline}: median {claim['metric']} {_fmt(row.median_a)} vs "
                f"{_fmt(row.median_b)}, P(better) {_fmt(row.probability_of_improvement)}, Holm p {_fmt(row.p_holm)}, n {row.n_pairs}"
            )
        elif claim["kind"] == "slope":
            lines.append(f"{row.context}: slope {_fmt(row.slope)} [{_fmt(row.slope_ci_low)}, {_fmt(row.slope_ci_high)}] over scales {row.scales}")
        else:
            lines.append(
                f"{row.successes} of {row.n} runs with {claim['metric']} <= {claim['at_most']:g} "
                f"(rate {_fmt(row.rate)}, 95% CI [{_fmt(row.rate_ci_low)}, {_fmt(row.rate_ci_high)}])"
            )
    return lines


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


def evaluate_claims(
    claims: dict, trials: pd.DataFrame, article_runs: pd.DataFrame, slopes: pd.DataFrame, alpha: float, n_resamples: int, seed: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Evaluates every claim at family-wise level ``alpha``; returns ``(verdicts, details)``.

    ``verdicts``: one row per claim: ``id, name, claim, article, kind, rule, verdict, holds_in``
    (contexts where it holds), ``n_contexts``, ``n_holds``, ``evidence`` (one line per context).
    ``details``: one row per claim and context with the numbers behind the verdict.
    """
    verdicts, details = [], []
    for claim in claims["claims"]:
        if claim["kind"] == "paired":
            detail = evaluate_paired(claim, trials, alpha, n_resamples, seed)
        elif claim["kind"] == "slope":
            detail = evaluate_slope(claim, slopes)
        else:
            detail = evaluate_rate(claim, article_runs)
        verdicts.append(
            {
                "id": claim["id"],
                "name": claim["name"],
                "claim": claim["claim"],
                "article": claim["article"],
                "kind": claim["kind"],
                "rule": decision_rule(claim, alpha),
                "verdict": _verdict(detail["holds"].tolist(), detail["fails"].tolist()),
                "holds_in": "; ".join(sorted(set(detail.loc[detail["holds"], "context"]))) or "nowhere",
                "n_contexts": len(detail),
                "n_holds": int(detail["holds"].sum()),
                "evidence": "\n".join(_evidence(claim, detail)),
            }
        )
        details.append(detail.assign(id=claim["id"]))
    return pd.DataFrame(verdicts), pd.concat(details, ignore_index=True)
