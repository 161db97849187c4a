"""Backups and restore: encrypted restic snapshots of the package store and the front server's data,
kept off the host, on a systemd timer; and a new deployment that starts from one.

Why restic: encrypted and deduplicated (an hourly snapshot of an unchanged store costs almost
nothing), retention policies (`forget --prune`), a real verification (`check`), and repositories on
the kinds of storage a team has (sftp on a second server, its REST server, S3 and others), in one
pinned static binary with an official image. Our own scripts would have none of that tested.

What is backed up is what cannot be re-created from config: the package volume and the front
server's data volume (its CA: losing it means every client must trust a new one). Credentials and
pages are re-created by `pulumi up` from config and the packages.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from ..scope import Scope
from . import backup_scripts, backup_units
from .backup_settings import BackupSettings
from .labels import FRONT_DATA_ROLE, PACKAGES_ROLE
from .volumes import Store, front_data_volume


@dataclass(frozen=True)
class Backup:
    ready: list[pulumi.Resource]
    """What must exist before a container starts: the restored store, when restoring."""
    schedule: pulumi.Resource
    """The installed timer."""


def volumes_of(scope: Scope, packages_volume: str) -> dict[str, str]:
    """What is backed up, by role (backup_scripts.MOUNTS): the Docker names of the packages and the front
    server's data."""
    return {PACKAGES_ROLE: packages_volume, FRONT_DATA_ROLE: front_data_volume(scope)}


def declare_backup(scope: Scope, backup: BackupSettings, packages_volume: str, store: Store) -> Backup:
    """`packages_volume`: the package volume's Docker name (the store section's)."""
    volumes = volumes_of(scope, packages_volume)
    image = scope.image("backup-image", backup.image_ref)
    secrets = scope.step(
        "backup-secrets",
        backup_scripts.write_secrets(),
        depends_on=scope.ready,
        stdin=pulumi.Output.secret(backup_scripts.secret_bundle(backup)),
        secret=True,
        # Deleted after the units and steps that read them (they depend on it).
        delete=backup_scripts.remove_secrets(),
    )
    repository = scope.step(
        "backup-repository",
        backup_scripts.init_repository(backup, volumes),
        depends_on=[image, secrets, store.packages, store.front_data],
        # A new repository changes the stdin, so the step runs again and initialises it.
        stdin=pulumi.Output.secret(backup.repository),
        secret=True,
    )
    ready: list[pulumi.Resource] = []
    if backup.restore_from:
        ready.append(
            scope.step(
                "restore",
                backup_scripts.restore(backup, volumes),
                depends_on=[repository, store.packages, store.front_data],
            )
        )
    schedule = scope.step(
        "backup-units",
        backup_units.install(backup, volumes),
        depends_on=[repository, *ready],
        delete=backup_units.uninstall(),
    )
    return Backup(ready, schedule)
