rule analysis:
    """The article's seed reproduction, paired comparisons between losses, slopes against the
    target scale, and a verdict for every claim of the claims file."""
    input:
        trials=RESULTS / "aggregate" / "trials.parquet",
        article=expand(RESULTS / "article" / "{chunk}.csv", chunk=STUDY.article_jobs()),
        claims=config["claims"],
    output:
        article_runs=RESULTS / "analysis" / "article_runs.csv",
        article_summary=RESULTS / "analysis" / "article_summary.csv",
        article_examples=RESULTS / "analysis" / "article_examples_2_vs_3.csv",
        comparisons=RESULTS / "analysis" / "loss_comparisons.csv",
        slopes=RESULTS / "analysis" / "scale_slopes.csv",
        verdicts=RESULTS / "analysis" / "claims.csv",
        claim_details=RESULTS / "analysis" / "claim_details.csv",
    params:
        scales={label: spec.scale for label, spec in STUDY.datasets.items() if spec.family == "target_scale"},
        base_seed=config["base_seed"],
        resamples=config["report"]["bootstrap_resamples"],
    log:
        RESULTS / "logs" / "analysis.log",
    benchmark:
        RESULTS / "benchmarks" / "analysis.tsv"
    script:
        "../scripts/analysis.py"
