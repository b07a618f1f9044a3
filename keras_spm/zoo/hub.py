"""Resolve a zoo model to a verified local file, then load it as an inference-ready ``keras.Model``.

Sources, in order (each file is checked against the registry's sha256 before Keras sees it):

1. ``"cache"``: the standard Hugging Face cache (``$HF_HUB_CACHE``, default ``~/.cache/huggingface/hub``) already
   holds the pinned revision; no network call is made (a pinned commit never changes).
2. ``"hub"``: ``huggingface_hub.hf_hub_download`` at the pinned revision, into that cache. Skipped when
   ``HF_HUB_OFFLINE=1`` or when one quick ``HEAD`` shows the Hub cannot be reached (so an offline machine falls
   back at once instead of waiting through the client's retry back-off).
3. ``"shipped"``: the copy in ``zoo/<name>/<name>.keras``, looked up in the folders of :func:`shipped_dirs`.

References: huggingface_hub download guide https://huggingface.co/docs/huggingface_hub/guides/download, cache
layout https://huggingface.co/docs/huggingface_hub/guides/manage-cache, ``HF_HUB_OFFLINE`` / ``HF_ENDPOINT`` /
``HF_HOME`` https://huggingface.co/docs/huggingface_hub/package_reference/environment_variables.
"""

from __future__ import annotations

import hashlib
import importlib
import logging
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from .registry import ZooEntry, get_entry, weights_filename

logger = logging.getLogger("keras_spm.zoo")

#: Where a file came from, see the module docstring.
SOURCES = ("cache", "hub", "shipped")


class ZooError(RuntimeError):
    """A zoo model could not be provided; the message says what was tried and how to fix it."""


class ChecksumError(ZooError):
    """A file's sha256 differs from the registry's: corrupted, truncated or not the registered file."""


@dataclass(frozen=True)
class Fetched:
    """A verified local copy of a zoo model's weights file and where it came from (one of :data:`SOURCES`)."""

    name: str
    path: Path
    source: str


def shipped_dirs() -> list[Path]:
    """Folders searched for ``<name>/<name>.keras`` when the Hub and the cache cannot provide a model.

    ``$KERAS_SPM_ZOO_DIR`` (``os.pathsep``-separated) first; then ``<repo>/zoo`` beside the ``keras_spm`` package,
    which is where it is in a source checkout or an editable install; then ``<sys.prefix>/share/keras_spm/zoo``,
    where a wheel puts the folders if setup.cfg lists them as ``data_files``.
    """
    dirs = [Path(p) for p in os.environ.get("KERAS_SPM_ZOO_DIR", "").split(os.pathsep) if p]
    dirs.append(Path(__file__).resolve().parents[2] / "zoo")
    dirs.append(Path(sys.prefix) / "share" / "keras_spm" / "zoo")
    return dirs


