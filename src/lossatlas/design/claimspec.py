"""The claims file: read, checked against its schema and against the grid, with its defaults.

A claims file (YAML, ``config["claims"]``) lists each claim in plain words, the comparison that
decides it and its threshold; :mod:`lossatlas.analysis.claims` says how each kind is decided. This
module runs when the workflow is parsed, so ``snakemake -n`` refuses a bad claims file before any
training. No pandas, no TensorFlow.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from lossatlas.core.results import BASE, SLOPE_METRICS, TABLES
from lossatlas.design.config import ConfigError, read_yaml, schema_message, validator

KINDS = ("paired", "slope", "rate")
JUDGMENTS = ("budget", "time")
TIME_QUESTIONS = ("faster", "stuck")

SCHEMA_PATH = Path(__file__).resolve().parents[3] / "workflow" / "schemas" / "claims.schema.yaml"
#: Columns of the article's verbatim runs a rate claim can bound.
RUN_METRICS = ("final_loss", "train_mse", "test_mse", "test_rmse")


class ClaimsError(ValueError):
    """A claims file that cannot be evaluated; the message names the file, the claim and the key."""


def load_claims(path: str | Path) -> dict:
    """Reads a claims file (duplicate keys refused) and checks it against its schema
    (``workflow/schemas/claims.schema.yaml``) and its own rules; fills in the defaults
    (``judged_by: [budget]``, ``rates: [default]``, ``time_question: faster``). Raises
    :class:`ClaimsError` naming the file, the claim id and the key."""
    try:
        document = read_yaml(path)
    except ConfigError as error:
        raise ClaimsError(str(error)) from None
    if isinstance(document, dict) and "alpha" in document:
        raise ClaimsError(f"{path}: key 'alpha' is set once for the whole study, as the config's statistics.alpha")
    errors = sorted(validator(yaml.safe_load(SCHEMA_PATH.read_text())).iter_errors(document), key=lambda e: [str(p) for p in e.path])
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
    for index, finding in enumerate(document.get("findings", []), 1):
        unknown = [claim_id for claim_id in finding["claims"] if claim_id not in seen]
        if unknown:
            raise ClaimsError(f"{path}: finding {index} ({finding['title']!r}): key 'claims' = {unknown[0]!r}: no claim has that id")
    return document


def claim_defaults(claim: dict) -> dict:
    """``claim`` with the defaults of the keys it leaves out: judged at the budget, at the default
    rate, by the question "faster"."""
    claim.setdefault("judged_by", ["budget"])
    claim.setdefault("rates", ["default"])
    claim.setdefault("time_question", "faster")
    return claim


def _schema_message(path, document, error) -> str:
    """The first line of a claims-file schema error: the file, the claim id and the key
    (:func:`lossatlas.design.config.schema_message`)."""
    parts = [str(part) for part in error.path]
    where = f"{path}:"
    if len(parts) >= 2 and parts[0] == "claims" and parts[1].isdigit():
        claim = document["claims"][int(parts[1])]
        where = f"{path}: claim {claim.get('id', '#' + str(int(parts[1]) + 1)) if isinstance(claim, dict) else '#' + parts[1]}:"
        parts = parts[2:]
    return schema_message(error, where, parts, "claims.schema.yaml")


def check_claims(claims: dict, study, path: str | Path = "claims") -> None:
    """Checks that every claim of ``claims`` can be evaluated on what ``study`` runs: its metric is
    one the pipeline produces, and its ``select``, ``contexts``, ``contrast`` and ``pairs`` name
    coordinates and values the config runs (and ``time`` / ``tuned`` judgments experiments that
    train past the budget / tune their rates). Raises :class:`ClaimsError` naming the file, the
    claim id and the key; it runs when the workflow is parsed, before any training."""
    trial_metrics = [c for c in TABLES["trials"].columns if c not in (*BASE, "seed", "learning_rate")]
    values = {column: {str(getattr(cell, column)) for cell in study.cells} for column in BASE}
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
                raise ClaimsError(f"{where}: key 'select.{column}': not a coordinate; choose from {', '.join(BASE)}")
            for value in wanted if isinstance(wanted, list) else [wanted]:
                if str(value) not in values[column]:
                    raise ClaimsError(f"{where}: key 'select.{column}' = {value!r}: the config runs no such {column}")
        for column in claim.get("contexts", []):
            if column not in values:
                raise ClaimsError(f"{where}: key 'contexts' = {column!r}: not a coordinate; choose from {', '.join(BASE)}")
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
