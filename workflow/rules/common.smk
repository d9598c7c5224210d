"""Shared by all rules: the validated study, result paths, code fingerprints and input functions.

Nothing here imports TensorFlow: a dry run, and every job's parse on a cluster, stays quick.
"""

import hashlib
import json
import re
from pathlib import Path

from snakemake.utils import validate

import lossatlas
from lossatlas.config import load_study

# Checks the config against its schema and what a schema cannot (known losses, valid combinations,
# ...) and expands the grid; a bad config stops here, before any job runs, with a message naming the
# key and the value. Snakemake's validate then fills the schema's defaults into `config`.
STUDY = load_study(config)
validate(config, "../schemas/config.schema.yaml")

RESULTS = Path("results")
REPORT_HTML = RESULTS / "report" / "report.html"
REPORT_PDF = RESULTS / "report" / "report.pdf"
JOBS = STUDY.jobs()
PACKAGE = Path(lossatlas.__file__).resolve().parent


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
    used = {stack.dataset for stacks in JOBS.values() for stack in stacks}
    return [label for label in STUDY.datasets if label in used]


def job_datasets(wildcards):
    """The data and manifest files of every dataset a training job uses."""
    job = f"{wildcards.experiment}/{wildcards.loss}/{wildcards.job}"
    if job not in JOBS:
        raise ValueError(f"unknown training job {job!r}; the config defines {', '.join(JOBS)}")
    datasets = sorted({stack.dataset for stack in JOBS[job]})
    return {f"{kind}_{d}": path for d in datasets for kind, path in dataset_files(d).items()}


def job_params(wildcards):
    """Everything that decides a job's numbers, and nothing else, so that Snakemake re-runs the job
    exactly when one of them changes (the metric settings are not among them: they are applied
    by aggregation)."""
    job = f"{wildcards.experiment}/{wildcards.loss}/{wildcards.job}"
    stacks = JOBS[job]
    experiment = STUDY.experiments[wildcards.experiment]
    return json.dumps(
        {
            "job": job,
            "stacks": [[s.dataset, s.targets, s.model, s.optimizer, s.segments] for s in stacks],
            "base_seed": STUDY.base_seed,
            "protocol": [experiment.epochs, experiment.batch_size, experiment.eval_every, experiment.n_seeds],
            "models": {s.model: config["models"][s.model] for s in stacks},
            "optimizers": {s.optimizer: config["optimizers"][s.optimizer] for s in stacks},
            "datasets": {s.dataset: config["datasets"][s.dataset] for s in stacks},
            "training": config["training"]["jit_compile"],
            "diagnostics": config["diagnostics"],
        },
        sort_keys=True,
    )
