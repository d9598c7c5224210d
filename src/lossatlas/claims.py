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

A paired claim is judged (``judged_by``) at a fixed budget (``budget``: ``metric`` after the
experiment's epochs, the article's protocol) and/or by time to target (``time``), at Keras's default
rate and/or at each cell's tuned rate (``rates``: ``default``, ``tuned``; see :mod:`lossatlas.views`),
each judgment and rate with its own verdict. By time to target, per context and pair:

``time_question: faster`` (the default): ``better`` reaches the nRMSE threshold k times sooner than
    ``baseline`` (the ratio of their Kaplan-Meier medians, paired bootstrap CI over seeds). It holds
    when the CI's lower end is above 1, or ``better`` reached the threshold while ``baseline``
    stalled or diverged; it fails when the CI's upper end is below 1, or ``better`` stalled or
    diverged while ``baseline`` reached it; it is undecided otherwise (both undecided at the cap, or
    a CI across 1).
``time_question: stuck``: ``baseline`` is stuck, not only slow. It holds ("stuck") only where the
    stall rule fired for ``baseline`` (:mod:`lossatlas.convergence`); it fails ("slow") where
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

import math
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from statsmodels.stats.proportion import proportion_confint

from lossatlas.compare import holm_correct, paired_comparison, time_ratio
from lossatlas.seeds import derive_seed
from lossatlas.stats import CONFIDENCE
from lossatlas.views import BASE, VIEWS

KINDS = ("paired", "slope", "rate")
JUDGMENTS = ("budget", "time")
TIME_QUESTIONS = ("faster", "stuck")
#: What a time-to-target context says, by question and outcome.
TIME_WORDS = {"stuck": {"holds": "stuck", "fails": "slow", "undecided": "undecided at the cap"},
              "faster": {"holds": "sooner", "fails": "not sooner", "undecided": "undecided"}}
#: Every verdict a claim can get; see the module documentation for the rule.
VERDICTS = ("supported", "not supported", "mixed", "undecided")


SCHEMA_PATH = Path(__file__).resolve().parents[2] / "workflow" / "schemas" / "claims.schema.yaml"
#: Columns of the article's verbatim runs a rate claim can bound.
RUN_METRICS = ("final_loss", "train_mse", "test_mse", "test_rmse")


class ClaimsError(ValueError):
    """A claims file that cannot be evaluated; the message names the file, the claim and the key."""


def load_claims(path: str | Path) -> dict:
    """Reads a claims file (duplicate keys refused) and checks it against its schema
    (``workflow/schemas/claims.schema.yaml``) and its own rules; fills in the defaults
    (``judged_by: [budget]``, ``rates: [default]``, ``time_question: faster``). Raises
    :class:`ClaimsError` naming the file, the claim id and the key."""
    from lossatlas.config import ConfigError, _validator, read_yaml

    try:
        document = read_yaml(path)
    except ConfigError as error:
        raise ClaimsError(str(error)) from None
    if isinstance(document, dict) and "alpha" in document:
        raise ClaimsError(f"{path}: key 'alpha' is set once for the whole study, as the config's statistics.alpha")
    errors = sorted(_validator(yaml.safe_load(SCHEMA_PATH.read_text())).iter_errors(document), key=lambda e: [str(p) for p in e.path])
    if errors:
        raise ClaimsError(_schema_message(path, document, errors[0]))
    seen = set()
    for claim in document["claims"]:
        where = f"{path}: claim {claim['id']}"
        if claim["id"] in seen:
            raise ClaimsError(f"{where}: key 'id': {claim['id']!r} is used by an earlier claim")
        seen.add(claim["id"])
        claim_defaults(claim)
        if claim["kind"] != "paired" and (claim["judged_by"] != ["budget"] or claim["rates"] != ["default"]):
            raise ClaimsError(f"{where}: key 'judged_by'/'rates': a {claim['kind']} claim is judged at the budget and default rate only")
        if claim.get("contrast") == "learning_rate_factor" and claim["rates"] != ["default"]:
            raise ClaimsError(f"{where}: key 'rates': a learning_rate_factor contrast is judged at the default rate only")
    return document


def claim_defaults(claim: dict) -> dict:
    """``claim`` with the defaults of the keys it leaves out: judged at the budget, at the default
    rate, by the question "faster"."""
    claim.setdefault("judged_by", ["budget"])
    claim.setdefault("rates", ["default"])
    claim.setdefault("time_question", "faster")
    return claim


