import hashlib
import json
import math

import numpy as np
import pytest
from sklearn.datasets import load_diabetes

from lossatlas.data import datasets
from lossatlas.data.datasets import (
    FAMILIES,
    SPLITS,
    DatasetSpec,
    Family,
    check_spec,
    generate,
    iid,
    load_dataset,
    load_or_rebuild,
    ols_reference,
    standardize_inputs,
    write_dataset,
)

ARRAYS = [
    "x_train", "y_train", "x_test", "y_test", "x_validation", "y_validation", "ols_rmse_validation", "ols_rmse_test"
]

# SHA-256 of x_train, y_train, x_test, y_test (float32 bytes, concatenated in that order) drawn with
# base seed 7 and 3 seeds by the code before the validation split and the family registry existed.
PINNED = [
    ("seed_large", 1.0, 100, 1000, "07c63aacdf80e0e492ba02c497e2ce2201dfdab6b69d8cd890f2b59fb7ce632b"),
    ("seed_small", 1.0, 100, 1000, "c20c3c513ed791af73ec03ee5f2e53a4ba200af99edcf8e1e8e99780e7e9cf80"),
    ("target_scale", 1.0, 100, 1000, "df0d16b24f481c78a3b82476d654996a813bff9376bc7ac0ece3d1cee2ac567e"),
    ("target_scale", 0.001, 100, 1000, "589d6009d0329e1893c99629295746d52bfbaba9dbd8b3d553e9a61e631c2e55"),
    ("seed_small", 1.0, 20, 50, "9ad5127fc47f2515ea46b76345f3543c6f7076ab9d78baefe951052c4123c06c"),
]


def diabetes_rows(x: np.ndarray) -> np.ndarray:
    """The row index in scikit-learn's diabetes data of each row of ``x`` ``(n, 10)`` (rows are unique)."""
    raw = load_diabetes(return_X_y=True, scaled=False)[0].astype(np.float32)
    index = {row.tobytes(): i for i, row in enumerate(raw)}
    return np.array([index[row.tobytes()] for row in x.astype(np.float32)])




@pytest.mark.parametrize(("family", "scale", "n_train", "n_test", "digest"), PINNED)
def test_existing_families_draw_the_same_training_and_test_data_as_before(family, scale, n_train, n_test, digest):
    data = generate(DatasetSpec("pinned", family, scale, n_train, n_test), 7, 3)
    sha = hashlib.sha256()
    for name in ("x_train", "y_train", "x_test", "y_test"):
        assert data[name].dtype == np.float32
        sha.update(data[name].tobytes())
    assert sha.hexdigest() == digest
    assert data["x_validation"].shape == (3, 100, 1) and data["y_validation"].shape == (3, 100, 1)


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_the_validation_size_changes_no_training_or_test_row(family):
    default = generate(DatasetSpec("a", family), 2, 2)
    other = generate(DatasetSpec("b", family, n_validation=17), 2, 2)
    assert other["x_validation"].shape == (2, 17, FAMILIES[family].n_features)
    for name in ("x_train", "y_train", "x_test", "y_test"):
        np.testing.assert_array_equal(default[name], other[name])


def test_families_follow_the_article():
    large = generate(DatasetSpec("large", "seed_large"), 1, 50)
    assert large["x_train"].shape == (50, 100, 1) and large["x_test"].shape == (50, 1000, 1)
    assert 0 <= large["x_train"].min() and large["x_train"].max() <= 10
    residual = large["y_train"] - (2 * large["x_train"] + 1)
    assert abs(residual.std() - 1.0) < 0.03 and abs(residual.mean()) < 0.03

    small = generate(DatasetSpec("small", "seed_small"), 1, 50)
    assert 0 <= small["y_train"].min() and small["y_train"].max() <= 1
    residual = small["y_train"] - 0.1 * small["x_train"]
    assert abs(residual.std() - 0.01) < 0.001


