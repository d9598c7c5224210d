"""Snakemake adapter: rule tuned_rates -> lossatlas.analysis.analyses.write_tuned_rates."""

from lossatlas.core.logs import log_to

with log_to(snakemake.log[0]):
    from lossatlas.analysis.analyses import write_tuned_rates
    from lossatlas.design.config import load_study

    write_tuned_rates(
        load_study(snakemake.config),
        trials=snakemake.input.trials,
        cells=snakemake.input.cells,
        output=snakemake.output.tuned_rates,
    )
