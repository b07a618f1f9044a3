"""keras_spm: a Keras 3 model zoo for machine learning on scanning probe microscopy and STEM images.

Subpackages load on first use (``keras_spm.zoo.load("dsh_heavy")`` works after ``import keras_spm``),
so importing the package does not import TensorFlow or initialise OpenCL.
"""

import importlib
import os

# TensorFlow turns its oneDNN CPU kernels on by itself only on some CPUs; on an AMD EPYC here they were off and
# DSH training ran at 4.2 instead of 16.7 samples/s. Ask for them unless the user chose (needs to run before
# TensorFlow is imported: import keras_spm first).
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")

__version__ = "0.1.0"
_SUBPACKAGES = ("data", "datasets", "descriptors", "inference", "io", "metrics", "models", "molecules", "sim", "zoo")


def __getattr__(name: str):
    if name == "predict":  # keras_spm.predict(name_or_model, inputs, ...): see keras_spm.inference.predict
        from .inference import predict

        return predict
    if name in _SUBPACKAGES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module 'keras_spm' has no attribute {name!r}")


__all__ = ["__version__", "predict", *_SUBPACKAGES]
