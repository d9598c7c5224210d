# Loss Atlas: datasets -> training -> aggregation -> figures -> HTML and PDF report.
# Run `snakemake --cores 2` (config/config.yaml) or add `--configfile config/smoke.yaml`.
from snakemake.utils import min_version

min_version("9.0")


# A config given with --configfile replaces the default one entirely (no merging of two grids).
if not workflow.overwrite_configfiles:

    configfile: "config/config.yaml"



include: "workflow/rules/common.smk"
include: "workflow/rules/datasets.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/article.smk"
include: "workflow/rules/aggregate.smk"
include: "workflow/rules/analysis.smk"
include: "workflow/rules/report.smk"


rule all:
    """The paper-style report, in HTML and PDF, and everything it is made from."""
    input:
        rules.report.output,
        rules.analysis.output,


onsuccess:
    if REPORT_HTML.exists() and REPORT_PDF.exists():
        print(f"\nReport (HTML): {REPORT_HTML.resolve()}\nReport (PDF):  {REPORT_PDF.resolve()}")
