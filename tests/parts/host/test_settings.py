"""The host section (host/settings.py): the target, the SSH connection and its pinned host key. Every bad
value is refused naming the key."""

from __future__ import annotations

import pytest

from components.host.settings import EnvironmentConflict
from components.settings import parse
from tests.support.stack_values import (
    ECDSA_256,
    ECDSA_384,
    ECDSA_521,
    ED25519_CUT,
    ED25519_SHORT,
    HOST_KEY,
    PASSWORD,
    POINT_OFF_CURVE,
    RSA,
    SECRETS,
    refusals,
    remote,
)

# (stack, config, key named in the error, a fragment of what is accepted)
BAD = [
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
    ("staging", remote(dockerHost="unix:///var/run/docker.sock"), "dockerHost", "only used with target: local"),
    (
        "dev",
        {"target": "local", "dockerHost": "/var/run/docker.sock", "authenticate": []},
        "dockerHost",
        "unix:///path",
    ),
]


test_bad_value_names_key_and_what_is_accepted = refusals(BAD)


@pytest.mark.parametrize("key", [HOST_KEY, ECDSA_256, ECDSA_384, ECDSA_521])
def test_every_key_type_pulumi_command_can_verify_is_accepted(key):
    result = parse(remote(sshHostKey=key + " root@host"), "staging", SECRETS)
    assert result.host.ssh is not None and result.host.ssh.host_key == key


@pytest.mark.parametrize("environment", [{"DOCKER_CONTEXT": "remote-box"}, {"DOCKER_CONTEXT": "default"}])
@pytest.mark.parametrize("values", [remote(), {"target": "local", "authenticate": [], "protectPackages": "false"}])
def test_docker_context_in_the_environment_is_refused(values, environment):
    with pytest.raises(EnvironmentConflict, match=r"DOCKER_CONTEXT=.* unset DOCKER_CONTEXT"):
        parse(values, "staging", SECRETS, environment)
    assert parse(values, "staging", SECRETS, {"DOCKER_CONTEXT": "", "DOCKER_HOST": "unix:///x"})


def test_host_key_comment_is_dropped_and_digest_pins():
    digest = "sha256:" + "ab" * 32
    result = parse(remote(sshHostKey=HOST_KEY + " root@host", imageDigest=digest), "production", SECRETS)
    assert result.host.ssh is not None and result.host.ssh.host_key == HOST_KEY
    assert result.pypiserver.image.ref == f"pypiserver/pypiserver:v2.4.1@{digest}"
