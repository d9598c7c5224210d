"""Snakemake adapter: rule article -> lossatlas.training.article.run_examples for each seed."""

from lossatlas.core.logs import log_to

with log_to(snakemake.log[0]):
    import pandas as pd

    from lossatlas.core.atomic import write_table
    from lossatlas.training.article import run_examples
    from lossatlas.training.backend import tf

    tf.config.threading.set_intra_op_parallelism_threads(snakemake.threads)
    tf.config.threading.set_inter_op_parallelism_threads(snakemake.threads)
    runs = pd.DataFrame([record for seed in snakemake.params.seeds for record in run_examples(seed)])
    write_table(snakemake.output.runs, runs)
    print(runs.to_string())
