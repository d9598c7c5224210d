"""The article the study examines: its title, date and the numbers it printed (no TensorFlow here).

Article: "Why are gradients missing when using MSE with TensorFlow Keras?" (2025-01-30). Its code is
run verbatim by :mod:`lossatlas.training.article`.
"""

ARTICLE_TITLE = "Why are gradients missing when using MSE with TensorFlow Keras?"
ARTICLE_DATE = "2025-01-30"
#: The final training losses the article printed, one unseeded run each.
PRINTED_LOSSES = {"example 1": 0.8178590472494597, "example 2": 0.01331729521339747, "example 3": 0.08371002228322282}
#: Fresh test samples each verbatim run is also scored on (the article reported its training loss only).
N_TEST = 1000