def sha256_file(path: str | Path) -> str:
    """Hex sha256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _repo_cache_dir(entry: ZooEntry, cache_dir: str | Path | None) -> Path:
    from huggingface_hub import constants

    root = Path(cache_dir) if cache_dir is not None else Path(constants.HF_HUB_CACHE)
    return root / ("models--" + entry.repo_id.replace("/", "--"))


def _offline() -> bool:
    """``HF_HUB_OFFLINE`` as huggingface_hub read it at import, or as it is set now."""
    from huggingface_hub import constants

    return bool(constants.HF_HUB_OFFLINE) or os.environ.get("HF_HUB_OFFLINE", "").upper() in {"1", "ON", "YES", "TRUE"}


def _from_hub(
    name: str,
    entry: ZooEntry,
    *,
    cache_dir: str | Path | None,
    endpoint: str | None,
    force_download: bool,
    etag_timeout: float,
) -> tuple[Path | None, str]:
    """(path, source) from the HF cache or the Hub, or (None, why not)."""
    import huggingface_hub as hf

    filename = weights_filename(name)
    if not force_download:
        cached = hf.try_to_load_from_cache(entry.repo_id, filename, cache_dir=cache_dir, revision=entry.revision)
        if isinstance(cached, str):
            return Path(cached), "cache"
    if _offline():
        return None, f"HF_HUB_OFFLINE is set and {entry.repo_id}@{entry.revision[:10]} is not in the Hugging Face cache"
    url = hf.hf_hub_url(entry.repo_id, filename, revision=entry.revision, endpoint=endpoint)
    try:
        # One HEAD without retries: hf_hub_download would retry an unreachable Hub with back-off for ~20 s.
        hf.get_hf_file_metadata(url, timeout=etag_timeout)
        path = hf.hf_hub_download(
            entry.repo_id,
            filename,
            revision=entry.revision,
            cache_dir=cache_dir,
            endpoint=endpoint,
            force_download=force_download,
            etag_timeout=etag_timeout,
        )
    except Exception as err:  # network down, Hub error, repo/revision/file missing: all fall back to the shipped copy
        return None, f"{url} failed ({type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''})"
    return Path(path), "hub"


def _verify(name: str, entry: ZooEntry, fetched: Fetched, cache_dir: str | Path | None) -> None:
    actual = sha256_file(fetched.path)
    if actual == entry.sha256:
        return
    what = f"{fetched.path}" + (f" (-> {fetched.path.resolve()})" if fetched.path.is_symlink() else "")
    if fetched.source == "shipped":
        fix = (
            f"the shipped file was changed without updating the registry, or it is a partial checkout: restore it "
            f"(git checkout -- zoo/{name}/) or, if it is the new model, run zoo/publish.py and paste the new entry"
        )
    elif fetched.source == "cache":
        fix = (
            f"the cached copy is corrupted or incomplete: delete {_repo_cache_dir(entry, cache_dir)} or call "
            f"keras_spm.zoo.load({name!r}, force_download=True) to download it again"
        )
    else:
        fix = (
            f"the file served at this revision is not the registered one: check that the registry entry is the one "
            f"zoo/publish.py printed for {entry.repo_id}, or, if the download was damaged, call "
            f"keras_spm.zoo.load({name!r}, force_download=True)"
        )
    raise ChecksumError(
        f"zoo model {name!r}: sha256 of {what} is {actual}, the registry expects {entry.sha256} "
        f"(source: {fetched.source}); {fix}."
    )


def fetch(
    name: str,
    *,
    registry: dict[str, ZooEntry] | None = None,
    cache_dir: str | Path | None = None,
    endpoint: str | None = None,
    force_download: bool = False,
    etag_timeout: float = 10.0,
) -> Fetched:
    """Verified local copy of ``name``'s weights file and its source (``"cache"``, ``"hub"`` or ``"shipped"``).

    ``cache_dir`` / ``endpoint`` / ``force_download`` / ``etag_timeout`` are passed to ``hf_hub_download``
    (defaults: ``$HF_HUB_CACHE``, ``$HF_ENDPOINT``). ``registry`` defaults to :data:`keras_spm.zoo.REGISTRY`.
    Raises ``ValueError`` for an unknown name, :class:`ChecksumError` when the file found does not match the
    registry (it never falls back past a corrupted file: that would hide it), :class:`ZooError` when no source
    has the model.
    """
    entry = get_entry(name, registry)
    reasons = []
    if entry.revision is None:
        reasons.append("not published on the Hub yet (registry revision is None)")
    else:
        path, source_or_reason = _from_hub(
            name,
            entry,
            cache_dir=cache_dir,
            endpoint=endpoint,
            force_download=force_download,
            etag_timeout=etag_timeout,
        )
        if path is None:
            reasons.append(source_or_reason)
        else:
            fetched = Fetched(name, path, source_or_reason)
            _verify(name, entry, fetched, cache_dir)
            logger.info(
                "zoo model %r: %s@%s from the %s (%s)", name, entry.repo_id, entry.revision, fetched.source, path
            )
            return fetched
    dirs = shipped_dirs()
    for folder in dirs:
        path = folder / name / weights_filename(name)
        if path.is_file():
            fetched = Fetched(name, path, "shipped")
            _verify(name, entry, fetched, cache_dir)
            logger.warning("zoo model %r: using the shipped copy %s (Hub: %s)", name, path, "; ".join(reasons))
            return fetched
    tried = ", ".join(str(d / name / weights_filename(name)) for d in dirs)
    raise ZooError(
        f"zoo model {name!r} is not available: Hub: {'; '.join(reasons)}; no shipped copy at {tried}. "
        f"Fix: connect to the Hub (unset HF_HUB_OFFLINE, check HF_ENDPOINT) so {entry.repo_id} can be downloaded "
        f"once, or put the file in one of those folders (or a folder named by $KERAS_SPM_ZOO_DIR)."
    )


def load(
    name: str,
    *,
    registry: dict[str, ZooEntry] | None = None,
    cache_dir: str | Path | None = None,
    endpoint: str | None = None,
    force_download: bool = False,
    etag_timeout: float = 10.0,
):
    """A zoo model as a ``keras.Model`` ready for ``predict``; arguments as :func:`fetch`.

    The source used (HF cache, Hub download or shipped copy) is logged on the ``keras_spm.zoo`` logger (INFO;
    WARNING for the shipped fallback, with the reason); call :func:`fetch` to get it as a value.

    The file is loaded with ``compile=False``: inference needs neither the optimizer nor the training losses, and
    rebuilding them from the saved training config would need every custom loss importable and would allocate
    optimizer state for nothing. It is then compiled with ``optimizer=None`` and no loss, which builds Keras'
    predict step with the backend defaults (no XLA on TF CPU); ``predict`` traces it once per input shape on its
    first call. ``keras_spm.models.<family>`` is imported first so its custom layers deserialize; Keras'
    ``safe_mode`` stays on (no lambdas). A file that passes the sha256 check but does not load raises
    :class:`ZooError`, never returns a partly built model.

    The model takes raw data: its preset's input scaling is saved inside it (:func:`keras_spm.zoo.presets.wrap`;
    a file from before that is wrapped here), and ``model.predict`` on a few samples goes through a traced
    function with a fixed signature (:mod:`keras_spm.inference.fast`), several times faster at batch 1.
    """
    entry = get_entry(name, registry)
    fetched = fetch(
        name,
        registry=registry,
        cache_dir=cache_dir,
        endpoint=endpoint,
        force_download=force_download,
        etag_timeout=etag_timeout,
    )
    importlib.import_module(entry.family_module)
    importlib.import_module("keras_spm.models.preprocessing")  # the input scaling layers saved in every zoo model
    import keras

    try:
        model = keras.saving.load_model(fetched.path, compile=False)
    except Exception as err:
        raise ZooError(
            f"zoo model {name!r}: {fetched.path} matches its sha256 but Keras cannot load it ({err}); the registry "
            f"kind {entry.kind!r} may name the wrong family, or the file needs a newer keras_spm."
        ) from err
    from keras_spm.inference.fast import accelerate

    from .presets import PRESETS, is_wrapped, wrap

    preset = entry.preset_name(name)
    if preset in PRESETS and not is_wrapped(model):
        model = wrap(model, preset)
    model.compile(optimizer=None, loss=None)
    model._keras_spm_preset = preset  # what keras_spm.predict(model, ...) reads
    return accelerate(model)
