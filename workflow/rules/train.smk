rule train:
    """Train one job's stacks (every seed of every cell) with the stacked engine."""
    input:
        unpack(job_datasets),
    output:
        trials=RESULTS / "train" / "{experiment}" / "{group}" / "{job}" / "trials.parquet",
        evals=RESULTS / "train" / "{experiment}" / "{group}" / "{job}" / "evals.parquet",
    params:
        spec=job_params,
        code=code_hash("train.py"),
    conda:
        "../../environment.yml"
    log:
        RESULTS / "logs" / "train" / "{experiment}" / "{group}" / "{job}.log",
    benchmark:
        RESULTS / "benchmarks" / "train" / "{experiment}" / "{group}" / "{job}.tsv"
    threads: 1
    resources:
        # the default run's largest jobs peak at about 2.1 GB (results/benchmarks/train)
        mem_mb=3000,
        runtime=60,
    script:
        "../scripts/train.py"
