"""Analysis: comparisons, slopes, tuned rates, claim verdicts and the mechanism, decided once and written to results/analysis/."""
