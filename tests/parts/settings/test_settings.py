"""Config validation: every bad value is refused with the key, the value and what is accepted."""

from __future__ import annotations

import base64
import re
import struct

import pytest
import yaml

from components import settings
from components.settings import ConfigError, parse
from components.settings.access import _parse_authenticate
from recorded import ROOT

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


# (stack, config, key named in the error, a fragment of what is accepted)
BAD = [
    ("staging", remote(uploaders=["mallory"]), "uploaders", "uploaders are names from users (ci)"),
    ("staging", remote(yanked=["team-tool"]), "yanked", "'name==version' or 'name==version: reason'"),
    ("production", remote(server="gevent"), "server", "production runs gunicorn"),
    ("staging", remote(yanked=["team-tool>=1.0"]), "yanked", "'name==version' or 'name==version: reason'"),
    ("staging", remote(yanked=["team-tool==1.0: two\nlines"]), "yanked", "one line, 300 characters"),
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
    ("staging", remote(frontImageRepository="caddy:2"), "frontImageRepository", "such as caddy"),
    ("staging", remote(imageRepository="pypiserver:2"), "imageRepository", "such as pypiserver/pypiserver"),
    (
        "staging",
        remote(
            backupRepository=None, backupPassword=None, backupSshKey=None, backupSshHostKey=None, restoreFrom="latest"
        ),
        "restoreFrom",
        "only used with backupRepository",
    ),
    ("dev", {"target": "local", "authenticate": [], **BACKUP}, "backupRepository", "target ssh"),
    ("staging", remote(sshHost=None), "sshHost", "needs the host's address"),
    ("staging", remote(sshHost="bad host!"), "sshHost", "IP address or a DNS name"),
    ("staging", remote(sshHost="203.0.113.10"), "sshHost", "documentation placeholder"),
    ("staging", remote(sshPort="0"), "sshPort", "from 1 to 65535"),
    ("staging", remote(sshPort=70000), "sshPort", "from 1 to 65535"),
    ("staging", remote(sshPort="twenty-two"), "sshPort", "whole number"),
    ("staging", remote(sshUser="root user"), "sshUser", "login name"),
    ("staging", remote(sshHostKey=None), "sshHostKey", "pin the host's key"),
    ("staging", remote(sshHostKey="ssh-ed25519 AAAAnotakey"), "sshHostKey", "not base64; pin the host's ed25519"),
    ("staging", remote(sshHostKey="ssh-ed25519"), "sshHostKey", "expected a public key line"),
    ("staging", remote(sshHostKey="ssh-rsa " + HOST_KEY.split()[1]), "sshHostKey", "RSA host keys cannot be pinned"),
    ("staging", remote(sshHostKey=RSA), "sshHostKey", "only the SHA-1 ssh-rsa signature"),
    ("staging", remote(sshHostKey="ssh-dss AAAAB3NzaC1kc3M="), "sshHostKey", "key type 'ssh-dss' is not one of"),
    (
        "staging",
        remote(sshHostKey="ecdsa-sha2-nistp256 " + HOST_KEY.split()[1]),
        "sshHostKey",
        "not an ecdsa-sha2-nistp256 key",
    ),
    ("staging", remote(sshHostKey="ssh-ed25519 " + ECDSA_256.split()[1]), "sshHostKey", "not an ssh-ed25519 key"),
    (
        "staging",
        remote(sshHostKey="ecdsa-sha2-nistp384 " + ECDSA_256.split()[1]),
        "sshHostKey",
        "not an ecdsa-sha2-nistp384 key",
    ),
    ("staging", remote(sshHostKey="ssh-ed25519 AAAA!!!!"), "sshHostKey", "not base64"),
    ("staging", remote(sshHostKey=POINT_OFF_CURVE), "sshHostKey", "not on the curve nistp256"),
    ("staging", remote(sshHostKey=ED25519_SHORT), "sshHostKey", "expected one 32-byte public key"),
    ("staging", remote(sshHostKey=ED25519_CUT), "sshHostKey", "cut short"),
    ("staging", remote(insecureSkipHostKeyCheck=True), "insecureSkipHostKeyCheck", "either sshHostKey or"),
    ("staging", remote(insecureSkipHostKeyCheck="maybe"), "insecureSkipHostKeyCheck", "true or false"),
    (
        "production",
        remote(sshHostKey=None, insecureSkipHostKeyCheck=True),
        "insecureSkipHostKeyCheck",
        "production always verifies",
    ),
    ("production", remote(sshHostKey=None), "sshHostKey", "pin the host's key"),
    ("production", {"target": "local", "users": {"ci": PASSWORD}}, "target", "production deploys to a remote host"),
    ("staging", remote(target="kubernetes"), "target", "one of local, ssh"),
    ("staging", remote(httpsPort="0"), "httpsPort", "from 1 to 65535"),
    ("staging", remote(httpsPort="65536"), "httpsPort", "from 1 to 65535"),
    ("staging", remote(httpPort="-1"), "httpPort", "from 0 to 65535"),
    ("staging", remote(httpPort="443"), "httpPort", "must differ from httpsPort"),
    ("staging", remote(maxUploadMb="0"), "maxUploadMb", "from 1"),
    ("staging", remote(domain="not a name"), "domain", "DNS name"),
    ("staging", remote(tls="self-signed"), "tls", "one of internal, acme, supplied"),
    ("staging", remote(tls="acme", sshHost="10.0.0.5"), "domain", "ACME needs a public DNS name"),
    ("staging", remote(tls="acme", domain="pypi.corp.internal"), "domain", "ACME needs a public DNS name"),
    ("staging", remote(tls="acme", domain="pypi.example.com", acmeEmail="nobody"), "acmeEmail", "e-mail address"),
    ("staging", remote(tls="supplied"), "tlsCertificate", "PEM certificate chain"),
    ("staging", remote(tls="supplied", tlsCertificate=CERT), "tlsKey", "PEM private key"),
    ("staging", remote(tlsCertificate=CERT), "tlsCertificate", "only used with tls: supplied"),
    ("staging", remote(frontImageTag="latest"), "frontImageTag", "Caddy release"),
    ("staging", remote(frontImageTag="2"), "frontImageTag", "Caddy release"),
    ("staging", remote(frontImageDigest="sha256:xyz"), "frontImageDigest", "64 lowercase hex"),
    ("staging", remote(bindAddress="everywhere"), "bindAddress", "IP address"),
    ("staging", remote(users={"ci:admin": PASSWORD}), "users", "no ':'"),
    ("staging", remote(users={"": PASSWORD}), "users", "user names are"),
    ("staging", remote(users={"ci": ""}), "users.ci", f"at least {settings.MIN_PASSWORD} characters"),
    ("staging", remote(users={"ci": "short"}), "users.ci", f"at least {settings.MIN_PASSWORD} characters"),
    ("staging", remote(users={"ci": "x" * 73}), "users.ci", "at most 72 bytes"),
    ("staging", remote(users={}), "users", "add a user"),
    ("staging", remote(authenticate=["update", "upload"]), "authenticate", "update, download, list"),
    ("staging", remote(authenticate=[]), "authenticate", "nothing is protected"),
    ("production", remote(authenticate=["update"]), "authenticate", "production protects update, download and list"),
    ("production", remote(protectPackages=False), "protectPackages", "production always protects"),
    ("staging", remote(imageTag="latest"), "imageTag", "release tag"),
    ("staging", remote(imageTag="v2.4"), "imageTag", "release tag"),
    ("staging", remote(imageTag="unstable"), "imageTag", "release tag"),
    ("staging", remote(imageDigest="sha256:abc"), "imageDigest", "64 lowercase hex"),
    ("staging", remote(imageRepository="Not A Repo"), "imageRepository", "image repository"),
    ("staging", remote(bcryptRounds="3"), "bcryptRounds", "from 4 to 14"),
    ("staging", remote(bcryptRounds="20"), "bcryptRounds", "from 4 to 14"),
    ("staging", remote(server="tornado"), "server", "gunicorn, gevent, auto"),
    ("staging", remote(memoryMb="16"), "memoryMb", "from 64"),
    ("staging", remote(healthTimeoutSeconds="0"), "healthTimeoutSeconds", "from 5"),
    ("staging", remote(publicUrl="http://user:pw@host/"), "publicUrl", "without credentials"),
    ("staging", remote(fallbackUrl="pypi.org"), "fallbackUrl", "http(s) URL"),
    ("staging", remote(fallbackUrl="https://pypi.org/{path}"), "fallbackUrl", "http(s) URL"),
    ("staging", remote(fallbackUrl='https://pypi.org/"x'), "fallbackUrl", "http(s) URL"),
    ("staging", remote(packagesVolume="../etc"), "packagesVolume", "Docker name"),
    ("staging", remote(dockerHost="unix:///var/run/docker.sock"), "dockerHost", "only used with target: local"),
    (
        "dev",
        {"target": "local", "dockerHost": "/var/run/docker.sock", "authenticate": []},
        "dockerHost",
        "unix:///path",
    ),
]


