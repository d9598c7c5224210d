import re

import lossatlas.figures as lossatlas_figures
import lossatlas.report as lossatlas_report
import lossatlas.tables as lossatlas_tables

# Datasets that some cell trains on, in config order: each gets a results section.
REPORT_DATASETS = [d for d in STUDY.datasets if any(cell.dataset == d for cell in STUDY.cells)]
# The experiments whose curves of a dataset are drawn (small enough to read; see lossatlas.figures).
CURVE_EXPERIMENTS = {dataset: lossatlas_figures.curve_experiments(STUDY, dataset) for dataset in REPORT_DATASETS}
FIGURE_KINDS = ("loss_curves", "test_rmse")
# The study-wide figures (article's seeds, heatmaps, gradients, scale), by name.
STUDY_FIGURES = {name: str(RESULTS / "figures" / "study" / f"{name}.svg") for name in lossatlas_figures.study_figures(STUDY)}
STUDY_FIGURE_KINDS = {name: spec["kind"] for name, spec in lossatlas_figures.study_figures(STUDY).items()}


# The report's tables, by id (T1, T2, ...: from the config alone), each as CSV, LaTeX and Markdown.
TABLE_IDS = lossatlas_report.table_ids(STUDY)
TABLES_DIR = RESULTS / "report" / "tables"
TABLE_FILES = [str(path) for table_id in TABLE_IDS.values() for path in lossatlas_tables.table_paths(TABLES_DIR, table_id).values()]
# Captions of Snakemake's own report (`snakemake --report`), relative to this file.
CAPTIONS = "../../report/captions"


def figure_files(dataset, experiment):
    """The SVG of each curve-figure kind of ``dataset`` in ``experiment``, and the JSON of the loss floors drawn."""
    directory = RESULTS / "figures" / dataset / experiment
    return {**{kind: str(directory / f"{kind}.svg") for kind in FIGURE_KINDS}, "floors": str(directory / "floors.json")}


def figure_outputs(dataset, experiment):
    """figure_files, the SVGs marked for Snakemake's own report."""
    return {
        name: report(path, caption=f"{CAPTIONS}/{name}.rst", category="Figures", subcategory="{dataset} / {experiment}",
                     labels={"dataset": "{dataset}", "experiment": "{experiment}", "figure": name})
        if name in FIGURE_KINDS else path
        for name, path in figure_files(dataset, experiment).items()
    }


def table_key(path):
    """The report's table key (lossatlas.report.table_plan) of a table file."""
    table_id = Path(path).stem
    return next(key for key, value in TABLE_IDS.items() if value == table_id)


# Benchmark files of every stage before the report, for its provenance appendix (wall time per stage).
BENCHMARKS = [
    *(RESULTS / "benchmarks" / "datasets" / f"{d}.tsv" for d in sorted({s.dataset for stacks in JOBS.values() for s in stacks} | set(REPORT_DATASETS))),
    *(RESULTS / "benchmarks" / "train" / f"{job}.tsv" for job in JOBS),
    *(RESULTS / "benchmarks" / "article" / f"{chunk}.tsv" for chunk in STUDY.article_jobs()),
    RESULTS / "benchmarks" / "aggregate.tsv",
    RESULTS / "benchmarks" / "analysis.tsv",
    *(RESULTS / "benchmarks" / "figures" / d / f"{e}.tsv" for d in REPORT_DATASETS for e in CURVE_EXPERIMENTS[d]),
    RESULTS / "benchmarks" / "figures" / "study.tsv",
]


rule figures:
    """Per-epoch curves of one dataset in one experiment with 95% CI bands: training loss (one panel per
    loss, with each loss's floor) and test RMSE (with the noise level)."""
    input:
        curves=RESULTS / "aggregate" / "curves.parquet",
        data=RESULTS / "datasets" / "{dataset}.npz",
    output:
        **figure_outputs("{dataset}", "{experiment}"),
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
        [
            report(path, caption=f"{CAPTIONS}/{STUDY_FIGURE_KINDS[name]}.rst", category="Figures", subcategory="Study-wide",
                   labels={"figure": name})
            for name, path in STUDY_FIGURES.items()
        ],
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
        benchmarks=BENCHMARKS,
        template=Path(workflow.basedir) / "report" / "template.html.j2",
        style=Path(workflow.basedir) / "report" / "style.css",
    output:
        html=report(REPORT_HTML, caption=f"{CAPTIONS}/report.rst", category="Report", labels={"format": "HTML"}),
        pdf=report(REPORT_PDF, caption=f"{CAPTIONS}/report.rst", category="Report", labels={"format": "PDF"}),
        tables=[
            report(path, caption=f"{CAPTIONS}/table.rst", category="Tables", subcategory=Path(path).stem,
                   labels={"table": Path(path).stem, "format": Path(path).suffix[1:], "shows": table_key(path)})
            for path in TABLE_FILES
        ],
    params:
        figures={
            dataset: {experiment: figure_files(dataset, experiment) for experiment in CURVE_EXPERIMENTS[dataset]}
            for dataset in REPORT_DATASETS
        },
        study_figures=STUDY_FIGURES,
        repo=workflow.basedir,
        # Read at render time if present; not inputs (the command line is not a result).
        invocation=RESULTS / "logs" / "invocation.json",
        tables_dir=TABLES_DIR,
    log:
        RESULTS / "logs" / "report.log",
    benchmark:
        RESULTS / "benchmarks" / "report.tsv"
    script:
        "../scripts/report.py"
