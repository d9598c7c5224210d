"""What the report was built from, written next to it as ``results/report/inputs.json``.

The report stage writes it (:func:`write_inputs`): the config (with its defaults) and the claims it
read, and the paths of every file it read (cells, floors, analysis files, figures, benchmarks, ...),
each relative to the directory of ``inputs.json``, so that a copy of the whole ``results/`` tree
rebuilds from itself (:func:`lossatlas.report.rebuild.rebuild_tables` reads it back).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Mapping, Sequence

from lossatlas.core.atomic import write_text

#: The format of ``inputs.json``; a file of another format is refused.
FORMAT = 1
#: The keys of ``inputs.json`` that hold a path, a list of paths or a mapping of them (nested).
PATH_KEYS = ("cells", "floors", "analysis", "figures", "study_figures", "benchmarks", "repo", "invocation",
             "citation_file")


def _relative(value, base: Path):
    """``value`` (a path, or lists and mappings of paths) with every path relative to ``base``."""
    if value is None:
        return None
    if isinstance(value, Mapping):
        return {str(key): _relative(item, base) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_relative(item, base) for item in value]
    return Path(os.path.relpath(Path(value).absolute(), base.absolute())).as_posix()


def _resolved(value, base: Path):
    """The inverse of :func:`_relative`: every path of ``value`` joined to ``base``."""
    if value is None:
        return None
    if isinstance(value, Mapping):
        return {key: _resolved(item, base) for key, item in value.items()}
    if isinstance(value, list):
        return [_resolved(item, base) for item in value]
    return str(Path(os.path.normpath(base / value)))


def inputs_document(study, path: str | os.PathLike, claims: Sequence[dict] | None, **arguments) -> dict:
    """The content of ``inputs.json`` at ``path``: ``format``, the study's ``config`` (defaults
    filled in), the ``claims`` and the arguments of :func:`lossatlas.report.write_report` that name
    files (:data:`PATH_KEYS`; relative to the directory of ``path``)."""
    unknown = set(arguments) - set(PATH_KEYS)
    if unknown:
        raise ValueError(f"not a report input: {', '.join(sorted(unknown))}")
    base = Path(path).parent
    document = {"format": FORMAT, "config": study.config, "claims": list(claims) if claims is not None else None}
    document.update({key: _relative(arguments.get(key), base) for key in PATH_KEYS})
    return document


def write_inputs(path: str | os.PathLike, study, claims: Sequence[dict] | None, **arguments) -> None:
    """Writes ``inputs.json`` (:func:`inputs_document`) at ``path``, atomically, the same bytes for
    the same inputs."""
    document = inputs_document(study, path, claims, **arguments)
    write_text(path, json.dumps(document, indent=1, ensure_ascii=False, allow_nan=False) + "\n")


def read_inputs(path: str | os.PathLike) -> dict:
    """``inputs.json`` at ``path`` with every path made usable again (joined to its directory)."""
    path = Path(path)
    document = json.loads(path.read_text(encoding="utf-8"))
    if document.get("format") != FORMAT:
        raise ValueError(f"{path}: format {document.get('format')!r}, expected {FORMAT} (re-run the report rule)")
    base = path.parent
    return {**document, **{key: _resolved(document.get(key), base) for key in PATH_KEYS}}
