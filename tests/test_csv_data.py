"""The csv dataset family: a CSV file of the user's own, split and referenced like the diabetes data, and
every bad file refused when the config is checked (so by `snakemake -n`), naming the file and the column
or line."""

import csv
import json
import os
import subprocess

import numpy as np
import pytest
import yaml
from conftest import SNAKEMAKE, copy_workflow
from helpers import edited, smoke_config
from sklearn.datasets import load_diabetes

from lossatlas.core.seeds import derive_seed
from lossatlas.data import datasets
from lossatlas.data.datasets import (
    MIN_CSV_ROWS,
    DatasetSpec,
    check_spec,
    csv_default_sizes,
    generate,
    load_dataset,
    read_csv_table,
    write_dataset,
)
from lossatlas.design.config import ConfigError, load_study

COLUMNS = ["age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6"]


def write_csv(path, header, rows):
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
    return path


def diabetes_rows(count=None):
    """scikit-learn's raw diabetes data as CSV rows: 10 features, then the target ``progression``."""
    x, y = load_diabetes(return_X_y=True, scaled=False)
    rows = [[f"{value:g}" for value in features] + [f"{target:g}"] for features, target in zip(x, y)]
    return rows if count is None else rows[:count]


@pytest.fixture
def in_tmp(tmp_path, monkeypatch):
    """The test's own working directory (relative CSV paths are taken from it)."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def diabetes_csv(in_tmp):
    return write_csv(in_tmp / "diabetes.csv", [*COLUMNS, "progression"], diabetes_rows())


def csv_config(entry: dict) -> dict:
    """The smoke config with a csv dataset ``mine`` (``entry``) and a small experiment on it."""
    config = edited(smoke_config(), "datasets.mine", {"family": "csv", **entry})
    return edited(config, "experiments.mine", {"datasets": ["mine"], "models": ["dense1"], "losses": ["mse"],
                                               "activations": ["linear"], "optimizers": ["adam"], "epochs": 2})


# ------------------------------------------------------------------------------------------------
# The same data as the diabetes family
# ------------------------------------------------------------------------------------------------


def test_a_csv_of_the_diabetes_data_has_the_diabetes_split_sizes(diabetes_csv):
    spec = DatasetSpec("mine", "csv", path="diabetes.csv", target="progression")
    assert spec.sizes == DatasetSpec("d", "diabetes").sizes == {"train": 300, "test": 71, "validation": 71}
    assert spec.n_features == 10 and spec.noise_sd is None and spec.target_range == (0.0, 1.0)
    check_spec(spec)


@pytest.mark.parametrize("scale", [1.0, 0.001])
def test_a_csv_of_the_diabetes_data_gives_the_diabetes_splits_and_ols_reference(diabetes_csv, monkeypatch, scale):
    """Each family draws its splits from its own stream, keyed by its name; drawn from the stream the
    diabetes family uses, the csv family gives exactly its arrays: the same rows, the targets scaled
    the same way (min-max over all rows, times the scale) and the same OLS reference."""
    expected = generate(DatasetSpec("d", "diabetes", scale), 11, 3)

    def diabetes_stream(base_seed, *coordinates):
        return derive_seed(base_seed, *["diabetes" if part == "csv" else part for part in coordinates])

    monkeypatch.setattr(datasets, "derive_seed", diabetes_stream)
    got = generate(DatasetSpec("mine", "csv", scale, path="diabetes.csv", target="progression"), 11, 3)
    assert list(got) == list(expected)
    for name in expected:
        np.testing.assert_array_equal(got[name], expected[name], err_msg=name)


def test_a_csv_has_its_own_seeded_stream_of_splits(diabetes_csv):
    spec = DatasetSpec("mine", "csv", path="diabetes.csv", target="progression")
    first, again = generate(spec, 11, 2), generate(spec, 11, 2)
    for name in first:
        np.testing.assert_array_equal(first[name], again[name])
    diabetes = generate(DatasetSpec("d", "diabetes"), 11, 2)
    for split in ("train", "test", "validation"):
        assert first[f"x_{split}"].shape == diabetes[f"x_{split}"].shape
    # every row is a diabetes patient; the splits are disjoint
    raw = load_diabetes(return_X_y=True, scaled=False)[0].astype(np.float32)
    index = {row.tobytes(): i for i, row in enumerate(raw)}
    seen = [index[row.tobytes()] for split in ("train", "test", "validation") for row in first[f"x_{split}"][0]]
    assert len(seen) == len(set(seen)) == 442
    assert not np.array_equal(first["x_train"][0], first["x_train"][1])


def test_scale_null_keeps_the_targets_as_they_are(diabetes_csv):
    config = csv_config({"path": "diabetes.csv", "target": "progression", "scale": None})
    study = load_study(config)
    spec = study.datasets["mine"]
    assert not spec.scale_target and spec.scale == 1.0
    assert spec.target_range == (25.0, 346.0)
    data = generate(spec, 1, 1)
    targets = np.concatenate([data[f"y_{split}"].ravel() for split in ("train", "test", "validation")])
    assert set(targets.tolist()) <= set(load_diabetes(return_X_y=True)[1].tolist())
    assert study.fit_target("mine") == ("rrmse", 1.1)
    # binary cross-entropy needs targets in [0, 1]: excluded on targets as they are
    config = edited(config, "experiments.mine.losses", ["mse", "binary_crossentropy"])
    config = edited(config, "experiments.mine.activations", ["sigmoid"])
    excluded = load_study(config).excluded
    assert any(item.cell.dataset == "mine" and "targets in [25, 346]" in item.reason for item in excluded)


def test_default_features_skip_text_columns_and_given_features_are_used(in_tmp):
    rows = [[f"p{i}", str(i), str(i % 3), str(2.0 * i + 1)] for i in range(40)]
    write_csv(in_tmp / "people.csv", ["name", "a", "b", "y"], rows)
    table = read_csv_table("people.csv", "y")
    assert table.features == ("a", "b") and table.ignored == ("name",) and table.x.shape == (40, 2)
    only = read_csv_table("people.csv", "y", ["b"])
    assert only.features == ("b",) and only.ignored == ("name", "a")
    np.testing.assert_array_equal(only.x[:, 0], np.arange(40) % 3)
    assert csv_default_sizes(40) == {"train": 28, "test": 6, "validation": 6}
    sizes = DatasetSpec("p", "csv", n_train=30, path="people.csv", target="y").sizes
    assert sizes == {"train": 30, "test": 6, "validation": 6}


def test_the_manifest_records_the_csv_and_a_changed_file_changes_it(in_tmp):
    path = write_csv(in_tmp / "small.csv", [*COLUMNS, "progression"], diabetes_rows(60))
    spec = DatasetSpec("mine", "csv", path="small.csv", target="progression")
    write_dataset(spec, 3, 2, in_tmp / "mine.npz", in_tmp / "mine.manifest.json")
    manifest = json.loads((in_tmp / "mine.manifest.json").read_text())
    source = manifest["source"]
    assert source["sha256"] == __import__("hashlib").sha256(path.read_bytes()).hexdigest()
    assert source["rows"] == 60 and source["features"] == COLUMNS and source["target"] == "progression"
    assert manifest["family"] == "csv" and manifest["n_features"] == 10
    load_dataset(in_tmp / "mine.npz", in_tmp / "mine.manifest.json")
    rows = diabetes_rows(60)
    rows[0][-1] = "999"
    write_csv(path, [*COLUMNS, "progression"], rows)
    os.utime(path, ns=(1, 1))  # even with an older time stamp, the new contents are read
    assert read_csv_table("small.csv", "progression").sha256 != source["sha256"]


# ------------------------------------------------------------------------------------------------
# Bad files: refused when the config is checked, naming the file and the column or line
# ------------------------------------------------------------------------------------------------


def bad_case(directory, case):
    """Writes the file of ``case``; returns the dataset entry and the texts its error must hold."""
    header = [*COLUMNS, "progression"]
    rows = diabetes_rows(60)
    entry = {"path": "data.csv", "target": "progression"}
    if case == "missing file":
        return entry, ["config key 'datasets.mine.path' = 'data.csv'", "does not exist"]
    if case == "misspelt target":
        write_csv(directory / "data.csv", header, rows)
        return {**entry, "target": "progresion"}, ["datasets.mine.target", "'progresion'", "did you mean 'progression'"]
    if case == "target in the wrong case":
        write_csv(directory / "data.csv", header, rows)
        return {**entry, "target": "Progression"}, ["did you mean 'progression'"]
    if case == "misspelt feature":
        write_csv(directory / "data.csv", header, rows)
        return {**entry, "features": ["bmi", "bpp"]}, ["datasets.mine.features", "'bpp'", "did you mean 'bp'"]
    if case == "text in a numeric column":
        rows[6][2] = "abc"
        write_csv(directory / "data.csv", header, rows)
        return entry, ["data.csv, line 8, column 'bmi'", "'abc'", "not a number"]
    if case == "empty value":
        rows[9][0] = ""
        write_csv(directory / "data.csv", header, rows)
        return entry, ["data.csv, line 11, column 'age'", "empty"]
    if case == "nan":
        rows[3][4] = "nan"
        write_csv(directory / "data.csv", header, rows)
        return entry, ["data.csv, line 5, column 's1'", "NaN or infinite"]
    if case == "inf in the target":
        rows[20][-1] = "inf"
        write_csv(directory / "data.csv", header, rows)
        return entry, ["data.csv, line 22, column 'progression'", "NaN or infinite"]
    if case == "a short line":
        rows[4] = rows[4][:5]
        write_csv(directory / "data.csv", header, rows)
        return entry, ["data.csv, line 6", "5 fields", "11 columns"]
    if case == "fewer rows than the splits need":
        write_csv(directory / "data.csv", header, rows)
        return {**entry, "n_train": 50}, ["data.csv has 60 data rows, fewer than the splits need", "50 + 10 + 10 = 70"]
    if case == "too few rows":
        write_csv(directory / "data.csv", header, rows[: MIN_CSV_ROWS - 1])
        return entry, [f"has {MIN_CSV_ROWS - 1} data rows", f"at least {MIN_CSV_ROWS}"]
    if case == "constant target":
        for row in rows:
            row[-1] = "7"
        write_csv(directory / "data.csv", header, rows)
        return entry, ["datasets.mine.target", "'progression' of data.csv is constant"]
    if case == "file too large":
        write_csv(directory / "data.csv", header, rows)
        return entry, ["MiB a CSV file may have", "MAX_CSV_BYTES"]
    if case == "escapes through ..":
        outside = directory.parent / f"{directory.name}-outside.csv"
        write_csv(outside, header, rows)
        return {**entry, "path": f"../{outside.name}"}, ["outside the working directory", "'..' or a symbolic link"]
    if case == "escapes through a symlink":
        outside = directory.parent / f"{directory.name}-linked.csv"
        write_csv(outside, header, rows)
        (directory / "link.csv").symlink_to(outside)
        return {**entry, "path": "link.csv"}, ["datasets.mine.path", "outside the working directory"]
    if case == "no numeric feature":
        write_csv(directory / "data.csv", ["name", "y"], [[f"n{i}", str(i)] for i in range(30)])
        return {**entry, "target": "y"}, ["datasets.mine.features", "no numeric column besides the target 'y'"]
    if case == "csv keys on another family":
        return {"family": "diabetes", "target": "y"}, ["datasets.mine.target", "family diabetes reads no file"]
    if case == "scale null on another family":
        return {"family": "diabetes", "scale": None}, ["datasets.mine.scale", "scale: null is for csv only"]
    if case == "no target":
        write_csv(directory / "data.csv", header, rows)
        return {"path": "data.csv"}, ["datasets.mine.target", "needs target"]
    raise AssertionError(case)


BAD_CASES = [
    "missing file", "misspelt target", "target in the wrong case", "misspelt feature", "text in a numeric column",
    "empty value", "nan", "inf in the target", "a short line", "fewer rows than the splits need", "too few rows",
    "constant target", "file too large", "escapes through ..", "escapes through a symlink", "no numeric feature",
    "csv keys on another family", "scale null on another family", "no target",
]


@pytest.mark.parametrize("case", BAD_CASES)
def test_a_bad_csv_is_refused_naming_the_file_and_the_column_or_line(in_tmp, monkeypatch, case):
    if case == "file too large":
        monkeypatch.setattr(datasets, "MAX_CSV_BYTES", 1000)
    entry, expected = bad_case(in_tmp, case)
    with pytest.raises(ConfigError) as error:
        load_study(csv_config(entry))
    message = str(error.value)
    assert message.startswith("config key 'datasets.mine."), message
    for text in expected:
        assert text in message, message


def test_an_absolute_path_may_name_a_file_anywhere(in_tmp, tmp_path_factory):
    elsewhere = tmp_path_factory.mktemp("elsewhere") / "data.csv"
    write_csv(elsewhere, [*COLUMNS, "progression"], diabetes_rows(40))
    study = load_study(csv_config({"path": str(elsewhere), "target": "progression"}))
    assert study.datasets["mine"].sizes == {"train": 28, "test": 6, "validation": 6}


@pytest.fixture(scope="module")
def workflow_copy(tmp_path_factory):
    return copy_workflow(tmp_path_factory.mktemp("csv-workflow"))


def test_snakemake_dry_run_refuses_a_bad_csv_before_any_job(workflow_copy):
    rows = diabetes_rows(60)
    rows[6][2] = "abc"
    write_csv(workflow_copy / "data.csv", [*COLUMNS, "progression"], rows)
    config_file = workflow_copy / "bad-csv.yaml"
    config_file.write_text(yaml.safe_dump(csv_config({"path": "data.csv", "target": "progression"})))
    run = subprocess.run([SNAKEMAKE, "-n", "--cores", "1", "--configfile", str(config_file)], cwd=workflow_copy,
                         capture_output=True, text=True, timeout=120, check=False)
    assert run.returncode != 0
    expected = "config key 'datasets.mine.path' = 'data.csv': data.csv, line 8, column 'bmi' holds the text 'abc'"
    assert expected in run.stderr, run.stderr
    assert "Traceback" not in run.stderr
    assert not (workflow_copy / "results").exists()


def test_snakemake_dry_run_of_a_good_csv_makes_the_file_an_input_of_its_dataset(workflow_copy):
    write_csv(workflow_copy / "good.csv", [*COLUMNS, "progression"], diabetes_rows(80))
    config = csv_config({"path": "good.csv", "target": "progression"})
    config_file = workflow_copy / "good-csv.yaml"
    config_file.write_text(yaml.safe_dump(config))
    run = subprocess.run([SNAKEMAKE, "-n", "--cores", "1", "--configfile", str(config_file), "--forcerun", "dataset",
                          "--until", "dataset"], cwd=workflow_copy, capture_output=True, text=True, timeout=120, check=False)
    assert run.returncode == 0, run.stderr
    assert "input: good.csv" in run.stdout, run.stdout
