"""How containers run: index-not-public-without-tls, container-unprivileged, container-memory-limit."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any

from policy.subjects import CONTAINER, UNKNOWN, Subject, describe, is_index_container, is_sequence, number


def all_interfaces(ip: Any) -> bool:
    """Docker publishes on every interface when the address is empty, 0.0.0.0 or ::."""
    if ip is None or (isinstance(ip, str) and not ip.strip()):
        return True
    try:
        return ipaddress.ip_address(str(ip).strip().strip("[]")).is_unspecified
    except ValueError:
        return False


def index_not_public_without_tls(subject: Subject) -> list[str]:
    """pypiserver speaks plain HTTP: it is never published on all interfaces; only the TLS front server is."""
    resource_type, name, props, config = subject.resource_type, subject.name, subject.props, subject.config
    if resource_type != CONTAINER or not is_index_container(props, config):
        return []
    label = describe(resource_type, name)
    fix = (
        "pypiserver belongs on the internal network behind the TLS front server, which alone publishes "
        "httpsPort: remove the pypiserver container's ports (or bind them to 127.0.0.1) in components/pypiserver/resources.py"
    )
    problems = []
    if props.get("networkMode") == "host":
        problems.append(f"{label} uses the host's network: pypiserver's plain HTTP port is on every interface; {fix}")
    ports = props.get("ports")
    if not is_sequence(ports):
        return problems
    for port in ports:
        if not isinstance(port, Mapping) or port.get("ip") is UNKNOWN or not all_interfaces(port.get("ip")):
            continue
        internal, external = number(port.get("internal")), number(port.get("external"))
        shown = int(internal) if internal is not None else "?"
        where = f"{port.get('ip') or '0.0.0.0'}:{int(external) if external is not None else '(random)'}"
        problems.append(
            f"{label} publishes pypiserver's plain HTTP (container port {shown}) on all interfaces ({where}), "
            f"beside the TLS front server: passwords could cross the network in clear; {fix}"
        )
    return problems


_NO_NEW_PRIVILEGES = {"no-new-privileges", "no-new-privileges:true", "no-new-privileges=true"}
# What Docker grants every container anyway: adding one of these back (after dropping ALL) is no privilege.
DOCKER_DEFAULT_CAPABILITIES = frozenset(
    {
        "AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD", "NET_BIND_SERVICE",
        "NET_RAW", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT",
    }
)  # fmt: skip


def _capabilities(props: Mapping[str, Any], which: str) -> list[str]:
    capabilities = props.get("capabilities")
    values = capabilities.get(which) if isinstance(capabilities, Mapping) else None
    return [str(c).upper().removeprefix("CAP_") for c in values if c is not UNKNOWN] if is_sequence(values) else []


def container_unprivileged(subject: Subject) -> list[str]:
    """Not privileged, no capability beyond Docker's defaults, no-new-privileges, confined, no root with capabilities."""
    resource_type, name, props = subject.resource_type, subject.name, subject.props
    if resource_type != CONTAINER:
        return []
    label = describe(resource_type, name)
    where = "in its docker.Container (components/scope.py and the module that declares it)"
    problems = []
    if props.get("privileged") is True:
        problems.append(
            f"{label} is privileged (full access to the host's devices and kernel): remove privileged=True {where}"
        )
    extra = [c for c in _capabilities(props, "adds") if c not in DOCKER_DEFAULT_CAPABILITIES]
    if extra:
        problems.append(f"{label} adds the capabilities {', '.join(extra)}: remove them from capabilities.adds {where}")
    security = props.get("securityOpts")
    if security is not UNKNOWN:
        opts = [str(s).strip() for s in security] if is_sequence(security) else []
        if not _NO_NEW_PRIVILEGES & set(opts):
            problems.append(
                f'{label} can gain privileges (setuid binaries): add security_opts=["no-new-privileges:true"] {where}'
            )
        loose = [s for s in opts if s.endswith("unconfined") or s in ("label=disable", "label:disable")]
        if loose:
            problems.append(
                f"{label} turns off a kernel confinement ({', '.join(loose)}): remove it from security_opts {where}"
            )
    user = props.get("user")
    if (
        isinstance(user, str)
        and user.split(":", 1)[0].strip() in ("root", "0")
        and "ALL" not in _capabilities(props, "drops")
    ):
        problems.append(
            f'{label} runs as root (user "{user}") with Docker\'s default capabilities: drop them '
            f'(capabilities drops=["ALL"]) or run as a non-root user {where}'
        )
    return problems


def container_memory_limit(subject: Subject) -> list[str]:
    """A memory limit (MB).

    Swap is not policed: Docker can bound it only where the kernel accounts for swap, and elsewhere
    stores -1 whatever it was asked (moby daemon/daemon_unix.go, verifyPlatformContainerResources),
    so the program declares -1 to read back the same on every host; the memory limit itself holds.
    """
    resource_type, name, props = subject.resource_type, subject.name, subject.props
    if resource_type != CONTAINER:
        return []
    label = describe(resource_type, name)
    memory = props.get("memory")
    if memory is UNKNOWN:
        return []
    if (number(memory) or 0) <= 0:
        return [
            f"{label} has no memory limit: one runaway request can exhaust the host; pulumi config set memoryMb 256"
        ]
    return []
