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

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_docker as docker

from ..scope import Scope
from . import backup_scripts
from .backup_settings import BackupSettings


def preflight_checks(backup: BackupSettings | None) -> list[str]:
    """What the host must accept before anything on it changes: the schedule, judged by its own systemd
    (handed to the host's preflight; the host part knows nothing of backups)."""
    return [backup_scripts.schedule_check(backup.schedule)] if backup else []


@dataclass(frozen=True)
class BackupArgs:
    settings: BackupSettings
    volumes: Mapping[str, str]
    """What is backed up, by role (backup_scripts.MOUNTS): the Docker names of the packages and of the
    front server's data."""
    stored: Sequence[docker.Volume]
    """Those volumes, which must exist before the repository is initialised or restored into."""


class Backup(pulumi.ComponentResource):
    ready: list[pulumi.Resource]
    """What must exist before a container starts: the restored store, when restoring."""
    schedule: pulumi.Resource
    """The installed timer."""

    def __init__(self, scope: Scope, args: BackupArgs):
        super().__init__("pypiserver:index:Backup", scope.child_name("backup"), None, scope.opts())
        scope = scope.part(self)
        backup = args.settings
        volumes, stored = args.volumes, list(args.stored)
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
            depends_on=[image, secrets, *stored],
            # A new repository changes the stdin, so the step runs again and initialises it.
            stdin=pulumi.Output.secret(backup.repository),
            secret=True,
        )
        self.ready = []
        if backup.restore_from:
            self.ready.append(
                scope.step("restore", backup_scripts.restore(backup, volumes), depends_on=[repository, *stored])
            )
        self.schedule = scope.step(
            "backup-units",
            backup_scripts.install(backup, volumes),
            depends_on=[repository, *self.ready],
            delete=backup_scripts.uninstall(),
        )
        self.register_outputs({})
