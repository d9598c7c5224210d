"""Loss Atlas: a benchmark of why gradients "go missing" with MSE in Keras, and which remedies work.

Data flows one way, each stage reading only what the stages before it wrote:
config (:mod:`lossatlas.design.config`, :mod:`lossatlas.design.study`) -> datasets (:mod:`lossatlas.data.datasets`) ->
training (:mod:`lossatlas.training.engine`, :mod:`lossatlas.training.train`) -> aggregation (:mod:`lossatlas.aggregation.aggregate`) ->
analysis (:mod:`lossatlas.analysis.analyses`, :mod:`lossatlas.analysis.claims`, :mod:`lossatlas.analysis.mechanism`) ->
figures (:mod:`lossatlas.figures`) and the report (:mod:`lossatlas.report`), which never import each
other and decide nothing. :mod:`lossatlas.core.results` describes every table.

Importing the package sets TensorFlow's C++ log level so that CPU-feature banners stay out of the
user's terminal; TensorFlow itself is only imported by the modules that train (``lossatlas.training.backend``).
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
# TensorFlow 2.21 prints its oneDNN banner before its log level applies; oneDNN gains nothing on
# these tiny matmuls, so it is off (the same for the engine and the fit reference).
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
# NumPy asks the kernel for transparent huge pages for each array of 4 MB or more. Where the kernel
# then compacts memory to find them (transparent_hugepage/defrag "madvise", a common default), a fresh
# array such as a 1,000-trial stack's batch orders (10 MB) can wait for it: off, `make bench` trained
# its examples about 10% faster, and the aggregate and analysis took as long. NumPy reads this when it
# is first imported; every job and entry point imports this package first.
os.environ.setdefault("NUMPY_MADVISE_HUGEPAGE", "0")

__version__ = "0.2.0"
