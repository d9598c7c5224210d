"""The figures the report shows: each SVG (made by the figure rules) with its caption, numbered
in the order shown and inlined into the HTML; with the CSV of the numbers it plots (written next to
it by the figure rules: ``<figure>.csv``) and the command that rebuilds it."""

from __future__ import annotations

import csv
import os
import re
import shlex
from pathlib import Path
from typing import Mapping, Sequence

import markupsafe
import pandas as pd

from lossatlas.design.plan import CURVE_FIGURES, study_figures
from lossatlas.report.captions import curve_captions, study_figure_caption

FLOOR_COLUMNS = ["experiment", "dataset", "targets", "loss", "floor"]


def figure_entry(path: str | os.PathLike, caption: str, tall: bool = False) -> dict:
    """A figure to show: its SVG ``path`` and ``caption``; numbered and inlined by :func:`number_items`."""
    return {"kind": "figure", "path": str(path), "caption": caption, "tall": tall, "data": None}


def style_to_attributes(declarations: str) -> str:
    """``"fill: #fff; stroke-width: 0.8"`` as SVG presentation attributes ``'fill="#fff" stroke-width="0.8"'``."""
    pairs = [part.split(":", 1) for part in declarations.split(";") if part.strip()]
    if any(len(pair) != 2 for pair in pairs):
        raise ValueError(f"not a CSS declaration list: {declarations!r}")
    # The values come from a double-quoted XML attribute: already escaped, and free of '"'.
    return " ".join(f'{name.strip()}="{value.strip()}"' for name, value in pairs)


def svg_for_html(svg: str, prefix: str) -> str:
    """A Matplotlib SVG file's text (as :func:`lossatlas.figures.save_svg` writes it) made fit to
    inline in an HTML page.

    Drops the XML prolog and doctype; turns the style sheet's ``*`` rule and any ``style`` attribute
    into presentation attributes (a ``*`` rule would apply to the whole page, and HTML renderers such
    as WeasyPrint read ``style`` attributes as HTML CSS); keeps the sheet's class rules, each scoped
    to the figure's root (``#<prefix>svg .s1``: they style this figure only, in the browser and in
    WeasyPrint, which reads an SVG's own sheet); prefixes every ``id``, and every reference to one,
    with ``prefix``, so that figures on one page don't share ids; drops the line breaks between elements.
    """
    start = svg.find("<svg")
    if start < 0:
        raise ValueError("not an SVG document: no <svg> element")
    svg = svg[start:]
    rules = ""
    sheet = re.search(r"<style[^>]*>\s*\*\s*\{([^}]*)\}((?:\s*\.[\w-]+\s*\{[^}]*\})*)\s*</style>", svg)
    if sheet:
        svg = svg[: sheet.start()] + svg[sheet.end() :]
        svg = svg.replace("<svg ", f"<svg {style_to_attributes(sheet.group(1))} ", 1)
        rules = "".join(f"#{prefix}svg .{name}{{{body.strip()}}}"
                        for name, body in re.findall(r"\.([\w-]+)\s*\{([^}]*)\}", sheet.group(2)))
    if "<style" in svg:
        raise ValueError("SVG has a <style> sheet other than a * rule and class rules (Matplotlib's, compacted)")
    svg = re.sub(r'(?<=\s)style="([^"]*)"', lambda match: style_to_attributes(match.group(1)), svg)
    svg = re.sub(r'\bid="([^"]+)"', rf'id="{prefix}\1"', svg)
    svg = re.sub(r'(xlink:href|href)="#([^"]+)"', rf'\1="#{prefix}\2"', svg)
    svg = re.sub(r"url\(#([^)]+)\)", rf"url(#{prefix}\1)", svg)
    svg = re.sub(r"<svg\b", f'<svg id="{prefix}svg"', svg, count=1)
    if rules:
        svg = re.sub(r"(<svg\b[^>]*>)", lambda match: f"{match.group(1)}\n<style>{rules}</style>", svg, count=1)
    return re.sub(r">\n<", "><", re.sub(r"<defs>\s*</defs>\n?", "", svg))


def data_path(path: str | os.PathLike) -> Path:
    """The CSV of the numbers a figure plots: its SVG ``path`` with the suffix ``.csv`` (as
    :func:`lossatlas.figures.figure_data_path` writes it)."""
    return Path(path).with_suffix(".csv")


def rebuild_command(path: str | os.PathLike, config_options: str = "") -> str:
    """The Snakemake command that rebuilds the figure at ``path`` (and its CSV): the SVG as the target,
    its job forced; ``config_options`` (``--configfile ...``) as the run that made it had them."""
    options = f" {config_options}" if config_options else ""
    return f".venv/bin/snakemake --cores all{options} --force {shlex.quote(str(path))}"


