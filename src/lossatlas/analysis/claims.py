"""Verdicts for the article's claims, computed from the results; none is written by hand.

A claims file (YAML; read and checked by :mod:`lossatlas.design.claimspec`) lists each claim in plain words,
the comparison that decides it and its threshold. Three kinds of claim, each decided per context: it *holds*, *fails*, or neither
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

A paired claim is judged (``judged_by``) at a fixed budget (``budget``: ``metric`` after the
experiment's epochs, the article's protocol) and/or by time to target (``time``), at Keras's default
rate and/or at each cell's tuned rate (``rates``: ``default``, ``tuned``; see :mod:`lossatlas.design.views`),
each judgment and rate with its own verdict. By time to target, per context and pair:

``time_question: faster`` (the default): ``better`` reaches the nRMSE threshold k times sooner than
    ``baseline`` (the ratio of their Kaplan-Meier medians, paired bootstrap CI over seeds). It holds
    when the CI's lower end is above 1, or ``better`` reached the threshold while ``baseline``
    stalled or diverged; it fails when the CI's upper end is below 1, or ``better`` stalled or
    diverged while ``baseline`` reached it; it is undecided otherwise (both undecided at the cap, or
    a CI across 1).
``time_question: stuck``: ``baseline`` is stuck, not only slow. It holds ("stuck") only where the
    stall rule fired for ``baseline`` (:mod:`lossatlas.stats.convergence`); it fails ("slow") where
    ``baseline`` reached the threshold, later or not; it is undecided ("undecided at the cap")
    where neither happened.

A claim whose ``contrast`` is ``learning_rate_factor`` compares rates of one tuned experiment's
sweep as multiples of the optimizer's default (``[[0.1, 1]]``: a tenth of the default against the
default); it is judged at the default rate only.

Verdict (:data:`VERDICTS`), over the claim's contexts: *supported* when the claim holds in every
context; *not supported* when it fails in every context; *mixed* when it holds in at least one
context and fails in at least one; *undecided* otherwise, i.e. when some context is undecided and
deciding it could still change the verdict (nothing fails and something is undecided, or nothing
holds and something is undecided). So an undecided context never counts as failing: a claim is
called supported or not supported only when every context is decided.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from statsmodels.stats.proportion import proportion_confint

from lossatlas.analysis.wording import decision_rule, evidence, outcome_summary, time_rule
from lossatlas.core.results import BASE
from lossatlas.core.seeds import derive_seed
from lossatlas.design.claimspec import JUDGMENTS, claim_defaults
from lossatlas.design.selection import claim_rows, claim_select, context_text, pairs
from lossatlas.design.views import VIEWS
from lossatlas.stats.bootstrap import CONFIDENCE
from lossatlas.stats.paired import holm_correct, paired_comparison
from lossatlas.stats.survival import time_ratio

#: What a time-to-target context says, by question and outcome.
TIME_WORDS = {"stuck": {"holds": "stuck", "fails": "slow", "undecided": "undecided at the cap"},
              "faster": {"holds": "sooner", "fails": "not sooner", "undecided": "undecided"}}
#: Every verdict a claim can get; see the module documentation for the rule.
VERDICTS = ("supported", "not supported", "mixed", "undecided")


def verdict(holds: list[bool], fails: list[bool]) -> str:
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
    """One row per context and pair: :func:`lossatlas.stats.paired.paired_comparison` of ``better``
    (``a``) against ``baseline`` (``b``) on ``metric``, ``p_holm`` over the claim's rows, ``holds``
    (Holm rejects at ``alpha`` and ``hodges_lehmann < 0``) and ``fails`` (``not holds``)."""
    selected = claim_select(trials, claim["select"], claim["id"])
    metric, contrast = claim["metric"], claim["contrast"]
    rows = []
    for context, key, better, baseline, group in pairs(claim, selected, contrast):
        values = group.assign(**{metric: group[metric].where(~group["diverged"]), contrast: group[contrast].astype(str)})
        wide = values.pivot(index="seed", columns=contrast, values=metric)
        result = paired_comparison(
            wide[better].to_numpy(),
            wide[baseline].to_numpy(),
            seed=derive_seed(seed, "claim", claim["id"], *key, better, baseline),
            n_resamples=n_resamples,
        )
        rows.append({"context": context, **dict(zip(claim["contexts"], key)), "better": better, "baseline": baseline, **result})
    details = pd.DataFrame(rows)
    rejected, adjusted = holm_correct(details["p_value"].to_numpy(), alpha)
    details["p_holm"] = adjusted
    details["holds"] = rejected & (details["hodges_lehmann"] < 0)
    details["fails"] = ~details["holds"]
    return details


def evaluate_time(claim: dict, trials: pd.DataFrame, cells: pd.DataFrame, n_resamples: int, seed: int):
    """One row per context and pair, by time to target: the paired ratio of the Kaplan-Meier median
    steps to the threshold (:func:`lossatlas.stats.survival.time_ratio`, ``baseline / better``), each
    cell's ``*_status`` (``horizon_status`` of the cells table), ``outcome`` (the words of
    :data:`TIME_WORDS`), ``holds`` and ``fails`` (see the module doc)."""
    selected = claim_select(trials, claim["select"], claim["id"])
    contrast, question = claim["contrast"], claim["time_question"]
    facts = ("horizon_status", "diagnosis", "improvement_per_doubling", "horizon_steps")
    indexed = cells.set_index([*BASE, "learning_rate"]).reindex(columns=list(facts))
    rows = []
    for context, key, better, baseline, group in pairs(claim, selected, contrast):
        group = group.assign(**{contrast: group[contrast].astype(str)})
        steps = group.pivot(index="seed", columns=contrast, values="steps_to_threshold")
        reached = group.pivot(index="seed", columns=contrast, values="reached_threshold").astype(bool)
        result = time_ratio(steps[better].to_numpy(), reached[better].to_numpy(), steps[baseline].to_numpy(),
                            reached[baseline].to_numpy(), n_resamples, derive_seed(seed, "time", claim["id"], *key, better, baseline))
        states, facts_of = {}, {}
        for name, level in (("better", better), ("baseline", baseline)):
            cell = group[group[contrast] == level].iloc[0]
            index = tuple(cell[c] for c in [*BASE, "learning_rate"])
            found = indexed.loc[index] if index in indexed.index else pd.Series(index=list(facts), dtype=object)
            status = found["horizon_status"]
            states[name] = status if isinstance(status, str) and status != "dropped" else "undecided"
            diagnosis = found["diagnosis"] if isinstance(found["diagnosis"], str) else ""
            facts_of.update({f"{name}_diagnosis": diagnosis, f"{name}_improvement": float(found["improvement_per_doubling"]),
                             f"{name}_steps": float(found["horizon_steps"])})
        if question == "stuck":
            holds, fails = states["baseline"] == "stalled", states["baseline"] == "reached"
        else:
            low, high = result["ratio_ci_low"], result["ratio_ci_high"]
            stopped = ("stalled", "diverged")
            holds = low > 1 or (states["better"] == "reached" and states["baseline"] in stopped)
            fails = (high < 1) or (states["better"] in stopped and states["baseline"] == "reached")
            holds, fails = bool(holds and not fails), bool(fails and not holds)
        outcome = TIME_WORDS[question]["holds" if holds else "fails" if fails else "undecided"]
        rows.append({"context": context, **dict(zip(claim["contexts"], key)), "better": better, "baseline": baseline, **result,
                     "better_status": states["better"], "baseline_status": states["baseline"], **facts_of,
                     "outcome": outcome, "holds": bool(holds), "fails": bool(fails)})
    return pd.DataFrame(rows)


def evaluate_slope(claim: dict, slopes: pd.DataFrame):
    """The rows of the slopes table (:func:`lossatlas.analysis.analyses.scale_slopes`) that ``select`` and
    ``metric`` name, with ``context``, ``holds`` (CI inside ``expected_slope``) and ``fails`` (CI
    outside it)."""
    if "dataset" in claim["select"]:
        raise ValueError(f"claim {claim['id']}: a slope is taken over the target-scale datasets; select cannot name 'dataset'")
    slopes = claim_select(slopes[slopes["metric"] == claim["metric"]], claim["select"], claim["id"])
    low, high = claim["expected_slope"]
    contexts = list(claim["contexts"])
    details = slopes.assign(context=[context_text(contexts, row) for row in slopes[contexts].itertuples(index=False)])
    details["holds"] = (details["slope_ci_low"] >= low) & (details["slope_ci_high"] <= high)
    details["fails"] = (details["slope_ci_high"] < low) | (details["slope_ci_low"] > high)
    return details


def evaluate_rate(claim: dict, runs: pd.DataFrame):
    """One row: ``successes`` of ``n`` runs with ``metric <= at_most``, ``success_rate``, its 95% Wilson CI
    ``rate_ci_low``/``_high``; ``holds`` when ``rate_ci_low >= required_rate``, ``fails`` when
    ``rate_ci_high < required_rate``, neither (undecided) otherwise."""
    required = claim["required_rate"]
    if not 0 <= required <= 1:
        raise ValueError(f"claim {claim['id']}: required_rate must lie in [0, 1], got {required}")
    selected = claim_select(runs, claim["select"], claim["id"])
    successes = int((selected[claim["metric"]] <= claim["at_most"]).sum())
    total = len(selected)
    low, high = proportion_confint(successes, total, alpha=1 - CONFIDENCE, method="wilson")
    return pd.DataFrame(
        [{"context": context_text([], ()), "successes": successes, "n": total, "success_rate": successes / total,
          "rate_ci_low": low, "rate_ci_high": high, "holds": bool(low >= required), "fails": bool(high < required)}]
    )


#: The verdict columns of the claims table: one per judgment and rate.
VERDICT_COLUMNS = tuple(f"verdict_{judged}_{rate}" for judged in JUDGMENTS for rate in VIEWS)
#: The per-optimizer verdicts of the claims table: one per judgment and rate.
OPTIMIZER_COLUMNS = tuple(f"by_optimizer_{judged}_{rate}" for judged in JUDGMENTS for rate in VIEWS)


def by_optimizer(claim: dict, detail: pd.DataFrame, judged: str) -> str:
    """One verdict per optimizer of a claim whose contexts include the optimizer, each with what
    decides it: ``"adam: not supported (slow: 5 of 5 contexts reach the target, at 1.2–2× the steps
    of binary_crossentropy); sgd: undecided (undecided at the cap in 5 of 5: still descending, 3.1%
    per doubling at 102,400 steps)"``; ``""`` for other claims."""
    if "optimizer" not in claim.get("contexts", ()) or "optimizer" not in detail:
        return ""
    parts = []
    for optimizer, rows in detail.groupby("optimizer", sort=True):
        word = verdict(rows["holds"].tolist(), rows["fails"].tolist())
        parts.append(f"{optimizer}: {word} ({outcome_summary(claim, rows, judged)})")
    return "; ".join(parts)


