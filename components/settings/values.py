"""Reading config values: the error every refusal raises, the typed readers, and the shared rules
(names, tags, digests, limits) more than one setting checks against.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

PROJECT = "pypi-index"

TARGETS = ("local", "ssh")

ACTIONS = ("update", "download", "list")

SERVERS = ("gunicorn", "gevent", "auto")

TLS_MODES = ("internal", "acme", "supplied")

PRODUCTION_STACK = "production"

# A release tag such as v2.4.1: floating tags (latest, unstable, v2.4) move under a running index.
RELEASE_TAG = re.compile(r"^v\d+\.\d+\.\d+$")

FRONT_TAG = re.compile(r"^\d+\.\d+\.\d+$")

DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")

USER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")

HOST_NAME = re.compile(
    r"^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$"
)

VOLUME_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")

MIN_PASSWORD = 12

# bcrypt only reads the first 72 bytes: a longer password would silently match its own prefix.
MAX_PASSWORD_BYTES = 72

# The image's passlib (1.7.4) verifies bcrypt at any cost from 4 to 31; above 14 each request
# takes seconds of CPU, because pypiserver verifies the hash on every authenticated request.
MIN_ROUNDS, MAX_ROUNDS = 4, 14


class ConfigError(ValueError):
    """A config value that the program refuses, with the key and what it accepts."""

    def __init__(self, key: str, shown: str, accepted: str):
        self.key = key
        super().__init__(f"config {PROJECT}:{key}: got {shown}; {accepted}")


class EnvironmentConflict(ValueError):
    """An environment variable that would make the deployment reach a different engine than configured."""


def _show(value: Any) -> str:
    return json.dumps(value) if not isinstance(value, str) else repr(value)


def _int(values: Mapping[str, Any], key: str, default: int, low: int, high: int) -> int:
    raw = values.get(key, default)
    if isinstance(raw, str) and re.fullmatch(r"\s*-?\d+\s*", raw):
        number: int | None = int(raw)
    elif isinstance(raw, int) and not isinstance(raw, bool):
        number = raw
    else:
        number = None
    if number is None or not low <= number <= high:
        raise ConfigError(key, _show(raw), f"expected a whole number from {low} to {high}")
    return number


def _bool(values: Mapping[str, Any], key: str, default: bool) -> bool:
    raw = values.get(key, default)
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and raw.lower() in ("true", "false"):
        return raw.lower() == "true"
    raise ConfigError(key, _show(raw), "expected true or false")


def _str(values: Mapping[str, Any], key: str, default: str | None = None) -> str | None:
    raw = values.get(key, default)
    if raw is None:
        return None
    if not isinstance(raw, str):
        raise ConfigError(key, _show(raw), "expected a string")
    return raw.strip() or None


def _choice(values: Mapping[str, Any], key: str, default: str, choices: tuple[str, ...]) -> str:
    raw = _str(values, key, default)
    if raw not in choices:
        raise ConfigError(key, _show(raw), f"expected one of {', '.join(choices)}")
    return raw


def _list(values: Mapping[str, Any], key: str, default: list[str]) -> list[Any]:
    raw = values.get(key, default)
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError:
            raw = [part.strip() for part in raw.split(",") if part.strip()]
    if not isinstance(raw, list):
        raise ConfigError(key, _show(raw), "expected a list")
    return raw
