"""The whole report of the hand-made tables, rendered to HTML and PDF (lossatlas.report.render and the
context it renders; no workflow run)."""

from __future__ import annotations

import html as html_module
import io
import re
import shutil
import subprocess

import pytest
from handmade import analysis_tables, cells_table, curves_table, floors_table
from helpers import REPO
from pypdf import PdfReader
from report_fixtures import study_fixture  # noqa: F401  (the pytest fixture `study`)

from lossatlas import figures, report
from lossatlas.core import textfmt
from lossatlas.design import views
from lossatlas.report import provenance

TEMPLATE = REPO / "report" / "supplement.html.j2"
STYLE = REPO / "report" / "style.css"


# --- the whole report ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def rendered(study, tmp_path_factory):
    """The report of the hand-made tables, rendered once to HTML and PDF."""
    directory = tmp_path_factory.mktemp("report")
    cells = cells_table(study)
    cells.loc[cells["dataset"] == "seed_large", "model"] = "<b>dense1</b>"
    paths = {}
    for dataset in ("seed_large", "seed_small"):
        paths[dataset] = {"article": {"test_rmse": directory / "figures" / f"{dataset}.svg"}}
        fig, _, data = figures.plot_test_rmse(curves_table(dataset))
        figures.save_figure(fig, data, paths[dataset]["article"]["test_rmse"])
    tables = analysis_tables()
    fig, _, _ = figures.plot_article_seeds(tables["article_runs"], tables["article_summary"])
    figures.save_svg(fig, directory / "article_seeds.svg")  # a figure without its data
    benchmark = directory / "job000.tsv"
    benchmark.write_text("s\th:m:s\tmax_rss\n12.5\t0:00:12\t100\n")
    invocation = directory / "invocation.json"
    invocation.write_text('{"command": ["snakemake", "--cores", "2", "--configfile", "config/smoke.yaml", "--forcerun", "report"]}')
    context = report.build_context(study, cells, paths, [benchmark], repo=directory, analysis=tables,
                                   study_figures={"article_seeds": directory / "article_seeds.svg"}, floors=floors_table(),
                                   invocation=invocation, link_base=directory / "report")
    html = report.render_html(context, TEMPLATE, STYLE)
    report.write_pdf(html, directory / "report.pdf", directory)
    return cells, html, (directory / "report.pdf").read_bytes()


@pytest.mark.slow
def test_html_has_the_tables_figures_and_escapes_labels(rendered):
    cells, html, _ = rendered
    for element in ('id="T1"', 'id="T2"', 'id="F1"', 'id="F2"', 'id="F3"', "Figure 3.", "Table 2."):
        assert element in html
    assert "&lt;b&gt;dense1&lt;/b&gt;" in html and "<b>dense1</b>" not in html
    assert "Loss Atlas smoke run" in html and "12.5 s, summed over 1 training jobs" in html
    assert "Why are gradients missing when using MSE with TensorFlow Keras?" in html and "2025-01-30" in html
    for value in cells["final_test_rmse_mean"]:
        assert textfmt.format_number(value) in html
    for verdict in ("supported", "not-supported", "mixed", "undecided"):
        assert f'class="verdict {verdict}"' in html
    assert ".verdict.undecided" in html  # its own style
    assert "the article&#39;s &lt;words&gt;" in html
    assert "<link" not in html and "src=" not in html and "<?xml" not in html
    # the only links out of the page are those to the figures' data (links, not resources it loads)
    assert html.count('href="../') == html.count('<a class="screen-only" href="../figures/') > 0


def test_figures_link_their_data_and_the_command_that_rebuilds_them(rendered):
    _, html, _ = rendered
    figure = html[html.index('<figure id="F1"'):html.index("</figure>", html.index('<figure id="F1"'))]
    assert 'href="../figures/seed_large.csv"' in figure  # relative to the HTML's directory
    assert "(columns panel, experiment, dataset, inputs, targets, model, optimizer, learning_rate, loss, activation, metric, " \
           "epoch, mean, ci_low, ci_high)" in " ".join(figure.split())
    svg = next(line for line in html.splitlines() if "seed_large.svg" in line and "Rebuild" in line)
    assert "--configfile config/smoke.yaml --force " in svg and "--forcerun" not in svg
    article = html[html.rindex("<figure"):]
    assert "Data:" not in article[:article.index("</figure>")]  # no CSV next to it: no link
    # text as text, in the report's font: the SVG's root names it, the page's CSS too
    assert "<text" in figure and "font-family=\"'DejaVu Sans'\"" in figure and 'figure svg { font-family: "DejaVu Sans"' in html


