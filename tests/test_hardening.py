"""Bad input is refused before any training, naming the key: a fuzz of bad configs and claims files,
duplicate YAML keys, labels that would escape results/, work beyond the limits, and a dry run that
never imports TensorFlow."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from conftest import copy_workflow
from helpers import REPO, edited, smoke_config

from lossatlas.design.claimspec import ClaimsError, check_claims, load_claims
from lossatlas.design.config import ConfigError, check_limits, load_study, read_yaml

SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))

# (dotted key, value) -> a text the error must contain (the key it names)
BAD_CONFIGS = [
    (("n_seeds", 0), "n_seeds"),
    (("n_seeds", 4.0), "n_seeds"),
    (("n_seeds", True), "n_seeds"),
    (("n_seeds", "four"), "n_seeds"),
    (("n_seeds", 10**9), "n_seeds"),
    (("base_seed", -1), "base_seed"),
    (("title", 3), "title"),
    (("unknown_section", {}), "unknown_section"),
    (("datasets", {}), "datasets"),
    (("datasets.seed_small.family", "seed_tiny"), "datasets.seed_small.family"),
    (("datasets.seed_small.scale", 0.5), "datasets.seed_small.scale"),
    (("datasets.scale_1e-2.scale", 0), "datasets.scale_1e-2.scale"),
    (("datasets.scale_1e-2.scale", float("inf")), "datasets.scale_1e-2.scale"),
    (("datasets.scale_1e-2.scale", float("nan")), "datasets.scale_1e-2.scale"),
    (("datasets.scale_1e-2.scale", -1.0), "datasets.scale_1e-2.scale"),
    (("datasets.seed_small.n_test", 0), "datasets.seed_small.n_test"),
    (("datasets.seed_small.n_test", 2.5), "datasets.seed_small.n_test"),
    (("datasets.seed_small.params", {"noise": 1.0}), "datasets.seed_small.params.noise"),
    (("datasets.seed_small.colour", "red"), "datasets.seed_small.colour"),
    (("datasets.seed_small.family", None), "datasets.seed_small.family"),
    (("models.dense1.hidden_units", [0]), "models.dense1.hidden_units.0"),
    (("models.dense1.hidden_units", [8.0]), "models.dense1.hidden_units.0"),
    (("models.dense1.hidden_activation", "gelu"), "models.dense1.hidden_activation"),
    (("optimizers.adam.name", "adamw"), "optimizers.adam.name"),
    (("optimizers.adam.learning_rate", 0), "optimizers.adam.learning_rate"),
    (("optimizers.adam.learning_rate", float("inf")), "optimizers.adam.learning_rate"),
    (("optimizers.adam.learning_rate", "fast"), "optimizers.adam.learning_rate"),
    (("optimizers.adam.clipvalue", -1.0), "optimizers.adam.clipvalue"),
    (("optimizers.sgd", {"name": "sgd", "clipvalue": 1.0, "clipnorm": 1.0}), "optimizers.sgd"),
    (("experiments.article.losses", ["mse", "msee"]), "experiments.article.losses"),
    (("experiments.article.losses", []), "experiments.article.losses"),
    (("experiments.article.losses", ["mse", "mse"]), "experiments.article.losses"),
    (("experiments.article.activations", ["swish"]), "experiments.article.activations"),
    (("experiments.article.datasets", ["nowhere"]), "experiments.article.datasets"),
    (("experiments.article.models", ["resnet"]), "experiments.article.models"),
    (("experiments.article.optimizers", ["lbfgs"]), "experiments.article.optimizers"),
    (("experiments.article.targets", ["normalized"]), "experiments.article.targets.0"),
    (("experiments.article.inputs", ["whitened"]), "experiments.article.inputs.0"),
    (("experiments.article.epochs", 0), "experiments.article.epochs"),
    (("experiments.article.epochs", 4.0), "experiments.article.epochs"),
    (("experiments.article.batch_size", 0), "experiments.article.batch_size"),
    (("experiments.article.eval_every", 50), "experiments.article.eval_every"),
    (("experiments.article.n_seeds", 0), "experiments.article.n_seeds"),
    (("experiments.article.losses", None), "experiments.article.losses"),
    (("experiments.article.epoch", 5), "experiments.article.epoch"),
    (("experiments.article.tune", "yes"), "experiments.article.tune"),
    (("article.n_seeds", 10**9), "article.n_seeds"),
    (("article.seeds_per_job", 0), "article.seeds_per_job"),
    (("metrics.nrmse_threshold", 0), "metrics.nrmse_threshold"),
    (("metrics.stagnation_window", 1.5), "metrics.stagnation_window"),
    (("metrics.stagnation_tolerance", float("nan")), "metrics.stagnation_tolerance"),
    (("diagnostics.saturation_threshold", float("inf")), "diagnostics.saturation_threshold"),
    (("diagnostics.saturation_threshold", 1.0), "diagnostics.saturation_threshold"),
    (("validity.on_invalid", "ignore"), "validity.on_invalid"),
    (("validity.loss_requirements", {"msee": {"output_within": [0, 1]}}), "validity.loss_requirements"),
    (("validity.loss_requirements", {"mse": {"output_within": [1, 0]}}), "validity.loss_requirements.mse.output_within"),
    (("validity.loss_requirements", {"mse": {"output_within": [0]}}), "validity.loss_requirements.mse.output_within"),
    (("validity.on_invalid", "error"), "experiments.article"),
    (("training.cells_per_job", 0), "training.cells_per_job"),
    (("training.jit_compile", "sometimes"), "training.jit_compile"),
    (("tuning.min", 0), "tuning.min"),
    (("tuning.max", 1e-9), "tuning.max"),
    (("tuning.per_decade", 0), "tuning.per_decade"),
    (("horizon.cap_steps", 0), "horizon.cap_steps"),
    (("horizon.stall_improvement", 2.0), "horizon.stall_improvement"),
    (("horizon.learning_rate_factors", [0]), "horizon.learning_rate_factors.0"),
    (("experiments.article.horizon_rate_factors", [10]), "experiments.article.horizon_rate_factors"),
    (("experiments.long.horizon_rate_factors", [-1]), "experiments.long.horizon_rate_factors.0"),
    (("statistics.alpha", 1.0), "statistics.alpha"),
    (("statistics.bootstrap_resamples", 0), "statistics.bootstrap_resamples"),
    (("limits.max_trial_steps", 1000), "limits.max_trial_steps"),
    (("datasets", {"../../escape_ds": {"family": "seed_small"}}), "datasets.../../escape_ds"),
    (("experiments", {"../../../../escape_exp": {"datasets": ["seed_small"], "models": ["dense1"], "losses": ["mse"],
                                                  "activations": ["linear"], "optimizers": ["adam"]}}), "experiments.../../../../escape_exp"),
    (("optimizers", {"a/b": {"name": "adam"}}), "optimizers.a/b"),
]


@pytest.mark.parametrize("case", range(len(BAD_CONFIGS)), ids=[f"{key}={value!r}"[:60] for (key, value), _ in BAD_CONFIGS])
def test_a_bad_config_is_refused_with_its_key_named(case):
    (key, value), named = BAD_CONFIGS[case]
    with pytest.raises(ConfigError) as error:
        study = load_study(edited(smoke_config(), key, value))
        check_limits(study)
    first_line = str(error.value).splitlines()[0]
    assert first_line.startswith("config key '") and f"'{named}" in first_line, first_line


def test_at_least_forty_bad_configs_are_tried():
    assert len(BAD_CONFIGS) >= 40


def claims_document(**changes) -> dict:
    document = yaml.safe_load((REPO / "config" / "claims-smoke.yaml").read_text())
    claim = next(c for c in document["claims"] if c["id"] == "S2")
    for key, value in changes.items():
        if value is None:
            claim.pop(key)
        else:
            claim[key] = value
    return document


BAD_CLAIMS = [
    ({"metric": None}, "claim S2: key 'metric': missing"),
    ({"kind": "ranking"}, "claim S2: key 'kind'"),
    ({"metric": "final_test_nmrse"}, "claim S2: key 'metric' = 'final_test_nmrse'"),
    ({"select": {"experiment": "long", "dataset": "nowhere"}}, "claim S2: key 'select.dataset' = 'nowhere'"),
    ({"select": {"experiment": "long", "flavour": "x"}}, "claim S2: key 'select.flavour'"),
    ({"contrast": "colour"}, "claim S2: key 'contrast' = 'colour'"),
    ({"pairs": [["binary_crossentropy", "huber"]]}, "claim S2: key 'pairs' = 'huber'"),
    ({"contexts": ["flavour"]}, "claim S2: key 'contexts' = 'flavour'"),
    ({"judged_by": ["eventually"]}, "claim S2: key 'judged_by.0'"),
    ({"rates": ["best"]}, "claim S2: key 'rates.0'"),
    ({"surprise": 1}, "claim S2: key 'surprise': unknown key"),
]


@pytest.mark.parametrize("case", range(len(BAD_CLAIMS)), ids=[text.split(": ", 1)[1][:40] for _, text in BAD_CLAIMS])
def test_a_bad_claims_file_is_refused_naming_the_claim_and_key(tmp_path, case):
    changes, expected = BAD_CLAIMS[case]
    path = tmp_path / "claims.yaml"
    path.write_text(yaml.safe_dump(claims_document(**changes)))
    with pytest.raises(ClaimsError) as error:
        check_claims(load_claims(path), load_study(smoke_config()), path)
    assert str(path) in str(error.value) and expected in str(error.value), str(error.value)


def test_a_rate_claim_by_time_needs_its_multiples_trained_past_the_budget(tmp_path):
    """S5 compares ten times the default rate with the default by time to target: an experiment whose
    horizon_rate_factors leave out 10 cannot answer it, and the claims check says so at parse time."""
    path = tmp_path / "claims.yaml"
    path.write_text(yaml.safe_dump(yaml.safe_load((REPO / "config" / "claims-smoke.yaml").read_text())))
    config = edited(smoke_config(), "experiments.long.horizon_rate_factors", [0.1])
    with pytest.raises(ClaimsError, match="claim S5: key 'pairs' = '10': experiment long does not train"):
        check_claims(load_claims(path), load_study(config), path)
    check_claims(load_claims(path), load_study(edited(smoke_config(), "experiments.long.horizon_rate_factors", [10])), path)


def test_duplicate_yaml_keys_are_refused_with_their_line(tmp_path):
    config = tmp_path / "config.yaml"
    config.write_text("n_seeds: 4\narticle:\n  n_seeds: 2\narticle:\n  n_seeds: 3\n")
    with pytest.raises(ConfigError, match=r"line 4: key 'article' appears twice .*first on line 2"):
        read_yaml(config)
    claims = tmp_path / "claims.yaml"
    claims.write_text("claims:\n  - id: A\n    id: B\n")
    with pytest.raises(ClaimsError, match="line 3: key 'id' appears twice"):
        load_claims(claims)
    claims.write_text("claims: [unclosed\n")
    with pytest.raises(ClaimsError, match="not valid YAML"):
        load_claims(claims)


@pytest.fixture(scope="module")
def workflow_copy(tmp_path_factory):
    return copy_workflow(tmp_path_factory.mktemp("hardening"))


def first_error_line(run) -> str:
    """The first line of a failed run's error (Snakemake's note on the profile it uses comes before it)."""
    lines = [line for line in run.stderr.splitlines() if line.strip() and not line.startswith("Using workflow specific profile")]
    return lines[0] if lines else ""


def dry_run(directory, config: dict | None = None, text: str | None = None, env=None, timeout=120):
    path = directory / f"case-{time.monotonic_ns()}.yaml"
    path.write_text(text if text is not None else yaml.safe_dump(config))
    return subprocess.run([SNAKEMAKE, "-n", "--cores", "1", "--configfile", str(path)], cwd=directory,
                          capture_output=True, text=True, timeout=timeout, env=env)


DRY_RUN_CASES = [
    (("datasets", {"../../escape_ds": {"family": "seed_small"}}), "config key 'datasets.../../escape_ds'"),
    (("experiments.article.epochs", 4.0), "config key 'experiments.article.epochs' = 4.0"),
    (("statistics.alpha", float("nan")), "config key 'statistics.alpha'"),
    (("article.n_seeds", 10**9), "config key 'article.n_seeds'"),
    (("claims", "config/nowhere.yaml"), "config/nowhere.yaml"),
]


@pytest.mark.parametrize("case", range(len(DRY_RUN_CASES)), ids=[text[:50] for _, text in DRY_RUN_CASES])
def test_snakemake_dry_run_refuses_at_once_with_the_key_first(workflow_copy, case):
    (key, value), expected = DRY_RUN_CASES[case]
    started = time.monotonic()
    run = dry_run(workflow_copy, edited(smoke_config(), key, value))
    assert run.returncode != 0
    assert expected in first_error_line(run), run.stderr
    assert "Traceback" not in run.stderr
    assert time.monotonic() - started < 60
    assert not (workflow_copy / "results").exists()


def test_snakemake_dry_run_refuses_a_duplicate_key_and_a_bad_claims_file(workflow_copy):
    text = (REPO / "config" / "smoke.yaml").read_text() + "\narticle:\n  n_seeds: 3\n"
    run = dry_run(workflow_copy, text=text)
    assert run.returncode != 0 and "key 'article' appears twice" in first_error_line(run), run.stderr
    claims = workflow_copy / "config" / "bad-claims.yaml"
    claims.write_text(yaml.safe_dump(claims_document(metric="final_test_nmrse")))
    run = dry_run(workflow_copy, edited(smoke_config(), "claims", "config/bad-claims.yaml"))
    assert run.returncode != 0 and "claim S2: key 'metric' = 'final_test_nmrse'" in first_error_line(run), run.stderr


def test_a_dry_run_does_not_import_tensorflow(workflow_copy, tmp_path):
    """Parsing the workflow (a dry run, and every job's parse on a cluster) must not pay for
    TensorFlow's import: with a stand-in tensorflow that fails on import, the dry run succeeds."""
    blocker = tmp_path / "blocker" / "tensorflow"
    blocker.mkdir(parents=True)
    (blocker / "__init__.py").write_text("raise ImportError('tensorflow was imported while parsing the workflow')\n")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(blocker.parent), os.environ.get("PYTHONPATH")])))
    run = dry_run(workflow_copy, smoke_config(), env=env)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "tensorflow was imported" not in run.stdout + run.stderr
