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

from tests.support.engine import expect_failure
from tests.support.index_client import http_get, make_wheel, pip_install, twine_upload, wait_healthy

from .commands import figure, wait_until
from .conftest import BackupServer
from .deploys import Site, SshAgent, destroyed, new_site
from .images import Images
from .machine import TestHost

USERS = {"ci": "ci-password-7f3a9c1e5b"}
PROJECTS = [("drill-alpha", "1.0.0"), ("drill-alpha", "1.1.0"), ("drill-beta", "0.3.0")]


def drill_site(host: TestHost, agent: SshAgent, work: Path, backups: dict, **changes) -> Site:
    """The production stack on `host`, as the deploy scenarios configure it, with the drill's user."""
    return new_site(host, agent, work, backups, imageTag="v2.4.1", users=dict(USERS), **changes)


def report_engine(site: Site) -> None:
    """The bootstrap's last line, `ENGINE docker <version> API <api>`, for the CI summary."""
    report = site.bootstrap_report()
    assert report.startswith("ENGINE docker "), report
    figure(f"{report} ({site.host.suite} host, restore drill)")


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
    agent = SshAgent()
    try:
        # ---- host A: production with backups; packages uploaded and backed up; then the host is lost.
        with TestHost(host_images, suite="bookworm") as host_a:
            site_a = drill_site(host_a, agent, tmp_path / "a", backups)
            site_a.deploy()
            report_engine(site_a)
            ca.write_text(site_a.ca.read_text())
            url_a = site_a.config["publicUrl"]
            for wheel in wheels:
                uploaded = twine_upload(f"{url_a}/", wheel, "ci", USERS["ci"], ca=ca)
                assert uploaded.returncode == 0, uploaded.stdout + uploaded.stderr
            host_a.ssh("sudo -n systemctl start pypiserver-backup.service", timeout=600)
            assert "verified" in host_a.ssh("pypi-index-backup-status").stdout
            schedule = site_a.config.get("backupSchedule", "hourly")
        assert backup_server.files("drill"), "the snapshot lives on the backup server, not on host A"

        # ---- host C: a new machine (no Docker yet), the same stack config plus restoreFrom, a new stack
        # state (host A's went with it).
        with TestHost(host_images, suite="trixie") as host_c:
            site_c = drill_site(host_c, agent, tmp_path / "c", backups, restoreFrom="latest")
            with destroyed(site_c):
                url_c = site_c.config["publicUrl"]
                started = time.monotonic()
                site_c.deploy()
                wait_healthy(url_c, timeout=120, ca=ca)
                report_engine(site_c)
                for name in sorted({name for name, _ in PROJECTS}):
                    wait_until(
                        f"{name} installable from host C", lambda n=name: installable(url_c, ca, tmp_path, n), 120, 1
                    )
                rto = time.monotonic() - started

                # Byte for byte: every file, downloaded through host C's index with the CA from host A.
                identical = 0
                for wheel in wheels:
                    reply = http_get(f"{url_c}/packages/{wheel.name}", "ci", USERS["ci"], timeout=30, ca=ca)
                    assert reply.status == 200, (wheel.name, reply.status)
                    identical += hashlib.sha256(reply.body).hexdigest() == sha256(wheel)
                figure(f"RESTORE files {identical}/{len(wheels)}, RTO {rto:.1f} s")
                window = {"hourly": "1 h", "daily": "24 h", "weekly": "7 days"}.get(schedule, schedule)
                figure(
                    f"RESTORE worst-case data loss with backupSchedule {schedule!r}: {window} (uploads since the last run)"
                )
                assert identical == len(wheels)
                assert site_c.ca.read_text() == ca.read_text(), "clients keep trusting the same CA"

                # The restored store is pypiserver's to write (ownership restored with it): a new upload lands.
                after = make_wheel(tmp_path / "dist", "after-restore", "1.0")
                uploaded = twine_upload(f"{url_c}/", after, "ci", USERS["ci"], ca=ca)
                assert uploaded.returncode == 0, uploaded.stdout + uploaded.stderr
                wait_until(
                    "the upload after the restore to install",
                    lambda: installable(url_c, ca, tmp_path, "after-restore"),
                    60,
                    1,
                )

                # Leaving restoreFrom set is harmless: the next `up` changes nothing and keeps the upload.
                result = site_c.stack.up()
                assert set(result.summary.resource_changes or {}) == {"same"}, result.summary.resource_changes
                assert installable(url_c, ca, tmp_path / "kept", "after-restore")

                # A second restore into the store that now holds data is refused, and changes nothing.
                site_c.configure(restoreFrom="0123abcd")
                said = expect_failure(site_c.stack.up)
                assert "refusing to restore into pypiserver-packages: it already holds data" in said, said[-3000:]
                assert installable(url_c, ca, tmp_path / "again", "drill-beta")
    finally:
        agent.close()