def test_compact_html_leaves_out_what_the_parser_implies_only():
    from lossatlas.report.render import compact_html

    html = ("<table>\n  <tr>\n    <td>a</td>\n    <td>b</td>\n  </tr>\n  <tr><th>c</th></tr>\n</table>\n"
            "<ul>\n  <li>x</li>\n  <li>y</li>\n</ul>\n<pre>  kept\n    as is</td></pre>\n"
            "<script>\n  var a = '</td>';\n</script>\n<p>a\n   b</p>")
    assert compact_html(html) == ("<table>\n<tr>\n<td>a<td>b<tr><th>c</table>\n<ul>\n<li>x<li>y</ul>\n"
                                  "<pre>  kept\n    as is</td></pre>\n<script>\n  var a = '</td>';\n</script>\n<p>a\nb</p>")


@pytest.mark.slow
def test_pdf_figure_text_is_selectable(rendered):
    """pdftotext finds, on the page that holds Figure 1, the text of its panel titles and axis labels
    (drawn text, not outlines)."""
    _, _, pdf = rendered
    pages = [page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages]
    if shutil.which("pdftotext"):
        run = subprocess.run(["pdftotext", "-", "-"], input=pdf, capture_output=True, check=True)
        pages = run.stdout.decode().split("\f")
    page = next(page for page in pages if "Figure 1." in page)
    caption = page[page.index("Figure 1."):]
    assert "loss: binary_crossentropy" in page and "loss: binary_crossentropy" not in caption  # a panel title
    assert "epoch" in page[:page.index("Figure 1.")] and "test RMSE" in page[:page.index("Figure 1.")]  # axis labels


def test_html_answers_the_title_question_first(rendered):
    _, html, _ = rendered
    abstract = html[html.index('id="abstract"'):html.index("</section>", html.index('id="abstract"'))]
    assert abstract.index("Why do the gradients go missing?") < abstract.index("This report examines")
    flat = html_module.unescape(" ".join(re.sub(r"<[^>]+>", " ", abstract).split()))
    assert "Of the 3 cells the article's paired claims compare" in flat
    assert "3 miss test nRMSE ≤ 1.5 within the article's budget of 240 optimizer steps" in flat
    assert "2 of them reach the threshold later, trained up to 1,920 steps (median 5.4 times the budget)" in flat
    assert "3.5 [3.4, 4.1] times" in flat and "Claim <not> supported" in flat
    assert "Verdicts at each cell's tuned learning rate" in flat
    for section in ('id="time"', 'id="rates"', 'id="discussion"', "What to do", "Slow or stuck?"):
        assert section in html, section
    assert "<not>" not in html and "&lt;sooner&gt;" in html  # names and rules escaped everywhere
    discussion = html[html.index('id="discussion"'):]
    assert "changes the budget verdict of C2" in " ".join(re.sub(r"<[^>]+>", " ", discussion).split())
    # sections numbered in order, the optional ones included
    numbers = re.findall(r"<h2>(\d+) ", html)
    assert numbers == [str(n) for n in range(1, len(numbers) + 1)] and len(numbers) == 9


@pytest.mark.slow
def test_pdf_text_has_the_table_numbers(rendered, study):
    cells, _, pdf = rendered
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    default = views.at_default(cells, study)  # the results per dataset; the appendix has every cell
    flat = " ".join(text.split())
    for frame, metrics in ((default, ("final_test_nrmse",)), (cells, ("final_test_rmse", "final_train_loss"))):
        for metric in metrics:
            for _, row in frame.iterrows():
                estimate, bounds = textfmt.interval_parts(row[f"{metric}_mean"], row[f"{metric}_ci_low"], row[f"{metric}_ci_high"], "error")
                assert estimate in flat and bounds in flat, (metric, estimate, bounds)
    for value in default["final_test_nrmse_median"]:
        assert textfmt.format_error(value) in flat, value
    for words in ("not supported", "mixed", "undecided", "BCE*", "17 [9, 17]", "undecided at the cap", "3.5 [3.4, 4.1]",
                  "step budget", "small gradient"):
        assert words in flat, words


@pytest.mark.slow
def test_source_date_epoch_makes_the_report_reproducible(study, monkeypatch, tmp_path):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    assert provenance.render_time().isoformat() == "2023-11-14T22:13:20+00:00"
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
        provenance.render_time()
