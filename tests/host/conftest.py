"""Session fixtures: the images are ensured once, and ONE host per Debian release is booted per test
session and shared by every test that needs it (a boot costs a few seconds, loading the images more).

- `target_host`: Debian 12 with its docker.io (20.10, API 1.41), the stand-in images loaded.
- `engine_host`: parametrized over every test host: Debian 12 as above, and Debian 13 WITHOUT Docker,
  which the program's bootstrap installs (docker.io 26.1, API 1.45) before the images are loaded.
Tests that change a host should leave it usable (restart() is fine: it comes back ready).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .images import HOST_ENGINES, Images, ensure_images
from .machine import TestHost


@pytest.fixture(scope="session")
def host_images() -> Images:
    """All test images present in the local engine (raises, never skips, without an engine)."""
    return ensure_images()


@pytest.fixture(scope="session")
def booted_hosts(host_images: Images) -> Iterator[dict[str, TestHost]]:
    """Debian release -> its booted host, booted on first use."""
    hosts: dict[str, TestHost] = {}
    yield hosts
    for host in hosts.values():
        host.close()


def _host(hosts: dict[str, TestHost], images: Images, suite: str) -> TestHost:
    if suite not in hosts:
        hosts[suite] = TestHost(images, suite=suite).start()
    return hosts[suite]


@pytest.fixture(scope="session")
def target_host(booted_hosts: dict[str, TestHost], host_images: Images) -> TestHost:
    return _host(booted_hosts, host_images, "bookworm")


@pytest.fixture(scope="session", params=sorted(HOST_ENGINES))
def engine_host(request, booted_hosts: dict[str, TestHost], host_images: Images) -> TestHost:
    return _host(booted_hosts, host_images, request.param)
