"""The program's stacks as the tests deploy them under mocks: the committed config, plus, for the remote
stacks, a host to reach, users and backups (which the committed files leave for each team to set)."""

from __future__ import annotations

from typing import Any

from tests.support.recorded import Deployment, run_program, stack_config
from tests.support.stack_values import HOST_KEY

PASSWORDS = {"ci": "ci-password-7f3a9c1e5b", "alice": "alice-password-2d8e4f6a"}
BACKUP_KEY = (
    "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA-backup-key\n-----END OPENSSH PRIVATE KEY-----\n"
)
BACKUP_PASSWORD = "restic-password-4b1e9d7c2a"
BACKUP_OVERRIDES = {
    "backupRepository": "sftp:backup@backup.internal.example:/srv/restic/pypi-index",
    "backupPassword": BACKUP_PASSWORD,
    "backupSshKey": BACKUP_KEY,
    "backupSshHostKey": HOST_KEY,
}
REMOTE_OVERRIDES = {"sshHost": "pypi.internal.example", "sshHostKey": HOST_KEY, "users": PASSWORDS, **BACKUP_OVERRIDES}


def config_for(stack: str, **overrides) -> dict[str, Any]:
    """The config the tests deploy `stack` with; `overrides` replace config values."""
    config = stack_config(stack)
    if stack != "dev":
        config.update(REMOTE_OVERRIDES)
    config.update(overrides)
    return config


def deploy(stack: str, **overrides) -> Deployment:
    """The program's registrations for `stack`; `overrides` replace config values."""
    return run_program(stack, config_for(stack, **overrides))
