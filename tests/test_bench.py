"""The benchmark's roofline: its operation counts by hand, and its lines on a tiny stack."""

from lossatlas.training import bench


def test_mlp_step_flops_by_hand():
    # Layers 1->32, 32->32, 32->1 with a batch of 32: products 32, 1024, 32 multiply-adds per sample.
    # Forward and kernel gradients: 2 * (32 + 1024 + 32); input gradients of layers 2 and 3: 1024 + 32.
    assert bench.mlp_step_flops(bench.MLP, 1, 32) == 2 * 32 * (2 * 1088 + 1056)
    assert bench.mlp_step_flops(bench.MODEL, 10, 4) == 2 * 4 * (2 * 10)


def test_dense_step_flops_by_hand():
    assert bench.dense_step_flops(1, 32) == 32 * 11 + 24


def test_roofline_lines():
    lines = bench.roofline(mlp_trials=4, dense_trials=2)
    assert lines[0].startswith("MLP(32, 32), 4 trials:") and "GFLOP/s" in lines[0]
    assert lines[1].startswith("Dense(1), 2 trials:") and "us per step" in lines[1]
