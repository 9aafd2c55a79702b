"""Shared test fixtures: where the project's shared real data lives."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

_HERE = Path(__file__).resolve().parent


def _find_shared() -> Path:
    env = os.environ.get("SPECIATE_SHARED")
    if env:
        return Path(env)
    for parent in _HERE.parents:
        candidate = parent / "shared"
        if (candidate / "data" / "MANIFEST.md").is_file():
            return candidate
    raise RuntimeError(
        "the shared test data folder (shared/data/MANIFEST.md) was not found beside the "
        "checkout; set SPECIATE_SHARED to its path"
    )


SHARED = _find_shared()


@pytest.fixture(scope="session")
def shared() -> Path:
    """Root of the shared folder (data/, fixtures/, golden/)."""
    return SHARED


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Real data files: shared/data."""
    return SHARED / "data"


@pytest.fixture(scope="session")
def shared_fixtures() -> Path:
    """Real engine outputs: shared/fixtures."""
    return SHARED / "fixtures"


@pytest.fixture(scope="session")
def golden() -> Path:
    """Reference numbers from other programs: shared/golden."""
    return SHARED / "golden"


@pytest.fixture(scope="session")
def mn_groups() -> Path:
    """The Mn K-edge standards exported from Mn.prj."""
    return SHARED / "data" / "xanes" / "xraylarch" / "Mn_groups"
