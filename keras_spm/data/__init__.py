"""Training data: molecule sets, on-the-fly simulation (tf.data) and sharded TFRecords."""

from .pipeline import afm_dataset, sample_seed
from .samples import SampleSpec

__all__ = ["afm_dataset", "sample_seed", "SampleSpec"]