def _schema_message(path, document, error) -> str:
    """The first line of a claims-file schema error: the file, the claim id and the key."""
    parts = [str(part) for part in error.path]
    where = f"{path}"
    if len(parts) >= 2 and parts[0] == "claims" and parts[1].isdigit():
        claim = document["claims"][int(parts[1])]
        where += f": claim {claim.get('id', '#' + str(int(parts[1]) + 1)) if isinstance(claim, dict) else '#' + parts[1]}"
        parts = parts[2:]
    if error.validator == "required":
        return f"{where}: key '{'.'.join([*parts, error.message.split(chr(39))[1]])}': missing (required)"
    if error.validator == "additionalProperties":
        extra = sorted(set(error.instance) - set(error.schema.get("properties", {})))
        return f"{where}: key '{'.'.join([*parts, extra[0]])}': unknown key (not in workflow/schemas/claims.schema.yaml)"
    return f"{where}: key '{'.'.join(parts) or '(top level)'}' = {error.instance!r}: {error.message}"


def check_claims(claims: dict, study, path: str | Path = "claims") -> None:
    """Checks that every claim of ``claims`` can be evaluated on what ``study`` runs: its metric is
    one the pipeline produces, and its ``select``, ``contexts``, ``contrast`` and ``pairs`` name
    coordinates and values the config runs (and ``time`` / ``tuned`` judgments experiments that
    train past the budget / tune their rates). Raises :class:`ClaimsError` naming the file, the
    claim id and the key; it runs when the workflow is parsed, before any training."""
    from lossatlas.analysis import SLOPE_METRICS
    from lossatlas.results import LABELS, TABLES

    trial_metrics = [c for c in TABLES["trials"].columns if c not in (*LABELS, "seed", "learning_rate")]
    values = {column: {str(getattr(cell, column)) for cell in study.cells} for column in LABELS}
    for claim in claims["claims"]:
        where = f"{path}: claim {claim['id']}"
        kind = claim["kind"]
        metrics = {"paired": trial_metrics, "slope": SLOPE_METRICS, "rate": RUN_METRICS}[kind]
        if claim["metric"] not in metrics:
            raise ClaimsError(f"{where}: key 'metric' = {claim['metric']!r}: not a metric the pipeline produces; choose from {', '.join(metrics)}")
        if kind == "rate":
            continue
        for column, wanted in claim["select"].items():
            if column not in values:
                raise ClaimsError(f"{where}: key 'select.{column}': not a coordinate; choose from {', '.join(LABELS)}")
            for value in wanted if isinstance(wanted, list) else [wanted]:
                if str(value) not in values[column]:
                    raise ClaimsError(f"{where}: key 'select.{column}' = {value!r}: the config runs no such {column}")
        for column in claim.get("contexts", []):
            if column not in values:
                raise ClaimsError(f"{where}: key 'contexts' = {column!r}: not a coordinate; choose from {', '.join(LABELS)}")
        selected = [cell for cell in study.cells if all(
            str(getattr(cell, c)) in {str(v) for v in (w if isinstance(w, list) else [w])} for c, w in claim["select"].items())]
        if not selected:
            raise ClaimsError(f"{where}: key 'select': matches no cell the config runs")
        if kind != "paired":
            continue
        contrast = claim["contrast"]
        if contrast == "learning_rate_factor":
            levels = {f"{cell.learning_rate / study.optimizers[cell.optimizer].learning_rate:.3g}" for cell in selected}
        elif contrast in values:
            levels = {str(getattr(cell, contrast)) for cell in selected}
        else:
            raise ClaimsError(f"{where}: key 'contrast' = {contrast!r}: not a coordinate (or learning_rate_factor)")
        for pair in claim["pairs"]:
            for level in pair:
                if str(level) not in levels:
                    raise ClaimsError(f"{where}: key 'pairs' = {level!r}: no selected cell has {contrast} {level!r}; "
                                      f"the selected cells have {', '.join(sorted(levels))}")
        experiments = {cell.experiment for cell in selected}
        if "time" in claim["judged_by"] and not all(study.experiments[e].horizon for e in experiments):
            raise ClaimsError(f"{where}: key 'judged_by': time to target needs experiments with horizon: true "
                              f"({', '.join(sorted(e for e in experiments if not study.experiments[e].horizon))} has none)")
        if contrast == "learning_rate_factor" and "time" in claim["judged_by"]:
            for experiment in sorted(experiments):
                trained = {f"{factor:.3g}" for factor in (1.0, *study.horizon_rate_factors(experiment))}
                missing = sorted({str(level) for pair in claim["pairs"] for level in pair} - trained)
                if missing:
                    raise ClaimsError(f"{where}: key 'pairs' = {missing[0]!r}: experiment {experiment} does not train that "
                                      f"multiple of the default rate past the budget (its horizon_rate_factors)")
        if "tuned" in claim["rates"] and not all(study.experiments[e].tune for e in experiments):
            raise ClaimsError(f"{where}: key 'rates': the tuned rate needs experiments with tune: true "
                              f"({', '.join(sorted(e for e in experiments if not study.experiments[e].tune))} has none)")


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


