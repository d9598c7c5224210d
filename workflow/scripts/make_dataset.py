"""Snakemake adapter: rule dataset -> lossatlas.data.datasets.write_dataset."""

from lossatlas.core.logs import log_to

with log_to(snakemake.log[0]):
    from lossatlas.data.datasets import write_dataset
    from lossatlas.design.config import load_study

    spec = load_study(snakemake.config).datasets[snakemake.wildcards.dataset]
    write_dataset(spec, snakemake.params.base_seed, snakemake.params.n_seeds, snakemake.output.data, snakemake.output.manifest)
    print(f"wrote {snakemake.output.data}")
