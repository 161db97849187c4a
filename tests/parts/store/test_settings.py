"""The store section (store/settings.py, backup_settings.py): volumes, protection, backups. Every bad value
is refused naming the key."""

from __future__ import annotations

import pytest

from components.settings import ConfigError, parse
from tests.support.stack_values import BACKUP, SECRETS, refusals, remote

# (stack, config, key named in the error, a fragment of what is accepted)
BAD = [
    ("production", remote(backupRepository=None), "backupRepository", "production keeps encrypted backups off"),
    ("staging", remote(backupRepository="s3:s3.amazonaws.com/b"), "backupRepository", "expected sftp:USER@HOST:/path"),
    ("staging", remote(backupRepository="/srv/backups"), "backupRepository", "a repository off this host"),
    ("staging", remote(backupRepository="sftp:backup@host"), "backupRepository", "sftp:USER@HOST:/absolute/path"),
    (
        "staging",
        remote(backupRepository="sftp://host//srv"),
        "backupRepository",
        "sftp://USER@HOST:PORT//absolute/path",
    ),
    ("staging", remote(backupRepository="sftp:b@203.0.113.30:/r"), "backupRepository", "documentation placeholder"),
    ("staging", remote(backupRepository="rest:http://backup.example/r"), "backupRepository", "TLS only"),
    ("staging", remote(backupPassword="short"), "backupPassword", "at least 16 characters"),
    ("staging", remote(backupSshHostKey=None), "backupSshHostKey", "pin the host key of backup.internal.example"),
    ("staging", remote(backupSshHostKey="ssh-ed25519 AAAA!!!!"), "backupSshHostKey", "not base64"),
    ("staging", remote(backupSshKey="not a key"), "backupSshKey", "needs the key that logs in as backup"),
    ("staging", remote(backupSchedule="daily\nExecStart=/bin/sh"), "backupSchedule", "systemd OnCalendar"),
    ("staging", remote(backupKeepDaily="-1"), "backupKeepDaily", "from 0 to 1000"),
    (
        "staging",
        remote(backupKeepHourly=0, backupKeepDaily=0, backupKeepWeekly=0, backupKeepMonthly=0),
        "backupKeepHourly",
        "keep at least one snapshot",
    ),
    ("staging", remote(restoreFrom="yesterday"), "restoreFrom", "latest or a snapshot id"),
    ("staging", remote(backupImageTag="latest"), "backupImageTag", "restic release"),
    ("staging", remote(backupImageRepository="Not A Repo"), "backupImageRepository", "image repository"),
    (
        "staging",
        remote(
            backupRepository=None, backupPassword=None, backupSshKey=None, backupSshHostKey=None, restoreFrom="latest"
        ),
        "restoreFrom",
        "only used with backupRepository",
    ),
    ("dev", {"target": "local", "authenticate": [], **BACKUP}, "backupRepository", "target ssh"),
    ("production", remote(protectPackages=False), "protectPackages", "production always protects"),
    ("staging", remote(packagesVolume="../etc"), "packagesVolume", "Docker name"),
]


test_bad_value_names_key_and_what_is_accepted = refusals(BAD)


def test_backup_settings():
    result = parse(remote(backupSchedule="*:0/15", backupKeepDaily="30", restoreFrom="latest"), "production", SECRETS)
    assert result.store.backup is not None
    assert result.store.backup.sftp is not None and result.store.backup.sftp.host == "backup.internal.example"
    assert result.store.backup.sftp.path == "/srv/restic/pypi-index" and result.store.backup.sftp.port == 22
    assert result.store.backup.keep == {"hourly": 24, "daily": 30, "weekly": 8, "monthly": 12}
    assert result.store.backup.restore_from == "latest" and result.store.backup.image_ref == "restic/restic:0.18.0"
    url = parse(remote(backupRepository="sftp://backup@10.0.0.5:2222//srv/r"), "staging", SECRETS).store.backup
    assert (
        url is not None
        and url.sftp is not None
        and (url.sftp.host, url.sftp.port, url.sftp.path) == ("10.0.0.5", 2222, "/srv/r")
    )
    assert "restic repository passphrase" not in repr(result) and "PRIVATE" not in repr(result)
    assert parse(remote(**dict.fromkeys(BACKUP)), "staging", SECRETS).store.backup is None, (
        "optional outside production"
    )


@pytest.mark.parametrize(
    ("changes", "key"),
    [
        ({}, "backupPassword"),
        (
            {"backupRepository": "rest:https://u:p@backup.example/r", "backupSshKey": None, "backupSshHostKey": None},
            "backupRepository",
        ),
    ],
)
def test_backup_secrets_stored_in_clear_are_refused(changes, key):
    with pytest.raises(ConfigError, match=f"pypi-index:{key}: got .*in clear"):
        parse(remote(**changes), "staging", frozenset({"users", "backupSshKey"}))