def test_target_scale_changes_only_the_targets():
    unit = generate(DatasetSpec("s1", "target_scale", 1.0), 1, 3)
    tiny = generate(DatasetSpec("s001", "target_scale", 0.001), 1, 3)
    np.testing.assert_array_equal(unit["x_train"], tiny["x_train"])
    np.testing.assert_allclose(tiny["y_train"], unit["y_train"] * 0.001, rtol=1e-6)
    assert DatasetSpec("s", "target_scale", 0.001).target_range == (0.0, 0.001)


@pytest.mark.parametrize("family", ["target_scale", "friedman1", "diabetes"])
def test_scale_only_multiplies_the_targets(family):
    unit = generate(DatasetSpec("s1", family, 1.0), 1, 3)
    scaled = generate(DatasetSpec("s40", family, 40.0), 1, 3)
    for split in SPLITS:
        np.testing.assert_array_equal(unit[f"x_{split}"], scaled[f"x_{split}"])
        np.testing.assert_allclose(scaled[f"y_{split}"], unit[f"y_{split}"] * 40.0, rtol=1e-6)
        assert 0 <= scaled[f"y_{split}"].min() and scaled[f"y_{split}"].max() <= 40.0
    for name in ("ols_rmse_validation", "ols_rmse_test"):
        np.testing.assert_allclose(scaled[name], unit[name] * 40.0, rtol=1e-4)
    assert DatasetSpec("s", family, 40.0).target_range == (0.0, 40.0)


@pytest.mark.parametrize(("family", "scale"), [("seed_small", 1.0), ("friedman1", 2.0), ("diabetes", 2.0)])
def test_generation_is_deterministic_and_replicates_are_stable(family, scale):
    spec = DatasetSpec("d", family, scale)
    first, again, more = generate(spec, 3, 3), generate(spec, 3, 3), generate(spec, 3, 5)
    assert list(first) == ARRAYS
    for name in first:
        np.testing.assert_array_equal(first[name], again[name])
        np.testing.assert_array_equal(first[name], more[name][:3])  # adding seeds changes no replicate
    assert not np.array_equal(first["x_train"][0], first["x_train"][1])  # replicates differ
    assert not np.array_equal(generate(spec, 4, 3)["x_train"], first["x_train"])  # base seed matters


def test_friedman1_has_ten_inputs_and_targets_rescaled_to_the_scale():
    data = generate(DatasetSpec("f", "friedman1", 3.0), 1, 2)
    assert data["x_train"].shape == (2, 100, 10) and data["x_test"].shape == (2, 1000, 10)
    assert data["x_validation"].shape == (2, 100, 10)
    for split in SPLITS:
        assert 0 <= data[f"x_{split}"].min() and data[f"x_{split}"].max() <= 1
        assert 0 <= data[f"y_{split}"].min() and data[f"y_{split}"].max() <= 3.0
    assert DatasetSpec("f", "friedman1").target_range == (0.0, 1.0)

    # Without noise, y = s * f(x) / 30 with Friedman's function (which never leaves [0, 30]).
    clean = generate(DatasetSpec("f", "friedman1", 3.0, params={"noise": 0.0}), 1, 2)
    x = clean["x_test"].astype(np.float64)
    f = 10 * np.sin(np.pi * x[..., 0] * x[..., 1]) + 20 * (x[..., 2] - 0.5) ** 2 + 10 * x[..., 3] + 5 * x[..., 4]
    np.testing.assert_allclose(clean["y_test"][..., 0], 3.0 * f / 30, rtol=1e-5, atol=1e-6)

    # The noise parameter only scales the same noise draws: the inputs are shared, and the noise
    # sd is noise / 30 * s (a little less, where the clip to [0, s] cuts it).
    noisy = generate(DatasetSpec("f", "friedman1", 3.0, params={"noise": 1.5}), 1, 2)
    np.testing.assert_array_equal(noisy["x_test"], clean["x_test"])
    residual = (noisy["y_test"] - clean["y_test"]).ravel()
    assert DatasetSpec("f", "friedman1", 3.0, params={"noise": 1.5}).noise_sd == pytest.approx(1.5 / 30 * 3.0)
    assert abs(residual.std() - 1.5 / 30 * 3.0) < 0.01
    assert DatasetSpec("f", "friedman1", 2.0).noise_sd == pytest.approx(1.0 / 30 * 2.0)  # default noise 1.0


