"""Loss Atlas: a benchmark of why gradients "go missing" with MSE in Keras.

Importing the package sets TensorFlow's C++ log level so that CPU-feature banners stay out of the
user's terminal; TensorFlow itself is only imported by the modules that train (``lossatlas.backend``).
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
# TensorFlow 2.21 prints its oneDNN banner before its log level applies; oneDNN gains nothing on
# these tiny matmuls, so it is off (the same for the engine and the fit reference).
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

__version__ = "0.1.0"
