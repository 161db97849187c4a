"""What backups and restores send to the host, as pure functions (checked by shellcheck and
systemd-analyze in the tests).

restic runs in its pinned image, with the package volume and the front server's data volume mounted
read-only (backup) or into the empty store (restore). Its secrets are root-only files in SECRETS_DIR,
mounted read-only into the container and named by *_FILE variables: never an argument or an
environment value (which `docker inspect` would show).
"""

from __future__ import annotations

import base64
import shlex
from collections.abc import Mapping

from .backup_settings import BackupSettings
from .labels import FRONT_DATA_ROLE, PACKAGES_ROLE

SECRETS_DIR = "/etc/pypi-index/backup"
STATE_DIR = "/var/lib/pypi-index"
STATUS_FILE = f"{STATE_DIR}/backup-status"
PROGRAM = "/usr/local/lib/pypi-index/backup"
STATUS_PROGRAM = "/usr/local/bin/pypi-index-backup-status"
SERVICE = "pypiserver-backup"
SOON = f"{SERVICE}-soon"  # the units that back up soon after a change to the store (backup_units.py)
SOON_SECONDS = 30
# How the timer is switched on (install): the policy pack's backups-scheduled rule looks for this text.
ENABLE_TIMER = f"systemctl enable --now {SERVICE}.timer"
CACHE_VOLUME = "pypiserver-backup-cache"
HOST_TAG = "pypi-index"
# Where the volumes appear inside restic's container: the paths every snapshot holds. Neither exists
# in the image, so Docker copies nothing into an empty volume (see store/mounts.py). Written out, not
# derived from the roles: every snapshot ever taken holds these paths, and a restore looks for them.
MOUNTS = {PACKAGES_ROLE: "/backup/packages", FRONT_DATA_ROLE: "/backup/front-data"}


def secret_bundle(backup: BackupSettings) -> str:
    """The secret files, one `NAME BASE64` line each (the stdin of `write_secrets`)."""
    files: dict[str, str] = {"password": backup.password, "repository": backup.repository}
    if backup.sftp is not None:
        # OpenSSH refuses a private key file whose last line lacks its newline ("error in libcrypto").
        key = backup.ssh_key or ""
        files["ssh_key"] = key if key.endswith("\n") else key + "\n"
        pattern = backup.sftp.host if backup.sftp.port == 22 else f"[{backup.sftp.host}]:{backup.sftp.port}"
        files["known_hosts"] = f"{pattern} {backup.ssh_host_key}\n"
    return "".join(f"{name} {base64.b64encode(text.encode()).decode()}\n" for name, text in files.items())


def write_secrets() -> str:
    """Read `secret_bundle` from stdin into root-only files, each replaced atomically."""
    directory = shlex.quote(SECRETS_DIR)
    return f"""set -eu
sudo -n install -d -m 0700 -o root -g root {directory}
while read -r name data; do
  case "$name" in password|repository|ssh_key|known_hosts) ;; *) echo "unexpected secret file $name" >&2; exit 1 ;; esac
  printf '%s' "$data" | base64 -d | sudo -n sh -c "umask 077; cat > {directory}/$name.new"
  sudo -n mv -f {directory}/"$name.new" {directory}/"$name"
done
echo "backup secrets in {SECRETS_DIR}"
"""


def remove_secrets() -> str:
    """On destroy: the repository's password, the SFTP key, its host key and the repository's address
    leave the host. The repository itself is elsewhere and stays (keep its password off the host too)."""
    return f"""set -eu
sudo -n rm -rf {shlex.quote(SECRETS_DIR)}
echo "backup secrets removed from {SECRETS_DIR} (the repository is kept where it is)"
"""


def restic_options(backup: BackupSettings) -> list[str]:
    """restic's global options: for sftp, an ssh that knows the pinned host key and the key file only."""
    if backup.sftp is None:
        return []
    sftp = backup.sftp
    ssh = [
        "ssh", "-i", "/secrets/ssh_key", "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes",
        "-o", "StrictHostKeyChecking=yes", "-o", "UserKnownHostsFile=/secrets/known_hosts",
        "-o", "GlobalKnownHostsFile=/dev/null", "-o", "ConnectTimeout=30", "-p", str(sftp.port),
        f"{sftp.user}@{sftp.host}", "-s", "sftp",
    ]  # fmt: skip
    return ["-o", "sftp.command=" + " ".join(ssh)]


