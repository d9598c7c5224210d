"""Snakemake adapter: rule analysis -> lossatlas.analysis.analyses.write_analysis."""

from lossatlas.core.logs import log_to

with log_to(snakemake.log[0]):
    from lossatlas.analysis.analyses import write_analysis
    from lossatlas.design.config import load_study

    write_analysis(
        load_study(snakemake.config),
        trials=snakemake.input.trials,
        cells=snakemake.input.cells,
        article=snakemake.input.article,
        claims=snakemake.input.claims,
        scales=snakemake.params.scales,
        tuned_rates=snakemake.input.tuned_rates,
        outputs=dict(snakemake.output.items()),
    )
