"""The restore drill: a production index is lost with its host, and comes back on a new one.

Host A runs production with backups to the backup server (SFTP, pinned host key); packages are
uploaded and backed up; host A is destroyed entirely. Host C, a fresh machine, is deployed with the
same stack config plus `restoreFrom: latest`. Every file must come back byte for byte, clients must
keep trusting the index with the CA they already have, and the time from the start of that `up` to
every package installable is the recovery time (RTO).
"""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import pytest

from components.front.resources import pem_text
from index_client import http_get, make_wheel, pip_install, twine_upload, wait_healthy
from recorded import run_program

from .applier import Applier, ApplyError
from .commands import figure, wait_until
from .conftest import BackupServer
from .images import Images
from .machine import TestHost
from .test_deploy import production_config

USERS = {"ci": "ci-password-7f3a9c1e5b"}
PROJECTS = [("drill-alpha", "1.0.0"), ("drill-alpha", "1.1.0"), ("drill-beta", "0.3.0")]


def config(host: TestHost, backups: dict, **changes) -> dict:
    """The production stack on `host`, as the deploy scenarios configure it, with the drill's user."""
    return production_config(host, backups, imageTag="v2.4.1", users=dict(USERS), **changes)


def deploy(host: TestHost, stack_config_: dict) -> Applier:
    applier = Applier(host.private_key_path)
    applier.up(run_program("production", stack_config_))
    report_engine(applier, host)
    return applier


def report_engine(applier: Applier, host: TestHost) -> None:
    """The bootstrap's last line, `ENGINE docker <version> API <api>`, for the CI summary."""
    report = applier.outputs("docker-bootstrap")["stdout"].splitlines()[-1]
    assert report.startswith("ENGINE docker "), report
    figure(f"{report} (Debian {host.suite} host, restore drill)")


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def installable(url: str, ca: Path, work: Path, name: str) -> bool:
    exports_pip_conf = f"[global]\nindex-url = {url}/simple/\n"
    result = pip_install(
        work / "home", exports_pip_conf, "127.0.0.1", "ci", USERS["ci"], name, work / f"site-{name}", ca=ca
    )
    return result.returncode == 0


def test_restore_drill(host_images: Images, backup_server: BackupServer, tmp_path):
    backups = backup_server.config("drill")
    (tmp_path / "dist").mkdir()
    wheels = [make_wheel(tmp_path / "dist", name, version) for name, version in PROJECTS]
    ca = tmp_path / "ca-from-host-a.pem"

    # ---- host A: production with backups; packages uploaded and backed up; then the host is lost.
    with TestHost(host_images, suite="bookworm") as host_a:
        stack_a = config(host_a, backups)
        applier_a = deploy(host_a, stack_a)
        ca.write_text(pem_text(applier_a.outputs("pypi-ca")["stdout"]))
        url_a = stack_a["publicUrl"]
        for wheel in wheels:
            uploaded = twine_upload(f"{url_a}/", wheel, "ci", USERS["ci"], ca=ca)
            assert uploaded.returncode == 0, uploaded.stdout + uploaded.stderr
        host_a.ssh("sudo -n systemctl start pypiserver-backup.service", timeout=600)
        assert "verified" in host_a.ssh("pypi-index-backup-status").stdout
        schedule = stack_a.get("backupSchedule", "hourly")
    assert backup_server.files("drill"), "the snapshot lives on the backup server, not on host A"

    # ---- host C: a new machine, the same stack config plus restoreFrom.
    with TestHost(host_images, suite="trixie") as host_c:
        stack_c = config(host_c, backups, restoreFrom="latest")
        applier_c = Applier(host_c.private_key_path)
        assert host_c.images is not None
        images = host_c.images
        # No registry here: what a pull would fetch is loaded once the bootstrap has installed Docker.
        applier_c.after_create["docker-bootstrap"] = lambda: host_c.load_images(*images.standins)
        url_c = stack_c["publicUrl"]
        started = time.monotonic()
        applier_c.up(run_program("production", stack_c))
        wait_healthy(url_c, timeout=120, ca=ca)
        report_engine(applier_c, host_c)
        for name in sorted({name for name, _ in PROJECTS}):
            wait_until(f"{name} installable from host C", lambda n=name: installable(url_c, ca, tmp_path, n), 120, 1)
        rto = time.monotonic() - started

        # Byte for byte: every file, downloaded through host C's index with the CA from host A.
        identical = 0
        for wheel in wheels:
            reply = http_get(f"{url_c}/packages/{wheel.name}", "ci", USERS["ci"], timeout=30, ca=ca)
            assert reply.status == 200, (wheel.name, reply.status)
            identical += hashlib.sha256(reply.body).hexdigest() == sha256(wheel)
        figure(f"RESTORE files {identical}/{len(wheels)}, RTO {rto:.1f} s")
        window = {"hourly": "1 h", "daily": "24 h", "weekly": "7 days"}.get(schedule, schedule)
        figure(f"RESTORE worst-case data loss with backupSchedule {schedule!r}: {window} (uploads since the last run)")
        assert identical == len(wheels)
        assert pem_text(applier_c.outputs("pypi-ca")["stdout"]) == ca.read_text(), "clients keep trusting the same CA"

        # The restored store is pypiserver's to write (ownership restored with it): a new upload lands.
        after = make_wheel(tmp_path / "dist", "after-restore", "1.0")
        uploaded = twine_upload(f"{url_c}/", after, "ci", USERS["ci"], ca=ca)
        assert uploaded.returncode == 0, uploaded.stdout + uploaded.stderr
        wait_until(
            "the upload after the restore to install", lambda: installable(url_c, ca, tmp_path, "after-restore"), 60, 1
        )

        # A second restore into the store that now holds data is refused, and changes nothing.
        with pytest.raises(ApplyError, match=r"refusing to restore into pypiserver-packages: it already holds data"):
            applier_c.up(run_program("production", {**stack_c, "restoreFrom": "0123abcd"}))
        assert installable(url_c, ca, tmp_path / "again", "drill-beta")
