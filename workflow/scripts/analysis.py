"""Snakemake adapter: rule analysis -> lossatlas.analysis and lossatlas.claims."""

from lossatlas.logs import log_to

with log_to(snakemake.log[0]):
    import pandas as pd

    from lossatlas import analysis
    from lossatlas.atomic import write_table
    from lossatlas.claims import evaluate_claims, load_claims

    trials = pd.read_parquet(snakemake.input.trials)
    runs = pd.concat([pd.read_csv(path) for path in snakemake.input.article], ignore_index=True)
    seed, resamples, scales = snakemake.params.base_seed, snakemake.params.resamples, snakemake.params.scales
    output = snakemake.output

    write_table(output.article_runs, runs)
    write_table(output.article_summary, analysis.article_summary(runs))
    write_table(output.article_examples, pd.DataFrame([analysis.article_examples_2_and_3(runs, resamples, seed)]))
    write_table(output.comparisons, analysis.loss_comparisons(trials, "final_test_nrmse", resamples, seed))
    slopes = [analysis.scale_slopes(trials, scales, metric, resamples, seed) for metric in analysis.SLOPE_METRICS]
    write_table(output.slopes, pd.concat(slopes, ignore_index=True))
    verdicts, details = evaluate_claims(load_claims(snakemake.input.claims), trials, runs, scales, resamples, seed)
    write_table(output.verdicts, verdicts)
    write_table(output.claim_details, details)
    print(verdicts[["id", "name", "verdict", "holds_in"]].to_string())
