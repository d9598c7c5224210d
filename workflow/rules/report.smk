import os

import lossatlas.design.plan as lossatlas_plan

# What is drawn and tabulated is decided from the config and its claims file alone (lossatlas.design.plan), so
# that every output is known before anything runs and the table ids (T1, T2, ...) are the same for every
# run of a config. The claims file is read and checked at parse time by common.smk (CLAIMS, its document);
# it is also an input of the rules below.
REPORT_CLAIMS = CLAIMS["claims"]
# Datasets that some cell trains on, in config order: each gets a results section.
REPORT_DATASETS = lossatlas_plan.report_datasets(STUDY)
# The experiments whose curves of a dataset are drawn (small enough to read).
CURVE_EXPERIMENTS = {dataset: lossatlas_plan.curve_experiments(STUDY, dataset) for dataset in REPORT_DATASETS}
# The study-wide figures (article's seeds, heatmaps, gradients, scale, time to target, learning rates,
# mechanism), by name, and their kinds.
STUDY_FIGURE_PLAN = lossatlas_plan.study_figures(STUDY, REPORT_CLAIMS)
STUDY_FIGURES = {name: str(RESULTS / "figures" / "study" / f"{name}.svg") for name in STUDY_FIGURE_PLAN}
# The names of the study-wide figures by the job that draws them (lossatlas.design.plan.STUDY_FIGURE_GROUPS:
# by the tables they read), each job one rule study_figures_<group>.
STUDY_FIGURE_GROUPS = lossatlas_plan.study_figure_groups(STUDY_FIGURE_PLAN)

# The report's tables, by id (T1, T2, ...: from the config alone), each as CSV, LaTeX and Markdown.
TABLE_IDS = lossatlas_plan.table_ids(STUDY, claims=REPORT_CLAIMS)
TABLES_DIR = RESULTS / "report" / "tables"
TABLE_FILES = [str(path) for table_id in TABLE_IDS.values() for path in lossatlas_plan.table_paths(TABLES_DIR, table_id).values()]

# Captions of Snakemake's own report (`snakemake --report`): written by the report rule from
# lossatlas.report.captions, the one place every caption is defined. Snakemake reads them only when
# `--report` runs, after the workflow; absolute, because report() captions are relative to this file.
CAPTIONS_DIR = RESULTS / "report" / "captions"
# The evaluations of the training jobs whose cells the time-judged claims compare (time-to-target figure).
TIME_EVALS = [str(RESULTS / "train" / job / "evals.parquet") for job in lossatlas_plan.time_jobs(STUDY, REPORT_CLAIMS)]
CAPTION_FILES = {name: str(CAPTIONS_DIR / f"{name}.rst") for name in lossatlas_plan.SNAKEMAKE_CAPTIONS}


def caption(name):
    """The absolute path of the caption file of ``name`` for Snakemake's own report (report()
    captions are relative to the including file otherwise)."""
    return str(Path(CAPTION_FILES[name]).absolute())


def figure_files(dataset, experiment):
    """The SVG of each curve figure of ``dataset`` in ``experiment``."""
    directory = RESULTS / "figures" / dataset / experiment
    return {kind: str(directory / f"{kind}.svg") for kind in lossatlas_plan.CURVE_FIGURES}


# dataset -> experiment -> figure kind -> SVG path of every curve figure of the report.
CURVE_FIGURES = {dataset: {experiment: figure_files(dataset, experiment) for experiment in CURVE_EXPERIMENTS[dataset]}
                 for dataset in REPORT_DATASETS}
# (dataset, experiment, kind, SVG path) of each of them, in report order.
CURVE_FIGURE_LIST = [(dataset, experiment, kind, path) for dataset, experiments in CURVE_FIGURES.items()
                     for experiment, files in experiments.items() for kind, path in files.items()]


def figure_data(paths):
    """The CSV of the numbers each figure plots, next to its SVG, for each SVG path of ``paths``
    (lossatlas.figures.figure_data_path), in order."""
    return [str(Path(path).with_suffix(".csv")) for path in paths]


# The CSV of each curve figure, in the order of CURVE_FIGURE_LIST, and of each study-wide figure.
CURVE_FIGURE_DATA = figure_data(path for *_, path in CURVE_FIGURE_LIST)
STUDY_FIGURE_DATA = figure_data(STUDY_FIGURES.values())


def marked(path, kind, dataset, experiment):
    """A curve figure's SVG marked for Snakemake's own report."""
    return report(path, caption=caption(kind), category="Figures", subcategory=f"{dataset} / {experiment}",
                  labels={"dataset": dataset, "experiment": experiment, "figure": kind})


