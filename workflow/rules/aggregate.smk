rule aggregate:
    """Per-trial metrics derived from the measurements (normalized errors, steps to the threshold,
    stagnation), per-cell summaries over seeds and per-evaluation curves with 95% bootstrap CIs,
    and the loss floors."""
    input:
        trials=job_files("trials"),
        evals=job_files("evals"),
        data=[dataset_files(d)["data"] for d in trained_datasets()],
        manifests=[dataset_files(d)["manifest"] for d in trained_datasets()],
    output:
        trials=RESULTS / "aggregate" / "trials.parquet",
        cells=RESULTS / "aggregate" / "cells.csv",
        curves=RESULTS / "aggregate" / "curves.parquet",
        floors=RESULTS / "aggregate" / "floors.csv",
    params:
        datasets=trained_datasets(),
        metrics=config["metrics"],
        statistics=config["statistics"],
        code=code_hash("aggregate.py"),
    conda:
        "../../environment.yml"
    log:
        RESULTS / "logs" / "aggregate.log",
    benchmark:
        RESULTS / "benchmarks" / "aggregate.tsv"
    script:
        "../scripts/aggregate.py"
