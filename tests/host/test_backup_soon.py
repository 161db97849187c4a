"""Backups within a minute of each upload (RPO), by systemd's own units (store/backup_units.py), on a
real host through the real engine: a backup starts about 30 s after an upload, a burst of uploads
gives one backup, an upload made while a backup runs gets one of its own afterwards, and the
schedule's timer stays. Prints `RPO backup started <s> s after an upload`."""

from __future__ import annotations

import re
import time

from tests.support.index_client import make_wheel, upload

from .commands import figure, wait_until
from .conftest import BackupServer
from .deploys import Site, SshAgent, new_site
from .images import Images
from .machine import TestHost

USERS = {"ci": "ci-password-7f3a9c1e5b"}
SAVED = re.compile(r"^snapshot [0-9a-f]{8,} saved$", re.MULTILINE)


def good_runs(site: Site) -> int:
    """Backup runs that saved a snapshot, from the service's journal."""
    journal = site.host.ssh("sudo -n journalctl -u pypiserver-backup.service -o cat --no-pager").stdout
    return len(SAVED.findall(journal))


def backup_state(site: Site) -> str:
    return site.host.ssh("systemctl show -p ActiveState --value pypiserver-backup.service").stdout.strip()


def last_start_monotonic(site: Site) -> float:
    """When the backup service last started, on the kernel's monotonic clock (the test host is a
    container on this machine's kernel: the same clock as time.monotonic() here)."""
    usec = site.host.ssh("systemctl show -p ExecMainStartTimestampMonotonic --value pypiserver-backup.service")
    return int(usec.stdout.strip()) / 1e6


def quiet(site: Site) -> bool:
    """No backup running and none armed."""
    soon = site.host.ssh("systemctl is-active pypiserver-backup-soon.timer", check=False).stdout.strip()
    return backup_state(site) in ("inactive", "failed") and soon != "active"


def test_a_backup_starts_within_a_minute_of_an_upload(host_images: Images, backup_server: BackupServer, tmp_path):
    (tmp_path / "dist").mkdir()
    wheels = [make_wheel(tmp_path / "dist", f"soon-{n}", "1.0") for n in range(7)]
    agent = SshAgent()
    try:
        with TestHost(host_images, suite="bookworm") as host:
            site = new_site(host, agent, tmp_path / "site", backup_server.config("soon"), users=dict(USERS))
            site.deploy()
            url = site.config["publicUrl"]
            assert "pypiserver-backup.timer" in host.ssh("systemctl list-timers --no-pager").stdout, "hourly stays"
            assert host.ssh("systemctl is-active pypiserver-backup-soon.path").stdout.strip() == "active"
            wait_until("no backup running or armed after the deploy", lambda: quiet(site), 300, 2)
            before = good_runs(site)

            # A burst: five uploads, one after another, then one backup.
            uploaded_at = time.monotonic()
            for wheel in wheels[:5]:
                assert upload(f"{url}/", wheel, "ci", USERS["ci"], ca=site.ca).status == 200, wheel.name
            burst_done = time.monotonic()
            wait_until("a backup after the burst", lambda: good_runs(site) > before, 240, 2)
            rpo = last_start_monotonic(site) - uploaded_at
            figure(
                f"RPO backup started {rpo:.1f} s after an upload (a burst of 5 uploads in {burst_done - uploaded_at:.1f} s)"
            )
            assert rpo <= 60, rpo
            assert last_start_monotonic(site) > burst_done, "the run began after the last upload was stored"
            time.sleep(45)  # longer than the soon timer: a second run would have started by now
            assert good_runs(site) == before + 1, "one backup for the burst"

            # An upload while a backup runs: that run may miss it, so another follows by itself.
            assert upload(f"{url}/", wheels[5], "ci", USERS["ci"], ca=site.ca).status == 200
            wait_until("the next backup to start", lambda: backup_state(site) == "activating", 120, 0.2)
            assert upload(f"{url}/", wheels[6], "ci", USERS["ci"], ca=site.ca).status == 200
            during = time.monotonic()
            wait_until("a backup after the one running", lambda: good_runs(site) >= before + 3, 300, 2)
            assert last_start_monotonic(site) > during, "the last run began after the upload made during the one before"
            journal = host.ssh("sudo -n journalctl -u pypiserver-backup.service -o cat --no-pager").stdout
            assert "the store changed during this backup: another one in 30 s" in journal
            assert "last good backup" in host.ssh("pypi-index-backup-status").stdout
    finally:
        agent.close()
