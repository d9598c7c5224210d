"""Snakemake adapter: rule aggregate -> lossatlas.aggregate."""

import pandas as pd

from lossatlas.aggregate import summarize_cells, summarize_curves
from lossatlas.atomic import write_table
from lossatlas.logs import log_to

with log_to(snakemake.log[0]):
    trials = pd.concat([pd.read_parquet(path) for path in snakemake.input.trials], ignore_index=True)
    epochs = pd.concat([pd.read_parquet(path) for path in snakemake.input.epochs], ignore_index=True)
    resamples = snakemake.params.resamples
    write_table(snakemake.output.trials, trials)
    write_table(snakemake.output.cells, summarize_cells(trials, snakemake.params.base_seed, resamples))
    write_table(snakemake.output.curves, summarize_curves(epochs, snakemake.params.base_seed, min(resamples, 1000)))
