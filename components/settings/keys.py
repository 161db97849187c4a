"""Every config key: which are secret, and which only some modes read (a key set where it does nothing
is refused, naming the mode that uses it).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import cache
from pathlib import Path
from typing import Any

from ..config_reading import ConfigError, show
from ..host.settings import SSH_KEYS
from ..store import backup_settings
from .access import USER_KEYS
from .model import Settings

# Keys that may hold a secret: Pulumi.yaml cannot declare them (a secret cannot have a default there).
SECRET_KEYS = ("users", "sshPrivateKey", "tlsKey", "backupPassword", "backupSshKey", "backupRepository")

# Every key the program reads; Pulumi.yaml declares the same set, less SECRET_KEYS (a test keeps them in step).
KEYS = (
    "target",
    *SSH_KEYS,
    "dockerHost",
    "imageRepository",
    "imageTag",
    "imageDigest",
    "httpsPort",
    "httpPort",
    "domain",
    "tls",
    "acmeEmail",
    "tlsCertificate",
    "tlsKey",
    "maxUploadMb",
    "frontImageRepository",
    "frontImageTag",
    "frontImageDigest",
    "bindAddress",
    "publicUrl",
    "authenticate",
    "users",
    *USER_KEYS,
    "yanked",
    "projectStatus",
    "allowOverwrite",
    "fallbackUrl",
    "server",
    "memoryMb",
    "healthTimeoutSeconds",
    "protectPackages",
    "packagesVolume",
    "authVolume",
    "containerName",
    *backup_settings.KEYS,
)

# Keys that only some configurations read, with where they are read: set anywhere else, one would do
# nothing, silently, so it is refused there instead, saying where it is used.
ONLY_USED_WITH: tuple[tuple[tuple[str, ...], Callable[[Settings], bool], str], ...] = (
    (("acmeEmail",), lambda s: s.front.tls == "acme", "tls: acme"),
    (("tlsCertificate", "tlsKey"), lambda s: s.front.tls == "supplied", "tls: supplied"),
    (SSH_KEYS, lambda s: s.host.target == "ssh", "target: ssh"),
    (
        ("dockerHost",),
        lambda s: s.host.target == "local",
        "target: local (an ssh target reaches Docker through sshHost)",
    ),
    ((*USER_KEYS, "authVolume"), lambda s: bool(s.access.users), "users (and the actions they protect)"),
    (
        tuple(k for k in backup_settings.KEYS if k not in ("backupRepository", *backup_settings.SFTP_KEYS)),
        lambda s: s.store.backup is not None,
        "backupRepository",
    ),
    (
        backup_settings.SFTP_KEYS,
        lambda s: s.store.backup is not None and s.store.backup.sftp is not None,
        "an sftp: backupRepository",
    ),
)


@cache
def declared_defaults() -> Mapping[str, Any]:
    """The defaults Pulumi.yaml declares. Pulumi hands the program every declared key, with its default
    where the stack sets none: a value equal to it was not set by anyone."""
    import yaml

    project = yaml.safe_load((Path(__file__).resolve().parents[2] / "Pulumi.yaml").read_text())
    return {key: spec.get("default") for key, spec in (project.get("config") or {}).items()}


def _is_set(values: Mapping[str, Any], key: str) -> bool:
    value = values.get(key)
    if value is None or value == "" or value == [] or value == {}:
        return False
    defaults = declared_defaults()
    return key not in defaults or value != defaults[key]


def refuse_what_does_nothing(values: Mapping[str, Any], settings: Settings) -> None:
    for keys, used, where in ONLY_USED_WITH:
        if used(settings):
            continue
        for key in keys:
            if _is_set(values, key):
                shown = "(secret)" if key in SECRET_KEYS else show(values[key])
                raise ConfigError(key, shown, f"only used with {where}: remove it from this stack's config")
