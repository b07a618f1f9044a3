"""Training plumbing shared by every family: run folders, atomic checkpoints, logs, replay buffers, campaigns.

``keras_spm.training.runs`` holds the atomic writes, ``keras_spm.training.callbacks`` the Keras callbacks of an
epoch-based run folder (checkpoints, history, resume, cosine rate, time limit) used by every ``training/fit*.py``,
``keras_spm.training.replay`` the on-disk replay buffer that simulation workers fill, and
``keras_spm.training.campaign`` the time-boxed, resumable training campaign (``python training/campaign.py --model
xyz --hours 2``). None of them imports TensorFlow at module level.
"""
