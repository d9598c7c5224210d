rule dataset:
    """Draw every seed's replicate of one dataset and write it with its SHA-256 manifest."""
    input:
        unpack(dataset_source),
    output:
        data=RESULTS / "datasets" / "{dataset}.npz",
        manifest=RESULTS / "datasets" / "{dataset}.manifest.json",
    params:
        # canonical JSON (with a csv file's SHA-256): re-ordering keys in the config file is not a change
        spec=dataset_spec_param,
        base_seed=config["base_seed"],
        n_seeds=lambda wildcards: STUDY.dataset_seeds(wildcards.dataset),
        code=code_hash("make_dataset.py"),
    conda:
        "../../environment.yml"
    log:
        RESULTS / "logs" / "datasets" / "{dataset}.log",
    benchmark:
        RESULTS / "benchmarks" / "datasets" / "{dataset}.tsv"
    wildcard_constraints:
        dataset="|".join(map(re.escape, STUDY.datasets)),
    script:
        "../scripts/make_dataset.py"