def test_diabetes_splits_are_disjoint_patients_that_depend_on_the_seed():
    spec = DatasetSpec("d", "diabetes", 2.0)
    assert (spec.n_train, spec.n_validation, spec.n_test) == (300, 71, 71)
    data = generate(spec, 5, 3)
    raw_x, raw_y = load_diabetes(return_X_y=True, scaled=False)
    assert len(raw_x) == FAMILIES["diabetes"].n_rows == 442
    rescaled = 2.0 * (raw_y - raw_y.min()) / (raw_y.max() - raw_y.min())  # min and max over all 442 rows
    trains = []
    for replicate in range(3):
        rows = {split: diabetes_rows(data[f"x_{split}"][replicate]) for split in SPLITS}
        assert [len(rows[split]) for split in SPLITS] == [300, 71, 71]
        together = np.concatenate(list(rows.values()))
        assert len(set(together.tolist())) == 442  # disjoint, and here all of the 442 patients
        for split in SPLITS:
            np.testing.assert_array_equal(data[f"x_{split}"][replicate], raw_x[rows[split]].astype(np.float32))
            np.testing.assert_allclose(data[f"y_{split}"][replicate, :, 0], rescaled[rows[split]], rtol=1e-6)
        trains.append(set(rows["train"].tolist()))
    assert trains[0] != trains[1]  # replicates split differently
    other = diabetes_rows(generate(spec, 6, 1)["x_train"][0])
    assert set(other.tolist()) != trains[0]  # the split depends on the base seed

    small = generate(DatasetSpec("d", "diabetes", n_train=50, n_test=20, n_validation=10), 5, 2)
    rows = [diabetes_rows(small[f"x_{split}"][1]) for split in SPLITS]
    assert len(set(np.concatenate(rows).tolist())) == 80  # a disjoint subset of the patients
    assert DatasetSpec("d", "diabetes").noise_sd is None


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (DatasetSpec("x", "nope"), r"^family: unknown dataset family 'nope'"),
        (DatasetSpec("x", "target_scale", 0.0), r"^scale: must be a finite number > 0"),
        (DatasetSpec("x", "target_scale", -1.0), r"^scale: "),
        (DatasetSpec("x", "target_scale", math.inf), r"^scale: "),
        (DatasetSpec("x", "target_scale", math.nan), r"^scale: "),
        (DatasetSpec("x", "seed_small", 2.0), r"^scale: family seed_small has a fixed scale of 1"),
        (DatasetSpec("x", "diabetes", params={"noise": 1.0}), r"^noise: family diabetes takes no parameter noise"),
        (DatasetSpec("x", "friedman1", params={"noize": 1.0}), r"^noize: family friedman1 takes no parameter noize"),
        (DatasetSpec("x", "friedman1", params={"noise": -1.0}), r"^noise: must be in \[0.0, inf\]"),
        (DatasetSpec("x", "friedman1", params={"noise": math.nan}), r"^noise: must be a finite number"),
        (DatasetSpec("x", "friedman1", params={"noise": "1"}), r"^noise: must be a finite number"),
        (DatasetSpec("x", "seed_large", n_train=0), r"^n_train: must be a positive integer"),
        (DatasetSpec("x", "seed_large", n_test=-3), r"^n_test: must be a positive integer"),
        (DatasetSpec("x", "seed_large", n_validation=0), r"^n_validation: must be a positive integer"),
        (DatasetSpec("x", "seed_large", n_train=2.5), r"^n_train: must be a positive integer"),
        (DatasetSpec("x", "diabetes", n_train=400), r"^n_train: n_train \+ n_validation \+ n_test = 542 exceeds"),
    ],
)
def test_check_spec_names_the_offending_field(spec, message):
    with pytest.raises(ValueError, match=message):
        check_spec(spec)
    with pytest.raises(ValueError, match=message):
        generate(spec, 1, 1)


