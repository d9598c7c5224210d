"""Training: the stacked engine, its model.fit reference, the article's verbatim runs, the benchmark. The only stage that imports TensorFlow."""