def curve_figure_outputs():
    """Every curve figure's SVG (figure_files of each dataset and experiment of the report), marked
    for Snakemake's own report, then the CSV of its numbers."""
    figures = [marked(path, kind, dataset, experiment) for dataset, experiment, kind, path in CURVE_FIGURE_LIST]
    return figures + CURVE_FIGURE_DATA


def table_key(path):
    """The report's table key (lossatlas.design.plan.table_plan) of a table file."""
    table_id = Path(path).stem
    return next(key for key, value in TABLE_IDS.items() if value == table_id)


# The report's templates, CSS and script (report/ of the checkout), relative to the working directory,
# so that a moved checkout (or a copy of a finished run) does not count as changed inputs.
REPORT_SOURCES = Path(os.path.relpath(Path(workflow.basedir) / "report"))


# Benchmark files of every stage before the report, for its provenance appendix (wall time per stage).
BENCHMARKS = [
    *(RESULTS / "benchmarks" / "datasets" / f"{d}.tsv" for d in sorted({d for stacks in JOBS.values() for s in stacks for d in s.datasets} | set(REPORT_DATASETS))),
    *(RESULTS / "benchmarks" / "train" / f"{job}.tsv" for job in JOBS),
    *(RESULTS / "benchmarks" / "article" / f"{chunk}.tsv" for chunk in STUDY.article_jobs()),
    RESULTS / "benchmarks" / "aggregate.tsv",
    RESULTS / "benchmarks" / "tuned_rates.tsv",
    RESULTS / "benchmarks" / "analysis.tsv",
    RESULTS / "benchmarks" / "figures" / "curves.tsv",
    *(RESULTS / "benchmarks" / "figures" / "study" / f"{group}.tsv" for group in STUDY_FIGURE_GROUPS),
]


rule figures:
    """Curves of each dataset in each of its experiments (CURVE_EXPERIMENTS) with 95% CI bands, at the
    evaluation points: training loss (one panel per loss, with each loss's floor from the floors
    table) and test RMSE (with the noise level where it is known); one job, the tables read once."""
    input:
        curves=rules.aggregate.output.curves,
        floors=rules.aggregate.output.floors,
    output:
        # Each SVG, then the numbers it plots as CSV next to it (lossatlas.figures.save_figure).
        curve_figure_outputs(),
    params:
        figures=CURVE_FIGURES,
        noise_sd={dataset: STUDY.datasets[dataset].noise_sd for dataset in REPORT_DATASETS},
        code=code_hash("figures.py"),
    conda:
        "../../environment.yml"
    log:
        RESULTS / "logs" / "figures" / "curves.log",
    benchmark:
        RESULTS / "benchmarks" / "figures" / "curves.tsv"
    script:
        "../scripts/figures.py"


# Each table a study-wide figure may read, by its name in lossatlas.design.plan.STUDY_FIGURE_TABLES (which
# says what each kind of figure reads): a group's job is given those its figures read.
STUDY_FIGURE_TABLE_FILES = {
    "cells": rules.aggregate.output.cells,
    "curves": rules.aggregate.output.curves,
    **{name: getattr(rules.analysis.output, name) for name in ("slopes", "article_runs", "article_summary", "mechanism")},
    "tuned_rates": rules.tuned_rates.output.tuned_rates,
    "evals": TIME_EVALS,
    # The datasets' arrays: a panel whose target is rRMSE divides by each seed's least-squares error.
    "data": [dataset_files(d)["data"] for d in trained_datasets()],
    "manifests": [dataset_files(d)["manifest"] for d in trained_datasets()],
}


for group, names in STUDY_FIGURE_GROUPS.items():

    rule:
        """One group of the study-wide figures (STUDY_FIGURE_GROUPS), one job each, side by side:
        overview: heatmaps of the grid's test nRMSE, gradient norms over training and the test nRMSE
        against the target scale, at each optimizer's default rate; rates: the median test nRMSE
        against steps of the cells the time-judged claims compare, and the final test nRMSE against
        the learning rate of tuned experiments (both groups drawn while the analysis runs); analysis:
        the article's examples over seeds, the initial gradient and first update against the target
        scale, and the distances needed and travelled of the cells the paired claims compare."""
        name:
            f"study_figures_{group}"
        input:
            claims=config["claims"],
            **{table: STUDY_FIGURE_TABLE_FILES[table] for table in lossatlas_plan.study_figure_tables(STUDY_FIGURE_PLAN, names)},
        output:
            [
                report(STUDY_FIGURES[name], caption=caption(STUDY_FIGURE_PLAN[name]["kind"]), category="Figures",
                       subcategory="Study-wide", labels={"figure": name})
                for name in names
            ],
            # The numbers each figure plots, as CSV next to it (lossatlas.figures.save_figure).
            figure_data(STUDY_FIGURES[name] for name in names),
        params:
            figures={name: STUDY_FIGURES[name] for name in names},
            datasets=trained_datasets(),
            code=code_hash("figures.py"),
        conda:
            "../../environment.yml"
        log:
            RESULTS / "logs" / "figures" / "study" / f"{group}.log",
        benchmark:
            RESULTS / "benchmarks" / "figures" / "study" / f"{group}.tsv"
        script:
            "../scripts/figures.py"


