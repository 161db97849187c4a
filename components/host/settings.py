"""The host section of the settings: where the index runs (this machine's engine, or a host over SSH
with its key pinned), and the environment the providers inherit.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..config_reading import (
    DOCUMENTATION_NETS,
    HOST_NAME,
    USER_NAME,
    ConfigError,
    read_bool,
    read_choice,
    read_int,
    read_str,
    show,
)
from .keys import HostKeyError, check_host_key

TARGETS = ("local", "ssh")

# The section's keys (besides `target`), read only by the ssh target.
SSH_KEYS = ("sshHost", "sshPort", "sshUser", "sshHostKey", "insecureSkipHostKeyCheck", "sshPrivateKey")


class EnvironmentConflict(ValueError):
    """An environment variable that would make the deployment reach a different engine than configured."""


@dataclass(frozen=True)
class SshSettings:
    """How to reach a remote host. Absent for the `local` target."""

    host: str
    """Address or DNS name of the host."""
    port: int
    """sshd port."""
    user: str
    """Login user: needs passwordless sudo on the host."""
    host_key: str | None
    """The host's public key (`ssh-ed25519 AAAA...`), pinned on both SSH paths."""
    skip_host_key_check: bool
    """Explicit opt-out of host key verification; production refuses it."""
    private_key: str | None = field(default=None, repr=False)
    """Private key for pulumi-command (secret); otherwise both paths use the SSH agent."""


@dataclass(frozen=True)
class HostSettings:
    target: str
    """`local` (this machine's Docker, supervised by Docker) or `ssh` (a host supervised by systemd)."""
    ssh: SshSettings | None
    docker_host: str | None
    """Docker endpoint for the `local` target; None means Docker's own default."""


def _host(key: str, raw: str | None) -> str:
    if not raw:
        raise ConfigError(key, "nothing", "the ssh target needs the host's address or DNS name")
    try:
        address = ipaddress.ip_address(raw)
    except ValueError:
        address = None
    if address is not None:
        if any(address in net for net in DOCUMENTATION_NETS):
            raise ConfigError(key, show(raw), "that is a documentation placeholder: set your host's address")
        return raw
    if not HOST_NAME.match(raw):
        raise ConfigError(key, show(raw), "expected an IP address or a DNS name")
    return raw


def _parse_ssh(values: Mapping[str, Any], production: bool) -> SshSettings:
    host = _host("sshHost", read_str(values, "sshHost"))
    user = read_str(values, "sshUser", "deploy")
    if not user or not USER_NAME.match(user):
        raise ConfigError("sshUser", show(user), "expected a login name such as deploy")
    host_key = read_str(values, "sshHostKey")
    if host_key:
        try:
            host_key = check_host_key(host_key)  # a trailing comment is not part of the key
        except HostKeyError as error:
            shown = host_key[:40] + ("..." if len(host_key) > 40 else "")
            raise ConfigError(
                "sshHostKey", show(shown), f"this is not a host key that can be pinned: {error}"
            ) from None
    skip = read_bool(values, "insecureSkipHostKeyCheck", False)
    if not host_key and not skip:
        raise ConfigError(
            "sshHostKey",
            "nothing",
            "pin the host's key (ssh-ed25519 AAAA...), or set insecureSkipHostKeyCheck: true outside production",
        )
    if skip and production:
        raise ConfigError(
            "insecureSkipHostKeyCheck", "true", "production always verifies the host key: set it to false"
        )
    if host_key and skip:
        raise ConfigError(
            "insecureSkipHostKeyCheck", "true", "set either sshHostKey or insecureSkipHostKeyCheck, not both"
        )
    private_key = read_str(values, "sshPrivateKey")
    if private_key and "PRIVATE KEY" not in private_key:
        raise ConfigError("sshPrivateKey", "(secret)", "expected an OpenSSH or PEM private key")
    return SshSettings(
        host=host,
        port=read_int(values, "sshPort", 22, 1, 65535),
        user=user,
        host_key=host_key,
        skip_host_key_check=skip,
        private_key=private_key,
    )


def check_environment(environment: Mapping[str, str]) -> None:
    """The Docker provider reads DOCKER_CONTEXT from its environment, and a context beats its `host`
    (kreuzwerker/terraform-provider-docker, internal/provider/provider.go, `configure`): containers
    would go to the context's engine while every shell step goes to sshHost (or DOCKER_HOST)."""
    context = environment.get("DOCKER_CONTEXT", "")
    if context:
        raise EnvironmentConflict(
            f"environment variable DOCKER_CONTEXT={context!r} would send the Docker resources to that "
            "context's engine instead of the one this stack configures, while its shell steps go elsewhere: "
            "unset DOCKER_CONTEXT (for the local target, set dockerHost to the engine you want)"
        )


def parse_host(values: Mapping[str, Any], production: bool) -> HostSettings:
    """Where the index runs: the target, its SSH settings, the local engine's address if not the default."""
    target = read_choice(values, "target", "local", TARGETS)
    if production and target != "ssh":
        raise ConfigError("target", show(target), "production deploys to a remote host: set target to ssh")
    ssh = _parse_ssh(values, production) if target == "ssh" else None
    docker_host = read_str(values, "dockerHost") if target == "local" else None
    if docker_host and not re.match(r"^(unix|tcp|npipe)://\S+$", docker_host):
        raise ConfigError("dockerHost", show(docker_host), "expected unix:///path, tcp://host:port or npipe://...")
    return HostSettings(target, ssh, docker_host)
