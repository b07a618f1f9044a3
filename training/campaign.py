"""Time-boxed, resumable AFM training campaign: ``python training/campaign.py --model xyz --hours 2``.

See :mod:`keras_spm.training.campaign` for what it does and how it resumes.
"""

import sys

import keras_spm  # noqa: F401  (oneDNN on before TensorFlow loads)
from keras_spm.training.campaign import main

if __name__ == "__main__":
    sys.exit(main())
