"""The backup's systemd units, and the step that installs them: the service that runs one backup, the
schedule's timer (hourly by default), and a backup soon after each change to the store.

**Soon after each change** (RPO about half a minute), by systemd alone:
- `pypiserver-backup-soon.path` watches the package volume's folder on the host (`PathChanged=`: an
  upload's file closed after writing, a file created, renamed or removed; systemd.path(5)) and starts
- `pypiserver-backup-soon.timer`, which elapses SOON_SECONDS after it was started (`OnActiveSec=`).
  Starting a timer that is already waiting changes nothing, so a burst of uploads gives one backup,
  SOON_SECONDS after its first. `RemainAfterElapse=no` makes the elapsed timer inactive again, so the
  next change arms it anew (src/core/timer.c, timer_enter_elapsed: otherwise it stays "elapsed" and a
  start is a no-op for ever). It starts
- `pypiserver-backup-soon.service`, which only asks for `pypiserver-backup.service` and ends at once:
  a timer stays active while the unit it triggered runs (timer_enter_running ... timer_trigger_notify),
  so if it triggered the backup itself, a change during a backup could not arm it.
A change made while a backup runs may miss that snapshot, and asking for the running backup again is
merged into it (one start job per unit): so the backup program, once it succeeded, looks for files
newer than its start and arms the timer again (backup_scripts.rearm).

The path unit's trigger limit is off (`TriggerLimitIntervalSec=0`): by default 200 triggers in 2 s put
it in a failed state that watches nothing any more (systemd.path(5), TriggerLimitBurst=), and each
file closed is a trigger, while starting a waiting timer costs nothing.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping

from .backup_scripts import (
    ENABLE_TIMER,
    PROGRAM,
    SERVICE,
    SOON,
    SOON_SECONDS,
    STATUS_PROGRAM,
    backup_program,
    status_program,
)
from .backup_settings import BackupSettings
from .labels import PACKAGES_ROLE

# The path unit names the volume's folder on the host, which only the host's Docker knows (its
# data-root): the install step puts it in place of this mark.
STORE_MARK = "@STORE@"
UNIT_DIR = "/etc/systemd/system"


def service_unit(program: str = PROGRAM) -> str:
    return f"""\
[Unit]
Description=pypi-index backup (restic): the packages and the front server's CA, off the host
Requires=docker.service
After=docker.service network-online.target
Wants=network-online.target

[Service]
Type=oneshot
ExecStart={program}
"""


def timer_unit(schedule: str) -> str:
    return f"""\
[Unit]
Description=pypi-index backups on schedule ({schedule})

[Timer]
OnCalendar={schedule}
Persistent=true
RandomizedDelaySec=60

[Install]
WantedBy=timers.target
"""


def soon_path_unit(store: str = STORE_MARK) -> str:
    return f"""\
[Unit]
Description=pypi-index: watch the package store, for a backup soon after it changes

[Path]
PathChanged={store}
Unit={SOON}.timer
TriggerLimitIntervalSec=0

[Install]
WantedBy=multi-user.target
"""


def soon_timer_unit() -> str:
    return f"""\
[Unit]
Description=pypi-index: a backup {SOON_SECONDS} s after the store first changed (one for a burst)

[Timer]
OnActiveSec={SOON_SECONDS}s
AccuracySec=1s
RemainAfterElapse=no
Unit={SOON}.service
"""


def soon_service_unit() -> str:
    return f"""\
[Unit]
Description=pypi-index: ask for a backup (the store changed)

[Service]
Type=oneshot
ExecStart=systemctl start --no-block {SERVICE}.service
"""


def install(backup: BackupSettings, volumes: Mapping[str, str]) -> str:
    """Install the programs and units, enable the schedule's timer and the store's watch. Never runs a
    backup itself."""
    files = {
        PROGRAM: (backup_program(backup, volumes), "0755"),
        STATUS_PROGRAM: (status_program(), "0755"),
        f"{UNIT_DIR}/{SERVICE}.service": (service_unit(), "0644"),
        f"{UNIT_DIR}/{SERVICE}.timer": (timer_unit(backup.schedule), "0644"),
        f"{UNIT_DIR}/{SOON}.path": (soon_path_unit(), "0644"),
        f"{UNIT_DIR}/{SOON}.timer": (soon_timer_unit(), "0644"),
        f"{UNIT_DIR}/{SOON}.service": (soon_service_unit(), "0644"),
    }
    parts = [
        "set -eu",
        "tmp=$(mktemp)",
        "trap 'rm -f \"$tmp\"' EXIT",
        f"store=$(docker volume inspect --format '{{{{.Mountpoint}}}}' {shlex.quote(volumes[PACKAGES_ROLE])})",
        "sudo -n install -d -m 0755 /usr/local/lib/pypi-index",
    ]
    for path, (text, mode) in files.items():
        parts += [
            f'sed "s|{STORE_MARK}|$store|" > "$tmp" <<\'FILE\'\n{text}FILE',
            f'sudo -n install -m {mode} -o root -g root "$tmp" {path}',
        ]
    parts += [
        "sudo -n systemctl daemon-reload",
        f"sudo -n {ENABLE_TIMER}",
        # restart: a changed path unit (another volume) watches its new folder at once.
        f"sudo -n systemctl enable {SOON}.path && sudo -n systemctl restart {SOON}.path",
        f'echo "{SERVICE}.timer: $(systemctl show -p NextElapseUSecRealtime --value {SERVICE}.timer)"',
        f'echo "{SOON}.path: a backup {SOON_SECONDS} s after a change to $store"',
    ]
    return "\n".join(parts) + "\n"


def uninstall() -> str:
    units = " ".join(f"{UNIT_DIR}/{name}" for name in (f"{SERVICE}.service", f"{SERVICE}.timer", *_soon_units()))
    return f"""set -eu
sudo -n systemctl disable --now {SERVICE}.timer {SOON}.path 2>/dev/null || true
sudo -n systemctl stop {SOON}.timer 2>/dev/null || true
sudo -n rm -f {units} {PROGRAM} {STATUS_PROGRAM}
sudo -n systemctl daemon-reload
echo "backup units removed (the repository is kept)"
"""


def _soon_units() -> tuple[str, ...]:
    return (f"{SOON}.path", f"{SOON}.timer", f"{SOON}.service")
