"""Where the index runs: the target, the SSH connection and its pinned host key, the environment the
providers inherit.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from typing import Any

from ..host.keys import HostKeyError, check_host_key
from ..store import backup_settings
from .model import SshSettings
from .values import HOST_NAME, TARGETS, USER_NAME, ConfigError, EnvironmentConflict, _bool, _choice, _int, _show, _str

# The committed stack files use these ranges (RFC 5737) as placeholders for the operator's host.
DOCUMENTATION_NETS = backup_settings.DOCUMENTATION_NETS


def _host(key: str, raw: str | None) -> str:
    if not raw:
        raise ConfigError(key, "nothing", "the ssh target needs the host's address or DNS name")
    try:
        address = ipaddress.ip_address(raw)
    except ValueError:
        address = None
    if address is not None:
        if any(address in net for net in DOCUMENTATION_NETS):
            raise ConfigError(key, _show(raw), "that is a documentation placeholder: set your host's address")
        return raw
    if not HOST_NAME.match(raw):
        raise ConfigError(key, _show(raw), "expected an IP address or a DNS name")
    return raw


def _parse_ssh(values: Mapping[str, Any], production: bool) -> SshSettings:
    host = _host("sshHost", _str(values, "sshHost"))
    user = _str(values, "sshUser", "deploy")
    if not user or not USER_NAME.match(user):
        raise ConfigError("sshUser", _show(user), "expected a login name such as deploy")
    host_key = _str(values, "sshHostKey")
    if host_key:
        try:
            host_key = check_host_key(host_key)  # a trailing comment is not part of the key
        except HostKeyError as error:
            shown = host_key[:40] + ("..." if len(host_key) > 40 else "")
            raise ConfigError(
                "sshHostKey", _show(shown), f"this is not a host key that can be pinned: {error}"
            ) from None
    skip = _bool(values, "insecureSkipHostKeyCheck", False)
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
    private_key = _str(values, "sshPrivateKey")
    if private_key and "PRIVATE KEY" not in private_key:
        raise ConfigError("sshPrivateKey", "(secret)", "expected an OpenSSH or PEM private key")
    return SshSettings(
        host=host,
        port=_int(values, "sshPort", 22, 1, 65535),
        user=user,
        host_key=host_key,
        skip_host_key_check=skip,
        private_key=private_key,
    )


def _check_environment(environment: Mapping[str, str]) -> None:
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


def reachable_address(bind_address: str) -> str:
    """Where ports published on `bind_address` answer on the machine itself: the address, or loopback
    for the wildcards (the health gate connects there; a local stack's default domain is it)."""
    return "127.0.0.1" if bind_address in ("0.0.0.0", "::") else bind_address


def _parse_target(values: Mapping[str, Any], production: bool) -> tuple[str, SshSettings | None, str | None]:
    """Where the index runs: (target, its SSH settings, the local engine's address if not the default)."""
    target = _choice(values, "target", "local", TARGETS)
    if production and target != "ssh":
        raise ConfigError("target", _show(target), "production deploys to a remote host: set target to ssh")
    ssh = _parse_ssh(values, production) if target == "ssh" else None
    docker_host = _str(values, "dockerHost") if target == "local" else None
    if docker_host and not re.match(r"^(unix|tcp|npipe)://\S+$", docker_host):
        raise ConfigError("dockerHost", _show(docker_host), "expected unix:///path, tcp://host:port or npipe://...")
    return target, ssh, docker_host
