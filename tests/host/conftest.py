"""Session fixtures: the images are ensured once and ONE host is booted per test session, so every
test that needs a server to deploy onto shares it (a boot costs ~20-40 s).

Tests that change the host should leave it usable (restart() is fine: it comes back ready).
"""

from __future__ import annotations

import pytest

from .images import Images, ensure_images
from .machine import TestHost


@pytest.fixture(scope="session")
def host_images() -> Images:
    """All test images present in the local engine (raises, never skips, without an engine)."""
    return ensure_images()


@pytest.fixture(scope="session")
def target_host(host_images: Images):
    """A booted ``TestHost`` with the pypiserver stand-ins loaded into its inner engine."""
    with TestHost(host_images) as host:
        yield host
