"""Snakemake adapter: rule report -> lossatlas.report.write_report."""

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

    write_report(
        load_study(snakemake.config),
        cells=snakemake.input.cells,
        floors=snakemake.input.floors,
        analysis={name: snakemake.input[name] for name in ANALYSIS_FILES},
        figures=snakemake.params.figures,
        study_figures=snakemake.params.study_figures,
        benchmarks=snakemake.input.benchmarks,
        template=snakemake.input.template,
        supplement_template=snakemake.input.supplement_template,
        supplement_html=snakemake.output.supplement_html,
        supplement_pdf=snakemake.output.supplement_pdf,
        style=snakemake.input.style,
        script=snakemake.input.script,
        html=snakemake.output.html,
        pdf=snakemake.output.pdf,
        tables_dir=snakemake.params.tables_dir,
        captions_dir=snakemake.params.captions_dir,
        repo=snakemake.params.repo,
        invocation=snakemake.params.invocation,
        # The workflow's CITATION.cff, else the one of the checkout lossatlas is installed from.
        citation_file=find_cff(snakemake.params.repo),
        claims=load_claims(snakemake.input.claims)["claims"],
        inputs=snakemake.output.inputs,
    )