@pytest.mark.parametrize(
    ("stack", "values", "key", "accepted"), BAD, ids=[f"{row[2]}-{i}" for i, row in enumerate(BAD)]
)
def test_bad_value_names_key_and_what_is_accepted(stack, values, key, accepted):
    with pytest.raises(ConfigError) as error:
        parse(values, stack, SECRETS)
    message = str(error.value)
    assert error.value.key == key, message
    assert message.startswith(f"config pypi-index:{key}: got "), message
    assert accepted in message, message


@pytest.mark.parametrize("password", [PASSWORD, "Zq" * 37, "Zq9!x"])
def test_errors_never_show_a_password(password):
    bad_tag = "latest" if password == PASSWORD else "v2.4.1"
    with pytest.raises(ConfigError) as error:
        parse(remote(users={"ci": password}, imageTag=bad_tag), "staging", SECRETS)
    assert password not in str(error.value)


def test_users_stored_in_clear_are_refused():
    with pytest.raises(
        ConfigError,
        match=r"pypi-index:users: got a value stored in clear; set passwords with `pulumi config set --secret",
    ):
        parse(remote(), "staging", frozenset())


def test_valid_remote_settings():
    result = parse(remote(sshPort="2222", authenticate='["list", "update"]'), "staging", SECRETS)
    assert result.host.ssh is not None and result.host.ssh.port == 2222 and result.host.ssh.host_key == HOST_KEY
    assert result.access.authenticate == ("update", "list"), "pypiserver's order, whatever the config's order"
    assert result.pypiserver.image.ref == "pypiserver/pypiserver:v2.4.1"
    assert result.front.public_url == "https://pypi.internal.example"
    assert (
        result.front.tls == "internal"
        and result.front.domain == "pypi.internal.example"
        and result.front.https_port == 443
    )
    assert (
        result.access.bcrypt_rounds == 10
        and not result.pypiserver.allow_overwrite
        and result.pypiserver.fallback_url is None
    )


