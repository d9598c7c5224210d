"""The report stage on tiny hand-made tables: number format, table rows, escaping, figures, HTML and PDF."""

from __future__ import annotations

import io
import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pypdf import PdfReader

from helpers import REPO, smoke_config
from lossatlas import figures, report
from lossatlas.config import load_study

TEMPLATE = REPO / "report" / "template.html.j2"
STYLE = REPO / "report" / "style.css"


@pytest.fixture(scope="module")
def study():
    return load_study(smoke_config())


def cells_table(study) -> pd.DataFrame:
    """A cells table (columns of cells.csv) for every cell of ``study``, with made-up numbers, in
    reverse grid order; reach flags as cells.csv holds them (NaN when none)."""
    rows = []
    for index, cell in enumerate(reversed(study.cells)):
        row = {**vars(cell), "n_seeds": 4, "n_diverged": index % 2, "divergence_rate": (index % 2) / 4}
        row["reach_flag"] = study.flags.get(cell, np.nan)
        for offset, metric in enumerate(("final_test_rmse", "final_test_mae", "final_train_loss")):
            mean = 1.23456789 * (index + 1) + 100 * offset
            row.update({f"{metric}_mean": mean, f"{metric}_ci_low": mean - 0.5, f"{metric}_ci_high": mean + 0.25})
            row[f"{metric}_median"] = mean
        rows.append(row)
    return pd.DataFrame(rows)


def curves_table(dataset: str = "seed_small") -> pd.DataFrame:
    """A curves table: two losses x two activations, three epochs, each metric the aggregate writes."""
    rows = []
    for loss in ("mse", "binary_crossentropy"):
        for activation in ("linear", "sigmoid"):
            for metric in ("train_loss", "test_rmse"):
                for epoch in (1, 2, 3):
                    mean = 1.0 / epoch + (activation == "sigmoid")
                    rows.append(
                        dict(experiment="article", dataset=dataset, targets="raw", model="dense1", optimizer="adam",
                             loss=loss, activation=activation, metric=metric, epoch=epoch, mean=mean,
                             ci_low=mean * 0.9, ci_high=mean * 1.1)
                    )
    return pd.DataFrame(rows)


@pytest.mark.parametrize(
    "value, text",
    [
        (7.608882308006287, "7.609"),
        (0.32440744, "0.3244"),
        (96.6629387, "96.66"),
        (12345.6, "1.235e+04"),
        (-0.5, "-0.5"),
        (float("nan"), "n/a"),
        (None, "n/a"),
        (np.float32(0.25), "0.25"),
        (np.int64(20), "20"),
        (3, "3"),
    ],
)
def test_format_number(value, text):
    assert report.format_number(value) == text


@pytest.mark.parametrize("value", ["1.5", True, [1.0]])
def test_format_number_rejects_what_is_not_a_number(value):
    with pytest.raises(ValueError, match="real number"):
        report.format_number(value)


def test_format_interval():
    assert report.format_interval(1.0, 0.5, 2.25) == "1 [0.5, 2.25]"
    assert report.format_interval(1.0, math.nan, math.nan) == "1 [n/a, n/a]"


def test_table_rows_format_every_number_of_the_cells_table(study):
    cells = cells_table(study).iloc[:2]
    rows = report.table_rows(cells)
    first, second = cells.iloc[0], cells.iloc[1]
    assert [row["labels"]["loss"] for row in rows] == list(cells["loss"])
    rmse = rows[0]["metrics"][0]
    text = f"{rmse['mean']} {rmse['ci']}"
    assert text == report.format_interval(
        first["final_test_rmse_mean"], first["final_test_rmse_ci_low"], first["final_test_rmse_ci_high"]
    )
    assert text == "1.235 [0.7346, 1.485]"
    assert rows[1]["metrics"][2]["mean"] == report.format_number(second["final_train_loss_mean"]) == "202.5"
    assert rows[0]["divergence"] == "0 (0/4)" and rows[1]["divergence"] == "0.25 (1/4)"
    assert rows[0]["flag"] == "" and "dataset" not in rows[0]["labels"]


def test_table_rows_need_every_column(study):
    with pytest.raises(ValueError, match="final_test_mae_ci_low"):
        report.table_rows(cells_table(study).drop(columns="final_test_mae_ci_low"))


def test_results_tables_follow_the_config_order(study):
    tables = report.results_tables(cells_table(study), study)
    assert [(t["id"], t["dataset"]) for t in tables] == [("T1", "seed_large"), ("T2", "seed_small")]
    assert [d["name"] for d in tables[0]["dimensions"]] == ["model", "optimizer", "loss", "activation"]
    grid = [(c.model, c.optimizer, c.loss, c.activation) for c in study.cells if c.dataset == "seed_small"]
    columns = ("model", "optimizer", "loss", "activation")
    assert [tuple(r["labels"][c] for c in columns) for r in tables[1]["rows"]] == grid
    flagged = [r for r in tables[0]["rows"] if r["flag"]]
    assert flagged and all(r["labels"]["activation"] == "sigmoid" for r in flagged) and tables[0]["any_flag"]


def test_results_tables_show_a_dimension_that_varies(study):
    cells = cells_table(study)
    cells.loc[cells.index[::2], "experiment"] = "other"
    assert "experiment" in [d["name"] for d in report.results_tables(cells, study)[1]["dimensions"]]


def test_wide_tables_go_on_landscape_pages(study):
    cells = cells_table(study)
    assert not any(table["landscape"] for table in report.results_tables(cells, study))
    cells["model"] = "a_rather_long_model_label_" + cells["model"]
    cells["optimizer"] = "a_rather_long_optimizer_label_" + cells["optimizer"]
    assert all(table["landscape"] for table in report.results_tables(cells, study))