def _pairs(claim: dict, frame: pd.DataFrame, contrast: str):
    """Per context (in sorted order) and pair of ``claim``: ``(context text, better, baseline, the
    context's rows)``; ValueError naming the claim when a level is missing."""
    contexts = list(claim["contexts"])
    for key, group in frame.groupby(contexts, sort=True) if contexts else [((), frame)]:
        key = key if isinstance(key, tuple) else (key,)
        levels = set(group[contrast].astype(str))
        for better, baseline in claim["pairs"]:
            better, baseline = str(better), str(baseline)
            if better not in levels or baseline not in levels:
                raise ValueError(f"claim {claim['id']}: {contrast} {better!r} or {baseline!r} missing in {_context_text(contexts, key)}")
            yield _context_text(contexts, key), key, better, baseline, group


def evaluate_paired(claim: dict, trials: pd.DataFrame, alpha: float, n_resamples: int, seed: int):
    """One row per context and pair: :func:`lossatlas.compare.paired_comparison` of ``better``
    (``a``) against ``baseline`` (``b``) on ``metric``, ``p_holm`` over the claim's rows, ``holds``
    (Holm rejects at ``alpha`` and ``hodges_lehmann < 0``) and ``fails`` (``not holds``)."""
    selected = _select(trials, claim["select"], claim["id"])
    metric, contrast = claim["metric"], claim["contrast"]
    rows = []
    for context, key, better, baseline, group in _pairs(claim, selected, contrast):
        values = group.assign(**{metric: group[metric].where(~group["diverged"]), contrast: group[contrast].astype(str)})
        wide = values.pivot(index="seed", columns=contrast, values=metric)
        result = paired_comparison(
            wide[better].to_numpy(),
            wide[baseline].to_numpy(),
            seed=derive_seed(seed, "claim", claim["id"], *key, better, baseline),
            n_resamples=n_resamples,
        )
        rows.append({"context": context, "better": better, "baseline": baseline, **result})
    details = pd.DataFrame(rows)
    rejected, adjusted = holm_correct(details["p_value"].to_numpy(), alpha)
    details["p_holm"] = adjusted
    details["holds"] = rejected & (details["hodges_lehmann"] < 0)
    details["fails"] = ~details["holds"]
    return details


