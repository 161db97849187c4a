"""The store's section of the settings: the Docker names of the package and credentials volumes,
whether the store is protected, and its backups (backup_settings.py)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..config_reading import ConfigError, read_bool, read_docker_name
from .backup_settings import BackupSettings, parse_backup

# The package volume's Docker name unless packagesVolume says otherwise (the policy pack's default too).
PACKAGES_VOLUME = "pypiserver-packages"


@dataclass(frozen=True)
class StoreSettings:
    packages_volume: str
    auth_volume: str
    protect_packages: bool
    """Protected and retained: no `pulumi destroy` or replacement removes the packages (always in production)."""
    backup: BackupSettings | None
    """Scheduled encrypted off-host backups (required in production), or None."""


def parse_store(values: Mapping[str, Any], secret_keys: frozenset[str], production: bool, target: str) -> StoreSettings:
    protect_packages = read_bool(values, "protectPackages", True)
    if production and not protect_packages:
        raise ConfigError("protectPackages", "false", "production always protects and retains the package volume")
    backup = parse_backup(values, secret_keys, production)
    if backup is not None and target != "ssh":
        raise ConfigError("backupRepository", "(set)", "backups run under systemd on a remote host: target ssh")
    return StoreSettings(
        packages_volume=read_docker_name(values, "packagesVolume", PACKAGES_VOLUME),
        auth_volume=read_docker_name(values, "authVolume", "pypiserver-auth"),
        protect_packages=protect_packages,
        backup=backup,
    )
