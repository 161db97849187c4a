"""The stack's settings: read once, validated before any resource is registered.

`parse()` is pure (a mapping of config values in, a frozen `Settings` out) so every rule is tested
as a table; `load()` is the thin Pulumi-facing wrapper. A bad value raises `ConfigError` naming the
key, the value (never a secret's) and what is accepted.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import Any

from ..config_reading import PRODUCTION_STACK, PROJECT, ConfigError, read_docker_name
from ..front.settings import parse_front
from ..host.settings import EnvironmentConflict, check_environment, parse_host
from ..indexer.settings import parse_indexer
from ..pypiserver.settings import parse_pypiserver
from ..store.settings import parse_store
from ..supervision.settings import parse_supervision
from .access import ACTIONS, MIN_PASSWORD, parse_access
from .keys import KEYS, ONLY_USED_WITH, SECRET_KEYS, declared_defaults, refuse_what_does_nothing
from .model import Settings

# pypiserver's container, unless containerName says otherwise (the policy pack's default too).
CONTAINER_NAME = "pypiserver"

# What the rest of the program and the tests read from here: each section lives with its part
# (host/settings.py, store/settings.py, ...), the shared readers in config_reading.py.
__all__ = [
    "ACTIONS", "CONTAINER_NAME", "KEYS", "MIN_PASSWORD", "ONLY_USED_WITH", "SECRET_KEYS", "ConfigError", "EnvironmentConflict",
    "Settings", "declared_defaults", "load", "parse",
]  # fmt: skip


def parse(
    values: Mapping[str, Any],
    stack: str,
    secret_keys: frozenset[str] = frozenset(),
    environment: Mapping[str, str] | None = None,
    now: float | None = None,
) -> Settings:
    """Validate raw config values (key -> value, without the project prefix) into Settings.

    `environment` is the process environment the providers will inherit (only what changes where
    they connect is read); `now`, the time credentials' expiries are checked against (this moment)."""
    check_environment(environment or {})
    production = stack == PRODUCTION_STACK
    host = parse_host(values, production)
    settings = Settings(
        stack=stack,
        container_name=read_docker_name(values, "containerName", CONTAINER_NAME),
        host=host,
        access=parse_access(values, "users" in secret_keys, production, time.time() if now is None else now),
        pypiserver=parse_pypiserver(values, production),
        indexer=parse_indexer(values),
        front=parse_front(values, host.ssh.host if host.ssh else None, production),
        store=parse_store(values, secret_keys, production, host.target),
        supervision=parse_supervision(values),
    )
    refuse_what_does_nothing(values, settings)
    return settings


def load() -> Settings:
    """Read this stack's config through Pulumi and validate it."""
    import os

    import pulumi
    from pulumi.runtime.config import get_config, is_config_secret

    prefix = f"{PROJECT}:"
    values: dict[str, Any] = {}
    secret_keys: set[str] = set()
    for key in KEYS:
        raw = get_config(prefix + key)
        if raw is None:
            continue
        values[key] = _decode(raw)
        if is_config_secret(prefix + key):
            secret_keys.add(key)
    # The providers run with the CLI's environment, which is this program's too.
    return parse(values, pulumi.get_stack(), frozenset(secret_keys), os.environ)


def _decode(raw: str) -> Any:
    """Config arrives as strings; objects, lists, numbers and booleans as their JSON text."""
    try:
        return json.loads(raw)
    except (json.JSONDecodeError, TypeError):
        return raw
