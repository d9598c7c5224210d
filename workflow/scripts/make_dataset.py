"""Snakemake adapter: rule dataset -> lossatlas.datasets.write_dataset."""

from lossatlas.logs import log_to

with log_to(snakemake.log[0]):
    from lossatlas.config import load_study
    from lossatlas.datasets import write_dataset

    spec = load_study(snakemake.config).datasets[snakemake.wildcards.dataset]
    write_dataset(spec, snakemake.params.base_seed, snakemake.params.n_seeds, snakemake.output.data, snakemake.output.manifest)
    print(f"wrote {snakemake.output.data}")
