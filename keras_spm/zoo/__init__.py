"""The keras_spm model zoo: trained models by name, from the Hugging Face Hub at a pinned revision.

>>> from keras_spm import zoo
>>> zoo.available()                 # {name: one-line description}
>>> model = zoo.load("dsh_light")   # verified sha256, takes raw stacks, fast model.predict at batch 1
>>> zoo.presets.get_preset("dsh_light").input   # what it takes; .recipe how it was trained (keras_spm.zoo.presets)

``load`` resolves through ``huggingface_hub`` into the standard HF cache, falls back to the cache and then to the
copy shipped in ``zoo/<name>/`` when the Hub cannot be reached or ``HF_HUB_OFFLINE=1`` (see :mod:`.hub`); the
registry format is in :mod:`.registry` and the publishing steps in ``zoo/README.md``.
"""

from . import presets
from .hub import SOURCES, ChecksumError, Fetched, ZooError, fetch, load, sha256_file, shipped_dirs
from .registry import REGISTRY, ZooEntry, available, get_entry, weights_filename

__all__ = [
    "REGISTRY",
    "SOURCES",
    "ChecksumError",
    "Fetched",
    "ZooEntry",
    "ZooError",
    "available",
    "fetch",
    "get_entry",
    "load",
    "presets",
    "sha256_file",
    "shipped_dirs",
    "weights_filename",
]
