"""What the rules look at, and how they recognise the program's resources.

A rule sees a resource as the engine hands it to a policy: its type token, name, camelCase inputs
(secrets already unwrapped, numbers as floats, values unknown at preview as UNKNOWN) and options.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple, TypeGuard

from pulumi_policy.proxy import UnknownValueError

from policy.program_facts import CONTAINER_NAME, PACKAGES_ROLE, PACKAGES_VOLUME, ROLE_LABEL

DOCKER_PROVIDER = "pulumi:providers:docker"
IMAGE = "docker:index/remoteImage:RemoteImage"
VOLUME = "docker:index/volume:Volume"
CONTAINER = "docker:index/container:Container"
REMOTE_COMMAND = "command:remote:Command"


class _Unknown:
    """A value the engine does not know yet (preview, computed from another resource's output)."""

    _instance: _Unknown | None = None

    def __new__(cls) -> _Unknown:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNKNOWN"


UNKNOWN = _Unknown()


@dataclass(frozen=True)
class Options:
    """The resource options a rule may look at."""

    protect: bool = False
    retain_on_delete: bool | None = None
    """None: not visible to policies (the SDK does not pass it); the check is skipped."""


NO_OPTIONS = Options()


class Subject(NamedTuple):
    """What every resource rule looks at: the resource as the engine shows it to a policy, and the rule's
    configuration (None: the rule's defaults)."""

    resource_type: str
    name: str
    props: Mapping[str, Any]
    options: Options = NO_OPTIONS
    config: Mapping[str, Any] | None = None


def describe(resource_type: str, name: str) -> str:
    kind = "docker provider" if resource_type == DOCKER_PROVIDER else resource_type.rsplit(":", 1)[-1]
    return f'{kind} "{name}"'


def is_sequence(value: Any) -> TypeGuard[Sequence[Any]]:
    return isinstance(value, Sequence) and not isinstance(value, (str, bytes))


def number(value: Any) -> float | None:
    if isinstance(value, bool) or value is None or value is UNKNOWN:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def plain(value: Any) -> Any:
    """The SDK's unknown-checking proxies as plain dicts and lists, unknown values as UNKNOWN."""
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key in value:
            try:
                out[key] = plain(value[key])
            except UnknownValueError:
                out[key] = UNKNOWN
        return out
    if is_sequence(value):
        items: list[Any] = []
        for i in range(len(value)):
            try:
                items.append(plain(value[i]))
            except UnknownValueError:
                items.append(UNKNOWN)
        return items
    return value


def option_values(args: Sequence[str], long: str, short: str) -> list[str]:
    """Every value given to an argparse option, in order (the last one is the one that counts).

    Handles `--opt value`, `--opt=value`, `-o value`, `-ovalue` and argparse's long-option
    abbreviations (`--auth value` is `--authenticate value`).
    """
    values = []
    i = 0
    while i < len(args):
        arg = args[i]
        flag, has_value, inline = arg.partition("=") if arg.startswith("--") else (arg, False, "")
        if arg.startswith("--") and len(flag) > 2 and long.startswith(flag):
            if has_value:
                values.append(inline)
            else:
                values.append(args[i + 1] if i + 1 < len(args) else "")
                i += 1
        elif arg == short:
            values.append(args[i + 1] if i + 1 < len(args) else "")
            i += 1
        elif arg.startswith(short) and not arg.startswith("--") and len(arg) > len(short):
            values.append(arg[len(short) :])
        i += 1
    return values


def is_index_container(props: Mapping[str, Any], config: Mapping[str, Any] | None = None) -> bool:
    """pypiserver's container: named as configured, or started with pypiserver's auth options."""
    names = (config or {}).get("indexContainerNames", [CONTAINER_NAME])
    if props.get("name") in names:
        return True
    command = props.get("command")
    if not is_sequence(command):
        return False
    args = [a for a in command if isinstance(a, str)]
    return bool(option_values(args, "--authenticate", "-a") or option_values(args, "--passwords", "-P"))


def is_packages_volume(props: Mapping[str, Any], config: Mapping[str, Any] | None = None) -> bool:
    """The package store: labelled with a protected role (ROLE_LABEL, by default the packages role), or
    named as configured."""
    config = config or {}
    roles = config.get("roles", [PACKAGES_ROLE])
    labels = props.get("labels")
    if is_sequence(labels):
        for entry in labels:
            if isinstance(entry, Mapping) and entry.get("label") == ROLE_LABEL and entry.get("value") in roles:
                return True
    return props.get("name") in config.get("volumeNames", [PACKAGES_VOLUME])
