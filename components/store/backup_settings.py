"""The backup settings: where restic keeps encrypted snapshots off the host, when, for how long, and
whether a new deployment starts from one.

Repositories reachable from a plain server without cloud credentials in the container's
environment: `sftp:` (a second server, its host key pinned) and `rest:` (restic's REST server over
HTTPS). Every secret (the repository password, the SSH key, a REST URL with credentials) reaches the
host as a root-only file, never an argument or an environment variable.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from ..config_reading import DOCUMENTATION_NETS, RELEASE_NUMBER, ConfigError, read_image
from ..host.keys import HostKeyError, check_host_key

# The schedules whose worst-case loss the program can state.
SCHEDULE_WORDS = ("hourly", "daily", "weekly")
# Any systemd OnCalendar time (systemd.time(7): shorthands such as monthly, weekdays, dates, times,
# ranges, repetitions, a time zone). Here only its characters are checked, which keeps it one harmless
# line of the timer unit (no newline, no `%` specifier, no quote); systemd's own parser judges it on
# the host before anything there changes (scripts.docker_bootstrap, `systemd-analyze calendar`).
SCHEDULE = re.compile(r"^[A-Za-z0-9*/:,.~_+ -]{1,64}$")
SNAPSHOT = re.compile(r"^(latest|[0-9a-f]{8}|[0-9a-f]{64})$")
KEEP_DEFAULTS = {"hourly": 24, "daily": 14, "weekly": 8, "monthly": 12}
# The config keys this section reads.
SFTP_KEYS = ("backupSshKey", "backupSshHostKey")
KEYS = (
    "backupRepository",
    "backupPassword",
    *SFTP_KEYS,
    "backupSchedule",
    *(f"backupKeep{period.capitalize()}" for period in KEEP_DEFAULTS),
    "backupImageRepository",
    "backupImageTag",
    "backupImageDigest",
    "restoreFrom",
)
MIN_PASSWORD = 16
DEFAULT_IMAGE = "restic/restic:0.18.0"
IMAGE_PREFIX = "backup"  # its keys: backupImageRepository, backupImageTag, backupImageDigest


@dataclass(frozen=True)
class SftpTarget:
    user: str
    host: str
    port: int
    path: str


@dataclass(frozen=True)
class BackupSettings:
    repository: str = field(repr=False)
    """restic's repository string (may hold REST credentials: secret)."""
    password: str = field(repr=False)
    """The repository's encryption password (secret)."""
    sftp: SftpTarget | None
    ssh_key: str | None = field(repr=False)
    """The SSH private key restic logs in to the sftp server with (secret)."""
    ssh_host_key: str | None
    """The sftp server's public host key, the only one accepted."""
    schedule: str
    """systemd OnCalendar expression."""
    keep: Mapping[str, int]
    """restic forget --keep-<period> values."""
    restore_from: str | None
    """`latest` or a snapshot id: restore into the empty store before anything serves."""
    image_ref: str
    """The pinned restic image."""

    @property
    def worst_case_loss_seconds(self) -> int | None:
        """The most a host loss can cost with this schedule (uploads since the last run), when known."""
        return {"hourly": 3600, "daily": 86400, "weekly": 604800}.get(self.schedule)


def _sftp(repository: str) -> SftpTarget:
    """`sftp:user@host:/path` or `sftp://user@host:port//path` (restic's two forms)."""
    if repository.startswith("sftp://"):
        url = urlsplit(repository)
        if not url.username or not url.hostname or not url.path.startswith("//"):
            raise ConfigError(
                "backupRepository", "an sftp:// URL without user, host or absolute path",
                "expected sftp://USER@HOST:PORT//absolute/path",
            )  # fmt: skip
        return SftpTarget(url.username, url.hostname, url.port or 22, url.path[1:])
    match = re.fullmatch(r"sftp:([A-Za-z0-9._-]+)@([A-Za-z0-9.:-]+?):(/[^\s:]*)", repository)
    if not match:
        raise ConfigError(
            "backupRepository",
            repr(repository),
            "expected sftp:USER@HOST:/absolute/path (or sftp://USER@HOST:PORT//path)",
        )
    return SftpTarget(match.group(1), match.group(2), 22, match.group(3))


def _check_not_placeholder(target: SftpTarget) -> None:
    """The committed stack files name documentation addresses (RFC 5737) until the operator sets theirs."""
    try:
        address = ipaddress.ip_address(target.host)
    except ValueError:
        return
    if any(address in net for net in DOCUMENTATION_NETS):
        raise ConfigError(
            "backupRepository",
            repr(target.host),
            "that is a documentation placeholder: set your backup server's address",
        )


def parse_backup(values: Mapping[str, Any], secret_keys: frozenset[str], production: bool) -> BackupSettings | None:
    """None when no repository is set (refused in production)."""
    repository = _text(values, "backupRepository")
    if not repository:
        if production:
            raise ConfigError(
                "backupRepository", "nothing",
                "production keeps encrypted backups off the host: set an sftp: or rest: repository "
                "(see README, Backups) and the secret backupPassword",
            )  # fmt: skip
        return None  # keys that only a repository uses are refused by settings.ONLY_USED_WITH
    # Checked in this order, so the first problem named is the same whatever else is wrong.
    sftp = _repository(repository, secret_keys)
    password = _password(values, secret_keys)
    ssh_key, ssh_host_key = _sftp_login(values, secret_keys, sftp)
    return BackupSettings(
        repository=repository,
        password=password,
        sftp=sftp,
        ssh_key=ssh_key,
        ssh_host_key=ssh_host_key,
        schedule=_schedule(values),
        keep=_retention(values),
        restore_from=_restore_from(values),
        image_ref=_image_ref(values),
    )


