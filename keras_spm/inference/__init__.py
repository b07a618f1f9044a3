"""Running zoo models on real inputs: :func:`predict` (also ``keras_spm.predict``) and its fast batch-1 path."""

from .fast import accelerate, fast_call, serving_function

__all__ = ["accelerate", "fast_call", "serving_function"]
