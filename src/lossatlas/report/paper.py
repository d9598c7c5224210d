"""The paper: the answer first, a numbered finding per topic of the claims file, what to do.

The paper (``report.html`` / ``report.pdf``) and its supplement are rendered from one context
(:func:`lossatlas.report.render.build_context`); this module adds what only the paper shows, all of
it computed from the analysis tables:

* ``findings``: the claims file's ``findings`` (a topic, the claims that decide it and the kind of
  figure shown with it; one finding per claim where the file has none), each with a lead sentence
  (each claim's headline verdict and its number with a 95% CI), its figure and its verdicts per
  judgment, rate and optimizer;
* ``todo``: the remedies, situation -> remedy -> effect [CI] -> verdicts;
* ``abstract``: at most :data:`ABSTRACT_WORDS` words that answer the question, per optimizer where
  the answer differs.

Numbers follow :mod:`lossatlas.core.textfmt`. No Matplotlib or TensorFlow.
"""

from __future__ import annotations

import math
import re
from typing import Mapping, Sequence

import pandas as pd

from lossatlas.core.textfmt import format_interval, format_number, format_range, join_words
from lossatlas.design.selection import RATE_FACTOR

#: The abstract's length limit, in words.
ABSTRACT_WORDS = 200
#: What a judgment and rate is called in running text.
JUDGMENT_WORDS = {("budget", "default"): "at the budget and the default rate", ("budget", "tuned"): "at the budget and tuned rates",
                  ("time", "default"): "by time to target at the default rate", ("time", "tuned"): "by time to target at time-tuned rates"}
#: Metrics in words.
METRIC_WORDS = {"final_test_rrmse": "final test rRMSE", "final_test_nrmse": "final test nRMSE", "final_test_rmse": "final test RMSE",
                "initial_grad_norm": "the initial gradient norm", "first_epoch_update_norm": "the first epoch's update",
                "final_loss": "final training loss"}


def ratio_interval(value: float, low: float, high: float) -> str:
    """A ratio and its CI by the report's rule for ratios (2 significant digits; the CI with the
    estimate's decimals): ``"3.1 [2.8, 3.5]"``."""
    return interval(value, low, high, 2)


def interval(value: float, low: float, high: float, digits: int) -> str:
    """``"estimate [low, high]"`` by :func:`lossatlas.core.textfmt.format_interval` (``digits``: 2
    for a ratio, 3 for an error or a rate); ``"n/a"`` where the estimate is not finite."""
    if value is None or not math.isfinite(float(value)):
        return "n/a"
    return format_interval(value, low, high, "ratio" if digits == 2 else "error")


def effect_phrase(row: Mapping, metric: str) -> str:
    """How much lower (or higher) the better level's metric is: ``"final test rRMSE 3.1 [2.8, 3.5]
    times lower"``, from an effects row (``effect`` = baseline / better, with its CI)."""
    effect, low, high = (float(row[name]) for name in ("effect", "effect_ci_low", "effect_ci_high"))
    if not math.isfinite(effect):
        return f"{METRIC_WORDS.get(metric, metric)}: no finite paired ratio"
    if effect >= 1:
        return f"{METRIC_WORDS.get(metric, metric)} {ratio_interval(effect, low, high)} times lower"
    return f"{METRIC_WORDS.get(metric, metric)} {ratio_interval(1 / effect, 1 / high, 1 / low)} times higher"


def claim_number(claim: Mapping, details: pd.DataFrame, effects: pd.DataFrame) -> str:
    """The claim's number with its 95% CI: the paired effect at each rate it is judged at, the
    slope per context, or the share of the article's runs."""
    rows = details[(details["id"].astype(str) == str(claim["id"])) & (details["judged"].astype(str) == "budget")]
    if claim["kind"] == "slope":
        parts = [f"slope {interval(row['slope'], row['slope_ci_low'], row['slope_ci_high'], 2)} ({row['context']})" for _, row in rows.iterrows()]
        return f"{METRIC_WORDS.get(claim['metric'], claim['metric'])} against the target scale: " + "; ".join(parts)
    if claim["kind"] == "rate":
        row = rows.iloc[0]
        return (f"{format_number(int(row['successes']))} of {format_number(int(row['n']))} runs "
                f"({interval(100 * row['success_rate'], 100 * row['rate_ci_low'], 100 * row['rate_ci_high'], 2)}%)")
    pair = claim["pairs"][0]
    if "budget" not in claim.get("judged_by", ["budget"]):
        timed = details[(details["id"].astype(str) == str(claim["id"])) & (details["judged"].astype(str) == "time")]
        parts = []
        for rate, rows in timed.groupby("rate", sort=False):
            ratios = [float(value) for value in rows["ratio"] if math.isfinite(float(value))]
            where = "time-tuned" if rate == "tuned" else str(rate)
            parts.append(f"{pair[1]} takes {format_range(ratios)} times the steps of {pair[0]} to the target at the {where} rate "
                         f"(in the {len(ratios)} of {len(rows)} contexts where both reach it)" if ratios else
                         f"in no context do both reach the target at the {where} rate")
        return "; ".join(parts)
    own = effects[effects["id"].astype(str) == str(claim["id"])] if len(effects) else effects
    parts = [f"{effect_phrase(row, claim['metric'])} at the {'tuned' if row['rate'] == 'tuned' else 'default'} rate"
             for _, row in own.iterrows()]
    contrast = "rate" if claim.get("contrast") == RATE_FACTOR else claim["contrast"]
    subject = f"{pair[0]} × the default rate rather than the default" if claim.get("contrast") == RATE_FACTOR else f"{contrast} {pair[0]} rather than {pair[1]}"
    return f"with {subject}: " + (join_words(parts) if parts else "no paired values")