@pytest.mark.parametrize("key", [HOST_KEY, ECDSA_256, ECDSA_384, ECDSA_521])
def test_every_key_type_pulumi_command_can_verify_is_accepted(key):
    result = parse(remote(sshHostKey=key + " root@host"), "staging", SECRETS)
    assert result.host.ssh is not None and result.host.ssh.host_key == key


@pytest.mark.parametrize("environment", [{"DOCKER_CONTEXT": "remote-box"}, {"DOCKER_CONTEXT": "default"}])
@pytest.mark.parametrize("values", [remote(), {"target": "local", "authenticate": [], "protectPackages": "false"}])
def test_docker_context_in_the_environment_is_refused(values, environment):
    with pytest.raises(settings.EnvironmentConflict, match=r"DOCKER_CONTEXT=.* unset DOCKER_CONTEXT"):
        parse(values, "staging", SECRETS, environment)
    assert parse(values, "staging", SECRETS, {"DOCKER_CONTEXT": "", "DOCKER_HOST": "unix:///x"})


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


def test_host_key_comment_is_dropped_and_digest_pins():
    digest = "sha256:" + "ab" * 32
    result = parse(remote(sshHostKey=HOST_KEY + " root@host", imageDigest=digest), "production", SECRETS)
    assert result.host.ssh is not None and result.host.ssh.host_key == HOST_KEY
    assert result.pypiserver.image.ref == f"pypiserver/pypiserver:v2.4.1@{digest}"