def evaluate_claims(
    claims: dict,
    trials: pd.DataFrame,
    cells: pd.DataFrame,
    article_runs: pd.DataFrame,
    slopes: pd.DataFrame,
    study,
    tuned: pd.DataFrame,
    n_resamples: int,
    seed: int,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Evaluates every claim (the study's ``statistics.alpha`` is the family-wise level); returns
    ``(verdicts, details)``.

    ``verdicts``: one row per claim: ``id, name, claim, article, kind, judged_by, rates, rule``
    (the budget rule in words), ``time_rule``, one verdict per judgment and rate
    (:data:`VERDICT_COLUMNS`, empty where the claim is not judged so), ``verdict`` (the first of its
    judgments at its first rate: its headline), and for that headline ``holds_in`` (contexts where it
    holds), ``n_contexts``, ``n_holds``; ``evidence``: one line per judgment, rate, context and pair.
    ``details``: one row per claim, judgment, rate, context and pair with the numbers behind them.
    """
    alpha = study.config["statistics"]["alpha"]
    verdicts, details = [], []
    for claim in claims["claims"]:
        claim_defaults(claim)
        results = []  # (judged, rate, detail)
        if claim["kind"] == "paired":
            for judged in claim["judged_by"]:
                for rate in claim["rates"]:
                    rows = claim_rows(claim, trials, rate, study, tuned, judged)
                    if judged == "budget":
                        detail = evaluate_paired(claim, rows, alpha, n_resamples, seed)
                    else:
                        detail = evaluate_time(claim, rows, claim_rows(claim, cells, rate, study, tuned, judged), n_resamples, seed)
                    results.append((judged, rate, detail))
        elif claim["kind"] == "slope":
            results.append(("budget", "default", evaluate_slope(claim, slopes)))
        else:
            results.append(("budget", "default", evaluate_rate(claim, article_runs)))
        row = {
            "id": claim["id"], "name": claim["name"], "claim": claim["claim"], "article": claim["article"],
            "kind": claim["kind"], "judged_by": ", ".join(claim["judged_by"]), "rates": ", ".join(claim["rates"]),
            "rule": decision_rule(claim, alpha) if "budget" in claim["judged_by"] else "",
            "time_rule": time_rule(claim) if "time" in claim["judged_by"] else "",
            **{column: "" for column in (*VERDICT_COLUMNS, *OPTIMIZER_COLUMNS)},
        }
        lines = []
        for judged, rate, detail in results:
            row[f"verdict_{judged}_{rate}"] = verdict(detail["holds"].tolist(), detail["fails"].tolist())
            row[f"by_optimizer_{judged}_{rate}"] = by_optimizer(claim, detail, judged)
            lines += [f"[{judged}, {rate} rate] {line}" for line in evidence(claim, detail, judged)]
            details.append(detail.assign(id=claim["id"], judged=judged, rate=rate))
        judged, rate, headline = results[0]
        row.update(
            verdict=row[f"verdict_{judged}_{rate}"],
            verdict_by_optimizer=row[f"by_optimizer_{judged}_{rate}"],
            holds_in="; ".join(sorted(set(headline.loc[headline["holds"], "context"]))) or "nowhere",
            n_contexts=len(headline),
            n_holds=int(headline["holds"].sum()),
            evidence="\n".join(lines),
        )
        verdicts.append(row)
    return pd.DataFrame(verdicts), pd.concat(details, ignore_index=True)
