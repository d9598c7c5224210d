"""Aggregation: per-trial metrics from the measurements, per-cell summaries with CIs, curves and loss floors."""
