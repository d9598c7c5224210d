import re

import lossatlas.figures as lossatlas_figures

# Datasets that some cell trains on, in config order: each gets a results section.
REPORT_DATASETS = [d for d in STUDY.datasets if any(cell.dataset == d for cell in STUDY.cells)]
# The experiments whose curves of a dataset are drawn (small enough to read; see lossatlas.figures).
CURVE_EXPERIMENTS = {dataset: lossatlas_figures.curve_experiments(STUDY, dataset) for dataset in REPORT_DATASETS}
FIGURE_KINDS = ("loss_curves", "test_rmse")
# The study-wide figures (article's seeds, heatmaps, gradients, scale), by name.
STUDY_FIGURES = {name: str(RESULTS / "figures" / "study" / f"{name}.svg") for name in lossatlas_figures.study_figures(STUDY)}


def figure_files(dataset, experiment):
    """The SVG of each curve-figure kind of ``dataset`` in ``experiment``, and the JSON of the loss floors drawn."""
    directory = RESULTS / "figures" / dataset / experiment
    return {**{kind: str(directory / f"{kind}.svg") for kind in FIGURE_KINDS}, "floors": str(directory / "floors.json")}


rule figures:
    """Per-epoch curves of one dataset in one experiment with 95% CI bands: training loss (one panel per
    loss, with each loss's floor) and test RMSE (with the noise level)."""
    input:
        curves=RESULTS / "aggregate" / "curves.parquet",
        data=RESULTS / "datasets" / "{dataset}.npz",
    output:
        **figure_files("{dataset}", "{experiment}"),
    params:
        noise_sd=lambda wildcards: STUDY.datasets[wildcards.dataset].noise_sd,
        n_seeds=lambda wildcards: STUDY.experiments[wildcards.experiment].n_seeds,
    log:
        RESULTS / "logs" / "figures" / "{dataset}" / "{experiment}.log",
    benchmark:
        RESULTS / "benchmarks" / "figures" / "{dataset}" / "{experiment}.tsv"
    wildcard_constraints:
        dataset="|".join(map(re.escape, REPORT_DATASETS)),
        experiment="|".join(map(re.escape, STUDY.experiments)),
    script:
        "../scripts/figures.py"


rule study_figures:
    """The study-wide figures: the article's examples over seeds, heatmaps of the grid's test nRMSE,
    gradient norms over epochs, gradient and update norms and test nRMSE against the target scale."""
    input:
        cells=RESULTS / "aggregate" / "cells.csv",
        curves=RESULTS / "aggregate" / "curves.parquet",
        slopes=rules.analysis.output.slopes,
        article_runs=rules.analysis.output.article_runs,
        article_summary=rules.analysis.output.article_summary,
    output:
        list(STUDY_FIGURES.values()),
    params:
        figures=STUDY_FIGURES,
    log:
        RESULTS / "logs" / "figures" / "study.log",
    benchmark:
        RESULTS / "benchmarks" / "figures" / "study.tsv"
    script:
        "../scripts/figures.py"


rule report:
    """The report: study design, metrics, the article's examples, claims and verdicts, overview figures,
    loss comparisons, results and curves per dataset, provenance, every cell; as HTML and PDF."""
    input:
        cells=RESULTS / "aggregate" / "cells.csv",
        article_runs=rules.analysis.output.article_runs,
        article_summary=rules.analysis.output.article_summary,
        article_examples=rules.analysis.output.article_examples,
        comparisons=rules.analysis.output.comparisons,
        verdicts=rules.analysis.output.verdicts,
        figures=[
            path
            for dataset in REPORT_DATASETS
            for experiment in CURVE_EXPERIMENTS[dataset]
            for path in figure_files(dataset, experiment).values()
        ],
        study_figures=list(STUDY_FIGURES.values()),
        benchmarks=[RESULTS / "benchmarks" / "train" / f"{job}.tsv" for job in JOBS],
        template=Path(workflow.basedir) / "report" / "template.html.j2",
        style=Path(workflow.basedir) / "report" / "style.css",
    output:
        html=REPORT_HTML,
        pdf=REPORT_PDF,
    params:
        figures={
            dataset: {experiment: figure_files(dataset, experiment) for experiment in CURVE_EXPERIMENTS[dataset]}
            for dataset in REPORT_DATASETS
        },
        study_figures=STUDY_FIGURES,
        repo=workflow.basedir,
    log:
        RESULTS / "logs" / "report.log",
    benchmark:
        RESULTS / "benchmarks" / "report.tsv"
    script:
        "../scripts/report.py"
