"""Fixture for the real instrument files in shared/data/spm-files (see shared/data/README.md)."""

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def spm_files(shared_data) -> Path:
    folder = shared_data / "spm-files"
    if not folder.is_dir():
        pytest.skip(f"real SPM files not found at {folder}")
    return folder