def restic_container(
    backup: BackupSettings, volumes: Mapping[str, str], read_only: bool, inner: str, name: str = SERVICE
) -> str:
    """`docker run` of the restic image with the secrets and the volumes, running `inner` (sh), as the
    container `name`. Each caller has its own name: a deploy's step may run while the timer's backup
    does (a changed connection runs the repository step again; seen at the top of an hour), and two
    containers cannot share one. restic's own repository locks order what they do there."""
    ro = ",readonly" if read_only else ""
    mounts = [
        f"type=bind,source={SECRETS_DIR},target=/secrets,readonly",
        f"type=volume,source={CACHE_VOLUME},target=/cache",
    ]
    mounts += [f"type=volume,source={volumes[role]},target={path}{ro}" for role, path in MOUNTS.items()]
    # Nothing in restic or its ssh client needs to gain privileges (no setuid helper is used).
    words = ["docker", "run", "--rm", "--security-opt", "no-new-privileges:true", "--name", name]
    for mount in mounts:
        words += ["--mount", mount]
    words += [
        "--env", "RESTIC_REPOSITORY_FILE=/secrets/repository", "--env", "RESTIC_PASSWORD_FILE=/secrets/password",
        "--env", "RESTIC_CACHE_DIR=/cache", "--entrypoint", "/bin/sh", backup.image_ref, "-c", inner,
    ]  # fmt: skip
    return shlex.join(words)


def _restic(backup: BackupSettings, *args: str) -> str:
    return shlex.join(["restic", *restic_options(backup), *args])


def backup_program(backup: BackupSettings, volumes: Mapping[str, str]) -> str:
    """One backup run: snapshot, apply retention, verify the repository, then record the good run.

    A run that fails anywhere exits non-zero (the unit fails and the journal says why) and leaves the
    last good run's record as it was.
    """
    keep = [f"--keep-{period}={count}" for period, count in backup.keep.items() if count]
    inner = " && ".join(
        [
            "set -eu",
            _restic(backup, "backup", "--host", HOST_TAG, "--tag", HOST_TAG, *MOUNTS.values()),
            _restic(backup, "forget", "--host", HOST_TAG, "--tag", HOST_TAG, "--prune", *keep),
            # Structure, plus a random 5 % of the stored data read back and decrypted each run.
            _restic(backup, "check", "--read-data-subset=5%"),
        ]
    )
    status, tmp = shlex.quote(STATUS_FILE), shlex.quote(STATUS_FILE + ".new")
    return f"""#!/bin/sh
# Written by pypi-index (components/store/backup_scripts.py); run by {SERVICE}.service.
set -eu
log=$(mktemp)
trap 'rm -f "$log"' EXIT
started=$(date -u +%s)
if ! {restic_container(backup, volumes, True, inner)} >"$log" 2>&1; then
  cat "$log"
  echo "backup failed; the last good one is still: $(cat {status} 2>/dev/null || echo none)" >&2
  exit 1
fi
cat "$log"
snapshot=$(sed -n 's/^snapshot \\([0-9a-f]\\{{8,\\}}\\) saved$/\\1/p' "$log" | tail -n 1)
mkdir -p {shlex.quote(STATE_DIR)}
printf 'last good backup %s epoch %s snapshot %s verified\\n' "$(date -u -d "@$started" +%Y-%m-%dT%H:%M:%SZ)" "$started" "${{snapshot:-?}}" > {tmp}
mv -f {tmp} {status}
cat {status}
{rearm(volumes[PACKAGES_ROLE])}"""


def rearm(packages_volume: str) -> str:
    """After a good run: a file the store gained or changed while it ran may have missed its snapshot,
    and the units could not ask for it then (backup_units.py): arm the soon timer again."""
    volume = shlex.quote(packages_volume)
    return f"""store=$(docker volume inspect --format '{{{{.Mountpoint}}}}' {volume})
if [ -n "$(find "$store" -maxdepth 1 -newermt "@$started" -print -quit)" ]; then
  echo "the store changed during this backup: another one in {SOON_SECONDS} s"
  systemctl start --no-block {SOON}.timer
fi
"""