def add_figure_data(figures: Sequence[dict], link_base: str | os.PathLike | None, config_options: str = "") -> None:
    """Gives each figure whose CSV exists (:func:`data_path`) its ``data``, in place: ``path`` (as the
    figure's path is given: ``results/figures/...csv`` in the workflow), ``href`` (a link relative to
    ``link_base``, the directory of the HTML; the path itself when None), ``columns`` (the CSV's
    header) and ``rebuild`` (:func:`rebuild_command`)."""
    for figure in figures:
        path = data_path(figure["path"])
        if not path.exists():
            figure["data"] = None
            continue
        with path.open(newline="", encoding="utf-8") as handle:
            columns = next(csv.reader(handle), [])
        href = Path(os.path.relpath(path, link_base)).as_posix() if link_base is not None else path.as_posix()
        figure["data"] = {"path": path.as_posix(), "href": href, "columns": columns,
                          "rebuild": rebuild_command(figure["path"], config_options)}


def number_items(tables: Sequence[dict], figures: Sequence[dict]) -> None:
    """Numbers ``tables`` ``T1, T2, ...`` (those without an id yet) and ``figures`` ``F1, F2, ...`` in
    the order given (the report's order), in place, and inlines each figure's SVG
    (:func:`svg_for_html`) with its id as prefix."""
    for number, table in enumerate(tables, 1):
        table.setdefault("id", f"T{number}")
        table.setdefault("number", number)
    for number, figure in enumerate(figures, 1):
        figure["id"], figure["number"] = f"F{number}", number
        svg = svg_for_html(Path(figure["path"]).read_text(encoding="utf-8"), f"F{number}-")
        figure["svg"] = markupsafe.Markup(svg)


def add_curve_figures(
    sections: Sequence[dict],
    cells: pd.DataFrame,
    study,
    figures: Mapping[str, Mapping[str, Mapping[str, str | os.PathLike]]],
    floors: pd.DataFrame | None = None,
) -> None:
    """Adds to each dataset section (in place) the curve figures of its listed experiments.

    Args:
        sections: from :func:`lossatlas.report.sections.dataset_sections`.
        figures: dataset -> experiment -> kind (of :data:`lossatlas.design.plan.CURVE_FIGURES`) -> SVG path.
        floors: the floors table (``results/aggregate/floors.csv``) the captions quote; None: none.
    """
    if floors is None:
        floors = pd.DataFrame(columns=FLOOR_COLUMNS)
    missing = [column for column in FLOOR_COLUMNS if column not in floors.columns]
    if missing:
        raise ValueError(f"floors table lacks column(s) {', '.join(missing)}")
    for section in sections:
        dataset = section["dataset"]
        for experiment, paths in figures.get(dataset, {}).items():
            unknown = set(paths) - set(CURVE_FIGURES)
            if unknown:
                raise ValueError(f"unknown figure kind(s) {', '.join(sorted(unknown))}; known: {', '.join(CURVE_FIGURES)}")
            part = cells[(cells["dataset"] == dataset) & (cells["experiment"] == experiment)]
            drawn = floors[(floors["dataset"] == dataset) & (floors["experiment"] == experiment)]
            summarised = [s["experiment"] for s in section["summarised"]]
            captions = curve_captions(dataset, experiment, part, study, drawn, summarised)
            for kind in CURVE_FIGURES:
                if kind in paths:
                    section["figures"].append(figure_entry(paths[kind], captions[kind]))


#: The report section that shows each kind of study-wide figure (the others: ``"overview"``).
FIGURE_SECTIONS = {"article_seeds": "article", "time_to_target": "time", "lr_sensitivity": "sensitivity",
                   "mechanism": "mechanism"}


def study_figure_entries(study, paths: Mapping[str, str | os.PathLike], cells: pd.DataFrame,
                         claims: Sequence[dict] | None = None, ids: Mapping[str, str] | None = None) -> dict[str, list[dict]]:
    """The study-wide figures (:func:`lossatlas.design.plan.study_figures`; ``claims``: the config's claims)
    with their captions (``ids``: the table ids they refer to), by the report section that shows
    them: ``"article"``, ``"overview"``, ``"time"``, ``"sensitivity"`` and ``"mechanism"``."""
    plan = study_figures(study, claims)
    unknown = set(paths) - set(plan)
    if unknown:
        raise ValueError(f"unknown study figure(s) {', '.join(sorted(unknown))}; the study makes {', '.join(plan)}")
    entries: dict[str, list[dict]] = {"article": [], "overview": [], "time": [], "sensitivity": [], "mechanism": []}
    for name, spec in plan.items():
        if name in paths:
            section = FIGURE_SECTIONS.get(spec["kind"], "overview")
            caption = study_figure_caption(spec, study, cells, ids)
            entry = figure_entry(paths[name], caption, tall=spec["kind"] in ("nrmse_heatmap", "time_to_target"))
            entries[section].append({**entry, "name": name})
    return entries
