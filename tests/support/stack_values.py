"""Stack config values for the settings tests: real host keys of every type (and broken ones), a valid
remote stack, and the check every refusal must pass."""

from __future__ import annotations

import base64
import struct

import pytest

from components.settings import ConfigError, parse

HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJwscbcMu7W4BjS5KmH4fejUOe377CH6Enp1x4jXO8c3"

# Real public host keys (ssh-keygen), one per accepted type, and an RSA one that cannot work.
ECDSA_256 = "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBAbm21ODfhmpMEwUqJrVYyybkkthUuDsLvH3pHl2mP433xT64stUe7SkPtkwxfaNPUM+Z7qVRP3heinqe7SX15E="

ECDSA_384 = "ecdsa-sha2-nistp384 AAAAE2VjZHNhLXNoYTItbmlzdHAzODQAAAAIbmlzdHAzODQAAABhBDuxlpJixPd1gjq/BhR7V/ZOBrTpVcR/zE2C6Kd/B+7H5A3Ix53DwSiH+UZp6z6ulZnI4PAa+cfLXdtVeoZxHOw4znKQ72YB45L0jtqiLJcDJyjzTrrR4bvblzF0aX2Yzw=="

ECDSA_521 = "ecdsa-sha2-nistp521 AAAAE2VjZHNhLXNoYTItbmlzdHA1MjEAAAAIbmlzdHA1MjEAAACFBAGeYcDAtg5DwjbNZF3dL8okWNnuTk3JHOLueQjgG8Oi6ySZWAQKfY8w6RFXcU0OkQojuKgAWKH019NTTYkS3J9kNABd9/8wERAuBe0MMcMfsTmvF+NEdD2DsbqcyhDkHvW7xCm/Xe7pfao8iDVuahweKn0tB5XWD3wpaDoAfDN6CGw11A=="

RSA = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQCsdTfZvzHPz0x7d/hqorXIqvgDhPUhYXvnvWDIh1wH4XPvwbqnN502a8B8o9vyGlLHwSz9UE2Hy50QJn0dcEm2idv6CopcrPmp+J0hF5sM2Y97mojCUCIwg+rFK5G48FE0wIgqzauIRjssYbEmsM54XEF+NfosAHhuB7mnVHQPR07vYFKkZBq7/8DyjuZf0MdRxRquVgRVKZuxg1iXz0LL4fs7+2BO45/OH7i8kVrro+lHEvAJnzoI4dp3kMMfs5I3WDotGNRMD+qbkPxbkHl8VkzIstd7SoRjtlIcur4XoAo4RIqcJiXX3+/gKHHrm+kmEHTvVCtVACddNePri2q9"


def ssh_key(key_type: str, *parts: bytes) -> str:
    """A public key line built from wire-format strings: for keys that are well-formed but wrong."""
    blob = b"".join(struct.pack(">I", len(p)) + p for p in (key_type.encode(), *parts))
    return f"{key_type} {base64.b64encode(blob).decode()}"


POINT_OFF_CURVE = ssh_key("ecdsa-sha2-nistp256", b"nistp256", bytes([4, *range(64)]))

ED25519_SHORT = ssh_key("ssh-ed25519", b"\x01" * 31)

ED25519_CUT = "ssh-ed25519 " + base64.b64encode(base64.b64decode(HOST_KEY.split()[1])[:-5]).decode()

PASSWORD = "correct horse battery staple"

CERT = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"

BACKUP_KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA-backup\n-----END OPENSSH PRIVATE KEY-----\n"

BACKUP = {
    "backupRepository": "sftp:backup@backup.internal.example:/srv/restic/pypi-index",
    "backupPassword": "restic repository passphrase",
    "backupSshKey": BACKUP_KEY,
    "backupSshHostKey": ECDSA_256,
}

REMOTE = {
    "target": "ssh",
    "sshHost": "pypi.internal.example",
    "sshHostKey": HOST_KEY,
    "users": {"ci": PASSWORD},
    **BACKUP,
}

SECRETS = frozenset({"users", "backupPassword", "backupSshKey"})


def remote(**changes):
    values = {**REMOTE, **changes}
    return {k: v for k, v in values.items() if v is not None}


def assert_refused(stack: str, values: dict, key: str, accepted: str) -> None:
    """`values` are refused with an error naming `key`, the value, and (a fragment of) what is accepted."""
    with pytest.raises(ConfigError) as error:
        parse(values, stack, SECRETS)
    message = str(error.value)
    assert error.value.key == key, message
    assert message.startswith(f"config pypi-index:{key}: got "), message
    assert accepted in message, message


def refusals(rows: list[tuple[str, dict, str, str]]):
    """A test of every row of a table (stack, config, key named in the error, a fragment of what is
    accepted), for a module to collect as its own: `test_... = refusals(BAD)`."""

    @pytest.mark.parametrize(
        ("stack", "values", "key", "accepted"), rows, ids=[f"{row[2]}-{i}" for i, row in enumerate(rows)]
    )
    def test(stack, values, key, accepted):
        assert_refused(stack, values, key, accepted)

    return test