# What the paper and its supplement are both rendered from (one context, lossatlas.report.render.build_context),
# by name, but for each one's template.
REPORT_INPUTS = {
    "cells": rules.aggregate.output.cells,
    "floors": rules.aggregate.output.floors,
    **{name: getattr(rules.analysis.output, name) for name in ("article_summary", "article_examples", "comparisons",
                                                               "best_losses", "verdicts", "claim_details", "mechanism",
                                                               "remedies", "findings")},
    "tuned_rates": rules.tuned_rates.output.tuned_rates,
    "claims": config["claims"],
    "figures": [path for *_, path in CURVE_FIGURE_LIST],
    "study_figures": list(STUDY_FIGURES.values()),
    # Each figure links the CSV of its numbers (and names its columns).
    "figure_data": [*CURVE_FIGURE_DATA, *STUDY_FIGURE_DATA],
    "benchmarks": BENCHMARKS,
    "bibliography": REPORT_SOURCES / "references.bib",
    # The templates' sections, one include each (report/sections/).
    "sections": sorted((REPORT_SOURCES / "sections").glob("*.html.j2")),
    "style": REPORT_SOURCES / "style.css",
    "script": REPORT_SOURCES / "explore.js",
}
REPORT_PARAMS = {
    "figures": CURVE_FIGURES,
    "study_figures": STUDY_FIGURES,
    # The workflow's checkout (for the commit), where the templates live: <repo>/report/paper.html.j2 and supplement.html.j2.
    "repo": lambda wildcards, input: str(Path(input.template).parent.parent),
    # Read at render time if present; not inputs (the command line is not a result).
    "invocation": RESULTS / "logs" / "invocation.json",
    "code": code_hash("report.py"),
}


rule report:
    """The paper: the answer (why gradients go missing, what to do), the question, the setup, the
    findings with their verdicts and the main figures, referring to the supplement by table and
    figure id; as HTML and PDF; every table of the supplement as CSV, LaTeX and Markdown; the
    captions of Snakemake's own report; and what it was built from (inputs.json, for make verify)."""
    input:
        **REPORT_INPUTS,
        template=REPORT_SOURCES / "paper.html.j2",
    output:
        html=report(REPORT_HTML, caption=caption("report"), category="Report", labels={"format": "HTML"}),
        pdf=report(REPORT_PDF, caption=caption("report"), category="Report", labels={"format": "PDF"}),
        tables=[
            report(path, caption=caption("table"), category="Tables", subcategory=Path(path).stem,
                   labels={"table": Path(path).stem, "format": Path(path).suffix[1:], "shows": table_key(path)})
            for path in TABLE_FILES
        ],
        captions=list(CAPTION_FILES.values()),
        # What the report was built from, for `make verify` (lossatlas.report.rebuild_tables).
        inputs=RESULTS / "report" / "inputs.json",
    params:
        **REPORT_PARAMS,
        tables_dir=TABLES_DIR,
        captions_dir=CAPTIONS_DIR,
    conda:
        "../../environment.yml"
    log:
        RESULTS / "logs" / "report.log",
    benchmark:
        RESULTS / "benchmarks" / "report.tsv"
    script:
        "../scripts/report.py"


rule supplement:
    """The supplement, rendered beside the paper from the same context: study design, metrics, the
    article's examples, claims and verdicts at the default and tuned rates, time to target, learning
    rates, the mechanism and the remedies, overview figures, loss comparisons, results and curves per
    dataset, provenance and every cell; as HTML and PDF."""
    input:
        **REPORT_INPUTS,
        template=REPORT_SOURCES / "supplement.html.j2",
    output:
        html=report(SUPPLEMENT_HTML, caption=caption("report"), category="Report", labels={"format": "HTML, supplement"}),
        pdf=report(SUPPLEMENT_PDF, caption=caption("report"), category="Report", labels={"format": "PDF, supplement"}),
    params:
        **REPORT_PARAMS,
    conda:
        "../../environment.yml"
    log:
        RESULTS / "logs" / "supplement.log",
    benchmark:
        RESULTS / "benchmarks" / "supplement.tsv"
    script:
        "../scripts/report.py"
