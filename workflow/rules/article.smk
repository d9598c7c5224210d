rule article:
    """Run the article's three examples verbatim through plain model.fit for one chunk of seeds."""
    output:
        runs=RESULTS / "article" / "{chunk}.csv",
    params:
        seeds=lambda wildcards: STUDY.article_jobs()[wildcards.chunk],
        code=code_hash("article.py"),
    conda:
        "../../environment.yml"
    log:
        RESULTS / "logs" / "article" / "{chunk}.log",
    benchmark:
        RESULTS / "benchmarks" / "article" / "{chunk}.tsv"
    wildcard_constraints:
        chunk="chunk[0-9]+",
    threads: 1
    resources:
        mem_mb=2000,
        runtime=30,
    script:
        "../scripts/article.py"