def verdict_rows(entry: Mapping) -> list[dict]:
    """A claim's verdicts as the finding's table shows them: one row per judgment and rate it is
    judged at, ``{"id", "judgment", "verdict" (the badge entry), "by_optimizer"}``."""
    rows = []
    for judgment in entry["judgments"]:
        if judgment["verdict"] is None:
            continue
        rows.append({"id": entry["id"], "name": entry["name"], "judgment": JUDGMENT_WORDS[(judgment["judged"], judgment["rate"])],
                     "verdict": judgment["verdict"], "by_optimizer": judgment["by_optimizer"]})
    return rows


def headline(entry: Mapping, claim: Mapping, words: bool = True) -> str:
    """A claim's verdict in a clause: for a claim that asks "slow or stuck?", the time verdict at
    time-tuned rates (the rate that reaches the target soonest); else its headline (its first
    judgment at its first rate); per optimizer where they disagree: ``"not supported under adam and
    undecided under sgd by time to target at time-tuned rates"`` (without the judgment's words
    unless ``words``)."""
    judgments = {(j["judged"], j["rate"]): j for j in entry["judgments"] if j["verdict"] is not None}
    first = (claim.get("judged_by", ["budget"])[0], claim.get("rates", ["default"])[0])
    key = ("time", "tuned") if claim.get("time_question") == "stuck" and ("time", "tuned") in judgments else first
    chosen = judgments.get(key) or next(iter(judgments.values()))
    suffix = f" {JUDGMENT_WORDS[(chosen['judged'], chosen['rate'])]}" if words else ""
    optimizers = chosen["by_optimizer"]
    if optimizers and len({o["verdict"] for o in optimizers}) > 1:
        return join_words([f"{o['verdict']} under {o['optimizer']}" for o in optimizers]) + suffix
    return f"{chosen['verdict']['verdict']}{suffix}"


def figure_for(finding: Mapping, figures: Mapping[str, dict], time_groups: Sequence[Mapping]) -> dict | None:
    """The study figure shown with a finding (``figures``: name -> figure entry): by kind; the
    time-to-target figure of its first claim judged by time; the first learning-rate figure."""
    kind = finding.get("figure")
    if not kind:
        return None
    if kind == "time_to_target":
        for group in time_groups:
            if any(claim_id in group["claims"] for claim_id in finding["claims"]) and group["name"] in figures:
                return figures[group["name"]]
        return None
    if kind == "lr_sensitivity":
        return next((entry for name, entry in figures.items() if name.startswith("lr_sensitivity")), None)
    return figures.get(kind)


def findings_context(findings: Sequence[Mapping] | None, claims: Sequence[Mapping], entries: Sequence[Mapping],
                     details: pd.DataFrame, effects: pd.DataFrame, figures: Mapping[str, dict],
                     time_groups: Sequence[Mapping]) -> list[dict]:
    """The paper's numbered findings (see the module doc): ``number``, ``title``, ``lead`` (one
    sentence: each claim's verdict and number), ``figure`` (an entry of ``figures`` or None) and
    ``rows`` (:func:`verdict_rows` of its claims)."""
    by_id = {str(claim["id"]): claim for claim in claims}
    entry_of = {entry["id"]: entry for entry in entries}
    topics = findings or [{"title": claim["name"], "claims": [claim["id"]]} for claim in claims]
    out = []
    for number, finding in enumerate(topics, 1):
        ids = [str(claim_id) for claim_id in finding["claims"] if str(claim_id) in entry_of]
        if not ids:
            continue
        clauses = [f"{by_id[i]['name'].rstrip('.')} ({i}): {headline(entry_of[i], by_id[i])}; {claim_number(by_id[i], details, effects)}" for i in ids]
        out.append({
            "number": str(len(out) + 1),
            "title": finding["title"],
            "lead": ". ".join(clauses) + ".",
            "figure": figure_for(finding, figures, time_groups),
            "rows": [row for i in ids for row in verdict_rows(entry_of[i])],
            "claims": ids,
        })
    return out


