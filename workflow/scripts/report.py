"""Snakemake adapter: rule report -> lossatlas.report.write_report."""

from lossatlas.logs import log_to

with log_to(snakemake.log[0]):
    from lossatlas.config import load_study
    from lossatlas.report import ANALYSIS_FILES, write_report

    write_report(
        load_study(snakemake.config),
        cells=snakemake.input.cells,
        figures=snakemake.params.figures,
        benchmarks=snakemake.input.benchmarks,
        template=snakemake.input.template,
        style=snakemake.input.style,
        html=snakemake.output.html,
        pdf=snakemake.output.pdf,
        repo=snakemake.params.repo,
        analysis={name: snakemake.input[name] for name in ANALYSIS_FILES},
        study_figures=snakemake.params.study_figures,
    )
