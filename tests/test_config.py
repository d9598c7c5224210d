"""Bad configs fail before training, with a message naming the key and the value."""

import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import copy_workflow
from helpers import REPO, edited, smoke_config

from lossatlas.design.config import ConfigError, load_study, load_study_file

BAD_CONFIGS = {
    "unknown loss": (("experiments.article.losses", ["mse", "msee"]), ["experiments.article.losses", "msee"]),
    "unknown activation": (("experiments.article.activations", ["sigmoid", "swish"]), ["experiments.article.activations", "swish"]),
    "unknown optimizer": (("optimizers.adam.name", "adamw"), ["optimizers.adam.name", "adamw"]),
    "scale not positive": (("datasets.seed_small", {"family": "target_scale", "scale": 0}), ["datasets.seed_small.scale", "0"]),
    "no seeds": (("n_seeds", 0), ["n_seeds", "0"]),
    "missing key": (("experiments.article.losses", None), ["experiments.article", "losses"]),
    "misspelled key": (("experiments.article.epoch", 5), ["config key 'experiments.article.epoch': unknown key"]),
}


@pytest.mark.parametrize("case", sorted(BAD_CONFIGS))
def test_bad_config_names_key_and_value(case):
    (path, value), expected = BAD_CONFIGS[case]
    with pytest.raises(ConfigError) as error:
        load_study(edited(smoke_config(), path, value))
    for text in expected:
        assert text in str(error.value)


def test_bce_on_targets_outside_unit_interval_is_an_error_unless_excluded():
    config = edited(smoke_config(), "validity.on_invalid", "error")
    with pytest.raises(ConfigError, match=r"experiments\.article.*seed_large/raw/binary_crossentropy/linear.*targets in \[0, 1\]"):
        load_study(config)
    study = load_study(smoke_config())  # on_invalid: exclude
    reasons = {(e.cell.dataset, e.cell.targets, e.cell.loss, e.cell.activation): e.reason for e in study.excluded}
    assert "targets in [-∞, ∞]" in reasons[("seed_large", "raw", "binary_crossentropy", "sigmoid")]
    assert "(standardized) has targets in [-∞, ∞]" in reasons[("seed_small", "standardized", "binary_crossentropy", "sigmoid")]
    assert "needs an output in [0, 1]" in reasons[("seed_small", "raw", "binary_crossentropy", "linear")]
    assert all(
        cell.loss != "binary_crossentropy" or (cell.dataset != "seed_large" and cell.targets == "raw" and cell.activation == "sigmoid")
        for cell in study.cells
    )


def test_validity_requirements_come_from_the_config_and_add_to_the_built_in_ones():
    config = edited(smoke_config(), "validity.loss_requirements", {"mse": {"output_within": [0, 1]}})
    study = load_study(config)
    # the config's requirement for MSE adds to binary cross-entropy's built-in one, never replaces it
    assert not any(cell.loss == "binary_crossentropy" and cell.activation == "linear" for cell in study.cells)
    assert not any(cell.loss == "mse" and cell.activation == "linear" for cell in study.cells)
    loosened = edited(smoke_config(), "validity.loss_requirements", {"binary_crossentropy": {"targets_within": [-10, 10]}})
    assert not any(cell.loss == "binary_crossentropy" and cell.dataset == "seed_large" for cell in load_study(loosened).cells)
    with pytest.raises(ConfigError, match="validity.loss_requirements"):
        load_study(edited(smoke_config(), "validity.loss_requirements", {"msee": {"output_within": [0, 1]}}))


def test_grid_expansion_flags_unreachable_targets_and_packs_jobs():
    study = load_study_file(REPO / "config" / "smoke.yaml")
    # article: 4 datasets x 2 targets x 2 optimizers x (MSE x 2 activations + BCE where valid);
    # long: 3 cells (BCE + linear is excluded) x 3 rates of the tuning sweep
    assert len(study.cells) == 38 + 9 and len(study.excluded) == 26 + 1
    flagged = {(c.dataset, c.targets, c.activation) for c in study.flags}
    assert ("seed_large", "raw", "sigmoid") in flagged and ("seed_small", "standardized", "sigmoid") in flagged
    assert ("seed_small", "raw", "sigmoid") not in flagged and all(c.activation == "sigmoid" for c in study.flags)
    jobs = study.jobs()
    assert list(jobs) == [
        "article/dense1/job000",
        "article/dense1/job001",
        "article/dense1/job002",
        "long/dense1/job000",
    ]
    packed = [cell for stacks in jobs.values() for stack in stacks for cell in stack.cells]
    assert len(packed) == len(study.cells)  # every cell in exactly one job
    assert study.config["experiments"]["article"]["eval_every"] == 1  # defaults are filled in


def test_contexts_of_a_model_share_a_job_up_to_the_cell_limit():
    # long: 9 cells per context (3 loss/activation pairs x 3 rates); two optimizers give two contexts
    two = edited(smoke_config(), "experiments.long.optimizers", ["adam", "sgd"])
    jobs = {job: [stack.optimizer for stack in stacks] for job, stacks in load_study(two).jobs().items() if job.startswith("long/")}
    assert jobs == {"long/dense1/job000": ["adam", "sgd"]}  # 9 cells < cells_per_job 12: the next context joins
    split = load_study(edited(two, "training.cells_per_job", 9)).jobs()
    assert {job: [s.optimizer for s in stacks] for job, stacks in split.items() if job.startswith("long/")} == {
        "long/dense1/job000": ["adam"], "long/dense1/job001": ["sgd"]}


def test_default_config_is_valid():
    study = load_study_file(REPO / "config" / "config.yaml")
    assert study.cells and study.n_seeds >= 1


@pytest.fixture(scope="module")
def workflow_copy(tmp_path_factory):
    return copy_workflow(tmp_path_factory.mktemp("workflow"))


DRY_RUN_CASES = {
    "unknown loss": BAD_CONFIGS["unknown loss"],
    "scale not positive": BAD_CONFIGS["scale not positive"],
    "no seeds": BAD_CONFIGS["no seeds"],
    "missing key": (("experiments.article.losses", None), ["config key 'experiments.article.losses': missing"]),
    "bce on unbounded targets": (("validity.on_invalid", "error"), ["experiments.article", "binary_crossentropy"]),
}


@pytest.mark.parametrize("case", sorted(DRY_RUN_CASES))
def test_snakemake_dry_run_catches_a_bad_config(workflow_copy, case):
    (path, value), expected = DRY_RUN_CASES[case]
    config_file = workflow_copy / f"bad-{case.replace(' ', '-')}.yaml"
    config_file.write_text(yaml.safe_dump(edited(smoke_config(), path, value)))
    snakemake = Path(sys.executable).with_name("snakemake")
    run = subprocess.run(
        [str(snakemake), "-n", "--cores", "1", "--configfile", str(config_file)],
        cwd=workflow_copy,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode != 0
    output = run.stdout + run.stderr
    for text in expected:
        assert text in output, output
    assert not (workflow_copy / "results").exists()
