"""Shared by all rules: the validated study, result paths, and input functions."""

import json
from pathlib import Path

from snakemake.utils import validate

from lossatlas.config import load_study

validate(config, "../schemas/config.schema.yaml")
# Checks what a schema cannot (known losses, valid combinations, ...) and expands the grid; a bad
# config stops here, before any job runs, with a message naming the key and the value.
STUDY = load_study(config)

RESULTS = Path("results")
REPORT_HTML = RESULTS / "report" / "report.html"
REPORT_PDF = RESULTS / "report" / "report.pdf"
JOBS = STUDY.jobs()


def dataset_files(dataset):
    return {
        "data": RESULTS / "datasets" / f"{dataset}.npz",
        "manifest": RESULTS / "datasets" / f"{dataset}.manifest.json",
    }


def job_files(kind):
    """Paths of every training job's ``kind`` table (trials or epochs)."""
    return [RESULTS / "train" / job / f"{kind}.parquet" for job in JOBS]


def job_datasets(wildcards):
    """The data and manifest files of every dataset a training job uses."""
    job = f"{wildcards.experiment}/{wildcards.loss}/{wildcards.job}"
    if job not in JOBS:
        raise ValueError(f"unknown training job {job!r}; the config defines {', '.join(JOBS)}")
    datasets = sorted({stack.dataset for stack in JOBS[job]})
    return {f"{kind}_{d}": path for d in datasets for kind, path in dataset_files(d).items()}


def job_params(wildcards):
    """Everything that decides a job's numbers, and nothing else, so that Snakemake re-runs the job
    exactly when one of them changes."""
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
            "metrics": config["metrics"],
            "diagnostics": config["diagnostics"],
        },
        sort_keys=True,
    )
