"""Snakemake adapter: rule train -> lossatlas.training.train.run_job."""

from lossatlas.core.logs import log_to

with log_to(snakemake.log[0]):
    from lossatlas.core.atomic import write_table
    from lossatlas.design.config import load_study
    from lossatlas.training.backend import tf
    from lossatlas.training.train import run_job

    tf.config.threading.set_intra_op_parallelism_threads(snakemake.threads)
    tf.config.threading.set_inter_op_parallelism_threads(snakemake.threads)
    study = load_study(snakemake.config)
    datasets = {
        name[len("data_") :]: (path, snakemake.input[f"manifest_{name[len('data_'):]}"])
        for name, path in snakemake.input.items()
        if name.startswith("data_")
    }
    job = f"{snakemake.wildcards.experiment}/{snakemake.wildcards.group}/{snakemake.wildcards.job}"
    trials, evals = run_job(study, job, datasets)
    write_table(snakemake.output.evals, evals)
    write_table(snakemake.output.trials, trials)
    print(f"{job}: {len(trials)} trials, {trials['diverged'].sum()} diverged")
