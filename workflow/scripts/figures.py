"""Snakemake adapter: rules figures and study_figures -> lossatlas.figures."""

from lossatlas.core.logs import log_to

with log_to(snakemake.log[0]):
    from lossatlas import figures
    from lossatlas.design.config import load_study

    study = load_study(snakemake.config)
    if snakemake.rule == "study_figures":
        from lossatlas.design.claimspec import load_claims

        figures.write_study_figures(
            study,
            snakemake.params.figures,
            cells_path=snakemake.input.cells,
            curves_path=snakemake.input.curves,
            slopes_path=snakemake.input.slopes,
            runs_path=snakemake.input.article_runs,
            summary_path=snakemake.input.article_summary,
            tuned_path=snakemake.input.tuned_rates,
            mechanism_path=snakemake.input.mechanism,
            evals_paths=list(snakemake.input.evals),
            claims=load_claims(snakemake.input.claims)["claims"],
            datasets=dict(zip(snakemake.params.datasets, zip(snakemake.input.data, snakemake.input.manifests))),
        )
    else:
        figures.write_curve_figures(
            snakemake.input.curves,
            snakemake.input.floors,
            snakemake.params.figures,
            noise_sd=snakemake.params.noise_sd,
            study=study,
        )
