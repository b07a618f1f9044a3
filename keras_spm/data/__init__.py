"""Training data: molecule sets, on-the-fly simulation (tf.data) and sharded TFRecords."""

from .pipeline import afm_dataset, sample_seed
from .samples import SampleSpec
from .sets import SET_ELEMENTS, load_set
from .shards import ShardError, shard_dataset

__all__ = ["SET_ELEMENTS", "SampleSpec", "ShardError", "afm_dataset", "load_set", "sample_seed", "shard_dataset"]
