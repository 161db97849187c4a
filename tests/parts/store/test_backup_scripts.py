"""Backups on the host: the restic program, its units and schedule, as shellcheck and systemd read them."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess

import pytest

from components.host import scripts as host_scripts
from components.settings import ConfigError, parse
from components.store import backup_scripts
from tests.support.deployments import REMOTE_OVERRIDES
from tests.support.index_client import BIN
from tests.support.recorded import stack_config

BACKUP = parse(
    {**stack_config("production"), **REMOTE_OVERRIDES, "backupSchedule": "*:0/15"}, "production",
    frozenset({"users", "backupPassword", "backupSshKey"}),
).store.backup  # fmt: skip


@pytest.mark.parametrize("name", ["backup", "status"])
def test_backup_programs_pass_shellcheck(name, tmp_path):
    assert BACKUP is not None
    volumes = {"packages": "pypiserver-packages", "front-data": "pypiserver-front-data"}
    text = backup_scripts.backup_program(BACKUP, volumes) if name == "backup" else backup_scripts.status_program()
    shellcheck = shutil.which("shellcheck", path=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    assert shellcheck
    path = tmp_path / name
    path.write_text(text)
    result = subprocess.run([shellcheck, "--shell=sh", "--severity=style", str(path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert subprocess.run(["sh", "-n", str(path)], capture_output=True).returncode == 0


def test_backup_units_pass_systemd_analyze_verify(tmp_path):
    assert BACKUP is not None
    program = tmp_path / "backup"
    program.write_text("#!/bin/sh\n")
    program.chmod(0o755)
    (tmp_path / "pypiserver-backup.service").write_text(backup_scripts.service_unit(str(program)))
    (tmp_path / "pypiserver-backup.timer").write_text(backup_scripts.timer_unit(BACKUP.schedule))
    analyze = shutil.which("systemd-analyze")
    assert analyze
    for unit in ("pypiserver-backup.service", "pypiserver-backup.timer"):
        result = subprocess.run([analyze, "verify", str(tmp_path / unit)], capture_output=True, text=True, cwd=tmp_path)
        assert result.returncode == 0 and not (result.stdout + result.stderr).strip(), result.stdout + result.stderr


def _schedule(schedule: str) -> str | None:
    """The schedule as the settings accept it, or None when they refuse it."""
    config = {**stack_config("production"), **REMOTE_OVERRIDES, "backupSchedule": schedule}
    try:
        parsed = parse(config, "production", frozenset({"users", "backupPassword", "backupSshKey"}))
    except ConfigError as error:
        if error.key != "backupSchedule":
            raise
        return None
    assert parsed.store.backup is not None
    return parsed.store.backup.schedule


def _host_check(schedule: str) -> subprocess.CompletedProcess:
    """The host's preflight check of the schedule, with this machine's systemd-analyze."""
    script = "set -eu\n" + backup_scripts.schedule_check(schedule) + "echo accepted\n"
    return subprocess.run(["sh", "-c", script], capture_output=True, text=True, timeout=30)


@pytest.mark.parametrize(
    "schedule",
    ["hourly", "daily", "weekly", "monthly", "quarterly", "*:0/15", "*-*-* 02:00", "Mon *-*-* 02:00",
     "Mon..Fri *-*-* 03:30", "Sat,Sun 04:00", "*-*-01 00:00:00", "*-*~01 03:00", "03:00 UTC"],
)  # fmt: skip
def test_every_schedule_systemd_accepts_is_accepted_end_to_end(schedule):
    analyze = shutil.which("systemd-analyze")
    assert analyze and subprocess.run([analyze, "calendar", schedule], capture_output=True).returncode == 0
    assert _schedule(schedule) == schedule, f"{schedule!r}: systemd accepts it, so must the settings"
    assert _host_check(schedule).returncode == 0
    assert f"OnCalendar={schedule}\n" in backup_scripts.timer_unit(schedule)


@pytest.mark.parametrize("schedule", ["Mon..Fri *-*-* 25:00", "every day", "daily-ish", "*-13-01 00:00"])
def test_a_schedule_systemd_refuses_fails_on_the_host_before_anything_changes(schedule):
    assert _schedule(schedule) == schedule, "only systemd's parser can judge it: the settings check characters"
    refused = _host_check(schedule)
    assert refused.returncode != 0 and "accepted" not in refused.stdout
    assert f"config backupSchedule: got {schedule!r}" in refused.stderr and "does not accept it" in refused.stderr


@pytest.mark.parametrize("schedule", ["daily\nExecStart=/bin/sh", "%H:00", "'daily'", "daily; reboot", "$(reboot)"])
def test_a_schedule_that_could_break_the_timer_unit_is_refused_by_the_settings(schedule):
    assert _schedule(schedule) is None, schedule


def test_the_guard_checks_the_schedule_before_it_claims_the_host_and_again_on_a_change():
    check = backup_scripts.schedule_check("Mon *-*-* 02:00")
    for guard in (host_scripts.host_guard_create, host_scripts.host_guard_update):
        script = guard("pypi-index/production", check)
        assert script.index("systemd-analyze calendar") < script.index(host_scripts.STACK_MARKER), guard.__name__
    assert "systemd-analyze" not in host_scripts.docker_bootstrap()


def test_restic_runs_without_gaining_privileges_and_sees_the_store_read_only():
    assert BACKUP is not None
    volumes = {"packages": "pypiserver-packages", "front-data": "pypiserver-front-data"}
    words = shlex.split(backup_scripts.restic_container(BACKUP, volumes, True, "true"))
    assert words[:5] == ["docker", "run", "--rm", "--security-opt", "no-new-privileges:true"]
    mounts = [words[i + 1] for i, word in enumerate(words) if word == "--mount"]
    assert all(m.endswith(",readonly") for m in mounts if "pypiserver-packages" in m or "front-data" in m), mounts