def test_dev_needs_no_ssh_no_users():
    result = parse({"target": "local", "authenticate": [], "protectPackages": "false"}, "dev")
    assert result.host.ssh is None and result.access.users == {} and result.access.authenticate == ()
    assert result.front.public_url == "https://127.0.0.1"


def test_secret_values_are_not_in_repr():
    result = parse(remote(sshPrivateKey="-----BEGIN OPENSSH PRIVATE KEY-----\nabc\n"), "staging", SECRETS)
    assert PASSWORD not in repr(result) and "PRIVATE KEY" not in repr(result)


def test_pulumi_yaml_declares_every_key_with_type_description_default():
    project = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())
    declared = project["config"]
    # Secrets cannot have a default in Pulumi.yaml (see its comment).
    assert set(declared) | set(settings.SECRET_KEYS) == set(settings.KEYS)
    assert not set(declared) & set(settings.SECRET_KEYS)
    # ... and its comment names exactly those keys, with their number in words.
    comment = [line for line in (ROOT / "Pulumi.yaml").read_text().splitlines() if line.startswith("#   ")]
    listed = [line.split()[1] for line in comment if not line.startswith("#    ")]
    assert sorted(listed) == sorted(settings.SECRET_KEYS), listed
    count = {3: "Three", 4: "Four", 5: "Five", 6: "Six", 7: "Seven"}[len(settings.SECRET_KEYS)]
    assert f"# {count} secret keys are deliberately not declared here" in (ROOT / "Pulumi.yaml").read_text()
    for key, spec in declared.items():
        assert {"type", "description", "default"} <= set(spec), key
    assert project["stackConfigDir"] == "config"
    # The declared defaults are what the program itself assumes (one source of truth in practice).
    defaults = {k: v["default"] for k, v in declared.items()}
    parsed = parse({**defaults, "authenticate": []}, "dev")
    assert parsed.pypiserver.image.tag == defaults["imageTag"] and parsed.front.https_port == defaults["httpsPort"]
    assert _parse_authenticate({"authenticate": defaults["authenticate"]}) == settings.ACTIONS


def test_committed_stack_files_name_only_known_keys():
    for path in (ROOT / "config").glob("Pulumi.*.yaml"):
        data = yaml.safe_load(path.read_text())
        for key in data["config"]:
            namespace, name = key.split(":", 1)
            assert namespace == "pypi-index" and name in settings.KEYS, f"{path.name}: {key}"
            assert re.match(r"^\w+$", name)


def test_tls_modes():
    acme = parse(remote(tls="acme", domain="pypi.example.com", acmeEmail="ops@example.com"), "production", SECRETS)
    assert acme.front.tls == "acme" and acme.front.public_url == "https://pypi.example.com" and acme.front.hsts
    key = "-----BEGIN PRIVATE KEY-----\nabc\n-----END PRIVATE KEY-----\n"
    supplied = parse(remote(tls="supplied", tlsCertificate=CERT, tlsKey=key, httpsPort="8443"), "staging", SECRETS)
    assert (
        supplied.front.tls_key == key.strip()
        and supplied.front.public_url == "https://pypi.internal.example:8443"
        and not supplied.front.hsts
    )
    assert key not in repr(supplied)


