rule aggregate:
    """Per-cell summaries over seeds and per-epoch curves, with 95% bootstrap CIs."""
    input:
        trials=job_files("trials"),
        epochs=job_files("epochs"),
    output:
        trials=RESULTS / "aggregate" / "trials.parquet",
        cells=RESULTS / "aggregate" / "cells.csv",
        curves=RESULTS / "aggregate" / "curves.parquet",
    params:
        base_seed=config["base_seed"],
        resamples=config["report"]["bootstrap_resamples"],
    log:
        RESULTS / "logs" / "aggregate.log",
    benchmark:
        RESULTS / "benchmarks" / "aggregate.tsv"
    script:
        "../scripts/aggregate.py"
