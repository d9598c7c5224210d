import re

# Datasets that some cell trains on, in config order: each gets a results table and figures.
REPORT_DATASETS = [d for d in STUDY.datasets if any(cell.dataset == d for cell in STUDY.cells)]
FIGURE_KINDS = ("loss_curves", "test_rmse")


def figure_files(dataset):
    """The SVG of each figure kind of ``dataset``."""
    return {kind: str(RESULTS / "figures" / dataset / f"{kind}.svg") for kind in FIGURE_KINDS}


rule figures:
    """Per-epoch curves of one dataset with 95% CI bands: training loss (one panel per loss) and test RMSE."""
    input:
        curves=RESULTS / "aggregate" / "curves.parquet",
    output:
        **figure_files("{dataset}"),
    log:
        RESULTS / "logs" / "figures" / "{dataset}.log",
    wildcard_constraints:
        dataset="|".join(map(re.escape, REPORT_DATASETS)),
    script:
        "../scripts/figures.py"


rule report:
    """The report: study design, one results table and the figures per dataset, provenance; as HTML and PDF."""
    input:
        cells=RESULTS / "aggregate" / "cells.csv",
        figures=[path for dataset in REPORT_DATASETS for path in figure_files(dataset).values()],
        benchmarks=[RESULTS / "benchmarks" / "train" / f"{job}.tsv" for job in JOBS],
        template=Path(workflow.basedir) / "report" / "template.html.j2",
        style=Path(workflow.basedir) / "report" / "style.css",
    output:
        html=REPORT_HTML,
        pdf=REPORT_PDF,
    params:
        figures={dataset: figure_files(dataset) for dataset in REPORT_DATASETS},
        repo=workflow.basedir,
    log:
        RESULTS / "logs" / "report.log",
    script:
        "../scripts/report.py"
