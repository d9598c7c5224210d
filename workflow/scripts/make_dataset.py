"""Snakemake adapter: rule dataset -> lossatlas.datasets.write_dataset."""

import json

from lossatlas.datasets import DatasetSpec, write_dataset
from lossatlas.logs import log_to

with log_to(snakemake.log[0]):
    spec = DatasetSpec(label=snakemake.wildcards.dataset, **json.loads(snakemake.params.spec))
    write_dataset(spec, snakemake.params.base_seed, snakemake.params.n_seeds, snakemake.output.data, snakemake.output.manifest)
    print(f"wrote {snakemake.output.data}")
