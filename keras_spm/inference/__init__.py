"""Running zoo models on real inputs: :func:`predict` (also ``keras_spm.predict``) and its fast batch-1 path.

* :mod:`.run` - read, put on the model's grid, run, post-process, as the model's preset says;
* :mod:`.result` - :class:`Prediction`: arrays, notes, ``.plot()``, ``.save(dir)``;
* :mod:`.inputs` - readers per input kind and the argument checks ``keras-spm predict`` runs before TensorFlow;
* :mod:`.fast` - the traced fixed-signature call behind ``zoo.load(...).predict`` and :func:`predict`.
"""

from .fast import accelerate, fast_call, serving_function
from .inputs import InputError, check_paths, level
from .result import Prediction
from .run import predict, valid_mask

__all__ = [
    "InputError",
    "Prediction",
    "accelerate",
    "check_paths",
    "fast_call",
    "level",
    "predict",
    "serving_function",
    "valid_mask",
]
