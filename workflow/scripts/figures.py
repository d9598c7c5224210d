"""Snakemake adapter: rules figures and study_figures -> lossatlas.figures."""

from lossatlas.logs import log_to

with log_to(snakemake.log[0]):
    from lossatlas import figures

    if snakemake.rule == "study_figures":
        from lossatlas.config import load_study

        figures.write_study_figures(
            load_study(snakemake.config),
            snakemake.params.figures,
            cells_path=snakemake.input.cells,
            curves_path=snakemake.input.curves,
            slopes_path=snakemake.input.slopes,
            runs_path=snakemake.input.article_runs,
            summary_path=snakemake.input.article_summary,
        )
    else:
        figures.write_figures(
            snakemake.input.curves,
            snakemake.input.floors,
            snakemake.wildcards.dataset,
            snakemake.wildcards.experiment,
            outputs=dict(snakemake.output.items()),
            noise_sd=snakemake.params.noise_sd,
        )