def _text(values: Mapping[str, Any], key: str, default: str = "") -> str:
    raw = values.get(key, default)
    if raw is None:
        return ""
    if not isinstance(raw, str):
        raise ConfigError(key, repr(raw), "expected a string")
    return raw.strip()


def _repository(repository: str, secret_keys: frozenset[str]) -> SftpTarget | None:
    """Check the repository; the sftp: login it names, if it is one."""
    if repository.startswith("sftp:"):
        sftp = _sftp(repository)
        _check_not_placeholder(sftp)
        return sftp
    if repository.startswith("rest:"):
        url = urlsplit(repository[len("rest:") :])
        if url.scheme != "https" or not url.hostname:
            raise ConfigError("backupRepository", "a rest: repository", "expected rest:https://HOST/PATH (TLS only)")
        if url.password and "backupRepository" not in secret_keys:
            raise ConfigError(
                "backupRepository", "credentials stored in clear",
                "set it with `pulumi config set --secret backupRepository rest:https://USER:PASSWORD@HOST/PATH`",
            )  # fmt: skip
        return None
    kind = repository.split(":", 1)[0] if ":" in repository else "a local path"
    raise ConfigError(
        "backupRepository", repr(kind),
        "expected sftp:USER@HOST:/path or rest:https://HOST/path (a repository off this host)",
    )  # fmt: skip


def _password(values: Mapping[str, Any], secret_keys: frozenset[str]) -> str:
    password = _text(values, "backupPassword")
    if "backupPassword" not in secret_keys and password:
        raise ConfigError(
            "backupPassword", "a value stored in clear", "set it with `pulumi config set --secret backupPassword ...`"
        )
    if len(password) < MIN_PASSWORD:
        raise ConfigError(
            "backupPassword", "(secret) nothing or a short password",
            f"the repository's password needs at least {MIN_PASSWORD} characters (keep a copy off the host: "
            "without it no snapshot can ever be read)",
        )  # fmt: skip
    return password


def _sftp_login(
    values: Mapping[str, Any], secret_keys: frozenset[str], sftp: SftpTarget | None
) -> tuple[str | None, str | None]:
    """The key restic logs in with and the repository host's pinned key (both required for sftp:)."""
    ssh_key = _text(values, "backupSshKey") or None
    ssh_host_key = _text(values, "backupSshHostKey") or None
    if sftp is None:
        return ssh_key, ssh_host_key
    if not ssh_key or "PRIVATE KEY" not in ssh_key or "backupSshKey" not in secret_keys:
        raise ConfigError(
            "backupSshKey", "(secret) nothing, not a private key, or stored in clear",
            f"an sftp: repository needs the key that logs in as {sftp.user}: "
            "`pulumi config set --secret backupSshKey < key`",
        )  # fmt: skip
    if not ssh_host_key:
        raise ConfigError(
            "backupSshHostKey",
            "nothing",
            f"pin the host key of {sftp.host} (its /etc/ssh/ssh_host_ed25519_key.pub)",
        )
    try:
        # OpenSSH verifies this one (inside the restic image), which negotiates rsa-sha2 itself.
        return ssh_key, check_host_key(ssh_host_key, allow_rsa=True)
    except HostKeyError as error:
        raise ConfigError("backupSshHostKey", repr(ssh_host_key[:40]), str(error)) from None


def _schedule(values: Mapping[str, Any]) -> str:
    schedule = _text(values, "backupSchedule", "hourly")
    if not SCHEDULE.match(schedule):
        raise ConfigError(
            "backupSchedule", repr(schedule),
            "expected a systemd OnCalendar time such as hourly, daily, monthly, 'Mon *-*-* 02:00' or '*:0/15' "
            "(letters, digits, spaces and * / : , . ~ _ + -)",
        )  # fmt: skip
    return schedule


def _retention(values: Mapping[str, Any]) -> dict[str, int]:
    keep = {}
    for period, default in KEEP_DEFAULTS.items():
        key = f"backupKeep{period.capitalize()}"
        count = values.get(key, default)
        if isinstance(count, str) and count.strip().isdigit():
            count = int(count)
        if not isinstance(count, int) or isinstance(count, bool) or not 0 <= count <= 1000:
            raise ConfigError(key, repr(count), "expected a whole number from 0 to 1000")
        keep[period] = count
    if not any(keep.values()):
        raise ConfigError("backupKeepHourly", "0 for every period", "keep at least one snapshot")
    return keep


def _restore_from(values: Mapping[str, Any]) -> str | None:
    restore_from = _text(values, "restoreFrom") or None
    if restore_from and not SNAPSHOT.match(restore_from):
        raise ConfigError("restoreFrom", repr(restore_from), "expected latest or a snapshot id (8 or 64 hex digits)")
    return restore_from


def _image_ref(values: Mapping[str, Any]) -> str:
    return read_image(
        values, IMAGE_PREFIX, DEFAULT_IMAGE, RELEASE_NUMBER, "a restic release such as 0.18.0 (latest floats)"
    ).ref
