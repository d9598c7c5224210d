"""Datasets: deterministic generators, splits and files with their SHA-256 manifests."""