def evaluate_time(claim: dict, trials: pd.DataFrame, cells: pd.DataFrame, n_resamples: int, seed: int):
    """One row per context and pair, by time to target: the paired ratio of the Kaplan-Meier median
    steps to the threshold (:func:`lossatlas.compare.time_ratio`, ``baseline / better``), each
    cell's ``*_status`` (``horizon_status`` of the cells table), ``outcome`` (the words of
    :data:`TIME_WORDS`), ``holds`` and ``fails`` (see the module doc)."""
    selected = _select(trials, claim["select"], claim["id"])
    contrast, question = claim["contrast"], claim["time_question"]
    status = cells.set_index([*BASE, "learning_rate"])["horizon_status"] if "horizon_status" in cells else None
    rows = []
    for context, key, better, baseline, group in _pairs(claim, selected, contrast):
        group = group.assign(**{contrast: group[contrast].astype(str)})
        steps = group.pivot(index="seed", columns=contrast, values="steps_to_threshold")
        reached = group.pivot(index="seed", columns=contrast, values="reached_threshold").astype(bool)
        result = time_ratio(steps[better].to_numpy(), reached[better].to_numpy(), steps[baseline].to_numpy(),
                            reached[baseline].to_numpy(), n_resamples, derive_seed(seed, "time", claim["id"], *key, better, baseline))
        states = {}
        for name, level in (("better", better), ("baseline", baseline)):
            cell = group[group[contrast] == level].iloc[0]
            index = tuple(cell[c] for c in [*BASE, "learning_rate"])
            states[name] = status.get(index, "undecided") if status is not None else "undecided"
            if not isinstance(states[name], str):
                states[name] = "undecided"
        if question == "stuck":
            holds, fails = states["baseline"] == "stalled", states["baseline"] == "reached"
        else:
            low, high = result["ratio_ci_low"], result["ratio_ci_high"]
            stopped = ("stalled", "diverged")
            holds = low > 1 or (states["better"] == "reached" and states["baseline"] in stopped)
            fails = (high < 1) or (states["better"] in stopped and states["baseline"] == "reached")
            holds, fails = bool(holds and not fails), bool(fails and not holds)
        outcome = TIME_WORDS[question]["holds" if holds else "fails" if fails else "undecided"]
        rows.append({"context": context, "better": better, "baseline": baseline, **result,
                     "better_status": states["better"], "baseline_status": states["baseline"],
                     "outcome": outcome, "holds": bool(holds), "fails": bool(fails)})
    return pd.DataFrame(rows)


def claim_rows(claim: dict, frame: pd.DataFrame, rate: str, study, tuned: pd.DataFrame) -> pd.DataFrame:
    """The trials (or cells) a paired claim compares at ``rate`` (a view of :mod:`lossatlas.views`),
    with a ``learning_rate_factor`` column (each rate over its optimizer's default, 3 significant
    digits) for claims that contrast rates."""
    from lossatlas.views import default_rate, view

    if claim.get("contrast") == "learning_rate_factor":
        factor = frame["learning_rate"].to_numpy(np.float64) / default_rate(frame, study)
        return frame.assign(learning_rate_factor=[f"{value:.3g}" for value in factor])
    return view(frame, rate, study, tuned)


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
    """One row: ``successes`` of ``n`` runs with ``metric <= at_most``, ``success_rate``, its 95% Wilson CI
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
        [{"context": _context_text([], ()), "successes": successes, "n": total, "success_rate": successes / total,
          "rate_ci_low": low, "rate_ci_high": high, "holds": bool(low >= required), "fails": bool(high < required)}]
    )


def _fmt(value: float) -> str:
    return "n/a" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.3g}"


def _times(value: float) -> str:
    """A ratio as "12x sooner" ("n/a" when undefined: neither reached the threshold)."""
    return "n/a" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{_fmt(value)}x sooner"


def _evidence(claim: dict, details: pd.DataFrame, judged: str = "budget") -> list[str]:
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


#: The verdict columns of the claims table: one per judgment and rate.
VERDICT_COLUMNS = tuple(f"verdict_{judged}_{rate}" for judged in JUDGMENTS for rate in VIEWS)


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
                    rows = claim_rows(claim, trials, rate, study, tuned)
                    if judged == "budget":
                        detail = evaluate_paired(claim, rows, alpha, n_resamples, seed)
                    else:
                        detail = evaluate_time(claim, rows, claim_rows(claim, cells, rate, study, tuned), n_resamples, seed)
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
            **{column: "" for column in VERDICT_COLUMNS},
        }
        lines = []
        for judged, rate, detail in results:
            row[f"verdict_{judged}_{rate}"] = _verdict(detail["holds"].tolist(), detail["fails"].tolist())
            lines += [f"[{judged}, {rate} rate] {line}" for line in _evidence(claim, detail, judged)]
            details.append(detail.assign(id=claim["id"], judged=judged, rate=rate))
        judged, rate, headline = results[0]
        row.update(
            verdict=row[f"verdict_{judged}_{rate}"],
            holds_in="; ".join(sorted(set(headline.loc[headline["holds"], "context"]))) or "nowhere",
            n_contexts=len(headline),
            n_holds=int(headline["holds"].sum()),
            evidence="\n".join(lines),
        )
        verdicts.append(row)
    return pd.DataFrame(verdicts), pd.concat(details, ignore_index=True)
