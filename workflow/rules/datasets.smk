rule dataset:
    """Draw every seed's replicate of one dataset and write it with its SHA-256 manifest."""
    output:
        data=RESULTS / "datasets" / "{dataset}.npz",
        manifest=RESULTS / "datasets" / "{dataset}.manifest.json",
    params:
        spec=lambda wildcards: config["datasets"][wildcards.dataset],
        base_seed=config["base_seed"],
        n_seeds=lambda wildcards: STUDY.dataset_seeds(wildcards.dataset),
    log:
        RESULTS / "logs" / "datasets" / "{dataset}.log",
    benchmark:
        RESULTS / "benchmarks" / "datasets" / "{dataset}.tsv"
    wildcard_constraints:
        dataset="|".join(STUDY.datasets),
    script:
        "../scripts/make_dataset.py"
