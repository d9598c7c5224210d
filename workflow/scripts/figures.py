"""Snakemake adapter: rules figures and study_figures_<group> -> lossatlas.figures."""

from lossatlas.core.logs import log_to

with log_to(snakemake.log[0]):
    from lossatlas import figures
    from lossatlas.design.config import load_study

    study = load_study(snakemake.config)
    if snakemake.rule.startswith("study_figures_"):
        from lossatlas.design.claimspec import load_claims

        tables = snakemake.input
        figures.write_study_figures(
            study,
            snakemake.params.figures,
            cells_path=tables.get("cells"),
            curves_path=tables.get("curves"),
            slopes_path=tables.get("slopes"),
            runs_path=tables.get("article_runs"),
            summary_path=tables.get("article_summary"),
            tuned_path=tables.get("tuned_rates"),
            mechanism_path=tables.get("mechanism"),
            evals_paths=list(tables.get("evals", [])),
            claims=load_claims(tables.claims)["claims"],
            datasets=dict(zip(snakemake.params.datasets, zip(tables.get("data", []), tables.get("manifests", [])))),
        )
    else:
        figures.write_curve_figures(
            snakemake.input.curves,
            snakemake.input.floors,
            snakemake.params.figures,
            noise_sd=snakemake.params.noise_sd,
            study=study,
        )
