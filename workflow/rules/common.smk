"""Shared by all rules: the validated study, result paths, code fingerprints and input functions.

Nothing here imports TensorFlow: a dry run, and every job's parse on a cluster, stays quick.
"""

import hashlib
import json
import re
import sys
from pathlib import Path

from snakemake.utils import validate

import lossatlas
from lossatlas.claims import ClaimsError, check_claims, load_claims
from lossatlas.config import ConfigError, check_limits, load_study, read_yaml

# A bad config or claims file stops here, before any job runs: duplicate keys in a config file, the
# schema, what a schema cannot say (known losses, valid combinations, ...), the claims file and its
# match with the grid, and the size of the work. The first line names the key and the value; the
# traceback only with --verbose. Snakemake's validate then fills the schema's defaults into `config`.
try:
    for configfile_path in workflow.configfiles:
        read_yaml(configfile_path)
    STUDY = load_study(config)
    CLAIMS = load_claims(STUDY.config["claims"])
    check_claims(CLAIMS, STUDY, STUDY.config["claims"])
    check_limits(STUDY)
except (ConfigError, ClaimsError) as error:
    if workflow.output_settings.verbose:
        raise
    print(f"{error}\n(run with --verbose for the traceback)", file=sys.stderr)
    sys.exit(1)
validate(config, "../schemas/config.schema.yaml")

RESULTS = Path("results")
REPORT_HTML = RESULTS / "report" / "report.html"
REPORT_PDF = RESULTS / "report" / "report.pdf"
JOBS = STUDY.jobs()
PACKAGE = Path(lossatlas.__file__).resolve().parent


def inside_results(*parts):
    """``RESULTS / parts``, refused unless it resolves inside results/ (labels become path parts; the
    schema already allows only safe labels: this is the second line of defence)."""
    path = RESULTS.joinpath(*parts)
    if not path.resolve().is_relative_to(RESULTS.resolve()):
        print(f"path {path} would lie outside {RESULTS.resolve()}: refusing a label that escapes results/", file=sys.stderr)
        sys.exit(1)
    return path


for _label in [*STUDY.datasets, *JOBS, *STUDY.experiments]:
    inside_results(_label)


def code_hash(*modules):
    """SHA-256 (first 12 hex digits) of the package's source files ``modules`` (``engine`` is
    ``engine.py``, ``figures`` the package directory), as a param: a rule re-runs when the code
    that computes its outputs changes, not only its thin script."""
    digest = hashlib.sha256()
    for module in modules:
        path = PACKAGE / module
        files = sorted(path.rglob("*.py")) if path.is_dir() else [path.with_suffix(".py")]
        for file in files:
            digest.update(file.relative_to(PACKAGE).as_posix().encode())
            digest.update(file.read_bytes())
    return digest.hexdigest()[:12]


def dataset_files(dataset):
    return {
        "data": RESULTS / "datasets" / f"{dataset}.npz",
        "manifest": RESULTS / "datasets" / f"{dataset}.manifest.json",
    }


def job_files(kind):
    """Paths of every training job's ``kind`` table (trials or evals)."""
    return [RESULTS / "train" / job / f"{kind}.parquet" for job in JOBS]


def trained_datasets():
    """The datasets some training job uses, in config order."""
    used = {dataset for stacks in JOBS.values() for stack in stacks for dataset in stack.datasets}
    return [label for label in STUDY.datasets if label in used]


def job_id(wildcards):
    job = f"{wildcards.experiment}/{wildcards.group}/{wildcards.job}"
    if job not in JOBS:
        raise ValueError(f"unknown training job {job!r}; the config defines {', '.join(JOBS)}")
    return job


def job_datasets(wildcards):
    """The data and manifest files of every dataset a training job uses."""
    datasets = sorted({dataset for stack in JOBS[job_id(wildcards)] for dataset in stack.datasets})
    return {f"{kind}_{d}": path for d in datasets for kind, path in dataset_files(d).items()}


def job_params(wildcards):
    """Everything that decides a job's numbers, and nothing else, so that Snakemake re-runs the job
    exactly when one of them changes (the metric settings are not among them: they are applied
    by aggregation)."""
    job = job_id(wildcards)
    stacks = JOBS[job]
    experiment = STUDY.experiments[wildcards.experiment]
    datasets = {dataset for stack in stacks for dataset in stack.datasets}
    return json.dumps(
        {
            "job": job,
            "stacks": [[stack.model, stack.optimizer, [cell.key() for cell in stack.cells]] for stack in stacks],
            "base_seed": STUDY.base_seed,
            "protocol": [experiment.epochs, experiment.batch_size, experiment.eval_every, experiment.n_seeds,
                         experiment.tune, experiment.horizon],
            "tuning": config["tuning"] if experiment.tune else None,
            "horizon": [config["horizon"], config["metrics"]["nrmse_threshold"]] if experiment.horizon else None,
            "models": {s.model: config["models"][s.model] for s in stacks},
            "optimizers": {s.optimizer: config["optimizers"][s.optimizer] for s in stacks},
            "datasets": {d: config["datasets"][d] for d in sorted(datasets)},
            "training": config["training"]["jit_compile"],
            "diagnostics": config["diagnostics"],
        },
        sort_keys=True,
    )


# ------------------------------------------------------------------------------------------------------
# Helpers of report.smk (rules figures, study_figures and report), kept here so that report.smk holds
# rules only. They read names report.smk defines (CAPTION_FILES, TABLE_IDS, lossatlas_plan) when they
# are called, which is after report.smk is included.
# ------------------------------------------------------------------------------------------------------


def caption(name):
    """The absolute path of the caption file of ``name`` for Snakemake's own report (report()
    captions are relative to the including file otherwise)."""
    return str(Path(CAPTION_FILES[name]).absolute())


def figure_files(dataset, experiment):
    """The SVG of each curve figure of ``dataset`` in ``experiment``."""
    directory = RESULTS / "figures" / dataset / experiment
    return {kind: str(directory / f"{kind}.svg") for kind in lossatlas_plan.CURVE_FIGURES}


def figure_data(figures):
    """The CSV of the numbers each figure plots, next to its SVG (name -> SVG path, as figure_files
    and STUDY_FIGURES give them): name -> CSV path (lossatlas.figures.figure_data_path)."""
    return {name: str(Path(path).with_suffix(".csv")) for name, path in figures.items()}


def figure_outputs(dataset, experiment):
    """figure_files, marked for Snakemake's own report."""
    return {
        kind: report(path, caption=caption(kind), category="Figures", subcategory="{dataset} / {experiment}",
                     labels={"dataset": "{dataset}", "experiment": "{experiment}", "figure": kind})
        for kind, path in figure_files(dataset, experiment).items()
    }


def table_key(path):
    """The report's table key (lossatlas.plan.table_plan) of a table file."""
    table_id = Path(path).stem
    return next(key for key, value in TABLE_IDS.items() if value == table_id)
