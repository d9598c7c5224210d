"""Snakemake adapter: rule figures -> lossatlas.figures.write_figures."""

from lossatlas.logs import log_to

with log_to(snakemake.log[0]):
    from lossatlas.figures import write_figures

    write_figures(
        snakemake.input.curves,
        snakemake.wildcards.dataset,
        loss_curves=snakemake.output.loss_curves,
        test_rmse=snakemake.output.test_rmse,
    )
