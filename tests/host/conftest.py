"""Session fixtures: the images are ensured once, and ONE host per Debian release is booted per test
session and shared by every test that needs it (a boot costs a few seconds, loading the images more).

- `target_host`: Debian 12 with its docker.io (20.10, API 1.41), the stand-in images loaded.
- `engine_host`: parametrized over every test host: Debian 12 as above, and Debian 13 WITHOUT Docker,
  which the program's bootstrap installs (docker.io 26.1, API 1.45) before the images are loaded.
Tests that change a host should leave it usable (restart() is fine: it comes back ready).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from .commands import docker, run
from .images import HOST_ENGINES, Images, ensure_images
from .machine import TestHost

BACKUP_PASSWORD = "restic-repository-password-3c9f1a7e"
# Fixtures that boot a TestHost: a test that uses one is marked boots_host (the workflow's test job
# leaves those out on GitHub's cgroup-v2-only runners, and names them).
HOST_FIXTURES = {"target_host", "engine_host", "booted_hosts", "backup_server"}


def pytest_collection_modifyitems(items):
    for item in items:
        if HOST_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.boots_host)


@dataclass
class BackupServer:
    """A second server that keeps restic repositories over SFTP, as a team's backup host would.

    The deployed hosts reach it at its address on the machine's Docker bridge: both are containers
    this test session made, so nothing leaves the machine."""

    host: TestHost
    address: str
    private_key: str = field(repr=False)

    def config(self, repository: str) -> dict[str, str]:
        """The stack config that backs up into /srv/restic/<repository> on this server."""
        return {
            "backupRepository": f"sftp:restic@{self.address}:/srv/restic/{repository}",
            "backupPassword": BACKUP_PASSWORD,
            "backupSshKey": self.private_key,
            "backupSshHostKey": self.host.host_public_key,
        }

    def files(self, repository: str) -> list[str]:
        listing = self.host.exec(f"find /srv/restic/{repository} -type f", check=False).stdout
        return listing.split()


@contextmanager
def running_backup_server(images: Images, keys: Path) -> Iterator[BackupServer]:
    """A Debian 12 host prepared with the README's lines for a backup server: a `restic` user that may
    only log in with the deployments' backup key (made in `keys`)."""
    run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "pypi-index-backup", "-f", str(keys / "id")])
    with TestHost(images, suite="bookworm", load_standins=False) as host:
        host.prepare("backup-server", {"restic_key.pub": (keys / "id.pub").read_text()})
        address = docker("inspect", "--format", "{{.NetworkSettings.IPAddress}}", host.container).stdout.strip()
        yield BackupServer(host, address, (keys / "id").read_text())


@pytest.fixture(scope="session")
def backup_server(host_images: Images, tmp_path_factory) -> Iterator[BackupServer]:
    with running_backup_server(host_images, tmp_path_factory.mktemp("backup-key")) as server:
        yield server


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
