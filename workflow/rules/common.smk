"""Shared by all rules: the validated study, result paths, code fingerprints and the input functions of
the training rules. (The report rules' helpers are in report.smk.)

Nothing here imports TensorFlow: a dry run, and every job's parse on a cluster, stays quick.
"""

import json
import re
import sys
from pathlib import Path

from snakemake.utils import validate

from lossatlas.core.fingerprint import fingerprint
from lossatlas.design.claimspec import ClaimsError, check_claims, load_claims
from lossatlas.design.config import ConfigError, check_limits, load_study, read_yaml

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

# Where every output goes: results/ by default (config key results_dir; make diagnose uses results/diagnose/<name>).
RESULTS = Path(STUDY.config["results_dir"])
REPORT_HTML = RESULTS / "report" / "report.html"
REPORT_PDF = RESULTS / "report" / "report.pdf"
SUPPLEMENT_HTML = RESULTS / "report" / "supplement.html"
SUPPLEMENT_PDF = RESULTS / "report" / "supplement.pdf"
JOBS = STUDY.jobs()


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


def code_hash(script):
    """The fingerprint of the package modules a rule's ``script`` (under workflow/scripts/) runs: its
    whole import closure, found from the code (lossatlas.core.fingerprint), as a param, so that a
    rule re-runs when any module that computes its outputs changes, not only its thin script."""
    return fingerprint(Path(workflow.basedir) / "workflow" / "scripts" / script)


def dataset_files(dataset):
    return {
        "data": RESULTS / "datasets" / f"{dataset}.npz",
        "manifest": RESULTS / "datasets" / f"{dataset}.manifest.json",
    }


def dataset_source(wildcards):
    """The file a dataset is read from (a csv dataset's CSV, as its config gives the path), as an input
    of its rule, so that a changed file rebuilds the dataset and everything after it; {} for the
    generated families."""
    spec = STUDY.datasets[wildcards.dataset]
    return {"csv": spec.path} if spec.path is not None else {}


def dataset_spec_param(wildcards):
    """The dataset's config entry as canonical JSON (re-ordering keys in the config file is not a
    change to the dataset); for a csv dataset with its file's SHA-256, so that new contents rebuild
    it even where the file's time stamp does not say so."""
    entry = dict(config["datasets"][wildcards.dataset])
    spec = STUDY.datasets[wildcards.dataset]
    if spec.path is not None:
        entry["sha256"] = spec.table().sha256
    return json.dumps(entry, sort_keys=True)


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
