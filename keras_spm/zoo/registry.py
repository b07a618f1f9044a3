"""The zoo's registry: model name -> Hugging Face Hub repo, pinned revision, sha256 (keras-hub presets style).

An entry is added once trained weights exist, in three steps (``zoo/README.md`` has the details):

1. put the model in ``zoo/<name>/`` as ``<name>.keras`` (``model.save(...)``) plus a ``README.md`` model card;
2. ``python zoo/publish.py <name> --repo-id <org>/<name>`` pushes the folder and prints the commit sha and the
   sha256 of the weights, formatted as an entry for :data:`REGISTRY`;
3. paste that entry below.

``revision`` pins an immutable commit, so a later push to the repo never changes what ``load`` returns, and
``sha256`` is checked on every load whatever the source (Hub, cache or the copy shipped in ``zoo/``). An entry
whose ``revision`` is ``None`` is not published yet and loads from the shipped copy only.
"""

from __future__ import annotations

import importlib.util
import re
from dataclasses import dataclass

_NAME = re.compile(r"^[a-z0-9][a-z0-9_]*$")
_REPO_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$")
_COMMIT = re.compile(r"^[0-9a-f]{40}$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class ZooEntry:
    """One published model.

    ``kind`` is ``"<family>.<builder>"`` (e.g. ``"afm.dsh"``): ``keras_spm.models.<family>`` is imported before
    loading so that its custom layers and losses are registered with Keras. ``description`` is one line: what the
    model predicts from what input. ``preset`` names the :data:`keras_spm.zoo.presets.PRESETS` entry that says
    everything else (input, scaling, post-processing, training recipe, figure); ``None`` means the model's name.
    """

    repo_id: str
    revision: str | None
    sha256: str
    kind: str
    description: str
    preset: str | None = None

    def preset_name(self, name: str) -> str:
        """The preset of the entry registered as ``name``."""
        return self.preset or name

    @property
    def family_module(self) -> str:
        """The module that registers this model's custom objects."""
        return f"keras_spm.models.{self.kind.split('.', 1)[0]}"

    def validate(self, name: str) -> None:
        """Raise ``ValueError`` naming the bad field and the expected form."""
        where = f"zoo registry entry {name!r}"
        if not _NAME.match(name):
            raise ValueError(f"{where}: the name must be lower-case letters, digits and '_' (it names zoo/<name>/).")
        if not _REPO_ID.match(self.repo_id):
            raise ValueError(f"{where}: repo_id {self.repo_id!r} must look like 'org/name'.")
        if self.revision is not None and not _COMMIT.match(self.revision):
            raise ValueError(
                f"{where}: revision {self.revision!r} must be the 40-hex commit sha printed by zoo/publish.py "
                "(a branch name would move under the registry's feet), or None before publishing."
            )
        if not _SHA256.match(self.sha256):
            raise ValueError(
                f"{where}: sha256 must be 64 lower-case hex digits (sha256sum of zoo/{name}/{name}.keras)."
            )
        family, _, builder = self.kind.partition(".")
        if not family or not builder or importlib.util.find_spec(self.family_module) is None:
            raise ValueError(
                f"{where}: kind {self.kind!r} must be '<family>.<builder>' with keras_spm.models.<family> importable "
                "(e.g. 'afm.dsh')."
            )
        if not self.description or "\n" in self.description:
            raise ValueError(f"{where}: description must be one non-empty line.")


def weights_filename(name: str) -> str:
    """The single weights file of a zoo model: ``<name>.keras`` (Keras 3 zip: config.json + model.weights.h5)."""
    return f"{name}.keras"


#: name -> entry. Empty until trained weights are published; see the module docstring for how to add one.
REGISTRY: dict[str, ZooEntry] = {
    # Trained here with training/fit.py (see each zoo/<name>/README.md); not yet pushed to the Hub, so revision=None
    # and they load from the copy shipped in zoo/. Publishing: python zoo/publish.py NAME --repo-id keras-spm/NAME.
    "dsh_heavy": ZooEntry(
        repo_id="keras-spm/dsh_heavy",
        revision=None,
        sha256="64840e164053eaa70362aa93514777beb80be3a3b1e842c44d239bd62c56fd61",
        kind="afm.dsh",
        description="Atomic Disks, vdW Spheres and Height Map from a 128x128x10 CO-tip AFM stack; heavy set "
        "(adds Si, P, S, Cl, Br)",
    ),
    "dsh_light": ZooEntry(
        repo_id="keras-spm/dsh_light",
        revision=None,
        sha256="0cd38c5657164cbd7ae69d45d7b4102ef9baef58c5e6ea9b8a2e66b2ba482df8",
        kind="afm.dsh",
        description="Atomic Disks, vdW Spheres and Height Map from a 128x128x10 CO-tip AFM stack; light set "
        "(H, C, N, O, F)",
    ),
    "pix2pix_stem": ZooEntry(
        repo_id="keras-spm/pix2pix_stem",
        revision=None,
        sha256="b6e661d8458dfa96660bd2032941111aa8d44f76c70448e8f08d5c0ac0086c2a",
        kind="gan.unet_generator",
        description="STEM HAADF multislice image from a fast convolution-approximation image (pix2pix U-Net + "
        "per-image mean calibration, 1 channel, [-1, 1], any size multiple of 64)",
    ),
    "cyclegan_afm_sim2exp": ZooEntry(
        repo_id="keras-spm/cyclegan_afm_sim2exp",
        revision=None,
        sha256="962358de339f645bdd1bfe833c751d8a7b3d852c32dfbc2979bdedb78a20c3ea",
        kind="gan.resnet_generator",
        description="CycleGAN ResNet-6 generator (24 filters, input skip): simulated nc-AFM image -> real (experimental) style "
        "(1 channel, [-1, 1], sides multiple of 4), then random detector noise (MeasurementNoise, 0.009, 1 px)",
    ),
    "cyclegan_afm_exp2sim": ZooEntry(
        repo_id="keras-spm/cyclegan_afm_exp2sim",
        revision=None,
        sha256="4fa3dd0b286f30f5c0a19d6681b70400660a1f564bb4f44568cdcca5cf73aae0",
        kind="gan.resnet_generator",
        description="CycleGAN ResNet-6 generator (24 filters, input skip): real (experimental) nc-AFM image -> simulated (ppafm) "
        "style (1 channel, [-1, 1], sides multiple of 4)",
    ),
    "dae_tip_artifacts": ZooEntry(
        repo_id="keras-spm/dae_tip_artifacts",
        revision=None,
        sha256="e7af614eb53baf4bf2017be9341942c09814e3c09989df027c7170a1c6940356",
        kind="dae.tip_erosion_dae_raw",
        description="Tip-artifact removal for topographies: Villarrubia erosion by a tip estimated from the scan "
        "(keras_spm.models.dae.estimate_tip gives it), scale-aware: heights and pixel size in one unit (metres in, "
        "metres out); use keras_spm.models.dae.restore.restore(..., pixel_size=)",
    ),
    "effunet_nanoparticles": ZooEntry(
        repo_id="keras-spm/effunet_nanoparticles",
        revision=None,
        sha256="fd99f37a6a088aeaf846d55bd3246d903cd60695c28024e0b532f59f5e35e950",
        kind="effunet.efficientnet_unet",
        description="Inside/border/background segmentation of nanoparticles in STM topographs (EfficientNet-B0-half "
        "U-Net, 128 px crops; watershed via keras_spm.models.effunet.segment_particles)",
    ),
    "xyz": ZooEntry(
        repo_id="keras-spm/xyz",
        revision=None,
        sha256="47645fd45689339070a1da474df6f80f062e289a695a113055386370390a1de4",
        kind="afm.xyz",
        description="Atom positions (16x16 grid: P(atom) + x/y/z offsets) of the top layer from a 128x128x10 CO-tip "
        "AFM stack; light set, positions in the image frame (below the thesis accuracy, see its card)",
    ),
    "es": ZooEntry(
        repo_id="keras-spm/es",
        revision=None,
        sha256="bd766e2908d6636ba3a639383f10b33bc481ccc25fdd61d7b3c4178ea394d866",
        kind="afm.es",
        description="Electrostatic Map and Height Map from a CO-tip and a Xe-tip 128x128x10 AFM stack; heavy set",
    ),
    "dsh_6slice": ZooEntry(
        repo_id="keras-spm/dsh_6slice",
        revision=None,
        sha256="5c80a7247423181b1ed1defa29a060dc1e8df9240b0e0ccdce82d4e3e14b09bb",
        kind="afm.dsh",
        description="Atomic Disks, vdW Spheres, Height Map from a 6-slice CO-tip stack (ED-AFM's depth); heavy set",
    ),
    "es_6slice": ZooEntry(
        repo_id="keras-spm/es_6slice",
        revision=None,
        sha256="cb1ea583ba81ed7ff01ff8f43032431833adedf2394ba85f24e7cbaff9de647e",
        kind="afm.es",
        description="Electrostatic Map and Height Map from 6-slice CO-tip and Xe-tip stacks (ED-AFM's depth)",
    ),
    "edafm": ZooEntry(
        repo_id="keras-spm/edafm",
        revision=None,
        sha256="a2b36997c6f7754e9322cad9fd559ff11b5de6006c20a3fc2b9e178f66a602d6",
        kind="afm.es",
        description="Electrostatic Map and Height Map from 6-slice CO-tip and Xe-tip stacks; ED-AFM's attention U-Net (Oinonen et al., ACS Nano 16, 89 (2022)) at a quarter of its widths; heavy set",
    ),
}


def available(registry: dict[str, ZooEntry] | None = None) -> dict[str, str]:
    """Model names -> one-line descriptions, sorted by name."""
    registry = REGISTRY if registry is None else registry
    return {name: registry[name].description for name in sorted(registry)}


def not_trained_yet(name: str) -> str:
    """For a zoo preset without weights yet (e.g. ``dsh_6slice``): what to run to make them; else ``""``."""
    from .presets import PRESETS

    preset = PRESETS.get(name)
    if preset is None or preset.family != "afm":
        return ""
    start = f"it starts from {preset.twin}'s weights" if preset.twin else "it starts from scratch"
    return (
        f"zoo model {name!r} has no trained weights yet: make them with `python training/campaign.py --model {name} "
        f"--hours 3` ({start})"
    )


def get_entry(name: str, registry: dict[str, ZooEntry] | None = None) -> ZooEntry:
    """The entry of ``name``; an unknown name raises ``ValueError`` listing the available ones."""
    registry = REGISTRY if registry is None else registry
    if name not in registry:
        names = ", ".join(sorted(registry)) or "none registered yet"
        raise ValueError(
            f"{not_trained_yet(name) or f'unknown zoo model {name!r}'}; available: {names}. "
            "See keras_spm.zoo.available()."
        )
    entry = registry[name]
    entry.validate(name)
    return entry