def test_valid_specs_pass_and_params_read_the_family_default():
    for family in FAMILIES:
        check_spec(DatasetSpec("x", family))
    check_spec(DatasetSpec("x", "diabetes", 5.0, n_train=300, n_test=71, n_validation=71))  # exactly 442 rows
    check_spec(DatasetSpec("x", "friedman1", 0.01, params={"noise": 0}))
    default = DatasetSpec("x", "friedman1")
    assert default.params == () and default.param("noise") == 1.0 and default.all_params == {"noise": 1.0}
    given = DatasetSpec("x", "friedman1", params={"noise": 0.5})
    assert given == DatasetSpec("x", "friedman1", params=(("noise", 0.5),)) and given.param("noise") == 0.5
    hash(given)  # frozen and hashable
    with pytest.raises(ValueError, match="^noise: family diabetes takes no parameter noise"):
        DatasetSpec("x", "diabetes").param("noise")
    assert DatasetSpec("x", "seed_large") == DatasetSpec("x", "seed_large", 1.0, 100, 1000, 100)
    with pytest.raises(ValueError, match="^n_seeds: "):
        generate(DatasetSpec("x", "seed_large"), 1, 0)


def test_families_describe_themselves():
    for name, family in FAMILIES.items():
        assert family.name == name and family.description
        assert set(family.default_sizes) == set(SPLITS) and family.n_features >= 1
        low, high = family.target_bounds
        assert low < high
    assert FAMILIES["friedman1"].parameters == {"noise": 1.0} and FAMILIES["friedman1"].n_features == 10
    assert "noise = 1.0 by default" in FAMILIES["friedman1"].description
    assert "/ 30" in FAMILIES["friedman1"].description
    assert FAMILIES["diabetes"].noise_sd is None and FAMILIES["diabetes"].scalable
    assert not FAMILIES["seed_large"].scalable and FAMILIES["seed_large"].target_bounds == (-math.inf, math.inf)


def test_a_family_is_added_by_one_registry_entry(monkeypatch):
    def sample(rng, n, params):
        x = rng.random((n, 2))
        return x, params["slope"] * x[:, :1] + params["noise"] * rng.standard_normal((n, 1))

    family = Family("plane", "y = slope x1 + noise N(0, 1)", iid(sample), (-math.inf, math.inf),
                    lambda params: params["noise"], True, 2, {"train": 5, "test": 6, "validation": 7},
                    parameters={"slope": 2.0, "noise": 0.1})
    monkeypatch.setitem(datasets.FAMILIES, "plane", family)
    spec = DatasetSpec("p", "plane", 3.0, params={"noise": 0.0})
    data = generate(spec, 1, 2)
    assert data["x_train"].shape == (2, 5, 2) and data["x_validation"].shape == (2, 7, 2)
    np.testing.assert_allclose(data["y_test"], 6.0 * data["x_test"][..., :1], rtol=1e-6)
    assert spec.noise_sd == 0.0 and DatasetSpec("p", "plane", 2.0).noise_sd == pytest.approx(0.2)
    with pytest.raises(ValueError, match="^slop: family plane takes no parameter slop"):
        check_spec(DatasetSpec("p", "plane", params={"slop": 1.0}))


