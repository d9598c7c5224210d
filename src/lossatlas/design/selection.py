"""Which rows of a results table a claim compares: its ``select``, its contexts and pairs, at a
rate view. One definition, used by the claim verdicts (:mod:`lossatlas.analysis.claims`), the
mechanism (:mod:`lossatlas.analysis.mechanism`) and the figure plan (:mod:`lossatlas.design.plan`).
No TensorFlow here.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from lossatlas.design.views import default_rate, view

#: The contrast of claims that compare rates of a tuned sweep (multiples of the default rate).
RATE_FACTOR = "learning_rate_factor"


def select_rows(frame: pd.DataFrame, select: dict) -> pd.DataFrame:
    """The rows of ``frame`` that ``select`` names (column -> a value or a list of values),
    compared as text; ValueError naming a column ``frame`` does not have."""
    mask = pd.Series(True, index=frame.index)
    for column, value in select.items():
        if column not in frame:
            raise ValueError(f"select names column {column!r}, which the results do not have")
        values = value if isinstance(value, list) else [value]
        mask &= frame[column].astype(str).isin([str(v) for v in values])
    return frame[mask]


def claim_select(frame: pd.DataFrame, select: dict, claim_id: str) -> pd.DataFrame:
    """:func:`select_rows` for claim ``claim_id``; ValueError naming the claim when nothing matches."""
    try:
        selected = select_rows(frame, select)
    except ValueError as error:
        raise ValueError(f"claim {claim_id}: {error}") from None
    if selected.empty:
        raise ValueError(f"claim {claim_id}: select {select} matches no results (is that part of the grid in the config?)")
    return selected


def context_text(columns, values) -> str:
    """A context in words: ``"dataset scale_1e-2, optimizer adam"`` (``"all"`` without columns)."""
    return ", ".join(f"{column} {value}" for column, value in zip(columns, values)) or "all"


def pairs(claim: dict, frame: pd.DataFrame, contrast: str):
    """Per context (in sorted order) and pair of ``claim``: ``(context text, context key, better,
    baseline, the context's rows)``; ValueError naming the claim when a level is missing."""
    contexts = list(claim["contexts"])
    for key, group in frame.groupby(contexts, sort=True) if contexts else [((), frame)]:
        key = key if isinstance(key, tuple) else (key,)
        levels = set(group[contrast].astype(str))
        for better, baseline in claim["pairs"]:
            better, baseline = str(better), str(baseline)
            if better not in levels or baseline not in levels:
                raise ValueError(f"claim {claim['id']}: {contrast} {better!r} or {baseline!r} missing in {context_text(contexts, key)}")
            yield context_text(contexts, key), key, better, baseline, group


def rate_factor(frame: pd.DataFrame, study) -> list[str]:
    """Each row's learning rate as a multiple of its optimizer's default, to 3 significant digits
    (the levels of a ``learning_rate_factor`` contrast)."""
    factor = frame["learning_rate"].to_numpy(np.float64) / default_rate(frame, study)
    return [f"{value:.3g}" for value in factor]


def claim_rows(claim: dict, frame: pd.DataFrame, rate: str, study, tuned: pd.DataFrame, judged: str = "budget") -> pd.DataFrame:
    """The trials (or cells) a paired claim compares at ``rate`` (a view of :mod:`lossatlas.design.views`)
    when ``judged`` at the budget or by time, with a ``learning_rate_factor`` column
    (:func:`rate_factor`) for claims that contrast rates."""
    if claim.get("contrast") == RATE_FACTOR:
        return frame.assign(learning_rate_factor=rate_factor(frame, study))
    return view(frame, rate, study, tuned, judged)
