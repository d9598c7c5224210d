"""Statistics over seeds: bootstrap CIs, paired tests and effect sizes, censored time to target, the stall rule."""
