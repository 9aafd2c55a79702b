"""Shared test fixtures: the real files the tests read, all inside tests/data.

tests/data/README.md lists every file with its source and licence. Nothing here reads
outside the repository, so a fresh clone runs its tests on its own.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import settings

# Property tests: no per-example deadline (a shared 2-core machine makes timings flaky);
# CI (.ci/run sets SPECIATE_TEST_PROFILE=ci) replays the same examples on every run, so a
# landing never depends on which random examples were drawn; local runs keep exploring.
settings.register_profile("local", deadline=None)
settings.register_profile("ci", deadline=None, derandomize=True, database=None)
settings.load_profile(os.environ.get("SPECIATE_TEST_PROFILE", "local"))

DATA = Path(__file__).resolve().parent / "data"


@pytest.fixture(scope="session")
def real_data() -> Path:
    """Real measured files: XANES standards, operando series, cycler files, CIFs."""
    return DATA


@pytest.fixture(scope="session")
def engine_outputs() -> Path:
    """Real FEFF10 and FDMNES runs (inputs and outputs): tests/data/engines."""
    return DATA / "engines"


@pytest.fixture(scope="session")
def golden() -> Path:
    """Reference numbers from other programs (Larch): tests/data/golden."""
    return DATA / "golden"


@pytest.fixture(scope="session")
def mn_groups() -> Path:
    """The Mn K-edge standards exported from Mn.prj."""
    return DATA / "xanes" / "xraylarch" / "Mn_groups"
