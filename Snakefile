# Loss Atlas: datasets -> training -> aggregation -> figures -> HTML and PDF report.
# Run `snakemake --cores 2` (config/config.yaml) or add `--configfile config/smoke.yaml`.
import json
import os
import subprocess
import sys
import time

from snakemake.utils import min_version

min_version("9.0")

# A config given with --configfile replaces the default one entirely (no merging of two grids).
if not workflow.overwrite_configfiles:

    configfile: "config/config.yaml"


# Dates inside the PDF come from the commit, so that the same commit renders the same bytes; outside a
# git checkout, from the newest of the Snakefile and the config files.
if "SOURCE_DATE_EPOCH" not in os.environ:
    commit_time = subprocess.run(["git", "log", "-1", "--format=%ct"], capture_output=True, text=True, cwd=workflow.basedir)
    if commit_time.returncode == 0 and commit_time.stdout.strip():
        os.environ["SOURCE_DATE_EPOCH"] = commit_time.stdout.strip()
    else:
        sources = [os.path.join(workflow.basedir, "Snakefile"), *workflow.configfiles]
        os.environ["SOURCE_DATE_EPOCH"] = str(max(int(os.stat(path).st_mtime) for path in sources))


envvars:
    "SOURCE_DATE_EPOCH",



include: "workflow/rules/common.smk"
include: "workflow/rules/datasets.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/article.smk"
include: "workflow/rules/aggregate.smk"
include: "workflow/rules/analysis.smk"
include: "workflow/rules/report.smk"


rule all:
    """The paper and its supplement, in HTML and PDF, and everything they are made from."""
    input:
        rules.report.output,
        rules.supplement.output,
        rules.analysis.output,
        rules.tuned_rates.output,


onstart:
    # Provenance for the report: the command line of this run (not an input of any rule).
    invocation = RESULTS / "logs" / "invocation.json"
    invocation.parent.mkdir(parents=True, exist_ok=True)
    invocation.write_text(json.dumps({"command": sys.argv, "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}))


onsuccess:
    if REPORT_HTML.exists() and REPORT_PDF.exists():
        print(f"\nReport (HTML): {REPORT_HTML.resolve()}\nReport (PDF):  {REPORT_PDF.resolve()}")
        print(f"Supplement (HTML): {SUPPLEMENT_HTML.resolve()}\nSupplement (PDF):  {SUPPLEMENT_PDF.resolve()}")
