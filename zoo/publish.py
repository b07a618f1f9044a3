"""Push ``zoo/<name>/`` to the Hugging Face Hub and print the registry entry that pins the new commit.

    python zoo/publish.py NAME --repo-id ORG/NAME [--revision-note "what changed"] [--private]

Checks the folder first (``NAME.keras`` is a complete Keras 3 archive, not a git-LFS pointer; ``README.md`` has a
YAML front matter with a license), then ``HfApi.create_repo(exist_ok=True)`` and ``HfApi.upload_folder`` (one
commit; the Hub stores the ``.keras`` file with LFS/Xet), checks that the pushed revision serves a file with the
same sha256, and prints ``commit: <sha>`` and an entry to paste into ``keras_spm/zoo/registry.py``.

Needs a write token: ``HF_TOKEN`` or ``hf auth login`` (https://huggingface.co/docs/huggingface_hub/quick-start).
``HF_ENDPOINT`` points it at another Hub (the tests use a loopback fake, with ``HF_HUB_DISABLE_XET=1`` so large
files go through the plain git-LFS protocol). Upload guide: https://huggingface.co/docs/huggingface_hub/guides/upload
"""

from __future__ import annotations

import argparse
import re
import sys
import zipfile
from pathlib import Path

ZOO_DIR = Path(__file__).resolve().parent
REQUIRED_IN_ARCHIVE = ("config.json", "model.weights.h5")


def check_folder(folder: Path, name: str) -> Path:
    """The weights file of a publishable ``zoo/<name>/``; ``SystemExit`` naming the problem and the fix otherwise."""
    if not folder.is_dir():
        sys.exit(f"publish: {folder} does not exist; create it with {name}.keras and README.md (see zoo/README.md).")
    weights = folder / f"{name}.keras"
    if not weights.is_file():
        found = sorted(p.name for p in folder.iterdir())
        sys.exit(f"publish: {weights} is missing (found {found}); save the model with model.save('{weights}').")
    with open(weights, "rb") as f:
        head = f.read(64)
    if head.startswith(b"version https://git-lfs"):
        sys.exit(f"publish: {weights} is a git-LFS pointer, not the model; run `git lfs pull` first.")
    try:
        with zipfile.ZipFile(weights) as archive:
            names = set(archive.namelist())
            bad = archive.testzip()
    except zipfile.BadZipFile as err:
        sys.exit(f"publish: {weights} is not a Keras 3 .keras archive ({err}); save it again with model.save().")
    missing = [n for n in REQUIRED_IN_ARCHIVE if n not in names]
    if missing or bad is not None:
        sys.exit(f"publish: {weights} is incomplete (missing {missing}, corrupt member {bad}); save it again.")
    card = folder / "README.md"
    if not card.is_file():
        sys.exit(f"publish: {card} is missing; write the model card (template in zoo/README.md).")
    text = card.read_text(encoding="utf-8")
    front = re.match(r"^---\n(.*?)\n---\n", text, re.S)
    if front is None or not re.search(r"^license:\s*\S", front.group(1), re.M):
        sys.exit(f"publish: {card} needs a YAML front matter with at least `license:` (template in zoo/README.md).")
    return weights


def registry_snippet(name: str, repo_id: str, revision: str, sha256: str) -> str:
    from keras_spm.zoo.registry import REGISTRY

    old = REGISTRY.get(name)
    kind = old.kind if old else "<family>.<builder>, e.g. afm.dsh"
    description = old.description if old else "<one line: what it predicts from what input>"
    return (
        f'    "{name}": ZooEntry(\n'
        f'        repo_id="{repo_id}",\n'
        f'        revision="{revision}",\n'
        f'        sha256="{sha256}",\n'
        f'        kind="{kind}",\n'
        f'        description="{description}",\n'
        f"    ),"
    )


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description="Push zoo/NAME/ to the Hugging Face Hub; print the pinned revision.")
    parser.add_argument("name", help="model name: the folder zoo/NAME/ holding NAME.keras and README.md")
    parser.add_argument("--repo-id", required=True, help="Hub repo, ORG/NAME")
    parser.add_argument("--revision-note", default="", help="commit description: what changed in this revision")
    parser.add_argument("--private", action="store_true", help="create the repo private (only if it is new)")
    parser.add_argument("--zoo-dir", type=Path, default=ZOO_DIR, help="folder holding NAME/ (default: this zoo/)")
    args = parser.parse_args(argv)
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*", args.repo_id):
        parser.error(f"--repo-id {args.repo_id!r} must look like ORG/NAME")

    folder = args.zoo_dir / args.name
    weights = check_folder(folder, args.name)

    from huggingface_hub import HfApi, get_hf_file_metadata, hf_hub_url

    from keras_spm.zoo.hub import sha256_file

    sha256 = sha256_file(weights)
    files = sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())
    print(f"publishing {folder} ({', '.join(files)}); {weights.name} sha256 {sha256}")

    api = HfApi()
    repo_url = api.create_repo(args.repo_id, repo_type="model", private=args.private, exist_ok=True)
    summary = f"Upload {args.name} (sha256 {sha256[:12]})"
    info = api.upload_folder(
        repo_id=args.repo_id,
        folder_path=folder,
        repo_type="model",
        commit_message=summary,
        commit_description=args.revision_note,
    )
    revision = info.oid
    # The pinned revision must serve these very bytes: for LFS/Xet files the Hub's ETag is the sha256.
    meta = get_hf_file_metadata(hf_hub_url(args.repo_id, weights.name, revision=revision, endpoint=api.endpoint))
    if meta.etag != sha256:
        sys.exit(f"publish: {args.repo_id}@{revision} serves {weights.name} with ETag {meta.etag}, expected {sha256}.")

    print(f"pushed to {repo_url}")
    print(f"commit: {revision}")
    print("registry entry for keras_spm/zoo/registry.py:")
    print(registry_snippet(args.name, args.repo_id, revision, sha256))
    return revision


if __name__ == "__main__":
    main()
