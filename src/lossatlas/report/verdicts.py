"""The claims and their verdicts as the report shows them: per claim, the verdict at a fixed budget
and by time to target, each at Keras's default rate and at each cell's tuned rate; and the
time-to-target comparisons behind the time verdicts.

Everything is read from ``results/analysis/claims.csv`` and ``claim_details.csv``
(:func:`lossatlas.analysis.claims.evaluate_claims`); nothing is decided here.
"""

from __future__ import annotations

import math
from typing import Mapping, Sequence

import pandas as pd

from lossatlas.analysis.claims import VERDICTS
from lossatlas.analysis.wording import status_text
from lossatlas.core.textfmt import format_count, format_interval, format_number, format_steps, join_words, loss_name
from lossatlas.report.findings import require
from lossatlas.report.sections import is_wide

#: The judgments and rates a claim can be judged at, in the order the claims table shows them:
#: (column of claims.csv, judgment, rate, heading).
JUDGMENTS = (
    ("verdict_budget_default", "budget", "default", "Budget, default rate"),
    ("verdict_budget_tuned", "budget", "tuned", "Budget, tuned rate"),
    ("verdict_time_default", "time", "default", "Time, default rate"),
    ("verdict_time_tuned", "time", "tuned", "Time, tuned rate"),
)
CLAIM_COLUMNS = ("id", "name", "claim", "article", "kind", "judged_by", "rates", "rule", "time_rule",
                 *(column for column, *_ in JUDGMENTS), "verdict", "holds_in", "n_contexts", "n_holds", "evidence")
#: The columns of claim_details.csv the time table reads (its rows judged by time).
TIME_COLUMNS = ("id", "judged", "rate", "context", "better", "baseline", "median_a", "median_b", "ratio",
                "ratio_ci_low", "ratio_ci_high", "better_status", "baseline_status", "outcome")
#: What a judgment is called in running text.
JUDGED_WORDS = {"budget": "at the budget", "time": "by time to target"}


def text(value) -> str:
    """A text cell of an analysis table: ``""`` where it is empty (NaN when read from a CSV)."""
    return value.strip() if isinstance(value, str) else ""


def verdict_entry(value, claim_id: str) -> dict | None:
    """``{"verdict", "verdict_class"}`` of a verdict cell, None where the claim is not judged so;
    ValueError for a word that is not one of :data:`lossatlas.analysis.claims.VERDICTS`."""
    verdict = text(value)
    if not verdict:
        return None
    if verdict not in VERDICTS:
        raise ValueError(f"claim {claim_id}: unknown verdict {verdict!r}; expected one of {', '.join(VERDICTS)}")
    return {"verdict": verdict, "verdict_class": verdict.replace(" ", "-")}


def evidence_lines(evidence) -> list[dict]:
    """The evidence of claims.csv, one ``{"label", "text"}`` per line: the label is the line's
    ``[judgment, rate]`` prefix (``"budget, default rate"``), ``""`` for a line without one."""
    lines = []
    for line in text(evidence).splitlines():
        line = line.strip()
        if not line:
            continue
        label, body = "", line
        if line.startswith("[") and "]" in line:
            label, body = line[1 : line.index("]")], line[line.index("]") + 1 :].strip()
        lines.append({"label": label, "text": body})
    return lines


def optimizer_verdicts(value) -> list[dict]:
    """The per-optimizer verdicts of a ``by_optimizer_*`` cell of claims.csv (``"adam: supported
    (holds in 2 of 2 contexts); sgd: undecided (...)"``), one ``{"optimizer", "verdict",
    "verdict_class", "why"}`` per optimizer; ``[]`` where the cell is empty."""
    entries = []
    for part in split_top(text(value)):
        optimizer, _, rest = part.partition(": ")
        word = next((v for v in sorted(VERDICTS, key=len, reverse=True) if rest.startswith(v)), "")
        if not word:
            raise ValueError(f"per-optimizer verdict {part!r}: no verdict word")
        why = rest[len(word):].strip()
        entries.append({"optimizer": optimizer.strip(), "verdict": word, "verdict_class": word.replace(" ", "-"),
                        "why": why[1:-1] if why.startswith("(") and why.endswith(")") else why})
    return entries


