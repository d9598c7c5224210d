"""One place that imports TensorFlow and Keras, quietly and deterministically.

Every module that trains imports ``tf`` and ``keras`` from here, so that the log level and op
determinism are set before the first TensorFlow op runs, in every process (Snakemake jobs included).
"""

import logging
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
# TensorFlow 2.21 prints its oneDNN banner before its log level applies; oneDNN gains nothing on
# these tiny matmuls, so it is off (the same for the engine and the fit reference).
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

tf.get_logger().setLevel(logging.ERROR)
tf.config.experimental.enable_op_determinism()

__all__ = ["tf", "keras"]
