"""EfficientNet-U-Net segmentation (inside / border / background) for STM nanoparticles; see :mod:`.effunet`.

Post-processing (watershed instances, particle size distribution, COCO-style AP) is in :mod:`.postprocess`.
"""

from .effunet import BACKBONES, CLASSES, SKIP_LAYERS, BorderWeightedLoss, FocalDiceLoss, efficientnet_unet
from .postprocess import (
    at_size,
    average_precision,
    instance_scores,
    predict_probabilities,
    prepare_image,
    segment_particles,
    size_distribution,
    watershed_instances,
)

__all__ = [
    "BACKBONES",
    "CLASSES",
    "SKIP_LAYERS",
    "BorderWeightedLoss",
    "FocalDiceLoss",
    "at_size",
    "average_precision",
    "efficientnet_unet",
    "instance_scores",
    "predict_probabilities",
    "prepare_image",
    "segment_particles",
    "size_distribution",
    "watershed_instances",
]
