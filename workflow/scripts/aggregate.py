"""Snakemake adapter: rule aggregate -> lossatlas.aggregation.aggregate.write_aggregate."""

from lossatlas.core.logs import log_to

with log_to(snakemake.log[0]):
    from lossatlas.aggregation.aggregate import write_aggregate
    from lossatlas.design.config import load_study

    write_aggregate(
        load_study(snakemake.config),
        trials=snakemake.input.trials,
        evals=snakemake.input.evals,
        datasets=dict(zip(snakemake.params.datasets, zip(snakemake.input.data, snakemake.input.manifests))),
        outputs=dict(snakemake.output.items()),
    )