def split_top(value: str) -> list[str]:
    """``value`` split at the ``"; "`` outside parentheses."""
    parts, depth, start = [], 0, 0
    for index, char in enumerate(value):
        depth += {"(": 1, ")": -1}.get(char, 0)
        if char == ";" and depth == 0:
            parts.append(value[start:index].strip())
            start = index + 1
    parts.append(value[start:].strip())
    return [part for part in parts if part]


def claims_context(verdicts: pd.DataFrame) -> list[dict]:
    """One entry per claim of ``claims.csv``: its texts (``rule`` where it is judged at the budget,
    ``time_rule`` where by time), ``judgments`` (one per entry of :data:`JUDGMENTS`:
    ``{"judged", "rate", "heading", "verdict"}``, ``verdict`` None where not judged so), the
    headline ``verdict`` and ``verdict_class``, ``holds`` (``"n_holds of n_contexts"``),
    ``holds_in`` and ``evidence`` (:func:`evidence_lines`)."""
    require(verdicts, CLAIM_COLUMNS, "claims table")
    claims = []
    for _, row in verdicts.iterrows():
        claim_id = str(row["id"])
        headline = verdict_entry(row["verdict"], claim_id)
        if headline is None:
            raise ValueError(f"claim {claim_id}: no headline verdict")
        judged_by = [part.strip() for part in text(row["judged_by"]).split(",") if part.strip()]
        claims.append({
            "id": claim_id,
            "name": str(row["name"]),
            "claim": str(row["claim"]),
            "article": str(row["article"]).strip().strip('"').strip(),
            "kind": str(row["kind"]),
            "judged_by": judged_by,
            "rates": [part.strip() for part in text(row["rates"]).split(",") if part.strip()],
            "rule": text(row["rule"]) if "budget" in judged_by else "",
            "time_rule": text(row["time_rule"]),
            "judgments": [{"judged": judged, "rate": rate, "heading": title, "verdict": verdict_entry(row[column], claim_id),
                           "by_optimizer": optimizer_verdicts(row.get(f"by_optimizer_{judged}_{rate}"))}
                          for column, judged, rate, title in JUDGMENTS],
            **headline,
            "holds": f"{format_count(row['n_holds'])} of {format_count(row['n_contexts'])}",
            "holds_in": str(row["holds_in"]),
            "evidence": evidence_lines(row["evidence"]),
        })
    return claims


def verdicts_at(claims: Sequence[dict], rate: str) -> list[dict]:
    """The claims judged at ``rate`` (``"default"`` or ``"tuned"``), each ``{"id", "name",
    "verdicts"}``: its verdict per judgment at that rate (``{"judged", "words", "verdict",
    "verdict_class"}``)."""
    listed = []
    for claim in claims:
        found = [{"judged": j["judged"], "words": JUDGED_WORDS[j["judged"]], **j["verdict"], "by_optimizer": j["by_optimizer"]}
                 for j in claim["judgments"] if j["rate"] == rate and j["verdict"] is not None]
        if found:
            listed.append({"id": claim["id"], "name": claim["name"], "verdicts": found})
    return listed


def abstract_context(claims: Sequence[dict]) -> dict:
    """The abstract's verdicts: the headline counts (one per verdict of
    :data:`lossatlas.analysis.claims.VERDICTS`, ``"2 supported, 1 not supported, 1 mixed and 0 undecided"``)
    and, per rate, the claims judged there with their verdicts (:func:`verdicts_at`)."""
    counts = {v: sum(c["verdict"] == v for c in claims) for v in VERDICTS}
    return {
        "n_claims": format_number(len(claims)),
        "summary": join_words([f"{format_number(n)} {v}" for v, n in counts.items()]),
        "default": verdicts_at(claims, "default"),
        "tuned": verdicts_at(claims, "tuned"),
    }


# --------------------------------------------------------------------------------------------
# Time to target
# --------------------------------------------------------------------------------------------


def level_text(level) -> str:
    """A level of a claim's contrast as the tables show it: a loss by its short name."""
    return loss_name(str(level))