def test_standardize_inputs_uses_only_the_training_split():
    rng = np.random.default_rng(0)
    data = {
        "x_train": (rng.random((2, 50, 3)) * [1.0, 10.0, 0.0] + [0.0, 5.0, 7.0]).astype(np.float32),
        "y_train": rng.random((2, 50, 1)).astype(np.float32),
        "x_validation": (rng.random((2, 20, 3)) * 100).astype(np.float32),
        "x_test": (rng.random((2, 30, 3)) * 100).astype(np.float32),
        "ols_rmse_test": np.array([0.5, 0.25]),
    }
    original = {name: array.copy() for name, array in data.items()}
    standard = standardize_inputs(data)
    for name, array in data.items():
        np.testing.assert_array_equal(array, original[name])  # the input is not modified
        assert standard[name].dtype == array.dtype and standard[name].shape == array.shape
    np.testing.assert_array_equal(standard["y_train"], data["y_train"])
    np.testing.assert_array_equal(standard["ols_rmse_test"], data["ols_rmse_test"])
    train = standard["x_train"].astype(np.float64)
    np.testing.assert_allclose(train.mean(axis=1), 0, atol=1e-5)
    np.testing.assert_allclose(train.std(axis=1)[:, :2], 1, rtol=1e-5)
    np.testing.assert_array_equal(train[:, :, 2], 0)  # zero spread: centred only
    x = data["x_train"].astype(np.float64)
    mean, sd = x.mean(axis=1, keepdims=True), x.std(axis=1, keepdims=True)
    expected = (data["x_test"][..., :2] - mean[..., :2]) / sd[..., :2]
    np.testing.assert_allclose(standard["x_test"][..., :2], expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(standard["x_test"][..., 2], data["x_test"][..., 2] - 7.0, rtol=1e-5)

    # Changing the validation or test inputs changes nothing else.
    changed = dict(data, x_test=data["x_test"] * 3 + 1, x_validation=-data["x_validation"])
    again = standardize_inputs(changed)
    np.testing.assert_array_equal(again["x_train"], standard["x_train"])
    np.testing.assert_allclose(again["x_test"][..., 2], standard["x_test"][..., 2] * 3 + 15, rtol=1e-5)  # 3x + 1 - 7
    first_validation = standardize_inputs({"x_train": data["x_train"], "x_validation": data["x_validation"]})
    np.testing.assert_array_equal(first_validation["x_validation"], standard["x_validation"])
    with pytest.raises(ValueError, match="x_train"):
        standardize_inputs({"x_test": data["x_test"]})


def test_ols_reference_matches_a_hand_computation():
    # Training points (0, 1), (1, 3), (2, 5), (3, 8): slope 11.5 / 5 = 2.3, intercept 4.25 - 2.3 * 1.5 = 0.8.
    data = {
        "x_train": np.array([[[0.0], [1.0], [2.0], [3.0]]], dtype=np.float32),
        "y_train": np.array([[[1.0], [3.0], [5.0], [8.0]]], dtype=np.float32),
        "x_validation": np.array([[[4.0]]], dtype=np.float32),  # prediction 10.0
        "y_validation": np.array([[[10.0]]], dtype=np.float32),
        "x_test": np.array([[[1.0], [5.0]]], dtype=np.float32),  # predictions 3.1 and 12.3
        "y_test": np.array([[[2.0], [12.0]]], dtype=np.float32),
    }
    reference = ols_reference(data)
    assert set(reference) == {"ols_rmse_validation", "ols_rmse_test"}
    assert reference["ols_rmse_test"].shape == (1,) and reference["ols_rmse_test"].dtype == np.float64
    np.testing.assert_allclose(reference["ols_rmse_validation"], [0.0], atol=1e-9)
    np.testing.assert_allclose(reference["ols_rmse_test"], [math.sqrt((1.1**2 + 0.3**2) / 2)], rtol=1e-9)
    with pytest.raises(ValueError, match="x_validation"):
        ols_reference({name: array for name, array in data.items() if name != "x_validation"})


@pytest.mark.parametrize("family", ["seed_large", "friedman1", "diabetes"])
def test_ols_reference_is_stored_and_does_not_depend_on_standardization(family):
    data = generate(DatasetSpec("o", family), 2, 3)
    assert data["ols_rmse_test"].shape == (3,) and data["ols_rmse_validation"].shape == (3,)
    recomputed = ols_reference(data)
    for name, values in recomputed.items():
        np.testing.assert_array_equal(data[name], values)
        np.testing.assert_allclose(ols_reference(standardize_inputs(data))[name], values, rtol=1e-4)
    if family == "seed_large":  # the model is linear: OLS reaches the noise sd
        np.testing.assert_allclose(data["ols_rmse_test"], 1.0, atol=0.1)


@pytest.mark.parametrize(
    "spec",
    [
        DatasetSpec("small", "seed_small", n_test=50),
        DatasetSpec("fried", "friedman1", 2.0, n_train=40, n_test=30, n_validation=20, params={"noise": 0.5}),
        DatasetSpec("diab", "diabetes", 0.5),
    ],
    ids=lambda spec: spec.family,
)
def test_files_are_byte_reproducible_and_checked_against_the_manifest(tmp_path, spec):
    paths = []
    for name in ("a", "b"):
        data, manifest = tmp_path / f"{name}.npz", tmp_path / f"{name}.json"
        write_dataset(spec, 5, 3, data, manifest)
        paths.append((data, manifest))
    assert paths[0][0].read_bytes() == paths[1][0].read_bytes()
    manifest = json.loads(paths[0][1].read_text())
    d = FAMILIES[spec.family].n_features
    assert manifest["arrays"]["x_train"]["shape"] == [3, spec.n_train, d] and manifest["n_seeds"] == 3
    assert manifest["arrays"]["x_validation"]["shape"] == [3, spec.n_validation, d]
    assert manifest["arrays"]["ols_rmse_test"] == {
        "shape": [3], "dtype": "float64", "sha256": manifest["arrays"]["ols_rmse_test"]["sha256"]
    }
    assert sorted(manifest["arrays"]) == sorted(ARRAYS)
    sizes = (manifest["n_train"], manifest["n_test"], manifest["n_validation"])
    assert sizes == (spec.n_train, spec.n_test, spec.n_validation)
    assert manifest["params"] == spec.all_params and manifest["n_features"] == d
    assert manifest["noise_sd"] == spec.noise_sd and manifest["description"] == FAMILIES[spec.family].description
    loaded = load_dataset(*paths[0])
    expected = generate(spec, 5, 3)
    assert list(loaded) == ARRAYS
    for name in ARRAYS:
        np.testing.assert_array_equal(loaded[name], expected[name])
        assert loaded[name].dtype == expected[name].dtype

    tampered = bytearray(paths[0][0].read_bytes())
    tampered[-40] ^= 1
    paths[0][0].write_bytes(bytes(tampered))
    with pytest.raises(ValueError, match="does not match its manifest"):
        load_dataset(*paths[0])
    assert not list(tmp_path.glob(".*.tmp"))  # atomic writes leave no temporaries


def test_a_corrupted_dataset_is_rebuilt_from_its_generator(tmp_path):
    spec = DatasetSpec("small", "seed_small", n_test=50)
    data, manifest = tmp_path / "small.npz", tmp_path / "small.json"
    write_dataset(spec, 5, 3, data, manifest)
    good = data.read_bytes()
    data.write_bytes(good[: len(good) // 2])  # truncated
    loaded = load_or_rebuild(spec, 5, 3, data, manifest)
    assert data.read_bytes() == good
    np.testing.assert_array_equal(loaded["y_train"], generate(spec, 5, 3)["y_train"])
    data.unlink()  # deleted
    load_or_rebuild(spec, 5, 3, data, manifest)
    assert data.read_bytes() == good
    data.write_bytes(good[:100])
    with pytest.raises(ValueError, match="differs from its manifest"):
        load_or_rebuild(spec, 6, 3, data, manifest)  # another base seed: the rebuild cannot match