def test_uploaders_default_to_every_user_and_are_a_subset():
    two = {"ci": PASSWORD, "alice": PASSWORD}
    assert parse(remote(users=two), "staging", SECRETS).access.uploaders == ("alice", "ci")
    assert parse(remote(users=two, uploaders=["ci", "ci"]), "staging", SECRETS).access.uploaders == ("ci",)
    assert parse(remote(users=two, uploaders='["ci"]'), "staging", SECRETS).access.uploaders == ("ci",)


def test_yanked_releases_are_keyed_by_pep_503_name_with_their_reasons():
    settings = parse(
        remote(yanked=["Team_Tool==1.2.0: broken wheel", "team-tool==1.3", "other.lib == 2.0rc1 :  bad  "]),
        "staging",
        SECRETS,
    )
    assert settings.indexer.yanked == {
        "team-tool": {"1.2.0": "broken wheel", "1.3": ""},
        "other-lib": {"2.0rc1": "bad"},
    }
    assert parse(remote(), "staging", SECRETS).indexer.yanked == {}


# A valid value, other than its default, for every key that only some configurations read.
ONLY_SOMETIMES = {
    "acmeEmail": "ops@example.com",
    "tlsCertificate": CERT,
    "tlsKey": "-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----\n",
    "sshHost": "pypi.internal.example",
    "sshPort": 2222,
    "sshUser": "admin",
    "sshHostKey": HOST_KEY,
    "insecureSkipHostKeyCheck": True,
    "sshPrivateKey": BACKUP_KEY,
    "dockerHost": "unix:///run/docker.sock",
    "uploaders": ["ci"],
    "bcryptRounds": 12,
    "authVolume": "index-auth",
    "backupPassword": "restic repository passphrase",
    "backupSchedule": "daily",
    "backupKeepHourly": 3,
    "backupKeepDaily": 3,
    "backupKeepWeekly": 3,
    "backupKeepMonthly": 3,
    "backupImageRepository": "mirror.example/restic",
    "backupImageTag": "0.18.1",
    "backupImageDigest": "sha256:" + "a" * 64,
    "restoreFrom": "latest",
    "backupSshKey": BACKUP_KEY,
    "backupSshHostKey": ECDSA_256,
}
# A configuration that does not use each group: (stack, config).
WITHOUT = {
    "tls: acme": ("staging", remote()),
    "tls: supplied": ("staging", remote()),
    "target: ssh": ("dev", {"target": "local", "authenticate": []}),
    "target: local (an ssh target reaches Docker through sshHost)": ("staging", remote()),
    "users (and the actions they protect)": ("dev", {"target": "local", "authenticate": []}),
    "backupRepository": (
        "staging",
        remote(backupRepository=None, backupPassword=None, backupSshKey=None, backupSshHostKey=None),
    ),
    "an sftp: backupRepository": (
        "staging",
        remote(backupRepository="rest:https://backup.example/pypi", backupSshKey=None, backupSshHostKey=None),
    ),
}
ROWS = [(key, where) for keys, _, where in settings.ONLY_USED_WITH for key in keys]


@pytest.mark.parametrize(("key", "where"), ROWS, ids=[key for key, _ in ROWS])
def test_a_key_that_would_do_nothing_is_refused_naming_where_it_is_used(key, where):
    stack, values = WITHOUT[where]
    parse(values, stack, SECRETS | {"tlsKey", "sshPrivateKey"})  # accepted as it is
    with pytest.raises(ConfigError) as error:
        parse({**values, key: ONLY_SOMETIMES[key]}, stack, SECRETS | {"tlsKey", "sshPrivateKey"})
    assert error.value.key == key
    assert f"only used with {where}" in str(error.value)
    if key in settings.SECRET_KEYS:
        assert str(ONLY_SOMETIMES[key]) not in str(error.value), "a secret is never shown"


def test_every_key_that_only_sometimes_does_something_has_a_case():
    assert {key for key, _ in ROWS} == set(ONLY_SOMETIMES)
    assert {where for _, where in ROWS} == set(WITHOUT)
