"""Image sets of the image-to-image GANs: image files in ``../shared/data`` (AFM style, STEM pairs) and abTEM pairs.

The AFM structure-discovery networks' training data (molecule sets, ppafm stacks and their descriptor labels,
TFRecord shards) is in :mod:`keras_spm.data`.

* :mod:`keras_spm.datasets.afm_style` - unpaired simulated / real AFM images (CycleGAN);
* :mod:`keras_spm.datasets.stem_pairs` - paired STEM convolution / multislice images (pix2pix, baselines);
* :mod:`keras_spm.datasets.stem_sim` - more such pairs simulated with abTEM (optional dependency).
"""

from . import afm_style, stem_pairs, stem_sim
from .afm_style import afm_style_dataset
from .stem_pairs import crop_back, pad_to_multiple, stem_dataset

__all__ = ["afm_style", "afm_style_dataset", "crop_back", "pad_to_multiple", "stem_dataset", "stem_pairs", "stem_sim"]
