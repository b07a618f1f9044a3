"""keras_spm: a Keras 3 model zoo for machine learning on scanning probe microscopy and STEM images.

Subpackages load on first use (``keras_spm.zoo.load("dsh_heavy")`` works after ``import keras_spm``),
so importing the package does not import TensorFlow or initialise OpenCL.
"""

import importlib

__version__ = "0.1.0"
_SUBPACKAGES = ("data", "datasets", "descriptors", "io", "metrics", "models", "molecules", "sim", "zoo")


def __getattr__(name: str):
    if name in _SUBPACKAGES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module 'keras_spm' has no attribute {name!r}")


__all__ = ["__version__", *_SUBPACKAGES]
