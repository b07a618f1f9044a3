"""Fast prediction of a few samples: one traced function per model, with a fixed input signature.

``model.predict`` builds a data adapter, an iterator and callbacks on every call; at batch 1 that overhead is most
of the time (DSH: ~11 stacks/s through ``predict`` against ~70/s through a traced call on a 2-core CPU). A
``tf.function`` whose input signature leaves only the batch axis (and any axis the model leaves free) open is traced
once and then reused for every call. :func:`accelerate` puts it behind ``model.predict`` for small in-memory inputs
(what ``zoo.load`` returns); :func:`fast_call` is what :func:`keras_spm.predict` uses. Other Keras backends get the
model's own ``__call__`` (no TensorFlow tracing there).
"""

from __future__ import annotations

import weakref

import numpy as np

_SERVING: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
#: ``model.predict`` inputs up to this many samples go through the traced function; larger ones keep Keras' loop.
FAST_MAX_BATCH = 64


def _input_names(model) -> list[str]:
    return [t.name.split(":")[0] for t in model.inputs]


def serving_function(model):
    """The traced inference function of ``model`` (cached per model): structure of ``model.inputs`` in, tensors out."""
    import keras

    if model in _SERVING:
        return _SERVING[model]
    if keras.backend.backend() != "tensorflow":
        fn = lambda x: model(x, training=False)  # noqa: E731 - no tracing on other backends
    else:
        import tensorflow as tf

        specs = [
            tf.TensorSpec(tuple(t.shape), t.dtype, name=n)
            for t, n in zip(model.inputs, _input_names(model), strict=True)
        ]
        if len(specs) == 1:
            fn = tf.function(lambda x: model(x, training=False), input_signature=specs, reduce_retracing=True)
        else:
            signature = [{spec.name: spec for spec in specs}]
            fn = tf.function(lambda x: model(x, training=False), input_signature=signature, reduce_retracing=True)
    _SERVING[model] = fn
    return fn


def _structure_inputs(model, x):
    """``x`` as the traced function wants it: one float32 array, or a dict by input name for several inputs."""
    names = _input_names(model)
    if len(names) == 1:
        if isinstance(x, dict):
            (x,) = x.values()
        elif isinstance(x, (list, tuple)) and len(x) == 1:
            (x,) = x
        return np.asarray(x, dtype=np.float32)
    if isinstance(x, (list, tuple)):
        x = dict(zip(names, x, strict=True))
    return {n: np.asarray(x[n], dtype=np.float32) for n in names}


def fast_call(model, x):
    """``model.predict(x)`` without its per-call overhead: numpy outputs with the structure of the model's outputs."""
    import keras

    out = serving_function(model)(_structure_inputs(model, x))
    return keras.tree.map_structure(lambda t: np.asarray(t), out)


def _n_samples(x) -> int | None:
    try:
        first = next(iter(x.values())) if isinstance(x, dict) else x[0] if isinstance(x, (list, tuple)) else x
        return int(np.shape(first)[0])
    except (TypeError, IndexError, StopIteration):
        return None


class FastPredict:
    """Stands in for ``model.predict``: small numpy inputs through :func:`fast_call`, everything else to Keras."""

    def __init__(self, model, keras_predict):
        self._model = weakref.ref(model)
        self._keras_predict = keras_predict

    def __call__(self, x, batch_size=None, verbose="auto", steps=None, callbacks=None, **kwargs):
        model = self._model()
        n = _n_samples(x)
        small = n is not None and n <= FAST_MAX_BATCH and (batch_size is None or batch_size >= n)
        if model is not None and small and steps is None and callbacks is None and not kwargs:
            try:
                arrays = _structure_inputs(model, x)
            except (TypeError, ValueError, KeyError):
                arrays = None
            if arrays is not None:
                return fast_call(model, arrays)
        return self._keras_predict(x, batch_size=batch_size, verbose=verbose, steps=steps, callbacks=callbacks)


def accelerate(model):
    """``model`` with ``model.predict`` of up to :data:`FAST_MAX_BATCH` in-memory samples traced once and reused."""
    if not isinstance(getattr(model, "predict", None), FastPredict):
        model.predict = FastPredict(model, model.predict)
    return model
