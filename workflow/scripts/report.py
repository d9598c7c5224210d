"""Snakemake adapter: rules report (the paper, its tables and captions) and supplement -> lossatlas.report.write_report."""

from lossatlas.core.logs import log_to

with log_to(snakemake.log[0]):
    import os

    # The render time shown (and the PDF's dates) come from SOURCE_DATE_EPOCH, which the Snakefile sets
    # from the commit; outside a git checkout, from the newest input, so that re-rendering gives the same bytes.
    if not os.environ.get("SOURCE_DATE_EPOCH"):
        os.environ["SOURCE_DATE_EPOCH"] = str(max(int(os.stat(path).st_mtime) for path in snakemake.input))

    from lossatlas.design.claimspec import load_claims
    from lossatlas.design.config import load_study
    from lossatlas.report import ANALYSIS_FILES, write_report
    from lossatlas.report.citation import find_cff

    paper = snakemake.rule == "report"
    write_report(
        load_study(snakemake.config),
        cells=snakemake.input.cells,
        floors=snakemake.input.floors,
        analysis={name: snakemake.input[name] for name in ANALYSIS_FILES},
        figures=snakemake.params.figures,
        study_figures=snakemake.params.study_figures,
        benchmarks=snakemake.input.benchmarks,
        template=snakemake.input.template,
        style=snakemake.input.style,
        script=snakemake.input.script,
        html=snakemake.output.html,
        pdf=snakemake.output.pdf,
        # The paper's job also writes the tables, the captions and what it was built from.
        tables_dir=snakemake.params.tables_dir if paper else None,
        captions_dir=snakemake.params.captions_dir if paper else None,
        inputs=snakemake.output.inputs if paper else None,
        repo=snakemake.params.repo,
        invocation=snakemake.params.invocation,
        # The workflow's CITATION.cff, else the one of the checkout lossatlas is installed from.
        citation_file=find_cff(snakemake.params.repo),
        claims=load_claims(snakemake.input.claims)["claims"],
    )
