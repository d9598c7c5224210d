import json

import numpy as np
import pytest

from lossatlas.datasets import DatasetSpec, generate, load_dataset, write_dataset


def test_generation_is_deterministic_and_replicates_are_stable():
    spec = DatasetSpec("small", "seed_small")
    first, again = generate(spec, 3, 4), generate(spec, 3, 4)
    more = generate(spec, 3, 6)
    for name in first:
        np.testing.assert_array_equal(first[name], again[name])
        np.testing.assert_array_equal(first[name], more[name][:4])  # adding seeds changes no replicate
    assert not np.array_equal(first["x_train"][0], first["x_train"][1])  # replicates differ
    assert not np.array_equal(generate(spec, 4, 4)["x_train"], first["x_train"])  # base seed matters


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


def test_files_are_byte_reproducible_and_checked_against_the_manifest(tmp_path):
    spec = DatasetSpec("small", "seed_small", n_test=50)
    paths = []
    for name in ("a", "b"):
        data, manifest = tmp_path / f"{name}.npz", tmp_path / f"{name}.json"
        write_dataset(spec, 5, 3, data, manifest)
        paths.append((data, manifest))
    assert paths[0][0].read_bytes() == paths[1][0].read_bytes()
    manifest = json.loads(paths[0][1].read_text())
    assert manifest["arrays"]["x_train"]["shape"] == [3, 100, 1] and manifest["n_seeds"] == 3
    loaded = load_dataset(*paths[0])
    np.testing.assert_array_equal(loaded["y_test"], generate(spec, 5, 3)["y_test"])

    tampered = bytearray(paths[0][0].read_bytes())
    tampered[-40] ^= 1
    paths[0][0].write_bytes(bytes(tampered))
    with pytest.raises(ValueError, match="does not match its manifest"):
        load_dataset(*paths[0])
    assert not list(tmp_path.glob(".*.tmp"))  # atomic writes leave no temporaries