def status_program() -> str:
    """`pypi-index-backup-status`: when the last good backup ran, how old it is, when the next runs."""
    status = shlex.quote(STATUS_FILE)
    return f"""#!/bin/sh
# Written by pypi-index (components/store/backup_scripts.py): when did the last good backup run?
set -u
if [ -r {status} ]; then
  line=$(cat {status})
  epoch=$(printf '%s\\n' "$line" | sed -n 's/.* epoch \\([0-9]*\\) .*/\\1/p')
  echo "$line (age $(( $(date -u +%s) - ${{epoch:-0}} )) s)"
else
  echo "no good backup has run yet"
fi
systemctl list-timers --no-pager {SERVICE}.timer
[ -r {status} ]
"""


def init_repository(backup: BackupSettings, volumes: Mapping[str, str]) -> str:
    """Create the repository unless it exists. Its stdin is the repository (secret), so a new
    repository runs this again; the text itself is discarded."""
    inner = f"{_restic(backup, 'cat', 'config')} >/dev/null 2>&1 || {_restic(backup, 'init')}"
    return f"""set -eu
cat >/dev/null
{restic_container(backup, volumes, True, inner, f"{SERVICE}-init")}
echo "restic repository ready"
"""


def restore(backup: BackupSettings, volumes: Mapping[str, str]) -> str:
    """Fill the empty store from a snapshot before anything serves; refuse a store that holds data."""
    snapshot = backup.restore_from or "latest"
    check = []
    for role in MOUNTS:
        volume = shlex.quote(volumes[role])
        check.append(
            f"held=$(docker run --rm --network none --mount type=volume,source={volume},target=/v "
            f"--entrypoint /bin/sh {shlex.quote(backup.image_ref)} -c 'ls -A /v | head -n 3')\n"
            f'if [ -n "$held" ]; then\n'
            f'  echo "refusing to restore into {volumes[role]}: it already holds data ($held). restoreFrom fills an"'
            f' "empty store only: unset restoreFrom, or remove the volume if its data is to be replaced" >&2\n'
            "  exit 1\n"
            "fi"
        )
    inner = _restic(backup, "restore", snapshot, "--host", HOST_TAG, "--tag", HOST_TAG, "--target", "/")
    marker, spec = shlex.quote(f"{STATE_DIR}/restored"), shlex.quote(snapshot)
    # Done once: a later run of this step (new program text, a reconnect) finds its own record and
    # changes nothing; a different restoreFrom meets the non-empty store and is refused.
    return (
        f"""set -eu
if [ "$(cat {marker} 2>/dev/null || true)" = {spec} ]; then
  echo "snapshot {snapshot} was restored here before: nothing to do"
  exit 0
fi
"""
        + "\n".join(check)
        + f"""
{restic_container(backup, volumes, False, inner, f"{SERVICE}-restore")}
sudo -n install -d -m 0755 {shlex.quote(STATE_DIR)}
printf '%s\\n' {spec} | sudo -n tee {marker} >/dev/null
echo "restored snapshot {snapshot} into {", ".join(volumes[role] for role in MOUNTS)}"
"""
    )


def schedule_check(schedule: str) -> str:
    """The schedule judged by the host's own systemd, for the host's preflight (before anything on the
    host changes; scripts.host_guard_create)."""
    return calendar_check("backupSchedule", schedule)


def calendar_check(key: str, expression: str) -> str:
    """Refuse a systemd calendar time that this host's systemd does not accept, naming the key and
    quoting systemd's own complaint (its parser is the only complete judge of OnCalendar)."""
    quoted = shlex.quote(expression)
    return f"""if ! problem=$(systemd-analyze calendar -- {quoted} 2>&1 >/dev/null); then
  echo "config {key}: got "{shlex.quote(repr(expression))}"; systemd on $(hostname) does not accept it as an" \\
    "OnCalendar time: $problem (see systemd.time(7))" >&2
  exit 1
fi
"""
