"""Simulated AFM training data: molecule sets, on-the-fly ppafm simulation (tf.data) and sharded TFRecords.

Everything here is made from molecules by the simulator (stacks and their descriptor labels, for the DSH / ES /
xyz networks). The image sets of the image-to-image GANs (AFM style images and STEM pairs from ``../shared/data``,
abTEM STEM pairs) are in :mod:`keras_spm.datasets`.
"""

from .pipeline import afm_dataset, sample_seed
from .samples import SampleSpec
from .sets import SET_ELEMENTS, load_set
from .shards import ShardError, shard_dataset

__all__ = ["SET_ELEMENTS", "SampleSpec", "ShardError", "afm_dataset", "load_set", "sample_seed", "shard_dataset"]
