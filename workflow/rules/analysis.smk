rule tuned_rates:
    """The tuned learning rate of each base cell of the tuned experiments (on the validation split, at
    the budget and by time to target), from the aggregate's tables alone: its own job, so that the
    figures that read it (time to target, learning rates) are drawn while the analysis runs."""
    input:
        trials=rules.aggregate.output.trials,
        cells=rules.aggregate.output.cells,
    output:
        tuned_rates=RESULTS / "analysis" / "tuned_rates.csv",
    params:
        code=code_hash("tuned_rates.py"),
    # Every job after the aggregate but the curve and overview figures waits for it or for the analysis.
    priority: 10
    conda:
        "../../environment.yml"
    log:
        RESULTS / "logs" / "tuned_rates.log",
    benchmark:
        RESULTS / "benchmarks" / "tuned_rates.tsv"
    script:
        "../scripts/tuned_rates.py"


rule analysis:
    """The article's seed reproduction, paired comparisons between losses and the best loss of each
    context, slopes against the target scale, and a verdict for every claim of the claims file."""
    input:
        trials=rules.aggregate.output.trials,
        cells=rules.aggregate.output.cells,
        article=expand(RESULTS / "article" / "{chunk}.csv", chunk=STUDY.article_jobs()),
        claims=config["claims"],
        tuned_rates=rules.tuned_rates.output.tuned_rates,
    output:
        article_runs=RESULTS / "analysis" / "article_runs.csv",
        article_summary=RESULTS / "analysis" / "article_summary.csv",
        article_examples=RESULTS / "analysis" / "article_examples_2_vs_3.csv",
        comparisons=RESULTS / "analysis" / "loss_comparisons.csv",
        best_losses=RESULTS / "analysis" / "best_losses.csv",
        slopes=RESULTS / "analysis" / "scale_slopes.csv",
        verdicts=RESULTS / "analysis" / "claims.csv",
        claim_details=RESULTS / "analysis" / "claim_details.csv",
        mechanism=RESULTS / "analysis" / "mechanism.csv",
        remedies=RESULTS / "analysis" / "remedies.csv",
        findings=RESULTS / "analysis" / "findings.json",
    params:
        scales={label: spec.scale for label, spec in STUDY.datasets.items() if spec.family == "target_scale"},
        base_seed=config["base_seed"],
        statistics=config["statistics"],
        mechanism=config["mechanism"],
        code=code_hash("analysis.py"),
    # The longest job after the aggregate, and every figure but the overview's and the report wait for it:
    # started first where it competes for a core with the jobs that need only the aggregate's tables.
    priority: 10
    conda:
        "../../environment.yml"
    log:
        RESULTS / "logs" / "analysis.log",
    benchmark:
        RESULTS / "benchmarks" / "analysis.tsv"
    script:
        "../scripts/analysis.py"
