"""What keeps the packages: package-volume-protected, and the stack rule backups-scheduled."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from policy.program_facts import ENABLE_TIMER
from policy.subjects import REMOTE_COMMAND, UNKNOWN, VOLUME, Subject, describe, is_packages_volume


def package_volume_protected(subject: Subject) -> list[str]:
    """The package volume is `protect`ed (and `retainOnDelete`, where the engine lets a policy see it)."""
    resource_type, name, props, options, config = (
        subject.resource_type,
        subject.name,
        subject.props,
        subject.options,
        subject.config,
    )
    if resource_type != VOLUME or not is_packages_volume(props, config):
        return []
    label = describe(resource_type, name)
    fix = "pulumi config set protectPackages true (protects and retains the package volume)"
    problems = []
    if not options.protect:
        problems.append(
            f"{label} holds the packages but is not protected: destroy or a replacement would delete them; {fix}"
        )
    if options.retain_on_delete is False:
        problems.append(f"{label} holds the packages but is not retained on delete; {fix}")
    return problems


def backups_scheduled(
    resources: Sequence[tuple[str, str, Mapping[str, Any]]], config: Mapping[str, Any] | None = None
) -> list[str]:
    """A package store on a remote host has an off-host backup on a schedule: a step that enables the
    backup timer (components/store/backup_scripts.py, `install`). `resources`: (type, name, inputs)."""
    volumes = [name for kind, name, props in resources if kind == VOLUME and is_packages_volume(props, config)]
    commands = [props for kind, _, props in resources if kind == REMOTE_COMMAND]
    if not volumes or not commands:
        return []  # nothing kept, or the local engine (dev): no systemd to run a timer
    for props in commands:
        create = props.get("create")
        if create is UNKNOWN or (isinstance(create, str) and ENABLE_TIMER in create):
            return []
    return [
        f"{describe(VOLUME, volumes[0])} holds the packages on a remote host with no scheduled backup: a lost "
        "host loses every package. Set backupRepository and the secrets backupPassword (and backupSshKey "
        "with backupSshHostKey for sftp:): see README, Backups and restore"
    ]