def time_rows(details: pd.DataFrame, claims: Sequence[dict] = ()) -> list[dict]:
    """The time-to-target rows of ``claim_details.csv`` (``judged`` time), in file order: claim
    ``id``, ``rate``, ``context``, ``pair`` (``"BCE vs MSE"``), the Kaplan-Meier median steps of
    each (``steps_better``, ``steps_baseline``; ``inf`` when fewer than half the seeds reach the
    threshold), ``ratio`` (``"17 [8.5, 17]"``: how many times sooner the better level reaches it,
    with its 95% CI), the two statuses past the budget and the ``outcome``."""
    require(details, TIME_COLUMNS, "claim details")
    names = {claim["id"]: claim["name"] for claim in claims}
    rows = []
    for _, row in details[details["judged"].astype(str) == "time"].iterrows():
        ratio = "n/a" if not math.isfinite(float(row["ratio"])) else (
            format_interval(row["ratio"], row["ratio_ci_low"], row["ratio_ci_high"], "ratio"))
        rows.append({
            "id": str(row["id"]),
            "name": names.get(str(row["id"]), ""),
            "rate": str(row["rate"]),
            "context": str(row["context"]),
            "pair": f"{level_text(row['better'])} vs {level_text(row['baseline'])}",
            "better": level_text(row["better"]),
            "baseline": level_text(row["baseline"]),
            "steps_better": format_steps(float(row["median_a"])),
            "steps_baseline": format_steps(float(row["median_b"])),
            "ratio": ratio,
            "better_status": status_with_diagnosis(row, "better"),
            "baseline_status": status_with_diagnosis(row, "baseline"),
            "outcome": text(row["outcome"]) or "n/a",
        })
    return rows


def status_with_diagnosis(row, side: str) -> str:
    """A time row's status of its ``side`` cell with its diagnosis where it has not reached the
    target (:func:`lossatlas.analysis.wording.status_text`); ``"n/a"`` where unknown."""
    if not text(row[f"{side}_status"]):
        return "n/a"
    if not text(row.get(f"{side}_diagnosis")):
        return text(row[f"{side}_status"])
    return status_text(pd.Series({key: row.get(key) for key in (f"{side}_status", f"{side}_diagnosis", f"{side}_improvement",
                                                               f"{side}_steps")}), side)


def outcome_counts(rows: Sequence[Mapping], rate: str) -> str:
    """``"1 sooner and 2 undecided"``: the outcomes of the time rows at ``rate``, by first appearance."""
    counts: dict[str, int] = {}
    for row in rows:
        if row["rate"] == rate:
            counts[row["outcome"]] = counts.get(row["outcome"], 0) + 1
    return join_words([f"{format_number(n)} {outcome}" for outcome, n in counts.items()])


def time_context(details: pd.DataFrame, claims: Sequence[dict]) -> dict:
    """The time-to-target section's table: ``rows`` (:func:`time_rows`), ``claims`` (those judged by
    time, with their time verdicts per rate) and ``outcomes`` per rate (:func:`outcome_counts`)."""
    rows = time_rows(details, claims)
    judged = [{"id": c["id"], "name": c["name"], "time_rule": c["time_rule"],
               "verdicts": [{"rate": j["rate"], **j["verdict"], "by_optimizer": j["by_optimizer"]}
                            for j in c["judgments"] if j["judged"] == "time" and j["verdict"]]}
              for c in claims if "time" in c["judged_by"]]
    fields = ("id", "rate", "context", "pair", "steps_better", "steps_baseline", "ratio", "better_status",
              "baseline_status", "outcome")
    headings = ["Claim", "Rate", "Context", "Pair", "Steps, better", "Steps, baseline", "Times sooner [95% CI]",
                "Status, better", "Status, baseline", "Outcome"]
    return {
        "kind": "table",
        "rows": rows,
        "landscape": is_wide(headings, [[row[f] for f in fields] for row in rows], font=6.0),
        "claims": judged,
        "outcomes": {rate: outcome_counts(rows, rate) for rate in ("default", "tuned") if any(r["rate"] == rate for r in rows)},
    }