def test_excluded_and_flagged_cells_are_listed_by_reason(study):
    listing = report.cells_by_reason([(item.cell, item.reason) for item in study.excluded])
    assert listing["headings"] == ["Dataset", "Model", "Optimizer", "Loss", "Activation"]
    assert sum(int(group["count"]) for group in listing["groups"]) == len(study.excluded)
    reasons = [group["reason"] for group in listing["groups"]]
    assert len(reasons) == len(set(reasons)) == len({item.reason for item in study.excluded})
    first = next(item for item in study.excluded if item.reason == reasons[0])
    assert listing["groups"][0]["cells"][0] == [first.cell.dataset, first.cell.model, first.cell.optimizer,
                                                first.cell.loss, first.cell.activation]


def test_svg_for_html_strips_the_prolog_and_keeps_ids_apart(tmp_path):
    fig, _ = figures.plot_test_rmse(curves_table())
    figures.save_svg(fig, tmp_path / "a.svg")
    svg = report.svg_for_html((tmp_path / "a.svg").read_text(), "F7-")
    assert svg.startswith("<svg") and "<?xml" not in svg and "DOCTYPE" not in svg
    assert "<style" not in svg and ' style="' not in svg and 'stroke-linejoin="round"' in svg
    ids = set(re.findall(r'id="([^"]+)"', svg))
    assert ids and all(i.startswith("F7-") for i in ids)
    references = re.findall(r'href="#([^"]+)"', svg)
    assert references and set(references) <= ids


def test_figures_have_a_panel_per_loss_and_save_deterministically(tmp_path):
    fig, axes = figures.plot_loss_curves(curves_table())
    assert [ax.get_title() for ax in axes] == ["loss: mse", "loss: binary_crossentropy"]
    assert [len(ax.get_lines()) for ax in axes] == [2, 2]  # one line per activation
    _, shared = figures.plot_test_rmse(curves_table())
    assert shared[0].get_ylim() == shared[1].get_ylim()
    for name in ("one", "two"):
        figures.save_svg(fig, tmp_path / name / "loss_curves.svg")
    first = (tmp_path / "one" / "loss_curves.svg").read_bytes()
    assert first == (tmp_path / "two" / "loss_curves.svg").read_bytes()
    assert b"<dc:date>" not in first
    with pytest.raises(ValueError, match="grad_norm"):
        figures.plot_by_loss(curves_table(), "grad_norm_layer_1", "gradient norm", share_y=False)


@pytest.fixture(scope="module")
def rendered(study, tmp_path_factory):
    """The report of the hand-made cells table, rendered once to HTML and PDF."""
    directory = tmp_path_factory.mktemp("report")
    cells = cells_table(study)
    cells.loc[cells["dataset"] == "seed_small", "model"] = "<b>dense1</b>"
    paths = {}
    for dataset in ("seed_large", "seed_small"):
        paths[dataset] = {"test_rmse": directory / f"{dataset}.svg"}
        fig, _ = figures.plot_test_rmse(curves_table(dataset))
        figures.save_svg(fig, paths[dataset]["test_rmse"])
    benchmark = directory / "job000.tsv"
    benchmark.write_text("s\th:m:s\tmax_rss\n12.5\t0:00:12\t100\n")
    context = report.build_context(study, cells, paths, [benchmark], repo=directory)
    html = report.render_html(context, TEMPLATE, STYLE)
    report.write_pdf(html, directory / "report.pdf", directory)
    return cells, html, (directory / "report.pdf").read_bytes()


def test_html_has_the_tables_figures_and_escapes_labels(rendered):
    cells, html, _ = rendered
    for element in ('id="T1"', 'id="T2"', 'id="F1"', 'id="F2"', "Figure 2.", "Table 2."):
        assert element in html
    assert "&lt;b&gt;dense1&lt;/b&gt;" in html and "<b>dense1</b>" not in html
    assert "Loss Atlas smoke run" in html and "12.5 s, summed over 1 training jobs" in html
    for value in cells["final_test_rmse_mean"]:
        assert report.format_number(value) in html
    assert "<link" not in html and "src=" not in html and "<?xml" not in html


def test_pdf_text_has_the_table_numbers(rendered):
    cells, _, pdf = rendered
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    for column in ("final_test_rmse_mean", "final_test_rmse_ci_low", "final_train_loss_mean"):
        for value in cells[column]:
            assert report.format_number(value) in text, (column, value)


def test_source_date_epoch_makes_the_report_reproducible(study, monkeypatch, tmp_path):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    assert report.render_time().isoformat() == "2023-11-14T22:13:20+00:00"
    benchmark = tmp_path / "job000.tsv"
    benchmark.write_text("s\th:m:s\n1.5\t0:00:01\n")
    outputs = []
    for name in ("a", "b"):
        context = report.build_context(study, cells_table(study).iloc[:1], {}, [benchmark], repo=tmp_path)
        html = report.render_html(context, TEMPLATE, STYLE)
        report.write_pdf(html, tmp_path / f"{name}.pdf", tmp_path)
        outputs.append((html, (tmp_path / f"{name}.pdf").read_bytes()))
    assert outputs[0] == outputs[1]
    assert "2023-11-14T22:13:20Z" in outputs[0][0]
    assert PdfReader(tmp_path / "a.pdf").metadata["/CreationDate"].startswith("D:20231114221320")
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "yesterday")
    with pytest.raises(ValueError, match="SOURCE_DATE_EPOCH"):
        report.render_time()
