"""Production as the policy pack must pass it; dev and staging are the program's own (tests/conftest.py)."""

from __future__ import annotations

import pytest

from tests.support.deployments import deploy
from tests.support.policy_pack import PINNED
from tests.support.recorded import Deployment


@pytest.fixture(scope="module")
def production() -> Deployment:
    """Production as it must be deployed: the committed config, a real host, and the image digests pinned."""
    return deploy("production", **PINNED)