def todo_context(claims: Sequence[Mapping], effects: pd.DataFrame, entries: Sequence[Mapping]) -> list[dict]:
    """What to do: one row per remedy claim in rank order, ``situation`` (what the claim selects,
    but the contrast), ``remedy`` (better level rather than the baseline), ``effect`` per rate (the
    final metric's ratio and CI) and the verdicts per judgment and rate."""
    if not len(effects) or "remedy" not in effects:
        return []
    remedies = effects[effects["remedy"].astype(str).str.lower().isin(["true", "1"])]
    by_id = {str(claim["id"]): claim for claim in claims}
    entry_of = {entry["id"]: entry for entry in entries}
    rows = []
    for claim_id, part in remedies.sort_values(["rank", "rate"], kind="stable").groupby("id", sort=False):
        claim = by_id.get(str(claim_id))
        if claim is None or str(claim_id) not in entry_of:
            continue
        select = {key: value for key, value in claim["select"].items() if key not in ("experiment", "dataset", claim["contrast"])}
        situation = ", ".join(f"{key} {join_words([str(v) for v in value]) if isinstance(value, list) else value}" for key, value in select.items())
        pairs = "; ".join(f"{better} rather than {baseline}" for better, baseline in claim["pairs"])
        contrast = "learning rate (× default)" if claim.get("contrast") == RATE_FACTOR else claim["contrast"]
        rows.append({
            "rank": format_number(int(part["rank"].iloc[0])),
            "id": str(claim_id),
            "situation": situation or "all",
            "remedy": f"{contrast}: {pairs}",
            "remedy_words": f"{pairs} {contrast}" if claim.get("contrast") != RATE_FACTOR else f"{pairs} times the default rate",
            "effects": [{"rate": str(row["rate"]), "text": ratio_interval(row["effect"], row["effect_ci_low"], row["effect_ci_high"])}
                        for _, row in part.iterrows()],
            "verdicts": verdict_rows(entry_of[str(claim_id)]),
        })
    return rows


def word_count(text: str) -> int:
    """Words of ``text`` as a reader counts them (numbers and CIs count; markup does not)."""
    return len(re.findall(r"[^\s]+", re.sub(r"<[^>]+>", " ", text)))


def abstract_text(study_facts: Mapping, findings: Sequence[Mapping], claims: Sequence[Mapping], entries: Sequence[Mapping],
                  todo: Sequence[Mapping]) -> str:
    """The abstract: what was run, each claim's verdict (per optimizer where they disagree), finding
    by finding, and the remedy with the largest effect at the default rate. Of three levels of
    detail (each claim by name with the judgment its verdict is at; by name; by id under its
    finding's topic), the first that fits in :data:`ABSTRACT_WORDS` words."""
    entry_of = {entry["id"]: entry for entry in entries}
    by_id = {str(claim["id"]): claim for claim in claims}
    opening = (f"We test {len(entries)} claims on {study_facts['n_trials']} seeded training runs of Keras models "
               f"({study_facts['n_cells']} settings), each at the training budget and by the steps to a target fit, at "
               f"Keras's default and at tuned learning rates.")
    closing = ""
    if todo:
        best = todo[0]
        closing = (f" Of the remedies, {best['remedy_words']} ({best['id']}) lowers the test error most at Keras's default "
                   f"rate: {best['effects'][0]['text']} times.")
    candidates = []
    for level in ("full", "names", "ids"):
        sentences = []
        for finding in findings:
            if level == "ids":
                verdicts = ", ".join(f"{i} {headline(entry_of[i], by_id[i], False)}" for i in finding["claims"])
                sentences.append(f"{finding['title'].rstrip('?.')}: {verdicts}.")
                continue
            for i in finding["claims"]:
                sentences.append(f"{entry_of[i]['name'].rstrip('.')} ({i}): {headline(entry_of[i], by_id[i], level == 'full')}.")
        candidates.append(opening + " " + " ".join(sentences) + closing)
    return next((text for text in candidates if word_count(text) <= ABSTRACT_WORDS), candidates[-1])
